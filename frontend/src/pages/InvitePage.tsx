import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useLocation, useParams } from 'wouter';
import { fetchInvitePreview } from '../api/endpoints';
import { errorMessage, isApiError } from '../api/http';
import { qk } from '../api/queryKeys';
import { useApi, useSession } from '../app/services';
import { upsertServer } from '../app/cache';
import { Avatar, Spinner } from '../components/ui';

export function InvitePage() {
  const { code = '' } = useParams();
  const session = useSession();
  const api = useApi();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const preview = useQuery({
    queryKey: qk.invite(code),
    queryFn: () => fetchInvitePreview(code),
    retry: (n, e) => !isApiError(e) || (e.status >= 500 && n < 2),
  });
  // Already a member? Then the way in is "Open server", not a second join.
  const mine = useQuery({ queryKey: qk.servers, queryFn: () => api.servers(), enabled: !!session });
  const join = useMutation({
    mutationFn: () => api.joinInvite(code),
    onSuccess: (server) => {
      upsertServer(qc, server);
      void qc.invalidateQueries({ queryKey: qk.servers });
      navigate(`/channels/${server.id}`, { replace: true });
    },
  });

  const next = encodeURIComponent(`/invite/${code}`);
  let body;
  if (preview.isPending) body = <Spinner label="Loading invite" />;
  else if (preview.isError) {
    const e = preview.error;
    body = (
      <>
        <h1>{isApiError(e, 'gone') ? 'This invite has expired' : isApiError(e, 'not_found') ? 'Invite invalid or revoked' : 'Could not load invite'}</h1>
        <p className="muted" data-testid="invite-error">
          {isApiError(e, 'gone') || isApiError(e, 'not_found')
            ? 'Ask for a new invite link.'
            : errorMessage(e)}
        </p>
        <Link className="button wide" to={session ? '/channels/@me' : '/login'}>
          {session ? 'Back to Parley' : 'Go to login'}
        </Link>
      </>
    );
  } else {
    const s = preview.data.server;
    body = (
      <>
        <p className="muted">You've been invited to join</p>
        <div className="invite-server">
          <Avatar user={{ id: s.id, displayName: s.name, username: s.name, avatarUrl: '' }} size={64} />
          <h1 data-testid="invite-server-name">{s.name}</h1>
          <p className="muted small">
            {s.memberCount} member{s.memberCount === 1 ? '' : 's'}
          </p>
        </div>
        {join.isError && (
          // A ban (forbidden), a full server list (limit_reached) or an invite that ran out meanwhile: say which.
          <p className="form-error" role="alert" data-testid="invite-join-error">
            {isApiError(join.error, 'forbidden') ? `You can't join ${s.name}: ${errorMessage(join.error)}.` : errorMessage(join.error)}
          </p>
        )}
        {session && mine.data?.servers.some((m) => m.id === s.id) ? (
          <>
            <p className="muted" data-testid="invite-already-member">
              You're already a member of this server.
            </p>
            <Link className="button primary wide" to={`/channels/${s.id}`} data-testid="invite-open-server">
              Open server
            </Link>
          </>
        ) : session ? (
          <button className="button primary wide" type="button" onClick={() => join.mutate()} disabled={join.isPending || mine.isPending} data-testid="invite-join">
            {join.isPending ? 'Joining…' : 'Accept invite'}
          </button>
        ) : (
          <>
            <Link className="button primary wide" to={`/login?next=${next}`} data-testid="invite-login">
              Log in to join
            </Link>
            <p className="muted small">
              New here? <Link to={`/register?next=${next}`}>Create an account</Link>
            </p>
          </>
        )}
      </>
    );
  }
  return (
    <main className="auth-page">
      <div className="auth-card center" data-testid="invite-page">
        {body}
      </div>
    </main>
  );
}
