package community

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// downStore is PostgreSQL gone: the caller is an admin (Role answers), everything else fails. Methods the tests do
// not reach are left unimplemented (embedded nil interface: calling one panics and fails the test).
type downStore struct {
	Store
}

func (downStore) Role(_ context.Context, _ int64, userID int64) (string, error) {
	if userID == 1 {
		return model.RoleOwner, nil // the caller in these tests
	}
	return model.RoleMember, nil
}
func (downStore) ServerFor(context.Context, int64, int64) (model.Server, error) {
	return model.Server{}, errDown
}
func (downStore) Invite(context.Context, string) (model.Invite, error) {
	return model.Invite{}, errDown
}
func (downStore) Invites(context.Context, int64) ([]model.Invite, error) { return nil, errDown }
func (downStore) UseInvite(context.Context, string, int64, time.Time, int) (int64, error) {
	return 0, errDown
}
func (downStore) Ban(context.Context, model.Ban) (bool, error)                 { return false, errDown }
func (downStore) Bans(context.Context, int64) ([]model.Ban, error)             { return nil, errDown }
func (downStore) Unban(context.Context, int64, int64) error                    { return errDown }
func (downStore) Channels(context.Context, int64) ([]model.Channel, error)     { return nil, nil }
func (downStore) DMGroup(context.Context, int64, int64) (bool, error)          { return false, errDown }
func (downStore) DMBlockers(context.Context, int64) ([]int64, error)           { return nil, errDown }
func (downStore) Block(context.Context, int64, int64) error                    { return errDown }
func (downStore) Unblock(context.Context, int64, int64) error                  { return errDown }
func (downStore) Blocked(context.Context, int64) ([]model.User, error)         { return nil, errDown }
func (downStore) DMPolicy(context.Context, int64) (string, error)              { return "", errDown }
func (downStore) SetDMPolicy(context.Context, int64, string) error             { return errDown }
func (downStore) DMsOf(context.Context, int64) ([]model.Channel, error)        { return nil, errDown }
func (downStore) DMByKey(context.Context, string) (int64, error)               { return 0, errDown }
func (downStore) SetMembersCanInvite(context.Context, int64, bool) error       { return errDown }
func (downStore) RenameServer(context.Context, int64, string) error            { return errDown }
func (downStore) SetServerIcon(context.Context, int64, string) (string, error) { return "", errDown }

type someUsers struct{}

func (someUsers) ByIDs(_ context.Context, ids []int64) ([]model.User, error) {
	out := make([]model.User, len(ids))
	for i, id := range ids {
		out[i] = model.User{ID: id, Username: "u"}
	}
	return out, nil
}

// Every safety operation answers a store failure with a retryable `unavailable` (never an internal error or a
// panic), and keeps the cause for the log.
func TestSafetyOperationsReportAStoreOutage(t *testing.T) {
	s := New(downStore{}, nil, someUsers{}, nil, nil, nil, Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	yes, name := true, "Renamed"
	for what, call := range map[string]func() error{
		"invite":  func() error { _, err := s.CreateInvite(ctx, 1, 2, nil, nil); return err },
		"invites": func() error { _, err := s.Invites(ctx, 1, 2); return err },
		"revoke":  func() error { return s.RevokeInvite(ctx, 1, 2, "abc") },
		"preview": func() error { _, err := s.PreviewInvite(ctx, "abc"); return err },
		"join":    func() error { _, err := s.JoinInvite(ctx, 1, "abc"); return err },
		"ban":     func() error { return s.Ban(ctx, 1, 2, 3, "") },
		"bans":    func() error { _, err := s.Bans(ctx, 1, 2); return err },
		"unban":   func() error { return s.Unban(ctx, 1, 2, 3) },
		"close":   func() error { _, err := s.CloseDM(ctx, 1, 2); return err },
		"canSend": func() error { return s.CanSend(ctx, 1, model.Channel{ID: 5, Kind: model.ChannelDM}) },
		"block":   func() error { return s.Block(ctx, 1, 2) },
		"unblock": func() error { return s.Unblock(ctx, 1, 2) },
		"blocked": func() error { _, err := s.Blocked(ctx, 1); return err },
		"policy":  func() error { _, err := s.DMPolicy(ctx, 1); return err },
		"setPol":  func() error { _, err := s.SetDMPolicy(ctx, 1, model.DMFromEveryone); return err },
		"dms":     func() error { _, err := s.DMs(ctx, 1, nil); return err },
		"openDM":  func() error { _, _, err := s.CreateDM(ctx, 1, []int64{2}); return err },
		"setting": func() error { _, err := s.UpdateServer(ctx, 1, 2, nil, &yes); return err },
		"rename":  func() error { _, err := s.UpdateServer(ctx, 1, 2, &name, nil); return err },
	} {
		err := call()
		if !apperr.Is(err, apperr.Unavailable) || !errors.Is(err, errDown) || !apperr.As(err).Retryable() {
			t.Errorf("%s: %v, want unavailable wrapping the cause", what, err)
		}
	}
	// Text channels never ask the store whether a block closes them.
	if err := s.CanSend(ctx, 1, model.Channel{ID: 5, Kind: model.ChannelText}); err != nil {
		t.Errorf("CanSend(text) = %v", err)
	}
}

// Bad input is refused before anything is stored (a nil store would panic if it were reached).
func TestSafetyInputIsCheckedFirst(t *testing.T) {
	s := New(downStore{}, nil, someUsers{}, nil, nil, nil, Limits{GroupDMSize: 3}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for what, tc := range map[string]struct {
		err  error
		kind apperr.Kind
	}{
		"ban yourself":      {s.Ban(ctx, 1, 2, 1, ""), apperr.Invalid},
		"long reason":       {s.Ban(ctx, 1, 2, 3, strings.Repeat("x", 513)), apperr.Invalid},
		"control in reason": {s.Ban(ctx, 1, 2, 3, "a\x00b"), apperr.Invalid},
		"block yourself":    {s.Block(ctx, 1, 1), apperr.Invalid},
		"bad policy":        {func() error { _, err := s.SetDMPolicy(ctx, 1, "friends"); return err }(), apperr.Invalid},
		"no one":            {func() error { _, _, err := s.CreateDM(ctx, 1, []int64{1}); return err }(), apperr.Invalid},
		"group too big":     {func() error { _, _, err := s.CreateDM(ctx, 1, []int64{2, 3, 4}); return err }(), apperr.Invalid},
		"nothing to change": {func() error { _, err := s.UpdateServer(ctx, 1, 2, nil, nil); return err }(), apperr.Invalid},
		"odd code":          {func() error { _, err := s.JoinInvite(ctx, 1, "a b"); return err }(), apperr.NotFound},
		"empty code":        {func() error { _, err := s.PreviewInvite(ctx, ""); return err }(), apperr.NotFound},
	} {
		if !apperr.Is(tc.err, tc.kind) {
			t.Errorf("%s: %v, want %s", what, tc.err, tc.kind)
		}
	}
}
