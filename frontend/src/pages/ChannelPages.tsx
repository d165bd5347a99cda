import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, Redirect, useParams } from 'wouter';
import { errorMessage, isApiError } from '../api/http';
import { qk } from '../api/queryKeys';
import { dmOthers, dmTitle, useChannels, useDMs, useMembers, useServer } from '../app/queries';
import type { MentionSource } from '../components/Composer';
import { lastChannel, rememberChannel } from '../app/routes';
import { useMe } from '../app/services';
import { ChannelView, ChatHeader } from '../components/ChannelView';
import { ConnectionBanner } from '../components/ConnectionBanner';
import { BlockedNotice, DMOptions, E2EEControls, InviteModal, MemberList, MuteChannelButton, NewDMModal } from '../components/lazy';
import { useBlocked } from '../app/safety';
import { Avatar, PresenceDot, Spinner } from '../components/ui';
import { usePresence } from '../realtime/RealtimeProvider';
import type { User } from '../api/types';
import { canPin } from '../chat/pins';
import { isPhone, useIsPhone } from '../app/media';
import { DMConversations } from '../components/DMColumn';

function Loading() {
  return (
    <main className="main center">
      <Spinner />
    </main>
  );
}

/** A server link we cannot open: deleted, kicked, never existed, or not a member. Stays put; asks nothing more. */
function NoAccess() {
  return (
    <main className="main">
      <ChatHeader title="Server unavailable" />
      <div className="empty-state" data-testid="no-access" role="alert">
        <div className="empty-art" aria-hidden="true">
          🔒
        </div>
        <h2>You don't have access to this server</h2>
        <p className="muted">It doesn't exist (any more), or you are not a member. Ask a member for an invite link to join.</p>
        <Link className="button primary" to="/channels/@me" data-testid="no-access-home">
          Back to direct messages
        </Link>
      </div>
    </main>
  );
}

/** Any other failure to load a server's channels (network, server error): say so, with a way to try again. */
function LoadFailed({ error, retry }: { error: unknown; retry: () => void }) {
  return (
    <main className="main">
      <ChatHeader title="Could not load this server" />
      <div className="empty-state" data-testid="load-failed" role="alert">
        <p className="muted">{errorMessage(error)}</p>
        <button type="button" className="button primary" onClick={retry}>
          Try again
        </button>
      </div>
    </main>
  );
}

const isNoAccess = (e: unknown) => isApiError(e, 'not_found') || isApiError(e, 'forbidden');

export function DMHome() {
  const [open, setOpen] = useState(false);
  const phone = useIsPhone();
  return (
    <main className="main">
      <ChatHeader title="Direct messages" />
      <ConnectionBanner />
      <div className="empty-state" data-testid="dm-home">
        <div className="empty-art" aria-hidden="true">
          💬
        </div>
        <h2>No conversation selected</h2>
        <p className="muted">Pick a conversation on the left, or start a new one by searching for a username.</p>
        <button type="button" className="button primary" onClick={() => setOpen(true)} data-testid="start-dm-button">
          Start a conversation
        </button>
        {/* On phones the sidebar (and its DM list) is a drawer: list the conversations here. */}
        {phone && <DMConversations className="dm-home-list" testId="dm-home-list" />}
      </div>
      {open && <NewDMModal onClose={() => setOpen(false)} />}
    </main>
  );
}

function DMPresence({ user }: { user: User }) {
  const p = usePresence(user.id);
  return <PresenceDot status={p?.status ?? 'offline'} />;
}

export function DMChannelPage() {
  const { channelId = '' } = useParams();
  const me = useMe();
  const dms = useDMs();
  const blocked = useBlocked();
  const qc = useQueryClient();
  const requested = useRef<string | null>(null);
  const [refetchedFor, setRefetchedFor] = useState<string | null>(null);
  const channel = dms.data?.channels.find((c) => c.id === channelId);

  // A DM we do not know yet may have just been created by someone else: refetch the list once before giving up.
  useEffect(() => {
    if (dms.isSuccess && !channel && requested.current !== channelId) {
      requested.current = channelId;
      void qc.invalidateQueries({ queryKey: qk.dms }).finally(() => setRefetchedFor(channelId));
    }
  }, [dms.isSuccess, channel, channelId, qc]);

  if (dms.isPending) return <Loading />;
  if (!channel) {
    if (dms.isFetching || refetchedFor !== channelId) return <Loading />;
    return <Redirect to="/channels/@me" replace />;
  }
  const others = dmOthers(channel, me.id);
  const title = dmTitle(channel, me.id);
  const solo = others.length === 1 && !channel.group ? others[0] : undefined;
  const mentionSource: MentionSource = { members: channel.participants ?? [], channels: [], allowEveryone: true };
  const blockedSolo = solo && blocked.some((u) => u.id === solo.id) ? solo : undefined;
  return (
    <ChannelView
      key={channel.id}
      channelId={channel.id}
      unreadAtOpen={channel.unreadCount}
      mentionSource={mentionSource}
      encryptFiles={channel.encrypted}
      headerActions={
        <>
          <E2EEControls channel={channel} />
          <MuteChannelButton channelId={channel.id} place={{ type: 'dm' }} name={title} />
          <DMOptions channel={channel} />
        </>
      }
      composerNotice={blockedSolo && <BlockedNotice user={blockedSolo} />}
      title={
        <span className="dm-title">
          <span aria-hidden="true" className="at">
            @
          </span>
          {title}
          {solo && <DMPresence user={solo} />}
        </span>
      }
      placeholder={`Message ${solo ? '@' + title : title}`}
      receiptsFor={others.map((u) => u.id)}
      canPin
      searchScope={{ dms: true }}
      intro={
        <>
          {solo && <Avatar user={solo} size={72} />}
          <h2>{title}</h2>
          <p className="muted">
            This is the beginning of your direct message history with <strong>{title}</strong>.
          </p>
        </>
      }
    />
  );
}

export function ServerRedirect() {
  const { serverId = '' } = useParams();
  const channels = useChannels(serverId);
  if (channels.isError) {
    // One screen for the error, from the same observer: no redirect, no remounting (which refetched in a loop).
    if (isNoAccess(channels.error)) return <NoAccess />;
    if (!channels.data && !channels.isFetching) return <LoadFailed error={channels.error} retry={() => void channels.refetch()} />;
  }
  if (!channels.data) return <Loading />;
  const list = channels.data.channels;
  const remembered = lastChannel(serverId);
  const target = list.find((c) => c.id === remembered) ?? list.find((c) => c.name === 'general') ?? list[0];
  if (!target) {
    return (
      <main className="main">
        <ChatHeader title="No channels" />
        <div className="empty-state">
          <p className="muted">This server has no text channels yet.</p>
        </div>
      </main>
    );
  }
  return <Redirect to={`/channels/${serverId}/${target.id}`} replace />;
}

export function ServerChannelPage() {
  const { serverId = '', channelId = '' } = useParams();
  const server = useServer(serverId);
  const channels = useChannels(serverId);
  // Beside the chat on wide screens; on phones a drawer, closed until asked for.
  const phone = useIsPhone();
  const [showMembers, setShowMembers] = useState(() => !isPhone());
  const [inviting, setInviting] = useState(false);
  const channel = channels.data?.channels.find((c) => c.id === channelId);
  // Alone in a new server: say how to bring people in (gone as soon as someone joins; memberCount is live).
  const alone = server.data !== undefined && server.data.memberCount <= 1;
  const members = useMembers(serverId);
  const role = server.data?.role;
  const mentionSource = useMemo<MentionSource>(
    () => ({
      members: (members.data?.pages ?? []).flatMap((p) => p.members.map((m) => m.user)),
      channels: channels.data?.channels ?? [],
      allowEveryone: role === 'owner' || role === 'admin',
    }),
    [members.data, channels.data, role],
  );

  useEffect(() => {
    if (channel) rememberChannel(serverId, channel.id);
  }, [serverId, channel]);
  // The phone drawer closes with Esc too (as the channel drawer's scrim does with a tap).
  const drawerOpen = phone && showMembers;
  useEffect(() => {
    if (!drawerOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !document.querySelector('[role="dialog"]')) setShowMembers(false);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [drawerOpen]);

  if (channels.isError && isNoAccess(channels.error)) return <NoAccess />;
  if (channels.isError && !channels.data && !channels.isFetching) return <LoadFailed error={channels.error} retry={() => void channels.refetch()} />;
  if (!channels.data) return <Loading />;
  if (!channel) return <Redirect to={`/channels/${serverId}`} replace />;

  return (
    <>
      <ChannelView
        key={channel.id}
        channelId={channel.id}
        unreadAtOpen={channel.unreadCount}
        title={
          <>
            <span className="hash" aria-hidden="true">
              #
            </span>
            {channel.name}
          </>
        }
        topic={channel.topic}
        placeholder={`Message #${channel.name}`}
        mentionSource={mentionSource}
        canPin={canPin('server', server.data?.role)}
        searchScope={{ serverId }}
        headerActions={
          <>
            <MuteChannelButton channelId={channel.id} place={{ type: 'text', serverId }} name={`#${channel.name}`} />
            <button
            type="button"
            className={`icon-button members-toggle${showMembers ? ' active' : ''}`}
            aria-label={showMembers ? 'Hide member list' : 'Show member list'}
            aria-pressed={showMembers}
            onClick={() => setShowMembers((s) => !s)}
            data-testid="toggle-members"
          >
            <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
              <path
                fill="currentColor"
                d="M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm7.5 0a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM1 20c0-3.3 3.6-6 8-6s8 2.7 8 6v1H1v-1zm17.4 1V20c0-1.9-.8-3.6-2.2-4.9 3.6.2 6.8 2.2 6.8 4.9v1h-4.6z"
              />
            </svg>
          </button>
          </>
        }
        intro={
          <>
            <div className="intro-hash" aria-hidden="true">
              #
            </div>
            <h2>Welcome to #{channel.name}!</h2>
            <p className="muted">This is the start of the #{channel.name} channel{channel.topic ? `. ${channel.topic}` : '.'}</p>
            {alone && (
              <div className="invite-prompt" data-testid="invite-prompt">
                <p>
                  <strong>It's just you here.</strong> Invite your friends to {server.data?.name}: send them a link.
                </p>
                <button type="button" className="button primary" onClick={() => setInviting(true)} data-testid="invite-prompt-button">
                  Invite your friends
                </button>
              </div>
            )}
          </>
        }
        aside={
          showMembers && server.data ? (
            <>
              {phone && (
                <button type="button" className="members-scrim" aria-label="Close member list" onClick={() => setShowMembers(false)} data-testid="members-scrim" />
              )}
              <MemberList server={server.data} />
            </>
          ) : undefined
        }
      />
      {inviting && server.data && <InviteModal server={server.data} onClose={() => setInviting(false)} />}
    </>
  );
}
