// @vitest-environment node
// The device side of the key service with the real ts-mls and the real sealed vault (in memory), against a fake
// key service that records what the client asks: key packages are topped up when others claimed them, and a
// browser removed elsewhere says so instead of quietly coming back as a new device.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { E2EEClient, KeysError, epochOfCiphertext } from './client'
import { Vault, type BlobStore } from './vault'
import { plaintextOf, setPlaintext } from '../chat/plaintexts'

function memoryStore(): BlobStore & { keys: () => string[]; raw: Map<string, unknown> } {
  const m = new Map<string, unknown>()
  return {
    get: async (k) => m.get(k),
    put: async (k, v) => void m.set(k, v),
    delete: async (k) => void m.delete(k),
    clear: async () => m.clear(),
    keys: () => [...m.keys()].sort(),
    raw: m,
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
    if (method === 'GET' && path.startsWith('/v1/groups?channelId=')) {
      // The group a test created here (sealing), else one this device is not in (removal).
      if (group || !path.endsWith('=dm1')) return json(200, { groups: group?.channelId === path.split('=')[1] ? [{ ...group, members: undefined }] : [] })
      return json(200, { groups: [{ id: 'Z3JvdXAtaWQtMDAwMDAwMDAx', channelId: 'dm1', epoch: 0, members: [], rotationDue: false }] })
    }
    if ((m = path.match(/^\/v1\/devices\/(\d+)\/welcomes$/))) {
      const d = devices.get(m[1])
      if (!d || d.removed) return json(404, { error: { code: 'not_found', message: 'device not found' } })
      return json(200, { welcomes: [] })
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
    // One group (this user's only), enough for sealing: the Commit log orders epochs; admits are only counted.
    if (method === 'POST' && path === '/v1/groups') {
      group = { id: body.groupId, channelId: body.channelId, epoch: 0, members: [{ deviceId: body.deviceId, userId: 'u1' }], rotationDue: false, overdue: false }
      return json(201, { group })
    }
    if ((m = path.match(/^\/v1\/groups\/([\w-]+)(\/commits|\/messages)?(\?since=(\d+).*)?$/)) && group?.id === m[1]) {
      if (method === 'GET' && !m[2]) return json(200, { group })
      if (m[2] === '/messages') {
        admits.push(body.epoch)
        return json(200, { group })
      }
      if (method === 'POST') {
        if (body.epoch !== group.epoch) return json(409, { error: { code: 'stale_epoch', message: 'stale' } })
        commits.push({ epoch: body.epoch, data: body.commit, removes: body.removes })
        group = { ...group, epoch: group.epoch + 1, overdue: false, rotationDue: false }
        return json(201, { group })
      }
      return json(200, { commits: commits.filter((c) => c.epoch >= Number(m![4] ?? 0)) })
    }
    return json(404, { error: { code: 'not_found', message: `no route ${method} ${path}` } })
  })
  let group: { id: string; channelId: string; epoch: number; members: { deviceId: string; userId: string; removed?: boolean }[]; rotationDue: boolean; overdue: boolean } | undefined
  const commits: { epoch: number; data: string; removes: string[] }[] = []
  const admits: number[] = []
  return {
    devices,
    publishes,
    fetch,
    commits,
    admits,
    get group() {
      return group!
    },
  }
}

let keys: ReturnType<typeof fakeKeys>
beforeEach(() => {
  keys = fakeKeys()
  vi.stubGlobal('fetch', keys.fetch)
  vi.stubGlobal('navigator', { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0' })
  vi.stubGlobal('localStorage', { setItem: () => undefined, getItem: () => null, removeItem: () => undefined })
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

  it('a removed browser forgets what it decrypted: vault wiped, texts gone, also after a reload', async () => {
    const store = memoryStore()
    const c = new E2EEClient('u1', async () => 'token', '/keys', store)
    const me = await c.ensureDevice()
    // What this browser read before: a text cached in the sealed vault (as read() keeps it) and on the chat screen.
    const ct = 'AAEAAg' + 'x'.repeat(40) + 'tag-of-the-message-00000'
    const msg = { id: '42', nonce: 'n42', content: ct }
    await (await Vault.open(store)).put('pt:42', new TextEncoder().encode(JSON.stringify({ kind: 'text', text: 'the secret plan' })))
    expect(await c.read('dm1', msg)).toEqual({ kind: 'text', text: 'the secret plan' })
    expect(plaintextOf({ content: ct, encrypted: true })).toBe('the secret plan')
    const before = store.keys()
    expect(before).toEqual(expect.arrayContaining(['blob:device', 'blob:pt:42', 'device-key']))
    const oldBlob = store.raw.get('blob:pt:42')
    const oldKey = store.raw.get('device-key')

    // Removed from another browser; the push (e2ee:sync device_removed) makes this one sync, which finds out.
    keys.devices.get(me.deviceId)!.removed = true
    const heard = vi.fn()
    c.subscribe(heard)
    vi.stubGlobal('localStorage', { setItem: vi.fn(), getItem: () => null, removeItem: vi.fn() })
    expect(await c.sync('dm1', [])).toMatchObject({ group: { id: 'Z3JvdXAtaWQtMDAwMDAwMDAx' } })
    expect(c.removed).toBe(true)
    expect(heard).toHaveBeenCalled()
    // Only a new device key and the sealed "removed" mark are left; the chat screen forgot the text too.
    expect(store.keys()).toEqual(['blob:removed', 'device-key'])
    expect(store.raw.get('device-key')).not.toBe(oldKey)
    expect(plaintextOf({ content: ct, encrypted: true })).toBeUndefined()
    expect(c.peek(msg)).toBeUndefined()
    expect(await c.read('dm1', msg)).toEqual({ kind: 'removed' })
    // A copy of an old sealed blob put back does not open under the new key.
    store.raw.set('blob:pt:42', oldBlob)
    await expect((await Vault.open(store)).get('pt:42')).rejects.toThrow()
    store.raw.delete('blob:pt:42')

    // After a reload: still removed, still nothing to read.
    const reloaded = new E2EEClient('u1', async () => 'token', '/keys', store)
    expect(await reloaded.read('dm1', msg)).toEqual({ kind: 'removed' })
    await expect(reloaded.ensureDevice()).rejects.toMatchObject({ code: 'device_removed' })
  }, 60_000)

  it('a browser removed before wiping existed is wiped when it next loads', async () => {
    const store = memoryStore()
    await new E2EEClient('u1', async () => 'token', '/keys', store).ensureDevice()
    // What an older version left: the removed mark next to its plaintexts.
    const v = await Vault.open(store)
    await v.put('removed', new TextEncoder().encode('1'))
    await v.put('pt:7', new TextEncoder().encode(JSON.stringify({ kind: 'text', text: 'old text' })))
    setPlaintext('AAAA' + 'y'.repeat(24), 'old text')
    const c = new E2EEClient('u1', async () => 'token', '/keys', store)
    expect(await c.read('dm1', { id: '7', nonce: 'n7', content: 'AAAA' + 'y'.repeat(24) })).toEqual({ kind: 'removed' })
    expect(store.keys()).toEqual(['blob:removed', 'device-key'])
    expect(plaintextOf({ content: 'AAAA' + 'y'.repeat(24), encrypted: true })).toBeUndefined()
  }, 60_000)
})

// The chat server asks the key service before it stores an encrypted message; the browser no longer does (each
// message would count twice). It acts on the server's refusal instead: rotation_overdue → a rotation Commit, then
// new ciphertext in the new epoch; stale_epoch → catch up, new ciphertext; otherwise a retry of a nonce gets the
// same ciphertext.
describe('E2EEClient sealing', () => {
  it('never asks the key service itself, reseals on a refusal, and rotates an overdue group first', async () => {
    const c = new E2EEClient('u1', async () => 'token', '/keys', memoryStore())
    await c.enable('dm2', [])
    const epoch = keys.group.epoch // the creator's first Commit: epoch 1
    expect(epoch).toBe(1)

    const first = await c.seal('dm2', 'n1', 'hello')
    expect(epochOfCiphertext(first)).toBe(epoch)
    expect(await c.seal('dm2', 'n1', 'hello')).toBe(first) // a plain retry: the same ciphertext

    // stale_epoch: new ciphertext for the same nonce, after catching up (nothing to apply here).
    const resealed = await c.seal('dm2', 'n1', 'hello', 'stale_epoch')
    expect(resealed).not.toBe(first)
    expect(epochOfCiphertext(resealed)).toBe(epoch)
    expect(keys.commits).toHaveLength(1)

    // rotation_overdue: the group is overdue at the service; a Commit first, then ciphertext of the new epoch.
    keys.group.overdue = true
    const rotated = await c.seal('dm2', 'n1', 'hello', 'rotation_overdue')
    expect(keys.commits).toHaveLength(2)
    expect(epochOfCiphertext(rotated)).toBe(epoch + 1)
    expect(keys.group.epoch).toBe(epoch + 1)

    // A new message while the service says the group is overdue: rotated before sealing, no refusal needed.
    keys.group.overdue = true
    const next = await c.seal('dm2', 'n2', 'again')
    expect(keys.commits).toHaveLength(3)
    expect(epochOfCiphertext(next)).toBe(epoch + 2)
    expect(keys.admits).toEqual([]) // the browser never asked to be admitted
  }, 60_000)
})
