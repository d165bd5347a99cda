package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"golang.org/x/sync/errgroup"

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

// InsertBatch stores messages durably: nonce rows and message rows, in single-partition (messages) or
// size-capped (nonces) unlogged batches, all sent at once so the whole call costs about one commit-log sync
// instead of one per step. Every write is idempotent (fixed ids), so a failed call can simply be retried.
// The call returns only when every row is stored. If the process dies midway, a nonce may point at a missing
// message (FindByNonce treats that as "not stored": correct, it was never acknowledged) or, rarely, a message
// may lack its nonce row; the messaging service also checks the channel's recent messages for the nonce.
func (m *MessageStore) InsertBatch(ctx context.Context, msgs []model.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	const nonceCQL = "INSERT INTO message_nonces (sender_id, nonce, channel_id, message_id) VALUES (?, ?, ?, ?)"
	const msgCQL = "INSERT INTO messages (channel_id, bucket, message_id, sender_id, content, nonce, deleted) VALUES (?, ?, ?, ?, ?, ?, false)"

	var chunks [][]func(*gocql.Batch)
	var cur []func(*gocql.Batch)
	size := 0
	push := func(n int, add func(*gocql.Batch)) {
		if len(cur) > 0 && (size+n > maxBatchBytes || len(cur) >= 100) {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, add)
		size += n
	}
	for _, msg := range msgs {
		if msg.Nonce == "" {
			continue
		}
		msg := msg
		push(len(msg.Nonce)+32, func(b *gocql.Batch) { b.Query(nonceCQL, msg.SenderID, msg.Nonce, msg.ChannelID, msg.ID) })
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
		cur, size = nil, 0
	}
	nonceChunks := len(chunks)

	lastPartition := [2]int64{-1, -1}
	for _, msg := range msgs {
		msg := msg
		part := [2]int64{msg.ChannelID, int64(Bucket(msg.ID))}
		if part != lastPartition && len(cur) > 0 { // one partition per batch: atomic and cheap for Cassandra
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		lastPartition = part
		push(len(msg.Content)+len(msg.Nonce)+48, func(b *gocql.Batch) {
			b.Query(msgCQL, msg.ChannelID, Bucket(msg.ID), msg.ID, msg.SenderID, msg.Content, msg.Nonce)
		})
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	if err := m.runChunks(ctx, chunks); err != nil {
		return fmt.Errorf("cassandra: storing %d messages (%d nonce batches, %d message batches): %w",
			len(msgs), nonceChunks, len(chunks)-nonceChunks, err)
	}
	return nil
}

// runChunks sends every batch concurrently; with group commit their syncs overlap.
func (m *MessageStore) runChunks(ctx context.Context, chunks [][]func(*gocql.Batch)) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, chunk := range chunks {
		g.Go(func() error {
			b := m.s.Batch(gocql.UnloggedBatch)
			for _, add := range chunk {
				add(b)
			}
			return b.ExecContext(ctx)
		})
	}
	return g.Wait()
}

// FindByNonce returns the stored message a (sender, nonce) pair produced, if any (within the nonce TTL).
func (m *MessageStore) FindByNonce(ctx context.Context, senderID int64, nonce string) (model.Message, bool, error) {
	var channelID, messageID int64
	err := m.s.Query("SELECT channel_id, message_id FROM message_nonces WHERE sender_id = ? AND nonce = ?", senderID, nonce).
		ScanContext(ctx, &channelID, &messageID)
	if errors.Is(err, gocql.ErrNotFound) {
		return model.Message{}, false, nil
	}
	if err != nil {
		return model.Message{}, false, fmt.Errorf("cassandra: nonce lookup: %w", err)
	}
	msg, err := m.Get(ctx, channelID, messageID)
	if errors.Is(err, ErrNotFound) {
		return model.Message{}, false, nil
	}
	return msg, err == nil, err
}

// ErrNotFound is returned by Get for a missing message.
var ErrNotFound = model.ErrNotFound

const selectCols = "channel_id, message_id, sender_id, content, nonce, edited_at, deleted"

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

// Edit replaces a stored message's content. The caller has checked that the message exists.
func (m *MessageStore) Edit(ctx context.Context, channelID, messageID int64, content string, editedAt time.Time) error {
	return m.s.Query("UPDATE messages SET content = ?, edited_at = ? WHERE channel_id = ? AND bucket = ? AND message_id = ?",
		content, editedAt, channelID, Bucket(messageID), messageID).ExecContext(ctx)
}

// Delete hides a message from history; its content is erased, its id stays so catch-up can report the delete.
func (m *MessageStore) Delete(ctx context.Context, channelID, messageID int64) error {
	return m.s.Query("UPDATE messages SET content = '', deleted = true WHERE channel_id = ? AND bucket = ? AND message_id = ?",
		channelID, Bucket(messageID), messageID).ExecContext(ctx)
}

// Before returns up to limit visible messages with id < before (before = 0: the newest), newest first, walking
// buckets backwards until the channel's creation bucket. hasMore reports whether older messages remain.
func (m *MessageStore) Before(ctx context.Context, channelID, before int64, limit int) ([]model.Message, bool, error) {
	if before <= 0 {
		before = snowflake.FirstIDAt(m.now().Add(time.Minute))
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
	if after < channelID {
		after = channelID
	}
	var out []model.Message
	last := Bucket(snowflake.FirstIDAt(m.now().Add(time.Minute)))
	for b := Bucket(after); b <= last; b++ {
		iter := m.s.Query("SELECT "+selectCols+" FROM messages WHERE channel_id = ? AND bucket = ? AND message_id > ? ORDER BY message_id ASC",
			channelID, b, after).PageSize(limit + 1).IterContext(ctx)
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

// scanAll reads up to max rows (deleted ones skipped unless includeDeleted) and closes the iterator.
func scanAll(iter *gocql.Iter, includeDeleted bool, max int) ([]model.Message, error) {
	var out []model.Message
	var (
		msg      model.Message
		editedAt time.Time
		deleted  bool
	)
	for len(out) < max && iter.Scan(&msg.ChannelID, &msg.ID, &msg.SenderID, &msg.Content, &msg.Nonce, &editedAt, &deleted) {
		if deleted && !includeDeleted {
			continue
		}
		m := msg
		m.Deleted = deleted
		m.CreatedAt = snowflake.Time(m.ID)
		if !editedAt.IsZero() {
			t := editedAt.UTC()
			m.EditedAt = &t
		}
		out = append(out, m)
		editedAt, deleted = time.Time{}, false
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("cassandra: reading messages: %w", err)
	}
	return out, nil
}
