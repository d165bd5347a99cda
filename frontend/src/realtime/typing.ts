// Who is typing where (Element's TypingStore): typing:user events in (live.ts), typing:start/stop out. Entries expire on
// their own (chat/typing.ts); a message from someone ends their typing.
import type { Id } from '../api/types';
import { pruneTyping, setTyping, type TypingState } from '../chat/typing';
import type { Connection } from './connection';
import { Emitter } from './stores';

export class TypingStore extends Emitter {
  private typing: TypingState = new Map();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly conn: Pick<Connection, 'send' | 'connected'>,
  ) {
    super();
  }

  getTyping = (): TypingState => this.typing;

  /** Tells the channel I started or stopped typing (only while connected: a stale start would linger). */
  say(channelId: Id, event: 'typing:start' | 'typing:stop') {
    if (this.conn.connected) this.conn.send(event, { channelId });
  }

  set(channelId: Id, userId: Id, typing: boolean, now = Date.now()) {
    const next = setTyping(this.typing, channelId, userId, typing, now);
    if (next === this.typing) return;
    this.typing = next;
    this.emit();
    if (this.typing.size && !this.timer) {
      this.timer = setInterval(() => {
        const pruned = pruneTyping(this.typing, Date.now());
        if (pruned !== this.typing) {
          this.typing = pruned;
          this.emit();
        }
        if (!this.typing.size && this.timer) {
          clearInterval(this.timer);
          this.timer = null;
        }
      }, 1000);
    }
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
  }
}
