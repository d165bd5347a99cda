import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { qk } from '../../api/queryKeys';
import { MAX_SERVER_NAME_LENGTH } from '../../api/rules.gen';
import { upsertServer } from '../../app/cache';
import { displayName } from '../../app/queries';
import { useApi, useMe } from '../../app/services';
import { Modal } from '../Modal';
import { ErrorLine } from './ErrorLine';

export function CreateServerModal({ onClose }: { onClose: () => void }) {
  const api = useApi();
  const me = useMe();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const [name, setName] = useState(`${displayName(me)}'s server`);
  const create = useMutation({
    mutationFn: () => api.createServer(name.trim()),
    onSuccess: (server) => {
      upsertServer(qc, server);
      void qc.invalidateQueries({ queryKey: qk.servers });
      onClose();
      navigate(`/channels/${server.id}`);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate();
  };
  return (
    <Modal title="Create a server" onClose={onClose} testId="create-server-modal">
      <form onSubmit={submit} className="modal-form">
        <p className="muted">Your server is where you and your friends hang out. A #general channel comes with it.</p>
        <label className="field">
          <span className="field-label">Server name</span>
          <input value={name} maxLength={MAX_SERVER_NAME_LENGTH} onChange={(e) => setName(e.target.value)} data-testid="server-name-input" required />
        </label>
        <ErrorLine error={create.error} />
        <div className="modal-actions">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={!name.trim() || create.isPending} data-testid="create-server-submit">
            {create.isPending ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
