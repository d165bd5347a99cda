// @vitest-environment node
// The device side of the key service with the real ts-mls and the real sealed vault (in memory), against a fake
// key service that records what the client asks: key packages are topped up when others claimed them, and a
// browser removed elsewhere says so instead of quietly coming back as a new device.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { E2EEClient, KeysError } from './client'
import type { BlobStore } from './vault'

function memoryStore(): BlobStore {
  const m = new Map<string, unknown>()
  return {
    get: async (k) => m.get(k),
    put: async (k, v) => void m.set(k, v),
    delete: async (k) => void m.delete(k),
  }
}

/** A key service of one user in memory, enough for the device routes. */
function fakeKeys() {
  const devices = new Map<string, { id: string; oneTime: string[]; lastResort?: string; removed?: boolean }>()
  const publishes: { device: string; keyPackages: number; lastResort: boolean }[] = []
  let next = 100
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const path = url.replace(/^\/keys/, '')
    const method = init?.method ?? 'GET'
    const body = init?.body ? JSON.parse(init.body as string) : undefined
    let m: RegExpMatchArray | null
    if (method === 'GET' && path === '/v1/devices') {
      return json(200, { devices: [...devices.values()].filter((d) => !d.removed).map((d) => ({ id: d.id, userId: 'u1', name: 'x', signatureKey: '', createdAt: '' })) })
    }
    if (method === 'POST' && path === '/v1/devices') {
      const id = String(next++)
      devices.set(id, { id, oneTime: [] })
      return json(201, { device: { id, userId: 'u1', name: body.name, signatureKey: body.signatureKey, createdAt: '' } })
    }
    if ((m = path.match(/^\/v1\/devices\/(\d+)\/key-packages(\/count)?$/))) {
      const d = devices.get(m[1])
      if (!d || d.removed) return json(404, { error: { code: 'not_found', message: 'device not found' } })
      if (m[2]) return json(200, { keyPackages: d.oneTime.length })
      d.oneTime.push(...(body.keyPackages ?? []))
      if (body.lastResort) d.lastResort = body.lastResort
      publishes.push({ device: d.id, keyPackages: (body.keyPackages ?? []).length, lastResort: !!body.lastResort })
      return json(200, { keyPackages: d.oneTime.length })
    }
    return json(404, { error: { code: 'not_found', message: `no route ${method} ${path}` } })
  })
  return { devices, publishes, fetch }
}

let keys: ReturnType<typeof fakeKeys>
beforeEach(() => {
  keys = fakeKeys()
  vi.stubGlobal('fetch', keys.fetch)
  vi.stubGlobal('navigator', { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0' })
})
afterEach(() => vi.unstubAllGlobals())

describe('E2EEClient key packages', () => {
  it('publishes 10 one-time packages and a last-resort one, then tops up to 10 when fewer than 5 are left', async () => {
    const store = memoryStore()
    const first = new E2EEClient('u1', async () => 'token', '/keys', store)
    const me = await first.ensureDevice()
    expect(keys.publishes).toEqual([{ device: me.deviceId, keyPackages: 10, lastResort: true }])

    // Others claimed 7 of them while this browser was closed: at the next start it publishes 7 new ones (and
    // keeps its last-resort one).
    const d = keys.devices.get(me.deviceId)!
    const lastResort = d.lastResort
    d.oneTime.splice(0, 7)
    const again = new E2EEClient('u1', async () => 'token', '/keys', store)
    expect((await again.ensureDevice()).deviceId).toBe(me.deviceId)
    expect(keys.publishes[1]).toEqual({ device: me.deviceId, keyPackages: 7, lastResort: false })
    expect(d.oneTime).toHaveLength(10)
    expect(d.lastResort).toBe(lastResort)
    expect(new Set(d.oneTime).size).toBe(10) // fresh packages, not the old ones again

    // With 5 left (not below the threshold) nothing is published.
    d.oneTime.splice(0, 5)
    await new E2EEClient('u1', async () => 'token', '/keys', store).ensureDevice()
    expect(keys.publishes).toHaveLength(2)
  }, 60_000)

  it('a browser removed elsewhere stays removed until the user sets it up again', async () => {
    const store = memoryStore()
    const me = await new E2EEClient('u1', async () => 'token', '/keys', store).ensureDevice()
    keys.devices.get(me.deviceId)!.removed = true
    const c = new E2EEClient('u1', async () => 'token', '/keys', store)
    await expect(c.ensureDevice()).rejects.toMatchObject({ code: 'device_removed' })
    expect(c.removed).toBe(true)
    const heard = vi.fn()
    c.subscribe(heard)
    expect(await c.read('dm1', { id: '9', nonce: 'n9', content: 'AAEAAg==' })).toEqual({ kind: 'removed' })
    // The screen draws from peek() and redraws on a change: without one the row would say "Decrypting…" forever.
    expect(heard).toHaveBeenCalled()
    expect(c.peek({ id: '9', nonce: 'n9', content: 'AAEAAg==' })).toEqual({ kind: 'removed' })
    // A reload does not quietly register it again either.
    const reloaded = new E2EEClient('u1', async () => 'token', '/keys', store)
    await expect(reloaded.ensureDevice()).rejects.toBeInstanceOf(KeysError)
    expect(keys.devices.size).toBe(1)
    // On request it becomes a new device with new packages.
    const fresh = await reloaded.setUpAgain()
    expect(fresh.deviceId).not.toBe(me.deviceId)
    expect(reloaded.removed).toBe(false)
    expect(keys.publishes.at(-1)).toEqual({ device: fresh.deviceId, keyPackages: 10, lastResort: true })
  }, 60_000)
})
