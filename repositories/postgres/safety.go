package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parleychat/parley/internal/model"
)

// This file holds what keeps a community safe (issue #22): quotas, the invite list, bans, blocks, who may open a
// DM with whom, and closing or leaving DMs.

// lockServer takes the server row so that counts made under it (channels, usable invites) and bans are not raced
// by concurrent writers; joins take it shared (UseInvite). ErrNotFound if there is no such server.
func lockServer(ctx context.Context, tx pgx.Tx, serverID int64) error {
	tag, err := tx.Exec(ctx, "SELECT 1 FROM servers WHERE id = $1 FOR NO KEY UPDATE", serverID)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// checkServerQuota refuses (ErrLimitReached) a user who is in maxServers servers already; the user's row is locked
// so that two joins at once cannot both pass. maxServers <= 0: no limit.
func checkServerQuota(ctx context.Context, tx pgx.Tx, userID int64, maxServers int) error {
	if maxServers <= 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", userID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM server_members WHERE user_id = $1", userID).Scan(&n); err != nil {
		return err
	}
	if n >= maxServers {
		return model.ErrLimitReached
	}
	return nil
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// SetMembersCanInvite changes whether plain members may create invites.
func (s *CommunityStore) SetMembersCanInvite(ctx context.Context, serverID int64, allowed bool) error {
	tag, err := s.db.Exec(ctx, "UPDATE servers SET members_can_invite = $2 WHERE id = $1", serverID, allowed)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// maxListed bounds the invite and ban lists (the invite quota is below it; bans past it are the oldest).
const maxListed = 1000

// Invites lists a server's invites, newest first (usable or not: the list shows which expired or were used up).
func (s *CommunityStore) Invites(ctx context.Context, serverID int64) ([]model.Invite, error) {
	rows, err := s.db.Query(ctx, `SELECT code, server_id, creator_id, max_uses, uses, expires_at, created_at FROM invites
		WHERE server_id = $1 ORDER BY created_at DESC, code LIMIT $2`, serverID, maxListed)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Invite, error) {
		var inv model.Invite
		err := r.Scan(&inv.Code, &inv.ServerID, &inv.CreatorID, &inv.MaxUses, &inv.Uses, &inv.ExpiresAt, &inv.CreatedAt)
		return inv, err
	})
}

// DeleteInvite revokes one of a server's invites; ErrNotFound if the server has no such invite.
func (s *CommunityStore) DeleteInvite(ctx context.Context, serverID int64, code string) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM invites WHERE server_id = $1 AND code = $2", serverID, code)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// Ban records a ban (a second ban of the same user updates its reason), removes the membership and revokes the
// invites the user created in the server, in one transaction under the server's row lock, so no join can slip
// between the ban and the removal. It reports whether the user was a member; ErrNotFound for an unknown user or
// server.
func (s *CommunityStore) Ban(ctx context.Context, b model.Ban) (wasMember bool, err error) {
	var by any
	if b.BannedBy != 0 {
		by = b.BannedBy
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := lockServer(ctx, tx, b.ServerID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO server_bans (server_id, user_id, banned_by, reason) VALUES ($1, $2, $3, $4)
			ON CONFLICT (server_id, user_id) DO UPDATE SET reason = EXCLUDED.reason, banned_by = EXCLUDED.banned_by`,
			b.ServerID, b.User.ID, by, b.Reason); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM server_members WHERE server_id = $1 AND user_id = $2", b.ServerID, b.User.ID)
		if err != nil {
			return err
		}
		wasMember = tag.RowsAffected() > 0
		_, err = tx.Exec(ctx, "DELETE FROM invites WHERE server_id = $1 AND creator_id = $2", b.ServerID, b.User.ID)
		return err
	})
	if isForeignKeyViolation(err) {
		return false, model.ErrNotFound
	}
	return wasMember, err
}

// Bans lists a server's bans with the banned users' profiles, newest first.
func (s *CommunityStore) Bans(ctx context.Context, serverID int64) ([]model.Ban, error) {
	rows, err := s.db.Query(ctx, `SELECT b.server_id, COALESCE(b.banned_by, 0), b.reason, b.created_at, `+prefixed("u", userCols)+`
		FROM server_bans b JOIN users u ON u.id = b.user_id WHERE b.server_id = $1 ORDER BY b.created_at DESC, b.user_id LIMIT $2`, serverID, maxListed)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Ban, error) {
		var b model.Ban
		u := &b.User
		err := r.Scan(&b.ServerID, &b.BannedBy, &b.Reason, &b.CreatedAt, &u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.DisplayName, &u.AvatarURL, &u.Disabled, &u.CreatedAt)
		return b, err
	})
}

// Unban lifts a ban; ErrNotFound if there was none.
func (s *CommunityStore) Unban(ctx context.Context, serverID, userID int64) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM server_bans WHERE server_id = $1 AND user_id = $2", serverID, userID)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// Block records that blocker blocks blocked (idempotent); ErrNotFound if either user does not exist.
func (s *CommunityStore) Block(ctx context.Context, blocker, blocked int64) error {
	_, err := s.db.Exec(ctx, "INSERT INTO user_blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", blocker, blocked)
	if isForeignKeyViolation(err) {
		return model.ErrNotFound
	}
	return err
}

// Unblock removes a block (idempotent).
func (s *CommunityStore) Unblock(ctx context.Context, blocker, blocked int64) error {
	_, err := s.db.Exec(ctx, "DELETE FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2", blocker, blocked)
	return err
}

// Blocked lists the users a user blocks, most recently blocked first.
func (s *CommunityStore) Blocked(ctx context.Context, userID int64) ([]model.User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+prefixed("u", userCols)+` FROM user_blocks b JOIN users u ON u.id = b.blocked_id
		WHERE b.blocker_id = $1 ORDER BY b.created_at DESC, u.id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.User, error) { return scanUser(r) })
}

// Blocks splits `others` into those the user blocks and those who block the user (one may be in both).
func (s *CommunityStore) Blocks(ctx context.Context, userID int64, others []int64) (blockedByMe, blockingMe []int64, err error) {
	rows, err := s.db.Query(ctx, `SELECT blocker_id, blocked_id FROM user_blocks
		WHERE (blocker_id = $1 AND blocked_id = ANY($2)) OR (blocked_id = $1 AND blocker_id = ANY($2))`, userID, others)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			return nil, nil, err
		}
		if from == userID {
			blockedByMe = append(blockedByMe, to)
		} else {
			blockingMe = append(blockingMe, from)
		}
	}
	return blockedByMe, blockingMe, rows.Err()
}

// DMPolicy returns who may open a new DM with the user (model.DMFrom*); ErrNotFound for an unknown user.
func (s *CommunityStore) DMPolicy(ctx context.Context, userID int64) (string, error) {
	var p string
	err := s.db.QueryRow(ctx, "SELECT dm_policy FROM users WHERE id = $1", userID).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", model.ErrNotFound
	}
	return p, err
}

// SetDMPolicy changes who may open a new DM with the user.
func (s *CommunityStore) SetDMPolicy(ctx context.Context, userID int64, policy string) error {
	tag, err := s.db.Exec(ctx, "UPDATE users SET dm_policy = $2, updated_at = now() WHERE id = $1", userID, policy)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// NotDMable returns those of `others` with whom the user may not open a new DM: they accept DMs only from people
// who share a server with them, and the user shares neither a server nor a DM with them.
func (s *CommunityStore) NotDMable(ctx context.Context, userID int64, others []int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT u.id FROM users u WHERE u.id = ANY($2) AND u.dm_policy <> 'everyone'
		AND NOT EXISTS (SELECT 1 FROM server_members me JOIN server_members o ON o.server_id = me.server_id WHERE me.user_id = $1 AND o.user_id = u.id)
		AND NOT EXISTS (SELECT 1 FROM dm_participants me JOIN dm_participants o ON o.channel_id = me.channel_id WHERE me.user_id = $1 AND o.user_id = u.id)
		ORDER BY u.id`, userID, others)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// DMByKey returns the id of the 1:1 DM with this key; ErrNotFound if the pair has none yet.
func (s *CommunityStore) DMByKey(ctx context.Context, key string) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, "SELECT id FROM channels WHERE dm_key = $1", key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, model.ErrNotFound
	}
	return id, err
}

// DMGroup reports whether a DM the user takes part in is a group DM (false: a 1:1 DM); ErrNotFound if the user is
// not a participant of such a DM.
func (s *CommunityStore) DMGroup(ctx context.Context, channelID, userID int64) (bool, error) {
	var group bool
	err := s.db.QueryRow(ctx, `SELECT c.dm_key IS NULL FROM channels c JOIN dm_participants p ON p.channel_id = c.id AND p.user_id = $2
		WHERE c.id = $1 AND c.kind = 'dm'`, channelID, userID).Scan(&group)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, model.ErrNotFound
	}
	return group, err
}

// CloseDM hides a DM from one participant's list until a message with an id above `after` arrives.
func (s *CommunityStore) CloseDM(ctx context.Context, channelID, userID, after int64) error {
	tag, err := s.db.Exec(ctx, "UPDATE dm_participants SET closed_after = $3 WHERE channel_id = $1 AND user_id = $2", channelID, userID, after)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// ReopenDMs lists the given DMs for the user again.
func (s *CommunityStore) ReopenDMs(ctx context.Context, userID int64, channelIDs []int64) error {
	_, err := s.db.Exec(ctx, "UPDATE dm_participants SET closed_after = NULL WHERE user_id = $1 AND channel_id = ANY($2) AND closed_after IS NOT NULL", userID, channelIDs)
	return err
}

// LeaveDM removes a participant from a DM and returns who is left; the DM itself is deleted once nobody is.
func (s *CommunityStore) LeaveDM(ctx context.Context, channelID, userID int64) (remaining []int64, err error) {
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM dm_participants WHERE channel_id = $1 AND user_id = $2", channelID, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return model.ErrNotFound
		}
		rows, err := tx.Query(ctx, "SELECT user_id FROM dm_participants WHERE channel_id = $1 ORDER BY user_id", channelID)
		if err != nil {
			return err
		}
		if remaining, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		if len(remaining) == 0 {
			_, err = tx.Exec(ctx, "DELETE FROM channels WHERE id = $1 AND kind = 'dm'", channelID)
		}
		return err
	})
	return remaining, err
}

// DMBlockers returns, for a 1:1 DM, which of its two participants block the other (nobody may send in it then);
// empty for an unblocked 1:1 DM, a group DM or a text channel.
func (s *CommunityStore) DMBlockers(ctx context.Context, channelID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT a.user_id FROM channels c
		JOIN dm_participants a ON a.channel_id = c.id JOIN dm_participants b ON b.channel_id = c.id AND b.user_id <> a.user_id
		JOIN user_blocks k ON k.blocker_id = a.user_id AND k.blocked_id = b.user_id
		WHERE c.id = $1 AND c.dm_key IS NOT NULL ORDER BY a.user_id`, channelID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
