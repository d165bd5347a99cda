import { describe, expect, it } from 'vitest';
import type { Ack, Message, SendMessagePayload } from '../api/types';
import { msg } from '../test/fixtures';
import { Outbox, SendRefused, type OutboxDeps } from './outbox';

type Answer = Ack<{ message: Message }> | 'timeout' | 'hang';

/** An outbox over a scripted server: `answers` are used in order, then every send is stored. */
function harness(opts: { connected?: boolean; answers?: Answer[]; deps?: Partial<OutboxDeps> } = {}) {
  let connected = opts.connected ?? true;
  const answers = [...(opts.answers ?? [])];
  const contents = new Map<string, string>();
  const emitted: SendMessagePayload[] = [];
  const sent: { channelId: string; id: string; nonce?: string }[] = [];
  const failed: { nonce: string; error: string }[] = [];
  const waits: number[] = [];
  let nextId = 100;
  const box = new Outbox({
    emit: async (p) => {
      emitted.push(p);
      const a = answers.shift();
      if (a === 'timeout') throw new Error('operation has timed out');
      if (a === 'hang') return new Promise(() => undefined);
      return a ?? { ok: true, message: msg(String(nextId++), { channelId: p.channelId, content: p.content, nonce: p.nonce }) };
    },
    connected: () => connected,
    content: (_c, nonce) => contents.get(nonce),
    onSent: (channelId, m) => {
      contents.delete(m.nonce!);
      sent.push({ channelId, id: m.id, nonce: m.nonce });
    },
    onFailed: (_c, nonce, error) => {
      contents.delete(nonce);
      failed.push({ nonce, error });
    },
    wait: async (ms) => void waits.push(ms),
    ...opts.deps,
  });
  const add = (nonce: string, channelId = 'c1') => {
    contents.set(nonce, `text ${nonce}`);
    box.enqueue(channelId, nonce);
  };
  return {
    box,
    add,
    emitted,
    sent,
    failed,
    waits,
    contents,
    setConnected: (v: boolean) => (connected = v),
  };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
};

describe('Outbox', () => {
  it('sends at once when connected, in order, one at a time', async () => {
    const h = harness();
    h.add('n1');
    h.add('n2');
    h.add('n3', 'c2');
    // Only the first is in flight until it is acknowledged.
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1']);
    await settle();
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1', 'n2', 'n3']);
    expect(h.sent.map((s) => [s.channelId, s.nonce])).toEqual([
      ['c1', 'n1'],
      ['c1', 'n2'],
      ['c2', 'n3'],
    ]);
    expect(h.box.waiting).toEqual([]);
  });

  it('while offline nothing is sent and nothing fails, however long; on reconnect all go in order with their nonces', async () => {
    const h = harness({ connected: false });
    h.add('n1');
    h.add('n2');
    await settle();
    expect(h.emitted).toEqual([]);
    expect(h.failed).toEqual([]);
    expect(h.box.waiting).toEqual(['n1', 'n2']);
    h.setConnected(true);
    h.box.resume();
    await settle();
    expect(h.sent.map((s) => s.nonce)).toEqual(['n1', 'n2']);
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1', 'n2']);
  });

  it('a timeout or dropped connection keeps the message queued and retries it with the same nonce (never gives up)', async () => {
    const answers: Answer[] = Array.from({ length: 8 }, () => 'timeout' as const);
    const h = harness({ answers });
    h.add('n1');
    h.add('n2');
    await settle();
    // Eight timeouts in a row (more than the old limit of three attempts): still not failed, then stored.
    expect(h.failed).toEqual([]);
    expect(h.emitted.map((p) => p.nonce)).toEqual([...Array(9).fill('n1'), 'n2']);
    expect(h.sent.map((s) => s.nonce)).toEqual(['n1', 'n2']);
    expect(h.waits).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  it('stops at a disconnect mid-send and goes on from the same message on resume()', async () => {
    const h = harness({ answers: ['timeout'] });
    h.add('n1');
    h.add('n2');
    h.setConnected(false); // the connection dropped while n1 was in flight
    await settle();
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1']);
    expect(h.box.waiting).toEqual(['n1', 'n2']);
    h.setConnected(true);
    h.box.resume();
    await settle();
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1', 'n1', 'n2']);
    expect(h.sent.map((s) => s.nonce)).toEqual(['n1', 'n2']);
  });

  it('retryable refusals (rate limit, unavailable) wait as told and try again', async () => {
    const h = harness({
      answers: [
        { ok: false, error: { code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 1200 } },
        { ok: false, error: { code: 'unavailable', message: 'restarting', retryable: true } },
      ],
    });
    h.add('n1');
    await settle();
    expect(h.waits).toEqual([1200, 1000]);
    expect(h.sent.map((s) => s.nonce)).toEqual(['n1']);
    expect(h.failed).toEqual([]);
  });

  it('a real refusal fails that message only (retry is up to the user); the next ones still go', async () => {
    const h = harness({ answers: [{ ok: false, error: { code: 'invalid_input', message: 'Message is too long.', retryable: false } }] });
    h.add('n1');
    h.add('n2');
    await settle();
    expect(h.failed).toEqual([{ nonce: 'n1', error: 'Message is too long.' }]);
    expect(h.sent.map((s) => s.nonce)).toEqual(['n2']);
    // The user retries: it joins the queue again with the same nonce.
    h.contents.set('n1', 'text n1');
    h.box.enqueue('c1', 'n1');
    await settle();
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1', 'n2', 'n1']);
    expect(h.sent.map((s) => s.nonce)).toEqual(['n2', 'n1']);
  });

  it('skips messages discarded or already seen stored (catch-up) before their turn; pause() holds sends', async () => {
    const h = harness({ connected: false });
    h.add('n1');
    h.add('n2');
    h.add('n3');
    h.contents.delete('n2'); // catch-up found it stored (its ack had been lost)
    h.setConnected(true);
    h.box.pause();
    h.box.enqueue('c1', 'n1'); // no double entry, and paused: nothing goes yet
    await settle();
    expect(h.emitted).toEqual([]);
    h.box.resume();
    await settle();
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1', 'n3']);
  });

  it('stop() drops the queue', async () => {
    const h = harness({ answers: ['hang'] });
    h.add('n1');
    h.add('n2');
    h.box.stop();
    await settle();
    expect(h.box.waiting).toEqual([]);
    expect(h.emitted.map((p) => p.nonce)).toEqual(['n1']);
  });

  describe('encrypted DMs', () => {
    const refusal: Answer = { ok: false, error: { code: 'encryption_required', message: 'this conversation is end-to-end encrypted', retryable: false } };
    const sealer = (log: string[]) => async (p: SendMessagePayload): Promise<SendMessagePayload> => {
      log.push(p.nonce);
      if (p.attachments?.length) throw new SendRefused('Files cannot be sent in an encrypted conversation yet.');
      return { channelId: p.channelId, nonce: p.nonce, content: btoa('sealed ' + p.content), encrypted: true, ...(p.replyTo ? { replyTo: p.replyTo } : {}) };
    };

    it('seals and sends again at once with the same nonce when the server says encryption_required', async () => {
      const sealed: string[] = [];
      const told: string[] = [];
      const h = harness({ answers: [refusal], deps: { seal: sealer(sealed), encrypted: () => false, onEncryptionRequired: (c) => told.push(c) } });
      h.add('n1');
      await settle();
      expect(h.emitted.map((p) => [p.nonce, !!p.encrypted])).toEqual([
        ['n1', false],
        ['n1', true],
      ]);
      expect(h.emitted[1].content).toBe(btoa('sealed text n1'));
      expect(sealed).toEqual(['n1']);
      expect(told).toEqual(['c1']);
      expect(h.sent.map((s) => s.nonce)).toEqual(['n1']); // stored once
      expect(h.failed).toEqual([]);
      expect(h.waits).toEqual([]); // no backoff: the refusal stored nothing
    });

    it('seals from the first attempt in a DM the server marked encrypted, keeping the reply', async () => {
      const sealed: string[] = [];
      const h = harness({ deps: { seal: sealer(sealed), encrypted: (c) => c === 'dm', replyTo: () => 'm9' } });
      h.add('n1', 'dm');
      h.add('n2', 'text');
      await settle();
      expect(h.emitted.map((p) => [p.nonce, !!p.encrypted, p.replyTo])).toEqual([
        ['n1', true, 'm9'],
        ['n2', false, 'm9'],
      ]);
      expect(sealed).toEqual(['n1']);
    });

    it('fails a send that can never be sealed (files) without retrying it', async () => {
      const h = harness({ deps: { seal: sealer([]), encrypted: () => true, attachments: () => ['f1'] } });
      h.add('n1');
      await settle();
      expect(h.emitted).toEqual([]);
      expect(h.failed).toEqual([{ nonce: 'n1', error: 'Files cannot be sent in an encrypted conversation yet.' }]);
      expect(h.box.waiting).toEqual([]);
    });

    it('retries when sealing is not possible yet (this device not yet added), then sends once', async () => {
      let ready = false;
      const h = harness({
        deps: {
          encrypted: () => true,
          seal: async (p) => {
            if (!ready) {
              ready = true;
              throw new Error('This device has not been added to the conversation yet.');
            }
            return { ...p, content: 'Y2lwaGVy', encrypted: true };
          },
        },
      });
      h.add('n1');
      await settle();
      expect(h.waits.length).toBe(1);
      expect(h.emitted.map((p) => [p.nonce, p.content, p.encrypted])).toEqual([['n1', 'Y2lwaGVy', true]]);
      expect(h.sent.map((s) => s.nonce)).toEqual(['n1']);
    });

    // The server asks the key service before storing a sealed send; its policy refusals store nothing and are
    // answered by sealing the same nonce anew (the sealer rotates or catches up first).
    const policy = (code: 'rotation_overdue' | 'stale_epoch'): Answer => ({ ok: false, error: { code, message: code, retryable: false } });
    const epochSealer = (log: (string | undefined)[]) => {
      let epoch = 0;
      return async (p: SendMessagePayload, refused?: 'rotation_overdue' | 'stale_epoch'): Promise<SendMessagePayload> => {
        log.push(refused);
        if (refused) epoch++; // a rotation or a catch-up: the next epoch
        return { channelId: p.channelId, nonce: p.nonce, content: btoa(`epoch ${epoch} ${p.content}`), encrypted: true };
      };
    };

    it.each(['rotation_overdue', 'stale_epoch'] as const)('on %s seals the same nonce anew and sends it at once, stored once', async (code) => {
      const asked: (string | undefined)[] = [];
      const h = harness({ answers: [policy(code)], deps: { seal: epochSealer(asked), encrypted: () => true } });
      h.add('n1');
      h.add('n2');
      await settle();
      expect(h.emitted.map((p) => [p.nonce, atob(p.content)])).toEqual([
        ['n1', 'epoch 0 text n1'],
        ['n1', 'epoch 1 text n1'],
        ['n2', 'epoch 1 text n2'],
      ]);
      expect(asked).toEqual([undefined, code, undefined]); // the refusal reaches the sealer once, then is spent
      expect(h.sent.map((s) => s.nonce)).toEqual(['n1', 'n2']);
      expect(h.failed).toEqual([]);
      expect(h.waits).toEqual([]);
    });

    it('keeps a refused send queued (with backoff) when refusals go on, never failing it', async () => {
      const asked: (string | undefined)[] = [];
      const h = harness({ answers: [policy('rotation_overdue'), policy('stale_epoch'), policy('rotation_overdue'), 'timeout'], deps: { seal: epochSealer(asked), encrypted: () => true } });
      h.add('n1');
      await settle();
      // Twice at once, the third after a backoff; a timeout then retries with the same ciphertext (no refusal).
      expect(asked).toEqual([undefined, 'rotation_overdue', 'stale_epoch', 'rotation_overdue', undefined]);
      expect(h.waits.length).toBe(2);
      expect(h.emitted.length).toBe(5);
      expect(h.emitted[4].content).toBe(h.emitted[3].content);
      expect(h.sent.map((s) => s.nonce)).toEqual(['n1']);
      expect(h.failed).toEqual([]);
    });

    it('does not loop when the server refuses the sealed send too', async () => {
      const h = harness({ answers: [refusal, refusal], deps: { seal: sealer([]), encrypted: () => false } });
      h.add('n1');
      await settle();
      expect(h.emitted.length).toBe(2);
      expect(h.failed.map((f) => f.nonce)).toEqual(['n1']);
    });
  });
});
