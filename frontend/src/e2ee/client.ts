// The web app's side of encrypted DMs (README "End-to-end encrypted DMs"): this browser as an MLS device, its
// groups (one per encrypted DM), and the plaintext cache. Loaded only with the encrypted-DM UI (a chunk of its
// own, with ts-mls), never with the chat screen. The key service is reached through the chat server's /keys/
// proxy. Every MLS operation of one browser runs one at a time (MLS state is a chain: each step needs the last).
import type { ClientState } from 'ts-mls';
import { commit, decodeKeyPackage, encrypt, epochOf, groupIdOf, join, loadState, members, newGroup, newKeyPackage, newSignatureKey, receive, saveState, type DeviceIdentity, type OwnKeyPackage } from './mls';
import { indexedDbStore, Vault } from './vault';
import { safetyNumber, userFingerprint } from './fingerprint';
import { topUpCount } from './syncloop';
import { ciphertextKey, clearPlaintexts, setPlaintext } from '../chat/plaintexts';
import { envelopeText, forgetFiles } from './files';

export const b64 = (b: Uint8Array) => {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
};
export const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const enc = new TextEncoder();
const dec = new TextDecoder();

/** One-time key packages a device publishes (and tops up to) besides its last-resort one. */
const KEY_PACKAGES = 10;
/** Fewer one-time packages than this left on the key service: publish new ones (others claimed them). */
const KEY_PACKAGES_LOW = 5;
/** How often at most a sync asks for the count (a Welcome this device used asks at once). */
const TOP_UP_CHECK_MS = 60_000;

export interface KeysDevice {
  id: string;
  userId: string;
  name: string;
  signatureKey: string;
  createdAt: string;
  keyPackages?: number;
}
export interface KeysGroup {
  id: string;
  channelId: string;
  epoch: number;
  members: { deviceId: string; userId: string; removed?: boolean }[];
  rotationDue: boolean;
  overdue?: boolean;
  dueReason?: 'age' | 'messages' | 'membership';
}

export class KeysError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a message's body shows. */
export type Readable =
  | { kind: 'text'; text: string; epoch?: number }
  | { kind: 'before-join' }
  | { kind: 'removed' }
  | { kind: 'undecryptable'; reason: string };

/** The chat server's refusal of a sealed send, relayed from the key service: rotate (or catch up) and reseal. */
export type Refusal = 'rotation_overdue' | 'stale_epoch';

/** The localStorage mark of an encrypted conversation: sends in it are sealed even before this UI loaded. */
export const markKey = (channelId: string) => `parley-e2ee:${channelId}`;

/** The MLS epoch a PrivateMessage was sent in (in its clear header), without decrypting it. */
export function epochOfCiphertext(content: string): number | undefined {
  try {
    // MLSMessage: version (2) wireformat (2) | PrivateMessage: group_id<V> epoch (8) ...
    const b = unb64(content);
    let o = 4;
    let len = 0;
    // QUIC-style variable-length integer (RFC 9000 §16), as MLS encodes vector lengths.
    const prefix = b[o] >> 6;
    const n = 1 << prefix;
    len = b[o] & 0x3f;
    for (let i = 1; i < n; i++) len = len * 256 + b[o + i];
    o += n + len;
    let e = 0;
    for (let i = 0; i < 8; i++) e = e * 256 + b[o + i];
    return Number.isSafeInteger(e) ? e : undefined;
  } catch {
    return undefined;
  }
}

export class E2EEClient {
  private vault!: Promise<Vault>;
  private chain: Promise<unknown> = Promise.resolve();
  private identity?: DeviceIdentity;
  private packages: OwnKeyPackage[] = [];
  private states = new Map<string, ClientState>(); // group id → state
  private joinedAt = new Map<string, number>(); // group id → the epoch this device joined in (0: created it)
  /** Per conversation: message id → the epoch it was sent in (for the "keys rotated" lines). */
  readonly epochs = new Map<string, Map<string, number>>();
  private texts = new Map<string, Readable>(); // message id or `n:<nonce>` → what it says
  private listeners = new Set<() => void>();
  private lastTopUp = 0;
  /** This browser was removed from the user's devices (here or elsewhere): it reads and sends nothing new. */
  removed = false;
  /** Bumped on every change the UI shows (group state, new plaintexts). */
  version = 0;

  constructor(
    readonly userId: string,
    private readonly token: () => Promise<string | null>,
    private readonly base = '/keys',
    store = indexedDbStore(`parley-e2ee-${userId}`),
  ) {
    this.vault = Vault.open(store);
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
  private changed() {
    this.version++;
    for (const f of this.listeners) f();
  }

  /** Runs f after every earlier operation (MLS state is a chain). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.chain.then(f, f);
    this.chain = run.catch(() => undefined);
    return run;
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const token = await this.token();
    const res = await fetch(this.base + path, {
      method,
      headers: { Authorization: `Bearer ${token ?? ''}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) {
      const e = (json.error ?? {}) as { code?: string; message?: string };
      throw new KeysError(res.status, e.code ?? 'error', e.message ?? `key service: ${res.status}`);
    }
    return json as T;
  }

  // ------------------------------------------------------------------------------------------------ device

  get deviceId(): string | undefined {
    return this.identity?.deviceId;
  }

  /** Loads this browser's device, or registers one (signature key, key packages) on first use or after removal. */
  ensureDevice(): Promise<DeviceIdentity> {
    return this.serial(() => this.loadOrRegister());
  }

  private async loadOrRegister(): Promise<DeviceIdentity> {
    if (this.removed) throw new KeysError(409, 'device_removed', 'This browser was removed from your devices.');
    if (this.identity) return this.identity;
    const v = await this.vault;
    if (await v.get('removed')) {
      await this.forget(); // also wipes what a browser removed before wiping existed still kept
      this.changed();
      throw new KeysError(409, 'device_removed', 'This browser was removed from your devices.');
    }
    const saved = await v.get('device');
    if (saved) {
      const d = JSON.parse(dec.decode(saved)) as { deviceId: string; publicKey: string; signKey: string; packages: { kp: string; priv: [string, string, string] }[] };
      const { devices } = await this.call<{ devices: KeysDevice[] }>('GET', '/v1/devices');
      if (devices.some((x) => x.id === d.deviceId)) {
        this.identity = { userId: this.userId, deviceId: d.deviceId, signatureKey: { publicKey: unb64(d.publicKey), signKey: unb64(d.signKey) } };
        this.packages = d.packages.map((p) => ({
          public: decodeKeyPackage(unb64(p.kp)),
          encoded: unb64(p.kp),
          private: { initPrivateKey: unb64(p.priv[0]), hpkePrivateKey: unb64(p.priv[1]), signaturePrivateKey: unb64(p.priv[2]) },
        }));
        await this.topUp(); // others claimed some while this browser was closed
        return this.identity;
      }
      // Removed from another browser: say so (and keep it so) instead of quietly coming back as a new device;
      // setUpAgain() makes a new one on the user's request.
      await this.markRemoved();
      throw new KeysError(409, 'device_removed', 'This browser was removed from your devices.');
    }
    const sig = await newSignatureKey();
    const name = deviceName();
    const r = await this.call<{ device: KeysDevice }>('POST', '/v1/devices', { name, signatureKey: b64(sig.publicKey) });
    this.identity = { userId: this.userId, deviceId: r.device.id, signatureKey: sig };
    this.packages = [];
    for (let i = 0; i <= KEY_PACKAGES; i++) this.packages.push(await newKeyPackage(this.identity));
    await this.saveDevice();
    await this.call('POST', `/v1/devices/${r.device.id}/key-packages`, {
      keyPackages: this.packages.slice(0, KEY_PACKAGES).map((p) => b64(p.encoded)),
      lastResort: b64(this.packages[KEY_PACKAGES].encoded),
    });
    return this.identity;
  }

  /**
   * Publishes new one-time key packages when fewer than KEY_PACKAGES_LOW are left on the key service (each one
   * claimed adds this device to a conversation once; the last-resort one is kept and not republished). The
   * private halves are saved before the public ones go out, so a Welcome for any of them can be joined.
   */
  private async topUp(): Promise<number> {
    const me = this.identity!;
    this.lastTopUp = Date.now();
    const { keyPackages: left } = await this.call<{ keyPackages: number }>('GET', `/v1/devices/${me.deviceId}/key-packages/count`);
    const n = topUpCount(left, KEY_PACKAGES_LOW, KEY_PACKAGES);
    if (n === 0) return 0;
    const fresh: OwnKeyPackage[] = [];
    for (let i = 0; i < n; i++) fresh.push(await newKeyPackage(me));
    this.packages.splice(Math.max(0, this.packages.length - 1), 0, ...fresh); // the last-resort one stays last
    await this.saveDevice();
    await this.call('POST', `/v1/devices/${me.deviceId}/key-packages`, { keyPackages: fresh.map((p) => b64(p.encoded)) });
    return n;
  }

  /** The key service no longer knows this device: forget what it read, remember that, and show it. */
  private async markRemoved() {
    if (!this.removed) await this.forget();
    this.changed();
  }

  /**
   * A removed device forgets everything it held: the vault is wiped (MLS group states, private key packages,
   * the signature key and every decrypted text, under a replaced device key), and so are the copies in memory
   * and the chat screen's, so the messages it could read before now say it was removed, also after a reload.
   * Only the mark that it was removed is kept (so it does not quietly register again).
   */
  private async forget() {
    this.removed = true;
    const v = await this.vault;
    await v.wipe();
    await v.put('removed', enc.encode('1'));
    this.identity = undefined;
    this.packages = [];
    this.states.clear();
    this.joinedAt.clear();
    this.texts.clear();
    clearPlaintexts();
    forgetFiles(); // the keys of files it read or uploaded
  }

  /** After a removal: this browser becomes a new device (others add it to their conversations again). */
  setUpAgain(): Promise<DeviceIdentity> {
    return this.serial(async () => {
      const v = await this.vault;
      await v.delete('removed');
      await v.delete('device');
      this.removed = false;
      this.identity = undefined;
      this.states.clear();
      const me = await this.loadOrRegister();
      this.changed();
      return me;
    });
  }

  private async saveDevice() {
    const id = this.identity!;
    const data = {
      deviceId: id.deviceId,
      publicKey: b64(id.signatureKey.publicKey),
      signKey: b64(id.signatureKey.signKey),
      packages: this.packages.map((p) => ({ kp: b64(p.encoded), priv: [b64(p.private.initPrivateKey), b64(p.private.hpkePrivateKey), b64(p.private.signaturePrivateKey)] })),
    };
    await (await this.vault).put('device', enc.encode(JSON.stringify(data)));
  }

  devices(userId?: string): Promise<{ devices: KeysDevice[] }> {
    return this.call('GET', userId ? `/v1/users/${userId}/devices` : '/v1/devices');
  }

  /** Removes one of my devices; every group it was in owes a Commit that removes it (sync() makes it). */
  async removeDevice(id: string): Promise<void> {
    await this.call('DELETE', `/v1/devices/${id}`);
    this.changed();
  }

  // ------------------------------------------------------------------------------------------------- groups

  /** The conversation's group as the key service knows it (undefined: not encrypted). */
  async groupOf(channelId: string): Promise<KeysGroup | undefined> {
    const { groups } = await this.call<{ groups: KeysGroup[] }>('GET', `/v1/groups?channelId=${encodeURIComponent(channelId)}`);
    return groups[0];
  }

  /** Turns encryption on: a new group with this device, then every device of every other participant. */
  enable(channelId: string, others: string[]): Promise<void> {
    return this.serial(async () => {
      const me = await this.loadOrRegister();
      const existing = await this.groupOf(channelId);
      if (existing) return;
      const claims: { deviceId: string; data: string }[] = [];
      for (const u of others) {
        const { keyPackages } = await this.call<{ keyPackages: { deviceId: string; data: string }[] }>('POST', `/v1/users/${u}/key-packages/claim`, { deviceId: me.deviceId });
        if (keyPackages.length === 0) throw new KeysError(409, 'no_devices', 'The other person has not opened Parley since encryption became available; ask them to open this conversation once, then try again.');
        claims.push(...keyPackages);
      }
      let state = await newGroup(this.packages.shift()!);
      await this.saveDevice();
      await this.call('POST', '/v1/groups', { groupId: groupIdOf(state), deviceId: me.deviceId, channelId });
      state = await this.commitTo(state, claims, []);
      this.joinedAt.set(groupIdOf(state), 0);
      await this.saveGroup(state);
      localStorage.setItem(markKey(channelId), '1');
      this.changed();
    });
  }

  private async commitTo(state: ClientState, adds: { deviceId: string; data: string }[], removes: string[]): Promise<ClientState> {
    const leaves = removes.map((d) => members(state).find((m) => m.deviceId === d)!.leaf);
    const c = await commit(state, adds.map((a) => unb64(a.data)), leaves);
    await this.call('POST', `/v1/groups/${groupIdOf(state)}/commits`, {
      deviceId: this.identity!.deviceId,
      epoch: epochOf(state),
      commit: b64(c.commit),
      adds: adds.map((a) => a.deviceId),
      removes,
      welcome: c.welcome ? b64(c.welcome) : undefined,
    });
    return c.state;
  }

  /**
   * Inside serial(): moves an overdue group to a new epoch — removing the devices their owners removed (a
   * membership rotation needs that), else an empty Commit. Someone else's Commit first is as good: catch up.
   */
  private async rotate(state: ClientState, groupId: string): Promise<ClientState> {
    const { group } = await this.call<{ group: KeysGroup }>('GET', `/v1/groups/${groupId}`);
    const inGroup = new Set(members(state).map((m) => m.deviceId));
    const removes = (group.members ?? []).filter((m) => m.removed && inGroup.has(m.deviceId) && m.deviceId !== this.identity!.deviceId).map((m) => m.deviceId);
    try {
      state = await this.commitTo(state, [], removes);
    } catch (e) {
      if (!(e instanceof KeysError && e.code === 'stale_epoch')) throw e;
      state = await this.catchUp(state);
    }
    await this.saveGroup(state);
    this.changed();
    return state;
  }

  private async saveGroup(state: ClientState) {
    const id = groupIdOf(state);
    this.states.set(id, state);
    const meta = { joinedAt: this.joinedAt.get(id) ?? 0 };
    const v = await this.vault;
    await v.put('group:' + id, saveState(state));
    await v.put('groupmeta:' + id, enc.encode(JSON.stringify(meta)));
  }

  private async loadGroup(id: string): Promise<ClientState | undefined> {
    const have = this.states.get(id);
    if (have) return have;
    const v = await this.vault;
    const b = await v.get('group:' + id);
    if (!b) return undefined;
    const state = loadState(b);
    const meta = await v.get('groupmeta:' + id);
    this.joinedAt.set(id, meta ? (JSON.parse(dec.decode(meta)) as { joinedAt: number }).joinedAt : 0);
    this.states.set(id, state);
    return state;
  }

  /**
   * Brings this device's view of a conversation up to date: joins from a waiting Welcome, applies the Commits
   * others made, adds devices the participants gained, removes devices they removed, and rotates the keys when
   * the service says a rotation is due. Returns the group (undefined: the conversation is not encrypted).
   */
  sync(channelId: string, participants: string[]): Promise<{ group?: KeysGroup; state?: ClientState }> {
    return this.serial(async () => {
      const me = await this.loadOrRegister();
      let group = await this.groupOf(channelId);
      if (!group) return {};
      localStorage.setItem(markKey(channelId), '1');
      let joined: boolean;
      try {
        joined = await this.acceptWelcomes();
      } catch (e) {
        // The service no longer knows this device: removed from another browser (e2ee:sync says so at once).
        if (e instanceof KeysError && e.status === 404) {
          await this.markRemoved();
          return { group };
        }
        throw e;
      }
      if (joined || Date.now() - this.lastTopUp > TOP_UP_CHECK_MS) await this.topUp();
      let state = await this.loadGroup(group.id);
      if (!state) return { group }; // not a member (yet): another device of mine or the others will add this one
      state = await this.catchUp(state);
      group = (await this.call<{ group: KeysGroup }>('GET', `/v1/groups/${group.id}`)).group; // the list has no members
      // Devices to add (participants' devices missing from the group) and to remove (removed from their owners).
      const inGroup = new Set(members(state).map((m) => m.deviceId));
      const removes = (group.members ?? []).filter((m) => m.removed && inGroup.has(m.deviceId)).map((m) => m.deviceId);
      const adds: { deviceId: string; data: string }[] = [];
      for (const u of participants) {
        const { devices } = await this.devices(u);
        if (devices.some((d) => !inGroup.has(d.id) && d.id !== me.deviceId)) {
          const { keyPackages } = await this.call<{ keyPackages: { deviceId: string; data: string }[] }>('POST', `/v1/users/${u}/key-packages/claim`, { deviceId: me.deviceId });
          adds.push(...keyPackages.filter((k) => !inGroup.has(k.deviceId)));
        }
      }
      if (adds.length || removes.length || group.rotationDue) {
        try {
          state = await this.commitTo(state, adds, removes);
        } catch (e) {
          if (!(e instanceof KeysError && e.code === 'stale_epoch')) throw e;
          state = await this.catchUp(state); // someone else committed first: the next sync looks again
        }
        group = (await this.groupOf(channelId)) ?? group;
      }
      await this.saveGroup(state);
      this.changed();
      return { group, state };
    });
  }

  /** Joins the groups of waiting Welcomes; true when one used a key package. */
  private async acceptWelcomes(): Promise<boolean> {
    const me = this.identity!;
    const { welcomes } = await this.call<{ welcomes: { id: string; groupId: string; data: string }[] }>('GET', `/v1/devices/${me.deviceId}/welcomes`);
    let joined = false;
    for (const w of welcomes) {
      if (!(await this.loadGroup(w.groupId))) {
        try {
          const { state, used } = await join(unb64(w.data), this.packages);
          if (used !== this.packages[this.packages.length - 1]) this.packages = this.packages.filter((p) => p !== used);
          this.joinedAt.set(groupIdOf(state), epochOf(state));
          await this.saveDevice();
          await this.saveGroup(state);
          joined = true;
        } catch {
          // A Welcome for key packages this browser no longer has: nothing to join with.
        }
      }
      await this.call('DELETE', `/v1/devices/${me.deviceId}/welcomes/${w.id}`);
    }
    return joined;
  }

  private async catchUp(state: ClientState): Promise<ClientState> {
    for (;;) {
      const { commits } = await this.call<{ commits: { epoch: number; data: string }[] }>('GET', `/v1/groups/${groupIdOf(state)}/commits?since=${epochOf(state)}&deviceId=${this.identity!.deviceId}`);
      const next = commits.filter((c) => c.epoch >= epochOf(state));
      if (next.length === 0) return state;
      for (const c of next) {
        if (c.epoch !== epochOf(state)) continue;
        state = (await receive(state, unb64(c.data))).state;
      }
      await this.saveGroup(state);
    }
  }

  /** The group's members, from the ratchet tree this browser verified (not from the service). */
  async roster(channelId: string): Promise<{ userId: string; deviceId: string; fingerprint: string }[] | undefined> {
    const g = await this.groupOf(channelId);
    const state = g && (await this.serial(() => this.loadGroup(g.id)));
    if (!state) return undefined;
    return Promise.all(members(state).map(async (m) => ({ userId: m.userId, deviceId: m.deviceId, fingerprint: await userFingerprint(m.userId, [m.signatureKey]) })));
  }

  /** The conversation's safety number (1:1): both users' devices as this browser's ratchet tree has them. */
  async safety(channelId: string, other: string): Promise<string | undefined> {
    const g = await this.groupOf(channelId);
    const state = g && (await this.serial(() => this.loadGroup(g.id)));
    if (!state) return undefined;
    const keysOf = (u: string) => members(state).filter((m) => m.userId === u).map((m) => m.signatureKey);
    return safetyNumber({ userId: this.userId, keys: keysOf(this.userId) }, { userId: other, keys: keysOf(other) });
  }

  // ------------------------------------------------------------------------------------------------ messages

  /**
   * Encrypts a message of an encrypted conversation. The chat server asks the key service (the rotation policy)
   * before storing it; `refused` is its answer to the last ciphertext of this nonce (rotation_overdue or
   * stale_epoch): then a new one is made in the group's next epoch (rotating or catching up first), else a retry
   * gets the same ciphertext.
   */
  seal(channelId: string, nonce: string, text: string, refused?: Refusal): Promise<string> {
    return this.serial(async () => {
      const cached = this.texts.get('c:' + nonce);
      if (cached?.kind === 'text' && !refused) return cached.text; // a retry of the same message: the same ciphertext
      const { ct, epoch } = await this.encryptFor(channelId, text);
      this.texts.set('c:' + nonce, { kind: 'text', text: ct });
      await this.remember('n:' + nonce, { kind: 'text', text, epoch });
      return ct;
    });
  }

  /** Encrypts the new text of an edit (a new MLS message; remembered by its ciphertext, since MLS cannot decrypt own messages). */
  sealEdit(channelId: string, text: string): Promise<string> {
    return this.serial(async () => (await this.encryptFor(channelId, text)).ct);
  }

  /** Inside serial(): the ciphertext of text in the conversation's group, remembered under the ciphertext. */
  private async encryptFor(channelId: string, text: string): Promise<{ ct: string; epoch: number }> {
    await this.loadOrRegister();
    const group = await this.groupOf(channelId);
    if (!group) throw new KeysError(409, 'not_encrypted', 'Encryption is not set up in this conversation yet.');
    let state = await this.loadGroup(group.id);
    if (!state) {
      await this.acceptWelcomes(); // a browser that never opened the DM may have been added meanwhile
      state = await this.loadGroup(group.id);
    }
    if (!state) throw new KeysError(409, 'not_member', 'This device has not been added to the conversation yet.');
    // The chat server asks the key service before storing the message (it counts it then; asking here too would
    // count it twice). Sealing in the group's current epoch and rotating first when the service would refuse it
    // spares a refused send; a refusal that still comes (a race) is answered by the outbox with seal(…, refused).
    state = await this.catchUp(state);
    if (group.overdue) state = await this.rotate(state, group.id);
    const m = await encrypt(state, text);
    await this.saveGroup(m.state);
    const ct = b64(m.ciphertext);
    await this.remember('x:' + ciphertextKey(ct), { kind: 'text', text, epoch: epochOf(m.state) }, ct);
    return { ct, epoch: epochOf(m.state) };
  }

  /** Keeps what a message says (durably when it is text); with its ciphertext, also for the chat screen. */
  private async remember(key: string, r: Readable, ciphertext?: string) {
    this.texts.set(key, r);
    if (ciphertext && r.kind === 'text') setPlaintext(ciphertext, envelopeText(r.text));
    if (r.kind === 'text') await (await this.vault).put('pt:' + key, enc.encode(JSON.stringify(r)));
    this.changed();
  }

  private async recall(key: string): Promise<Readable | undefined> {
    const have = this.texts.get(key);
    if (have) return have;
    const b = await (await this.vault).get('pt:' + key);
    if (!b) return undefined;
    const r = JSON.parse(dec.decode(b)) as Readable;
    this.texts.set(key, r);
    return r;
  }

  /**
   * Known text of a message without waiting (render path); undefined until read() finished. By its ciphertext
   * first; an edited message only by it (its id and nonce name the text before the edit).
   */
  peek(m: { id: string | null; nonce: string; content?: string; editedAt?: string | null }): Readable | undefined {
    const byCiphertext = m.content ? this.texts.get('x:' + ciphertextKey(m.content)) : undefined;
    if (byCiphertext || m.editedAt) return byCiphertext;
    return (m.id ? this.texts.get(m.id) : undefined) ?? this.texts.get('n:' + m.nonce);
  }

  /**
   * What an encrypted message says: from the cache (own messages by nonce, others by id: an MLS message can be
   * decrypted once), else decrypted now, after the Commits before it.
   */
  read(channelId: string, m: { id: string; nonce: string; content: string; editedAt?: string | null }): Promise<Readable> {
    return this.serial(async () => {
      if (!this.removed && (await (await this.vault).get('removed'))) await this.forget(); // removed in an earlier page
      if (this.removed) {
        // A removed browser forgot what it read and has no keys for the rest.
        const r: Readable = { kind: 'removed' };
        await this.remember(m.id, r); // remember() tells the screen, which draws from peek()
        return r;
      }
      const x = 'x:' + ciphertextKey(m.content);
      const known = (await this.recall(x)) ?? (m.editedAt ? undefined : ((await this.recall(m.id)) ?? (await this.recall('n:' + m.nonce))));
      if (known) {
        if (known.kind === 'text') setPlaintext(m.content, envelopeText(known.text));
        this.changed(); // recalled from the vault (after a reload): else the row stays at "Decrypting…"
        return known;
      }
      await this.loadOrRegister();
      const group = await this.groupOf(channelId);
      let state = group && (await this.loadGroup(group.id));
      const epoch = epochOfCiphertext(m.content);
      const joined = group ? (this.joinedAt.get(group.id) ?? 0) : 0;
      if (!state || (epoch !== undefined && epoch < joined)) {
        // Sent before this device was in the group: MLS gives a new member no keys of earlier epochs.
        if (!state) return { kind: 'undecryptable', reason: 'this device has not been added to the conversation yet' }; // not cached: asked again once it joins
        const r: Readable = { kind: 'before-join' };
        await this.remember(m.id, r);
        await this.remember(x, r); // by ciphertext too: an edited message is looked up only by it
        return r;
      }
      try {
        state = await this.catchUp(state);
        const out = await receive(state, unb64(m.content));
        if (out.kind !== 'message') throw new Error('not an application message');
        await this.saveGroup(out.state);
        const r: Readable = { kind: 'text', text: out.text, epoch: epochOfCiphertext(m.content) };
        await this.remember(m.id, r);
        await this.remember(x, r, m.content);
        return r;
      } catch (e) {
        // Removed meanwhile? (The Commit that removed this device is why nothing after it decrypts.)
        const mine = await this.devices().catch(() => undefined);
        if (mine && !mine.devices.some((d) => d.id === this.identity?.deviceId)) {
          await this.markRemoved();
          const r: Readable = { kind: 'removed' };
          await this.remember(m.id, r);
          return r;
        }
        const r: Readable = { kind: 'undecryptable', reason: e instanceof Error ? e.message : String(e) };
        await this.remember(m.id, r);
        await this.remember(x, r); // by ciphertext too: an edited message is looked up only by it
        return r;
      }
    });
  }
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Windows/.test(ua) ? 'Windows' : /Mac OS/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : '';
  return `${browser}${os ? ' on ' + os : ''}`.slice(0, 64);
}

let shared: { userId: string; client: E2EEClient } | undefined;

/** The page's one client for the signed-in user (a new one after a user switch). */
export function clientFor(userId: string, token: () => Promise<string | null>): E2EEClient {
  if (shared?.userId !== userId) shared = { userId, client: new E2EEClient(userId, token) };
  return shared.client;
}

/** The client, once the encrypted-DM UI made one (sealing a send waits for it). */
export function currentClient(): E2EEClient | undefined {
  return shared?.client;
}
