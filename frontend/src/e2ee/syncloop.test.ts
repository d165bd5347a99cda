import { afterEach, describe, expect, it, vi } from 'vitest'
import { concerns, SyncLoop, topUpCount } from './syncloop'

afterEach(() => vi.useRealTimers())

describe('SyncLoop', () => {
  it('syncs at once on a kick, then only on the slow fallback', async () => {
    vi.useFakeTimers()
    let runs = 0
    const loop = new SyncLoop(async () => void runs++, 60_000)
    loop.kick()
    await vi.advanceTimersByTimeAsync(0)
    expect(runs).toBe(1)
    await vi.advanceTimersByTimeAsync(59_000)
    expect(runs).toBe(1) // no 3 s polling any more
    await vi.advanceTimersByTimeAsync(1_000)
    expect(runs).toBe(2)
    loop.kick() // a notice: now, and the fallback starts over
    await vi.advanceTimersByTimeAsync(0)
    expect(runs).toBe(3)
    await vi.advanceTimersByTimeAsync(59_999)
    expect(runs).toBe(3)
    loop.stop()
    await vi.advanceTimersByTimeAsync(120_000)
    loop.kick()
    await vi.advanceTimersByTimeAsync(0)
    expect(runs).toBe(3)
  })

  it('never overlaps runs: kicks during a run coalesce into one more run', async () => {
    vi.useFakeTimers()
    let active = 0
    let most = 0
    let runs = 0
    const loop = new SyncLoop(async () => {
      runs++
      active++
      most = Math.max(most, active)
      await new Promise((r) => setTimeout(r, 1_000))
      active--
    }, 60_000)
    loop.kick()
    await vi.advanceTimersByTimeAsync(10)
    loop.kick()
    loop.kick()
    loop.kick()
    await vi.advanceTimersByTimeAsync(3_000)
    expect(runs).toBe(2)
    expect(most).toBe(1)
    loop.stop()
  })

  it('keeps going after a failed run', async () => {
    vi.useFakeTimers()
    let runs = 0
    const loop = new SyncLoop(async () => {
      runs++
      throw new Error('key service down')
    }, 1_000)
    loop.kick()
    await vi.advanceTimersByTimeAsync(2_500)
    expect(runs).toBe(3)
    loop.stop()
  })
})

describe('concerns', () => {
  it('matches a notice to the open conversation', () => {
    expect(concerns({ reason: 'commit', groupId: 'g1' }, 'g1')).toBe(true)
    expect(concerns({ reason: 'commit', groupId: 'g2' }, 'g1')).toBe(false)
    expect(concerns({ reason: 'device_removed', deviceId: '5' }, 'g1')).toBe(true) // any conversation may owe a Commit
    expect(concerns({ reason: 'commit', groupId: 'g2' }, undefined)).toBe(true) // not encrypted yet: a Welcome may be for it
    expect(concerns(undefined, 'g1')).toBe(false)
  })
})

describe('topUpCount', () => {
  it('tops up to the target only below the threshold', () => {
    expect(topUpCount(10, 5, 10)).toBe(0)
    expect(topUpCount(5, 5, 10)).toBe(0)
    expect(topUpCount(4, 5, 10)).toBe(6)
    expect(topUpCount(0, 5, 10)).toBe(10)
    expect(topUpCount(Number.NaN, 5, 10)).toBe(0)
    expect(topUpCount(-1, 5, 10)).toBe(0)
  })
})
