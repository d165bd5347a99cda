package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
)

// waitLocked waits until n sessions of the test database wait on a lock.
func (f *fixture) waitLocked(n int) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := f.db.QueryRow(f.ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting); err != nil {
			f.t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d sessions waiting on a lock, want %d", waiting, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isMember(f *fixture, serverID, userID int64) bool {
	f.t.Helper()
	ids, err := memberIDs(f, serverID)
	if err != nil {
		f.t.Fatal(err)
	}
	return slices.Contains(ids, userID)
}

func TestBanRemovesRevokesAndRefusesJoins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, mod, bad, other := f.user("owner"), f.user("mod"), f.user("bad"), f.user("other")
	srv, _ := f.server(owner, "Guild")
	f.join(srv, owner.ID, bad, other)
	for _, code := range []string{"bads-own", "owners"} {
		creator := owner.ID
		if code == "bads-own" {
			creator = bad.ID
		}
		if err := f.community.CreateInvite(f.ctx, model.Invite{Code: code, ServerID: srv, CreatorID: creator}, 0); err != nil {
			t.Fatal(err)
		}
	}

	was, err := f.community.Ban(f.ctx, model.Ban{ServerID: srv, User: model.User{ID: bad.ID}, BannedBy: mod.ID, Reason: "spam"})
	if err != nil || !was {
		t.Fatalf("Ban = %v, %v; want a former member", was, err)
	}
	if isMember(f, srv, bad.ID) {
		t.Fatal("banned user is still a member")
	}
	if _, err := f.community.Invite(f.ctx, "bads-own"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("the banned user's invite survived: %v", err)
	}
	if _, err := f.community.UseInvite(f.ctx, "owners", bad.ID, now(), 0); !errors.Is(err, model.ErrBanned) {
		t.Fatalf("banned user joining = %v, want ErrBanned", err)
	}
	if inv, _ := f.community.Invite(f.ctx, "owners"); inv.Uses != 0 { // a refused join is not a use
		t.Fatalf("uses = %d", inv.Uses)
	}
	// Banning again updates the reason; the banner's account going away leaves the ban.
	if was, err := f.community.Ban(f.ctx, model.Ban{ServerID: srv, User: model.User{ID: bad.ID}, BannedBy: owner.ID, Reason: "spam, twice"}); err != nil || was {
		t.Fatalf("second Ban = %v, %v", was, err)
	}
	if was, err := f.community.Ban(f.ctx, model.Ban{ServerID: srv, User: model.User{ID: other.ID}}); err != nil || !was {
		t.Fatalf("Ban(other) = %v, %v", was, err)
	}
	bans, err := f.community.Bans(f.ctx, srv)
	if err != nil || len(bans) != 2 || bans[0].User.ID != other.ID || bans[0].BannedBy != 0 || bans[1].Reason != "spam, twice" ||
		bans[1].BannedBy != owner.ID || bans[1].User.Username != "bad" || bans[1].CreatedAt.IsZero() {
		t.Fatalf("Bans = %+v, %v", bans, err)
	}
	// Unknown users and servers.
	if _, err := f.community.Ban(f.ctx, model.Ban{ServerID: srv, User: model.User{ID: 987654}}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Ban(unknown user) = %v", err)
	}
	if _, err := f.community.Ban(f.ctx, model.Ban{ServerID: 987654, User: model.User{ID: bad.ID}}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Ban(unknown server) = %v", err)
	}
	if err := f.community.Unban(f.ctx, srv, bad.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.community.Unban(f.ctx, srv, bad.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second Unban = %v", err)
	}
	if _, err := f.community.UseInvite(f.ctx, "owners", bad.ID, now(), 0); err != nil {
		t.Fatalf("join after unban: %v", err)
	}
}

// The race a ban must win: a join that already passed its ban check, then the ban, then the join's insert. The join
// holds the server row shared until it commits, so the ban waits for it and then removes the fresh member. The
// interleaving is forced: a third transaction holds the joiner's user row, where the join stops (its server quota
// check, after the ban check); the ban is started and must be waiting too before the join may go on.
func TestBanWaitsForAJoinInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, u := f.user("owner"), f.user("joiner")
	srv, _ := f.server(owner, "Guild")
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "door", ServerID: srv, CreatorID: owner.ID}, 0); err != nil {
		t.Fatal(err)
	}
	blocker, err := f.db.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(context.Background())
	if _, err := blocker.Exec(f.ctx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", u.ID); err != nil {
		t.Fatal(err)
	}
	joinErr, banDone := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := f.community.UseInvite(f.ctx, "door", u.ID, now(), 100)
		joinErr <- err
	}()
	f.waitLocked(1)
	var was bool
	go func() {
		var err error
		was, err = f.community.Ban(f.ctx, model.Ban{ServerID: srv, User: model.User{ID: u.ID}, BannedBy: owner.ID})
		banDone <- err
	}()
	f.waitLocked(2)
	if err := blocker.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-joinErr; err != nil {
		t.Fatalf("join: %v", err)
	}
	if err := <-banDone; err != nil || !was {
		t.Fatalf("ban = %v, %v; want it to remove the member who joined meanwhile", was, err)
	}
	if isMember(f, srv, u.ID) {
		t.Fatal("banned and a member: the ban did not wait for the join")
	}
}

func TestQuotasHoldUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, u := f.user("owner"), f.user("joiner")
	const servers, limit = 6, 3
	codes := make([]string, servers)
	for i := range codes {
		srv, _ := f.server(owner, fmt.Sprintf("S%d", i))
		codes[i] = fmt.Sprintf("s%d", i)
		if err := f.community.CreateInvite(f.ctx, model.Invite{Code: codes[i], ServerID: srv, CreatorID: owner.ID}, 0); err != nil {
			t.Fatal(err)
		}
	}
	run := func(n int, fn func(i int) error) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = fn(i)
			}()
		}
		close(start)
		wg.Wait()
		return errs
	}
	count := func(errs []error) (ok, limited int) {
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, model.ErrLimitReached):
				limited++
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		return ok, limited
	}
	// Servers per user: six joins at once, three fit.
	errs := run(servers, func(i int) error { _, err := f.community.UseInvite(f.ctx, codes[i], u.ID, now(), limit); return err })
	if ok, limited := count(errs); ok != limit || limited != servers-limit {
		t.Fatalf("joins: %d ok, %d limited; %v", ok, limited, errs)
	}
	if err := f.community.CreateServer(f.ctx, model.Server{ID: f.id(), Name: "Mine", OwnerID: u.ID}, model.Channel{ID: f.id(), Name: "general"}, limit); !errors.Is(err, model.ErrLimitReached) {
		t.Fatalf("CreateServer over the quota = %v", err)
	}

	// Usable invites per server: ten at once, four fit; an expired or used-up invite does not count.
	srv, _ := f.server(owner, "Invites")
	past, one := now().Add(-time.Hour), 1
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "expired", ServerID: srv, CreatorID: owner.ID, ExpiresAt: &past}, 4); err != nil {
		t.Fatal(err)
	}
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "once", ServerID: srv, CreatorID: owner.ID, MaxUses: &one}, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := f.community.UseInvite(f.ctx, "once", f.user("guest").ID, now(), 0); err != nil {
		t.Fatal(err)
	}
	errs = run(10, func(i int) error {
		return f.community.CreateInvite(f.ctx, model.Invite{Code: fmt.Sprintf("i%d", i), ServerID: srv, CreatorID: owner.ID}, 4)
	})
	if ok, limited := count(errs); ok != 4 || limited != 6 {
		t.Fatalf("invites: %d ok, %d limited; %v", ok, limited, errs)
	}
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "nowhere", ServerID: 987654, CreatorID: owner.ID}, 4); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("invite of an unknown server = %v", err)
	}

	// Channels per server: #general plus four at once, two fit under a limit of three.
	errs = run(4, func(i int) error {
		return f.community.CreateChannel(f.ctx, model.Channel{ID: f.id(), ServerID: srv, Name: fmt.Sprintf("c%d", i)}, 3)
	})
	if ok, limited := count(errs); ok != 2 || limited != 2 {
		t.Fatalf("channels: %d ok, %d limited; %v", ok, limited, errs)
	}
}

func TestInviteListAndRevoke(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner, other := f.user("owner"), f.user("other")
	srv, _ := f.server(owner, "Guild")
	s2, _ := f.server(other, "Other")
	for _, code := range []string{"first", "second"} {
		if err := f.community.CreateInvite(f.ctx, model.Invite{Code: code, ServerID: srv, CreatorID: owner.ID}, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // created_at orders the list
	}
	// An invite that expired over a week ago is purged by the next creation under a quota.
	old := now().Add(-8 * 24 * time.Hour)
	if _, err := f.db.Exec(f.ctx, "INSERT INTO invites (code, server_id, creator_id, expires_at) VALUES ('ancient', $1, $2, $3)", srv, owner.ID, old); err != nil {
		t.Fatal(err)
	}
	if err := f.community.CreateInvite(f.ctx, model.Invite{Code: "third", ServerID: srv, CreatorID: owner.ID}, 10); err != nil {
		t.Fatal(err)
	}
	invs, err := f.community.Invites(f.ctx, srv)
	if err != nil || len(invs) != 3 || invs[0].Code != "third" || invs[2].Code != "first" || invs[0].CreatorID != owner.ID {
		t.Fatalf("Invites = %+v, %v", invs, err)
	}
	if err := f.community.DeleteInvite(f.ctx, s2, "first"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoking another server's invite = %v", err)
	}
	if err := f.community.DeleteInvite(f.ctx, srv, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.community.UseInvite(f.ctx, "first", other.ID, now(), 0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoked invite used: %v", err)
	}
	// The invite setting.
	if err := f.community.SetMembersCanInvite(f.ctx, srv, false); err != nil {
		t.Fatal(err)
	}
	if s, err := f.community.Server(f.ctx, srv); err != nil || s.MembersCanInvite {
		t.Fatalf("Server = %+v, %v", s, err)
	}
	if s, err := f.community.Server(f.ctx, s2); err != nil || !s.MembersCanInvite {
		t.Fatalf("default: %+v, %v", s, err)
	}
	if err := f.community.SetMembersCanInvite(f.ctx, 987654, true); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
}

func TestBlocksPrivacyAndDMConsent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c, d, e := f.user("ann"), f.user("ben"), f.user("cat"), f.user("dan"), f.user("eve")
	srv, _ := f.server(a, "Guild")
	f.join(srv, a.ID, b) // a and b share a server
	dm, _, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{a.ID, c.ID}, dmKey(a.ID, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	group, _, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{a.ID, b.ID, c.ID}, "")
	if err != nil {
		t.Fatal(err)
	}

	// Consent: a may open a DM with b (server) and c (DM), not with d; e accepts everyone.
	if p, err := f.community.DMPolicy(f.ctx, e.ID); err != nil || p != model.DMFromServerMembers {
		t.Fatalf("default policy %q, %v", p, err)
	}
	if err := f.community.SetDMPolicy(f.ctx, e.ID, model.DMFromEveryone); err != nil {
		t.Fatal(err)
	}
	if err := f.community.SetDMPolicy(f.ctx, e.ID, "friends"); err == nil {
		t.Fatal("an unknown policy was stored")
	}
	if _, err := f.community.DMPolicy(f.ctx, 987654); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := f.community.SetDMPolicy(f.ctx, 987654, model.DMFromEveryone); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if ids, err := f.community.NotDMable(f.ctx, a.ID, []int64{b.ID, c.ID, d.ID, e.ID}); err != nil || !slices.Equal(ids, []int64{d.ID}) {
		t.Fatalf("NotDMable = %v, %v", ids, err)
	}

	// Blocks: a blocks c; d blocks a.
	for _, blk := range [][2]int64{{a.ID, c.ID}, {a.ID, c.ID}, {d.ID, a.ID}} {
		if err := f.community.Block(f.ctx, blk[0], blk[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.community.Block(f.ctx, a.ID, 987654); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("blocking a missing user = %v", err)
	}
	if err := f.community.Block(f.ctx, a.ID, a.ID); err == nil {
		t.Fatal("a user blocked themselves")
	}
	byMe, me, err := f.community.Blocks(f.ctx, a.ID, []int64{b.ID, c.ID, d.ID})
	if err != nil || !slices.Equal(byMe, []int64{c.ID}) || !slices.Equal(me, []int64{d.ID}) {
		t.Fatalf("Blocks = %v, %v, %v", byMe, me, err)
	}
	if us, err := f.community.Blocked(f.ctx, a.ID); err != nil || len(us) != 1 || us[0].Username != "cat" {
		t.Fatalf("Blocked = %+v, %v", us, err)
	}
	// Sending: the 1:1 DM is blocked (and says by whom); the group DM is not.
	if who, err := f.community.DMBlockers(f.ctx, dm.ID); err != nil || !slices.Equal(who, []int64{a.ID}) {
		t.Fatalf("DMBlockers(dm) = %v, %v", who, err)
	}
	if who, err := f.community.DMBlockers(f.ctx, group.ID); err != nil || len(who) != 0 {
		t.Fatalf("DMBlockers(group) = %v, %v", who, err)
	}
	// Presence: no DM carries it across the block (the group's neither); the server still does for a and b.
	if ids, err := f.community.DMChannelIDs(f.ctx, a.ID); err != nil || len(ids) != 0 {
		t.Fatalf("DMChannelIDs(a) = %v, %v", ids, err)
	}
	if ids, err := f.community.DMChannelIDs(f.ctx, b.ID); err != nil || !slices.Equal(ids, []int64{group.ID}) {
		t.Fatalf("DMChannelIDs(b) = %v, %v (b blocks nobody: the group carries b's presence)", ids, err)
	}
	if ids, err := f.community.SharedUserIDs(f.ctx, c.ID, []int64{a.ID, b.ID}); err != nil || !slices.Equal(ids, []int64{b.ID}) {
		t.Fatalf("SharedUserIDs(c) = %v, %v", ids, err)
	}
	if ids, err := f.community.SharedUserIDs(f.ctx, b.ID, []int64{a.ID, c.ID}); err != nil || !slices.Equal(sortedIDs(ids), sortedIDs([]int64{a.ID, c.ID})) {
		t.Fatalf("SharedUserIDs(b) = %v, %v", ids, err)
	}
	if err := f.community.Unblock(f.ctx, a.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.community.Unblock(f.ctx, a.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	if who, err := f.community.DMBlockers(f.ctx, dm.ID); err != nil || len(who) != 0 {
		t.Fatalf("after unblock: %v, %v", who, err)
	}
	if ids, err := f.community.SharedUserIDs(f.ctx, c.ID, []int64{a.ID}); err != nil || !slices.Equal(ids, []int64{a.ID}) {
		t.Fatalf("after unblock: %v, %v", ids, err)
	}
}

func TestCloseReopenAndLeaveDMs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c := f.user("ann"), f.user("ben"), f.user("cat")
	dm, _, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{a.ID, b.ID}, dmKey(a.ID, b.ID))
	if err != nil {
		t.Fatal(err)
	}
	group, _, err := f.community.FindOrCreateDM(f.ctx, model.Channel{ID: f.id()}, []int64{a.ID, b.ID, c.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := f.community.DMByKey(f.ctx, dmKey(a.ID, b.ID)); err != nil || id != dm.ID {
		t.Fatalf("DMByKey = %d, %v", id, err)
	}
	if _, err := f.community.DMByKey(f.ctx, dmKey(a.ID, c.ID)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("DMByKey(none) = %v", err)
	}
	for _, tc := range []struct {
		ch, user int64
		group    bool
		err      error
	}{{dm.ID, a.ID, false, nil}, {group.ID, c.ID, true, nil}, {dm.ID, c.ID, false, model.ErrNotFound}, {987654, a.ID, false, model.ErrNotFound}} {
		if g, err := f.community.DMGroup(f.ctx, tc.ch, tc.user); g != tc.group || !errors.Is(err, tc.err) {
			t.Errorf("DMGroup(%d, %d) = %v, %v", tc.ch, tc.user, g, err)
		}
	}

	// Closing is per participant and remembered with the id it was closed after.
	if err := f.community.CloseDM(f.ctx, dm.ID, a.ID, 4242); err != nil {
		t.Fatal(err)
	}
	if err := f.community.CloseDM(f.ctx, dm.ID, c.ID, 1); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("closing someone else's DM = %v", err)
	}
	closedAfter := func(user, ch int64) int64 {
		dms, err := f.community.DMsOf(f.ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dms {
			if d.ID == ch {
				return d.ClosedAfter
			}
		}
		t.Fatalf("DM %d not listed for %d", ch, user)
		return 0
	}
	if got := closedAfter(a.ID, dm.ID); got != 4242 {
		t.Fatalf("a's ClosedAfter = %d", got)
	}
	if got := closedAfter(b.ID, dm.ID); got != 0 {
		t.Fatalf("b's ClosedAfter = %d", got)
	}
	if dms, err := f.community.DMsOf(f.ctx, c.ID); err != nil || len(dms) != 1 || !dms[0].Group || dm.Group || !group.Group {
		t.Fatalf("group flags: %+v, %v (created: dm %v, group %v)", dms, err, dm.Group, group.Group)
	}
	if err := f.community.ReopenDMs(f.ctx, a.ID, []int64{dm.ID, group.ID}); err != nil {
		t.Fatal(err)
	}
	if got := closedAfter(a.ID, dm.ID); got != 0 {
		t.Fatalf("reopened: %d", got)
	}

	// Leaving: the others stay; the last one out deletes the group.
	if left, err := f.community.LeaveDM(f.ctx, group.ID, c.ID); err != nil || !slices.Equal(left, sortedIDs([]int64{a.ID, b.ID})) {
		t.Fatalf("LeaveDM(c) = %v, %v", left, err)
	}
	if _, _, err := f.community.CanRead(f.ctx, group.ID, c.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("c still reads the group: %v", err)
	}
	if _, err := f.community.LeaveDM(f.ctx, group.ID, c.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("leaving twice = %v", err)
	}
	if _, err := f.community.LeaveDM(f.ctx, group.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if left, err := f.community.LeaveDM(f.ctx, group.ID, b.ID); err != nil || len(left) != 0 {
		t.Fatalf("last one out = %v, %v", left, err)
	}
	if _, err := f.community.Channel(f.ctx, group.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("an empty group DM was kept: %v", err)
	}
}
