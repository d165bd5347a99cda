// When an open encrypted conversation syncs with the key service: at once when the server pushes e2ee:sync (a
// Commit, a Welcome, a device added or removed, a rotation due; README "End-to-end encrypted DMs"), on every
// reconnect (notices sent while offline are lost), and otherwise on a slow fallback timer (a lost notice; a
// rotation due by age is announced by the key service's sweep, within PARLEY_KEYS_SWEEP_EVERY). Runs never
// overlap; kicks during a run coalesce into one more run.

/** The fallback poll: only for a notice that was lost (Redis or a chat server down, a sweep's notice not sent). */
export const FALLBACK_SYNC_MS = 60_000

export interface SyncNotice {
  reason: string
  groupId?: string
  deviceId?: string
}

/** Whether a notice concerns the conversation whose group is `groupId` (unknown yet: everything does). */
export function concerns(n: SyncNotice | undefined, groupId: string | undefined): boolean {
  if (!n || typeof n !== 'object') return false
  return !n.groupId || !groupId || n.groupId === groupId
}

export class SyncLoop {
  private timer: ReturnType<typeof setTimeout> | undefined
  private running = false
  private again = false
  private stopped = false

  constructor(
    private readonly run: () => Promise<void>,
    private readonly fallbackMs = FALLBACK_SYNC_MS,
  ) {}

  /** Syncs now (or right after the run in progress). */
  kick(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    clearTimeout(this.timer)
    this.running = true
    void this.run()
      .catch(() => undefined) // the caller shows its own errors; the loop goes on
      .finally(() => {
        this.running = false
        if (this.stopped) return
        if (this.again) {
          this.again = false
          this.kick()
        } else {
          this.timer = setTimeout(() => this.kick(), this.fallbackMs)
        }
      })
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }
}

/** How many one-time key packages to publish when `left` remain: back up to `target` once fewer than `low` are left. */
export function topUpCount(left: number, low: number, target: number): number {
  return Number.isFinite(left) && left >= 0 && left < low ? target - left : 0
}
