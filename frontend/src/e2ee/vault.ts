// Private MLS state at rest. ts-mls keeps private keys as bytes (its HPKE and signature code is not WebCrypto),
// so they cannot be non-extractable CryptoKeys themselves. Instead every stored blob (group states, unused
// private key packages, the device's signature key) is sealed with AES-256-GCM under one device key that is a
// non-extractable WebCrypto key, kept in IndexedDB as a CryptoKey object: script on the page can use it but not
// read it out, and a copy of the database without the browser's key store is useless.
export interface BlobStore {
  get(key: string): Promise<unknown>
  put(key: string, value: unknown): Promise<void>
  delete(key: string): Promise<void>
  /** Deletes everything. */
  clear(): Promise<void>
}

const DEVICE_KEY = 'device-key'

export class Vault {
  private constructor(
    private store: BlobStore,
    private key: CryptoKey,
  ) {}

  private static newKey(): Promise<CryptoKey> {
    return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
  }

  /** Opens the vault on a store, creating the device key on first use. */
  static async open(store: BlobStore): Promise<Vault> {
    let key = (await store.get(DEVICE_KEY)) as CryptoKey | undefined
    if (!key) {
      key = await Vault.newKey()
      await store.put(DEVICE_KEY, key)
    }
    return new Vault(store, key)
  }

  get deviceKey(): CryptoKey {
    return this.key
  }

  /** Seals a blob under its name (the name is authenticated too: blobs cannot be swapped between names). */
  async put(name: string, plaintext: Uint8Array): Promise<void> {
    const iv = crypto.getRandomValues(new Uint8Array(12))
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(name) }, this.key, plaintext as Uint8Array<ArrayBuffer>)
    await this.store.put('blob:' + name, { iv, ct: new Uint8Array(ct) })
  }

  /** Opens a blob; undefined when absent; throws when it was tampered with. */
  async get(name: string): Promise<Uint8Array | undefined> {
    const v = (await this.store.get('blob:' + name)) as { iv: Uint8Array<ArrayBuffer>; ct: Uint8Array<ArrayBuffer> } | undefined
    if (!v) return undefined
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: v.iv, additionalData: new TextEncoder().encode(name) }, this.key, v.ct)
    return new Uint8Array(pt)
  }

  async delete(name: string): Promise<void> {
    await this.store.delete('blob:' + name)
  }

  /**
   * Forgets everything sealed so far (a removed device: its MLS state and the texts it decrypted): the store is
   * emptied and the device key replaced, so a blob that survived the clear (or a copy of the database taken
   * before it) can no longer be opened in this browser. The vault stays usable under the new key.
   */
  async wipe(): Promise<void> {
    const key = await Vault.newKey()
    await this.store.clear()
    await this.store.put(DEVICE_KEY, key)
    this.key = key
  }
}

/** The browser's store: one IndexedDB object store (CryptoKey objects are stored as they are, non-extractable). */
export function indexedDbStore(dbName = 'parley-e2ee'): BlobStore {
  const open = new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(dbName, 1)
    req.onupgradeneeded = () => req.result.createObjectStore('kv')
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error ?? new Error('IndexedDB unavailable'))
  })
  const run = <T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest): Promise<T> =>
    open.then(
      (db) =>
        new Promise<T>((resolve, reject) => {
          const req = f(db.transaction('kv', mode).objectStore('kv'))
          req.onsuccess = () => resolve(req.result as T)
          req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'))
        }),
    )
  return {
    get: (key) => run('readonly', (s) => s.get(key)),
    put: (key, value) => run('readwrite', (s) => s.put(value, key)),
    delete: (key) => run('readwrite', (s) => s.delete(key)),
    clear: () => run('readwrite', (s) => s.clear()),
  }
}
