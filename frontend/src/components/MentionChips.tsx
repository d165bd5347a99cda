// Mention chips inside message text (MarkdownContent.tsx asks for a user's or a channel's): inside AppMentions
// (components/mentions.tsx) they look names up in the data the app has (members, DM participants, channel lists)
// and fetch a user it does not know; without it (tests, previews) they render as unknown. In the markdown chunk,
// with the renderer that draws them.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useContext, useSyncExternalStore, type ReactNode } from 'react';
import { Link } from 'wouter';
import type { AnyChannel, Id } from '../api/types';
import { qk } from '../api/queryKeys';
import { displayName } from '../app/queries';
import { useApi, useSession } from '../app/services';
import { findChannel } from '../app/cache';
import { MentionContext } from './mentions';

export interface MentionRenderers {
  user: (id: Id) => ReactNode;
  channel: (id: Id) => ReactNode;
}

export const UNKNOWN_USER = '@unknown-user';
export const UNKNOWN_CHANNEL = '#unknown-channel';

const plainRenderers: MentionRenderers = {
  user: (id) => (
    <span className="mention" data-testid="mention" data-kind="user" data-id={id}>
      {UNKNOWN_USER}
    </span>
  ),
  channel: (id) => (
    <span className="mention" data-testid="mention" data-kind="channel" data-id={id}>
      {UNKNOWN_CHANNEL}
    </span>
  ),
};


/** `@DisplayName` of a user: from the cache (members, DM participants, authors), else fetched once. */
function UserMention({ id }: { id: Id }) {
  const api = useApi();
  const session = useSession();
  const isMe = session?.user.id === id;
  const q = useQuery({ queryKey: qk.user(id), queryFn: () => api.user(id), enabled: !isMe, staleTime: 10 * 60_000 });
  const user = isMe ? session!.user : q.data;
  // Not found (deleted, or someone we may not see): unknown. While the first fetch runs: an ellipsis.
  const label = user ? `@${displayName(user)}` : q.isError ? UNKNOWN_USER : '@…';
  return (
    <span
      className="mention"
      data-testid="mention"
      data-kind="user"
      data-id={id}
      title={user ? `@${user.username}` : undefined}
    >
      {label}
    </span>
  );
}

/** A channel from any cached channel list (the current server's is always loaded), kept current. */
function useCachedChannel(id: Id): AnyChannel | undefined {
  const qc = useQueryClient();
  return useSyncExternalStore(
    (f) => qc.getQueryCache().subscribe(f),
    () => findChannel(qc, id),
  );
}

/** `#name`, a link that opens the channel. */
function ChannelMention({ id }: { id: Id }) {
  const channel = useCachedChannel(id);
  if (!channel || channel.type !== 'text') return plainRenderers.channel(id);
  return (
    <Link
      to={`/channels/${channel.serverId}/${channel.id}`}
      className="mention channel-mention"
      data-testid="mention"
      data-kind="channel"
      data-id={id}
    >
      #{channel.name}
    </Link>
  );
}

const appRenderers: MentionRenderers = {
  user: (id) => <UserMention id={id} />,
  channel: (id) => <ChannelMention id={id} />,
};

/** The app's chips inside AppMentions, else unknown ones. */
export const useMentionRenderers = (): MentionRenderers => (useContext(MentionContext) ? appRenderers : plainRenderers);
