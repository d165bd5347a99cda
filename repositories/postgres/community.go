package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/model"
)

// CommunityStore keeps servers, memberships, channels, DMs and invites.
type CommunityStore struct{ db *pgxpool.Pool }

func NewCommunityStore(db *pgxpool.Pool) *CommunityStore { return &CommunityStore{db: db} }

const serverCols = `s.id, s.name, s.owner_id, s.created_at, (SELECT count(*) FROM server_members c WHERE c.server_id = s.id), s.members_can_invite, s.icon_url`

func scanServer(row pgx.Row, withRole bool) (model.Server, error) {
	var s model.Server
	dest := []any{&s.ID, &s.Name, &s.OwnerID, &s.CreatedAt, &s.MemberCount, &s.MembersCanInvite, &s.IconURL}
	if withRole {
		dest = append(dest, &s.Role)
	}
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, model.ErrNotFound
	}
	return s, err
}

// CreateServer inserts a server, its owner's membership and its first channel in one transaction. With
// maxServers > 0, an owner who is already in that many servers gets ErrLimitReached.
func (s *CommunityStore) CreateServer(ctx context.Context, srv model.Server, first model.Channel, maxServers int) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := checkServerQuota(ctx, tx, srv.OwnerID, maxServers); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO servers (id, name, owner_id) VALUES ($1, $2, $3)", srv.ID, srv.Name, srv.OwnerID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO server_members (server_id, user_id, role) VALUES ($1, $2, 'owner')", srv.ID, srv.OwnerID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO channels (id, server_id, kind, name) VALUES ($1, $2, 'text', $3)", first.ID, srv.ID, first.Name)
		return err
	})
}

// ServersOf lists the servers a user belongs to, with the user's role, oldest membership first.
func (s *CommunityStore) ServersOf(ctx context.Context, userID int64) ([]model.Server, error) {
	rows, err := s.db.Query(ctx, "SELECT "+serverCols+", m.role FROM servers s JOIN server_members m ON m.server_id = s.id WHERE m.user_id = $1 ORDER BY m.joined_at, s.id", userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Server, error) { return scanServer(r, true) })
}

// ServerFor returns a server with the user's role; ErrNotFound if it does not exist or the user is not a member.
func (s *CommunityStore) ServerFor(ctx context.Context, serverID, userID int64) (model.Server, error) {
	return scanServer(s.db.QueryRow(ctx, "SELECT "+serverCols+", m.role FROM servers s JOIN server_members m ON m.server_id = s.id AND m.user_id = $2 WHERE s.id = $1", serverID, userID), true)
}

// Server returns a server without a role.
func (s *CommunityStore) Server(ctx context.Context, serverID int64) (model.Server, error) {
	return scanServer(s.db.QueryRow(ctx, "SELECT "+serverCols+" FROM servers s WHERE s.id = $1", serverID), false)
}

// RenameServer changes a server's name.
func (s *CommunityStore) RenameServer(ctx context.Context, serverID int64, name string) error {
	tag, err := s.db.Exec(ctx, "UPDATE servers SET name = $2 WHERE id = $1", serverID, name)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// SetServerIcon sets the path a server's icon is served at ("" for none) and returns the one it replaces.
func (s *CommunityStore) SetServerIcon(ctx context.Context, serverID int64, iconURL string) (string, error) {
	var old string
	err := s.db.QueryRow(ctx, `UPDATE servers n SET icon_url = $2 FROM servers o WHERE n.id = $1 AND o.id = n.id
		RETURNING o.icon_url`, serverID, iconURL).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", model.ErrNotFound
	}
	return old, err
}

// DeleteServer removes a server with its channels, memberships and invites (ON DELETE CASCADE) and returns the
// ids of its channels and former members, for the real-time side effects.
func (s *CommunityStore) DeleteServer(ctx context.Context, serverID int64) (channelIDs, memberIDs []int64, err error) {
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id FROM channels WHERE server_id = $1", serverID)
		if err != nil {
			return err
		}
		if channelIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, "SELECT user_id FROM server_members WHERE server_id = $1", serverID)
		if err != nil {
			return err
		}
		if memberIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM servers WHERE id = $1", serverID)
		if err == nil && tag.RowsAffected() == 0 {
			return model.ErrNotFound
		}
		return err
	})
	return channelIDs, memberIDs, err
}

// Role returns a user's role in a server, or ErrNotFound if not a member.
func (s *CommunityStore) Role(ctx context.Context, serverID, userID int64) (string, error) {
	var role string
	err := s.db.QueryRow(ctx, "SELECT role FROM server_members WHERE server_id = $1 AND user_id = $2", serverID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", model.ErrNotFound
	}
	return role, err
}

// Members lists members by user id after `after`, with their profiles.
func (s *CommunityStore) Members(ctx context.Context, serverID, after int64, limit int) ([]model.Member, error) {
	rows, err := s.db.Query(ctx, `SELECT m.server_id, m.role, m.joined_at, `+prefixed("u", userCols)+`
		FROM server_members m JOIN users u ON u.id = m.user_id
		WHERE m.server_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3`, serverID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Member, error) {
		var m model.Member
		u := &m.User
		err := r.Scan(&m.ServerID, &m.Role, &m.JoinedAt, &u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.DisplayName, &u.AvatarURL, &u.Disabled, &u.CreatedAt)
		return m, err
	})
}

// Member returns one membership with the user's profile.
func (s *CommunityStore) Member(ctx context.Context, serverID, userID int64) (model.Member, error) {
	ms, err := s.Members(ctx, serverID, userID-1, 1)
	if err != nil {
		return model.Member{}, err
	}
	if len(ms) == 0 || ms[0].User.ID != userID {
		return model.Member{}, model.ErrNotFound
	}
	return ms[0], nil
}

// RemoveMember deletes a membership.
func (s *CommunityStore) RemoveMember(ctx context.Context, serverID, userID int64) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM server_members WHERE server_id = $1 AND user_id = $2", serverID, userID)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// SetRole changes a member's role.
func (s *CommunityStore) SetRole(ctx context.Context, serverID, userID int64, role string) error {
	tag, err := s.db.Exec(ctx, "UPDATE server_members SET role = $3 WHERE server_id = $1 AND user_id = $2", serverID, userID, role)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// CreateInvite stores an invite. With maxActive > 0, a server that already has that many usable invites (not
// expired, not used up) gets ErrLimitReached; the server row is locked so concurrent creations cannot pass it.
// Invites that expired more than a week ago are deleted on the way (an old link then reads "invalid", not "expired").
func (s *CommunityStore) CreateInvite(ctx context.Context, inv model.Invite, maxActive int) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if maxActive > 0 {
			if err := lockServer(ctx, tx, inv.ServerID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DELETE FROM invites WHERE server_id = $1 AND expires_at < now() - interval '7 days'", inv.ServerID); err != nil {
				return err
			}
			var active int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM invites WHERE server_id = $1
				AND (expires_at IS NULL OR expires_at > now()) AND (max_uses IS NULL OR uses < max_uses)`, inv.ServerID).Scan(&active); err != nil {
				return err
			}
			if active >= maxActive {
				return model.ErrLimitReached
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO invites (code, server_id, creator_id, max_uses, expires_at) VALUES ($1, $2, $3, $4, $5)",
			inv.Code, inv.ServerID, inv.CreatorID, inv.MaxUses, inv.ExpiresAt)
		return err
	})
	if _, ok := isUniqueViolation(err); ok {
		return model.ErrConflict
	}
	return err
}

// Invite returns an invite by code.
func (s *CommunityStore) Invite(ctx context.Context, code string) (model.Invite, error) {
	var inv model.Invite
	err := s.db.QueryRow(ctx, "SELECT code, server_id, creator_id, max_uses, uses, expires_at, created_at FROM invites WHERE code = $1", code).
		Scan(&inv.Code, &inv.ServerID, &inv.CreatorID, &inv.MaxUses, &inv.Uses, &inv.ExpiresAt, &inv.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, model.ErrNotFound
	}
	return inv, err
}

// Invite use outcomes (the model's errors, named here for callers of this package).
var (
	ErrInviteExpired = model.ErrInviteExpired
	ErrInviteUsedUp  = model.ErrInviteUsedUp
	ErrAlreadyMember = model.ErrAlreadyMember
)

// UseInvite adds a user to the invite's server. The invite row is locked so max_uses holds under concurrency.
// A user who is already a member gets ErrAlreadyMember and the invite is not consumed; a banned user gets
// ErrBanned (the server row is share-locked first, so a ban committing meanwhile is seen); with maxServers > 0, a
// user already in that many servers gets ErrLimitReached.
func (s *CommunityStore) UseInvite(ctx context.Context, code string, userID int64, now time.Time, maxServers int) (int64, error) {
	var serverID int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Lock order servers → invites, as Ban takes it: the server row (shared) first, so a ban committing meanwhile
		// is seen by the check below, then the invite row so max_uses holds.
		err := tx.QueryRow(ctx, "SELECT s.id FROM invites i JOIN servers s ON s.id = i.server_id WHERE i.code = $1 FOR SHARE OF s", code).Scan(&serverID)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		var maxUses *int
		var uses int
		var expires *time.Time
		err = tx.QueryRow(ctx, "SELECT max_uses, uses, expires_at FROM invites WHERE code = $1 FOR UPDATE", code).Scan(&maxUses, &uses, &expires)
		if errors.Is(err, pgx.ErrNoRows) { // revoked meanwhile
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		var exists, banned bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM server_members WHERE server_id = $1 AND user_id = $2),
			EXISTS (SELECT 1 FROM server_bans WHERE server_id = $1 AND user_id = $2)`, serverID, userID).Scan(&exists, &banned); err != nil {
			return err
		}
		if exists {
			return model.ErrAlreadyMember
		}
		if banned {
			return model.ErrBanned
		}
		if expires != nil && !now.Before(*expires) {
			return model.ErrInviteExpired
		}
		if maxUses != nil && uses >= *maxUses {
			return model.ErrInviteUsedUp
		}
		if err := checkServerQuota(ctx, tx, userID, maxServers); err != nil {
			return err
		}
		// ON CONFLICT: the same user joining through two different invites at once is a member once.
		tag, err := tx.Exec(ctx, "INSERT INTO server_members (server_id, user_id, role) VALUES ($1, $2, 'member') ON CONFLICT DO NOTHING", serverID, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return model.ErrAlreadyMember
		}
		_, err = tx.Exec(ctx, "UPDATE invites SET uses = uses + 1 WHERE code = $1", code)
		return err
	})
	return serverID, err
}

const channelCols = "c.id, COALESCE(c.server_id, 0), c.kind, c.name, c.created_at, c.encrypted"

func scanChannel(row pgx.Row) (model.Channel, error) {
	var c model.Channel
	err := row.Scan(&c.ID, &c.ServerID, &c.Kind, &c.Name, &c.CreatedAt, &c.Encrypted)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, model.ErrNotFound
	}
	return c, err
}

// Channels lists a server's channels, oldest first.
func (s *CommunityStore) Channels(ctx context.Context, serverID int64) ([]model.Channel, error) {
	rows, err := s.db.Query(ctx, "SELECT "+channelCols+" FROM channels c WHERE c.server_id = $1 ORDER BY c.id", serverID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Channel, error) { return scanChannel(r) })
}

// Channel returns one channel (DM participants not loaded).
func (s *CommunityStore) Channel(ctx context.Context, channelID int64) (model.Channel, error) {
	return scanChannel(s.db.QueryRow(ctx, "SELECT "+channelCols+" FROM channels c WHERE c.id = $1", channelID))
}

// CreateChannel inserts a text channel; a duplicate name in the server gives ErrConflict. With maxChannels > 0, a
// server that already has that many channels gets ErrLimitReached (its row is locked while counting).
func (s *CommunityStore) CreateChannel(ctx context.Context, c model.Channel, maxChannels int) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if maxChannels > 0 {
			if err := lockServer(ctx, tx, c.ServerID); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM channels WHERE server_id = $1", c.ServerID).Scan(&n); err != nil {
				return err
			}
			if n >= maxChannels {
				return model.ErrLimitReached
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO channels (id, server_id, kind, name) VALUES ($1, $2, 'text', $3)", c.ID, c.ServerID, c.Name)
		return err
	})
	if _, ok := isUniqueViolation(err); ok {
		return model.ErrConflict
	}
	return err
}

// RenameChannel changes a channel's name (ErrConflict on a duplicate).
func (s *CommunityStore) RenameChannel(ctx context.Context, channelID int64, name string) error {
	tag, err := s.db.Exec(ctx, "UPDATE channels SET name = $2 WHERE id = $1", channelID, name)
	if _, ok := isUniqueViolation(err); ok {
		return model.ErrConflict
	}
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// DeleteChannel removes a channel.
func (s *CommunityStore) DeleteChannel(ctx context.Context, channelID int64) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM channels WHERE id = $1", channelID)
	if err == nil && tag.RowsAffected() == 0 {
		return model.ErrNotFound
	}
	return err
}

// FindOrCreateDM returns the DM channel with exactly these participants for a 1:1 key, creating it if needed.
// key is non-empty for 1:1 DMs (then the same pair always gets the same channel); group DMs are always new.
func (s *CommunityStore) FindOrCreateDM(ctx context.Context, c model.Channel, participantIDs []int64, key string) (model.Channel, bool, error) {
	created := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var keyArg any
		if key != "" {
			keyArg = key
		}
		tag, err := tx.Exec(ctx, "INSERT INTO channels (id, kind, dm_key) VALUES ($1, 'dm', $2) ON CONFLICT (dm_key) DO NOTHING", c.ID, keyArg)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // the pair already has a DM
			return tx.QueryRow(ctx, "SELECT id, created_at, encrypted FROM channels WHERE dm_key = $1", key).Scan(&c.ID, &c.CreatedAt, &c.Encrypted)
		}
		created = true
		for _, uid := range participantIDs {
			if _, err := tx.Exec(ctx, "INSERT INTO dm_participants (channel_id, user_id) VALUES ($1, $2)", c.ID, uid); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, "SELECT created_at FROM channels WHERE id = $1", c.ID).Scan(&c.CreatedAt)
	})
	if err != nil {
		return model.Channel{}, false, fmt.Errorf("postgres: creating DM: %w", err)
	}
	c.Kind = model.ChannelDM
	c.Group = key == ""
	return c, created, nil
}

// DMsOf lists a user's DM channels with all participants' profiles.
func (s *CommunityStore) DMsOf(ctx context.Context, userID int64) ([]model.Channel, error) {
	rows, err := s.db.Query(ctx, `SELECT c.id, c.created_at, COALESCE(me.closed_after, 0), c.dm_key IS NULL, c.encrypted, `+prefixed("u", userCols)+`
		FROM dm_participants me JOIN channels c ON c.id = me.channel_id
		JOIN dm_participants p ON p.channel_id = c.id JOIN users u ON u.id = p.user_id
		WHERE me.user_id = $1 ORDER BY c.id, u.id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Channel
	for rows.Next() {
		var id, closed int64
		var created time.Time
		var group, encrypted bool
		var u model.User
		if err := rows.Scan(&id, &created, &closed, &group, &encrypted, &u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.DisplayName, &u.AvatarURL, &u.Disabled, &u.CreatedAt); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			out = append(out, model.Channel{ID: id, Kind: model.ChannelDM, CreatedAt: created, ClosedAfter: closed, Group: group, Encrypted: encrypted})
		}
		out[len(out)-1].Participants = append(out[len(out)-1].Participants, u)
	}
	return out, rows.Err()
}

// CanRead reports whether a user may read and write a channel (server member or DM participant), returning
// the channel and, for server channels, the user's role.
func (s *CommunityStore) CanRead(ctx context.Context, channelID, userID int64) (model.Channel, string, error) {
	var c model.Channel
	var role *string
	var participant bool
	err := s.db.QueryRow(ctx, `SELECT `+channelCols+`, m.role, EXISTS (SELECT 1 FROM dm_participants p WHERE p.channel_id = c.id AND p.user_id = $2)
		FROM channels c LEFT JOIN server_members m ON m.server_id = c.server_id AND m.user_id = $2 WHERE c.id = $1`, channelID, userID).
		Scan(&c.ID, &c.ServerID, &c.Kind, &c.Name, &c.CreatedAt, &c.Encrypted, &role, &participant)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, "", model.ErrNotFound
	}
	if err != nil {
		return c, "", err
	}
	if c.Kind == model.ChannelDM && participant {
		return c, model.RoleMember, nil
	}
	if c.Kind == model.ChannelText && role != nil {
		return c, *role, nil
	}
	return c, "", model.ErrNotFound // not readable looks like not existing: no probing of channel ids
}

// ReadableChannelIDs lists every channel a user can read: their servers' channels and their DMs.
func (s *CommunityStore) ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT c.id FROM channels c JOIN server_members m ON m.server_id = c.server_id WHERE m.user_id = $1
		UNION ALL SELECT channel_id FROM dm_participants WHERE user_id = $1`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// AllChannelIDs lists every channel, servers' and DMs' (a search reindex walks them).
func (s *CommunityStore) AllChannelIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.db.Query(ctx, "SELECT id FROM channels ORDER BY id")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// ServerIDs lists the servers a user belongs to.
func (s *CommunityStore) ServerIDs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, "SELECT server_id FROM server_members WHERE user_id = $1", userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// DMChannelIDs lists a user's DM channels, leaving out those with someone they blocked or who blocked them (the
// presence audience: a block hides presence through DMs both ways).
func (s *CommunityStore) DMChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT me.channel_id FROM dm_participants me WHERE me.user_id = $1 AND NOT EXISTS (
		SELECT 1 FROM dm_participants o JOIN user_blocks b ON (b.blocker_id = $1 AND b.blocked_id = o.user_id) OR (b.blocker_id = o.user_id AND b.blocked_id = $1)
		WHERE o.channel_id = me.channel_id)`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// SharedUserIDs returns those of `others` who share a server with the user, or a DM with no block between them.
func (s *CommunityStore) SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT o.user_id FROM server_members me JOIN server_members o ON o.server_id = me.server_id
		WHERE me.user_id = $1 AND o.user_id = ANY($2)
		UNION SELECT DISTINCT o.user_id FROM dm_participants me JOIN dm_participants o ON o.channel_id = me.channel_id
		WHERE me.user_id = $1 AND o.user_id = ANY($2) AND NOT EXISTS (SELECT 1 FROM user_blocks b
			WHERE (b.blocker_id = $1 AND b.blocked_id = o.user_id) OR (b.blocker_id = o.user_id AND b.blocked_id = $1))`, userID, others)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// ChannelReaders lists the users who can read a channel whose id or (lower-case) username is given; with both
// lists nil, every reader (the members of its server, or the DM's participants). Mentions resolve through it.
func (s *CommunityStore) ChannelReaders(ctx context.Context, channelID int64, usernames []string, ids []int64) ([]model.User, error) {
	all := usernames == nil && ids == nil
	if usernames == nil {
		usernames = []string{}
	}
	if ids == nil {
		ids = []int64{}
	}
	rows, err := s.db.Query(ctx, `SELECT u.id, u.username, u.display_name FROM users u
		WHERE u.id IN (SELECT m.user_id FROM channels c JOIN server_members m ON m.server_id = c.server_id WHERE c.id = $1
		               UNION SELECT p.user_id FROM dm_participants p WHERE p.channel_id = $1)
		  AND ($4 OR lower(u.username) = ANY($2) OR u.id = ANY($3))`, channelID, usernames, ids, all)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.User, error) {
		var u model.User
		err := r.Scan(&u.ID, &u.Username, &u.DisplayName)
		return u, err
	})
}
