import { useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { parseInviteInput } from '../../app/routes';
import { Modal } from '../Modal';

export function JoinServerModal({ onClose }: { onClose: () => void }) {
  const [, navigate] = useLocation();
  const [input, setInput] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const code = parseInviteInput(input);
    if (!code) {
      setError('Enter an invite link or code.');
      return;
    }
    onClose();
    navigate(`/invite/${encodeURIComponent(code)}`);
  };
  return (
    <Modal title="Join a server" onClose={onClose} testId="join-server-modal">
      <form onSubmit={submit} className="modal-form">
        <p className="muted">Enter an invite below to join an existing server.</p>
        <label className="field">
          <span className="field-label">Invite link or code</span>
          <input
            value={input}
            onChange={(e) => setInput(e.target.value)}
            placeholder={`${window.location.origin}/invite/hTKzmak`}
            data-testid="join-invite-input"
          />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={!input.trim()} data-testid="join-invite-submit">
            Continue
          </button>
        </div>
      </form>
    </Modal>
  );
}
