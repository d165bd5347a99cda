// The composer's `@` / `#` autocomplete list and its matching (chat/autocomplete.ts): a chunk of its own, fetched
// when a composer with a mention source mounts (Composer.tsx), since the chat screen's first paint needs neither.
// The keyboard stays in the composer's text box (↑/↓, Enter/Tab, Esc, aria-activedescendant).
import type { MentionOption, MentionTrigger } from '../chat/autocomplete';

export { applyCompletion, findMentionQuery, matchChannels, matchMembers } from '../chat/autocomplete';

export function MentionOptions({
  trigger,
  listId,
  options,
  activeIndex,
  optionId,
  onActive,
  onPick,
}: {
  trigger: MentionTrigger;
  listId: string;
  options: MentionOption[];
  activeIndex: number;
  optionId: (i: number) => string;
  onActive: (i: number) => void;
  onPick: (o: MentionOption) => void;
}) {
  return (
    <div className="mention-popup" data-testid="mention-popup">
      <div className="mention-popup-title" aria-hidden="true">
        {trigger === '@' ? 'Members' : 'Text channels'}
      </div>
      <ul id={listId} role="listbox" aria-label={trigger === '@' ? 'Members' : 'Channels'} className="mention-options">
        {options.map((o, i) => (
          // eslint-disable-next-line jsx-a11y/click-events-have-key-events -- the keyboard picks in the textarea (↑/↓, Enter/Tab, aria-activedescendant); a click is the mouse way
          <li
            key={`${o.kind}:${o.id}`}
            id={optionId(i)}
            role="option"
            aria-selected={i === activeIndex}
            className={`mention-option${i === activeIndex ? ' active' : ''}`}
            onMouseDown={(e) => e.preventDefault()}
            onMouseEnter={() => onActive(i)}
            onClick={() => onPick(o)}
            data-testid="mention-option"
            data-value={o.insert}
          >
            {o.kind === 'user' && (
              <>
                <span className="mention-option-name">{o.displayName}</span>
                <span className="mention-option-sub">@{o.username}</span>
              </>
            )}
            {o.kind === 'special' && (
              <>
                <span className="mention-option-name">@{o.id}</span>
                <span className="mention-option-sub">{o.label}</span>
              </>
            )}
            {o.kind === 'channel' && (
              <span className="mention-option-name">
                <span aria-hidden="true" className="hash">
                  #
                </span>
                {o.name}
              </span>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
