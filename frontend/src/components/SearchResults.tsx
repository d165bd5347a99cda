// The search results panel (issue #18), a chunk of its own (components/lazy.tsx): loaded at the first search.
import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useId, useRef } from 'react';
import { useLocation } from 'wouter';
import { errorMessage } from '../api/http';
import type { Id, Message, SearchResult } from '../api/types';
import { useApi, useMe } from '../app/services';
import { displayName, dmTitle, useChannels, useDMs, useUser } from '../app/queries';
import { channelPath } from '../app/routes';
import { groupByChannel, highlightSegments } from '../chat/search';
import { formatStamp } from './MessageItem';
import { scopeKey, type SearchScope } from './SearchPanel';
import { Avatar, Spinner } from './ui';

const MENTION_TOKEN = /(<[@#]\d{1,20}>)/;

function UserToken({ id }: { id: Id }) {
  return <span className="mention">@{useUser(id)?.username ?? 'unknown-user'}</span>;
}

/** Plain text with the matched words marked; `<@id>` and `<#id>` tokens as names. */
function MarkedText({ text, result, channelName }: { text: string; result: SearchResult; channelName: (id: Id) => string | undefined }) {
  return (
    <>
      {highlightSegments(text, result.highlights).map((seg, i) => {
        const parts = seg.text.split(MENTION_TOKEN).map((p, j) => {
          const m = /^<([@#])(\d{1,20})>$/.exec(p);
          if (!m) return p;
          return m[1] === '@' ? <UserToken key={j} id={m[2]} /> : <span key={j} className="mention">#{channelName(m[2]) ?? 'unknown-channel'}</span>;
        });
        return seg.mark ? (
          <mark key={i} data-testid="search-mark">
            {parts}
          </mark>
        ) : (
          <span key={i}>{parts}</span>
        );
      })}
    </>
  );
}

/** A message around a result, dimmed: who and what, on one line. */
function ContextLine({ m, channelName }: { m: Message; channelName: (id: Id) => string | undefined }) {
  const name = displayName(useUser(m.senderId));
  return (
    <span className="search-context" data-testid="search-context">
      <strong>{name}</strong> <MarkedText text={m.content} result={{ message: m, highlights: [] }} channelName={channelName} />
    </span>
  );
}

function ResultItem({ r, onOpen, channelName }: { r: SearchResult; onOpen: () => void; channelName: (id: Id) => string | undefined }) {
  const u = useUser(r.message.senderId);
  const name = displayName(u);
  return (
    <li className="search-item">
      {r.before?.map((m) => <ContextLine key={m.id} m={m} channelName={channelName} />)}
      <button type="button" className="search-result" onClick={onOpen} data-testid="search-result" data-message-id={r.message.id}>
        <span className="pinned-head">
          <Avatar user={u} size={24} name={name} />
          <span className="message-author">{name}</span>
          <time className="message-time" dateTime={r.message.timestamp}>
            {formatStamp(r.message.timestamp)}
          </time>
        </span>
        <span className="search-text">
          <MarkedText text={r.message.content} result={r} channelName={channelName} />
        </span>
      </button>
      {r.after?.map((m) => <ContextLine key={m.id} m={m} channelName={channelName} />)}
    </li>
  );
}

/** The results panel: a complementary region beside the messages (Esc or × closes it). */
export function SearchPanel({
  scope,
  query,
  currentChannelId,
  onJumpHere,
  onClose,
}: {
  scope: SearchScope;
  query: string;
  currentChannelId: Id;
  onJumpHere: (messageId: Id) => void;
  onClose: () => void;
}) {
  const api = useApi();
  const me = useMe();
  const [, navigate] = useLocation();
  const titleId = useId();
  const ref = useRef<HTMLElement>(null);
  const serverId = 'serverId' in scope ? scope.serverId : undefined;
  const channels = useChannels(serverId);
  const dms = useDMs();
  const results = useInfiniteQuery({
    queryKey: ['search', scopeKey(scope), query],
    queryFn: ({ pageParam }) => api.search(query, serverId ? { serverId } : { dms: true }, pageParam || undefined),
    initialPageParam: '' as Id,
    getNextPageParam: (last) => last.next ?? undefined,
    staleTime: 0,
    retry: false,
  });
  useEffect(() => {
    ref.current?.focus();
  }, [query]);
  useEffect(() => {
    const el = ref.current;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.stopPropagation();
      onClose();
    };
    el?.addEventListener('keydown', onKey);
    return () => el?.removeEventListener('keydown', onKey);
  }, [onClose]);

  const channelName = (id: Id) => {
    const c = channels.data?.channels.find((x) => x.id === id);
    if (c) return c.name;
    const d = dms.data?.channels.find((x) => x.id === id);
    return d ? dmTitle(d, me.id) : undefined;
  };
  const all = results.data?.pages.flatMap((p) => p.results) ?? [];
  const first = results.data?.pages[0];
  const open = (channelId: Id, messageId: Id) => {
    if (channelId === currentChannelId) onJumpHere(messageId);
    else navigate(`${channelPath(scopeKey(scope), channelId)}?${new URLSearchParams({ search: query, jump: messageId })}`);
  };
  return (
    <aside ref={ref} className="pins-panel search-panel" aria-labelledby={titleId} tabIndex={-1} data-testid="search-panel">
      <header className="pins-header">
        <h2 id={titleId} data-testid="search-count">
          {first ? `${first.total.toLocaleString()}${first.totalIsLowerBound ? '+' : ''} ${first.total === 1 ? 'result' : 'results'}` : 'Searching…'}
        </h2>
        <button type="button" className="icon-button small" aria-label="Close search results" onClick={onClose} data-testid="search-close">
          ×
        </button>
      </header>
      {results.isPending ? (
        <Spinner label="Searching" />
      ) : results.isError ? (
        <p className="muted search-error" role="alert" data-testid="search-error">
          {errorMessage(results.error)}
        </p>
      ) : all.length === 0 ? (
        <p className="muted pins-empty" data-testid="search-empty">
          No results. Try other words, or fewer filters.
        </p>
      ) : (
        <>
          {groupByChannel(all).map((g) => (
            <section key={g.channelId} className="search-group" aria-label={`Results in ${channelName(g.channelId) ?? 'a channel'}`}>
              <h3 className="search-group-title" data-testid="search-group">
                {serverId ? '#' : ''}
                {channelName(g.channelId) ?? 'unknown channel'}
              </h3>
              <ul className="pins-list">
                {g.results.map((r) => (
                  <ResultItem key={r.message.id} r={r} channelName={channelName} onOpen={() => open(g.channelId, r.message.id)} />
                ))}
              </ul>
            </section>
          ))}
          {results.hasNextPage && (
            <button
              type="button"
              className="button search-more"
              disabled={results.isFetchingNextPage}
              onClick={() => void results.fetchNextPage()}
              data-testid="search-more"
            >
              {results.isFetchingNextPage ? 'Loading…' : 'More results'}
            </button>
          )}
        </>
      )}
    </aside>
  );
}
