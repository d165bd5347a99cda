import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { MAX_TOPIC_LENGTH } from '../../api/rules.gen';
import { upsertChannel } from '../../app/cache';
import { useApi } from '../../app/services';
import { normalizeChannelName } from '../../chat/channelName';
import { Modal } from '../Modal';
import { ErrorLine } from './ErrorLine';

export function CreateChannelModal({ serverId, onClose }: { serverId: string; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const create = useMutation({
    mutationFn: () => api.createChannel(serverId, { name: normalizeChannelName(name), topic: topic.trim() || undefined }),
    onSuccess: (channel) => {
      upsertChannel(qc, channel);
      onClose();
      navigate(`/channels/${serverId}/${channel.id}`);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (normalizeChannelName(name)) create.mutate();
  };
  return (
    <Modal title="Create channel" onClose={onClose} testId="create-channel-modal">
      <form onSubmit={submit} className="modal-form">
        <label className="field">
          <span className="field-label">Channel name</span>
          <div className="input-prefix">
            <span aria-hidden="true">#</span>
            <input
              value={name}
              maxLength={100}
              onChange={(e) => setName(e.target.value)}
              placeholder="new-channel"
              data-testid="channel-name-input"
              required
            />
          </div>
        </label>
        <label className="field">
          <span className="field-label">Topic (optional)</span>
          <input value={topic} maxLength={MAX_TOPIC_LENGTH} onChange={(e) => setTopic(e.target.value)} data-testid="channel-topic-input" />
        </label>
        <ErrorLine error={create.error} />
        <div className="modal-actions">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="button primary"
            disabled={!normalizeChannelName(name) || create.isPending}
            data-testid="create-channel-submit"
          >
            {create.isPending ? 'Creating…' : 'Create channel'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
