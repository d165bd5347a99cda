package messaging

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

func idKey(id int64) string     { return strconv.FormatInt(id, 10) }
func timeOf(id int64) time.Time { return snowflake.Time(id).UTC() }
func unavailable(err error) error {
	return apperr.Wrap(apperr.Unavailable, err, "messages cannot be read right now")
}

var errNoMessage = apperr.New(apperr.NotFound, "message not found")

// Query selects a page of history. At most one of Before, After, Around is set; none means the newest page.
type Query struct {
	Before, After, Around int64
	Limit                 int
}

// Page is a page of history. Messages are newest first for Before/newest pages, oldest first otherwise.
type Page struct {
	Messages []model.Message
	HasMore  bool
}

// History returns a page of a channel's stored messages (members only), from the in-memory window when it
// covers the page and from Cassandra otherwise. On several nodes the newest page is asked of the channel's
// owner; other pages are read from Cassandra by whichever node is asked.
func (s *Service) History(ctx context.Context, userID, channelID int64, q Query) (_ Page, err error) {
	ctx, span := s.span(ctx, "History", channelID)
	defer func() { endSpan(span, err) }()
	if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
		return Page{}, err
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > 100 {
		return Page{}, apperr.InvalidField("limit", "limit must be between 1 and 100")
	}
	set := 0
	for _, v := range []int64{q.Before, q.After, q.Around} {
		if v != 0 {
			set++
		}
	}
	if set > 1 {
		return Page{}, apperr.New(apperr.Invalid, "use only one of before, after and around")
	}
	if set == 0 { // the newest page: the channel's owner has it in memory
		if node, local := s.route(channelID); !local {
			page, err := s.forward.History(ctx, node, userID, channelID, q.Limit)
			if err == nil || !apperr.Is(err, apperr.Unavailable) {
				return page, err
			}
			// The owner is changing: Cassandra has every stored message too.
		}
	}
	switch {
	case q.After != 0:
		msgs, more, err := s.after(ctx, channelID, q.After, q.Limit)
		return Page{msgs, more}, err
	case q.Around != 0:
		older, moreOld, err := s.before(ctx, channelID, q.Around+1, (q.Limit+1)/2)
		if err != nil {
			return Page{}, err
		}
		newer, moreNew, err := s.after(ctx, channelID, q.Around, q.Limit-len(older))
		if err != nil {
			return Page{}, err
		}
		slices.Reverse(older)
		return Page{append(older, newer...), moreOld || moreNew}, nil
	default:
		msgs, more, err := s.before(ctx, channelID, q.Before, q.Limit)
		return Page{msgs, more}, err
	}
}

// HistoryHere is the newest page of a channel from this node, its owner (forwarded calls land here).
func (s *Service) HistoryHere(ctx context.Context, userID, channelID int64, limit int) (Page, error) {
	if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
		return Page{}, err
	}
	if limit < 1 || limit > 100 {
		return Page{}, apperr.InvalidField("limit", "limit must be between 1 and 100")
	}
	msgs, more, err := s.before(ctx, channelID, 0, limit)
	return Page{msgs, more}, err
}

// activeConversation returns the channel's conversation (activating it: reads warm the window too).
func (s *Service) activeConversation(channelID int64) *conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conversationLocked(channelID)
}

// before returns up to limit messages older than `before` (0 = newest), newest first.
func (s *Service) before(ctx context.Context, channelID, before int64, limit int) ([]model.Message, bool, error) {
	conv := s.readable(channelID)
	if conv == nil {
		msgs, more, err := s.store.Before(ctx, channelID, before, limit)
		if err != nil {
			return nil, false, unavailable(err)
		}
		return msgs, more, nil
	}
	conv.mu.Lock()
	if conv.loaded {
		// Walk the window backwards from `before`.
		var out []model.Message
		i := len(conv.window) - 1
		for ; i >= 0 && len(out) <= limit; i-- {
			if before == 0 || conv.window[i].ID < before {
				out = append(out, conv.window[i])
			}
		}
		whole := conv.whole
		oldest := int64(0)
		if len(conv.window) > 0 {
			oldest = conv.window[0].ID
		}
		conv.mu.Unlock()
		if len(out) > limit {
			return out[:limit], true, nil
		}
		if whole {
			return out, false, nil
		}
		// The window ends before the page does: the rest comes from Cassandra.
		from := oldest
		if before != 0 && before < from {
			from = before
		}
		rest, more, err := s.store.Before(ctx, channelID, from, limit-len(out))
		if err != nil {
			return nil, false, unavailable(err)
		}
		return append(out, rest...), more, nil
	}
	stores := conv.stores
	conv.mu.Unlock()

	fetch := limit
	if before == 0 {
		fetch = max(limit, min(s.cfg.WindowSize, 100)) // warm the window with one read
	}
	msgs, more, err := s.store.Before(ctx, channelID, before, fetch)
	if err != nil {
		return nil, false, unavailable(err)
	}
	if before == 0 {
		conv.mu.Lock()
		if !conv.loaded && conv.stores == stores { // no flush landed meanwhile: msgs is the exact newest part
			asc := append([]model.Message(nil), msgs...)
			slices.Reverse(asc)
			conv.window, conv.loaded, conv.whole = asc, true, !more
		}
		conv.mu.Unlock()
	}
	if len(msgs) > limit {
		return msgs[:limit], true, nil
	}
	return msgs, more, nil
}

// after returns up to limit messages newer than `after`, oldest first.
func (s *Service) after(ctx context.Context, channelID, after int64, limit int) ([]model.Message, bool, error) {
	conv := s.readable(channelID)
	if conv != nil {
		conv.mu.Lock()
	}
	if conv != nil && conv.loaded && (conv.whole || (len(conv.window) > 0 && after >= conv.window[0].ID)) {
		var out []model.Message
		for _, m := range conv.window {
			if m.ID > after {
				out = append(out, m)
				if len(out) > limit {
					break
				}
			}
		}
		conv.mu.Unlock()
		if len(out) > limit {
			return out[:limit], true, nil
		}
		return out, false, nil
	}
	if conv != nil {
		conv.mu.Unlock()
	}
	msgs, more, err := s.store.After(ctx, channelID, after, limit)
	if err != nil {
		return nil, false, unavailable(err)
	}
	return msgs, more, nil
}

// SyncResult is the catch-up of one channel.
type SyncResult struct {
	Messages []model.Message // oldest first
	HasMore  bool            // more than one page was missed: reload the channel's newest page instead
}

// Sync returns, for each channel, the stored messages after the id the client has (catch-up after a
// reconnect). Channels the user cannot read are left out.
// syncOneByOne is the number of channels up to which a sync checks each channel on its own.
const syncOneByOne = 8

func (s *Service) Sync(ctx context.Context, userID int64, since map[int64]int64) (_ map[int64]SyncResult, err error) {
	ctx, span := s.span(ctx, "Sync", 0)
	defer func() { endSpan(span, err) }()
	if len(since) > 500 {
		return nil, apperr.InvalidField("channels", "sync at most 500 channels at once")
	}
	out := make(map[int64]SyncResult, len(since))
	// A sync naming many channels is checked against the user's channel list, read once, so naming hundreds
	// of channels one cannot read costs one query, not one each. (If the list cannot be read, each channel
	// is checked on its own, which the access cache may still answer.)
	var readable map[int64]bool
	if len(since) > syncOneByOne {
		if ids, err := s.access.ReadableChannelIDs(ctx, userID); err == nil {
			readable = make(map[int64]bool, len(ids))
			for _, id := range ids {
				readable[id] = true
			}
		}
	}
	for channelID, after := range since {
		if readable != nil && !readable[channelID] {
			continue
		}
		if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				continue
			}
			return nil, err
		}
		msgs, more, err := s.after(ctx, channelID, after, 100)
		if err != nil {
			return nil, err
		}
		out[channelID] = SyncResult{msgs, more}
	}
	return out, nil
}

// message loads a visible message from the window or Cassandra.
func (s *Service) message(ctx context.Context, channelID, messageID int64) (model.Message, error) {
	if conv := s.readable(channelID); conv != nil {
		conv.mu.Lock()
		if i := conv.windowIndex(messageID); i >= 0 {
			m := conv.window[i]
			conv.mu.Unlock()
			return m, nil
		}
		conv.mu.Unlock()
	}
	m, err := s.store.Get(ctx, channelID, messageID)
	if errors.Is(err, model.ErrNotFound) || (err == nil && m.Deleted) {
		return m, errNoMessage
	}
	if err != nil {
		return m, unavailable(err)
	}
	return m, nil
}

// Get returns one visible message of a channel the user can read (a reply's original).
func (s *Service) Get(ctx context.Context, userID, channelID, messageID int64) (model.Message, error) {
	if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
		return model.Message{}, err
	}
	return s.message(ctx, channelID, messageID)
}

// Message returns a visible stored message (for receipts).
func (s *Service) Message(ctx context.Context, channelID, messageID int64) (model.Message, error) {
	return s.message(ctx, channelID, messageID)
}

// Latest returns the newest message this node stored in a channel, if the channel is active here. Channel
// metadata in MongoDB is written coalesced (once per interval, 5 s by default), so lists merge this in to be current.
func (s *Service) Latest(channelID int64) (int64, time.Time, bool) {
	s.mu.Lock()
	conv, ok := s.convs[channelID]
	s.mu.Unlock()
	if !ok {
		return 0, time.Time{}, false
	}
	conv.mu.Lock()
	defer conv.mu.Unlock()
	if len(conv.window) == 0 {
		return 0, time.Time{}, false
	}
	m := conv.window[len(conv.window)-1]
	return m.ID, m.CreatedAt, true
}

// CountAfter counts messages newer than `after` not sent by userID nor by anyone in ignore (the users they
// block), and those of them that mention userID, each up to limit (unread and mention counts).
func (s *Service) CountAfter(ctx context.Context, channelID, after, userID int64, ignore []int64, limit int) (unread, mentions int, err error) {
	for page := 0; page < 10 && unread < limit; page++ {
		msgs, more, err := s.after(ctx, channelID, after, 100)
		if err != nil {
			return unread, mentions, err
		}
		for _, m := range msgs {
			if m.SenderID != userID && !slices.Contains(ignore, m.SenderID) {
				unread++
				if m.Mentioned(userID) {
					mentions++
				}
			}
		}
		if !more || len(msgs) == 0 {
			break
		}
		after = msgs[len(msgs)-1].ID
	}
	return min(unread, limit), min(mentions, limit), nil
}

// Edit changes the content of one's own message (on the channel's owner).
func (s *Service) Edit(ctx context.Context, userID, channelID, messageID int64, content string, encrypted bool) (model.Message, error) {
	return s.EditInSession(ctx, 0, userID, channelID, messageID, content, encrypted)
}

// EditInSession is Edit from one of the user's sessions: an encrypted edit is new MLS ciphertext, admitted by
// the key service as that session (on this node, the sender's, before the edit goes to the channel's owner).
func (s *Service) EditInSession(ctx context.Context, sessionID, userID, channelID, messageID int64, content string, encrypted bool) (_ model.Message, err error) {
	ctx, span := s.span(ctx, "Edit", channelID)
	defer func() { endSpan(span, err) }()
	if encrypted && s.cfg.Admission != nil {
		ch, _, err := s.access.CanRead(ctx, userID, channelID)
		if err != nil {
			return model.Message{}, err
		}
		if err := checkEncryption(ch, encrypted); err != nil {
			return model.Message{}, err
		}
		if err := checkCiphertext(content); err != nil {
			return model.Message{}, err
		}
		if err := s.cfg.Admission.Admit(ctx, userID, sessionID, channelID, content); err != nil {
			return model.Message{}, err
		}
	}
	if node, local := s.route(channelID); !local {
		if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
			return model.Message{}, err
		}
		return s.forward.Edit(ctx, node, userID, channelID, messageID, content, encrypted)
	}
	return s.EditHere(ctx, userID, channelID, messageID, content, encrypted)
}

// EditHere is Edit on this node, which owns the channel (forwarded calls land here).
func (s *Service) EditHere(ctx context.Context, userID, channelID, messageID int64, content string, encrypted bool) (model.Message, error) {
	ch, role, err := s.access.CanRead(ctx, userID, channelID)
	if err != nil {
		return model.Message{}, err
	}
	if err := checkEncryption(ch, encrypted); err != nil {
		return model.Message{}, err
	}
	if encrypted {
		err = checkCiphertext(content)
	} else {
		content, err = cleanContent(content)
	}
	if err != nil {
		return model.Message{}, err
	}
	conv, err := s.ownedConversation(channelID)
	if err != nil {
		return model.Message{}, err
	}
	m, err := s.message(ctx, channelID, messageID)
	if err != nil {
		return m, err
	}
	if m.SenderID != userID {
		return m, apperr.New(apperr.Forbidden, "you can only edit your own messages")
	}
	if m.Kind != "" {
		return m, apperr.New(apperr.Forbidden, "system messages cannot be edited")
	}
	// In an encrypted DM every edit is new ciphertext, also of a message written before encryption was on.
	edited := m
	edited.Content, edited.Mentions, edited.MentionEveryone, edited.Encrypted = content, nil, false, encrypted
	if !encrypted {
		if err := s.resolveMentions(ctx, ch, role, &edited); err != nil {
			return m, err
		}
	}
	at := s.now().UTC().Truncate(time.Millisecond)
	ts, err := s.stampWrite(conv)
	if err != nil {
		return m, err
	}
	if err := s.store.Edit(ctx, edited, at, ts); err != nil {
		return m, unavailable(err)
	}
	if err := s.stillOwner(conv); err != nil {
		s.drop(conv)
		return m, err
	}
	m = edited
	m.EditedAt = &at
	conv.mu.Lock()
	if i := conv.windowIndex(messageID); i >= 0 {
		conv.window[i] = m
	}
	conv.mu.Unlock()
	s.pub.MessageUpdated(m)
	if s.cfg.Search != nil {
		s.cfg.Search.MessageEdited(m)
	}
	return m, nil
}

// Delete removes a message: its author may, and so may the server's owner and admins (on the channel's owner).
func (s *Service) Delete(ctx context.Context, userID, channelID, messageID int64) (err error) {
	ctx, span := s.span(ctx, "Delete", channelID)
	defer func() { endSpan(span, err) }()
	if node, local := s.route(channelID); !local {
		if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
			return err
		}
		return s.forward.Delete(ctx, node, userID, channelID, messageID)
	}
	return s.DeleteHere(ctx, userID, channelID, messageID)
}

// DeleteHere is Delete on this node, which owns the channel (forwarded calls land here).
func (s *Service) DeleteHere(ctx context.Context, userID, channelID, messageID int64) error {
	ch, role, err := s.access.CanRead(ctx, userID, channelID)
	if err != nil {
		return err
	}
	conv, err := s.ownedConversation(channelID)
	if err != nil {
		return err
	}
	m, err := s.message(ctx, channelID, messageID)
	if err != nil {
		return err
	}
	moderator := ch.Kind == model.ChannelText && (role == model.RoleOwner || role == model.RoleAdmin)
	if m.SenderID != userID && !moderator {
		return apperr.New(apperr.Forbidden, "you can only delete your own messages")
	}
	if s.cfg.Files != nil && len(m.Attachments) > 0 {
		if err := s.cfg.Files.Deleting(ctx, m); err != nil {
			return err
		}
	}
	ts, err := s.stampWrite(conv)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, channelID, messageID, ts); err != nil {
		return unavailable(err)
	}
	if err := s.stillOwner(conv); err != nil {
		s.drop(conv)
		return err
	}
	conv.mu.Lock()
	if i := conv.windowIndex(messageID); i >= 0 {
		conv.window = append(conv.window[:i], conv.window[i+1:]...)
	}
	conv.mu.Unlock()
	s.pub.MessageDeleted(channelID, messageID)
	if s.cfg.Search != nil {
		s.cfg.Search.MessageDeleted(channelID, messageID)
	}
	if s.cfg.Files != nil && len(m.Attachments) > 0 {
		s.cfg.Files.MessageDeleted(m)
	}
	return nil
}

// ownedConversation returns the channel's conversation, ready for writes: on several nodes, with this
// node's lease taken (and a takeover's fence written).
func (s *Service) ownedConversation(channelID int64) (*conversation, error) {
	conv := s.activeConversation(channelID)
	if s.owners == nil {
		return conv, nil
	}
	if err := s.prepare(conv); err != nil {
		if errors.Is(err, errMoved) {
			s.drop(conv)
			return nil, err
		}
		return nil, unavailable(err)
	}
	return conv, nil
}

// stampWrite is stamp for edits and deletes, with errors in the API's terms.
func (s *Service) stampWrite(conv *conversation) (int64, error) {
	ts, err := s.stamp(conv)
	switch {
	case errors.Is(err, errMoved):
		s.drop(conv)
		return 0, err
	case err != nil:
		return 0, unavailable(err)
	}
	return ts, nil
}
