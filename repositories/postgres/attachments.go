package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/model"
)

// AttachmentStore keeps attachment metadata (issue #17): who uploaded what to which channel, and which message
// carries it. The bytes are in the object store.
type AttachmentStore struct{ db *pgxpool.Pool }

func NewAttachmentStore(db *pgxpool.Pool) *AttachmentStore { return &AttachmentStore{db: db} }

const attachmentCols = "id, owner_id, channel_id, coalesce(message_id, 0), coalesce(nonce, ''), status, name, content_type, size, width, height, object_key, coalesce(preview_key, ''), snippet, created_at, coalesce(claimed_at, 'epoch')"

func scanAttachment(row pgx.Row) (model.Attachment, error) {
	var a model.Attachment
	err := row.Scan(&a.ID, &a.OwnerID, &a.ChannelID, &a.MessageID, &a.Nonce, &a.Status, &a.Name, &a.ContentType, &a.Size,
		&a.Width, &a.Height, &a.ObjectKey, &a.PreviewKey, &a.Snippet, &a.CreatedAt, &a.ClaimedAt)
	a.Preview = a.PreviewKey != ""
	if a.ClaimedAt.Unix() == 0 {
		a.ClaimedAt = time.Time{}
	}
	return a, err
}

// Create records an uploaded file (status ready).
func (s *AttachmentStore) Create(ctx context.Context, a model.Attachment) error {
	var preview any
	if a.PreviewKey != "" {
		preview = a.PreviewKey
	}
	_, err := s.db.Exec(ctx, `INSERT INTO attachments (id, owner_id, channel_id, status, name, content_type, size, width, height,
		object_key, preview_key, snippet, created_at) VALUES ($1, $2, $3, 'ready', $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.ID, a.OwnerID, a.ChannelID, a.Name, a.ContentType, a.Size, a.Width, a.Height, a.ObjectKey, preview, a.Snippet, a.CreatedAt)
	return err
}

// Get returns one attachment; model.ErrNotFound if there is none.
func (s *AttachmentStore) Get(ctx context.Context, id int64) (model.Attachment, error) {
	a, err := scanAttachment(s.db.QueryRow(ctx, "SELECT "+attachmentCols+" FROM attachments WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, model.ErrNotFound
	}
	return a, err
}

// Claim marks the owner's uploads to a channel as taken by one send (owner, channel, nonce), all or none, and
// returns them in the order asked. A retry of the same send claims them again; an upload that another send
// took, another user's, another channel's or a missing one makes the whole claim fail with model.ErrNotFound.
func (s *AttachmentStore) Claim(ctx context.Context, ownerID, channelID int64, nonce string, ids []int64) ([]model.Attachment, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, `UPDATE attachments SET status = CASE WHEN status = 'attached' THEN status ELSE 'claimed' END, nonce = $3,
		claimed_at = CASE WHEN status = 'attached' THEN claimed_at ELSE now() END
		WHERE id = ANY($4) AND owner_id = $1 AND channel_id = $2 AND (status = 'ready' OR nonce = $3)
		RETURNING `+attachmentCols, ownerID, channelID, nonce, ids)
	if err != nil {
		return nil, err
	}
	byID := map[int64]model.Attachment{}
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		byID[a.ID] = a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]model.Attachment, 0, len(ids))
	for _, id := range ids {
		a, ok := byID[id]
		if !ok {
			return nil, model.ErrNotFound
		}
		out = append(out, a)
	}
	return out, tx.Commit(ctx)
}

// Attach records the stored message that carries the attachments.
func (s *AttachmentStore) Attach(ctx context.Context, messageID int64, ids []int64) error {
	_, err := s.db.Exec(ctx, "UPDATE attachments SET status = 'attached', message_id = $1 WHERE id = ANY($2)", messageID, ids)
	return err
}

// Delete removes rows (after their objects were deleted).
func (s *AttachmentStore) Delete(ctx context.Context, ids []int64) error {
	_, err := s.db.Exec(ctx, "DELETE FROM attachments WHERE id = ANY($1)", ids)
	return err
}

// ByIDs returns the attachments with these ids that exist (any status).
func (s *AttachmentStore) ByIDs(ctx context.Context, ids []int64) ([]model.Attachment, error) {
	return s.list(ctx, "SELECT "+attachmentCols+" FROM attachments WHERE id = ANY($1) ORDER BY id", ids)
}

// Unsent returns uploads never sent (status ready) created before a time, oldest first.
func (s *AttachmentStore) Unsent(ctx context.Context, before time.Time, limit int) ([]model.Attachment, error) {
	return s.list(ctx, "SELECT "+attachmentCols+" FROM attachments WHERE status = 'ready' AND created_at < $1 ORDER BY created_at LIMIT $2", before, limit)
}

// StaleClaims returns files a send claimed before a time whose message was never recorded, oldest claim first.
func (s *AttachmentStore) StaleClaims(ctx context.Context, before time.Time, limit int) ([]model.Attachment, error) {
	return s.list(ctx, "SELECT "+attachmentCols+" FROM attachments WHERE status = 'claimed' AND claimed_at < $1 ORDER BY claimed_at LIMIT $2", before, limit)
}

// MarkDeleting records that the message carrying these files is about to be deleted.
func (s *AttachmentStore) MarkDeleting(ctx context.Context, messageID int64, ids []int64) error {
	_, err := s.db.Exec(ctx, "UPDATE attachments SET deleting_at = now(), message_id = $1 WHERE id = ANY($2)", messageID, ids)
	return err
}

// StaleDeletions returns files marked for deletion with their message before a time (a deletion a crash cut short).
func (s *AttachmentStore) StaleDeletions(ctx context.Context, before time.Time, limit int) ([]model.Attachment, error) {
	return s.list(ctx, "SELECT "+attachmentCols+" FROM attachments WHERE deleting_at < $1 ORDER BY deleting_at LIMIT $2", before, limit)
}

// KeepDeleting clears the mark of files whose message was not deleted after all.
func (s *AttachmentStore) KeepDeleting(ctx context.Context, ids []int64) error {
	_, err := s.db.Exec(ctx, "UPDATE attachments SET deleting_at = NULL WHERE id = ANY($1)", ids)
	return err
}

// GoneChannels returns deleted channels that still have files (recorded by a trigger on channels).
func (s *AttachmentStore) GoneChannels(ctx context.Context, limit int) ([]int64, error) {
	rows, err := s.db.Query(ctx, "SELECT channel_id FROM attachment_gone_channels ORDER BY deleted_at LIMIT $1", limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// InChannel returns up to limit files of a channel (any status).
func (s *AttachmentStore) InChannel(ctx context.Context, channelID int64, limit int) ([]model.Attachment, error) {
	return s.list(ctx, "SELECT "+attachmentCols+" FROM attachments WHERE channel_id = $1 ORDER BY id LIMIT $2", channelID, limit)
}

// ForgetGoneChannel drops a deleted channel's record once none of its files remain; it reports whether it did.
func (s *AttachmentStore) ForgetGoneChannel(ctx context.Context, channelID int64) (bool, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM attachment_gone_channels WHERE channel_id = $1
		AND NOT EXISTS (SELECT 1 FROM attachments WHERE channel_id = $1)`, channelID)
	return tag.RowsAffected() > 0, err
}

// ImagesInUse returns which of these avatar/icon paths (/avatars/<id>.png) a user or a server still shows.
func (s *AttachmentStore) ImagesInUse(ctx context.Context, paths []string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT avatar_url FROM users WHERE avatar_url = ANY($1)
		UNION SELECT icon_url FROM servers WHERE icon_url = ANY($1)`, paths)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *AttachmentStore) list(ctx context.Context, q string, args ...any) ([]model.Attachment, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Attachment
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
