// @vitest-environment node
// The MLS properties the product relies on, with the real ts-mls (no mocks): two devices talk, a tampered or
// replayed ciphertext is rejected, a removed device cannot read what follows, a rotation keeps both sides
// talking, and state survives a save/load through the sealed vault.
import { describe, expect, it } from 'vitest'
import type { ClientState } from 'ts-mls'
import { commit, encrypt, epochOf, groupIdOf, join, loadState, members, newGroup, newKeyPackage, newSignatureKey, receive, saveState, type DeviceIdentity } from './mls'
import { safetyNumber, userFingerprint } from './fingerprint'
import { Vault, type BlobStore } from './vault'

async function device(userId: string, deviceId: string): Promise<DeviceIdentity> {
  return { userId, deviceId, signatureKey: await newSignatureKey() }
}

async function text(state: ClientState, data: Uint8Array): Promise<{ state: ClientState; text: string }> {
  const r = await receive(state, data)
  if (r.kind !== 'message') throw new Error('expected an application message')
  return { state: r.state, text: r.text }
}

/** Alice creates a group and adds Bob from a claimed key package; both at epoch 1. */
async function pair() {
  const alice = await device('100', '1')
  const bob = await device('200', '2')
  const aliceKp = await newKeyPackage(alice)
  const bobKp = await newKeyPackage(bob)
  let a = await newGroup(aliceKp)
  const c = await commit(a, [bobKp.encoded])
  a = c.state
  expect(c.welcome).toBeDefined()
  const { state: b, used } = await join(c.welcome!, [await newKeyPackage(bob), bobKp])
  expect(used).toBe(bobKp)
  return { alice, bob, a, b }
}

describe('MLS with ts-mls', () => {
  it('two devices exchange messages; the ciphertext does not contain the text', async () => {
    let { a, b } = await pair()
    expect(epochOf(a)).toBe(1)
    expect(epochOf(b)).toBe(1)
    expect(groupIdOf(a)).toBe(groupIdOf(b))
    const secret = 'meet at the usual place at 9'
    const m1 = await encrypt(a, secret)
    a = m1.state
    expect(new TextDecoder('latin1').decode(m1.ciphertext)).not.toContain('usual place')
    const r1 = await text(b, m1.ciphertext)
    b = r1.state
    expect(r1.text).toBe(secret)
    const m2 = await encrypt(b, 'ok 👍')
    expect((await text(a, m2.ciphertext)).text).toBe('ok 👍')
    expect(members(a).map((m) => m.deviceId)).toEqual(['1', '2'])
  })

  it('rejects a tampered ciphertext and a replayed one', async () => {
    let { a, b } = await pair()
    const m = await encrypt(a, 'transfer 10 coins')
    a = m.state
    // Flip one bit anywhere in the last third (the encrypted content and its tag).
    for (const at of [m.ciphertext.length - 1, m.ciphertext.length - 20, Math.floor(m.ciphertext.length * 0.7)]) {
      const bad = m.ciphertext.slice()
      bad[at] ^= 0x01
      await expect(receive(b, bad)).rejects.toThrow()
    }
    const ok = await text(b, m.ciphertext)
    b = ok.state
    expect(ok.text).toBe('transfer 10 coins')
    // The same ciphertext again: its key was consumed, so the replay is refused.
    await expect(receive(b, m.ciphertext)).rejects.toThrow()
  })

  it('a removed device cannot decrypt what is sent after its removal', async () => {
    let { a, b } = await pair()
    const carol = await device('300', '3')
    const carolKp = await newKeyPackage(carol)
    const add = await commit(a, [carolKp.encoded])
    a = add.state
    b = (await receive(b, add.commit)).state
    let c = (await join(add.welcome!, [carolKp])).state
    expect(epochOf(c)).toBe(2)
    const before = await encrypt(a, 'hello all three')
    a = before.state
    c = (await text(c, before.ciphertext)).state
    b = (await text(b, before.ciphertext)).state

    const carolLeaf = members(a).find((m) => m.deviceId === '3')!.leaf
    const rm = await commit(a, [], [carolLeaf])
    a = rm.state
    b = (await receive(b, rm.commit)).state
    expect(members(b).map((m) => m.deviceId)).toEqual(['1', '2'])
    const after = await encrypt(a, 'carol must not read this')
    expect((await text(b, after.ciphertext)).text).toBe('carol must not read this')
    // Carol keeps her old state: she can process neither the message nor (usefully) anything after it.
    await expect(receive(c, after.ciphertext)).rejects.toThrow()
    // Even after applying the Commit that removed her, she is out of the group.
    const cAfter = await receive(c, rm.commit).catch(() => undefined)
    if (cAfter) await expect(receive(cAfter.state, after.ciphertext)).rejects.toThrow()
  })

  it('a rotation (an empty Commit) starts a new epoch and both keep talking; old epochs are closed', async () => {
    let { a, b } = await pair()
    const old = await encrypt(a, 'epoch 1')
    a = old.state
    const rot = await commit(b)
    b = rot.state
    expect(rot.welcome).toBeUndefined()
    a = (await receive(a, rot.commit)).state
    expect(epochOf(a)).toBe(2)
    expect(epochOf(b)).toBe(2)
    const m = await encrypt(a, 'epoch 2')
    a = m.state
    b = (await text(b, m.ciphertext)).state
    const back = await encrypt(b, 'still here')
    expect((await text(a, back.ciphertext)).text).toBe('still here')
    // A stale Commit (the same rotation applied twice) is refused.
    await expect(receive(a, rot.commit)).rejects.toThrow()
  })

  it('state survives save and load through the sealed vault', async () => {
    let { a, b } = await pair()
    const mem = new Map<string, unknown>()
    const store: BlobStore = {
      get: async (k) => mem.get(k),
      put: async (k, v) => void mem.set(k, v),
      delete: async (k) => void mem.delete(k),
      clear: async () => mem.clear(),
    }
    const vault = await Vault.open(store)
    await expect(crypto.subtle.exportKey('raw', vault.deviceKey)).rejects.toThrow()
    await vault.put('group:' + groupIdOf(b), saveState(b))
    // The stored bytes are not the state.
    const sealed = mem.get('blob:group:' + groupIdOf(b)) as { ct: Uint8Array }
    expect(sealed.ct).not.toEqual(saveState(b))
    // Tampering with the sealed blob is detected; a blob moved to another name does not open.
    const flipped = { ...sealed, ct: sealed.ct.slice() }
    flipped.ct[5] ^= 1
    mem.set('blob:tampered', flipped)
    await expect(vault.get('tampered')).rejects.toThrow()
    mem.set('blob:other', sealed)
    await expect(vault.get('other')).rejects.toThrow()

    const reopened = await Vault.open(store)
    b = loadState((await reopened.get('group:' + groupIdOf(b)))!)
    const m = await encrypt(a, 'after a reload')
    a = m.state
    expect((await text(b, m.ciphertext)).text).toBe('after a reload')
    const back = await encrypt(b, 'me too')
    expect((await text(a, back.ciphertext)).text).toBe('me too')
  })

  it('safety numbers: same on both sides, independent of device order, changed by any key', async () => {
    const k1 = crypto.getRandomValues(new Uint8Array(32))
    const k2 = crypto.getRandomValues(new Uint8Array(32))
    const k3 = crypto.getRandomValues(new Uint8Array(32))
    const ab = await safetyNumber({ userId: '100', keys: [k1, k2] }, { userId: '200', keys: [k3] })
    const ba = await safetyNumber({ userId: '200', keys: [k3] }, { userId: '100', keys: [k2, k1] })
    expect(ab).toBe(ba)
    expect(ab).toMatch(/^(\d{5} ){11}\d{5}$/)
    const swapped = await safetyNumber({ userId: '100', keys: [k1, k3] }, { userId: '200', keys: [k3] })
    expect(swapped).not.toBe(ab)
    expect(await userFingerprint('100', [k1])).not.toBe(await userFingerprint('101', [k1]))
  })
})
