// Dialogs a message opens on request: "You are leaving Parley" before an outside link opens, and the confirmation
// before a message is deleted. A lazy part (components/lazy.tsx), prefetched after the first paint; the dialog
// takes the focus when it mounts.
import type { ChatItem } from '../chat/messageStore';
import { MessageContent } from './MessageContent';
import { Modal } from './Modal';

export /** "You are leaving Parley": the full real URL (ASCII, as the browser will request it), and a choice. */
function LeaveDialog({ href, onClose }: { href: string; onClose: () => void }) {
  return (
    <Modal
      title="You are leaving Parley"
      onClose={onClose}
      testId="leave-dialog"
      footer={
        <>
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <a className="button primary" href={href} target="_blank" rel="noopener noreferrer nofollow" onClick={onClose} data-testid="leave-open">
            Open link
          </a>
        </>
      }
    >
      <p>This link goes to:</p>
      <p className="leave-url" dir="ltr" data-testid="leave-url">
        {href}
      </p>
      <p className="muted">Its text may not say where it goes. Open it only if you trust this address.</p>
    </Modal>
  );
}

export function DeleteConfirm({ item, onCancel, onDelete }: { item: ChatItem; onCancel: () => void; onDelete: () => void }) {
  return (
    <Modal
      title="Delete message"
      onClose={onCancel}
      testId="confirm-delete-modal"
      footer={
        <>
          <button type="button" className="button ghost" onClick={onCancel}>
            Cancel
          </button>
          <button type="button" className="button danger" onClick={onDelete} data-testid="confirm-delete">
            Delete
          </button>
        </>
      }
    >
      <p>Are you sure you want to delete this message?</p>
      <blockquote className="quote">
        <MessageContent content={item.content} />
      </blockquote>
    </Modal>
  );
}
