package community_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
	"github.com/parleychat/parley/repositories/postgres"
	"github.com/parleychat/parley/services/community"
)

// notes records what the socket layer is told, one line per event.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) add(format string, args ...any) {
	n.mu.Lock()
	n.lines = append(n.lines, fmt.Sprintf(format, args...))
	n.mu.Unlock()
}

func (n *notes) has(line string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.lines, line)
}

func (n *notes) ServerChanged(s model.Server, action string) {
	n.add("server %d %s %q", s.ID, action, s.Name)
}
func (n *notes) ServerDeleted(id int64, chans []int64) { n.add("server %d deleted %v", id, chans) }
func (n *notes) MemberJoined(s model.Server, m model.Member, chans []int64) {
	n.add("member %d joined %d %v", m.User.ID, s.ID, chans)
}
func (n *notes) MemberLeft(serverID, userID int64, chans []int64, action string) {
	n.add("member %d %s %d %v", userID, action, serverID, chans)
}
func (n *notes) MemberChanged(m model.Member) { n.add("member %d role %s", m.User.ID, m.Role) }
func (n *notes) ChannelChanged(c model.Channel, meta model.ChannelMeta, action string) {
	n.add("channel %d %s %s %q", c.ID, action, c.Name, meta.Topic)
}
func (n *notes) ChannelDeleted(c model.Channel)         { n.add("channel %d deleted", c.ID) }
func (n *notes) DMCreated(c model.Channel, ids []int64) { n.add("dm %d created %v", c.ID, ids) }
func (n *notes) DMClosed(channelID, userID int64)       { n.add("dm %d closed by %d", channelID, userID) }
func (n *notes) DMLeft(c model.Channel, userID int64, remaining []int64) {
	n.add("dm %d left by %d %v", c.ID, userID, remaining)
}

type env struct {
	svc   *community.Service
	notes *notes
	users map[string]int64
}

func newEnv(t *testing.T, limits community.Limits, names ...string) env {
	t.Helper()
	ctx := context.Background()
	pg := testenv.Postgres(t)
	userStore := postgres.NewUserStore(pg)
	ids, err := snowflake.New(1)
	if err != nil {
		t.Fatal(err)
	}
	n := &notes{}
	svc := community.New(postgres.NewCommunityStore(pg), mongorepo.NewChannelMetaStore(testenv.Mongo(t)), userStore, n, ids, nil, limits,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := env{svc: svc, notes: n, users: map[string]int64{}}
	for _, name := range names {
		u, err := userStore.Create(ctx, model.User{ID: ids.Next(), Username: name, Email: name + "@example.com", PasswordHash: "x", DisplayName: name})
		if err != nil {
			t.Fatal(err)
		}
		e.users[name] = u.ID
	}
	return e
}

func wantKind(t *testing.T, what string, err error, kind apperr.Kind) {
	t.Helper()
	if !apperr.Is(err, kind) {
		t.Fatalf("%s: %v, want %s", what, err, kind)
	}
}

// server creates a server owned by owner that every one of members joined through an invite.
func (e env) server(t *testing.T, owner string, members ...string) (model.Server, int64) {
	t.Helper()
	ctx := context.Background()
	srv, err := e.svc.CreateServer(ctx, e.users[owner], "Test server")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.svc.CreateInvite(ctx, e.users[owner], srv.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, err := e.svc.JoinInvite(ctx, e.users[m], inv.Code); err != nil {
			t.Fatal(err)
		}
	}
	chans, err := e.svc.Channels(ctx, e.users[owner], srv.ID)
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels %v %v", chans, err)
	}
	return srv, chans[0].Channel.ID
}

func intp(n int) *int { return &n }

func TestServersAreCreatedWithGeneralAndBelongToMembersOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{ServersPerUser: 2}, "alice", "bob")
	ctx := context.Background()
	alice, bob := e.users["alice"], e.users["bob"]
	for _, bad := range []string{"", " x ", strings.Repeat("s", 101), "tab\tname"} {
		_, err := e.svc.CreateServer(ctx, alice, bad)
		wantKind(t, fmt.Sprintf("server name %q", bad), err, apperr.Invalid)
	}
	srv, err := e.svc.CreateServer(ctx, alice, "  Book Club  ")
	if err != nil {
		t.Fatal(err)
	}
	if srv.Name != "Book Club" || srv.OwnerID != alice || srv.Role != model.RoleOwner || srv.MemberCount != 1 || !srv.MembersCanInvite {
		t.Fatalf("server %+v", srv)
	}
	chans, err := e.svc.Channels(ctx, alice, srv.ID)
	if err != nil || len(chans) != 1 || chans[0].Channel.Name != "general" {
		t.Fatalf("channels of a new server: %+v %v", chans, err)
	}
	if !e.notes.has(fmt.Sprintf("member %d joined %d [%d]", alice, srv.ID, chans[0].Channel.ID)) {
		t.Fatalf("the owner's tabs were not told to join the new rooms: %v", e.notes.lines)
	}
	// A server one is not in does not exist for them.
	_, err = e.svc.Server(ctx, bob, srv.ID)
	wantKind(t, "someone else's server", err, apperr.NotFound)
	_, err = e.svc.Channels(ctx, bob, srv.ID)
	wantKind(t, "someone else's channels", err, apperr.NotFound)
	_, _, err = e.svc.Members(ctx, bob, srv.ID, 0, 10)
	wantKind(t, "someone else's members", err, apperr.NotFound)
	if list, err := e.svc.Servers(ctx, bob); err != nil || len(list) != 0 {
		t.Fatalf("bob's servers: %v %v", list, err)
	}
	// The per-user cap counts servers one is in.
	if _, err := e.svc.CreateServer(ctx, alice, "Second"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateServer(ctx, alice, "Third")
	wantKind(t, "a third server with a cap of 2", err, apperr.LimitReached)
	if list, _ := e.svc.Servers(ctx, alice); len(list) != 2 {
		t.Fatalf("alice is in %d servers, want 2", len(list))
	}
	sizes, err := e.svc.ServerSizes(ctx, []int64{srv.ID, 12345})
	if err != nil || len(sizes) != 1 || sizes[srv.ID] != 1 {
		t.Fatalf("sizes %v %v", sizes, err)
	}
}

func TestUpdateAndDeleteServerAreForItsModerators(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{}, "alice", "bob", "carol")
	ctx := context.Background()
	alice, bob, carol := e.users["alice"], e.users["bob"], e.users["carol"]
	srv, general := e.server(t, "alice", "bob", "carol")
	name, no := "Renamed", false
	_, err := e.svc.UpdateServer(ctx, bob, srv.ID, &name, nil)
	wantKind(t, "member renames", err, apperr.Forbidden)
	_, err = e.svc.UpdateServer(ctx, alice, srv.ID, nil, nil)
	wantKind(t, "nothing to change", err, apperr.Invalid)
	bad := "x"
	_, err = e.svc.UpdateServer(ctx, alice, srv.ID, &bad, nil)
	wantKind(t, "bad name", err, apperr.Invalid)
	if _, err := e.svc.SetRole(ctx, alice, srv.ID, bob, model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.UpdateServer(ctx, bob, srv.ID, &name, &no)
	if err != nil || got.Name != "Renamed" || got.MembersCanInvite {
		t.Fatalf("admin update: %+v %v", got, err)
	}
	if !e.notes.has(fmt.Sprintf("server %d updated %q", srv.ID, "Renamed")) {
		t.Fatalf("the update was not announced: %v", e.notes.lines)
	}
	icon := "/avatars/icon1.png"
	got, old, err := e.svc.SetServerIcon(ctx, bob, srv.ID, icon)
	if err != nil || got.IconURL != icon || old != "" {
		t.Fatalf("icon: %+v %q %v", got, old, err)
	}
	if _, old, err = e.svc.SetServerIcon(ctx, alice, srv.ID, ""); err != nil || old != icon {
		t.Fatalf("clearing the icon returned the old one %q, %v", old, err)
	}
	_, _, err = e.svc.SetServerIcon(ctx, carol, srv.ID, icon)
	wantKind(t, "member sets the icon", err, apperr.Forbidden)
	// Only the owner deletes; then the server and its channels are gone for everyone.
	wantKind(t, "admin deletes", e.svc.DeleteServer(ctx, bob, srv.ID), apperr.Forbidden)
	if err := e.svc.DeleteServer(ctx, alice, srv.ID); err != nil {
		t.Fatal(err)
	}
	if !e.notes.has(fmt.Sprintf("server %d deleted [%d]", srv.ID, general)) {
		t.Fatalf("deletion not announced: %v", e.notes.lines)
	}
	_, err = e.svc.Server(ctx, alice, srv.ID)
	wantKind(t, "deleted server", err, apperr.NotFound)
	_, _, err = e.svc.CanRead(ctx, carol, general)
	wantKind(t, "a channel of a deleted server", err, apperr.NotFound)
}

func TestInvites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{InvitesPerServer: 3}, "alice", "bob", "carol", "dave", "erin")
	ctx := context.Background()
	alice, bob, carol, dave, erin := e.users["alice"], e.users["bob"], e.users["carol"], e.users["dave"], e.users["erin"]
	srv, general := e.server(t, "alice", "bob")

	for what, c := range map[string][2]*int{
		"negative uses":  {intp(-1), nil},
		"too many uses":  {intp(10_001), nil},
		"negative ttl":   {nil, intp(-5)},
		"ttl > 30 days":  {nil, intp(30*24*3600 + 1)},
		"stranger asks":  {nil, nil},
		"unknown server": {nil, nil},
	} {
		caller, server := alice, srv.ID
		switch what {
		case "stranger asks":
			caller = carol
		case "unknown server":
			server = 999
		}
		_, err := e.svc.CreateInvite(ctx, caller, server, c[0], c[1])
		want := apperr.Invalid
		if strings.HasPrefix(what, "stranger") || strings.HasPrefix(what, "unknown") {
			want = apperr.NotFound
		}
		wantKind(t, what, err, want)
	}
	// Default: 7 days, unlimited uses; a member may invite while the server allows it.
	inv, err := e.svc.CreateInvite(ctx, bob, srv.ID, nil, nil)
	if err != nil || inv.MaxUses != nil || inv.ExpiresAt == nil || inv.ExpiresAt.Sub(inv.CreatedAt) != community.DefaultInviteTTL || len(inv.Code) != 10 {
		t.Fatalf("default invite %+v %v", inv, err)
	}
	prev, err := e.svc.PreviewInvite(ctx, inv.Code)
	if err != nil || prev.Server.ID != srv.ID || prev.Server.Name != "Test server" {
		t.Fatalf("preview %+v %v", prev, err)
	}
	// One use: carol joins, dave finds it used up; joining again (already a member) costs no use.
	once, err := e.svc.CreateInvite(ctx, alice, srv.ID, intp(1), intp(0))
	if err != nil || once.ExpiresAt != nil || *once.MaxUses != 1 {
		t.Fatalf("one-use invite %+v %v", once, err)
	}
	if _, err := e.svc.JoinInvite(ctx, bob, once.Code); err != nil {
		t.Fatalf("a member joining again: %v", err)
	}
	joined, err := e.svc.JoinInvite(ctx, carol, once.Code)
	if err != nil || joined.ID != srv.ID || joined.Role != model.RoleMember || joined.MemberCount != 3 {
		t.Fatalf("join %+v %v", joined, err)
	}
	if _, _, err := e.svc.CanRead(ctx, carol, general); err != nil {
		t.Fatalf("a new member reads #general: %v", err)
	}
	if !e.notes.has(fmt.Sprintf("member %d joined %d [%d]", carol, srv.ID, general)) {
		t.Fatalf("join not announced: %v", e.notes.lines)
	}
	_, err = e.svc.JoinInvite(ctx, dave, once.Code)
	wantKind(t, "used-up invite", err, apperr.Gone)
	_, err = e.svc.PreviewInvite(ctx, once.Code)
	wantKind(t, "preview of a used-up invite", err, apperr.Gone)
	// The server's cap counts usable invites (the used-up one is not).
	short, err := e.svc.CreateInvite(ctx, alice, srv.ID, nil, intp(1)) // 3 usable: bob's, this, and the server() one
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateInvite(ctx, alice, srv.ID, nil, nil)
	wantKind(t, "a 4th usable invite with a cap of 3", err, apperr.LimitReached)
	// A 1-second invite expires (waited out, not timed).
	time.Sleep(1100 * time.Millisecond)
	list, err := e.svc.Invites(ctx, alice, srv.ID)
	if err != nil || len(list) != 4 {
		t.Fatalf("invites %+v %v; want all 4, used-up and expired included", list, err)
	}
	for _, v := range list {
		if v.Creator.ID != v.Invite.CreatorID || v.Creator.Username == "" {
			t.Fatalf("invite without its creator: %+v", v)
		}
	}
	_, err = e.svc.JoinInvite(ctx, dave, short.Code)
	wantKind(t, "expired invite", err, apperr.Gone)
	_, err = e.svc.PreviewInvite(ctx, short.Code)
	wantKind(t, "preview of an expired invite", err, apperr.Gone)
	// Listing is for moderators.
	_, err = e.svc.Invites(ctx, bob, srv.ID)
	wantKind(t, "member lists invites", err, apperr.Forbidden)
	_, err = e.svc.Invites(ctx, dave, srv.ID)
	wantKind(t, "stranger lists invites", err, apperr.NotFound)
	// Revoking: a member revokes only their own; a revoked code is invalid.
	wantKind(t, "member revokes another's invite", e.svc.RevokeInvite(ctx, carol, srv.ID, inv.Code), apperr.Forbidden)
	if err := e.svc.RevokeInvite(ctx, bob, srv.ID, inv.Code); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "revoked twice", e.svc.RevokeInvite(ctx, alice, srv.ID, inv.Code), apperr.NotFound)
	_, err = e.svc.JoinInvite(ctx, erin, inv.Code)
	wantKind(t, "revoked invite", err, apperr.NotFound)
	for _, code := range []string{"", "nope", "has space", strings.Repeat("a", 65), "ünïcode"} {
		_, err := e.svc.JoinInvite(ctx, erin, code)
		wantKind(t, "code "+code, err, apperr.NotFound)
		_, err = e.svc.PreviewInvite(ctx, code)
		wantKind(t, "preview code "+code, err, apperr.NotFound)
	}
	// With invites closed to members, only moderators may invite.
	no := false
	if _, err := e.svc.UpdateServer(ctx, alice, srv.ID, nil, &no); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateInvite(ctx, carol, srv.ID, nil, nil)
	wantKind(t, "member invites while the server forbids it", err, apperr.Forbidden)
	if m, _, _ := e.svc.Members(ctx, alice, srv.ID, 0, 50); len(m) != 3 {
		t.Fatalf("%d members, want 3 (erin and dave never got in)", len(m))
	}
}

func TestInviteCreationIsRateLimitedPerUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{InviteEvery: time.Hour, InviteBurst: 2}, "alice")
	ctx := context.Background()
	srv, err := e.svc.CreateServer(ctx, e.users["alice"], "Rated")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := e.svc.CreateInvite(ctx, e.users["alice"], srv.ID, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.svc.CreateInvite(ctx, e.users["alice"], srv.ID, nil, nil)
	wantKind(t, "third invite in a burst of 2", err, apperr.RateLimited)
}

func TestMembersLeaveKickAndRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{}, "alice", "bob", "carol", "dave", "erin")
	ctx := context.Background()
	alice, bob, carol, dave, erin := e.users["alice"], e.users["bob"], e.users["carol"], e.users["dave"], e.users["erin"]
	srv, general := e.server(t, "alice", "bob", "carol", "dave")

	// Members are paged by user id.
	page, more, err := e.svc.Members(ctx, carol, srv.ID, 0, 2)
	if err != nil || len(page) != 2 || !more {
		t.Fatalf("first page %v %v %v", page, more, err)
	}
	rest, more, err := e.svc.Members(ctx, carol, srv.ID, page[1].User.ID, 2)
	if err != nil || len(rest) != 2 || more || rest[0].User.ID <= page[1].User.ID {
		t.Fatalf("second page %v %v %v", rest, more, err)
	}

	wantKind(t, "the owner leaves", e.svc.Leave(ctx, alice, srv.ID), apperr.Conflict)
	wantKind(t, "a stranger leaves", e.svc.Leave(ctx, erin, srv.ID), apperr.NotFound)

	// Roles: owner only, admin or member only, not the owner's own.
	_, err = e.svc.SetRole(ctx, bob, srv.ID, carol, model.RoleAdmin)
	wantKind(t, "a member promotes", err, apperr.Forbidden)
	_, err = e.svc.SetRole(ctx, alice, srv.ID, carol, model.RoleOwner)
	wantKind(t, "promotion to owner", err, apperr.Invalid)
	_, err = e.svc.SetRole(ctx, alice, srv.ID, alice, model.RoleMember)
	wantKind(t, "the owner demotes themself", err, apperr.Invalid)
	_, err = e.svc.SetRole(ctx, alice, srv.ID, erin, model.RoleAdmin)
	wantKind(t, "promoting a stranger", err, apperr.NotFound)
	m, err := e.svc.SetRole(ctx, alice, srv.ID, bob, model.RoleAdmin)
	if err != nil || m.Role != model.RoleAdmin || m.User.ID != bob {
		t.Fatalf("promote %+v %v", m, err)
	}
	if !e.notes.has(fmt.Sprintf("member %d role admin", bob)) {
		t.Fatalf("role change not announced: %v", e.notes.lines)
	}

	// Kicks: moderators only, never upward or sideways, not oneself.
	wantKind(t, "a member kicks", e.svc.Kick(ctx, carol, srv.ID, dave), apperr.Forbidden)
	wantKind(t, "an admin kicks the owner", e.svc.Kick(ctx, bob, srv.ID, alice), apperr.Forbidden)
	if _, err := e.svc.SetRole(ctx, alice, srv.ID, carol, model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "an admin kicks an admin", e.svc.Kick(ctx, bob, srv.ID, carol), apperr.Forbidden)
	wantKind(t, "kicking oneself", e.svc.Kick(ctx, bob, srv.ID, bob), apperr.Invalid)
	wantKind(t, "kicking a stranger", e.svc.Kick(ctx, bob, srv.ID, erin), apperr.NotFound)
	if _, _, err := e.svc.CanRead(ctx, dave, general); err != nil { // cached as a yes before the kick
		t.Fatal(err)
	}
	if err := e.svc.Kick(ctx, bob, srv.ID, dave); err != nil {
		t.Fatal(err)
	}
	if !e.notes.has(fmt.Sprintf("member %d kicked %d [%d]", dave, srv.ID, general)) {
		t.Fatalf("kick not announced: %v", e.notes.lines)
	}
	_, _, err = e.svc.CanRead(ctx, dave, general)
	wantKind(t, "a kicked member reads", err, apperr.NotFound)
	// The owner may remove an admin; a member leaves by themselves.
	if err := e.svc.Kick(ctx, alice, srv.ID, carol); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetRole(ctx, alice, srv.ID, bob, model.RoleMember); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Leave(ctx, bob, srv.ID); err != nil {
		t.Fatal(err)
	}
	if !e.notes.has(fmt.Sprintf("member %d left %d [%d]", bob, srv.ID, general)) {
		t.Fatalf("leave not announced: %v", e.notes.lines)
	}
	srv, err = e.svc.Server(ctx, alice, srv.ID)
	if err != nil || srv.MemberCount != 1 {
		t.Fatalf("after kicks and a leave: %+v %v, want the owner alone", srv, err)
	}
	if ids, err := e.svc.ServerIDs(ctx, bob); err != nil || len(ids) != 0 {
		t.Fatalf("bob's servers after leaving: %v %v", ids, err)
	}
}

func TestBans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{}, "alice", "bob", "carol", "dave")
	ctx := context.Background()
	alice, bob, carol, dave := e.users["alice"], e.users["bob"], e.users["carol"], e.users["dave"]
	srv, general := e.server(t, "alice", "bob", "carol")
	carolsInvite, err := e.svc.CreateInvite(ctx, carol, srv.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	open, err := e.svc.CreateInvite(ctx, alice, srv.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "a member bans", e.svc.Ban(ctx, bob, srv.ID, carol, ""), apperr.Forbidden)
	wantKind(t, "banning oneself", e.svc.Ban(ctx, alice, srv.ID, alice, ""), apperr.Invalid)
	wantKind(t, "a long reason", e.svc.Ban(ctx, alice, srv.ID, carol, strings.Repeat("r", 513)), apperr.Invalid)
	wantKind(t, "a reason with control characters", e.svc.Ban(ctx, alice, srv.ID, carol, "bad\x00"), apperr.Invalid)
	wantKind(t, "banning nobody", e.svc.Ban(ctx, alice, srv.ID, 424242, ""), apperr.NotFound)
	if _, err := e.svc.SetRole(ctx, alice, srv.ID, bob, model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "an admin bans the owner", e.svc.Ban(ctx, bob, srv.ID, alice, ""), apperr.Forbidden)

	if err := e.svc.Ban(ctx, bob, srv.ID, carol, "  spam  "); err != nil {
		t.Fatal(err)
	}
	if !e.notes.has(fmt.Sprintf("member %d banned %d [%d]", carol, srv.ID, general)) {
		t.Fatalf("ban not announced: %v", e.notes.lines)
	}
	_, _, err = e.svc.CanRead(ctx, carol, general)
	wantKind(t, "a banned user reads", err, apperr.NotFound)
	_, err = e.svc.JoinInvite(ctx, carol, open.Code)
	wantKind(t, "a banned user joins", err, apperr.Forbidden)
	_, err = e.svc.PreviewInvite(ctx, carolsInvite.Code)
	wantKind(t, "the banned user's own invite", err, apperr.NotFound)
	// Banning a non-member (pre-emptively) is allowed too, and banning again updates the reason.
	if err := e.svc.Ban(ctx, alice, srv.ID, dave, "pre-emptive"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Ban(ctx, alice, srv.ID, carol, "spam, twice"); err != nil {
		t.Fatal(err)
	}
	bans, err := e.svc.Bans(ctx, bob, srv.ID)
	if err != nil || len(bans) != 2 {
		t.Fatalf("bans %+v %v", bans, err)
	}
	reasons := map[int64]string{}
	for _, b := range bans {
		reasons[b.User.ID] = b.Reason
	}
	if reasons[carol] != "spam, twice" || reasons[dave] != "pre-emptive" {
		t.Fatalf("ban reasons %v", reasons)
	}
	_, err = e.svc.Bans(ctx, carol, srv.ID)
	wantKind(t, "the banned user lists bans", err, apperr.NotFound)
	// Unban: moderators only; then the invite works again.
	wantKind(t, "unban of someone not banned", e.svc.Unban(ctx, alice, srv.ID, bob), apperr.NotFound)
	if err := e.svc.Unban(ctx, bob, srv.ID, carol); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.JoinInvite(ctx, carol, open.Code); err != nil {
		t.Fatalf("join after unban: %v", err)
	}
	wantKind(t, "a member unbans", e.svc.Unban(ctx, carol, srv.ID, dave), apperr.Forbidden)
}

func TestChannels(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{ChannelsPerServer: 3}, "alice", "bob", "carol")
	ctx := context.Background()
	alice, bob, carol := e.users["alice"], e.users["bob"], e.users["carol"]
	srv, general := e.server(t, "alice", "bob")

	v, err := e.svc.CreateChannel(ctx, alice, srv.ID, "Random Stuff!", "  things  ")
	if err != nil || v.Channel.Name != "random-stuff" || v.Meta.Topic != "things" || v.Channel.Kind != model.ChannelText {
		t.Fatalf("create: %+v %v", v, err)
	}
	if !e.notes.has(fmt.Sprintf("channel %d created random-stuff %q", v.Channel.ID, "things")) {
		t.Fatalf("creation not announced: %v", e.notes.lines)
	}
	_, err = e.svc.CreateChannel(ctx, alice, srv.ID, "random stuff", "")
	if ae := apperr.As(err); ae == nil || ae.Kind != apperr.Conflict || ae.Field != "name" {
		t.Fatalf("a name that normalizes to an existing one: %v, want a conflict on name", err)
	}
	_, err = e.svc.CreateChannel(ctx, bob, srv.ID, "mine", "")
	wantKind(t, "a member creates a channel", err, apperr.Forbidden)
	_, err = e.svc.CreateChannel(ctx, carol, srv.ID, "mine", "")
	wantKind(t, "a stranger creates a channel", err, apperr.NotFound)
	for _, bad := range []string{"!!!", "", strings.Repeat("a", 65)} {
		_, err = e.svc.CreateChannel(ctx, alice, srv.ID, bad, "")
		wantKind(t, "channel name "+bad, err, apperr.Invalid)
	}
	_, err = e.svc.CreateChannel(ctx, alice, srv.ID, "topical", strings.Repeat("t", 1025))
	wantKind(t, "a long topic", err, apperr.Invalid)
	if _, err := e.svc.CreateChannel(ctx, alice, srv.ID, "third", ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateChannel(ctx, alice, srv.ID, "fourth", "")
	wantKind(t, "a 4th channel with a cap of 3", err, apperr.LimitReached)

	// Members read every channel of the server; the topic is stored with the channel.
	list, err := e.svc.Channels(ctx, bob, srv.ID)
	if err != nil || len(list) != 3 {
		t.Fatalf("channels %+v %v", list, err)
	}
	topics := map[string]string{}
	for _, c := range list {
		topics[c.Channel.Name] = c.Meta.Topic
	}
	if topics["random-stuff"] != "things" || topics["general"] != "" {
		t.Fatalf("topics %v", topics)
	}
	if ids, err := e.svc.ReadableChannelIDs(ctx, bob); err != nil || len(ids) != 3 {
		t.Fatalf("bob's readable channels: %v %v", ids, err)
	}
	if chans, err := e.svc.ServerChannels(ctx, srv.ID); err != nil || len(chans) != 3 {
		t.Fatalf("server channels: %v %v", chans, err)
	}

	// Rename (normalized, unique) and topic; members may not.
	name, topic := "Off  Topic", "anything goes"
	u, err := e.svc.UpdateChannel(ctx, alice, v.Channel.ID, &name, &topic)
	if err != nil || u.Channel.Name != "off-topic" || u.Meta.Topic != "anything goes" {
		t.Fatalf("update: %+v %v", u, err)
	}
	taken := "GENERAL"
	_, err = e.svc.UpdateChannel(ctx, alice, v.Channel.ID, &taken, nil)
	wantKind(t, "renaming onto #general", err, apperr.Conflict)
	_, err = e.svc.UpdateChannel(ctx, bob, v.Channel.ID, &name, nil)
	wantKind(t, "a member renames", err, apperr.Forbidden)
	_, err = e.svc.UpdateChannel(ctx, carol, v.Channel.ID, &name, nil)
	wantKind(t, "a stranger renames", err, apperr.NotFound)
	bad := "???"
	_, err = e.svc.UpdateChannel(ctx, alice, v.Channel.ID, &bad, nil)
	wantKind(t, "a bad new name", err, apperr.Invalid)
	badTopic := "bell\x07"
	_, err = e.svc.UpdateChannel(ctx, alice, v.Channel.ID, nil, &badTopic)
	wantKind(t, "a bad topic", err, apperr.Invalid)
	list, _ = e.svc.Channels(ctx, alice, srv.ID)
	for _, c := range list {
		if c.Channel.ID == v.Channel.ID && (c.Channel.Name != "off-topic" || c.Meta.Topic != "anything goes") {
			t.Fatalf("refused updates changed the channel: %+v", c)
		}
	}

	// Delete: moderators only; then it is gone.
	wantKind(t, "a member deletes", e.svc.DeleteChannel(ctx, bob, v.Channel.ID), apperr.Forbidden)
	if err := e.svc.DeleteChannel(ctx, alice, v.Channel.ID); err != nil {
		t.Fatal(err)
	}
	if !e.notes.has(fmt.Sprintf("channel %d deleted", v.Channel.ID)) {
		t.Fatalf("deletion not announced: %v", e.notes.lines)
	}
	_, _, err = e.svc.CanRead(ctx, bob, v.Channel.ID)
	wantKind(t, "a deleted channel", err, apperr.NotFound)
	wantKind(t, "deleted twice", e.svc.DeleteChannel(ctx, alice, v.Channel.ID), apperr.NotFound)
	if _, _, err := e.svc.CanRead(ctx, bob, general); err != nil {
		t.Fatal(err)
	}
	// A DM is not a channel one can rename or delete.
	dm, _, err := e.svc.CreateDM(ctx, alice, []int64{bob})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.UpdateChannel(ctx, alice, dm.Channel.ID, &name, nil)
	wantKind(t, "renaming a DM", err, apperr.Invalid)
	wantKind(t, "deleting a DM", e.svc.DeleteChannel(ctx, alice, dm.Channel.ID), apperr.Invalid)
}

func TestDirectMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{GroupDMSize: 3}, "alice", "bob", "carol", "dave")
	ctx := context.Background()
	alice, bob, carol, dave := e.users["alice"], e.users["bob"], e.users["carol"], e.users["dave"]
	e.server(t, "alice", "bob", "carol")

	_, _, err := e.svc.CreateDM(ctx, alice, nil)
	wantKind(t, "a DM with nobody", err, apperr.Invalid)
	_, _, err = e.svc.CreateDM(ctx, alice, []int64{alice})
	wantKind(t, "a DM with oneself", err, apperr.Invalid)
	_, _, err = e.svc.CreateDM(ctx, alice, []int64{424242})
	wantKind(t, "a DM with nobody that exists", err, apperr.Invalid)
	_, _, err = e.svc.CreateDM(ctx, alice, []int64{bob, carol, dave})
	wantKind(t, "a group of 4 with a cap of 3", err, apperr.Invalid)
	// dave shares no server with alice and accepts DMs from server members only (the default).
	_, _, err = e.svc.CreateDM(ctx, alice, []int64{dave})
	wantKind(t, "a DM with a stranger", err, apperr.Forbidden)
	if p, err := e.svc.DMPolicy(ctx, dave); err != nil || p != model.DMFromServerMembers {
		t.Fatalf("default policy %q %v", p, err)
	}
	_, err = e.svc.SetDMPolicy(ctx, dave, "friends")
	wantKind(t, "an unknown policy", err, apperr.Invalid)
	if _, err := e.svc.SetDMPolicy(ctx, dave, model.DMFromEveryone); err != nil {
		t.Fatal(err)
	}
	withDave, created, err := e.svc.CreateDM(ctx, alice, []int64{dave})
	if err != nil || !created {
		t.Fatalf("a DM with someone accepting everyone: %v %v", created, err)
	}

	// 1:1 DMs are unique per pair, whoever opens them.
	dm, created, err := e.svc.CreateDM(ctx, alice, []int64{bob, bob})
	if err != nil || !created || dm.Channel.Kind != model.ChannelDM || dm.Channel.Group || len(dm.Channel.Participants) != 2 {
		t.Fatalf("1:1 DM %+v %v %v", dm, created, err)
	}
	if !e.notes.has(fmt.Sprintf("dm %d created %v", dm.Channel.ID, sorted(alice, bob))) {
		t.Fatalf("DM creation not announced: %v", e.notes.lines)
	}
	again, created, err := e.svc.CreateDM(ctx, bob, []int64{alice})
	if err != nil || created || again.Channel.ID != dm.Channel.ID {
		t.Fatalf("the same pair again: %+v %v %v; want the existing DM", again.Channel, created, err)
	}
	_, _, err = e.svc.CanRead(ctx, carol, dm.Channel.ID)
	wantKind(t, "someone else's DM", err, apperr.NotFound)

	// Group DMs are new each time.
	g1, created1, err1 := e.svc.CreateDM(ctx, alice, []int64{bob, carol})
	g2, created2, err2 := e.svc.CreateDM(ctx, alice, []int64{bob, carol})
	if err1 != nil || err2 != nil || !created1 || !created2 || g1.Channel.ID == g2.Channel.ID || !g1.Channel.Group {
		t.Fatalf("group DMs %+v %v / %+v %v", g1.Channel, err1, g2.Channel, err2)
	}
	list, err := e.svc.DMs(ctx, alice, nil)
	if err != nil || len(list) != 4 {
		t.Fatalf("alice's DMs: %d %v, want 4", len(list), err)
	}
	if !containsChannel(list, withDave.Channel.ID) {
		t.Fatal("the DM with dave is not listed")
	}
	if list[0].Channel.ID != g2.Channel.ID {
		t.Fatalf("DMs not newest first: %v", list[0].Channel.ID)
	}
	if ids, err := e.svc.DMChannelIDs(ctx, alice); err != nil || len(ids) != 4 {
		t.Fatalf("DM channel ids %v %v", ids, err)
	}

	// Closing a 1:1 DM hides it from the closer's list until it is opened again.
	left, err := e.svc.CloseDM(ctx, alice, dm.Channel.ID)
	if err != nil || left {
		t.Fatalf("close: %v %v", left, err)
	}
	if !e.notes.has(fmt.Sprintf("dm %d closed by %d", dm.Channel.ID, alice)) {
		t.Fatalf("close not announced: %v", e.notes.lines)
	}
	if list, _ := e.svc.DMs(ctx, alice, nil); containsChannel(list, dm.Channel.ID) || len(list) != 3 {
		t.Fatalf("a closed DM is still listed")
	}
	if list, _ := e.svc.DMs(ctx, bob, nil); !containsChannel(list, dm.Channel.ID) {
		t.Fatalf("closing hid the DM from the other side too")
	}
	if _, _, err := e.svc.CanRead(ctx, alice, dm.Channel.ID); err != nil {
		t.Fatalf("a closed DM still receives: %v", err)
	}
	if _, _, err := e.svc.CreateDM(ctx, alice, []int64{bob}); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.svc.DMs(ctx, alice, nil); !containsChannel(list, dm.Channel.ID) {
		t.Fatalf("opening a closed DM did not bring it back")
	}

	// Leaving a group DM: the leaver loses access, the others are told who is left; the last one out ends it.
	left, err = e.svc.CloseDM(ctx, carol, g1.Channel.ID)
	if err != nil || !left {
		t.Fatalf("leave group: %v %v", left, err)
	}
	if !e.notes.has(fmt.Sprintf("dm %d left by %d %v", g1.Channel.ID, carol, sorted(alice, bob))) {
		t.Fatalf("leave not announced: %v", e.notes.lines)
	}
	_, _, err = e.svc.CanRead(ctx, carol, g1.Channel.ID)
	wantKind(t, "a group DM one left", err, apperr.NotFound)
	_, err = e.svc.CloseDM(ctx, carol, g1.Channel.ID)
	wantKind(t, "leaving twice", err, apperr.NotFound)
	for _, u := range []int64{alice, bob} {
		if _, err := e.svc.CloseDM(ctx, u, g1.Channel.ID); err != nil {
			t.Fatal(err)
		}
	}
	if !e.notes.has(fmt.Sprintf("dm %d left by %d []", g1.Channel.ID, bob)) {
		t.Fatalf("the last leave: %v", e.notes.lines)
	}
	_, err = e.svc.CloseDM(ctx, dave, dm.Channel.ID)
	wantKind(t, "closing someone else's DM", err, apperr.NotFound)
}

func TestBlocks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{}, "alice", "bob", "carol")
	ctx := context.Background()
	alice, bob, carol := e.users["alice"], e.users["bob"], e.users["carol"]
	_, general := e.server(t, "alice", "bob", "carol")
	dm, _, err := e.svc.CreateDM(ctx, alice, []int64{bob})
	if err != nil {
		t.Fatal(err)
	}
	group, _, err := e.svc.CreateDM(ctx, alice, []int64{bob, carol})
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "blocking oneself", e.svc.Block(ctx, alice, alice), apperr.Invalid)
	wantKind(t, "blocking nobody", e.svc.Block(ctx, alice, 424242), apperr.NotFound)
	if err := e.svc.CanSend(ctx, bob, dm.Channel); err != nil { // cached: the block must clear it
		t.Fatal(err)
	}
	if err := e.svc.Block(ctx, alice, bob); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "the blocker sends in the 1:1 DM", e.svc.CanSend(ctx, alice, dm.Channel), apperr.Forbidden)
	wantKind(t, "the blocked sends in the 1:1 DM", e.svc.CanSend(ctx, bob, dm.Channel), apperr.Forbidden)
	_, _, err = e.svc.CanWrite(ctx, bob, dm.Channel.ID)
	wantKind(t, "CanWrite in the blocked DM", err, apperr.Forbidden)
	// Group DMs and server channels are not closed by a block.
	if err := e.svc.CanSend(ctx, bob, group.Channel); err != nil {
		t.Fatalf("group DM: %v", err)
	}
	if _, _, err := e.svc.CanWrite(ctx, bob, general); err != nil {
		t.Fatalf("server channel: %v", err)
	}
	// No new DM either way, and the refusal to the blocked one does not reveal the block.
	_, _, err = e.svc.CreateDM(ctx, alice, []int64{bob, carol})
	if ae := apperr.As(err); ae == nil || ae.Kind != apperr.Forbidden || !strings.Contains(ae.Message, "you blocked") {
		t.Fatalf("the blocker opens a group with the blocked: %v", err)
	}
	_, _, err = e.svc.CreateDM(ctx, bob, []int64{alice, carol})
	if ae := apperr.As(err); ae == nil || ae.Kind != apperr.Forbidden || strings.Contains(ae.Message, "block") {
		t.Fatalf("the blocked opens a group with the blocker: %v (must not say 'block')", err)
	}
	blocked, err := e.svc.Blocked(ctx, alice)
	if err != nil || len(blocked) != 1 || blocked[0].ID != bob {
		t.Fatalf("blocked list %v %v", blocked, err)
	}
	if ids, err := e.svc.BlockedIDs(ctx, alice); err != nil || !slices.Equal(ids, []int64{bob}) {
		t.Fatalf("blocked ids %v %v", ids, err)
	}
	if err := e.svc.Unblock(ctx, alice, bob); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Unblock(ctx, alice, bob); err != nil {
		t.Fatalf("unblocking twice: %v", err)
	}
	if err := e.svc.CanSend(ctx, bob, dm.Channel); err != nil {
		t.Fatalf("after unblocking: %v", err)
	}
	if ids, _ := e.svc.BlockedIDs(ctx, alice); len(ids) != 0 {
		t.Fatalf("still blocked: %v", ids)
	}
}

func TestAccessFollowsMembershipOnTheRealStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, community.Limits{}, "alice", "bob", "carol")
	ctx := context.Background()
	alice, bob, carol := e.users["alice"], e.users["bob"], e.users["carol"]
	srv, general := e.server(t, "alice", "bob")
	ch, role, err := e.svc.CanRead(ctx, bob, general)
	if err != nil || ch.ID != general || ch.ServerID != srv.ID || role != model.RoleMember {
		t.Fatalf("member: %+v %q %v", ch, role, err)
	}
	if _, role, _ := e.svc.CanRead(ctx, alice, general); role != model.RoleOwner {
		t.Fatalf("owner's role %q", role)
	}
	_, _, err = e.svc.CanRead(ctx, carol, general)
	wantKind(t, "stranger (cached as a no)", err, apperr.NotFound)
	// Joining clears the cached "no" at once.
	inv, err := e.svc.CreateInvite(ctx, alice, srv.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.JoinInvite(ctx, carol, inv.Code); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CanRead(ctx, carol, general); err != nil {
		t.Fatalf("after joining: %v", err)
	}
	shared, err := e.svc.SharedUserIDs(ctx, carol, []int64{alice, bob, 424242})
	if err != nil || len(shared) != 2 {
		t.Fatalf("shared users %v %v", shared, err)
	}
	readers, err := e.svc.ChannelReaders(ctx, general, []string{"bob", "nobody"}, []int64{carol})
	if err != nil || len(readers) != 2 {
		t.Fatalf("readers %v %v; want bob and carol", readers, err)
	}
	all, err := e.svc.ChannelReaders(ctx, general, nil, nil)
	if err != nil || len(all) != 3 {
		t.Fatalf("all readers %v %v", all, err)
	}
}

func sorted(ids ...int64) []int64 { slices.Sort(ids); return ids }

func containsChannel(vs []model.ChannelView, id int64) bool {
	return slices.ContainsFunc(vs, func(v model.ChannelView) bool { return v.Channel.ID == id })
}
