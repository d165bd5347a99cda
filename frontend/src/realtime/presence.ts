// Presence: other users' (asked for in batches, pushed by presence:update/batch: live.ts) and mine (the chosen status,
// idleness after IDLE_AFTER_MS without input).
import type { Api } from '../api/endpoints';
import type { ChosenStatus, Id } from '../api/types';
import { readStatusHint, wireStatus, writeStatusHint } from '../chat/status';
import type { Connection } from './connection';
import { PresenceStore } from './stores';

export const IDLE_AFTER_MS = 5 * 60_000;

export class PresenceTracker extends PresenceStore {
  private wanted = new Set<Id>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private idle = false;
  /** The presence the user chose (settings.status); the device's last choice until the settings arrive. */
  private chosen: ChosenStatus;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private cleanup: (() => void)[] = [];

  constructor(
    private readonly conn: Pick<Connection, 'send'>,
    private readonly api: Pick<Api, 'presence'>,
    private readonly meId: Id,
  ) {
    super();
    this.chosen = readStatusHint(meId);
  }

  /** On every connect: the handshake carried the device's last choice; say the current one (and idleness) in case it differs. */
  hello() {
    const said = wireStatus(this.chosen, this.idle);
    if (said !== 'online') this.conn.send('presence:set', { status: said });
  }

  /** After a reconnect: what we were told may have moved while we were away. */
  refresh() {
    void this.fetch([...this.wanted]);
  }

  /** Asks for the presence of users we have not seen yet (batched). */
  want(userIds: Id[]) {
    let added = false;
    for (const id of userIds) {
      if (!id || this.wanted.has(id)) continue;
      this.wanted.add(id);
      added = true;
    }
    if (added && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        const ids = [...this.wanted].filter((id) => !this.has(id));
        void this.fetch(ids);
      }, 50);
    }
  }

  private async fetch(ids: Id[]) {
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      try {
        const res = await this.api.presence(chunk);
        this.set(res.presence ?? []);
      } catch {
        /* presence is decoration: try again on the next reconnect */
      }
    }
  }

  startIdleTracking() {
    if (typeof window === 'undefined') return;
    let lastActivity = Date.now();
    const arm = () => {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        if (Date.now() - lastActivity >= IDLE_AFTER_MS - 1000 && !this.idle) {
          this.idle = true;
          if (this.chosen === 'online') this.conn.send('presence:set', { status: 'idle' });
          this.touch();
        }
      }, IDLE_AFTER_MS);
    };
    let throttle = 0;
    const activity = () => {
      const now = Date.now();
      lastActivity = now;
      if (this.idle) {
        this.idle = false;
        if (this.chosen === 'online') this.conn.send('presence:set', { status: 'online' });
        this.touch();
      }
      if (now - throttle > 1000) {
        throttle = now;
        arm();
      }
    };
    const events = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus'] as const;
    for (const ev of events) window.addEventListener(ev, activity, { passive: true });
    arm();
    this.cleanup.push(() => {
      for (const ev of events) window.removeEventListener(ev, activity);
    });
  }

  stop() {
    for (const f of this.cleanup) f();
    this.cleanup = [];
    if (this.timer) clearTimeout(this.timer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
  }

  isIdle(): boolean {
    return this.idle;
  }

  chosenStatus(): ChosenStatus {
    return this.chosen;
  }

  /** The user's chosen presence (from the settings, or just picked): tell the server, remember it on this device. */
  setChosen(status: ChosenStatus) {
    if (status === this.chosen) return;
    this.chosen = status;
    writeStatusHint(this.meId, status);
    this.conn.send('presence:set', { status: wireStatus(status, this.idle) });
    this.touch();
  }
}
