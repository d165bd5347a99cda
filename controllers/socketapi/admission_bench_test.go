package socketapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/controllers/keysapi"
	"github.com/parleychat/parley/internal/testenv/sioclient"
	"github.com/parleychat/parley/repositories/keystore"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/keys"
)

// BenchmarkEncryptedSendAdmission measures what asking the key service costs an encrypted message:send → ack, on
// the real databases: one chat server asking the key service (in this process, on the same Postgres) and one
// without a key service, each with an encrypted DM and 4 sockets of its sender, one message at a time each, in
// interleaved rounds. CPU is this process's (chat server, key service and clients; not the databases').
//
//	go test -run XXX -bench EncryptedSendAdmission -benchtime 1x ./controllers/socketapi/ [-telemetry.rounds 5 -telemetry.per-sender 250]
func BenchmarkEncryptedSendAdmission(b *testing.B) {
	type variant struct {
		name     string
		srv      *testserver.Server
		senders  []*sioclient.Client
		dm       string
		cpu      []float64
		p50, p99 []float64
	}
	gid := []byte("benchmark-group-of-the-dm")
	ctx := context.Background()
	env := map[string]string{"PARLEY_SEND_RATE": "1000000", "PARLEY_SEND_BURST": "1000000", "PARLEY_LOG_LEVEL": "error"}
	variants := []*variant{{name: "asking"}, {name: "not-asking"}}
	for _, v := range variants {
		var api atomic.Pointer[http.Handler]
		e := map[string]string{}
		for k, x := range env {
			e[k] = x
		}
		if v.name == "asking" {
			ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*api.Load()).ServeHTTP(w, r) }))
			b.Cleanup(ks.Close)
			e["PARLEY_KEYS_URL"] = ks.URL
		}
		v.srv = testserver.Start(b, testserver.Options{NoContract: true, Env: e})
		alice, bob := v.srv.Register(b, "bench_a_"+v.name[:3]), v.srv.Register(b, "bench_b_"+v.name[:3])
		var srv, inv struct{ ID, Code string }
		v.srv.Do(b, "POST", "/api/servers", alice.AccessToken, map[string]string{"name": "Bench"}).JSON(b, &srv)
		v.srv.Do(b, "POST", "/api/servers/"+srv.ID+"/invites", alice.AccessToken, nil).JSON(b, &inv)
		v.srv.Do(b, "POST", "/api/invites/"+inv.Code+"/join", bob.AccessToken, nil)
		var dm struct{ ID string }
		v.srv.Do(b, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{bob.ID}}).JSON(b, &dm)
		v.srv.Do(b, "PUT", "/api/dms/"+dm.ID+"/encryption", alice.AccessToken, nil)
		v.dm = dm.ID
		if v.name == "asking" {
			if _, err := keystore.Migrate(v.srv.Config.PostgresURL); err != nil {
				b.Fatal(err)
			}
			db, err := pgxpool.New(ctx, v.srv.Config.PostgresURL)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(db.Close)
			pol := keys.DefaultPolicy
			pol.MaxMessages = 1 << 40 // never due: every message is counted, none refused
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			tokens := auth.NewTokenIssuer(v.srv.Config.Auth.JWTSecret, v.srv.Config.Auth.Issuer, v.srv.Config.Auth.Audience, v.srv.Config.Auth.AccessTTL)
			svc := keys.New(keystore.New(db), nil, pol, log)
			var h http.Handler = keysapi.New(svc, keys.NewAuthenticator(tokens, keystore.NewSessions(db)), nil, log)
			api.Store(&h)
			alID, _ := parseInt(alice.ID)
			dev, err := svc.RegisterDevice(ctx, alID, "bench", make([]byte, 32))
			if err != nil {
				b.Fatal(err)
			}
			chID, _ := parseInt(dm.ID)
			if _, err := svc.CreateGroup(ctx, alID, dev.ID, base64.RawURLEncoding.EncodeToString(gid), chID); err != nil {
				b.Fatal(err)
			}
		}
		for range 4 {
			c, err := sioclient.Connect(ctx, v.srv.URL, alice.AccessToken, sioclient.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			v.senders = append(v.senders, c)
		}
		sealedStep(b, v.senders, v.dm, gid, "warm", 20)
	}
	for round := range *benchRounds {
		for i := range variants {
			v := variants[(round+i)%len(variants)]
			before := cpuTime()
			lat := sealedStep(b, v.senders, v.dm, gid, fmt.Sprintf("r%d", round), *benchPerSender)
			v.cpu = append(v.cpu, float64((cpuTime()-before).Microseconds())/float64(len(lat)))
			slices.Sort(lat)
			v.p50 = append(v.p50, ms(lat[len(lat)/2]))
			v.p99 = append(v.p99, ms(lat[len(lat)*99/100]))
		}
	}
	b.Logf("%d rounds of 4 senders × %d encrypted messages per variant", *benchRounds, *benchPerSender)
	for _, v := range variants {
		b.Logf("%-10s CPU µs/msg median %.0f (rounds %v) | ack p50 median %.1f ms (%v) | ack p99 median %.1f ms (%v)",
			v.name, median(v.cpu), rounded(v.cpu), median(v.p50), rounded(v.p50), median(v.p99), rounded(v.p99))
	}
}

// sealedStep: every sender sends n encrypted messages (a ~200-byte MLS-shaped ciphertext of the group at epoch
// 0), each after the previous one's ack; it returns every send→ack time.
func sealedStep(b *testing.B, senders []*sioclient.Client, channel string, gid []byte, tag string, n int) []time.Duration {
	return sendEach(b, senders, tag, n, func(nonce string) any {
		return map[string]any{"channelId": channel, "encrypted": true, "nonce": nonce,
			"content": mlsMessage(gid, 0, nonce+"-0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789")}
	})
}
