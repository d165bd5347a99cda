// The encrypted-DM UI (issue #19), a lazy chunk with ts-mls (src/components/lazy.tsx): the header's lock or
// "turn on encryption" button, the verification screen (safety number, each device's fingerprint, my devices and
// their removal), and the body of an encrypted message ("keys rotated" lines, the "sent before this device
// joined" state). The chat screen itself only knows `message.encrypted`.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { DMChannel } from '../api/types';
import { displayName, dmOthers, useUser } from '../app/queries';
import { useMe, useServices } from '../app/services';
import type { ChatItem } from '../chat/messageStore';
import { clientFor, epochOfCiphertext, type E2EEClient, type KeysDevice, type KeysGroup } from '../e2ee/client';
import { concerns, SyncLoop, type SyncNotice } from '../e2ee/syncloop';
import { decodeEnvelope, rememberMessageFiles } from '../e2ee/files';
import { EncryptedFiles } from './E2EEFiles';
import { useRealtime } from '../realtime/RealtimeProvider';
import { MessageContent } from './MessageContent';
import { formatStamp } from './MessageItem';
import { useNotify } from './notices';
import { Modal } from './Modal';
import './e2ee.css';

function useClient(): E2EEClient {
  const me = useMe();
  const { auth } = useServices();
  return clientFor(me.id, () => auth.getAccessToken());
}

function useVersion(c: E2EEClient) {
  return useSyncExternalStore(
    useCallback((f) => c.subscribe(f), [c]),
    () => c.version,
  );
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

function LockIcon({ size = 16 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M7 10V7a5 5 0 0 1 10 0v3M5 10h14v11H5z" fill="none" stroke="currentColor" strokeWidth="2" strokeLinejoin="round" />
    </svg>
  );
}

/** The DM header's control: a lock on an encrypted conversation (opens verification), else the opt-in. */
export function E2EEControls({ channel }: { channel: DMChannel }) {
  const client = useClient();
  const me = useMe();
  const notify = useNotify();
  const { api } = useServices();
  const rt = useRealtime();
  // The server's flag is the truth for everyone in the DM; this browser's MLS group only makes it usable here.
  const turnOn = useCallback(async () => {
    await api.encryptDM(channel.id);
    rt.e2ee.markEncrypted(channel.id);
  }, [api, rt, channel.id]);
  const others = dmOthers(channel, me.id);
  const [group, setGroup] = useState<KeysGroup | null | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState(false);
  const [unavailable, setUnavailable] = useState<string | null>(null);
  const groupId = useRef<string | undefined>(undefined);
  useVersion(client);

  // Syncs when the server pushes e2ee:sync for this conversation (or for a device), on every reconnect, and
  // otherwise on the slow fallback poll (e2ee/syncloop.ts).
  useEffect(() => {
    let stop = false;
    const participants = (channel.participants ?? []).map((u) => u.id);
    const loop = new SyncLoop(async () => {
      try {
        const r = await client.sync(channel.id, participants);
        // An MLS group without the server's flag: turned on before the flag existed, or the PUT failed. Set it.
        if (r.group && !channel.encrypted) await turnOn();
        if (!stop) {
          groupId.current = r.group?.id;
          setGroup(r.group ?? null);
          setUnavailable(null);
        }
      } catch (e) {
        if (!stop) setUnavailable(errorText(e));
      }
    });
    const onNotice = (n: SyncNotice) => {
      if (concerns(n, groupId.current)) loop.kick();
    };
    let socket: { off: (e: 'e2ee:sync', f: typeof onNotice) => unknown } | undefined;
    rt.sockets.withSocket((s) => {
      if (stop) return;
      s.on('e2ee:sync', onNotice);
      socket = s;
    });
    const offConnect = rt.sockets.onConnect(() => loop.kick()); // notices sent while offline are lost
    loop.kick();
    return () => {
      stop = true;
      loop.stop();
      socket?.off('e2ee:sync', onNotice);
      offConnect();
    };
  }, [client, rt, channel.id, channel.participants, channel.encrypted, turnOn]);

  if (client.removed) {
    return (
      <span className="e2ee-off muted" data-testid="e2ee-removed" title="Removed from your devices on another browser: it cannot read new encrypted messages">
        <LockIcon /> This browser was removed{' '}
        <button
          type="button"
          className="button ghost small"
          data-testid="e2ee-setup-again"
          onClick={() => {
            client
              .setUpAgain()
              .then(() => client.sync(channel.id, (channel.participants ?? []).map((u) => u.id)))
              .catch((e) => notify(errorText(e), 'error'));
          }}
        >
          Set up again
        </button>
      </span>
    );
  }
  if (group === undefined) {
    if (channel.encrypted && !unavailable) {
      return (
        <span className="icon-button e2ee-lock" data-testid="e2ee-lock-pending" title="End-to-end encrypted">
          <LockIcon size={18} />
        </span>
      );
    }
    return unavailable ? (
      <span className="e2ee-off muted" title={unavailable} data-testid="e2ee-unavailable">
        Encryption unavailable
      </span>
    ) : null;
  }
  if (group === null) {
    // 1:1 and group DMs alike. Flag on but no MLS group yet (another client set the flag only): set it up here.
    return (
      <button
        type="button"
        className="button ghost e2ee-enable"
        data-testid="e2ee-enable"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          client
            .enable(
              channel.id,
              others.map((u) => u.id),
            )
            .then(turnOn)
            .then(() => client.sync(channel.id, (channel.participants ?? []).map((u) => u.id)))
            .then((r) => setGroup(r.group ?? null))
            .catch((e) => notify(errorText(e), 'error'))
            .finally(() => setBusy(false));
        }}
        title="Encrypt this conversation end to end: only its members' devices can read new messages"
      >
        <LockIcon /> {busy ? 'Turning on…' : channel.encrypted ? 'Set up encryption' : 'Turn on encryption'}
      </button>
    );
  }
  return (
    <>
      <button type="button" className="icon-button e2ee-lock" data-testid="e2ee-lock" aria-label="End-to-end encrypted: verify" title="End-to-end encrypted. Click to verify safety numbers" onClick={() => setOpen(true)}>
        <LockIcon size={18} />
        {group.rotationDue && <span className="e2ee-due" data-testid="e2ee-rotation-due" title="A key rotation is due" />}
      </button>
      {open && <VerifyModal client={client} channel={channel} group={group} onClose={() => setOpen(false)} />}
    </>
  );
}

function VerifyModal({ client, channel, group, onClose }: { client: E2EEClient; channel: DMChannel; group: KeysGroup; onClose: () => void }) {
  const me = useMe();
  const notify = useNotify();
  const others = dmOthers(channel, me.id);
  const [safety, setSafety] = useState<string | undefined>();
  const [roster, setRoster] = useState<{ userId: string; deviceId: string; fingerprint: string }[]>([]);
  const [mine, setMine] = useState<KeysDevice[]>([]);
  const version = useVersion(client);
  useEffect(() => {
    let stop = false;
    void (async () => {
      try {
        const [s, r, d] = await Promise.all([
          others.length === 1 ? client.safety(channel.id, others[0].id) : Promise.resolve(undefined),
          client.roster(channel.id),
          client.devices(),
        ]);
        if (stop) return;
        setSafety(s);
        setRoster(r ?? []);
        setMine(d.devices);
      } catch (e) {
        if (!stop) notify(errorText(e), 'error');
      }
    })();
    return () => {
      stop = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload on every client change (version)
  }, [client, channel.id, version]);
  const nameOf = (userId: string) => {
    if (userId === me.id) return 'You';
    const u = channel.participants?.find((p) => p.id === userId);
    return u ? displayName(u) : userId;
  };
  return (
    <Modal title="Encryption" onClose={onClose} testId="e2ee-verify">
      <p className="muted">
        Messages here are end-to-end encrypted (MLS): only the devices listed below can read them. Keys rotate at least every{' '}
        {Math.round((group as KeysGroup & { maxAgeSeconds?: number }).maxAgeSeconds ?? 604800) / 86400} days and whenever a device joins or leaves
        (epoch {group.epoch}).
      </p>
      {safety && (
        <section>
          <h3>Safety number</h3>
          <p className="muted">Compare it with {nameOf(others[0].id)} in person or on a call. If it matches, nobody is listening in.</p>
          <code className="e2ee-safety" data-testid="e2ee-safety-number">
            {safety}
          </code>
        </section>
      )}
      <section>
        <h3>Devices in this conversation</h3>
        <ul className="e2ee-devices" data-testid="e2ee-roster">
          {roster.map((m) => (
            <li key={m.deviceId} data-testid="e2ee-roster-device">
              <strong>{nameOf(m.userId)}</strong> · device {m.deviceId}
              {m.deviceId === client.deviceId && ' (this browser)'}
              <code className="e2ee-fingerprint">{m.fingerprint}</code>
            </li>
          ))}
        </ul>
      </section>
      <section>
        <h3>Your devices</h3>
        <ul className="e2ee-devices" data-testid="e2ee-my-devices">
          {mine.map((d) => (
            <li key={d.id} data-testid="e2ee-my-device">
              <strong>{d.name}</strong> · added {new Date(d.createdAt).toLocaleDateString()}
              {d.id === client.deviceId ? (
                ' (this browser)'
              ) : (
                <button
                  type="button"
                  className="button danger small"
                  data-testid="e2ee-remove-device"
                  onClick={() => {
                    if (!window.confirm(`Remove ${d.name}? It will not be able to read new encrypted messages.`)) return;
                    client.removeDevice(d.id).catch((e) => notify(errorText(e), 'error'));
                  }}
                >
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
    </Modal>
  );
}

/** Ids are decimal snowflakes: compare as numbers without BigInt parsing. */
const idLess = (a: string, b: string) => a.length < b.length || (a.length === b.length && a < b);

/** The body of an encrypted message: its text once decrypted, or why it cannot be shown. */
export function EncryptedText({ item }: { item: ChatItem }) {
  const client = useClient();
  const version = useVersion(client);
  const known = client.peek(item);
  // Asked again on every change of the client (a Welcome may have made this device a member meanwhile).
  useEffect(() => {
    if (!known && item.id) void client.read(item.channelId, { id: item.id, nonce: item.nonce, content: item.content, editedAt: item.editedAt });
  }, [client, version, known, item.id, item.channelId, item.nonce, item.content, item.editedAt]);

  // "Keys rotated": this message's epoch is later than the one of the encrypted message before it.
  let rotated = false;
  const epoch = item.id ? epochOfCiphertext(item.content) : undefined;
  if (item.id && epoch !== undefined) {
    let seen = client.epochs.get(item.channelId);
    if (!seen) client.epochs.set(item.channelId, (seen = new Map()));
    seen.set(item.id, epoch);
    let prev: [string, number] | undefined;
    for (const [id, e] of seen) if (idLess(id, item.id) && (!prev || idLess(prev[0], id))) prev = [id, e];
    rotated = prev !== undefined && prev[1] < epoch;
  }
  const line = rotated && (
    <div className="e2ee-system" data-testid="e2ee-keys-rotated">
      <LockIcon size={12} /> Keys rotated
    </div>
  );
  if (!item.id && item.state !== 'sent') return <MessageContent content={item.content} />; // my own, not yet sealed
  if (!known) {
    return (
      <>
        {line}
        <span className="muted e2ee-pending" data-testid="e2ee-decrypting">
          Decrypting…
        </span>
      </>
    );
  }
  if (known.kind === 'text') {
    // A message with files: its text, then the files, decrypted here with the keys it carries.
    const { text, files } = decodeEnvelope(known.text);
    if (item.id) rememberMessageFiles(item.id, files); // an edit seals them again with the new text
    return (
      <>
        {line}
        {(text || !files.length) && (
          <span className="e2ee-text" data-testid="e2ee-text">
            <MessageContent content={text} />
          </span>
        )}
        {files.length > 0 && <EncryptedFiles files={files} />}
      </>
    );
  }
  return (
    <>
      {line}
      <span className="muted e2ee-unreadable" data-testid={`e2ee-${known.kind === 'removed' ? 'removed-message' : known.kind}`} title={known.kind === 'undecryptable' ? known.reason : undefined}>
        <LockIcon size={12} />{' '}
        {known.kind === 'before-join'
          ? 'This message was sent before this device joined the conversation; it cannot be read here.'
          : known.kind === 'removed'
            ? 'This browser was removed from your devices; it cannot read this message.'
            : 'This message could not be decrypted on this device.'}
      </span>
    </>
  );
}

const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });

/** The system line of a `type: "encryption"` message: "🔒 <name> turned on end-to-end encryption." */
export function EncryptionSystemLine({ item }: { item: ChatItem }) {
  const u = useUser(item.senderId);
  const when = new Date(item.timestamp);
  return (
    <div className="message-wrap">
      {item.dayStart && !Number.isNaN(when.getTime()) && (
        <div className="day-divider" role="separator" aria-label={dayFmt.format(when)}>
          <span>{dayFmt.format(when)}</span>
        </div>
      )}
      <div className="system-line" data-testid="encryption-system-line" data-message-id={item.id ?? ''}>
        <span aria-hidden="true">🔒</span> <strong>{displayName(u)}</strong> turned on end-to-end encryption. Only the devices in this
        conversation can read new messages.{' '}
        <time className="message-time" dateTime={item.timestamp}>
          {formatStamp(item.timestamp)}
        </time>
      </div>
    </div>
  );
}
