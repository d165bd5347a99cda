package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

type listedInvite struct {
	Code      string
	MaxUses   *int
	Uses      int
	ExpiresAt *time.Time
	Creator   *struct{ ID, Username string }
}

func listInvites(t *testing.T, s *testserver.Server, acc testserver.Account, serverID string) []listedInvite {
	t.Helper()
	res := s.Do(t, "GET", "/api/servers/"+serverID+"/invites", acc.AccessToken, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("list invites: %d %s", res.Status, res.Body)
	}
	var body struct{ Invites []listedInvite }
	res.JSON(t, &body)
	return body.Invites
}

func want(t *testing.T, res testserver.Response, status int, code string) {
	t.Helper()
	if res.Status != status || (code != "" && res.ErrorCode() != code) {
		t.Fatalf("got %d %s, want %d %s", res.Status, res.Body, status, code)
	}
}

func TestInviteOptionsListAndRevoke(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner, admin, member, guest := s.Register(t, "inv_owner"), s.Register(t, "inv_admin"), s.Register(t, "inv_member"), s.Register(t, "inv_guest")
	srv := createServer(t, s, owner, "Invite Rules")
	if !strings.Contains(string(s.Do(t, "GET", "/api/servers/"+srv.ID, owner.AccessToken, nil).Body), `"membersCanInvite":true`) {
		t.Fatal("members may invite by default (as in Discord)")
	}
	code := invite(t, s, owner, srv.ID, nil)
	join(t, s, admin, code)
	join(t, s, member, code)
	want(t, s.Do(t, "PATCH", "/api/servers/"+srv.ID+"/members/"+admin.ID, owner.AccessToken, map[string]string{"role": "admin"}), 200, "")

	// Defaults: 7 days, unlimited; 0 means never / unlimited.
	res := s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", member.AccessToken, map[string]int{})
	want(t, res, http.StatusCreated, "")
	var def struct {
		Code      string
		ExpiresAt *time.Time
		MaxUses   *int
	}
	res.JSON(t, &def)
	if def.ExpiresAt == nil || time.Until(*def.ExpiresAt) < 7*24*time.Hour-time.Minute || time.Until(*def.ExpiresAt) > 7*24*time.Hour+time.Minute || def.MaxUses != nil {
		t.Fatalf("default invite: %s", res.Body)
	}
	res = s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", owner.AccessToken, map[string]int{"expiresInSeconds": 0, "maxUses": 0})
	want(t, res, http.StatusCreated, "")
	if !strings.Contains(string(res.Body), `"expiresAt":null`) || !strings.Contains(string(res.Body), `"maxUses":null`) {
		t.Fatalf("never-expiring unlimited invite: %s", res.Body)
	}

	// Only owners and admins once members may not invite; members learn the setting from the server object.
	want(t, s.Do(t, "PATCH", "/api/servers/"+srv.ID, member.AccessToken, map[string]bool{"membersCanInvite": false}), 403, "forbidden")
	res = s.Do(t, "PATCH", "/api/servers/"+srv.ID, admin.AccessToken, map[string]bool{"membersCanInvite": false})
	want(t, res, 200, "")
	if !strings.Contains(string(res.Body), `"membersCanInvite":false`) || !strings.Contains(string(res.Body), `"name":"Invite Rules"`) {
		t.Fatalf("setting not saved (or the name changed): %s", res.Body)
	}
	want(t, s.Do(t, "PATCH", "/api/servers/"+srv.ID, admin.AccessToken, map[string]any{}), 400, "invalid_input")
	want(t, s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", member.AccessToken, nil), 403, "forbidden")
	adminCode := invite(t, s, admin, srv.ID, map[string]int{"maxUses": 5, "expiresInSeconds": 3600})

	// The list: owners and admins only; code, creator, uses, expiry.
	want(t, s.Do(t, "GET", "/api/servers/"+srv.ID+"/invites", member.AccessToken, nil), 403, "forbidden")
	want(t, s.Do(t, "GET", "/api/servers/"+srv.ID+"/invites", guest.AccessToken, nil), 404, "not_found")
	invs := listInvites(t, s, admin, srv.ID)
	if len(invs) != 4 || invs[0].Code != adminCode || invs[0].Creator == nil || invs[0].Creator.ID != admin.ID || *invs[0].MaxUses != 5 ||
		invs[0].ExpiresAt == nil || invs[3].Code != code || invs[3].Uses != 2 || invs[3].Creator.ID != owner.ID {
		t.Fatalf("invite list: %+v", invs)
	}

	// Revoking: the link stops working at once; members may revoke only their own.
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/invites/"+adminCode, member.AccessToken, nil), 403, "forbidden")
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/invites/"+def.Code, member.AccessToken, nil), 204, "")
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/invites/"+adminCode, owner.AccessToken, nil), 204, "")
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/invites/"+adminCode, owner.AccessToken, nil), 404, "not_found")
	want(t, s.Do(t, "GET", "/api/invites/"+adminCode, "", nil), 404, "not_found")
	want(t, s.Do(t, "POST", "/api/invites/"+adminCode+"/join", guest.AccessToken, nil), 404, "not_found")
	other := createServer(t, s, guest, "Elsewhere")
	want(t, s.Do(t, "DELETE", "/api/servers/"+other.ID+"/invites/"+code, guest.AccessToken, nil), 404, "not_found") // not that server's
	if invs := listInvites(t, s, owner, srv.ID); len(invs) != 2 {
		t.Fatalf("after revoking: %+v", invs)
	}
	want(t, s.Do(t, "POST", "/api/invites/"+strings.Repeat("x", 65)+"/join", guest.AccessToken, nil), 404, "not_found")
}

func TestBanKeepsAUserOut(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner, admin, mallory, friend, lurker := s.Register(t, "ban_owner"), s.Register(t, "ban_admin"), s.Register(t, "mallory"), s.Register(t, "ban_friend"), s.Register(t, "lurker")
	srv := createServer(t, s, owner, "Banland")
	code := invite(t, s, owner, srv.ID, nil)
	for _, a := range []testserver.Account{admin, mallory, friend} {
		join(t, s, a, code)
	}
	want(t, s.Do(t, "PATCH", "/api/servers/"+srv.ID+"/members/"+admin.ID, owner.AccessToken, map[string]string{"role": "admin"}), 200, "")
	malloryInvite := invite(t, s, mallory, srv.ID, map[string]int{"expiresInSeconds": 0})
	var chans struct{ Channels []struct{ ID string } }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	general := chans.Channels[0].ID

	b := jsclient.Start(t)
	mc := b.Connect(s.URL, mallory.AccessToken, jsclient.Options{})
	oc := b.Connect(s.URL, owner.AccessToken, jsclient.Options{})
	for _, c := range []*jsclient.Client{mc, oc} {
		if _, err := c.WaitConnected(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// Who may ban whom.
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/"+admin.ID, mallory.AccessToken, nil), 403, "forbidden")
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/"+owner.ID, admin.AccessToken, nil), 403, "forbidden")
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/"+admin.ID, admin.AccessToken, nil), 400, "invalid_input")
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/"+mallory.ID, admin.AccessToken, map[string]string{"reason": strings.Repeat("x", 513)}), 400, "invalid_input")
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/123456", admin.AccessToken, nil), 404, "not_found")
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/"+mallory.ID, admin.AccessToken, `{"reason": 5}`), 400, "invalid_input")
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/x", admin.AccessToken, nil), 400, "invalid_input")

	// The ban: Mallory is out like a kick (her socket leaves the rooms), her invites are revoked.
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/"+mallory.ID, admin.AccessToken, map[string]string{"reason": "  spam  "}), 204, "")
	evs, err := mc.WaitEvents("server:update", 1, 5*time.Second)
	if err != nil || !strings.Contains(string(evs[0]), `"action":"banned"`) {
		t.Fatalf("mallory's server:update: %s %v", evs, err)
	}
	want(t, s.Do(t, "GET", "/api/servers/"+srv.ID, mallory.AccessToken, nil), 404, "not_found")
	var ack jsclient.SendAck
	if err := oc.EmitAck("message:send", map[string]any{"channelId": general, "content": "after the ban", "nonce": "n1"}, &ack, 10*time.Second); err != nil || !ack.OK {
		t.Fatalf("owner's send: %+v %v", ack, err)
	}
	time.Sleep(300 * time.Millisecond)
	for _, raw := range mc.Events("message:new") {
		if strings.Contains(string(raw), "after the ban") {
			t.Fatal("a banned member still receives the server's messages")
		}
	}
	want(t, s.Do(t, "GET", "/api/invites/"+malloryInvite, "", nil), 404, "not_found")

	// No invite lets her back in: neither an old one nor a new one from her friend.
	want(t, s.Do(t, "POST", "/api/invites/"+code+"/join", mallory.AccessToken, nil), 403, "forbidden")
	fresh := invite(t, s, friend, srv.ID, nil)
	res := s.Do(t, "POST", "/api/invites/"+fresh+"/join", mallory.AccessToken, nil)
	want(t, res, 403, "forbidden")
	if !strings.Contains(string(res.Body), "banned") {
		t.Fatalf("the refusal must say why: %s", res.Body)
	}

	// A user who never joined can be banned too; the list names both, newest first, with reasons.
	want(t, s.Do(t, "PUT", "/api/servers/"+srv.ID+"/bans/"+lurker.ID, owner.AccessToken, nil), 204, "")
	want(t, s.Do(t, "POST", "/api/invites/"+fresh+"/join", lurker.AccessToken, nil), 403, "forbidden")
	want(t, s.Do(t, "GET", "/api/servers/"+srv.ID+"/bans", friend.AccessToken, nil), 403, "forbidden")
	res = s.Do(t, "GET", "/api/servers/"+srv.ID+"/bans", admin.AccessToken, nil)
	var bans struct {
		Bans []struct {
			User     struct{ ID string }
			Reason   string
			BannedBy *string
		}
	}
	res.JSON(t, &bans)
	if len(bans.Bans) != 2 || bans.Bans[0].User.ID != lurker.ID || bans.Bans[1].User.ID != mallory.ID || bans.Bans[1].Reason != "spam" ||
		bans.Bans[1].BannedBy == nil || *bans.Bans[1].BannedBy != admin.ID {
		t.Fatalf("bans: %s", res.Body)
	}

	// Unban: the next invite works again.
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/bans/"+mallory.ID, friend.AccessToken, nil), 403, "forbidden")
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/bans/"+mallory.ID, admin.AccessToken, nil), 204, "")
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/bans/"+mallory.ID, admin.AccessToken, nil), 404, "not_found")
	join(t, s, mallory, fresh)
}

func TestQuotas(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{
		"PARLEY_SERVERS_PER_USER": "2", "PARLEY_CHANNELS_PER_SERVER": "3", "PARLEY_INVITES_PER_SERVER": "3",
		"PARLEY_INVITE_BURST": "4", "PARLEY_INVITE_EVERY": "1h",
	}})
	alice, bob, carol := s.Register(t, "quota_a"), s.Register(t, "quota_b"), s.Register(t, "quota_c")
	one := createServer(t, s, alice, "One")
	createServer(t, s, alice, "Two")
	want(t, s.Do(t, "POST", "/api/servers", alice.AccessToken, map[string]string{"name": "Three"}), 403, "limit_reached")
	bobs := createServer(t, s, bob, "Bob's")
	createServer(t, s, bob, "Bob's too")
	want(t, s.Do(t, "POST", "/api/invites/"+invite(t, s, alice, one.ID, nil)+"/join", bob.AccessToken, nil), 403, "limit_reached")
	want(t, s.Do(t, "DELETE", "/api/servers/"+bobs.ID, bob.AccessToken, nil), 204, "")
	want(t, s.Do(t, "POST", "/api/invites/"+invite(t, s, alice, one.ID, nil)+"/join", bob.AccessToken, nil), 200, "")

	// Channels: #general plus two.
	for _, n := range []string{"two", "three"} {
		want(t, s.Do(t, "POST", "/api/servers/"+one.ID+"/channels", alice.AccessToken, map[string]string{"name": n}), 201, "")
	}
	res := s.Do(t, "POST", "/api/servers/"+one.ID+"/channels", alice.AccessToken, map[string]string{"name": "four"})
	want(t, res, 403, "limit_reached")
	if !strings.Contains(string(res.Body), "3 channels") {
		t.Fatalf("the message names the limit: %s", res.Body)
	}

	// Usable invites per server (3): alice made two unlimited ones above; a used-up invite does not count.
	once := invite(t, s, alice, one.ID, map[string]int{"maxUses": 1})
	want(t, s.Do(t, "POST", "/api/servers/"+one.ID+"/invites", bob.AccessToken, nil), 403, "limit_reached")
	join(t, s, carol, once)
	invite(t, s, alice, one.ID, nil) // alice's 4th: the end of her burst, and the server's 3rd usable invite
	res = s.Do(t, "POST", "/api/servers/"+one.ID+"/invites", bob.AccessToken, nil)
	want(t, res, 403, "limit_reached")
	if !strings.Contains(string(res.Body), "revoke") {
		t.Fatalf("the message says what to do: %s", res.Body)
	}
	// The rate: alice's 5th invite within the hour is refused with Retry-After, before any quota is looked at.
	res = s.Do(t, "POST", "/api/servers/"+one.ID+"/invites", alice.AccessToken, nil)
	want(t, res, 429, "rate_limited")
	if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 60 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
}

func dmWith(t *testing.T, s *testserver.Server, from testserver.Account, to ...string) testserver.Response {
	t.Helper()
	return s.Do(t, "POST", "/api/dms", from.AccessToken, map[string]any{"userIds": to})
}

func dmIDs(t *testing.T, s *testserver.Server, acc testserver.Account) []string {
	t.Helper()
	var list struct{ Channels []channel }
	s.Do(t, "GET", "/api/dms", acc.AccessToken, nil).JSON(t, &list)
	out := []string{}
	for _, c := range list.Channels {
		out = append(out, c.ID)
	}
	return out
}

func TestDMConsentAndBlocks(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_DM_CREATE_BURST": "3", "PARLEY_DM_CREATE_EVERY": "1h", "PARLEY_GROUP_DM_SIZE": "3"}})
	alice, bob, stranger, open := s.Register(t, "c_alice"), s.Register(t, "c_bob"), s.Register(t, "c_stranger"), s.Register(t, "c_open")
	srv := createServer(t, s, alice, "Shared")
	join(t, s, bob, invite(t, s, alice, srv.ID, nil))

	// Consent: a stranger cannot open a DM (nor a group DM) with someone who accepts DMs from server members only.
	res := dmWith(t, s, stranger, alice.ID)
	want(t, res, 403, "forbidden")
	if !strings.Contains(string(res.Body), `"field":"userIds"`) || !strings.Contains(string(res.Body), "@c_alice") {
		t.Fatalf("refusal: %s", res.Body)
	}
	want(t, s.Do(t, "GET", "/api/me/privacy", alice.AccessToken, nil), 200, "")
	if !strings.Contains(string(s.Do(t, "GET", "/api/me/privacy", alice.AccessToken, nil).Body), `"allowDMsFrom":"server_members"`) {
		t.Fatal("the default is server members only")
	}
	want(t, s.Do(t, "PUT", "/api/me/privacy", open.AccessToken, map[string]string{"allowDMsFrom": "anyone"}), 400, "invalid_input")
	want(t, s.Do(t, "PUT", "/api/me/privacy", open.AccessToken, "{not json"), 400, "invalid_input")
	want(t, s.Do(t, "PUT", "/api/me/privacy", open.AccessToken, map[string]string{"allowDMsFrom": "everyone"}), 200, "")
	want(t, dmWith(t, s, stranger, open.ID), 201, "")                    // 1 of the stranger's 3
	want(t, dmWith(t, s, stranger, open.ID, alice.ID), 403, "forbidden") // a group DM needs everyone's consent
	// Presence follows: the stranger sees open's (a DM), not alice's.
	res = s.Do(t, "GET", "/api/presence?userIds="+alice.ID+","+open.ID, stranger.AccessToken, nil)
	if strings.Contains(string(res.Body), alice.ID) || !strings.Contains(string(res.Body), open.ID) {
		t.Fatalf("presence for a stranger: %s", res.Body)
	}

	// A shared server is consent enough; an existing 1:1 DM is reopened without counting against the rate.
	res = dmWith(t, s, bob, alice.ID)
	want(t, res, 201, "")
	var dm channel
	res.JSON(t, &dm)
	want(t, dmWith(t, s, alice, bob.ID), 200, "")

	// Group DMs: at most PARLEY_GROUP_DM_SIZE people, and new DMs are rate-limited per user.
	want(t, dmWith(t, s, alice, bob.ID, open.ID, stranger.ID), 400, "invalid_input")
	want(t, dmWith(t, s, stranger, open.ID, bob.ID), 403, "forbidden") // bob shares nothing with the stranger
	s.Do(t, "PUT", "/api/me/privacy", bob.AccessToken, map[string]string{"allowDMsFrom": "everyone"})
	want(t, dmWith(t, s, stranger, open.ID, bob.ID), 201, "") // 2
	want(t, dmWith(t, s, stranger, open.ID, bob.ID), 201, "") // 3
	res = dmWith(t, s, stranger, open.ID, bob.ID)
	want(t, res, 429, "rate_limited")
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	want(t, dmWith(t, s, stranger, open.ID), 200, "") // reopening an existing DM is not limited

	// Blocks: alice blocks bob. Neither can open a new DM (bob is not told why), nobody can send in their 1:1 DM,
	// and the DM no longer carries presence between them.
	want(t, s.Do(t, "PUT", "/api/me/blocks/"+alice.ID, alice.AccessToken, nil), 400, "invalid_input")
	want(t, s.Do(t, "PUT", "/api/me/blocks/99999", alice.AccessToken, nil), 404, "not_found")
	want(t, s.Do(t, "PUT", "/api/me/blocks/"+bob.ID, alice.AccessToken, nil), 204, "")
	want(t, s.Do(t, "PUT", "/api/me/blocks/"+bob.ID, alice.AccessToken, nil), 204, "") // idempotent
	res = s.Do(t, "GET", "/api/me/blocks", alice.AccessToken, nil)
	if !strings.Contains(string(res.Body), `"username":"c_bob"`) {
		t.Fatalf("blocked list: %s", res.Body)
	}
	want(t, dmWith(t, s, bob, alice.ID, open.ID), 403, "forbidden")
	res = dmWith(t, s, alice, bob.ID, open.ID)
	want(t, res, 403, "forbidden")
	if !strings.Contains(string(res.Body), "unblock") {
		t.Fatalf("the blocker is told to unblock: %s", res.Body)
	}
	b := jsclient.Start(t)
	ac, bc := b.Connect(s.URL, alice.AccessToken, jsclient.Options{}), b.Connect(s.URL, bob.AccessToken, jsclient.Options{})
	for _, c := range []*jsclient.Client{ac, bc} {
		if _, err := c.WaitConnected(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for who, c := range map[string]*jsclient.Client{"blocked": bc, "blocker": ac} {
		var ack jsclient.SendAck
		if err := c.EmitAck("message:send", map[string]any{"channelId": dm.ID, "content": "hi", "nonce": "b-" + who}, &ack, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if ack.OK || ack.Error.Code != "forbidden" {
			t.Fatalf("%s sends in a blocked DM: %+v", who, ack)
		}
	}
	want(t, s.Do(t, "GET", "/api/channels/"+dm.ID+"/messages", bob.AccessToken, nil), 200, "") // history stays readable
	bc.Emit("typing:start", map[string]any{"channelId": dm.ID})                                // nor does a typing indicator get through
	time.Sleep(400 * time.Millisecond)
	if evs := ac.Events("typing:user"); len(evs) != 0 {
		t.Fatalf("typing in a blocked DM reached the blocker: %s", evs)
	}
	// They share a server, so presence stays visible there (as in Discord); a DM alone would not show it.
	want(t, s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/members/me", bob.AccessToken, nil), 204, "")
	res = s.Do(t, "GET", "/api/presence?userIds="+alice.ID, bob.AccessToken, nil)
	if strings.Contains(string(res.Body), alice.ID) {
		t.Fatalf("a blocked user sees the blocker's presence through their DM: %s", res.Body)
	}
	want(t, s.Do(t, "DELETE", "/api/me/blocks/"+bob.ID, alice.AccessToken, nil), 204, "")
	var ack jsclient.SendAck
	bc.Emit("typing:start", map[string]any{"channelId": dm.ID}) // the control for the typing check above
	if _, err := ac.WaitEvents("typing:user", 1, 5*time.Second); err != nil {
		t.Fatalf("typing after unblock: %v", err)
	}
	if err := bc.EmitAck("message:send", map[string]any{"channelId": dm.ID, "content": "friends again", "nonce": "u1"}, &ack, 10*time.Second); err != nil || !ack.OK {
		t.Fatalf("send after unblock: %+v %v", ack, err)
	}
	if res := s.Do(t, "GET", "/api/presence?userIds="+alice.ID, bob.AccessToken, nil); !strings.Contains(string(res.Body), alice.ID) {
		t.Fatalf("presence after unblock (they share the DM): %s", res.Body)
	}
}

func TestCloseAndLeaveDMs(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol, outsider := s.Register(t, "l_alice"), s.Register(t, "l_bob"), s.Register(t, "l_carol"), s.Register(t, "l_out")
	srv := createServer(t, s, alice, "Shared")
	code := invite(t, s, alice, srv.ID, nil)
	join(t, s, bob, code)
	join(t, s, carol, code)
	var dm, group channel
	dmWith(t, s, alice, bob.ID).JSON(t, &dm)
	dmWith(t, s, alice, bob.ID, carol.ID).JSON(t, &group)

	b := jsclient.Start(t)
	ac, bc, cc := b.Connect(s.URL, alice.AccessToken, jsclient.Options{}), b.Connect(s.URL, bob.AccessToken, jsclient.Options{}), b.Connect(s.URL, carol.AccessToken, jsclient.Options{})
	for _, c := range []*jsclient.Client{ac, bc, cc} {
		if _, err := c.WaitConnected(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	send := func(c *jsclient.Client, channelID, content string) {
		t.Helper()
		var ack jsclient.SendAck
		if err := c.EmitAck("message:send", map[string]any{"channelId": channelID, "content": content, "nonce": strings.ReplaceAll(content, " ", "-")}, &ack, 10*time.Second); err != nil || !ack.OK {
			t.Fatalf("send %q: %+v %v", content, ack, err)
		}
	}
	send(ac, dm.ID, "hello bob")

	// Closing a 1:1 DM hides it from my list (my other tabs are told); a new message brings it back.
	want(t, s.Do(t, "DELETE", "/api/dms/"+dm.ID, outsider.AccessToken, nil), 404, "not_found")
	want(t, s.Do(t, "DELETE", "/api/dms/abc", alice.AccessToken, nil), 400, "invalid_input")
	want(t, s.Do(t, "DELETE", "/api/dms/"+dm.ID, alice.AccessToken, nil), 204, "")
	if evs, err := ac.WaitEvents("channel:update", 1, 5*time.Second); err != nil || !strings.Contains(string(evs[len(evs)-1]), `"action":"closed"`) {
		t.Fatalf("closed event: %s %v", evs, err)
	}
	if ids := dmIDs(t, s, alice); strings.Contains(strings.Join(ids, ","), dm.ID) || len(ids) != 1 {
		t.Fatalf("alice's DMs after closing: %v", ids)
	}
	if ids := dmIDs(t, s, bob); len(ids) != 2 {
		t.Fatalf("closing is mine only; bob's DMs: %v", ids)
	}
	send(bc, dm.ID, "are you there?")
	if _, err := ac.WaitEvents("message:new", 2, 5*time.Second); err != nil {
		t.Fatalf("a closed DM still delivers: %v", err)
	}
	if ids := dmIDs(t, s, alice); !strings.Contains(strings.Join(ids, ","), dm.ID) {
		t.Fatalf("a new message reopens the DM: %v", ids)
	}
	// Reopening by asking for the DM again also works.
	want(t, s.Do(t, "DELETE", "/api/dms/"+dm.ID, alice.AccessToken, nil), 204, "")
	want(t, dmWith(t, s, alice, bob.ID), 200, "")
	if ids := dmIDs(t, s, alice); len(ids) != 2 {
		t.Fatalf("reopened by POST /api/dms: %v", ids)
	}

	// Leaving a group DM: out of the room on every node, the others see who is left, and it is gone for me.
	want(t, s.Do(t, "DELETE", "/api/dms/"+group.ID, carol.AccessToken, nil), 204, "")
	if evs, err := cc.WaitEvents("channel:update", 1, 5*time.Second); err != nil || !strings.Contains(string(evs[len(evs)-1]), `"action":"left"`) {
		t.Fatalf("carol's left event: %s %v", evs, err)
	}
	evs, err := bc.WaitEvents("channel:update", 1, 5*time.Second)
	if err != nil || !strings.Contains(string(evs[len(evs)-1]), `"action":"updated"`) || strings.Contains(string(evs[len(evs)-1]), carol.ID) {
		t.Fatalf("bob's update: %s %v", evs, err)
	}
	send(ac, group.ID, "carol is gone")
	time.Sleep(300 * time.Millisecond)
	for _, raw := range cc.Events("message:new") {
		if strings.Contains(string(raw), "carol is gone") {
			t.Fatal("a user who left a group DM still receives it")
		}
	}
	want(t, s.Do(t, "GET", "/api/channels/"+group.ID+"/messages", carol.AccessToken, nil), 404, "not_found")
	if ids := dmIDs(t, s, carol); len(ids) != 0 {
		t.Fatalf("carol's DMs: %v", ids)
	}
	var list struct{ Channels []channel }
	s.Do(t, "GET", "/api/dms", bob.AccessToken, nil).JSON(t, &list)
	found := false
	for _, c := range list.Channels {
		if c.ID == group.ID {
			found = true
			if len(c.Participants) != 2 || !c.Group {
				t.Fatalf("group after carol left: %+v (still a group: it can be left, not closed)", c)
			}
		}
	}
	if !found || !group.Group || dm.Group {
		t.Fatalf("group flags: listed %v, group %v, 1:1 %v", found, group.Group, dm.Group)
	}
	// The last ones out delete it.
	want(t, s.Do(t, "DELETE", "/api/dms/"+group.ID, alice.AccessToken, nil), 204, "")
	want(t, s.Do(t, "DELETE", "/api/dms/"+group.ID, bob.AccessToken, nil), 204, "")
	want(t, s.Do(t, "DELETE", "/api/dms/"+group.ID, bob.AccessToken, nil), 404, "not_found")
}
