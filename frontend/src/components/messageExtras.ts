// What the message list offers around each message beyond its own content (issue #15): replying, pins and jumping
// to a message. Provided by ChannelView; absent (null) where a message renders alone, e.g. in unit tests.
import { createContext, useContext } from 'react';
import type { Id } from '../api/types';
import type { ChatItem } from '../chat/messageStore';

export interface MessageExtras {
  channelId: Id;
  /** Owners and admins in servers, anyone in DMs. */
  canPin: boolean;
  pinned: ReadonlySet<Id>;
  /** A message just jumped to, highlighted briefly. */
  highlightId: Id | null;
  reply: (item: ChatItem) => void;
  setPinned: (messageId: Id, pinned: boolean) => void;
  jumpTo: (messageId: Id) => void;
  openPins: () => void;
}

export const MessageExtrasContext = createContext<MessageExtras | null>(null);

export const useMessageExtras = () => useContext(MessageExtrasContext);
