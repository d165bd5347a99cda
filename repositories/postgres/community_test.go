package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/repositories/postgres"
)

// server creates a server owned by owner with a first channel "general"; it returns the server and channel ids.
func (f *fixture) server(owner model.User, name string) (int64, int64) {
	f.t.Helper()
	srv, ch := f.id(), f.id()
	if err := f.community.CreateServer(f.ctx, model.Server{ID: srv, Name: name, OwnerID: owner.ID}, model.Channel{ID: ch, Name: "general"}, 0); err != nil {
		f.t.Fatalf("CreateServer: %v", err)
	}
	return srv, ch
}

// join adds users to a server through an unlimited invite.
func (f *fixture) join(serverID, creatorID int64, users ...model.User) {
	f.t.Helper()
	code := fmt.Sprintf("join-%d", f.id())
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: code, ServerID: serverID, CreatorID: creatorID}, 0); err != nil {
		f.t.Fatal(err)
	}
	for _, u := range users {
		if _, err := f.community.UseInvite(f.ctx, code, u.ID, now(), 0); err != nil {
			f.t.Fatalf("user %d joining server %d: %v", u.ID, serverID, err)
		}
	}
}

func TestCreateServerAndMembershipQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, member, outsider := f.user("owner"), f.user("member"), f.user("outsider")
	srv, general := f.server(owner, "Guild")
	f.join(srv, owner.ID, member)

	// The owner's membership and the first channel were created with the server.
	if role, err := f.community.Role(f.ctx, srv, owner.ID); err != nil || role != model.RoleOwner {
		t.Fatalf("owner's role = %q, %v", role, err)
	}
	chans, err := f.community.Channels(f.ctx, srv)
	if err != nil || len(chans) != 1 || chans[0].ID != general || chans[0].Name != "general" || chans[0].ServerID != srv ||
		chans[0].Kind != model.ChannelText || chans[0].CreatedAt.IsZero() {
		t.Fatalf("Channels = %+v, %v", chans, err)
	}
	if c, err := f.community.Channel(f.ctx, general); err != nil || c.ID != general || c.ServerID != srv || c.Kind != model.ChannelText {
		t.Fatalf("Channel = %+v, %v", c, err)
	}
	if _, err := f.community.Channel(f.ctx, 999999); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Channel(unknown): %v", err)
	}

	// ServersOf: with the user's own role and the member count; oldest membership first.
	srv2, _ := f.server(member, "Second")
	list, err := f.community.ServersOf(f.ctx, member.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("ServersOf(member) = %+v, %v", list, err)
	}
	if list[0].ID != srv || list[0].Role != model.RoleMember || list[0].Name != "Guild" || list[0].OwnerID != owner.ID || list[0].MemberCount != 2 {
		t.Errorf("first server = %+v", list[0])
	}
	if list[1].ID != srv2 || list[1].Role != model.RoleOwner || list[1].MemberCount != 1 {
		t.Errorf("second server = %+v", list[1])
	}
	if list, err := f.community.ServersOf(f.ctx, outsider.ID); err != nil || len(list) != 0 {
		t.Fatalf("ServersOf(outsider) = %+v, %v", list, err)
	}

	// ServerFor: member sees it with their role, non-members and unknown servers get ErrNotFound.
	if s, err := f.community.ServerFor(f.ctx, srv, owner.ID); err != nil || s.Role != model.RoleOwner || s.MemberCount != 2 || s.Name != "Guild" {
		t.Fatalf("ServerFor(owner) = %+v, %v", s, err)
	}
	if s, err := f.community.ServerFor(f.ctx, srv, member.ID); err != nil || s.Role != model.RoleMember {
		t.Fatalf("ServerFor(member) = %+v, %v", s, err)
	}
	if _, err := f.community.ServerFor(f.ctx, srv, outsider.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ServerFor(outsider): %v", err)
	}
	if _, err := f.community.ServerFor(f.ctx, 999999, owner.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ServerFor(unknown server): %v", err)
	}
	if _, err := f.community.Role(f.ctx, srv, outsider.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Role(outsider): %v", err)
	}
	if s, err := f.community.Server(f.ctx, srv); err != nil || s.ID != srv || s.Role != "" || s.MemberCount != 2 || s.OwnerID != owner.ID || s.CreatedAt.IsZero() {
		t.Fatalf("Server = %+v, %v", s, err)
	}
	if _, err := f.community.Server(f.ctx, 999999); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Server(unknown): %v", err)
	}
	if ids, err := f.community.ServerIDs(f.ctx, member.ID); err != nil || !slices.Equal(sortedIDs(ids), sortedIDs([]int64{srv, srv2})) {
		t.Fatalf("ServerIDs(member) = %v, %v", ids, err)
	}
	if ids, err := f.community.ServerIDs(f.ctx, outsider.ID); err != nil || len(ids) != 0 {
		t.Fatalf("ServerIDs(outsider) = %v, %v", ids, err)
	}

	// RenameServer.
	if err := f.community.RenameServer(f.ctx, srv, "Renamed"); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.community.Server(f.ctx, srv); s.Name != "Renamed" {
		t.Fatalf("name after rename = %q", s.Name)
	}
	if s, _ := f.community.Server(f.ctx, srv2); s.Name != "Second" {
		t.Fatalf("another server was renamed: %q", s.Name)
	}
	if err := f.community.RenameServer(f.ctx, 999999, "x"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("RenameServer(unknown): %v", err)
	}
}

func TestCreateServerIsAtomic(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner := f.user("owner")
	_, general := f.server(owner, "One")
	// The first channel's id clashes: neither the server nor the owner's membership may remain.
	srv := f.id()
	if err := f.community.CreateServer(f.ctx, model.Server{ID: srv, Name: "Two", OwnerID: owner.ID}, model.Channel{ID: general, Name: "general"}, 0); err == nil {
		t.Fatal("CreateServer accepted a duplicate channel id")
	}
	if _, err := f.community.Server(f.ctx, srv); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("half-created server left behind: %v", err)
	}
	if _, err := f.community.Role(f.ctx, srv, owner.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("half-created membership left behind: %v", err)
	}
	// A missing owner fails at the first statement.
	if err := f.community.CreateServer(f.ctx, model.Server{ID: f.id(), Name: "Three", OwnerID: 987654}, model.Channel{ID: f.id(), Name: "general"}, 0); err == nil {
		t.Fatal("CreateServer accepted a missing owner")
	}
	// A duplicate server id fails before the membership insert.
	srvOne, _ := f.community.ServersOf(f.ctx, owner.ID)
	if err := f.community.CreateServer(f.ctx, model.Server{ID: srvOne[0].ID, Name: "Dup", OwnerID: owner.ID}, model.Channel{ID: f.id(), Name: "x"}, 0); err == nil {
		t.Fatal("CreateServer accepted a duplicate server id")
	}
}

func TestMembersPagingRolesAndRemoval(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner := f.user("owner")
	srv, _ := f.server(owner, "Guild")
	var members []model.User
	for i := 0; i < 5; i++ {
		members = append(members, f.user(fmt.Sprintf("m%d", i)))
	}
	f.join(srv, owner.ID, members...)
	outsider := f.user("outsider")
	otherSrv, _ := f.server(outsider, "Elsewhere")

	all := append([]model.User{owner}, members...) // user ids ascend in creation order
	// Page through with limit 2.
	var seen []int64
	after := int64(0)
	pages := 0
	for {
		page, err := f.community.Members(f.ctx, srv, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d with limit 2", len(page))
		}
		for _, m := range page {
			if m.ServerID != srv || m.User.Username == "" || m.User.Email == "" || m.JoinedAt.IsZero() {
				t.Fatalf("member row %+v", m)
			}
			seen = append(seen, m.User.ID)
		}
		after = page[len(page)-1].User.ID
		pages++
	}
	want := make([]int64, len(all))
	for i, u := range all {
		want[i] = u.ID
	}
	if !slices.Equal(seen, want) || pages != 3 {
		t.Fatalf("paged members %v in %d pages, want %v in 3", seen, pages, want)
	}
	// after skips everything up to and including that id.
	if page, _ := f.community.Members(f.ctx, srv, members[2].ID, 10); len(page) != 2 || page[0].User.ID != members[3].ID {
		t.Fatalf("Members after m2 = %+v", page)
	}
	if ids, err := memberIDs(f, srv); err != nil || !slices.Equal(sortedIDs(ids), want) {
		t.Fatalf("MemberIDs = %v, %v", ids, err)
	}

	// Member.
	m, err := f.community.Member(f.ctx, srv, members[1].ID)
	if err != nil || m.User.ID != members[1].ID || m.Role != model.RoleMember || m.User.Username != "m1" || m.ServerID != srv {
		t.Fatalf("Member = %+v, %v", m, err)
	}
	if m, err := f.community.Member(f.ctx, srv, owner.ID); err != nil || m.Role != model.RoleOwner {
		t.Fatalf("Member(owner) = %+v, %v", m, err)
	}
	if _, err := f.community.Member(f.ctx, srv, outsider.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Member(outsider): %v", err)
	}
	if _, err := f.community.Member(f.ctx, otherSrv, members[0].ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Member(in another server): %v", err)
	}

	// SetRole.
	if err := f.community.SetRole(f.ctx, srv, members[0].ID, model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if role, _ := f.community.Role(f.ctx, srv, members[0].ID); role != model.RoleAdmin {
		t.Fatalf("role after SetRole = %q", role)
	}
	if role, _ := f.community.Role(f.ctx, srv, members[1].ID); role != model.RoleMember {
		t.Fatalf("another member's role changed to %q", role)
	}
	if err := f.community.SetRole(f.ctx, srv, outsider.ID, model.RoleAdmin); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("SetRole(non-member): %v", err)
	}
	if err := f.community.SetRole(f.ctx, srv, members[1].ID, "emperor"); err == nil {
		t.Fatal("SetRole accepted an unknown role")
	}

	// RemoveMember.
	if err := f.community.RemoveMember(f.ctx, srv, members[4].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.community.Role(f.ctx, srv, members[4].ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Role after removal: %v", err)
	}
	if err := f.community.RemoveMember(f.ctx, srv, members[4].ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
	if s, _ := f.community.Server(f.ctx, srv); s.MemberCount != 5 {
		t.Fatalf("member count after removal = %d, want 5", s.MemberCount)
	}
	if ids, _ := f.community.ServerIDs(f.ctx, members[4].ID); len(ids) != 0 {
		t.Fatalf("removed member still in servers %v", ids)
	}
}

func TestDeleteServerCascades(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, a, b := f.user("owner"), f.user("a"), f.user("b")
	srv, general := f.server(owner, "Doomed")
	f.join(srv, owner.ID, a, b)
	random := f.id()
	if err := f.community.CreateChannel(f.ctx, model.Channel{ID: random, ServerID: srv, Name: "random"}, 0); err != nil {
		t.Fatal(err)
	}
	keep, keepChan := f.server(a, "Survivor")
	f.join(keep, a.ID, owner)
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "doomed-invite", ServerID: srv, CreatorID: owner.ID}, 0); err != nil {
		t.Fatal(err)
	}

	chans, members, err := f.community.DeleteServer(f.ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sortedIDs(chans), sortedIDs([]int64{general, random})) {
		t.Errorf("deleted channel ids = %v, want %v", chans, []int64{general, random})
	}
	if !slices.Equal(sortedIDs(members), sortedIDs([]int64{owner.ID, a.ID, b.ID})) {
		t.Errorf("former member ids = %v", members)
	}
	if _, err := f.community.Server(f.ctx, srv); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Server after delete: %v", err)
	}
	for _, c := range []int64{general, random} {
		if _, err := f.community.Channel(f.ctx, c); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("channel %d survived: %v", c, err)
		}
	}
	if ids, _ := memberIDs(f, srv); len(ids) != 0 {
		t.Errorf("memberships survived: %v", ids)
	}
	if _, err := f.community.Invite(f.ctx, "doomed-invite"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("invite survived: %v", err)
	}
	// The other server is untouched.
	if ids, _ := memberIDs(f, keep); len(ids) != 2 {
		t.Errorf("other server's members = %v", ids)
	}
	if _, err := f.community.Channel(f.ctx, keepChan); err != nil {
		t.Errorf("other server's channel: %v", err)
	}
	if ids, _ := f.community.ServerIDs(f.ctx, b.ID); len(ids) != 0 {
		t.Errorf("b still in %v", ids)
	}
	if _, _, err := f.community.DeleteServer(f.ctx, srv); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

func TestInvites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, u1, u2, u3 := f.user("owner"), f.user("u1"), f.user("u2"), f.user("u3")
	srv, _ := f.server(owner, "Guild")
	t0 := now()
	two := 2
	exp := t0.Add(time.Hour)
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "abc", ServerID: srv, CreatorID: owner.ID, MaxUses: &two, ExpiresAt: &exp}, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "abc", ServerID: srv, CreatorID: u1.ID}, 0); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("duplicate code: err = %v, want ErrConflict", err)
	}
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "orphan", ServerID: 999999, CreatorID: owner.ID}, 0); err == nil || errors.Is(err, model.ErrConflict) {
		t.Fatalf("invite to a missing server: err = %v", err)
	}
	inv, err := f.community.Invite(f.ctx, "abc")
	if err != nil || inv.Code != "abc" || inv.ServerID != srv || inv.CreatorID != owner.ID || inv.MaxUses == nil || *inv.MaxUses != 2 ||
		inv.Uses != 0 || inv.ExpiresAt == nil || !inv.ExpiresAt.Equal(exp) || inv.CreatedAt.IsZero() {
		t.Fatalf("Invite = %+v, %v", inv, err)
	}
	if _, err := f.community.Invite(f.ctx, "nope"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Invite(unknown): %v", err)
	}
	uses := func(code string) int {
		t.Helper()
		inv, err := f.community.Invite(f.ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		return inv.Uses
	}

	got, err := f.community.UseInvite(f.ctx, "abc", u1.ID, t0, 0)
	if err != nil || got != srv {
		t.Fatalf("UseInvite(u1) = %d, %v", got, err)
	}
	if n := uses("abc"); n != 1 {
		t.Fatalf("uses = %d, want 1", n)
	}
	if role, err := f.community.Role(f.ctx, srv, u1.ID); err != nil || role != model.RoleMember {
		t.Fatalf("u1's role = %q, %v", role, err)
	}
	// Already a member (the joiner, and the owner): not consumed.
	for _, u := range []model.User{u1, owner} {
		if _, err := f.community.UseInvite(f.ctx, "abc", u.ID, t0, 0); !errors.Is(err, model.ErrAlreadyMember) {
			t.Fatalf("UseInvite(%s, already a member): err = %v, want ErrAlreadyMember", u.Username, err)
		}
	}
	if n := uses("abc"); n != 1 {
		t.Fatalf("uses after already-member attempts = %d, want 1", n)
	}
	if _, err := f.community.UseInvite(f.ctx, "abc", u2.ID, t0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.community.UseInvite(f.ctx, "abc", u3.ID, t0, 0); !errors.Is(err, model.ErrInviteUsedUp) {
		t.Fatalf("third use of a 2-use invite: err = %v, want ErrInviteUsedUp", err)
	}
	if n := uses("abc"); n != 2 {
		t.Fatalf("uses = %d, want 2", n)
	}
	if _, err := f.community.Role(f.ctx, srv, u3.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("u3 joined through a used-up invite: %v", err)
	}

	// Expired (at and after the expiry instant), not consumed.
	past := t0.Add(time.Minute)
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "old", ServerID: srv, CreatorID: owner.ID, ExpiresAt: &past}, 0); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{past, past.Add(time.Hour)} {
		if _, err := f.community.UseInvite(f.ctx, "old", u3.ID, at, 0); !errors.Is(err, model.ErrInviteExpired) {
			t.Fatalf("expired invite at %v: err = %v, want ErrInviteExpired", at, err)
		}
	}
	if n := uses("old"); n != 0 {
		t.Fatalf("expired invite uses = %d", n)
	}
	if _, err := f.community.Role(f.ctx, srv, u3.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("u3 joined through an expired invite: %v", err)
	}
	// Just before expiry it works; unlimited invites have no cap.
	if _, err := f.community.UseInvite(f.ctx, "old", u3.ID, past.Add(-time.Millisecond), 0); err != nil {
		t.Fatalf("using an invite just before expiry: %v", err)
	}
	if _, err := f.community.UseInvite(f.ctx, "nope", u3.ID, t0, 0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("UseInvite(unknown): %v", err)
	}
}

// The package exports its own invite-outcome sentinels ("Invite use outcomes"), so callers of this package
// can test UseInvite's result against them like they do with postgres.ErrNotFound / ErrUsernameTaken.
func TestUseInviteOutcomesMatchPackageSentinels(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, u1, u2 := f.user("owner"), f.user("u1"), f.user("u2")
	srv, _ := f.server(owner, "Guild")
	t0 := now()
	one := 1
	past := t0.Add(-time.Minute)
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "once", ServerID: srv, CreatorID: owner.ID, MaxUses: &one}, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "expired", ServerID: srv, CreatorID: owner.ID, ExpiresAt: &past}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.community.UseInvite(f.ctx, "once", u1.ID, t0, 0); err != nil {
		t.Fatal(err)
	}
	_, errUsedUp := f.community.UseInvite(f.ctx, "once", u2.ID, t0, 0)
	_, errMember := f.community.UseInvite(f.ctx, "once", u1.ID, t0, 0)
	_, errExpired := f.community.UseInvite(f.ctx, "expired", u2.ID, t0, 0)
	for _, c := range []struct {
		name     string
		err, pkg error
	}{
		{"ErrInviteUsedUp", errUsedUp, postgres.ErrInviteUsedUp},
		{"ErrAlreadyMember", errMember, postgres.ErrAlreadyMember},
		{"ErrInviteExpired", errExpired, postgres.ErrInviteExpired},
	} {
		if !errors.Is(c.err, c.pkg) {
			t.Errorf("UseInvite returned %v, which does not match postgres.%s (a separate errors.New, not model.%s)", c.err, c.name, c.name)
		}
	}
}

// N users race for the last seat of a single-use invite: the row lock must let exactly one in.
func TestConcurrentUseInviteOnSingleUseInvite(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner := f.user("owner")
	srv, _ := f.server(owner, "Guild")
	const n = 8
	users := make([]model.User, n)
	for i := range users {
		users[i] = f.user(fmt.Sprintf("racer%d", i))
	}
	for round := 0; round < 3; round++ {
		one := 1
		code := fmt.Sprintf("single-%d", round)
		if err := f.community.CreateInvite(f.ctx, model.Invite{Code: code, ServerID: srv, CreatorID: owner.ID, MaxUses: &one}, 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = f.community.UseInvite(f.ctx, code, u.ID, now(), 0)
			}()
		}
		close(start)
		wg.Wait()
		joined, usedUp, already := 0, 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				joined++
			case errors.Is(err, model.ErrInviteUsedUp):
				usedUp++
			case errors.Is(err, model.ErrAlreadyMember):
				already++
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if joined != 1 || usedUp+already != n-1 {
			t.Fatalf("round %d: %d joined, %d used up, %d already members; errors %v", round, joined, usedUp, already, errs)
		}
		if inv, _ := f.community.Invite(f.ctx, code); inv.Uses != 1 {
			t.Fatalf("round %d: uses = %d, want 1", round, inv.Uses)
		}
		if ids, _ := memberIDs(f, srv); len(ids) != round+2 {
			t.Fatalf("round %d: %d members, want %d", round, len(ids), round+2)
		}
	}
}

// One user opens two different invites to the same server at the same time. Both transactions check membership
// before either has inserted it; the loser must still get ErrAlreadyMember (the documented outcome), not a raw
// unique-violation error. To make the interleaving certain, another transaction holds the server row FOR UPDATE,
// which blocks both inserts at their foreign-key check (after both membership checks) until it commits.
func TestUseInviteTwoInvitesSameUserConcurrently(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, u := f.user("owner"), f.user("double")
	srv, _ := f.server(owner, "Guild")
	for _, code := range []string{"link-a", "link-b"} {
		if err := f.community.CreateInvite(f.ctx, model.Invite{Code: code, ServerID: srv, CreatorID: owner.ID}, 0); err != nil {
			t.Fatal(err)
		}
	}
	blocker, err := f.db.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(context.Background())
	if _, err := blocker.Exec(f.ctx, "SELECT 1 FROM servers WHERE id = $1 FOR UPDATE", srv); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, code := range []string{"link-a", "link-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.community.UseInvite(f.ctx, code, u.ID, now(), 0)
		}()
	}
	// Wait until both are blocked on a lock.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := f.db.QueryRow(f.ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d UseInvite calls blocked", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := blocker.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, model.ErrAlreadyMember):
		default:
			t.Errorf("call %d: err = %v, want nil or ErrAlreadyMember", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d calls joined, want 1 (errors %v)", ok, errs)
	}
	if role, err := f.community.Role(f.ctx, srv, u.ID); err != nil || role != model.RoleMember {
		t.Errorf("role = %q, %v", role, err)
	}
	a, _ := f.community.Invite(f.ctx, "link-a")
	b, _ := f.community.Invite(f.ctx, "link-b")
	if a.Uses+b.Uses != 1 {
		t.Errorf("uses %d + %d, want 1 in total", a.Uses, b.Uses)
	}
}

func TestChannelsCreateRenameDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner := f.user("owner")
	s1, general1 := f.server(owner, "One")
	s2, _ := f.server(owner, "Two")

	dev := f.id()
	if err := f.community.CreateChannel(f.ctx, model.Channel{ID: dev, ServerID: s1, Name: "dev"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.community.CreateChannel(f.ctx, model.Channel{ID: f.id(), ServerID: s1, Name: "dev"}, 0); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("duplicate channel name in one server: err = %v, want ErrConflict", err)
	}
	dev2 := f.id()
	if err := f.community.CreateChannel(f.ctx, model.Channel{ID: dev2, ServerID: s2, Name: "dev"}, 0); err != nil {
		t.Fatalf("same name in another server: %v", err)
	}
	if err := f.community.CreateChannel(f.ctx, model.Channel{ID: f.id(), ServerID: 999999, Name: "x"}, 0); err == nil || errors.Is(err, model.ErrConflict) {
		t.Fatalf("channel in a missing server: err = %v", err)
	}
	chans, err := f.community.Channels(f.ctx, s1)
	if err != nil || len(chans) != 2 || chans[0].ID != general1 || chans[1].ID != dev || chans[1].Name != "dev" {
		t.Fatalf("Channels(s1) = %+v, %v", chans, err)
	}

	if err := f.community.RenameChannel(f.ctx, dev, "general"); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("renaming onto an existing name: err = %v, want ErrConflict", err)
	}
	if c, _ := f.community.Channel(f.ctx, dev); c.Name != "dev" {
		t.Fatalf("failed rename changed the name to %q", c.Name)
	}
	if err := f.community.RenameChannel(f.ctx, dev, "development"); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.community.Channel(f.ctx, dev); c.Name != "development" {
		t.Fatalf("name after rename = %q", c.Name)
	}
	if c, _ := f.community.Channel(f.ctx, dev2); c.Name != "dev" {
		t.Fatalf("the other server's channel was renamed to %q", c.Name)
	}
	// The old name is free again.
	if err := f.community.CreateChannel(f.ctx, model.Channel{ID: f.id(), ServerID: s1, Name: "dev"}, 0); err != nil {
		t.Fatalf("reusing a renamed-away name: %v", err)
	}
	if err := f.community.RenameChannel(f.ctx, 999999, "x"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("RenameChannel(unknown): %v", err)
	}

	if err := f.community.DeleteChannel(f.ctx, dev); err != nil {
		t.Fatal(err)
	}
	if _, err := f.community.Channel(f.ctx, dev); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Channel after delete: %v", err)
	}
	if err := f.community.DeleteChannel(f.ctx, dev); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := f.community.Channel(f.ctx, general1); err != nil {
		t.Fatalf("another channel went with it: %v", err)
	}
}

func dmKey(a, b int64) string {
	if a > b {
		a, b = b, a
	}
	return fmt.Sprintf("%d:%d", a, b)
}

func TestDMs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c, d := f.user("ann"), f.user("ben"), f.user("cat"), f.user("dan")

	first := f.id()
	dm, created, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: first}, []int64{a.ID, b.ID}, dmKey(a.ID, b.ID))
	if err != nil || !created || dm.ID != first || dm.Kind != model.ChannelDM || dm.CreatedAt.IsZero() {
		t.Fatalf("first FindOrCreateDM = %+v, %v, %v", dm, created, err)
	}
	again, created, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{a.ID, b.ID}, dmKey(b.ID, a.ID))
	if err != nil || created || again.ID != first || !again.CreatedAt.Equal(dm.CreatedAt) || again.Kind != model.ChannelDM {
		t.Fatalf("second FindOrCreateDM = %+v, %v, %v; want the existing channel %d", again, created, err, first)
	}
	// Group DMs (no key) are always new, even with the same people.
	g1, created1, err1 := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{a.ID, b.ID, c.ID}, "")
	g2, created2, err2 := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{a.ID, b.ID, c.ID}, "")
	if err1 != nil || err2 != nil || !created1 || !created2 || g1.ID == g2.ID {
		t.Fatalf("group DMs: %+v %v %v / %+v %v %v", g1, created1, err1, g2, created2, err2)
	}
	// A participant that does not exist rolls the whole DM back.
	bad := f.id()
	if _, _, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: bad}, []int64{a.ID, 987654}, dmKey(a.ID, 987654)); err == nil {
		t.Fatal("FindOrCreateDM accepted a missing participant")
	}
	if _, err := f.community.Channel(f.ctx, bad); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("half-created DM left behind: %v", err)
	}

	// DMsOf: every DM of the user with all participants' profiles, by channel id.
	dms, err := f.community.DMsOf(f.ctx, a.ID)
	if err != nil || len(dms) != 3 {
		t.Fatalf("DMsOf(a) = %+v, %v", dms, err)
	}
	wantParts := [][]int64{{a.ID, b.ID}, {a.ID, b.ID, c.ID}, {a.ID, b.ID, c.ID}}
	wantIDs := []int64{first, g1.ID, g2.ID}
	for i, ch := range dms {
		var parts []int64
		for _, u := range ch.Participants {
			parts = append(parts, u.ID)
			if u.Username == "" {
				t.Errorf("participant without profile: %+v", u)
			}
		}
		if ch.ID != wantIDs[i] || ch.Kind != model.ChannelDM || ch.CreatedAt.IsZero() || !slices.Equal(parts, wantParts[i]) {
			t.Errorf("DMsOf(a)[%d] = id %d kind %q participants %v; want id %d participants %v", i, ch.ID, ch.Kind, parts, wantIDs[i], wantParts[i])
		}
	}
	if dms, err := f.community.DMsOf(f.ctx, c.ID); err != nil || len(dms) != 2 {
		t.Fatalf("DMsOf(c) = %d DMs, %v", len(dms), err)
	}
	if dms, err := f.community.DMsOf(f.ctx, d.ID); err != nil || len(dms) != 0 {
		t.Fatalf("DMsOf(d) = %+v, %v", dms, err)
	}
	if ids, err := f.community.DMChannelIDs(f.ctx, c.ID); err != nil || !slices.Equal(sortedIDs(ids), sortedIDs([]int64{g1.ID, g2.ID})) {
		t.Fatalf("DMChannelIDs(c) = %v, %v", ids, err)
	}
	if ids, err := f.community.DMChannelIDs(f.ctx, d.ID); err != nil || len(ids) != 0 {
		t.Fatalf("DMChannelIDs(d) = %v, %v", ids, err)
	}
}

func TestFindOrCreateDMConcurrentlyIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.user("ann"), f.user("ben")
	const n = 8
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = f.id()
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	got := make([]model.Channel, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			parts := []int64{a.ID, b.ID}
			if i%2 == 1 {
				parts = []int64{b.ID, a.ID}
			}
			got[i], created[i], errs[i] = f.community.FindOrCreateDM(f.ctx, model.Channel{ID: ids[i]}, parts, dmKey(a.ID, b.ID))
		}()
	}
	close(start)
	wg.Wait()
	nCreated := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if got[i].ID != got[0].ID {
			t.Fatalf("call %d got channel %d, call 0 got %d", i, got[i].ID, got[0].ID)
		}
		if created[i] {
			nCreated++
			if got[i].ID != ids[i] {
				t.Fatalf("the creating call returned id %d, not its own %d", got[i].ID, ids[i])
			}
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d calls created the DM, want 1", nCreated)
	}
	if dms, _ := f.community.DMsOf(f.ctx, a.ID); len(dms) != 1 || len(dms[0].Participants) != 2 {
		t.Fatalf("DMsOf(a) = %+v", dms)
	}
	var count int
	if err := f.db.QueryRow(f.ctx, "SELECT count(*) FROM channels WHERE kind = 'dm'").Scan(&count); err != nil || count != 1 {
		t.Fatalf("%d DM channels, %v", count, err)
	}
}

func TestAccessQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, member, outsider, friend, stranger := f.user("owner"), f.user("member"), f.user("outsider"), f.user("friend"), f.user("stranger")
	srv, general := f.server(owner, "Guild")
	f.join(srv, owner.ID, member)
	random := f.id()
	if err := f.community.CreateChannel(f.ctx, model.Channel{ID: random, ServerID: srv, Name: "random"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.community.SetRole(f.ctx, srv, member.ID, model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	otherSrv, otherChan := f.server(outsider, "Other")
	dm, _, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{member.ID, friend.ID}, dmKey(member.ID, friend.ID))
	if err != nil {
		t.Fatal(err)
	}

	// CanRead.
	if c, role, err := f.community.CanRead(f.ctx, general, owner.ID); err != nil || role != model.RoleOwner || c.ID != general || c.ServerID != srv || c.Kind != model.ChannelText || c.Name != "general" {
		t.Errorf("CanRead(owner) = %+v, %q, %v", c, role, err)
	}
	if _, role, err := f.community.CanRead(f.ctx, random, member.ID); err != nil || role != model.RoleAdmin {
		t.Errorf("CanRead(member) = %q, %v", role, err)
	}
	if _, _, err := f.community.CanRead(f.ctx, general, outsider.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("CanRead(non-member): %v", err)
	}
	if c, role, err := f.community.CanRead(f.ctx, dm.ID, friend.ID); err != nil || role != model.RoleMember || c.Kind != model.ChannelDM || c.ServerID != 0 {
		t.Errorf("CanRead(DM participant) = %+v, %q, %v", c, role, err)
	}
	if _, _, err := f.community.CanRead(f.ctx, dm.ID, owner.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("CanRead(DM outsider): %v", err)
	}
	if _, _, err := f.community.CanRead(f.ctx, 999999, owner.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("CanRead(unknown channel): %v", err)
	}
	cctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if _, _, err := f.community.CanRead(cctx, general, owner.ID); err == nil || errors.Is(err, model.ErrNotFound) {
		t.Errorf("CanRead with a cancelled context: %v", err)
	}

	// ReadableChannelIDs.
	if ids, err := f.community.ReadableChannelIDs(f.ctx, member.ID); err != nil || !slices.Equal(sortedIDs(ids), sortedIDs([]int64{general, random, dm.ID})) {
		t.Errorf("ReadableChannelIDs(member) = %v, %v", ids, err)
	}
	if ids, err := f.community.ReadableChannelIDs(f.ctx, friend.ID); err != nil || !slices.Equal(ids, []int64{dm.ID}) {
		t.Errorf("ReadableChannelIDs(friend) = %v, %v", ids, err)
	}
	if ids, err := f.community.ReadableChannelIDs(f.ctx, outsider.ID); err != nil || !slices.Equal(ids, []int64{otherChan}) {
		t.Errorf("ReadableChannelIDs(outsider) = %v, %v", ids, err)
	}
	if ids, err := f.community.ReadableChannelIDs(f.ctx, stranger.ID); err != nil || len(ids) != 0 {
		t.Errorf("ReadableChannelIDs(stranger) = %v, %v", ids, err)
	}

	// ServerIDs.
	if ids, err := f.community.ServerIDs(f.ctx, owner.ID); err != nil || !slices.Equal(ids, []int64{srv}) {
		t.Errorf("ServerIDs(owner) = %v, %v", ids, err)
	}
	if ids, err := f.community.ServerIDs(f.ctx, outsider.ID); err != nil || !slices.Equal(ids, []int64{otherSrv}) {
		t.Errorf("ServerIDs(outsider) = %v, %v", ids, err)
	}

	// SharedUserIDs: through a server or a DM; not strangers; once each even when shared twice.
	if _, _, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{owner.ID, member.ID}, dmKey(owner.ID, member.ID)); err != nil {
		t.Fatal(err)
	}
	ids, err := f.community.SharedUserIDs(f.ctx, member.ID, []int64{owner.ID, friend.ID, outsider.ID, stranger.ID, 999999})
	if err != nil || !slices.Equal(sortedIDs(ids), sortedIDs([]int64{owner.ID, friend.ID})) {
		t.Errorf("SharedUserIDs(member) = %v, %v; want owner (server and DM) and friend (DM)", ids, err)
	}
	if ids, err := f.community.SharedUserIDs(f.ctx, stranger.ID, []int64{owner.ID, member.ID}); err != nil || len(ids) != 0 {
		t.Errorf("SharedUserIDs(stranger) = %v, %v", ids, err)
	}
	if ids, err := f.community.SharedUserIDs(f.ctx, owner.ID, nil); err != nil || len(ids) != 0 {
		t.Errorf("SharedUserIDs(no others) = %v, %v", ids, err)
	}
}

// Every list query reports a failed query instead of an empty result.
func TestQueriesReportErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	c := f.community
	checks := map[string]error{}
	_, checks["ServersOf"] = c.ServersOf(ctx, 1)
	_, _, checks["DeleteServer"] = c.DeleteServer(ctx, 1)
	_, checks["Members"] = c.Members(ctx, 1, 0, 10)
	_, checks["Member"] = c.Member(ctx, 1, 1)
	_, checks["Channels"] = c.Channels(ctx, 1)
	_, checks["DMsOf"] = c.DMsOf(ctx, 1)
	_, checks["ReadableChannelIDs"] = c.ReadableChannelIDs(ctx, 1)
	_, checks["ServerIDs"] = c.ServerIDs(ctx, 1)
	_, checks["DMChannelIDs"] = c.DMChannelIDs(ctx, 1)
	_, checks["SharedUserIDs"] = c.SharedUserIDs(ctx, 1, []int64{2})
	_, _, checks["FindOrCreateDM"] = c.FindOrCreateDM(ctx, model.Channel{ID: 1}, []int64{1, 2}, "1:2")
	_, checks["UseInvite"] = c.UseInvite(ctx, "x", 1, now(), 0)
	_, checks["ByIDs"] = f.users.ByIDs(ctx, []int64{1})
	_, checks["SearchByName"] = f.users.SearchByName(ctx, "a", 10)
	for name, err := range checks {
		if err == nil || errors.Is(err, model.ErrNotFound) {
			t.Errorf("%s with a cancelled context: err = %v, want a query error", name, err)
		}
	}
}

// memberIDs reads a server's members straight from the table (the test's oracle).
func memberIDs(f *fixture, serverID int64) ([]int64, error) {
	rows, err := f.db.Query(f.ctx, "SELECT user_id FROM server_members WHERE server_id = $1", serverID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
