//go:build chaos

// Package chaos is the full failure drill of several nodes (`make chaos`; issue #14): against the cluster that
// scripts/cluster.sh runs (three server nodes behind HAProxy, a three-node Cassandra with RF 3), clients send
// through the balancer with unique nonces and retry the same nonce on any error, while the drill kills the
// owner of the busy channel (SIGKILL), freezes the next owner past its lease (SIGSTOP), kills a node that only
// holds sockets, stops one Cassandra node and then two, freezes Redis, and kicks a member. Then: every
// acknowledged (sender, nonce) is stored once under its acknowledged id; no client saw an id that is not
// stored; each client saw the channel's ids only increase; each sender's order is kept; the kicked member got
// nothing after the kick; failover times are printed.
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/testenv/jsclient"
)

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// cluster runs a scripts/cluster.sh subcommand.
func cluster(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(root(), "scripts", "cluster.sh"), args...)
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("cluster.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(lastLine(string(out))))
	return string(out)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func nodeEnv(t *testing.T, i int) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(cluster(t, "env", strconv.Itoa(i)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "PARLEY_") {
			env[k] = v
		}
	}
	return env
}

type wireMsg struct {
	ID, ChannelID, SenderID, Content, Nonce string
}

func do(t *testing.T, base, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v (%s)", method, path, err, b)
		}
	}
	return res.StatusCode
}

type account struct{ Name, ID, Token string }

type acked struct {
	id int64
	at time.Time
}

func TestChaos(t *testing.T) {
	const perSender = 400
	started := time.Now()
	base := "http://" + envOr("CLUSTER_PUBLIC_ADDR", "127.0.0.1:8090")
	env1 := nodeEnv(t, 1)
	opts, err := goredis.ParseURL(env1["PARLEY_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(opts)
	defer rc.Close()
	prefix := env1["PARLEY_REDIS_PREFIX"]

	run := strconv.FormatInt(time.Now().Unix()%100000, 10)
	var users []account
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		name += run
		var reg struct {
			User        struct{ ID string }
			AccessToken string
		}
		do(t, base, "POST", "/api/auth/register", "", map[string]string{"username": name, "email": name + "@example.com", "password": "correct horse battery"}, &reg)
		users = append(users, account{Name: name, ID: reg.User.ID, Token: reg.AccessToken})
	}
	alice, dave := users[0], users[3]
	var srv struct{ ID string }
	do(t, base, "POST", "/api/servers", alice.Token, map[string]string{"name": "Chaos " + run}, &srv)
	var inv struct{ Code string }
	do(t, base, "POST", "/api/servers/"+srv.ID+"/invites", alice.Token, nil, &inv)
	for _, u := range users[1:] {
		do(t, base, "POST", "/api/invites/"+inv.Code+"/join", u.Token, nil, nil)
	}
	var chans struct{ Channels []struct{ ID string } }
	do(t, base, "GET", "/api/servers/"+srv.ID+"/channels", alice.Token, nil, &chans)
	general := chans.Channels[0].ID

	owner := func() int {
		v, err := rc.Get(context.Background(), prefix+":lease:"+general).Result()
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(strings.SplitN(v, "|", 2)[0])
		return n
	}

	b := jsclient.Start(t)
	clients := make([]*jsclient.Client, len(users))
	for k, u := range users {
		clients[k] = b.Connect(base, u.Token, jsclient.Options{})
		if _, err := clients[k].WaitConnected(1, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	senders := users[:3]
	results := make([][]acked, len(senders))
	var mu sync.Mutex
	total, lastAck := 0, time.Now()
	var wg sync.WaitGroup
	for k := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				nonce := fmt.Sprintf("%s-%d", senders[k].Name, i)
				a, _, err := clients[k].SendRetrying(general, nonce, nonce, 1500, 100*time.Millisecond)
				if err != nil {
					t.Error(err)
					return
				}
				id, _ := strconv.ParseInt(a.Message.ID, 10, 64)
				mu.Lock()
				results[k] = append(results[k], acked{id: id, at: time.Now()})
				total++
				lastAck = time.Now()
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return total }
	waitAcked := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Minute); count() < n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d acknowledged", count())
			}
		}
	}
	nextAck := func(what string, since time.Time) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			last := lastAck
			mu.Unlock()
			if last.After(since) {
				t.Logf("%s: next acknowledged send %v later (%d acknowledged)", what, last.Sub(since).Round(time.Millisecond), count())
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: nothing acknowledged for 2 minutes", what)
			}
		}
	}

	// 1. Kill the channel's owner; start it again.
	waitAcked(100)
	o := owner()
	at := time.Now()
	cluster(t, "kill-node", strconv.Itoa(o))
	nextAck(fmt.Sprintf("owner node %d killed", o), at)
	cluster(t, "start-node", strconv.Itoa(o))

	// 2. Freeze the owner of the moment past its lease, then resume it (a zombie).
	waitAcked(250)
	o = owner()
	at = time.Now()
	cluster(t, "stop-node", strconv.Itoa(o))
	nextAck(fmt.Sprintf("owner node %d frozen", o), at)
	time.Sleep(4 * time.Second)
	cluster(t, "cont-node", strconv.Itoa(o))

	// 3. Kill a node that does not own the channel (its sockets reconnect through the balancer).
	waitAcked(400)
	o = owner()
	gw := o%3 + 1
	at = time.Now()
	cluster(t, "kill-node", strconv.Itoa(gw))
	nextAck(fmt.Sprintf("gateway node %d killed", gw), at)
	cluster(t, "start-node", strconv.Itoa(gw))

	// 4. The kick: dave must receive nothing acknowledged after it.
	do(t, base, "DELETE", "/api/servers/"+srv.ID+"/members/"+dave.ID, alice.Token, nil, nil)
	kickedAt := time.Now()

	// 5. One Cassandra node down: writes go on. Then two: sends are refused as retryable until one returns.
	waitAcked(550)
	at = time.Now()
	cluster(t, "kill-cassandra", "3")
	nextAck("cassandra-3 killed", at)
	waitAcked(650)
	cluster(t, "kill-cassandra", "2")
	time.Sleep(time.Second) // writes already on their way may still complete
	stalled := count()
	time.Sleep(5 * time.Second)
	if n := count() - stalled; n != 0 {
		t.Errorf("%d sends acknowledged while two of three Cassandra nodes were down (LOCAL_QUORUM cannot be met)", n)
	}
	at = time.Now()
	cluster(t, "start-cassandra", "2")
	nextAck("cassandra-2 back (two were down for 6 s, nothing acknowledged meanwhile)", at)
	cluster(t, "start-cassandra", "3")

	// 6. Freeze Redis for three seconds.
	waitAcked(900)
	at = time.Now()
	cluster(t, "freeze-redis")
	time.Sleep(3 * time.Second)
	cluster(t, "thaw-redis")
	nextAck("redis frozen 3 s", at)

	wg.Wait()
	if t.Failed() {
		return
	}
	time.Sleep(2 * time.Second)

	// Checks.
	stored := map[string][]wireMsg{}
	storedIDs := map[string]bool{}
	before := ""
	for {
		var page struct{ Messages []wireMsg }
		do(t, base, "GET", "/api/channels/"+general+"/messages?limit=100"+before, alice.Token, nil, &page)
		for _, m := range page.Messages {
			stored[m.Nonce] = append(stored[m.Nonce], m)
			storedIDs[m.ID] = true
		}
		if len(page.Messages) < 100 {
			break
		}
		before = "&before=" + page.Messages[len(page.Messages)-1].ID
	}
	afterKick := map[string]bool{}
	for k, s := range senders {
		var prev int64
		for i, a := range results[k] {
			nonce := fmt.Sprintf("%s-%d", s.Name, i)
			got := stored[nonce]
			if len(got) != 1 || got[0].ID != strconv.FormatInt(a.id, 10) {
				t.Errorf("%s: stored %d times %+v, acknowledged as %d", nonce, len(got), got, a.id)
			}
			if a.id <= prev {
				t.Errorf("%s: id %d not above the sender's previous %d", nonce, a.id, prev)
			}
			prev = a.id
			if a.at.After(kickedAt.Add(500 * time.Millisecond)) {
				afterKick[strconv.FormatInt(a.id, 10)] = true
			}
		}
	}
	for k, c := range clients {
		var ids []int64
		for _, raw := range c.Events("message:new") {
			var m wireMsg
			_ = json.Unmarshal(raw, &m)
			if !storedIDs[m.ID] {
				t.Errorf("%s saw message:new for id %s, which is not stored", users[k].Name, m.ID)
			}
			if k == 3 && afterKick[m.ID] {
				t.Errorf("the kicked member received message %s, acknowledged after the kick", m.ID)
			}
			id, _ := strconv.ParseInt(m.ID, 10, 64)
			ids = append(ids, id)
		}
		if !slices.IsSorted(ids) {
			t.Errorf("%s saw the channel's ids go backwards", users[k].Name)
		}
	}
	t.Logf("%d messages stored, %d acknowledged after the kick; drill took %v", len(storedIDs), len(afterKick), time.Since(started).Round(time.Second))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
