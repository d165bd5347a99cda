// Safety numbers, as Signal shows them: each side's devices hash (iterated SHA-256 over the user id and every
// device's signature public key) to 30 digits; the conversation's number is both halves in a fixed order, so
// both users see the same 60 digits and compare them out of band. The keys come from the MLS ratchet tree the
// browser verified, not from the key service, so a service that swapped a key would change the number.
const ITERATIONS = 1024
const encoder = new TextEncoder()

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function lengthPrefixed(b: Uint8Array): Uint8Array {
  const len = new Uint8Array(4)
  new DataView(len.buffer).setUint32(0, b.length)
  return concat(len, b)
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/** 30 digits (six groups of five) for one user's set of device keys; the order of the devices does not matter. */
export async function userFingerprint(userId: string, deviceKeys: Uint8Array[]): Promise<string> {
  const keys = [...deviceKeys].sort(compareBytes)
  const input = concat(encoder.encode('parley-safety-number-v1'), lengthPrefixed(encoder.encode(userId)), ...keys.map(lengthPrefixed))
  let h = new Uint8Array(await crypto.subtle.digest('SHA-256', input))
  for (let i = 0; i < ITERATIONS; i++) h = new Uint8Array(await crypto.subtle.digest('SHA-256', concat(h, input)))
  const groups: string[] = []
  for (let i = 0; i < 6; i++) {
    // 5 bytes -> a number below 2^40, reduced to 5 digits (the bias is negligible for comparison by eye).
    let n = 0
    for (let j = 0; j < 5; j++) n = n * 256 + h[i * 5 + j]
    groups.push(String(n % 100000).padStart(5, '0'))
  }
  return groups.join(' ')
}

/** The conversation's safety number: both users' fingerprints, lower user id first. */
export async function safetyNumber(a: { userId: string; keys: Uint8Array[] }, b: { userId: string; keys: Uint8Array[] }): Promise<string> {
  const [first, second] = BigInt(a.userId) <= BigInt(b.userId) ? [a, b] : [b, a]
  return `${await userFingerprint(first.userId, first.keys)} ${await userFingerprint(second.userId, second.keys)}`
}
