package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

// BucketWidth is the time window of one message partition. Ten days keeps even a very busy channel's
// partitions far below Cassandra's comfortable size, and a quiet channel's history a few buckets deep.
const BucketWidth = 10 * 24 * time.Hour

// maxBatchBytes keeps every batch well under Cassandra's default batch_size_fail_threshold (50 KiB).
const maxBatchBytes = 40 * 1024

// Bucket returns the partition bucket of a message (or channel) id.
func Bucket(id int64) int {
	return int(snowflake.Time(id).Sub(snowflake.Epoch) / BucketWidth)
}

// MessageStore reads and writes the message log.
type MessageStore struct {
	s   *gocql.Session
	now func() time.Time
}

func NewMessageStore(s *gocql.Session) *MessageStore { return &MessageStore{s: s, now: time.Now} }

// InsertBatch stores messages durably: one row per message (its nonce is a column of the row, so there is
// nothing else to write), in single-partition unlogged batches (atomic per partition, one commit-log sync for
// the batch). Batches go one after another in id order: if the process dies midway, what is stored is a
// prefix of the flush, never a later message without an earlier one, so a sender's retries cannot be stored
// out of order. Every write is idempotent (fixed ids), so a failed call can simply be retried. ts is the
// write timestamp in microseconds (several nodes: the channel owner's fenced clock, see Fence); 0 lets the
// driver choose it.
func (m *MessageStore) InsertBatch(ctx context.Context, msgs []model.Message, ts int64) error {
	const msgCQL = "INSERT INTO messages (channel_id, bucket, message_id, sender_id, content, nonce, deleted, mentions, mention_everyone, reply_to, kind, encrypted, attachments) VALUES (?, ?, ?, ?, ?, ?, false, ?, ?, ?, ?, ?, ?)"
	flush := func(part []model.Message) error {
		b := m.s.Batch(gocql.UnloggedBatch)
		if ts != 0 {
			b.WithTimestamp(ts)
		}
		for _, msg := range part {
			mentions, everyone := mentionValues(msg)
			var replyTo any = gocql.UnsetValue
			if msg.ReplyTo != 0 {
				replyTo = msg.ReplyTo
			}
			var kind any = gocql.UnsetValue
			if msg.Kind != "" {
				kind = msg.Kind
			}
			var encrypted any = gocql.UnsetValue
			if msg.Encrypted {
				encrypted = true
			}
			files, _ := attachmentsValue(msg.Attachments)
			b.Query(msgCQL, msg.ChannelID, Bucket(msg.ID), msg.ID, msg.SenderID, msg.Content, msg.Nonce, mentions, everyone, replyTo, kind, encrypted, files)
		}
		return b.ExecContext(ctx)
	}
	start, size := 0, 0
	for i, msg := range msgs {
		_, filesLen := attachmentsValue(msg.Attachments)
		n := len(msg.Content) + len(msg.Nonce) + filesLen + 48
		samePartition := i == start || (msg.ChannelID == msgs[start].ChannelID && Bucket(msg.ID) == Bucket(msgs[start].ID))
		if i > start && (!samePartition || size+n > maxBatchBytes || i-start >= 100) {
			if err := flush(msgs[start:i]); err != nil {
				return fmt.Errorf("cassandra: storing messages %d..%d of %d: %w", start+1, i, len(msgs), err)
			}
			start, size = i, 0
		}
		size += n
	}
	if start < len(msgs) {
		if err := flush(msgs[start:]); err != nil {
			return fmt.Errorf("cassandra: storing messages %d..%d of %d: %w", start+1, len(msgs), len(msgs), err)
		}
	}
	return nil
}

// Nonces returns the id, sender and nonce of a channel's messages with id >= since (deleted ones included),
// newest first, at most limit. The messaging service loads them when a channel becomes active, to recognise
// a retried send whose first attempt was stored before a restart or crash.
func (m *MessageStore) Nonces(ctx context.Context, channelID, since int64, limit int) ([]model.Message, error) {
	var out []model.Message
	last := Bucket(snowflake.FirstIDAt(m.now().Add(time.Minute)))
	for b := last; b >= Bucket(since) && b >= Bucket(channelID) && b >= 0 && len(out) < limit; b-- {
		iter := m.s.Query("SELECT message_id, sender_id, nonce FROM messages WHERE channel_id = ? AND bucket = ? AND message_id >= ? LIMIT ?",
			channelID, b, since, limit-len(out)).PageSize(5000).IterContext(ctx)
		var msg model.Message
		for iter.Scan(&msg.ID, &msg.SenderID, &msg.Nonce) {
			msg.ChannelID, msg.CreatedAt = channelID, snowflake.Time(msg.ID)
			out = append(out, msg)
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("cassandra: reading recent nonces: %w", err)
		}
	}
	return out, nil
}

// SentWith finds the message a sender stored with a nonce among a channel's messages with ids from..to
// (deleted ones included, with their attachments column); found is false when there is none. The attachment
// sweeper asks it about a file a send claimed long ago but whose message was never recorded: the message got
// its id just after the claim, so a window around the claim's time is all there is to read.
func (m *MessageStore) SentWith(ctx context.Context, channelID, senderID int64, nonce string, from, to int64) (model.Message, bool, error) {
	for b := max(Bucket(from), Bucket(channelID), 0); b <= Bucket(to); b++ {
		iter := m.s.Query("SELECT message_id, sender_id, nonce FROM messages WHERE channel_id = ? AND bucket = ? AND message_id >= ? AND message_id <= ?",
			channelID, b, from, to).PageSize(5000).IterContext(ctx)
		var id, sender int64
		var n string
		found := int64(0)
		for iter.Scan(&id, &sender, &n) {
			if sender == senderID && n == nonce {
				found = id
				break
			}
		}
		if err := iter.Close(); err != nil {
			return model.Message{}, false, fmt.Errorf("cassandra: looking for a sent message: %w", err)
		}
		if found != 0 {
			msg, err := m.Get(ctx, channelID, found)
			return msg, err == nil, err
		}
	}
	return model.Message{}, false, nil
}

// ErrNotFound is returned by Get for a missing message.
var ErrNotFound = model.ErrNotFound

const selectCols = "channel_id, message_id, sender_id, content, nonce, edited_at, deleted, mentions, mention_everyone, reply_to, kind, encrypted, attachments"

// Get returns one message, deleted ones included (Deleted is set).
func (m *MessageStore) Get(ctx context.Context, channelID, messageID int64) (model.Message, error) {
	iter := m.s.Query("SELECT "+selectCols+" FROM messages WHERE channel_id = ? AND bucket = ? AND message_id = ?",
		channelID, Bucket(messageID), messageID).IterContext(ctx)
	msgs, err := scanAll(iter, true, 1)
	if err != nil {
		return model.Message{}, err
	}
	if len(msgs) == 0 {
		return model.Message{}, ErrNotFound
	}
	return msgs[0], nil
}

// mentionValues binds a message's mentions, leaving the columns unset (not null: a null is a tombstone) when
// it mentions nobody, as most messages do.
func mentionValues(msg model.Message) (any, any) {
	var mentions, everyone any = gocql.UnsetValue, gocql.UnsetValue
	if len(msg.Mentions) > 0 {
		mentions = msg.Mentions
	}
	if msg.MentionEveryone {
		everyone = true
	}
	return mentions, everyone
}

// Edit replaces a stored message's content and mentions (m's ids, content and mentions are used). The caller
// has checked that the message exists. ts as in InsertBatch.
func (m *MessageStore) Edit(ctx context.Context, msg model.Message, editedAt time.Time, ts int64) error {
	var mentions any = msg.Mentions
	if len(msg.Mentions) == 0 {
		mentions = nil // an edit that drops the mentions must clear them
	}
	return stamped(m.s.Query("UPDATE messages SET content = ?, edited_at = ?, mentions = ?, mention_everyone = ?, encrypted = ? WHERE channel_id = ? AND bucket = ? AND message_id = ?",
		msg.Content, editedAt, mentions, msg.MentionEveryone, msg.Encrypted, msg.ChannelID, Bucket(msg.ID), msg.ID), ts).ExecContext(ctx)
}

// Delete hides a message from history; its content is erased, its id stays so catch-up can report the delete.
func (m *MessageStore) Delete(ctx context.Context, channelID, messageID int64, ts int64) error {
	return stamped(m.s.Query("UPDATE messages SET content = '', deleted = true, attachments = null WHERE channel_id = ? AND bucket = ? AND message_id = ?",
		channelID, Bucket(messageID), messageID), ts).ExecContext(ctx)
}

func stamped(q *gocql.Query, ts int64) *gocql.Query {
	if ts != 0 {
		q.WithTimestamp(ts)
	}
	return q
}

// Newest returns the id of a channel's newest stored row (deleted ones included), 0 if it has none. It walks
// the buckets back from now; a new channel owner calls it once, when the retry horizon holds nothing.
func (m *MessageStore) Newest(ctx context.Context, channelID int64) (int64, error) {
	for b := Bucket(snowflake.FirstIDAt(m.now().Add(time.Minute))); b >= Bucket(channelID) && b >= 0; b-- {
		var id int64
		err := m.s.Query("SELECT message_id FROM messages WHERE channel_id = ? AND bucket = ? LIMIT 1", channelID, b).
			ScanContext(ctx, &id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, gocql.ErrNotFound) {
			return 0, fmt.Errorf("cassandra: reading the newest message id: %w", err)
		}
	}
	return 0, nil
}

// Fence makes every row of a channel with an id above afterID that was written with a timestamp below ts
// invisible for good: one range tombstone per bucket from afterID's to until's. A node that takes a channel
// over from a dead owner calls it with afterID = the newest row it can read and ts above anything the dead
// owner could stamp, so a write the dead owner still had in flight (or a frozen owner that wakes up) can never
// surface later; its senders retry and the new owner stores their messages. Rows written later by the new owner
// carry newer timestamps and are not affected.
func (m *MessageStore) Fence(ctx context.Context, channelID, afterID int64, until time.Time, ts int64) error {
	first, last := Bucket(max(afterID, channelID)), Bucket(snowflake.FirstIDAt(until))
	for b := first; b <= last; b++ {
		err := m.s.Query("DELETE FROM messages USING TIMESTAMP ? WHERE channel_id = ? AND bucket = ? AND message_id > ?",
			ts, channelID, b, afterID).ExecContext(ctx)
		if err != nil {
			return fmt.Errorf("cassandra: fencing channel %d: %w", channelID, err)
		}
	}
	return nil
}

// Before returns up to limit visible messages with id < before (before = 0: the newest), newest first, walking
// buckets backwards until the channel's creation bucket. hasMore reports whether older messages remain.
func (m *MessageStore) Before(ctx context.Context, channelID, before int64, limit int) ([]model.Message, bool, error) {
	// No id is newer than a minute from now: a larger before (or none) starts there instead of walking the
	// empty buckets of the future (before=2^63-1 would be ~2,500 queries).
	if newest := snowflake.FirstIDAt(m.now().Add(time.Minute)); before <= 0 || before > newest {
		before = newest
	}
	var out []model.Message
	for b := Bucket(before - 1); b >= Bucket(channelID) && b >= 0; b-- {
		// No LIMIT: deleted rows are skipped in Go, so page through the bucket until enough visible rows came.
		iter := m.s.Query("SELECT "+selectCols+" FROM messages WHERE channel_id = ? AND bucket = ? AND message_id < ?",
			channelID, b, before).PageSize(limit + 1).IterContext(ctx)
		msgs, err := scanAll(iter, false, limit+1-len(out))
		if err != nil {
			return nil, false, err
		}
		out = append(out, msgs...)
		if len(out) > limit {
			return out[:limit], true, nil
		}
	}
	return out, false, nil
}

// After returns up to limit visible messages with id > after, oldest first. hasMore reports newer ones remain.
func (m *MessageStore) After(ctx context.Context, channelID, after int64, limit int) ([]model.Message, bool, error) {
	return m.after(ctx, channelID, after, limit, false)
}

// Range is After with deleted rows included (Deleted set, no content): the search index's catch-up reads it.
func (m *MessageStore) Range(ctx context.Context, channelID, after int64, limit int) ([]model.Message, bool, error) {
	return m.after(ctx, channelID, after, limit, true)
}

func (m *MessageStore) after(ctx context.Context, channelID, after int64, limit int, includeDeleted bool) ([]model.Message, bool, error) {
	if after < channelID {
		after = channelID
	}
	var out []model.Message
	last := Bucket(snowflake.FirstIDAt(m.now().Add(time.Minute)))
	for b := Bucket(after); b <= last; b++ {
		iter := m.s.Query("SELECT "+selectCols+" FROM messages WHERE channel_id = ? AND bucket = ? AND message_id > ? ORDER BY message_id ASC",
			channelID, b, after).PageSize(limit + 1).IterContext(ctx)
		msgs, err := scanAll(iter, includeDeleted, limit+1-len(out))
		if err != nil {
			return nil, false, err
		}
		out = append(out, msgs...)
		if len(out) > limit {
			return out[:limit], true, nil
		}
	}
	return out, false, nil
}

// scanAll reads up to max rows (deleted ones skipped unless includeDeleted) and closes the iterator.
func scanAll(iter *gocql.Iter, includeDeleted bool, max int) ([]model.Message, error) {
	var out []model.Message
	var (
		msg      model.Message
		editedAt time.Time
		deleted  bool
		mentions []int64
		everyone bool
		replyTo  int64
		kind     string
		enc      bool
		files    string
	)
	for len(out) < max && iter.Scan(&msg.ChannelID, &msg.ID, &msg.SenderID, &msg.Content, &msg.Nonce, &editedAt, &deleted, &mentions, &everyone, &replyTo, &kind, &enc, &files) {
		if deleted && !includeDeleted {
			continue
		}
		m := msg
		m.Deleted = deleted
		m.Mentions, m.MentionEveryone, m.ReplyTo, m.Kind, m.Encrypted = mentions, everyone, replyTo, kind, enc
		m.Attachments = decodeAttachments(m.ChannelID, m.ID, m.SenderID, files)
		m.CreatedAt = snowflake.Time(m.ID)
		if !editedAt.IsZero() {
			t := editedAt.UTC()
			m.EditedAt = &t
		}
		out = append(out, m)
		editedAt, deleted, mentions, everyone, replyTo, kind, enc, files = time.Time{}, false, nil, false, 0, "", false, ""
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("cassandra: reading messages: %w", err)
	}
	return out, nil
}
