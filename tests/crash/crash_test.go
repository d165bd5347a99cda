//go:build linux

// Package crash kills the real server binary with SIGKILL in the middle of 3,000 sends, starts it again, lets
// the clients retry what was not acknowledged (same nonce, same content), and checks the promise of the README's
// "Delivery guarantees": nothing acknowledged is lost, nothing is stored twice, and each sender's messages
// keep their order in each channel.
package crash

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
)

const (
	perSender = 1000      // messages each of the three users sends
	window    = 20        // sends one user keeps in flight (message i is emitted once i-20 is answered)
	killAfter = perSender // acknowledged sends before the kill: a third of the 3,000
	freeze    = 200 * time.Millisecond
	ackWait   = 30 * time.Second
)

type wireMsg struct {
	ID        string `json:"id"`
	ChannelID string `json:"channelId"`
	SenderID  string `json:"senderId"`
	Content   string `json:"content"`
	Nonce     string `json:"nonce"`
}

type sendAck struct {
	OK      bool    `json:"ok"`
	Message wireMsg `json:"message"`
	Error   struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

type account struct {
	Name, ID, Token string
}

// crashRun is the state shared by the senders and the killer.
type crashRun struct {
	b     *bridge
	acked atomic.Int64  // acknowledged sends, all users
	tick  chan struct{} // a send was acknowledged (buffered 1; the killer polls acked)

	gate   sync.Mutex // held while emitting; the killer takes it to stop every sender before the kill
	down   bool       // set (under gate) just before the kill, cleared after the restart
	killed bool       // set with down, never cleared
	up     chan struct{}
}

func (r *crashRun) wasKilled() bool {
	r.gate.Lock()
	defer r.gate.Unlock()
	return r.killed
}

// sender is one user sending perSender messages in order, nonce "<user>-<i>".
type sender struct {
	acc     account
	cid     string
	channel func(i int) string // the channel message i goes to

	ackID   []int64 // the id the (last) ack returned; 0 until acknowledged
	emits   []int   // how often message i was emitted
	late    []bool  // (last) emitted after the restart
	retried []bool  // emitted again after the crash because its first attempt was never acknowledged
}

func (s *sender) nonce(i int) string { return fmt.Sprintf("%s-%d", s.acc.Name, i) }
func (s *sender) content(i int) string {
	return fmt.Sprintf("%s says #%d of %d", s.acc.Name, i, perSender)
}

// run sends every message, keeping up to `window` in flight. After a failure (the server died) it stops
// emitting, waits until every outstanding send is answered or failed, waits for the restarted server, and then
// emits the failed ones again, in order, with the same nonce and content, before going on.
func (s *sender) run(r *crashRun) error {
	results := make(chan ackResult, window)
	var resend []int
	next, inflight, done := 0, 0, 0
	recovering := false
	for done < perSender {
		if !recovering && inflight < window && (len(resend) > 0 || next < perSender) {
			i := next
			if len(resend) > 0 {
				i = resend[0]
			}
			r.gate.Lock()
			if r.down {
				r.gate.Unlock()
				recovering = true
				continue
			}
			r.b.emitAck(s.cid, "message:send", map[string]any{"channelId": s.channel(i), "content": s.content(i), "nonce": s.nonce(i)},
				ackWait, i, results)
			s.late[i] = r.killed
			r.gate.Unlock()
			if len(resend) > 0 {
				resend = resend[1:]
				s.retried[i] = true
			} else {
				next++
			}
			s.emits[i]++
			inflight++
			continue
		}
		if recovering && inflight == 0 {
			select {
			case <-r.up:
			case <-time.After(2 * time.Minute):
				return fmt.Errorf("%s: the server did not come back", s.acc.Name)
			}
			recovering = false
			slices.Sort(resend)
			continue
		}
		var res ackResult
		select {
		case res = <-results:
		case <-time.After(ackWait + 10*time.Second):
			return fmt.Errorf("%s: no answer from the bridge for %v", s.acc.Name, ackWait+10*time.Second)
		}
		inflight--
		i := res.tag
		var a sendAck
		if !res.failed {
			if err := json.Unmarshal(res.arg, &a); err != nil {
				return fmt.Errorf("%s: ack of message %d: %v (%s)", s.acc.Name, i, err, res.arg)
			}
		}
		if res.failed || !a.OK {
			// Only the crash may cost an answer, and only to a send emitted before it (handed to the socket that
			// died).
			if s.late[i] || !r.wasKilled() {
				return fmt.Errorf("%s: message %d failed outside the crash (emit #%d): failed=%v ack=%s", s.acc.Name, i, s.emits[i], res.failed, res.arg)
			}
			resend = append(resend, i)
			recovering = true
			continue
		}
		if a.Message.Nonce != s.nonce(i) || a.Message.Content != s.content(i) || a.Message.SenderID != s.acc.ID || a.Message.ChannelID != s.channel(i) {
			return fmt.Errorf("%s: message %d acknowledged as %+v", s.acc.Name, i, a.Message)
		}
		id, err := strconv.ParseInt(a.Message.ID, 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%s: message %d acknowledged with id %q", s.acc.Name, i, a.Message.ID)
		}
		if s.ackID[i] != 0 {
			return fmt.Errorf("%s: message %d acknowledged twice", s.acc.Name, i)
		}
		s.ackID[i] = id
		done++
		r.acked.Add(1)
		select {
		case r.tick <- struct{}{}:
		default:
		}
	}
	return nil
}

// TestKillDashNineLosesAndDuplicatesNothing: three users send 1,000 messages each (two of them every fourth
// into their DM), 20 in flight per user; after about a third has been acknowledged the server gets SIGKILL
// (frozen first, so writes already sent to Cassandra land without their acks going out), is started again
// with the same settings, and the clients reconnect and retry what was not acknowledged. The history must then
// hold each of the 3,000 nonces exactly once, under the id its ack returned, in each sender's order.
func TestKillDashNineLosesAndDuplicatesNothing(t *testing.T) {
	started := time.Now()
	tmp := t.TempDir()
	bin := buildServer(t, tmp)
	t.Logf("built the server (race=%v) in %v", raceBuild, time.Since(started).Round(time.Millisecond))

	_, cass := testenv.SharedCassandra(t)
	port := freeLoopbackPort(t)
	url := "http://127.0.0.1:" + port
	env := map[string]string{
		"PARLEY_HTTP_ADDR":          "127.0.0.1:" + port,
		"PARLEY_PUBLIC_ORIGIN":      url,
		"PARLEY_POSTGRES_URL":       testenv.PostgresURL(t),
		"PARLEY_MONGO_URI":          testenv.MongoURI(),
		"PARLEY_MONGO_DATABASE":     testenv.Mongo(t).Name(), // migrated now, dropped when the test ends
		"PARLEY_CASSANDRA_HOSTS":    strings.Join(cass.Hosts, ","),
		"PARLEY_CASSANDRA_KEYSPACE": cass.Keyspace,
		"PARLEY_BCRYPT_COST":        "4",
		"PARLEY_JWT_SECRET":         "crash-test-secret-crash-test-secret-0123", // the same after the restart
		"PARLEY_STATIC_DIR":         t.TempDir(),
		"PARLEY_DATA_DIR":           t.TempDir(),
		"PARLEY_LOG_LEVEL":          "warn",
		"PARLEY_SEND_RATE":          "100000",
		"PARLEY_SEND_BURST":         "100000",
		// PARLEY_FLUSH_BATCH and PARLEY_FLUSH_DELAY stay at their defaults (64, 5 ms): with 60 sends in
		// flight there is nearly always a flush on its way to Cassandra.
	}
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	srv := &serverProc{bin: bin, url: url, env: environ, logPath: filepath.Join(tmp, "server.log")}
	t.Cleanup(srv.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server output:\n%s", srv.logTail())
		}
	})
	srv.start(t)
	srv.waitReady(t, 2*time.Minute)
	t.Logf("server ready after %v", time.Since(started).Round(time.Millisecond))

	// Three users, a server owned by the first, the others join by invite; the first two also share a DM.
	var users []account
	for _, name := range []string{"alice", "bob", "carol"} {
		var reg struct {
			User        struct{ ID string }
			AccessToken string
		}
		do(t, url, "POST", "/api/auth/register", "", map[string]string{"username": name, "email": name + "@example.com",
			"password": "correct horse battery"}, &reg)
		users = append(users, account{Name: name, ID: reg.User.ID, Token: reg.AccessToken})
	}
	alice, bob, carol := users[0], users[1], users[2]
	var community struct{ ID string }
	do(t, url, "POST", "/api/servers", alice.Token, map[string]string{"name": "Crash"}, &community)
	var inv struct{ Code string }
	do(t, url, "POST", "/api/servers/"+community.ID+"/invites", alice.Token, nil, &inv)
	for _, u := range []account{bob, carol} {
		do(t, url, "POST", "/api/invites/"+inv.Code+"/join", u.Token, nil, nil)
	}
	var chans struct{ Channels []struct{ ID string } }
	do(t, url, "GET", "/api/servers/"+community.ID+"/channels", alice.Token, nil, &chans)
	general := chans.Channels[0].ID
	var dm struct{ ID string }
	do(t, url, "POST", "/api/dms", alice.Token, map[string]any{"userIds": []string{bob.ID}}, &dm)

	b := startBridge(t)
	r := &crashRun{b: b, tick: make(chan struct{}, 1), up: make(chan struct{})}
	senders := make([]*sender, len(users))
	for k, u := range users {
		s := &sender{acc: u, channel: func(int) string { return general },
			ackID: make([]int64, perSender), emits: make([]int, perSender), late: make([]bool, perSender),
			retried: make([]bool, perSender)}
		if u != carol {
			s.channel = func(i int) string {
				if i%4 == 3 {
					return dm.ID
				}
				return general
			}
		}
		s.cid = b.connect(url, u.Token)
		senders[k] = s
	}
	for _, s := range senders {
		if err := b.waitConnected(s.cid, 1, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	sendStart := time.Now()
	errs := make(chan error, len(senders))
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.run(r); err != nil {
				errs <- err
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	// The kill, once about a third of the sends is acknowledged.
	for r.acked.Load() < killAfter {
		select {
		case <-r.tick:
		case <-finished:
			close(errs)
			t.Fatalf("the senders stopped before the kill: %v", <-errs)
		case <-time.After(ackWait):
			t.Fatalf("only %d sends acknowledged after %v", r.acked.Load(), time.Since(sendStart))
		}
	}
	r.gate.Lock()
	r.down, r.killed = true, true // no sender emits from now on
	r.gate.Unlock()
	// Every send emitted so far is on the socket, so none can sit in socket.io-client's buffer and go out by
	// itself after the reconnect, ahead of the retries.
	if err := b.barrier(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	ackedBeforeKill := r.acked.Load()
	srv.kill9(t, freeze)
	restartAt := time.Now() // every id the first process made is older; every id the second makes is not
	t.Logf("SIGKILL after %v of sending, %d of %d sends acknowledged", time.Since(sendStart).Round(time.Millisecond), ackedBeforeKill, 3*perSender)

	srv.start(t)
	srv.waitReady(t, 2*time.Minute)
	for _, s := range senders { // the clients reconnect by themselves, with the same token
		if err := b.waitConnected(s.cid, 2, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("restarted and reconnected in %v", time.Since(restartAt).Round(time.Millisecond))
	r.gate.Lock()
	r.down = false
	close(r.up)
	r.gate.Unlock()

	select {
	case <-finished:
	case <-time.After(3 * time.Minute):
		t.Fatalf("the senders did not finish; %d acknowledged", r.acked.Load())
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("all %d sends acknowledged after %v", 3*perSender, time.Since(sendStart).Round(time.Millisecond))

	// The history, read back page by page (newest first).
	stored := map[string][]wireMsg{} // by nonce
	total := 0
	for _, ch := range []string{general, dm.ID} {
		before := ""
		for {
			var page struct{ Messages []wireMsg }
			do(t, url, "GET", "/api/channels/"+ch+"/messages?limit=100"+before, alice.Token, nil, &page)
			for _, m := range page.Messages {
				stored[m.Nonce] = append(stored[m.Nonce], m)
				total++
			}
			if len(page.Messages) < 100 {
				break
			}
			before = "&before=" + page.Messages[len(page.Messages)-1].ID
		}
	}

	// Every id the killed process made is below firstNewID; every id the restarted one made is not.
	firstNewID := snowflake.FirstIDAt(restartAt)
	problems := 0
	bad := func(format string, args ...any) {
		t.Helper()
		if problems++; problems <= 20 {
			t.Errorf(format, args...)
		}
	}
	retried, storedBeforeKill, recognised := 0, 0, 0
	for _, s := range senders {
		lastID := map[string]int64{} // per channel: the id of this sender's previous message
		for i := range perSender {
			got := stored[s.nonce(i)]
			if s.retried[i] {
				retried++
				for _, m := range got {
					if id, _ := strconv.ParseInt(m.ID, 10, 64); id < firstNewID {
						storedBeforeKill++ // stored by the killed process, never acknowledged by it
						break
					}
				}
				if s.ackID[i] < firstNewID {
					recognised++ // the retry was answered with the id the killed process had stored
				}
			} else if s.emits[i] != 1 {
				bad("%s: message %d emitted %d times without being retried", s.acc.Name, i, s.emits[i])
			}
			if len(got) != 1 {
				var ids []string
				for _, m := range got {
					ids = append(ids, m.ID)
				}
				bad("%s: nonce %s stored %d times (ids %v; acknowledged as %d)", s.acc.Name, s.nonce(i), len(got), ids, s.ackID[i])
				continue
			}
			m := got[0]
			if m.ID != strconv.FormatInt(s.ackID[i], 10) {
				bad("%s: message %d acknowledged as id %d but stored as %s", s.acc.Name, i, s.ackID[i], m.ID)
			}
			if m.Content != s.content(i) || m.SenderID != s.acc.ID || m.ChannelID != s.channel(i) {
				bad("%s: message %d stored as %+v", s.acc.Name, i, m)
			}
			if prev := lastID[m.ChannelID]; s.ackID[i] <= prev {
				bad("%s: message %d (id %d) is stored before the previous one in its channel (id %d)", s.acc.Name, i, s.ackID[i], prev)
			}
			lastID[m.ChannelID] = s.ackID[i]
		}
	}
	if problems > 20 {
		t.Errorf("… %d problems in all", problems)
	}
	if total != 3*perSender {
		t.Errorf("the history holds %d messages, want %d", total, 3*perSender)
	}
	if raceBuild && strings.Contains(srv.logText(), "WARNING: DATA RACE") {
		t.Error("the server reported a data race (see its output)")
	}
	t.Logf("crash window: %d sends unanswered at the kill and retried; %d of them had been stored by the killed process, %d retries were answered with that stored id",
		retried, storedBeforeKill, recognised)
	if storedBeforeKill == 0 {
		t.Logf("nothing unanswered had been stored before the kill this time (timing): this run checked loss and order, not deduplication")
	}
	t.Logf("total %v", time.Since(started).Round(time.Millisecond))
}
