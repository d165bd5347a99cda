package outage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/rawsio"
)

// loadSender is one user's socket with an outbox: it offers its share of the load, keeps every message until
// it is acknowledged, and resends unacknowledged ones with the same nonce (what the web app does).
type loadSender struct {
	sock    *rawsio.Socket
	channel string
	user    int

	mu      sync.Mutex
	pending map[string]time.Time // nonce → last sent
	acked   map[string]string    // nonce → id
	byAck   map[int]string       // ack id → nonce
	nextAck int
	codes   map[string]int // refusals by code
	maxLat  time.Duration
	first   map[string]time.Time
	dead    bool
	lastID  string // the newest message id acknowledged to this user
}

func (l *loadSender) send(t *testing.T, nonce string) {
	l.mu.Lock()
	id := l.nextAck
	l.nextAck++
	l.byAck[id] = nonce
	l.pending[nonce] = time.Now()
	if _, ok := l.first[nonce]; !ok {
		l.first[nonce] = time.Now()
	}
	l.mu.Unlock()
	frame := fmt.Sprintf(`42%d["message:send",{"channelId":%q,"content":%q,"nonce":%q}]`, id, l.channel, nonce, nonce)
	if err := l.sock.Send(frame); err != nil {
		l.mu.Lock()
		if !l.dead {
			t.Errorf("user %d: the server closed the socket: %v", l.user, err)
		}
		l.dead = true
		l.mu.Unlock()
	}
}

func (l *loadSender) read() {
	for {
		f, err := l.sock.Next()
		if err != nil {
			return
		}
		if f == "2" {
			_ = l.sock.Send("3")
			continue
		}
		if !strings.HasPrefix(f, "43") {
			continue
		}
		i := strings.IndexByte(f, '[')
		id, _ := strconv.Atoi(f[2:i])
		var args []struct {
			OK      bool
			Message struct{ ID string }
			Error   struct{ Code string }
		}
		if json.Unmarshal([]byte(f[i:]), &args) != nil || len(args) != 1 {
			continue
		}
		l.mu.Lock()
		nonce := l.byAck[id]
		delete(l.byAck, id)
		if args[0].OK {
			if _, done := l.acked[nonce]; !done {
				l.acked[nonce] = args[0].Message.ID
				l.lastID = args[0].Message.ID
				l.maxLat = max(l.maxLat, time.Since(l.first[nonce]))
			}
			delete(l.pending, nonce)
		} else {
			l.codes[args[0].Error.Code]++
		}
		l.mu.Unlock()
	}
}

// loadUsers registers an owner and `users` members, perChannel to a server (its #general), each with a socket
// whose acks a goroutine reads.
func loadUsers(t *testing.T, s *testserver.Server, users, perChannel int) (testserver.Account, []*loadSender) {
	t.Helper()
	owner := s.Register(t, "owner")
	var senders []*loadSender
	var srv struct{ ID string }
	var inv struct{ Code string }
	for u := range users {
		if u%perChannel == 0 { // a server per channel, one invite for its members (invites are rate-limited)
			s.Do(t, "POST", "/api/servers", owner.AccessToken, map[string]string{"name": fmt.Sprint("load ", u)}).JSON(t, &srv)
			s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", owner.AccessToken, nil).JSON(t, &inv)
		}
		acc := s.Register(t, fmt.Sprint("user", u))
		if res := s.Do(t, "POST", "/api/invites/"+inv.Code+"/join", acc.AccessToken, nil); res.Status != http.StatusOK {
			t.Fatal(res.Status)
		}
		var chans struct{ Channels []struct{ ID string } }
		s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", acc.AccessToken, nil).JSON(t, &chans)
		sock, answer := rawsio.Dial(t, s.URL, acc.AccessToken, 0)
		if !strings.HasPrefix(answer, "40") {
			t.Fatal(answer)
		}
		l := &loadSender{sock: sock, channel: chans.Channels[0].ID, user: u, pending: map[string]time.Time{}, acked: map[string]string{},
			byAck: map[int]string{}, codes: map[string]int{}, first: map[string]time.Time{}}
		go l.read()
		senders = append(senders, l)
	}
	return owner, senders
}

// The figures behind "Cassandra stopped under load" (#22): a private Cassandra node is killed (SIGKILL) while
// users offer PARLEY_OUTAGE_LOAD msg/s, stays down PARLEY_OUTAGE_SECONDS, and is started again. Run by
// `make chaos` (not `make test`: it takes a couple of minutes and a node of its own).
func TestCassandraOutageUnderLoad(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("PARLEY_OUTAGE_LOAD"))
	if rate <= 0 {
		t.Skip("set PARLEY_OUTAGE_LOAD (msg/s) to run; make chaos does")
	}
	stack(t, "cassandra_install >/dev/null && cassandra_start")
	t.Cleanup(func() { stack(t, "cassandra_stop") })
	s := testserver.Start(t, testserver.Options{Env: map[string]string{
		"PARLEY_CASSANDRA_HOSTS": "127.0.0.1:" + privatePort, "PARLEY_CASSANDRA_KEYSPACE": fmt.Sprint("load", time.Now().Unix()),
		"PARLEY_SEND_RATE": "1000", "PARLEY_SEND_BURST": "1000", "PARLEY_REGISTER_BURST": "1000",
		"PARLEY_API_RATE": "100000", "PARLEY_API_BURST": "100000", // the owner pages through every history
		// Below what the clients' outboxes can hold (50 × 200), so the server must push back with `unavailable`.
		"PARLEY_QUEUE_LIMIT": "5000"}})
	const users = 50
	owner, senders := loadUsers(t, s, users, 5)

	outage := outageLength()
	var offered atomic.Int64
	stopOffering := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second * time.Duration(users) / time.Duration(rate))
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stopOffering:
					return
				case <-tick.C:
				}
				l.mu.Lock()
				var resend []string
				for nonce, at := range l.pending {
					if time.Since(at) > 2*time.Second {
						resend = append(resend, nonce)
					}
				}
				full := len(l.pending) >= 200 // the client's outbox is full: it stops taking new messages
				l.mu.Unlock()
				for _, nonce := range resend {
					l.send(t, nonce)
				}
				if !full {
					offered.Add(1)
					l.send(t, fmt.Sprintf("u%d-%d", l.user, i))
				}
			}
		}()
	}
	time.Sleep(15 * time.Second)
	ackedBy := func() int {
		n := 0
		for _, l := range senders {
			l.mu.Lock()
			n += len(l.acked)
			l.mu.Unlock()
		}
		return n
	}
	beforeKill := ackedBy()
	killed := time.Now()
	stack(t, `kill -KILL "$(_cassandra_pid)"`)
	time.Sleep(outage)
	restart := time.Now()
	stack(t, "cassandra_start")
	up := time.Now()
	// Drain: stop offering once every message offered so far is acknowledged, or after 2 minutes.
	deadline := time.Now().Add(2 * time.Minute)
	var drained time.Time
	for time.Now().Before(deadline) {
		pending := 0
		for _, l := range senders {
			l.mu.Lock()
			pending += len(l.pending)
			l.mu.Unlock()
		}
		if pending == 0 && drained.IsZero() {
			drained = time.Now()
		}
		if !drained.IsZero() && time.Since(drained) > 10*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stopOffering)
	wg.Wait()
	time.Sleep(3 * time.Second)

	codes := map[string]int{}
	var maxLat time.Duration
	total, pendingLeft := 0, 0
	for _, l := range senders {
		l.mu.Lock()
		for c, n := range l.codes {
			codes[c] += n
		}
		maxLat = max(maxLat, l.maxLat)
		total += len(l.acked)
		pendingLeft += len(l.pending)
		l.mu.Unlock()
	}
	if drained.IsZero() {
		drained = time.Now()
		t.Errorf("%d messages still unacknowledged 2 minutes after Cassandra returned", pendingLeft)
	}
	// Every acknowledged message is in its channel's history once, with the acknowledged id.
	lost, dups := 0, 0
	byChannel := map[string][]*loadSender{}
	for _, l := range senders {
		byChannel[l.channel] = append(byChannel[l.channel], l)
	}
	for ch, ls := range byChannel {
		stored := map[string][]string{}
		before := ""
		for {
			var page struct{ Messages []struct{ ID, Nonce string } }
			res := s.Do(t, "GET", "/api/channels/"+ch+"/messages?limit=100"+before, owner.AccessToken, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("history: %d %s", res.Status, res.Body)
			}
			res.JSON(t, &page)
			for _, m := range page.Messages {
				stored[m.Nonce] = append(stored[m.Nonce], m.ID)
			}
			if len(page.Messages) < 100 {
				break
			}
			before = "&before=" + page.Messages[len(page.Messages)-1].ID
		}
		for _, l := range ls {
			for nonce, id := range l.acked {
				switch ids := stored[nonce]; {
				case len(ids) == 0:
					lost++
				case len(ids) > 1:
					dups++
				case ids[0] != id:
					t.Errorf("nonce %s acknowledged as %s, stored as %s", nonce, id, ids[0])
				}
			}
		}
	}
	if lost+dups > 0 {
		t.Errorf("%d acknowledged messages lost, %d duplicated", lost, dups)
	}
	refusals := make([]string, 0, len(codes))
	for c, n := range codes {
		refusals = append(refusals, fmt.Sprintf("%s %d", c, n))
	}
	slices.Sort(refusals)
	t.Logf("FIGURES: %d users offering %d msg/s; Cassandra SIGKILLed after %d acks, down %v, start took %v; "+
		"%d messages offered, %d acknowledged, %d lost, %d duplicated; refusals: %s; all acknowledged %v after it was up; slowest send→ack %v",
		users, rate, beforeKill, restart.Sub(killed).Round(time.Second), up.Sub(restart).Round(time.Second),
		offered.Load(), total, lost, dups, strings.Join(refusals, ", "), drained.Sub(up).Round(100*time.Millisecond), maxLat.Round(100*time.Millisecond))
}
