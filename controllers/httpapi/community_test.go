package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
)

type server struct {
	ID, Name, OwnerID, Role string
	MemberCount             int
}

type channel struct {
	ID, Name, Topic, Type string
	ServerID              *string
	Participants          []struct{ ID, Username string }
	Group                 bool
}

func createServer(t *testing.T, s *testserver.Server, acc testserver.Account, name string) server {
	t.Helper()
	res := s.Do(t, "POST", "/api/servers", acc.AccessToken, map[string]string{"name": name})
	if res.Status != http.StatusCreated {
		t.Fatalf("create server: %d %s", res.Status, res.Body)
	}
	var srv server
	res.JSON(t, &srv)
	return srv
}

func invite(t *testing.T, s *testserver.Server, acc testserver.Account, serverID string, body any) string {
	t.Helper()
	res := s.Do(t, "POST", "/api/servers/"+serverID+"/invites", acc.AccessToken, body)
	if res.Status != http.StatusCreated {
		t.Fatalf("invite: %d %s", res.Status, res.Body)
	}
	var inv struct{ Code string }
	res.JSON(t, &inv)
	return inv.Code
}

func join(t *testing.T, s *testserver.Server, acc testserver.Account, code string) {
	t.Helper()
	if res := s.Do(t, "POST", "/api/invites/"+code+"/join", acc.AccessToken, nil); res.Status != http.StatusOK {
		t.Fatalf("join: %d %s", res.Status, res.Body)
	}
}

func TestServerLifecycleAndPermissions(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner, admin, member, outsider := s.Register(t, "owner"), s.Register(t, "admin"), s.Register(t, "member"), s.Register(t, "outsider")

	srv := createServer(t, s, owner, "  Rust Lovers ")
	if srv.Name != "Rust Lovers" || srv.Role != "owner" || srv.MemberCount != 1 || srv.OwnerID != owner.ID {
		t.Fatalf("created server: %+v", srv)
	}
	res := s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil)
	var chans struct{ Channels []channel }
	res.JSON(t, &chans)
	if len(chans.Channels) != 1 || chans.Channels[0].Name != "general" || chans.Channels[0].Type != "text" {
		t.Fatalf("default channel: %s", res.Body)
	}

	code := invite(t, s, owner, srv.ID, nil)
	join(t, s, admin, code)
	join(t, s, member, code)
	join(t, s, member, code) // idempotent
	if res := s.Do(t, "PATCH", "/api/servers/"+srv.ID+"/members/"+admin.ID, owner.AccessToken, map[string]string{"role": "admin"}); res.Status != http.StatusOK {
		t.Fatalf("promote: %d %s", res.Status, res.Body)
	}
	res = s.Do(t, "GET", "/api/servers/"+srv.ID, member.AccessToken, nil)
	var got server
	res.JSON(t, &got)
	if got.MemberCount != 3 || got.Role != "member" {
		t.Fatalf("member view: %s", res.Body)
	}

	// The permission matrix: who may do what, by status code.
	type call struct {
		method, path string
		body         any
	}
	rename := call{"PATCH", "/api/servers/" + srv.ID, map[string]string{"name": "Renamed"}}
	newChannel := func(n string) call {
		return call{"POST", "/api/servers/" + srv.ID + "/channels", map[string]string{"name": n}}
	}
	matrix := []struct {
		who  testserver.Account
		call call
		want int
	}{
		{outsider, call{"GET", "/api/servers/" + srv.ID, nil}, 404},
		{outsider, call{"GET", "/api/servers/" + srv.ID + "/channels", nil}, 404},
		{outsider, call{"GET", "/api/servers/" + srv.ID + "/members", nil}, 404},
		{outsider, rename, 404},
		{outsider, newChannel("x"), 404},
		{outsider, call{"POST", "/api/servers/" + srv.ID + "/invites", nil}, 404},
		{member, rename, 403},
		{member, newChannel("by-member"), 403},
		{member, call{"DELETE", "/api/servers/" + srv.ID, nil}, 403},
		{member, call{"DELETE", "/api/servers/" + srv.ID + "/members/" + admin.ID, nil}, 403},
		{member, call{"PATCH", "/api/servers/" + srv.ID + "/members/" + member.ID, map[string]string{"role": "admin"}}, 403},
		{member, call{"POST", "/api/servers/" + srv.ID + "/invites", nil}, 201},
		{admin, rename, 200},
		{admin, newChannel("By Admin"), 201},
		{admin, newChannel("by-admin"), 409},
		{admin, newChannel("!!!"), 400}, // nothing is left once punctuation is dropped
		{admin, call{"DELETE", "/api/servers/" + srv.ID, nil}, 403},
		{admin, call{"DELETE", "/api/servers/" + srv.ID + "/members/" + owner.ID, nil}, 403},
		{admin, call{"PATCH", "/api/servers/" + srv.ID + "/members/" + member.ID, map[string]string{"role": "admin"}}, 403},
		{owner, call{"PATCH", "/api/servers/" + srv.ID + "/members/" + member.ID, map[string]string{"role": "owner"}}, 400},
		{owner, call{"DELETE", "/api/servers/" + srv.ID + "/members/me", nil}, 409},
		{owner, call{"PATCH", "/api/servers/" + srv.ID, map[string]string{"name": "x"}}, 400},
		{owner, call{"GET", "/api/servers/abc", nil}, 400},
	}
	for _, m := range matrix {
		res := s.Do(t, m.call.method, m.call.path, m.who.AccessToken, m.call.body)
		if res.Status != m.want {
			t.Errorf("%s %s %s: got %d want %d (%s)", m.who.Username, m.call.method, m.call.path, res.Status, m.want, res.Body)
		}
	}

	res = s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", member.AccessToken, nil)
	res.JSON(t, &chans)
	if len(chans.Channels) != 2 || chans.Channels[1].Name != "by-admin" {
		t.Fatalf("channels after admin created one: %s", res.Body)
	}
	chID := chans.Channels[1].ID
	if res := s.Do(t, "PATCH", "/api/channels/"+chID, member.AccessToken, map[string]string{"topic": "hi"}); res.Status != http.StatusForbidden {
		t.Errorf("member edits channel: %d", res.Status)
	}
	res = s.Do(t, "PATCH", "/api/channels/"+chID, admin.AccessToken, map[string]string{"topic": "All about admins", "name": "admins"})
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"topic":"All about admins"`) || !strings.Contains(string(res.Body), `"name":"admins"`) {
		t.Fatalf("admin edits channel: %d %s", res.Status, res.Body)
	}
	res = s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", member.AccessToken, nil)
	if !strings.Contains(string(res.Body), "All about admins") {
		t.Fatalf("topic not stored: %s", res.Body)
	}
	if res := s.Do(t, "DELETE", "/api/channels/"+chID, outsider.AccessToken, nil); res.Status != http.StatusNotFound {
		t.Errorf("outsider deletes channel: %d", res.Status)
	}
	if res := s.Do(t, "DELETE", "/api/channels/"+chID, admin.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Errorf("admin deletes channel: %d %s", res.Status, res.Body)
	}

	// Members: paging, leave, kick.
	res = s.Do(t, "GET", "/api/servers/"+srv.ID+"/members?limit=2", member.AccessToken, nil)
	var page struct {
		Members []struct {
			User struct{ ID string }
			Role string
		}
		HasMore bool
	}
	res.JSON(t, &page)
	if len(page.Members) != 2 || !page.HasMore {
		t.Fatalf("first member page: %s", res.Body)
	}
	res = s.Do(t, "GET", "/api/servers/"+srv.ID+"/members?limit=2&after="+page.Members[1].User.ID, member.AccessToken, nil)
	res.JSON(t, &page)
	if len(page.Members) != 1 || page.HasMore {
		t.Fatalf("second member page: %s", res.Body)
	}
	if res := s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/members/"+member.ID, admin.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("admin kicks member: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "GET", "/api/servers/"+srv.ID, member.AccessToken, nil); res.Status != http.StatusNotFound {
		t.Fatalf("kicked member still sees the server: %d", res.Status)
	}
	if res := s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/members/me", admin.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("admin leaves: %d", res.Status)
	}
	res = s.Do(t, "GET", "/api/servers", admin.AccessToken, nil)
	if strings.Contains(string(res.Body), srv.ID) {
		t.Fatalf("left server still listed: %s", res.Body)
	}
	if res := s.Do(t, "DELETE", "/api/servers/"+srv.ID, owner.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("owner deletes: %d", res.Status)
	}
	if res := s.Do(t, "GET", "/api/servers/"+srv.ID, owner.AccessToken, nil); res.Status != http.StatusNotFound {
		t.Fatalf("deleted server: %d", res.Status)
	}
	if res := s.Do(t, "GET", "/api/invites/"+code, "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("invite of a deleted server: %d", res.Status)
	}
}

func TestInvites(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner, a, b := s.Register(t, "inviter"), s.Register(t, "guest_a"), s.Register(t, "guest_b")
	srv := createServer(t, s, owner, "Invites")

	code := invite(t, s, owner, srv.ID, map[string]int{"maxUses": 1})
	res := s.Do(t, "GET", "/api/invites/"+code, "", nil)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"name":"Invites"`) || !strings.Contains(string(res.Body), `"memberCount":1`) {
		t.Fatalf("preview: %d %s", res.Status, res.Body)
	}
	join(t, s, a, code)
	join(t, s, a, code) // a member re-joining does not consume the invite...
	if res := s.Do(t, "POST", "/api/invites/"+code+"/join", b.AccessToken, nil); res.Status != http.StatusGone || res.ErrorCode() != "gone" {
		t.Fatalf("used-up invite: %d %s", res.Status, res.Body) // ...but the one use is gone
	}
	if res := s.Do(t, "GET", "/api/invites/"+code, "", nil); res.Status != http.StatusGone {
		t.Fatalf("preview of used-up invite: %d", res.Status)
	}
	if res := s.Do(t, "POST", "/api/invites/nope/join", b.AccessToken, nil); res.Status != http.StatusNotFound {
		t.Fatalf("unknown invite: %d", res.Status)
	}
	for _, bad := range []map[string]int{{"maxUses": -1}, {"maxUses": 10001}, {"expiresInSeconds": -5}, {"expiresInSeconds": 99999999}} {
		if res := s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", owner.AccessToken, bad); res.Status != http.StatusBadRequest {
			t.Errorf("%v: %d", bad, res.Status)
		}
	}
	short := invite(t, s, owner, srv.ID, map[string]int{"expiresInSeconds": 1})
	time.Sleep(1100 * time.Millisecond)
	if res := s.Do(t, "POST", "/api/invites/"+short+"/join", b.AccessToken, nil); res.Status != http.StatusGone {
		t.Fatalf("expired invite: %d %s", res.Status, res.Body)
	}
}

func TestDirectMessages(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	a, b, c := s.Register(t, "dm_a"), s.Register(t, "dm_b"), s.Register(t, "dm_c")
	srv := createServer(t, s, a, "Where they met") // a new DM needs a shared server (safety_test.go: the rules)
	code := invite(t, s, a, srv.ID, nil)
	join(t, s, b, code)
	join(t, s, c, code)

	res := s.Do(t, "POST", "/api/dms", a.AccessToken, map[string]any{"userIds": []string{b.ID}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create DM: %d %s", res.Status, res.Body)
	}
	var dm channel
	res.JSON(t, &dm)
	if dm.Type != "dm" || len(dm.Participants) != 2 || dm.ServerID != nil {
		t.Fatalf("DM: %s", res.Body)
	}
	// The same pair, from either side, gets the same channel.
	for _, who := range []struct {
		acc   testserver.Account
		other string
	}{{a, b.ID}, {b, a.ID}} {
		res := s.Do(t, "POST", "/api/dms", who.acc.AccessToken, map[string]any{"userIds": []string{who.other, who.other}})
		var again channel
		res.JSON(t, &again)
		if res.Status != http.StatusOK || again.ID != dm.ID {
			t.Fatalf("1:1 DM not idempotent: %d %s", res.Status, res.Body)
		}
	}
	res = s.Do(t, "POST", "/api/dms", a.AccessToken, map[string]any{"userIds": []string{b.ID, c.ID}})
	var group channel
	res.JSON(t, &group)
	if res.Status != http.StatusCreated || len(group.Participants) != 3 || group.ID == dm.ID {
		t.Fatalf("group DM: %d %s", res.Status, res.Body)
	}
	for _, bad := range []any{
		map[string]any{"userIds": []string{}},
		map[string]any{"userIds": []string{a.ID}},
		map[string]any{"userIds": []string{"999999"}},
		map[string]any{"userIds": []string{"x"}},
		map[string]any{"userIds": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
	} {
		if res := s.Do(t, "POST", "/api/dms", a.AccessToken, bad); res.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", bad, res.Status, res.Body)
		}
	}
	res = s.Do(t, "GET", "/api/dms", c.AccessToken, nil)
	var list struct{ Channels []channel }
	res.JSON(t, &list)
	if len(list.Channels) != 1 || list.Channels[0].ID != group.ID {
		t.Fatalf("c's DMs: %s", res.Body)
	}
	res = s.Do(t, "GET", "/api/dms", a.AccessToken, nil)
	res.JSON(t, &list)
	if len(list.Channels) != 2 || list.Channels[0].ID != group.ID { // newest first
		t.Fatalf("a's DMs: %s", res.Body)
	}
}
