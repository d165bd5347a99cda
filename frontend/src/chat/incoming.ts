// The decision for one received message (mention, muted, desktop notification, sound), moved unchanged from
// chat/notify.ts (the settings and badges the first paint reads stay there): only the event handlers
// (realtime/live.ts, a chunk fetched beside the socket client) use it.
import type { Id, Message, NotificationSettings } from '../api/types';
import { mentionsMe } from './mentions';
import { isChannelMuted, type Place } from './notify';

export function isEveryoneSuppressed(s: NotificationSettings, place: Place | undefined): boolean {
  return place?.type === 'text' && s.suppressEveryone.includes(place.serverId);
}

export interface IncomingDecision {
  /** Counts as a mention of me (raises the channel's mentionCount when I am not looking at it). */
  mention: boolean;
  /** The channel (or its server) is muted: no unread badge, no notification, unless it mentions me. */
  muted: boolean;
  /** Worth a desktop notification while the tab is hidden (permission permitting). */
  notify: boolean;
  /** Worth the notification sound. */
  sound: boolean;
}

const NOTHING: IncomingDecision = { mention: false, muted: false, notify: false, sound: false };

/**
 * The decision for one received message. `viewing` is true when the message's channel is open in a visible tab:
 * then nothing notifies or sounds. `hidden` is the tab's visibility: desktop notifications only while hidden.
 * Levels: desktop "all" = every message of an unmuted channel, and mentions; "mentions" = mentions and DMs of
 * unmuted conversations; "none" = nothing (the sound follows the same level).
 */
export function decideIncoming(args: {
  message: Pick<Message, 'channelId' | 'senderId' | 'content' | 'mentions' | 'mentionEveryone'>;
  meId: Id;
  place: Place | undefined;
  settings: NotificationSettings;
  viewing: boolean;
  hidden: boolean;
  /** The sender is someone I block: their messages neither badge, mention nor notify. */
  blocked?: boolean;
}): IncomingDecision {
  const { message: m, meId, place, settings: s, viewing, hidden, blocked } = args;
  if (!m || m.senderId === meId || blocked) return NOTHING;
  const dm = !place || place.type === 'dm';
  const mention = mentionsMe(m, meId, isEveryoneSuppressed(s, place));
  const muted = isChannelMuted(s, m.channelId, place);
  // Do not disturb: badges and mentions as usual, but nothing pops up or sounds.
  const wanted =
    s.desktop === 'none' || s.status === 'dnd' ? false : mention || (!muted && (s.desktop === 'all' || dm));
  return {
    mention,
    muted,
    notify: wanted && hidden && !viewing,
    sound: wanted && s.notifySound && !viewing,
  };
}
