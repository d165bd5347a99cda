import { useEffect, useSyncExternalStore } from 'react';
import type { Id } from '../api/types';
import { displayName, useUser } from '../app/queries';
import { firstLine, resolveQuote } from '../chat/replies';
import { plaintextOf, plaintextsVersion, subscribePlaintexts, ENCRYPTED_LABEL } from '../chat/plaintexts';
import { useChannelMessages, useRealtime } from '../realtime/RealtimeProvider';
import { useMessageExtras } from './messageExtras';
import { Avatar } from './ui';

/** The original of a loaded or fetched reply: author and first line (the original may be far back in history). */
export function useQuote(channelId: Id, messageId: Id) {
  const rt = useRealtime();
  const state = useChannelMessages(channelId);
  const cached = useSyncExternalStore(rt.originals.subscribe, () => rt.originals.get(channelId, messageId));
  const quote = resolveQuote(messageId, state, cached);
  useEffect(() => {
    if (quote.status === 'unknown') void rt.originals.load(channelId, messageId);
  }, [rt, quote.status, channelId, messageId]);
  return quote;
}

function QuoteAuthor({ senderId }: { senderId: Id }) {
  const u = useUser(senderId);
  return (
    <>
      <Avatar user={u} size={16} name={displayName(u)} />
      <span className="reply-quote-author">{displayName(u)}</span>
    </>
  );
}

/** The compact quote above a reply; clicking it jumps to the original. */
export function ReplyQuote({ channelId, messageId }: { channelId: Id; messageId: Id }) {
  const quote = useQuote(channelId, messageId);
  const extras = useMessageExtras();
  useSyncExternalStore(subscribePlaintexts, plaintextsVersion); // an encrypted original's text, once decrypted
  if (quote.status === 'deleted') {
    return (
      <div className="reply-quote deleted" data-testid="reply-quote" data-status="deleted" data-reply-to={messageId}>
        <span className="reply-quote-spine" aria-hidden="true" />
        <span className="reply-quote-text muted">Original message was deleted</span>
      </div>
    );
  }
  if (quote.status !== 'loaded') {
    return (
      <div className="reply-quote" data-testid="reply-quote" data-status={quote.status} data-reply-to={messageId}>
        <span className="reply-quote-spine" aria-hidden="true" />
        <span className="reply-quote-text muted">{quote.status === 'error' ? "Couldn't load the original message" : 'Loading the original message…'}</span>
      </div>
    );
  }
  const m = quote.message;
  // An encrypted original: the text this browser decrypted (the server only has ciphertext), else a label.
  const text = plaintextOf(m);
  const line = text === undefined ? `🔒 ${ENCRYPTED_LABEL}` : firstLine(text) || 'Click to see the attachment';
  return (
    <button
      type="button"
      className="reply-quote"
      data-testid="reply-quote"
      data-status="loaded"
      data-reply-to={messageId}
      onClick={() => extras?.jumpTo(messageId)}
      title="Jump to the original message"
    >
      <span className="reply-quote-spine" aria-hidden="true" />
      <span className="sr-only">Reply to </span>
      <QuoteAuthor senderId={m.senderId} />
      <span className="reply-quote-text" data-testid="reply-quote-text">
        {line}
      </span>
      <span className="sr-only">. Jump to the original message.</span>
    </button>
  );
}
