// MLS (RFC 9420) for end-to-end encrypted DMs, through ts-mls (README "End-to-end encrypted DMs": why this
// library). Each browser is one MLS member with its own signature key; the server only ever sees key packages,
// Commits, Welcomes and ciphertext. Nothing here is hand-written cryptography: this module only orchestrates
// ts-mls calls and encodes their messages for transport.
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processPrivateMessage,
  processPublicMessage,
  type CiphersuiteImpl,
  type ClientState,
  type Credential,
  type KeyPackage,
  type PrivateKeyPackage,
  type Proposal,
} from 'ts-mls'
import { defaultClientConfig } from 'ts-mls/clientConfig.js'

// X25519 + AES-128-GCM + SHA-256 + Ed25519: MLS's mandatory-to-implement suite, and needs no optional package.
export const CIPHERSUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const

let suitePromise: Promise<CiphersuiteImpl> | undefined
export function suite(): Promise<CiphersuiteImpl> {
  suitePromise ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHERSUITE))
  return suitePromise
}

/** A device's long-term identity: its credential names the user and device the key service knows. */
export interface DeviceIdentity {
  userId: string
  deviceId: string
  signatureKey: { publicKey: Uint8Array; signKey: Uint8Array }
}

export function credentialOf(userId: string, deviceId: string): Credential {
  return { credentialType: 'basic', identity: new TextEncoder().encode(`${userId}/${deviceId}`) }
}

/** Parses a credential back into the user and device it names (undefined for anything else). */
export function identityOf(c: Credential): { userId: string; deviceId: string } | undefined {
  if (c.credentialType !== 'basic') return undefined
  const m = /^(\d+)\/(\d+)$/.exec(new TextDecoder().decode(c.identity))
  return m ? { userId: m[1], deviceId: m[2] } : undefined
}

/** A new signature key pair; the public half is registered with the key service before key packages exist. */
export async function newSignatureKey(): Promise<{ publicKey: Uint8Array; signKey: Uint8Array }> {
  return (await suite()).signature.keygen()
}

export interface OwnKeyPackage {
  public: KeyPackage
  private: PrivateKeyPackage
  /** The MLSMessage-encoded key package, as published. */
  encoded: Uint8Array
}

/** Makes a key package signed by the device's own signature key. */
export async function newKeyPackage(id: DeviceIdentity): Promise<OwnKeyPackage> {
  const cs = await suite()
  const kp = await generateKeyPackageWithKey(credentialOf(id.userId, id.deviceId), defaultCapabilities(), defaultLifetime, [], id.signatureKey, cs)
  const encoded = encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' })
  return { public: kp.publicPackage, private: kp.privatePackage, encoded }
}

export function decodeKeyPackage(b: Uint8Array): KeyPackage {
  const m = decodeMlsMessage(b, 0)?.[0]
  if (!m || m.wireformat !== 'mls_key_package') throw new MlsFormatError('not a key package')
  return m.keyPackage
}

export class MlsFormatError extends Error {}

/** Creates a group with this device as its only member; the group id is random (base64url: the key service id). */
export async function newGroup(own: OwnKeyPackage): Promise<ClientState> {
  const id = crypto.getRandomValues(new Uint8Array(18))
  return createGroup(id, own.public, own.private, [], await suite())
}

export function groupIdOf(state: ClientState): string {
  return toBase64Url(state.groupContext.groupId)
}

export function epochOf(state: ClientState): number {
  return Number(state.groupContext.epoch)
}

export interface CommitOut {
  state: ClientState
  commit: Uint8Array
  welcome?: Uint8Array
}

/**
 * Commits adds (claimed key packages) and removes (leaf indexes); with neither it is a pure key rotation (a new
 * epoch with fresh path secrets). The ratchet tree travels in the Welcome, so joiners need nothing else.
 */
export async function commit(state: ClientState, adds: Uint8Array[] = [], removes: number[] = []): Promise<CommitOut> {
  const cs = await suite()
  const proposals: Proposal[] = [
    ...adds.map((kp): Proposal => ({ proposalType: 'add', add: { keyPackage: decodeKeyPackage(kp) } })),
    ...removes.map((leaf): Proposal => ({ proposalType: 'remove', remove: { removed: leaf } })),
  ]
  const r = await createCommit({ state, cipherSuite: cs }, { extraProposals: proposals, ratchetTreeExtension: true })
  return {
    state: r.newState,
    commit: encodeMlsMessage(r.commit),
    welcome: r.welcome ? encodeMlsMessage({ welcome: r.welcome, wireformat: 'mls_welcome', version: 'mls10' }) : undefined,
  }
}

/** Joins a group from a Welcome with whichever of the device's unused key packages it was made for. */
export async function join(welcome: Uint8Array, candidates: OwnKeyPackage[]): Promise<{ state: ClientState; used: OwnKeyPackage }> {
  const m = decodeMlsMessage(welcome, 0)?.[0]
  if (!m || m.wireformat !== 'mls_welcome') throw new MlsFormatError('not a Welcome')
  const cs = await suite()
  for (const kp of candidates) {
    try {
      return { state: await joinGroup(m.welcome, kp.public, kp.private, emptyPskIndex, cs), used: kp }
    } catch {
      // Not this key package's Welcome: try the next one.
    }
  }
  throw new MlsFormatError('no key package of this device matches the Welcome')
}

/** Encrypts an application message for the group's current epoch. */
export async function encrypt(state: ClientState, plaintext: string): Promise<{ state: ClientState; ciphertext: Uint8Array }> {
  const r = await createApplicationMessage(state, new TextEncoder().encode(plaintext), await suite())
  const ciphertext = encodeMlsMessage({ privateMessage: r.privateMessage, wireformat: 'mls_private_message', version: 'mls10' })
  return { state: r.newState, ciphertext }
}

export type Incoming =
  | { kind: 'message'; state: ClientState; text: string; sender?: { userId: string; deviceId: string } }
  | { kind: 'commit'; state: ClientState }

/**
 * Processes a message from the group: an application message is decrypted (authenticated: a tampered, replayed
 * or foreign-epoch ciphertext throws), a Commit moves the state to the next epoch.
 */
export async function receive(state: ClientState, data: Uint8Array): Promise<Incoming> {
  const m = decodeMlsMessage(data, 0)?.[0]
  const cs = await suite()
  if (m?.wireformat === 'mls_private_message') {
    const r = await processPrivateMessage(state, m.privateMessage, emptyPskIndex, cs)
    if (r.kind === 'applicationMessage') {
      return { kind: 'message', state: r.newState, text: new TextDecoder('utf-8', { fatal: true }).decode(r.message) }
    }
    return { kind: 'commit', state: r.newState }
  }
  if (m?.wireformat === 'mls_public_message') {
    const r = await processPublicMessage(state, m.publicMessage, emptyPskIndex, cs)
    return { kind: 'commit', state: r.newState }
  }
  throw new MlsFormatError('not an MLS group message')
}

/** The group's members as (leaf index, user, device, signature key). */
export function members(state: ClientState): { leaf: number; userId: string; deviceId: string; signatureKey: Uint8Array }[] {
  const out: { leaf: number; userId: string; deviceId: string; signatureKey: Uint8Array }[] = []
  state.ratchetTree.forEach((node, i) => {
    if (i % 2 !== 0 || !node || node.nodeType !== 'leaf') return
    const who = identityOf(node.leaf.credential)
    if (who) out.push({ leaf: i / 2, ...who, signatureKey: node.leaf.signaturePublicKey })
  })
  return out
}

/** Serialises a group state for storage (it holds private keys: store it only encrypted, see vault.ts). */
export function saveState(state: ClientState): Uint8Array {
  return encodeGroupState(state)
}

export function loadState(b: Uint8Array): ClientState {
  const r = decodeGroupState(b, 0)
  if (!r) throw new MlsFormatError('corrupt group state')
  // The client configuration is not part of the encoding; the library's defaults apply again.
  return { ...r[0], clientConfig: defaultClientConfig }
}

export function toBase64Url(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += String.fromCharCode(x)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
