// The end-to-end encryption hooks of the send path: whether a DM is encrypted (the server's flag, as cached) and
// sealing, by a lazily imported module (e2ee/seal.ts) so the chat screen does not carry the crypto. Syncing on
// e2ee:sync lives with the lazy E2EE panel (components/E2EE.tsx), which uses the shared socket.
import type { QueryClient } from '@tanstack/react-query';
import type { AuthManager } from '../api/auth';
import type { Id, SendMessagePayload } from '../api/types';
import { findChannel, patchAnyChannel } from '../app/cache';

export class E2EEHooks {
  constructor(
    private readonly qc: QueryClient,
    private readonly auth: Pick<AuthManager, 'getAccessToken'>,
    private readonly meId: Id,
  ) {}

  /** Whether the server says the channel is an end-to-end encrypted DM (as cached; the server refuses plaintext anyway). */
  isEncrypted(channelId: Id): boolean {
    const c = findChannel(this.qc, channelId);
    return c?.type === 'dm' && !!c.encrypted;
  }

  /** Marks a cached DM encrypted (the server answered encryption_required, or the UI turned it on). */
  markEncrypted(channelId: Id) {
    patchAnyChannel(this.qc, channelId, (c) => (c.type === 'dm' && !c.encrypted ? { ...c, encrypted: true } : c));
  }

  private get sealer() {
    return { userId: this.meId, token: () => this.auth.getAccessToken() };
  }

  /** `refused`: the key service refused the last ciphertext (rotation_overdue / stale_epoch): seal anew. */
  async seal(p: SendMessagePayload, refused?: 'rotation_overdue' | 'stale_epoch') {
    return (await import('../e2ee/seal')).seal(p, this.sealer, refused);
  }

  async sealEdit(channelId: Id, content: string, messageId?: Id) {
    return (await import('../e2ee/seal')).sealEdit(channelId, content, this.sealer, messageId);
  }
}
