// Package testserver runs the fully wired server in-process against the real local databases, each test with
// its own Postgres and MongoDB database (and the process's shared Cassandra keyspace), and offers small REST
// helpers for tests. It sits beside the composition root it runs (cmd/server/app), above every layer.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/app"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/contract"
)

// Server is a running test server.
type Server struct {
	URL    string
	App    *app.App
	Config config.Config
	cancel context.CancelFunc
	done   chan error
	t      testing.TB
	// Contract checks the server's traffic against the API documents.
	Contract *contract.Checker
}

// Options tweak the configuration before the server is built.
type Options struct {
	Env     map[string]string // extra PARLEY_* settings
	Mutate  func(*config.Config)
	PGURL   string // reuse a database (restart tests: see Restart); empty = a fresh one
	MongoDB string
	// Node is the snowflake node number (PARLEY_NODE_ID; Env wins); nil: the next unused one of this process.
	Node *int64
	// Log receives the server's log as well as stderr (tests that assert on it: no panics, say).
	Log io.Writer
	// Telemetry: a tracer to record spans with (tests of tracing); zero: a new registry, tracing off.
	Telemetry app.Telemetry
	// NoContract leaves out the API contract checks (benchmarks, which would measure the checks too).
	NoContract bool
}

// nextNode numbers the test servers of this process. They share the Cassandra keyspace and the search index, so
// two servers minting ids with the same node number could mint the same id in the same millisecond and write
// over each other's rows (seen in CI: another test's message took a search document's place). The count starts
// at a random number so that test processes running side by side rarely overlap either.
var nextNode = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(rand.Int64N(1024))
	return &n
}()

// Restart returns the options of a restart of this server: the same databases and the same node (its search
// checkpoint, say, is its own again).
func (s *Server) Restart() Options {
	node := s.Config.NodeID
	return Options{PGURL: s.Config.PostgresURL, MongoDB: s.Config.MongoDB, Node: &node}
}

// Start builds and serves the app on a loopback port; it is shut down gracefully when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if opts.PGURL == "" {
		opts.PGURL = testenv.PostgresURL(t)
	}
	if opts.MongoDB == "" {
		opts.MongoDB = testenv.UniqueName("test")
		testenv.DropMongoAtEnd(t, opts.MongoDB) // runs after this server (and any restart of it) stopped
	}
	_, cassCfg := testenv.SharedCassandra(t)
	env := map[string]string{
		"PARLEY_POSTGRES_URL":       opts.PGURL,
		"PARLEY_MONGO_URI":          testenv.MongoURI(),
		"PARLEY_MONGO_DATABASE":     opts.MongoDB,
		"PARLEY_CASSANDRA_HOSTS":    strings.Join(cassCfg.Hosts, ","),
		"PARLEY_CASSANDRA_KEYSPACE": cassCfg.Keyspace,
		"PARLEY_PUBLIC_ORIGIN":      url,
		"PARLEY_BCRYPT_COST":        "4", // fast hashes in tests; the cost itself is covered by auth tests
		"PARLEY_JWT_SECRET":         "test-secret-test-secret-test-secret-0123",
		"PARLEY_STATIC_DIR":         t.TempDir(),
		"PARLEY_LOG_LEVEL":          "warn",
		// One search index for every test server: tests are isolated by their own users and channels, as in
		// the shared Cassandra keyspace.
		"PARLEY_SEARCH_URLS":    testenv.Get("PARLEY_SEARCH_URLS"),
		"PARLEY_SEARCH_INDEX":   "parley-test-messages",
		"PARLEY_STORAGE_DIR":    t.TempDir(),
		"PARLEY_UPLOAD_TMP_DIR": t.TempDir(),
	}
	node := nextNode.Add(1) % 1024
	if opts.Node != nil {
		node = *opts.Node
	}
	env["PARLEY_NODE_ID"] = strconv.FormatInt(node, 10)
	for k, v := range opts.Env {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if opts.Mutate != nil {
		opts.Mutate(&cfg)
	}
	var out io.Writer = os.Stderr
	if opts.Log != nil {
		out = io.MultiWriter(os.Stderr, opts.Log)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tel := opts.Telemetry
	if tel.Metrics == nil {
		tel.Metrics = metrics.New(cfg.NodeID)
	}
	pg, mc, cs, err := app.Connect(ctx, cfg, log, tel)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, log, tel, pg, mc, cs)
	if err != nil {
		t.Fatal(err)
	}
	// Every REST answer and every socket event and ack is checked against docs/openapi.yaml and
	// docs/asyncapi.yaml; the mismatches fail the test once the server has stopped.
	var chk *contract.Checker
	if !opts.NoContract {
		if chk, err = contract.New(); err != nil {
			t.Fatal(err)
		}
		a.Wrap(chk.Middleware)
		a.TapSockets(chk.Tap)
		t.Cleanup(func() {
			for _, p := range chk.Problems() {
				t.Errorf("API contract: %s", p)
			}
		})
	}
	sctx, scancel := context.WithCancel(context.Background())
	s := &Server{URL: url, App: a, Config: cfg, cancel: scancel, done: make(chan error, 1), t: t, Contract: chk}
	go func() { s.done <- a.Serve(sctx, ln) }()
	t.Cleanup(func() { s.Stop() }) // runs before the check above: cleanups run last-registered first
	return s
}

// Stop shuts the server down gracefully (idempotent) and returns Serve's error.
func (s *Server) Stop() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		return err
	case <-time.After(60 * time.Second):
		s.t.Error("server did not stop within 60s")
		return nil
	}
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes a successful answer's body into v (an error answer fails the test).
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if r.Status >= 400 { // an error body decoded as a result would pass for an empty one
		t.Fatalf("decoding a %d answer as a result: %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// Stable is the body without the request id of an error (which differs on every request), for tests that
// compare two answers.
func (r Response) Stable() string {
	return requestIDField.ReplaceAllString(string(r.Body), "")
}

var requestIDField = regexp.MustCompile(`,?"requestId":"[^"]*"`)

// ErrorCode returns error.code of an error body.
func (r Response) ErrorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends a request with an optional bearer token and JSON body (a string body is sent verbatim).
func (s *Server) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Account is a registered user with its tokens.
type Account struct {
	ID, Username, AccessToken, RefreshToken string
}

// Password is every test account's password.
const Password = "correct horse battery"

// Register creates a user (password Password) and returns its tokens.
func (s *Server) Register(t testing.TB, username string) Account {
	t.Helper()
	res := s.Do(t, "POST", "/api/auth/register", "", map[string]string{
		"username": username, "email": username + "@example.com", "password": Password})
	if res.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", username, res.Status, res.Body)
	}
	var body struct {
		User         struct{ ID, Username string }
		AccessToken  string
		RefreshToken string
	}
	res.JSON(t, &body)
	return Account{ID: body.User.ID, Username: body.User.Username, AccessToken: body.AccessToken, RefreshToken: body.RefreshToken}
}

// Attachment is an uploaded file as the API answers it.
type Attachment struct {
	ID, Name, ContentType, URL, PreviewURL, Snippet string
	Size                                            int64
	Width, Height                                   int
}

// Upload posts body as one file to a channel (query: filename=… and/or encrypted=1) and returns the status, the
// attachment (zero for an error answer) and the raw answer. The request says image/png whatever the bytes are:
// the server sniffs the type and must not believe the header.
func (s *Server) Upload(t testing.TB, token, channelID, query string, body []byte) (int, Attachment, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/channels/"+channelID+"/attachments?"+query, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "image/png")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct{ Attachment Attachment }
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out.Attachment, string(b)
}
