// Package e2ee tests end-to-end encrypted DMs (issue #19) across both services: the web app's MLS module and
// the official socket.io-client (frontend/src/e2ee/flow.test.ts, run under Vitest in Node) talk to the real chat
// server and the real key service on the real databases; then this test scans every database for the
// plaintexts the two users exchanged.
package e2ee

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/cassandra"
	"github.com/parleychat/parley/services/keys"
)

func required(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("PARLEY_REQUIRE_STACK") == "1" || os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v (make test installs it)", what, err)
	}
	t.Skipf("%s: %v", what, err)
}

func TestEncryptedDMsAcrossBothServices(t *testing.T) {
	frontend, _ := filepath.Abs("../../frontend")
	if _, err := os.Stat(filepath.Join(frontend, "node_modules", "ts-mls")); err != nil {
		required(t, "the web app's dependencies are not installed (npm ci in frontend/)", err)
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		required(t, "npx", err)
	}

	// The chat server, and the key service on the same Postgres database (schema keys) with the same token key;
	// the chat server asks it before storing each encrypted message (PARLEY_KEYS_URL), so its handler is set once
	// both exist.
	var api atomic.Pointer[http.Handler]
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*api.Load()).ServeHTTP(w, r) }))
	defer ks.Close()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_KEYS_URL": ks.URL}})
	pol := keys.DefaultPolicy
	pol.MaxMessages, pol.GraceMessages = 3, 1 // a forced rotation within a short conversation
	h, db := s.KeyService(t, pol, nil)
	api.Store(&h)

	alice, bob := s.Register(t, "x_alice"), s.Register(t, "x_bob")
	// A DM needs a shared server (the default privacy setting).
	var srv, inv struct{ ID, Code string }
	s.Do(t, "POST", "/api/servers", alice.AccessToken, map[string]string{"name": "E2EE"}).JSON(t, &srv)
	s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", alice.AccessToken, nil).JSON(t, &inv)
	if r := s.Do(t, "POST", "/api/invites/"+inv.Code+"/join", bob.AccessToken, nil); r.Status != http.StatusOK {
		t.Fatalf("join: %d %s", r.Status, r.Body)
	}
	res := s.Do(t, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{bob.ID}})
	if res.Status != http.StatusCreated {
		t.Fatalf("open DM: %d %s", res.Status, res.Body)
	}
	var dm struct{ ID string }
	res.JSON(t, &dm)
	// The server accepts ciphertext only in a DM whose encryption a member turned on (the web app does it first).
	if r := s.Do(t, "PUT", "/api/dms/"+dm.ID+"/encryption", alice.AccessToken, nil); r.Status != http.StatusOK {
		t.Fatalf("turn encryption on: %d %s", r.Status, r.Body)
	}

	flow, _ := json.Marshal(map[string]any{
		"chatUrl": s.URL, "keysUrl": ks.URL, "dmId": dm.ID,
		"alice": map[string]string{"id": alice.ID, "token": alice.AccessToken},
		"bob":   map[string]string{"id": bob.ID, "token": bob.AccessToken},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npx, "vitest", "run", "src/e2ee/flow.test.ts", "--reporter=verbose")
	cmd.Dir = frontend
	cmd.Env = append(os.Environ(), "E2EE_FLOW="+string(flow), "CI=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the protocol flow failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 passed") {
		t.Fatalf("the protocol flow did not run:\n%s", out.String())
	}
	var plaintexts []string
	for _, line := range strings.Split(out.String(), "\n") {
		if _, v, ok := strings.Cut(line, "E2EE_PLAINTEXTS="); ok {
			if err := json.Unmarshal([]byte(strings.TrimSpace(v)), &plaintexts); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(plaintexts) != 8 {
		t.Fatalf("expected the 8 plaintexts of the flow, got %d:\n%s", len(plaintexts), out.String())
	}
	// Distinctive words of the conversation; none may appear anywhere.
	needles := []string{"tangerine", "marmalade", "quince", "launch code"}

	// Cassandra: every stored row of the DM is ciphertext, marked encrypted, and neither it nor its base64
	// decoding contains a plaintext.
	var page struct {
		Messages []struct{ ID, Type string }
	}
	s.Do(t, "GET", "/api/channels/"+dm.ID+"/messages?limit=100", alice.AccessToken, nil).JSON(t, &page)
	// The 8 messages and, oldest, the system line "alice turned on end-to-end encryption" (no text of its own).
	if n := len(page.Messages); n != 9 || page.Messages[n-1].Type != "encryption" {
		t.Fatalf("%d messages in the DM, want 8 and the system line: %+v", n, page.Messages)
	}
	page.Messages = page.Messages[:8]
	sess, _ := testenv.SharedCassandra(t)
	chID, _ := strconv.ParseInt(dm.ID, 10, 64)
	for _, m := range page.Messages {
		id, _ := strconv.ParseInt(m.ID, 10, 64)
		var content string
		var enc bool
		if err := sess.Query(`SELECT content, encrypted FROM messages WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
			chID, cassandra.Bucket(id), id).Scan(&content, &enc); err != nil {
			t.Fatal(err)
		}
		decoded, err := base64.StdEncoding.DecodeString(content)
		if !enc || err != nil {
			t.Fatalf("row %d: encrypted=%v, base64 error %v", id, enc, err)
		}
		for _, n := range append(needles, plaintexts...) {
			if strings.Contains(content, n) || bytes.Contains(decoded, []byte(n)) {
				t.Fatalf("row %d contains plaintext %q", id, n)
			}
		}
	}

	// Postgres (the chat tables and the key service's schema): every text and bytea column of every table.
	rows, err := db.Query(context.Background(), `SELECT table_schema, table_name, column_name FROM information_schema.columns
		WHERE table_schema IN ('public', 'keys') AND data_type IN ('text', 'bytea', 'character varying', 'jsonb')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ schema, table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.schema, &c.table, &c.column); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	scanned := 0
	for _, c := range cols {
		vals, err := db.Query(context.Background(), `SELECT "`+c.column+`"::bytea FROM "`+c.schema+`"."`+c.table+`" WHERE "`+c.column+`" IS NOT NULL`)
		if err != nil {
			// text columns cast to bytea fail on backslashes; read them as text instead.
			vals, err = db.Query(context.Background(), `SELECT convert_to("`+c.column+`"::text, 'UTF8') FROM "`+c.schema+`"."`+c.table+`" WHERE "`+c.column+`" IS NOT NULL`)
			if err != nil {
				t.Fatal(err)
			}
		}
		for vals.Next() {
			var b []byte
			if err := vals.Scan(&b); err != nil {
				t.Fatal(err)
			}
			scanned++
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					t.Fatalf("Postgres %s.%s.%s contains plaintext %q", c.schema, c.table, c.column, n)
				}
			}
		}
		vals.Close()
	}
	if scanned < 20 {
		t.Fatalf("only %d Postgres values scanned: the scan is not looking at the data", scanned)
	}

	// MongoDB (channel metadata, read state, reactions): every document of every collection, as JSON.
	mc, err := mongo.Connect(options.Client().ApplyURI(testenv.MongoURI()))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	mdb := mc.Database(s.Config.MongoDB)
	names, err := mdb.ListCollectionNames(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, name := range names {
		cur, err := mdb.Collection(name).Find(context.Background(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(context.Background()) {
			docs++
			js, _ := bson.MarshalExtJSON(cur.Current, false, false)
			for _, n := range needles {
				if bytes.Contains(js, []byte(n)) {
					t.Fatalf("MongoDB %s contains plaintext %q: %s", name, n, js)
				}
			}
		}
		cur.Close(context.Background())
	}
	if docs == 0 {
		t.Fatal("no MongoDB document scanned: the scan is not looking at the data")
	}
}
