// @vitest-environment node
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies of the servers, checked by the assertions */
// The whole protocol against the real chat server and the real key service, with the web app's MLS module and
// the official socket.io-client. Run by tests/e2ee (Go), which starts both servers on the real databases, passes
// their addresses and two users' tokens in E2EE_FLOW (JSON), and afterwards scans the databases for the
// plaintexts this test prints. Skipped when run alone (`npm test`): it needs those servers.
import { describe, expect, it } from 'vitest'
import { io, type Socket } from 'socket.io-client'
import type { ClientState } from 'ts-mls'
import { commit, encrypt, epochOf, groupIdOf, join, members, newGroup, newKeyPackage, newSignatureKey, receive, type DeviceIdentity, type OwnKeyPackage } from './mls'

interface FlowEnv {
  chatUrl: string
  keysUrl: string
  alice: { id: string; token: string }
  bob: { id: string; token: string }
  dmId: string
}

const raw = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.E2EE_FLOW
const env: FlowEnv | undefined = raw ? (JSON.parse(raw) as FlowEnv) : undefined

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b))
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

async function keys(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(env!.keysUrl + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : {} }
}

async function ok(p: Promise<{ status: number; body: any }>, status = 200) {
  const r = await p
  if (r.status !== status) throw new Error(`key service: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

/** One browser: its identity, unused key packages, socket, and per-group state. */
class Device {
  id!: DeviceIdentity
  deviceId = ''
  packages: OwnKeyPackage[] = []
  state?: ClientState
  socket!: Socket
  inbox: { id: string; content: string; encrypted: boolean; senderId: string }[] = []
  sent = new Set<string>() // ids of this device's own messages (the room echoes them; MLS senders cannot decrypt their own)

  constructor(
    readonly userId: string,
    readonly token: string,
  ) {}

  async register(name: string, packages = 3) {
    const sig = await newSignatureKey()
    const d = await ok(keys(this.token, 'POST', '/v1/devices', { name, signatureKey: b64(sig.publicKey) }), 201)
    this.deviceId = d.device.id
    this.id = { userId: this.userId, deviceId: this.deviceId, signatureKey: sig }
    for (let i = 0; i < packages; i++) this.packages.push(await newKeyPackage(this.id))
    const last = await newKeyPackage(this.id)
    this.packages.push(last)
    await ok(keys(this.token, 'POST', `/v1/devices/${this.deviceId}/key-packages`, {
      keyPackages: this.packages.slice(0, packages).map((p) => b64(p.encoded)),
      lastResort: b64(last.encoded),
    }))
  }

  connect(): Promise<void> {
    this.socket = io(env!.chatUrl, { auth: { token: this.token }, transports: ['websocket'], forceNew: true })
    this.socket.on('message:new', (m) => this.inbox.push(m))
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve())
      this.socket.once('connect_error', reject)
    })
  }

  /** Joins every group a Welcome is waiting for. */
  async acceptWelcomes() {
    const { welcomes } = await ok(keys(this.token, 'GET', `/v1/devices/${this.deviceId}/welcomes`))
    for (const w of welcomes) {
      const { state, used } = await join(unb64(w.data), this.packages)
      this.state = state
      if (used !== this.packages[this.packages.length - 1]) this.packages = this.packages.filter((p) => p !== used)
      await ok(keys(this.token, 'DELETE', `/v1/devices/${this.deviceId}/welcomes/${w.id}`), 204)
    }
  }

  /** Applies the Commits other members made since this device's epoch. */
  async catchUp() {
    const { commits } = await ok(keys(this.token, 'GET', `/v1/groups/${groupIdOf(this.state!)}/commits?since=${epochOf(this.state!)}`))
    for (const c of commits) {
      if (c.epoch !== epochOf(this.state!)) continue
      this.state = (await receive(this.state!, unb64(c.data))).state
    }
  }

  /** Commits (adds, removes, or a pure rotation) through the key service, which orders it. */
  async commit(adds: { deviceId: string; data: string }[] = [], removes: string[] = []) {
    const leaves = removes.map((d) => members(this.state!).find((m) => m.deviceId === d)!.leaf)
    const c = await commit(this.state!, adds.map((a) => unb64(a.data)), leaves)
    const r = await keys(this.token, 'POST', `/v1/groups/${groupIdOf(this.state!)}/commits`, {
      deviceId: this.deviceId,
      epoch: epochOf(this.state!),
      commit: b64(c.commit),
      adds: adds.map((a) => a.deviceId),
      removes,
      welcome: c.welcome ? b64(c.welcome) : undefined,
    })
    if (r.status !== 201) throw new Error(`commit: ${r.status} ${JSON.stringify(r.body)}`)
    this.state = c.state
    return c
  }

  /** rotation_overdue / stale_epoch refusals the chat server answered this device's sends with. */
  refusals: string[] = []

  /**
   * Sends an encrypted DM. The chat server asks the key service (the rotation policy) before storing it, as this
   * user, and answers a refusal in the ack: rotation_overdue → rotate, stale_epoch → catch up; then the same nonce
   * again, sealed in the new epoch.
   */
  async send(text: string, nonce: string): Promise<{ id: string; content: string }> {
    for (let attempt = 0; ; attempt++) {
      const m = await encrypt(this.state!, text)
      this.state = m.state
      const ack: any = await this.socket.timeout(10_000).emitWithAck('message:send', { channelId: env!.dmId, content: b64(m.ciphertext), nonce, encrypted: true })
      const code = ack.ok ? undefined : ack.error?.code
      if (attempt < 2 && (code === 'rotation_overdue' || code === 'stale_epoch')) {
        this.refusals.push(code)
        if (code === 'rotation_overdue') await this.commit()
        else await this.catchUp()
        continue
      }
      if (!ack.ok) throw new Error(`send: ${JSON.stringify(ack)}`)
      this.sent.add(ack.message.id)
      return ack.message
    }
  }

  async next(): Promise<{ id: string; content: string; encrypted: boolean }> {
    const pending = () => this.inbox.filter((m) => !this.sent.has(m.id))
    for (let i = 0; i < 200 && pending().length === 0; i++) await new Promise((r) => setTimeout(r, 50))
    const m = pending()[0]
    this.inbox = this.inbox.filter((x) => x !== m && !this.sent.has(x.id))
    if (!m) throw new Error('no message:new arrived')
    return m
  }

  async read(): Promise<string> {
    const m = await this.next()
    expect(m.encrypted).toBe(true)
    await this.catchUp()
    const r = await receive(this.state!, unb64(m.content))
    if (r.kind !== 'message') throw new Error('expected an application message')
    this.state = r.state
    return r.text
  }
}

describe.skipIf(!env)('encrypted DMs through the real servers', () => {
  it('two users talk; tampering, replays, stale Commits, second claims and a removed device fail; rotation by policy', async () => {
    const plaintexts: string[] = []
    const say = (s: string) => (plaintexts.push(s), s)
    const alice = new Device(env!.alice.id, env!.alice.token)
    const bob = new Device(env!.bob.id, env!.bob.token)
    await alice.register('alice laptop')
    await bob.register('bob phone', 1)
    await Promise.all([alice.connect(), bob.connect()])

    // Alice opens the encrypted conversation: her group, Bob's device added from a claimed key package.
    alice.state = await newGroup(alice.packages.shift()!)
    await ok(keys(alice.token, 'POST', '/v1/groups', { groupId: groupIdOf(alice.state), deviceId: alice.deviceId, channelId: env!.dmId }), 201)
    const claim = await ok(keys(alice.token, 'POST', `/v1/users/${bob.userId}/key-packages/claim`, { deviceId: alice.deviceId }))
    expect(claim.keyPackages).toHaveLength(1)
    expect(claim.keyPackages[0].lastResort).toBe(false)
    // Bob published one one-time package: a second claim gets the last-resort one, never the same package twice.
    const second = await ok(keys(alice.token, 'POST', `/v1/users/${bob.userId}/key-packages/claim`, { deviceId: alice.deviceId }))
    expect(second.keyPackages[0].lastResort).toBe(true)
    expect(second.keyPackages[0].data).not.toBe(claim.keyPackages[0].data)
    const added = await alice.commit(claim.keyPackages)
    await bob.acceptWelcomes()
    expect(epochOf(bob.state!)).toBe(1)

    // A stale Commit (Alice's add, replayed at epoch 0) is refused by the key service.
    const stale = await keys(alice.token, 'POST', `/v1/groups/${groupIdOf(alice.state)}/commits`, {
      deviceId: alice.deviceId, epoch: 0, commit: b64(added.commit), adds: [], removes: [],
    })
    expect(stale.status).toBe(409)
    expect(stale.body.error.code).toBe('stale_epoch')

    // They talk.
    await alice.send(say('Bob, the launch code is tangerine-42'), 'f1')
    expect(await bob.read()).toBe('Bob, the launch code is tangerine-42')
    const bobSent = await bob.send(say('Got it: tangerine-42, deleting this now'), 'f2')
    expect(await alice.read()).toBe('Got it: tangerine-42, deleting this now')

    // Tampered and replayed ciphertext is refused by the receiver.
    const bytes = unb64(bobSent.content)
    const tampered = bytes.slice()
    tampered[tampered.length - 3] ^= 0x40
    await expect(receive(alice.state!, tampered)).rejects.toThrow()
    await expect(receive(alice.state!, bytes)).rejects.toThrow()

    // Rotation by policy (the Go test sets M = 3 messages, 1 of grace): sends continue through forced rotations.
    const before = epochOf(alice.state!)
    for (let i = 0; i < 5; i++) {
      const from = i % 2 === 0 ? alice : bob
      const to = from === alice ? bob : alice
      const text = say(`policy round ${i}: secret-${i}-marmalade`)
      await from.send(text, `p${i}`)
      expect(await to.read()).toBe(text)
    }
    expect(epochOf(alice.state!)).toBeGreaterThan(before)
    // The chat server refused a send of an overdue epoch (it asks the key service; the devices never do).
    expect([...alice.refusals, ...bob.refusals]).toContain('rotation_overdue')
    const g = await ok(keys(bob.token, 'GET', `/v1/groups/${groupIdOf(bob.state!)}`))
    expect(g.group.epoch).toBe(epochOf(bob.state!))

    // Bob adds a second device, then removes it from his devices; the next Commit removes it from the group,
    // and it cannot read what follows.
    const bob2 = new Device(bob.userId, bob.token)
    await bob2.register('bob tablet', 1)
    await bob.catchUp()
    const claim2 = await ok(keys(bob.token, 'POST', `/v1/users/${bob.userId}/key-packages/claim`, { deviceId: bob.deviceId }))
    expect(claim2.keyPackages.map((k: any) => k.deviceId)).toEqual([bob2.deviceId])
    await bob.commit(claim2.keyPackages)
    await bob2.acceptWelcomes()
    await alice.catchUp()
    expect(members(alice.state!)).toHaveLength(3)
    await ok(keys(bob.token, 'DELETE', `/v1/devices/${bob2.deviceId}`))
    const due = await ok(keys(alice.token, 'GET', `/v1/groups/${groupIdOf(alice.state!)}`))
    expect(due.group.rotationDue).toBe(true)
    expect(due.group.dueReason).toBe('membership')
    const bob2State = bob2.state!
    await alice.commit([], [bob2.deviceId])
    await bob.catchUp()
    const after = await alice.send(say('only the two of us: quince-77'), 'r1')
    expect(await bob.read()).toBe('only the two of us: quince-77')
    await expect(receive(bob2State, unb64(after.content))).rejects.toThrow()

    alice.socket.close()
    bob.socket.close()
    // For the Go side: the plaintexts it must not find in any database.
    console.log('E2EE_PLAINTEXTS=' + JSON.stringify(plaintexts))
  }, 120_000)
})
