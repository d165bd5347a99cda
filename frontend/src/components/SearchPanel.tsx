// Message search (issue #18): a box in the channel header searches the server's channels (or, in a DM, all of
// the user's DMs); results appear in a panel beside the messages (SearchResults.tsx, loaded lazily), grouped by
// channel, newest first, the matched words marked. Choosing a result opens its channel at that message (`?jump=`,
// loaded with `around=` paging).
import { useState, type FormEvent } from 'react';
import { MAX_SEARCH_QUERY_LENGTH } from '../api/rules.gen';
import type { Id } from '../api/types';

export type SearchScope = { serverId: Id } | { dms: true };

export const scopeKey = (s: SearchScope) => ('serverId' in s ? s.serverId : '@me');

/** The search box of the channel header; Enter searches, Esc clears. */
export function SearchBox({ scope, onSearch, query }: { scope: SearchScope; onSearch: (q: string) => void; query: string }) {
  const [text, setText] = useState(query);
  // A new search from elsewhere (the URL) shows in the box; typing in between is kept until then.
  const [shown, setShown] = useState(query);
  if (shown !== query) {
    setShown(query);
    setText(query);
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const q = text.trim();
    if (q) onSearch(q);
  };
  const label = 'serverId' in scope ? 'Search this server' : 'Search your direct messages';
  return (
    <form className="search-box" role="search" onSubmit={submit}>
      <input
        type="search"
        value={text}
        placeholder="Search"
        aria-label={label}
        title={`${label} — from:user in:#channel has:link mentions:user before: after: during: "exact phrase"`}
        maxLength={MAX_SEARCH_QUERY_LENGTH}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape' && text) {
            e.stopPropagation();
            setText('');
          }
        }}
        data-testid="search-input"
      />
    </form>
  );
}
