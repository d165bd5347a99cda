package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/httpapi"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/attachments"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/community"
	"github.com/parleychat/parley/services/messaging"
	"github.com/parleychat/parley/services/reactions"
	"github.com/parleychat/parley/services/search"
)

// FuzzRequests (below) runs arbitrary bodies, path ids and query strings through the real router and handlers
// down to services that accept everything. The fakes embed their interface, so a method added later compiles
// (and, if a fuzzed route reaches it, panics into a 500 that the target reports).

// seen collects the ids the services were given; every one must be positive (handlers parse them).
type seen struct {
	mu    sync.Mutex
	calls int
	bad   []string
}

func (s *seen) ids(op string, ids ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	for _, id := range ids {
		if id <= 0 {
			s.bad = append(s.bad, fmt.Sprintf("%s got id %d", op, id))
		}
	}
}

func (s *seen) take() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, b := s.calls, s.bad
	s.calls, s.bad = 0, nil
	return n, b
}

type fAuth struct {
	httpapi.AuthService
	s *seen
}

func (f fAuth) Register(context.Context, auth.RegisterInput) (auth.Result, error) {
	f.s.ids("register")
	return auth.Result{}, nil
}
func (f fAuth) VerifyEmail(context.Context, string) (auth.Result, error) {
	f.s.ids("verify-email")
	return auth.Result{}, nil
}
func (f fAuth) Login(context.Context, auth.LoginInput) (auth.Result, error) {
	f.s.ids("login")
	return auth.Result{}, nil
}
func (f fAuth) Refresh(context.Context, string) (auth.Result, error) {
	f.s.ids("refresh")
	return auth.Result{}, nil
}
func (f fAuth) Logout(context.Context, string) error { f.s.ids("logout"); return nil }
func (f fAuth) Authenticate(_ context.Context, tok string) (auth.Claims, error) {
	return auth.Claims{UserID: 7, SessionID: 9}, nil
}
func (f fAuth) Me(_ context.Context, u int64) (model.User, error) {
	f.s.ids("me", u)
	return model.User{}, nil
}
func (f fAuth) UpdateProfile(_ context.Context, u int64, _, _ *string) (model.User, error) {
	f.s.ids("profile", u)
	return model.User{}, nil
}
func (f fAuth) Search(context.Context, string, int) ([]model.User, error) {
	f.s.ids("search")
	return nil, nil
}
func (f fAuth) Users(_ context.Context, ids []int64) ([]model.User, error) {
	f.s.ids("users", ids...)
	return []model.User{{ID: 1}}, nil
}

type fCommunity struct {
	httpapi.CommunityService
	s *seen
}

func (f fCommunity) CreateServer(_ context.Context, c int64, _ string) (model.Server, error) {
	f.s.ids("createServer", c)
	return model.Server{}, nil
}
func (f fCommunity) Servers(_ context.Context, c int64) ([]model.Server, error) {
	f.s.ids("servers", c)
	return nil, nil
}
func (f fCommunity) Server(_ context.Context, c, s int64) (model.Server, error) {
	f.s.ids("server", c, s)
	return model.Server{}, nil
}
func (f fCommunity) UpdateServer(_ context.Context, c, s int64, _ *string, _ *bool) (model.Server, error) {
	f.s.ids("updateServer", c, s)
	return model.Server{}, nil
}
func (f fCommunity) DeleteServer(_ context.Context, c, s int64) error {
	f.s.ids("deleteServer", c, s)
	return nil
}
func (f fCommunity) CreateInvite(_ context.Context, c, s int64, _, _ *int) (model.Invite, error) {
	f.s.ids("createInvite", c, s)
	return model.Invite{}, nil
}
func (f fCommunity) PreviewInvite(context.Context, string) (community.InvitePreview, error) {
	f.s.ids("previewInvite")
	return community.InvitePreview{}, nil
}
func (f fCommunity) JoinInvite(_ context.Context, c int64, _ string) (model.Server, error) {
	f.s.ids("joinInvite", c)
	return model.Server{}, nil
}
func (f fCommunity) Members(_ context.Context, c, s, _ int64, _ int) ([]model.Member, bool, error) {
	f.s.ids("members", c, s)
	return nil, false, nil
}
func (f fCommunity) Leave(_ context.Context, c, s int64) error { f.s.ids("leave", c, s); return nil }
func (f fCommunity) Kick(_ context.Context, c, s, u int64) error {
	f.s.ids("kick", c, s, u)
	return nil
}
func (f fCommunity) SetRole(_ context.Context, c, s, u int64, _ string) (model.Member, error) {
	f.s.ids("setRole", c, s, u)
	return model.Member{}, nil
}
func (f fCommunity) Channels(_ context.Context, c, s int64) ([]model.ChannelView, error) {
	f.s.ids("channels", c, s)
	return nil, nil
}
func (f fCommunity) CreateChannel(_ context.Context, c, s int64, _, _ string) (model.ChannelView, error) {
	f.s.ids("createChannel", c, s)
	return model.ChannelView{}, nil
}
func (f fCommunity) UpdateChannel(_ context.Context, c, ch int64, _, _ *string) (model.ChannelView, error) {
	f.s.ids("updateChannel", c, ch)
	return model.ChannelView{}, nil
}
func (f fCommunity) DeleteChannel(_ context.Context, c, ch int64) error {
	f.s.ids("deleteChannel", c, ch)
	return nil
}
func (f fCommunity) CreateDM(_ context.Context, c int64, others []int64) (model.ChannelView, bool, error) {
	f.s.ids("createDM", append([]int64{c}, others...)...)
	return model.ChannelView{}, true, nil
}
func (f fCommunity) DMs(_ context.Context, c int64, _ community.ReadStates) ([]model.ChannelView, error) {
	f.s.ids("dms", c)
	return nil, nil
}

func (fCommunity) Annotate(context.Context, int64, []model.ChannelView) error { return nil }

type fSafety struct {
	httpapi.SafetyService
	s *seen
}

func (f fSafety) Invites(_ context.Context, c, s int64) ([]community.InviteView, error) {
	f.s.ids("invites", c, s)
	return nil, nil
}
func (f fSafety) RevokeInvite(_ context.Context, c, s int64, _ string) error {
	f.s.ids("revokeInvite", c, s)
	return nil
}
func (f fSafety) Ban(_ context.Context, c, s, u int64, _ string) error {
	f.s.ids("ban", c, s, u)
	return nil
}
func (f fSafety) Bans(_ context.Context, c, s int64) ([]model.Ban, error) {
	f.s.ids("bans", c, s)
	return nil, nil
}
func (f fSafety) Unban(_ context.Context, c, s, u int64) error { f.s.ids("unban", c, s, u); return nil }
func (f fSafety) CloseDM(_ context.Context, c, ch int64) (bool, error) {
	f.s.ids("closeDM", c, ch)
	return true, nil
}
func (f fSafety) Block(_ context.Context, c, u int64) error   { f.s.ids("block", c, u); return nil }
func (f fSafety) Unblock(_ context.Context, c, u int64) error { f.s.ids("unblock", c, u); return nil }
func (f fSafety) Blocked(_ context.Context, c int64) ([]model.User, error) {
	f.s.ids("blocked", c)
	return nil, nil
}
func (f fSafety) DMPolicy(_ context.Context, c int64) (string, error) {
	f.s.ids("dmPolicy", c)
	return "everyone", nil
}
func (f fSafety) SetDMPolicy(_ context.Context, c int64, p string) (string, error) {
	f.s.ids("setDMPolicy", c)
	return p, nil
}

type fHistory struct {
	httpapi.HistoryService
	s *seen
}

func (f fHistory) History(_ context.Context, u, ch int64, q messaging.Query) (messaging.Page, error) {
	f.s.ids("history", u, ch)
	for _, v := range []int64{q.Before, q.After, q.Around} {
		if v < 0 {
			f.s.ids("history query", v)
		}
	}
	return messaging.Page{Messages: []model.Message{{ID: 1, ChannelID: ch, SenderID: u}}}, nil
}
func (f fHistory) Get(_ context.Context, u, ch, m int64) (model.Message, error) {
	f.s.ids("get", u, ch, m)
	return model.Message{}, nil
}
func (f fHistory) Pin(_ context.Context, u, ch, m int64) error { f.s.ids("pin", u, ch, m); return nil }
func (f fHistory) Unpin(_ context.Context, u, ch, m int64) error {
	f.s.ids("unpin", u, ch, m)
	return nil
}
func (f fHistory) Pins(_ context.Context, u, ch int64) ([]model.Message, error) {
	f.s.ids("pins", u, ch)
	return nil, nil
}

type fMisc struct{ s *seen }

func (f fMisc) ReadUpTo(_ context.Context, u, ch int64) (int64, error) {
	f.s.ids("readUpTo", u, ch)
	return 0, nil
}
func (f fMisc) ForMessages(_ context.Context, u, ch int64, ms []int64) (map[int64][]reactions.Summary, error) {
	f.s.ids("forMessages", append([]int64{u, ch}, ms...)...)
	return nil, nil
}
func (f fMisc) Users(_ context.Context, u, ch, m int64, _ string, after int64, _ int) ([]int64, bool, error) {
	f.s.ids("reactionUsers", u, ch, m)
	if after < 0 {
		f.s.ids("reactionUsers after", after)
	}
	return []int64{1}, false, nil
}
func (f fMisc) Get(_ context.Context, u int64, ids []int64) ([]model.Presence, error) {
	f.s.ids("presence", append([]int64{u}, ids...)...)
	return nil, nil
}
func (f fMisc) Receipts(_ context.Context, u, ch int64) ([]model.ReadState, error) {
	f.s.ids("receipts", u, ch)
	return nil, nil
}

type fSettings struct{ s *seen }

func (f fSettings) Get(_ context.Context, u int64) (model.UserSettings, error) {
	f.s.ids("settings", u)
	return model.UserSettings{}, nil
}
func (f fSettings) Put(_ context.Context, u int64, st model.UserSettings) (model.UserSettings, error) {
	f.s.ids("putSettings", append(append(append([]int64{u}, st.MutedChannels...), st.MutedServers...), st.SuppressEveryone...)...)
	return st, nil
}

type fSearch struct{ s *seen }

// Search runs the real query parser, so fuzzed queries reach it through the router.
func (f fSearch) Search(_ context.Context, u int64, req search.Request) (model.SearchResult, error) {
	f.s.ids("search", u)
	if req.Scope.ServerID != 0 {
		f.s.ids("searchServer", req.Scope.ServerID)
	}
	if req.BeforeID != 0 {
		f.s.ids("searchBefore", req.BeforeID)
	}
	_, err := search.Parse(req.Query)
	return model.SearchResult{}, err
}

type fFiles struct{ s *seen }

func (f fFiles) Upload(_ context.Context, u attachments.Upload) (model.Attachment, error) {
	f.s.ids("upload", u.UserID, u.ChannelID)
	n, _ := io.Copy(io.Discard, u.Body)
	return model.Attachment{ID: 1, Name: attachments.SafeName(u.Name), Size: n, ContentType: "text/plain"}, nil
}
func (f fFiles) Open(_ context.Context, u, id int64, _ bool) (attachments.File, error) {
	f.s.ids("open", u, id)
	return attachments.File{Body: io.NopCloser(strings.NewReader("x")), Size: 1, ContentType: "text/plain; charset=utf-8"}, nil
}
func (f fFiles) Avatar(_ context.Context, u attachments.Upload) (string, error) {
	f.s.ids("avatar", u.UserID)
	_, _ = io.Copy(io.Discard, u.Body)
	return "/avatars/1.png", nil
}
func (f fFiles) OpenAvatar(context.Context, string) (io.ReadCloser, int64, error) {
	return io.NopCloser(strings.NewReader("x")), 1, nil
}
func (f fFiles) DeleteAvatar(context.Context, string) {}

type fProfiles struct{ s *seen }

func (f fProfiles) Me(_ context.Context, u int64) (model.User, error) {
	f.s.ids("me", u)
	return model.User{ID: u}, nil
}
func (f fProfiles) UpdateProfile(_ context.Context, u int64, _, avatar *string) (model.User, error) {
	f.s.ids("updateProfile", u)
	return model.User{ID: u, AvatarURL: *avatar}, nil
}
func (f fProfiles) SetServerIcon(_ context.Context, u, server int64, _ string) (model.Server, string, error) {
	f.s.ids("setServerIcon", u, server)
	return model.Server{ID: server}, "", nil
}

func (f fFiles) Limits() attachments.Config {
	f.s.ids("limits")
	return attachments.Config{MaxSize: 1 << 20, MaxPerMessage: 10}
}

// fuzzRouter is the real router with every handler group on the fakes.
func fuzzRouter(s *seen) *gin.Engine {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	misc := fMisc{s}
	authH := httpapi.NewAuthHandlers(fAuth{s: s}, httpapi.AuthConfig{}, log)
	return httpapi.NewRouter(httpapi.RouterConfig{
		Log:  log,
		Auth: authH,
		Extra: []func(e *gin.Engine, api, authed *gin.RouterGroup){
			httpapi.NewCommunityHandlers(fCommunity{s: s}, fCommunity{s: s}, log).Routes,
			httpapi.NewMessageHandlers(fHistory{s: s}, misc, log).WithReactions(misc).Routes,
			httpapi.NewReactionHandlers(misc, fAuth{s: s}, log).Routes,
			httpapi.NewRealtimeHandlers(misc, misc, log).Routes,
			httpapi.NewSettingsHandlers(fSettings{s}, log).Routes,
			httpapi.NewSafetyHandlers(fSafety{s: s}, log).Routes,
			httpapi.NewSearchHandlers(fSearch{s}, log).Routes,
			httpapi.NewAttachmentHandlers(fFiles{s}, authH, false, log).Routes,
			httpapi.NewAvatarHandlers(fFiles{s}, fProfiles{s}, fProfiles{s}, log).Routes,
		},
	})
}

// TestFuzzRoutesCoverTheRouter keeps FuzzRequests complete: every /api route of the handler groups above must be
// in fuzzRoutes (a new endpoint's body and ids get fuzzed; its service methods need a fake, or the fuzz target
// reports the nil interface's panic as a 500).
func TestFuzzRoutesCoverTheRouter(t *testing.T) {
	param := regexp.MustCompile(`:[A-Za-z]+`)
	fuzzed := map[string]bool{}
	for _, rt := range fuzzRoutes {
		fuzzed[rt.method+" "+param.ReplaceAllString(rt.path, ":x")] = true
	}
	for _, r := range fuzzRouter(&seen{}).Routes() {
		key := r.Method + " " + param.ReplaceAllString(r.Path, ":x")
		static := r.Path == "/api/openapi.json" || r.Path == "/api/asyncapi.json" // embedded documents: no input, no service
		if strings.HasPrefix(r.Path, "/api/") && !static && !fuzzed[key] {
			t.Errorf("%s %s is not in fuzzRoutes (controllers/httpapi/fuzz_test.go)", r.Method, r.Path)
		}
	}
}

// fuzzRoutes are the routes fuzzed; :a and :b take the fuzzed path values. body marks the routes that decode a
// JSON body (an undecodable one must be answered 400 invalid_input).
var fuzzRoutes = []struct {
	method, path string
	body         bool
}{
	{"POST", "/api/auth/register", true}, {"POST", "/api/auth/verify-email", true}, {"POST", "/api/auth/login", true}, {"POST", "/api/auth/refresh", true},
	{"POST", "/api/auth/logout", true}, {"PATCH", "/api/users/me", true}, {"GET", "/api/users/:a", false},
	{"GET", "/api/users", false}, {"GET", "/api/invites/:a", false}, {"POST", "/api/servers", true},
	{"PATCH", "/api/servers/:a", true}, {"DELETE", "/api/servers/:a", false}, {"POST", "/api/servers/:a/invites", true},
	{"POST", "/api/invites/:a/join", false}, {"GET", "/api/servers/:a/members", false},
	{"DELETE", "/api/servers/:a/members/:b", false}, {"PATCH", "/api/servers/:a/members/:b", true},
	{"GET", "/api/servers/:a/channels", false}, {"POST", "/api/servers/:a/channels", true},
	{"PATCH", "/api/channels/:a", true}, {"DELETE", "/api/channels/:a", false}, {"POST", "/api/dms", true},
	{"GET", "/api/channels/:a/messages", false}, {"GET", "/api/channels/:a/messages/:b", false},
	{"GET", "/api/channels/:a/pins", false}, {"PUT", "/api/channels/:a/pins/:b", false},
	{"GET", "/api/messages", false}, {"GET", "/api/channels/:a/messages/:b/reactions", false},
	{"GET", "/api/presence", false}, {"GET", "/api/channels/:a/receipts", false}, {"PUT", "/api/me/settings", true},
	{"GET", "/api/servers/:a/invites", false}, {"DELETE", "/api/servers/:a/invites/:b", false},
	{"GET", "/api/servers/:a/bans", false}, {"PUT", "/api/servers/:a/bans/:b", true},
	{"DELETE", "/api/servers/:a/bans/:b", false}, {"DELETE", "/api/dms/:a", false}, {"GET", "/api/me/blocks", false},
	{"PUT", "/api/me/blocks/:a", false}, {"DELETE", "/api/me/blocks/:a", false}, {"GET", "/api/me/privacy", false},
	{"PUT", "/api/me/privacy", true}, {"GET", "/api/servers", false}, {"GET", "/api/servers/:a", false},
	{"GET", "/api/me/settings", false}, {"GET", "/api/users/me", false}, {"GET", "/api/dms", false},
	{"DELETE", "/api/channels/:a/pins/:b", false}, {"GET", "/api/search", false},
	{"POST", "/api/channels/:a/attachments", false}, {"GET", "/api/attachments/limits", false}, {"POST", "/api/files/session", false},
	{"PUT", "/api/users/me/avatar", false}, {"DELETE", "/api/users/me/avatar", false},
	{"PUT", "/api/servers/:id/icon", false}, {"DELETE", "/api/servers/:id/icon", false},
}

var knownCodes = map[string]bool{"invalid_input": true, "unauthorized": true, "token_expired": true,
	"invalid_credentials": true, "forbidden": true, "not_found": true, "conflict": true, "gone": true,
	"payload_too_large": true, "rate_limited": true, "unavailable": true}

// FuzzRequests: never a 5xx (a handler panic is recovered into a 500); every 4xx carries {"error":{code,
// message}} with a known code; a body that is not a JSON value is refused with 400 invalid_input before any
// service is called; services only ever see positive ids.
func FuzzRequests(f *testing.F) {
	bodies := []string{
		`{"username":"alice","email":"a@example.com","password":"correct horse"}`, `{"login":"alice","password":"x"}`,
		`{"refreshToken":"abc"}`, `{"displayName":"Al","avatarUrl":"https://example.com/a.png"}`, `{"name":"Rust"}`,
		`{"maxUses":5,"expiresInSeconds":3600}`, `{"role":"admin"}`, `{"name":"general","topic":"t"}`,
		`{"userIds":["12","13"]}`, `{"name":"Rust","membersCanInvite":false}`, `{"reason":"spam"}`, `{"allowDMsFrom":"everyone"}`, `{"mutedChannels":["1"],"mutedServers":[],"suppressEveryone":["2"],"notifySound":true,"desktop":"all"}`,
		``, `{}`, `null`, `[]`, `"x"`, `{"name":1}`, `{"maxUses":-1}`, `{"maxUses":1e400}`, `{"userIds":["-1"]}`,
		`{"mutedChannels":["0"]}`, `{"name":"x"} trailing`, `{"a":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	}
	// Every route with good and bad ids; every body once, on the body routes in turn (a cross product made the
	// fuzzer's baseline pass take minutes).
	var bodyRoutes []uint8
	for i, rt := range fuzzRoutes {
		f.Add(uint8(i), []byte(`{}`), "12", "34", "before=5&limit=10")
		f.Add(uint8(i), []byte(`{}`), "0", "-1", "after=-5&around=x&limit=-1")
		f.Add(uint8(i), []byte(`{}`), "9223372036854775808", "abc", "userIds=1,,2&emoji=%F0%9F%91%8D&after=0")
		if rt.body {
			bodyRoutes = append(bodyRoutes, uint8(i))
		}
	}
	for i, b := range bodies {
		for j := range 3 {
			f.Add(bodyRoutes[(3*i+j)%len(bodyRoutes)], []byte(b), "12", "34", "")
		}
	}
	s := &seen{}
	router := fuzzRouter(s)
	f.Fuzz(func(t *testing.T, which uint8, body []byte, a, b, query string) {
		rt := fuzzRoutes[int(which)%len(fuzzRoutes)]
		path := strings.NewReplacer(":a", url.PathEscape(a), ":b", url.PathEscape(b)).Replace(rt.path)
		req, err := http.NewRequest(rt.method, "http://parley.test"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer token")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		router.ServeHTTP(w, req)
		calls, bad := s.take()
		what := fmt.Sprintf("%s %s?%s %q", rt.method, path, query, body)
		if w.Code >= 500 {
			t.Fatalf("%s: %d %s", what, w.Code, w.Body)
		}
		if len(bad) > 0 {
			t.Fatalf("%s: %v", what, bad)
		}
		if w.Code >= 400 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || !knownCodes[e.Error.Code] || e.Error.Message == "" {
				t.Fatalf("%s: %d with body %s, want {\"error\":{code,message}}", what, w.Code, w.Body)
			}
		}
		// The reference: a body whose first JSON value does not decode (encoding/json, as gin's binding reads it)
		// is refused, and no service runs. Creating an invite and banning read no body when there is none.
		// An empty path value, or one with a "/", may match no route (the router's 404, or its redirect to a
		// cleaned path) before any handler runs.
		routed := !(w.Code == http.StatusNotFound && strings.Contains(w.Body.String(), "no such endpoint")) && (w.Code < 300 || w.Code >= 400)
		if routed && rt.body && !(len(body) == 0 && (strings.HasSuffix(rt.path, "/invites") || strings.Contains(rt.path, "/bans/"))) {
			var v json.RawMessage // syntax only: unknown fields are ignored whatever their value
			if json.NewDecoder(bytes.NewReader(body)).Decode(&v) != nil {
				if w.Code != http.StatusBadRequest || calls > 0 || !strings.Contains(w.Body.String(), `"invalid_input"`) {
					t.Fatalf("%s: undecodable body answered %d %s after %d service calls", what, w.Code, w.Body, calls)
				}
			}
		}
		if w.Code < 300 && calls == 0 && rt.path != "/api/presence" && rt.path != "/api/files/session" {
			t.Fatalf("%s: %d without a service call", what, w.Code)
		}
		// Path ids: decimal and positive (surrounding spaces are trimmed on purpose).
		if id, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64); strings.Contains(rt.path, ":a") && !strings.HasPrefix(rt.path, "/api/invites") &&
			(err != nil || id <= 0) && w.Code < 300 {
			t.Fatalf("%s: path id %q accepted", what, a)
		}
	})
}
