// Package keystore is the key service's storage in PostgreSQL (schema `keys`, its own migrations): devices,
// key packages, MLS groups with their ordered Commit log, and Welcome messages. It also reads the chat
// server's `sessions` table (Sessions) so the key service honours revoked sessions.
package keystore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/repositories/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable keeps the key service's schema version apart from the chat server's, so both can share one
// database.
const migrationsTable = "keys_schema_migrations"

// Migrate applies the key service's pending migrations and returns the schema version.
func Migrate(dsn string) (uint, error) {
	return postgres.MigrateFS(dsn, migrationFiles, migrationsTable)
}

// Store implements the key service's storage on a pool.
type Store struct{ db *pgxpool.Pool }

func New(db *pgxpool.Pool) *Store { return &Store{db: db} }

func conflict(msg string) error { return fmt.Errorf("%w: %s", model.ErrConflict, msg) }

// CreateDevice registers a device for a user.
func (s *Store) CreateDevice(ctx context.Context, userID int64, name string, signatureKey []byte) (model.KeyDevice, error) {
	d := model.KeyDevice{UserID: userID, Name: name, SignatureKey: signatureKey}
	err := s.db.QueryRow(ctx, `INSERT INTO keys.devices (user_id, name, signature_key) VALUES ($1, $2, $3)
		RETURNING id, created_at`, userID, name, signatureKey).Scan(&d.ID, &d.CreatedAt)
	return d, err
}

// CountDevices counts a user's active devices.
func (s *Store) CountDevices(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM keys.devices WHERE user_id = $1 AND removed_at IS NULL`, userID).Scan(&n)
	return n, err
}

const deviceCols = `d.id, d.user_id, d.name, d.signature_key, d.created_at, d.removed_at,
	(SELECT count(*) FROM keys.key_packages k WHERE k.device_id = d.id AND NOT k.last_resort)`

func scanDevice(row pgx.Row) (model.KeyDevice, error) {
	var d model.KeyDevice
	err := row.Scan(&d.ID, &d.UserID, &d.Name, &d.SignatureKey, &d.CreatedAt, &d.RemovedAt, &d.KeyPackages)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, model.ErrNotFound
	}
	return d, err
}

// Device returns one device, removed or not.
func (s *Store) Device(ctx context.Context, id int64) (model.KeyDevice, error) {
	return scanDevice(s.db.QueryRow(ctx, `SELECT `+deviceCols+` FROM keys.devices d WHERE d.id = $1`, id))
}

// Devices lists a user's active devices, oldest first.
func (s *Store) Devices(ctx context.Context, userID int64) ([]model.KeyDevice, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deviceCols+` FROM keys.devices d
		WHERE d.user_id = $1 AND d.removed_at IS NULL ORDER BY d.id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.KeyDevice, error) { return scanDevice(r) })
}

// RemoveDevice marks a user's device removed, drops its key packages and waiting Welcomes, and marks every
// group it is in as owing a membership Commit. It returns those groups.
func (s *Store) RemoveDevice(ctx context.Context, userID, deviceID int64, now time.Time) ([]string, error) {
	var groups []string
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE keys.devices SET removed_at = $3 WHERE id = $1 AND user_id = $2 AND removed_at IS NULL`,
			deviceID, userID, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return model.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM keys.key_packages WHERE device_id = $1`, deviceID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM keys.welcomes WHERE device_id = $1`, deviceID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE keys.groups SET membership_due_since = COALESCE(membership_due_since, $2)
			WHERE id IN (SELECT group_id FROM keys.group_members WHERE device_id = $1) RETURNING id`, deviceID, now)
		if err != nil {
			return err
		}
		groups, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return groups, err
}

// PublishKeyPackages stores one-time key packages and, when lastResort is not nil, replaces the device's
// last-resort package. It returns the number of one-time packages the device has now.
func (s *Store) PublishKeyPackages(ctx context.Context, deviceID int64, oneTime [][]byte, lastResort []byte) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Serialise publishes of one device so the count limit holds.
		var removed *time.Time
		if err := tx.QueryRow(ctx, `SELECT removed_at FROM keys.devices WHERE id = $1 FOR UPDATE`, deviceID).Scan(&removed); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return model.ErrNotFound
			}
			return err
		}
		if removed != nil {
			return model.ErrNotFound
		}
		if len(oneTime) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO keys.key_packages (device_id, data) SELECT $1, unnest($2::bytea[])`, deviceID, oneTime); err != nil {
				return err
			}
		}
		if lastResort != nil {
			if _, err := tx.Exec(ctx, `DELETE FROM keys.key_packages WHERE device_id = $1 AND last_resort`, deviceID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keys.key_packages (device_id, data, last_resort) VALUES ($1, $2, true)`, deviceID, lastResort); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM keys.key_packages WHERE device_id = $1 AND NOT last_resort`, deviceID).Scan(&n)
	})
	return n, err
}

// ClaimKeyPackages hands out one key package for every active device of a user but the one excluded (the
// claimer's own): a one-time package, deleted in the same statement so no two claims get it (SKIP LOCKED: a
// concurrent claim takes the next one instead of waiting and then finding nothing), else the last-resort one.
func (s *Store) ClaimKeyPackages(ctx context.Context, userID, exceptDevice int64) ([]model.ClaimedKeyPackage, error) {
	var out []model.ClaimedKeyPackage
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM keys.devices WHERE user_id = $1 AND removed_at IS NULL AND id <> $2 ORDER BY id`, userID, exceptDevice)
		if err != nil {
			return err
		}
		devices, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, dev := range devices {
			c := model.ClaimedKeyPackage{DeviceID: dev, UserID: userID}
			err := tx.QueryRow(ctx, `DELETE FROM keys.key_packages WHERE id = (
					SELECT id FROM keys.key_packages WHERE device_id = $1 AND NOT last_resort ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
				RETURNING data`, dev).Scan(&c.Data)
			if errors.Is(err, pgx.ErrNoRows) {
				c.LastResort = true
				err = tx.QueryRow(ctx, `SELECT data FROM keys.key_packages WHERE device_id = $1 AND last_resort`, dev).Scan(&c.Data)
				if errors.Is(err, pgx.ErrNoRows) {
					continue // the device published nothing: it cannot be added now
				}
			}
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// CreateGroup creates a group at epoch 0 with its creator's device as the only member.
func (s *Store) CreateGroup(ctx context.Context, g model.KeyGroup, creator model.KeyDevice) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var ch *int64
		if g.ChannelID != 0 {
			ch = &g.ChannelID
		}
		_, err := tx.Exec(ctx, `INSERT INTO keys.groups (id, channel_id, epoch, epoch_started_at, created_by) VALUES ($1, $2, 0, $3, $4)`,
			g.ID, ch, g.EpochStartedAt, g.CreatedBy)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return conflict("a group with this id exists")
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO keys.group_members (group_id, device_id, user_id) VALUES ($1, $2, $3)`, g.ID, creator.ID, creator.UserID)
		return err
	})
}

const groupCols = `id, COALESCE(channel_id, 0), epoch, epoch_started_at, messages, membership_due_since, created_by`

func scanGroup(row pgx.Row) (model.KeyGroup, error) {
	var g model.KeyGroup
	err := row.Scan(&g.ID, &g.ChannelID, &g.Epoch, &g.EpochStartedAt, &g.Messages, &g.MembershipDueSince, &g.CreatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return g, model.ErrNotFound
	}
	return g, err
}

// Group returns a group.
func (s *Store) Group(ctx context.Context, id string) (model.KeyGroup, error) {
	return scanGroup(s.db.QueryRow(ctx, `SELECT `+groupCols+` FROM keys.groups WHERE id = $1`, id))
}

// GroupsOfUser lists the groups where the user has a device, optionally only those of one channel.
func (s *Store) GroupsOfUser(ctx context.Context, userID, channelID int64) ([]model.KeyGroup, error) {
	rows, err := s.db.Query(ctx, `SELECT `+groupCols+` FROM keys.groups
		WHERE id IN (SELECT group_id FROM keys.group_members WHERE user_id = $1) AND ($2::bigint = 0 OR channel_id = $2::bigint)
		ORDER BY created_at, id`, userID, channelID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.KeyGroup, error) { return scanGroup(r) })
}

// Members lists a group's devices.
func (s *Store) Members(ctx context.Context, groupID string) ([]model.KeyGroupMember, error) {
	rows, err := s.db.Query(ctx, `SELECT m.device_id, m.user_id, d.removed_at IS NOT NULL FROM keys.group_members m
		JOIN keys.devices d ON d.id = m.device_id WHERE m.group_id = $1 ORDER BY m.device_id`, groupID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.KeyGroupMember, error) {
		var m model.KeyGroupMember
		err := r.Scan(&m.DeviceID, &m.UserID, &m.Removed)
		return m, err
	})
}

// Commit orders a Commit: it is accepted only if the group is still at req.Epoch (the row lock makes
// concurrent Commits for one epoch queue up, and all but the first find the epoch moved: ErrStaleEpoch).
// Adds need active devices that are not members yet, removes need members; each added device gets the
// Welcome. The group moves to the next epoch with a fresh message count.
func (s *Store) Commit(ctx context.Context, req model.CommitRequest) (int64, error) {
	var epoch int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT epoch FROM keys.groups WHERE id = $1 FOR UPDATE`, req.GroupID).Scan(&epoch); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return model.ErrNotFound
			}
			return err
		}
		if epoch != req.Epoch {
			return model.ErrStaleEpoch
		}
		if _, err := tx.Exec(ctx, `INSERT INTO keys.commits (group_id, epoch, sender, data, created_at) VALUES ($1, $2, $3, $4, $5)`,
			req.GroupID, req.Epoch, req.Sender, req.Data, req.Now); err != nil {
			return err
		}
		if len(req.Removes) > 0 {
			tag, err := tx.Exec(ctx, `DELETE FROM keys.group_members WHERE group_id = $1 AND device_id = ANY($2)`, req.GroupID, req.Removes)
			if err != nil {
				return err
			}
			if int(tag.RowsAffected()) != len(req.Removes) {
				return conflict("a removed device is not a member of the group")
			}
		}
		if len(req.Adds) > 0 {
			tag, err := tx.Exec(ctx, `INSERT INTO keys.group_members (group_id, device_id, user_id, seen_epoch)
				SELECT $1, id, user_id, $3 FROM keys.devices WHERE id = ANY($2) AND removed_at IS NULL
				ON CONFLICT DO NOTHING`, req.GroupID, req.Adds, req.Epoch+1)
			if err != nil {
				return err
			}
			if int(tag.RowsAffected()) != len(req.Adds) {
				return conflict("an added device is unknown, removed or already a member")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keys.welcomes (device_id, group_id, epoch, data)
				SELECT unnest($1::bigint[]), $2, $3, $4`, req.Adds, req.GroupID, req.Epoch+1, req.Welcome); err != nil {
				return err
			}
		}
		epoch = req.Epoch + 1
		if _, err := tx.Exec(ctx, `UPDATE keys.groups SET epoch = $2, epoch_started_at = $3, messages = 0,
			membership_due_since = CASE WHEN EXISTS (SELECT 1 FROM keys.group_members m JOIN keys.devices d ON d.id = m.device_id
				WHERE m.group_id = $1 AND d.removed_at IS NOT NULL) THEN membership_due_since END
			WHERE id = $1`, req.GroupID, epoch, req.Now); err != nil {
			return err
		}
		// A removed member no longer holds pruning back. (The sender's own seen_epoch moves only when it asks from
		// the new epoch on: until it has stored its new state it may still need its own Commit.)
		_, err := pruneCommits(ctx, tx, req.GroupID)
		return err
	})
	return epoch, err
}

// pruneCommits drops the Commits every member device has passed (below the lowest seen_epoch): nobody can
// need them, as a device that joins later starts from its Welcome.
func pruneCommits(ctx context.Context, tx pgx.Tx, groupID string) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM keys.commits WHERE group_id = $1
		AND epoch < (SELECT min(seen_epoch) FROM keys.group_members WHERE group_id = $1)`, groupID)
	return tag.RowsAffected(), err
}

// Seen records that a member device has reached an epoch (at most the group's) and prunes the Commits every
// member has passed. It returns how many were pruned; a device that is not a member changes nothing.
func (s *Store) Seen(ctx context.Context, groupID string, deviceID, epoch int64) (int64, error) {
	var pruned int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE keys.group_members SET seen_epoch = $3
			WHERE group_id = $1 AND device_id = $2 AND seen_epoch < $3
			  AND $3 <= (SELECT epoch FROM keys.groups WHERE id = $1)`, groupID, deviceID, epoch)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		pruned, err = pruneCommits(ctx, tx, groupID)
		return err
	})
	return pruned, err
}

// Commits returns the Commits from epoch `since` on, in order (at most limit).
func (s *Store) Commits(ctx context.Context, groupID string, since int64, limit int) ([]model.KeyCommit, error) {
	rows, err := s.db.Query(ctx, `SELECT group_id, epoch, sender, data, created_at FROM keys.commits
		WHERE group_id = $1 AND epoch >= $2 ORDER BY epoch LIMIT $3`, groupID, since, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.KeyCommit, error) {
		var c model.KeyCommit
		err := r.Scan(&c.GroupID, &c.Epoch, &c.Sender, &c.Data, &c.CreatedAt)
		return c, err
	})
}

// Welcomes returns the Welcomes waiting for a device.
func (s *Store) Welcomes(ctx context.Context, deviceID int64) ([]model.KeyWelcome, error) {
	rows, err := s.db.Query(ctx, `SELECT id, device_id, group_id, epoch, data FROM keys.welcomes WHERE device_id = $1 ORDER BY id LIMIT 100`, deviceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.KeyWelcome, error) {
		var w model.KeyWelcome
		err := r.Scan(&w.ID, &w.DeviceID, &w.GroupID, &w.Epoch, &w.Data)
		return w, err
	})
}

// AckWelcome deletes a Welcome the device has processed.
func (s *Store) AckWelcome(ctx context.Context, deviceID, id int64) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM keys.welcomes WHERE id = $1 AND device_id = $2`, id, deviceID)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// MessageLimits are the rotation policy's hard limits for one application message.
type MessageLimits struct {
	MaxMessages       int64     // refuse once this many were counted in the epoch
	EpochStartedAfter time.Time // refuse if the epoch started before this
	DueSinceAfter     time.Time // refuse if a membership Commit has been owed since before this
}

// CountMessage counts one application message in the group's current epoch, in one statement that also checks
// the epoch and the hard limits, and returns the epoch's count with it. 0 means nothing was counted (the caller
// reloads the group to say why).
func (s *Store) CountMessage(ctx context.Context, groupID string, epoch int64, lim MessageLimits) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `UPDATE keys.groups SET messages = messages + 1
		WHERE id = $1 AND epoch = $2 AND messages < $3 AND epoch_started_at > $4
		  AND (membership_due_since IS NULL OR membership_due_since > $5)
		RETURNING messages`,
		groupID, epoch, lim.MaxMessages, lim.EpochStartedAfter, lim.DueSinceAfter).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// DueGroup is a group whose epoch turned due for rotation by age, as claimed by one sweep.
type DueGroup struct {
	ID    string
	Epoch int64
}

// ClaimDueByAge marks up to limit groups whose current epoch started at or before startedBefore and was not
// announced yet as announced, and returns them. Concurrent callers (the key service's replicas) never get the
// same group epoch: SKIP LOCKED passes over rows another sweep holds, and the locked row's condition is checked
// again on its newest version, so a group epoch announced meanwhile is left out.
func (s *Store) ClaimDueByAge(ctx context.Context, startedBefore time.Time, limit int) ([]DueGroup, error) {
	rows, err := s.db.Query(ctx, `UPDATE keys.groups g SET age_announced_epoch = g.epoch
		FROM (SELECT id FROM keys.groups
		       WHERE epoch_started_at <= $1 AND age_announced_epoch IS DISTINCT FROM epoch
		       ORDER BY epoch_started_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
		WHERE g.id = due.id RETURNING g.id, g.epoch`, startedBefore, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DueGroup, error) {
		var d DueGroup
		err := r.Scan(&d.ID, &d.Epoch)
		return d, err
	})
}

// GroupUsers returns the users with a device in any of the groups (whom a change of those groups concerns).
func (s *Store) GroupUsers(ctx context.Context, groupIDs []string) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT user_id FROM keys.group_members WHERE group_id = ANY($1) ORDER BY user_id`, groupIDs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// Peers returns the users who share a group with the user (the user included when they are in any group).
func (s *Store) Peers(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT o.user_id FROM keys.group_members m
		JOIN keys.group_members o ON o.group_id = m.group_id WHERE m.user_id = $1 ORDER BY o.user_id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// Sessions answers whether a chat-server session is live, reading the chat server's `sessions` table (the key
// service shares the access tokens, so a logout or a revocation must end its access too).
type Sessions struct{ db *pgxpool.Pool }

func NewSessions(chatDB *pgxpool.Pool) *Sessions { return &Sessions{db: chatDB} }

// SessionOwner returns the user of a live session, or model.ErrNotFound.
func (s *Sessions) SessionOwner(ctx context.Context, sessionID int64, now time.Time) (int64, error) {
	var uid int64
	err := s.db.QueryRow(ctx, `SELECT user_id FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2`, sessionID, now).Scan(&uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, model.ErrNotFound
	}
	return uid, err
}
