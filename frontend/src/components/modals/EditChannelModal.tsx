import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { MAX_TOPIC_LENGTH } from '../../api/rules.gen';
import type { TextChannel } from '../../api/types';
import { removeChannel, upsertChannel } from '../../app/cache';
import { useApi } from '../../app/services';
import { normalizeChannelName } from '../../chat/channelName';
import { Modal } from '../Modal';
import { ErrorLine } from './ErrorLine';

export function EditChannelModal({ channel, onClose }: { channel: TextChannel; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const [name, setName] = useState(channel.name);
  const [topic, setTopic] = useState(channel.topic ?? '');
  const [confirm, setConfirm] = useState(false);
  const save = useMutation({
    mutationFn: () => api.updateChannel(channel.id, { name: normalizeChannelName(name), topic: topic.trim() }),
    onSuccess: (c) => {
      upsertChannel(qc, c);
      onClose();
    },
  });
  const del = useMutation({
    mutationFn: () => api.deleteChannel(channel.id),
    onSuccess: () => {
      removeChannel(qc, channel);
      onClose();
    },
  });
  return (
    <Modal title={`Edit #${channel.name}`} onClose={onClose} testId="edit-channel-modal">
      <form
        className="modal-form"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <label className="field">
          <span className="field-label">Channel name</span>
          <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label className="field">
          <span className="field-label">Topic</span>
          <input value={topic} maxLength={MAX_TOPIC_LENGTH} onChange={(e) => setTopic(e.target.value)} />
        </label>
        <ErrorLine error={save.error ?? del.error} />
        <div className="modal-actions spread">
          {confirm ? (
            <button type="button" className="button danger" onClick={() => del.mutate()} disabled={del.isPending} data-testid="confirm-delete-channel">
              {del.isPending ? 'Deleting…' : 'Really delete?'}
            </button>
          ) : (
            <button type="button" className="button danger ghost" onClick={() => setConfirm(true)}>
              Delete channel
            </button>
          )}
          <button type="submit" className="button primary" disabled={!normalizeChannelName(name) || save.isPending}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}
