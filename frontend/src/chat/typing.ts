// Who is typing where. A `typing:user` with typing=true holds for TYPING_TTL_MS unless renewed (senders repeat
// typing:start at most every 2 s while typing), typing=false or a message from that user clears it.
import type { Id } from '../api/types';

export const TYPING_TTL_MS = 6_000;
export const TYPING_THROTTLE_MS = 2_000;

/** channelId → userId → expiry (ms). */
export type TypingState = ReadonlyMap<Id, ReadonlyMap<Id, number>>;

export function setTyping(state: TypingState, channelId: Id, userId: Id, typing: boolean, now: number): TypingState {
  const cur = state.get(channelId);
  if (!typing && !cur?.has(userId)) return state;
  const users = new Map(cur ?? []);
  if (typing) users.set(userId, now + TYPING_TTL_MS);
  else users.delete(userId);
  const next = new Map(state);
  if (users.size) next.set(channelId, users);
  else next.delete(channelId);
  return next;
}

export function pruneTyping(state: TypingState, now: number): TypingState {
  let next: Map<Id, ReadonlyMap<Id, number>> | null = null;
  for (const [ch, users] of state) {
    let alive: Map<Id, number> | null = null;
    for (const [u, exp] of users) {
      if (exp <= now) {
        alive ??= new Map(users);
        alive.delete(u);
      }
    }
    if (alive) {
      next ??= new Map(state);
      if (alive.size) next.set(ch, alive);
      else next.delete(ch);
    }
  }
  return next ?? state;
}

export function typingUserIds(state: TypingState, channelId: Id, now: number, exclude?: Id): Id[] {
  const users = state.get(channelId);
  if (!users) return [];
  const out: Id[] = [];
  for (const [u, exp] of users) if (exp > now && u !== exclude) out.push(u);
  return out;
}


/** Decides when the composer emits typing:start / typing:stop. */
export class TypingEmitter {
  private lastStart = -Infinity;
  private active = false;
  constructor(
    private readonly emit: (event: 'typing:start' | 'typing:stop') => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Call on every edit of the draft. */
  input(text: string) {
    if (!text.trim()) {
      this.stop();
      return;
    }
    const t = this.now();
    if (t - this.lastStart >= TYPING_THROTTLE_MS) {
      this.lastStart = t;
      this.active = true;
      this.emit('typing:start');
    }
  }

  /** Call on send, clear, or leaving the channel. */
  stop() {
    if (!this.active) return;
    this.active = false;
    this.lastStart = -Infinity;
    this.emit('typing:stop');
  }
}
