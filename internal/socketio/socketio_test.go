package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/parleychat/parley/internal/engineio"
)

// --- CONNECT ----------------------------------------------------------------------------------------------------

func TestConnect(t *testing.T) {
	t.Parallel()
	var main, custom <-chan *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) {
		main = connected(io.Of("/"))
		custom = connected(io.Of("/custom"))
	})
	c := dial(t, srv)
	sid := c.connect("/", "")
	s := recv(t, main, "main connection")
	if s.ID() != sid || len(sid) != 20 || sid == c.sid {
		t.Errorf("socket id %q, CONNECT answer %q, engine sid %q", s.ID(), sid, c.sid)
	}
	if string(s.Auth()) != "{}" || s.Namespace().Name() != "/" || !s.Connected() || !strings.HasPrefix(s.RemoteAddr(), "127.0.0.1:") {
		t.Errorf("auth %s nsp %q connected %v addr %q", s.Auth(), s.Namespace().Name(), s.Connected(), s.RemoteAddr())
	}
	// A second namespace on the same connection, with an auth payload.
	csid := c.connect("/custom", `{"token":"abc","n":[1,2]}`)
	cs := recv(t, custom, "custom connection")
	if cs.ID() != csid || string(cs.Auth()) != `{"token":"abc","n":[1,2]}` || cs.Namespace().Name() != "/custom" {
		t.Errorf("custom socket %q auth %s", cs.ID(), cs.Auth())
	}
	if srv.io.Of("/").Count() != 1 || srv.io.Of("/custom").Count() != 1 || srv.io.Engine().Count() != 1 {
		t.Errorf("counts: / %d, /custom %d, engine %d", srv.io.Of("/").Count(), srv.io.Of("/custom").Count(), srv.io.Engine().Count())
	}
	// CONNECT again to a joined namespace: ignored.
	c.send("0")
	if err := s.Emit("marker"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["marker"]`)
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) {
		conns = connected(io.Of("/"))
		io.Of("/private").Use(func(s *Socket) error {
			s.Join("joined-in-middleware")
			return &ConnectError{Message: "not authorized", Data: map[string]any{"reason": "token expired", "retry": false}}
		})
		io.Of("/plain").Use(func(s *Socket) error { return errors.New("boom") })
		io.Of("/ok").Use(func(s *Socket) error {
			s.Data = "from middleware"
			return nil
		})
		io.Of("/ok").On("who", func(s *Socket, _ Args, ack AckFunc) { ack(s.Data) })
	})
	c := dial(t, srv)
	c.send("0/nope,")
	c.expect(`4/nope,{"message":"Invalid namespace"}`)
	c.send(`0/private,{"token":"old"}`)
	c.expect(`4/private,{"message":"not authorized","data":{"reason":"token expired","retry":false}}`)
	c.send("0/plain,")
	c.expect(`4/plain,{"message":"boom"}`)
	if n := localAdapter(srv.io.Of("/private")).RoomSize("joined-in-middleware"); n != 0 {
		t.Errorf("a refused socket stayed in its room (%d)", n)
	}
	if srv.io.Of("/private").Count() != 0 {
		t.Error("a refused socket was counted")
	}
	// The connection is still usable.
	c.connect("/ok", "")
	c.send(`2/ok,1["who"]`)
	c.expect(`3/ok,1["from middleware"]`)
	c.connect("/", "")
	recv(t, conns, "connection")
	select {
	case s := <-conns:
		t.Errorf("unexpected connection %s", s.ID())
	default:
	}
}

// A client that opens a session but joins no namespace is dropped after ConnectTimeout.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	srv := newSIOServer(t, Config{ConnectTimeout: 400 * time.Millisecond}, nil)
	c := dial(t, srv)
	c.waitEnd()
	eventually(t, "session removed", func() bool { return srv.io.Engine().Count() == 0 })
	// One that joins in time stays.
	c2 := dial(t, srv)
	c2.connect("/", "")
	time.Sleep(600 * time.Millisecond)
	if c2.ended() {
		t.Error("a connected client was dropped by the connect timeout")
	}
}

// --- events and acks --------------------------------------------------------------------------------------------

func TestEventsAndAcks(t *testing.T) {
	t.Parallel()
	type call struct {
		args   []string
		hasAck bool
	}
	calls := make(chan call, 16)
	srv := newSIOServer(t, Config{}, func(io *Server) {
		for _, name := range []string{"/", "/custom"} {
			n := io.Of(name)
			n.On("echo", func(s *Socket, args Args, ack AckFunc) {
				var a []string
				for _, r := range args.Raw {
					a = append(a, string(r))
				}
				calls <- call{a, ack != nil}
				if ack != nil {
					ack(args)
					ack("second answer is ignored")
				}
			})
			n.On("42", func(s *Socket, args Args, ack AckFunc) { ack("numeric") })
			n.On("types", func(s *Socket, args Args, ack AckFunc) {
				ack(1, "two", nil, map[string]int{"x": 3}, json.RawMessage(`{"raw":true}`), json.RawMessage(nil), "<&>")
			})
		}
	})
	c := dial(t, srv)
	c.connect("/", "")
	c.send(`21["echo",1,"two",{"three":[3]}]`)
	if got := recv(t, calls, "echo"); strings.Join(got.args, " ") != `1 "two" {"three":[3]}` || !got.hasAck {
		t.Errorf("handler got %+v", got)
	}
	c.expect(`31[1,"two",{"three":[3]}]`)
	c.send(`2["echo"]`) // no ack asked
	if got := recv(t, calls, "echo"); len(got.args) != 0 || got.hasAck {
		t.Errorf("handler got %+v", got)
	}
	c.send(`27[42]`) // a numeric event name
	c.expect(`37["numeric"]`)
	c.send(`28["types"]`)
	c.expect(`38[1,"two",null,{"x":3},{"raw":true},null,"<&>"]`)
	c.send(`2["no handler",1]`) // ignored
	c.send(`2/custom,["echo"]`) // a namespace the client did not join: ignored
	c.send(`3/custom,5[]`)      // an ack there too
	c.send(`39999[]`)           // an ack nobody waits for
	c.connect("/custom", "")
	c.send(`2/custom,3["echo","x"]`)
	recv(t, calls, "echo")
	c.expect(`3/custom,3["x"]`)
	select {
	case got := <-calls:
		t.Errorf("unexpected call %+v", got)
	default:
	}
}

func TestServerEmitWithAck(t *testing.T) {
	t.Parallel()
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) { conns = connected(io.Of("/")) })
	c := dial(t, srv)
	c.connect("/", "")
	s := recv(t, conns, "connection")

	type answer struct {
		args Args
		err  error
	}
	answers := make(chan answer, 4)
	cb := func(a Args, err error) { answers <- answer{a, err} }
	if err := s.EmitWithAck(waitLong, cb, "ask", 1, "x"); err != nil {
		t.Fatal(err)
	}
	c.expect(`20["ask",1,"x"]`)
	c.send(`30["yes",{"n":2}]`)
	a := recv(t, answers, "ack")
	if a.err != nil || len(a.args.Raw) != 2 || string(a.args.Raw[0]) != `"yes"` || string(a.args.Raw[1]) != `{"n":2}` {
		t.Errorf("ack %+v", a)
	}
	c.send(`30["again"]`) // the ack was used: ignored

	// A binary ack.
	if err := s.EmitWithAck(waitLong, cb, "askbin"); err != nil {
		t.Fatal(err)
	}
	c.expect(`21["askbin"]`)
	c.send(`61-1[{"_placeholder":true,"num":0},"meta"]`)
	c.sendBinary([]byte{7, 7})
	a = recv(t, answers, "binary ack")
	if a.err != nil || len(a.args.Attachments) != 1 || string(a.args.Attachments[0]) != "\x07\x07" || string(a.args.Raw[1]) != `"meta"` {
		t.Errorf("binary ack %+v", a)
	}

	// No answer: the callback gets ErrAckTimeout once; a late answer is ignored.
	if err := s.EmitWithAck(50*time.Millisecond, cb, "ignored"); err != nil {
		t.Fatal(err)
	}
	c.expect(`22["ignored"]`)
	if a := recv(t, answers, "timeout"); !errors.Is(a.err, ErrAckTimeout) {
		t.Errorf("got %+v, want ErrAckTimeout", a)
	}
	c.send(`32["late"]`)

	// Waiting acks fail with ErrDisconnected when the socket goes.
	if err := s.EmitWithAck(time.Hour, cb, "pending"); err != nil {
		t.Fatal(err)
	}
	c.expect(`23["pending"]`)
	c.Close()
	if a := recv(t, answers, "disconnect"); !errors.Is(a.err, ErrDisconnected) {
		t.Errorf("got %+v, want ErrDisconnected", a)
	}
	if err := s.EmitWithAck(time.Hour, cb, "after"); !errors.Is(err, ErrDisconnected) {
		t.Errorf("EmitWithAck after the disconnect: %v", err)
	}
	select {
	case a := <-answers:
		t.Errorf("unexpected callback %+v", a)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestEmitErrors(t *testing.T) {
	t.Parallel()
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) {
		conns = connected(io.Of("/"))
		io.Of("/").On("bad-ack", func(s *Socket, _ Args, ack AckFunc) { ack(make(chan int)) })
	})
	c := dial(t, srv)
	c.connect("/", "")
	s := recv(t, conns, "connection")
	if err := s.Emit("x", make(chan int)); err == nil {
		t.Error("Emit of a channel: no error")
	}
	if err := s.EmitWithAck(time.Hour, func(Args, error) { t.Error("callback of a failed emit") }, "x", func() {}); err == nil {
		t.Error("EmitWithAck of a func: no error")
	}
	s.mu.Lock()
	pending := len(s.acks)
	s.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d acks left waiting after a failed emit", pending)
	}
	if err := srv.io.Of("/").Emit("x", make(chan int)); err == nil {
		t.Error("broadcast of a channel: no error")
	}
	c.send(`21["bad-ack"]`) // an unencodable ack is logged, not sent
	_ = s.Emit("marker")
	c.expect(`2["marker"]`)
}

// --- binary -----------------------------------------------------------------------------------------------------

func TestBinaryEventsWebSocket(t *testing.T) {
	t.Parallel()
	type upload struct {
		raw []string
		att [][]byte
	}
	uploads := make(chan upload, 4)
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) {
		conns = connected(io.Of("/"))
		io.Of("/").On("upload", func(s *Socket, args Args, ack AckFunc) {
			var raw []string
			for _, r := range args.Raw {
				raw = append(raw, string(r))
			}
			uploads <- upload{raw, args.Attachments}
			if ack != nil {
				ack("ok", []byte{9})
			}
		})
		io.Of("/").On("relay", func(s *Socket, args Args, _ AckFunc) { _ = s.Emit("relayed", args, []byte{3}) })
	})
	c := dial(t, srv)
	c.connect("/", "")
	s := recv(t, conns, "connection")

	c.send(`52-4["upload",{"_placeholder":true,"num":0},"meta",{"_placeholder":true,"num":1}]`)
	c.sendBinary([]byte{1, 2, 3})
	c.sendBinary([]byte{})
	u := recv(t, uploads, "upload")
	if len(u.att) != 2 || string(u.att[0]) != "\x01\x02\x03" || len(u.att[1]) != 0 || len(u.raw) != 3 || u.raw[1] != `"meta"` {
		t.Errorf("upload %+v", u)
	}
	c.expect(`61-4["ok",{"_placeholder":true,"num":0}]`)
	c.expectBinary([]byte{9})

	// Server → client.
	if err := s.Emit("file", []byte{4, 5}, "name", []byte{6}); err != nil {
		t.Fatal(err)
	}
	c.expect(`52-["file",{"_placeholder":true,"num":0},"name",{"_placeholder":true,"num":1}]`)
	c.expectBinary([]byte{4, 5})
	c.expectBinary([]byte{6})

	// Received arguments passed on unchanged keep their attachments; later binary arguments are numbered after them.
	c.send(`51-["relay",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{8})
	c.expect(`52-["relayed",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.expectBinary([]byte{8})
	c.expectBinary([]byte{3})

	// Zero attachments announced: dispatched at once.
	c.send(`50-["upload","none"]`)
	if u := recv(t, uploads, "upload"); len(u.att) != 0 || len(u.raw) != 1 {
		t.Errorf("upload %+v", u)
	}
}

func TestBinaryEventsPolling(t *testing.T) {
	t.Parallel()
	uploads := make(chan [][]byte, 4)
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) {
		conns = connected(io.Of("/"))
		io.Of("/").On("upload", func(s *Socket, args Args, _ AckFunc) { uploads <- args.Attachments })
	})
	hc := &http.Client{Timeout: waitLong, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	do := func(method, url, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", method, resp.StatusCode, b)
		}
		return string(b)
	}
	base := srv.url + "?EIO=4&transport=polling"
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(do("GET", base, "")[1:]), &open); err != nil {
		t.Fatal(err)
	}
	url := base + "&sid=" + open.SID
	do("POST", url, "40")
	if got := do("GET", url, ""); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("CONNECT answer %q", got)
	}
	s := recv(t, conns, "connection")
	do("POST", url, "451-[\"upload\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID")
	if att := recv(t, uploads, "upload"); len(att) != 1 || string(att[0]) != "\x01\x02\x03" {
		t.Errorf("attachments %q", att)
	}
	if err := s.Emit("file", []byte{0xff, 0}); err != nil {
		t.Fatal(err)
	}
	if got := do("GET", url, ""); got != "451-[\"file\",{\"_placeholder\":true,\"num\":0}]\x1eb/wA=" {
		t.Errorf("binary event over polling %q", got)
	}
}

// --- protocol errors --------------------------------------------------------------------------------------------

func TestInvalidPacketsCloseTheConnection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		send func(c *tclient)
	}{
		{"garbage", func(c *tclient) { c.send("garbage") }},
		{"bad JSON", func(c *tclient) { c.send(`2["x"`) }},
		{"CONNECT_ERROR from a client", func(c *tclient) { c.send(`4{"message":"x"}`) }},
		{"attachment without a packet", func(c *tclient) { c.sendBinary([]byte{1}) }},
		{"two binary packets at once", func(c *tclient) {
			c.send(`51-["a",{"_placeholder":true,"num":0}]`)
			c.send(`51-["b",{"_placeholder":true,"num":0}]`)
		}},
		{"too many attachments", func(c *tclient) { c.send(`565-["a"]`) }},
	}
	srv := newSIOServer(t, Config{}, func(io *Server) { io.Of("/").On("a", func(*Socket, Args, AckFunc) {}) })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv)
			c.connect("/", "")
			tc.send(c)
			c.waitEnd()
		})
	}
	eventually(t, "sockets removed", func() bool { return srv.io.Of("/").Count() == 0 && srv.io.Engine().Count() == 0 })
}

// --- disconnects ------------------------------------------------------------------------------------------------

func TestDisconnects(t *testing.T) {
	t.Parallel()
	var conns, customConns <-chan *Socket
	var gone, customGone <-chan disconnection
	srv := newSIOServer(t, Config{}, func(io *Server) {
		conns, gone = connected(io.Of("/")), disconnected(io.Of("/"))
		customConns, customGone = connected(io.Of("/custom")), disconnected(io.Of("/custom"))
	})
	c := dial(t, srv)

	// The client leaves a namespace; the connection stays.
	c.connect("/", "")
	s := recv(t, conns, "connection")
	c.send("1")
	if d := recv(t, gone, "disconnect"); d.s != s || d.reason != "client namespace disconnect" {
		t.Errorf("disconnect %v %q", d.s.ID(), d.reason)
	}
	if s.Connected() {
		t.Error("still connected")
	}
	c.send("1/custom,") // not joined: ignored

	// The server disconnects a socket: the client gets DISCONNECT, the connection stays.
	c.connect("/", "")
	s = recv(t, conns, "connection")
	c.connect("/custom", "")
	cs := recv(t, customConns, "custom connection")
	s.Disconnect(false)
	c.expect("1")
	if d := recv(t, gone, "disconnect"); d.reason != "server namespace disconnect" {
		t.Errorf("reason %q", d.reason)
	}
	s.Disconnect(false) // twice: nothing
	_ = cs.Emit("still")
	c.expect(`2/custom,["still"]`)

	// With closeConn the whole connection goes; the other namespace's socket learns why.
	c.connect("/", "")
	s = recv(t, conns, "connection")
	s.Disconnect(true)
	c.expect("1")
	c.waitEnd()
	if d := recv(t, gone, "disconnect"); d.reason != "server namespace disconnect" {
		t.Errorf("reason %q", d.reason)
	}
	if d := recv(t, customGone, "custom disconnect"); d.s != cs || d.reason != "forced close" {
		t.Errorf("custom reason %q", d.reason)
	}

	// The transport closes: every socket goes with "transport close".
	c2 := dial(t, srv)
	c2.connect("/", "")
	recv(t, conns, "connection")
	c2.connect("/custom", "")
	recv(t, customConns, "custom connection")
	c2.drop()
	if d := recv(t, gone, "disconnect"); d.reason != "transport close" {
		t.Errorf("reason %q", d.reason)
	}
	if d := recv(t, customGone, "custom disconnect"); d.reason != "transport close" {
		t.Errorf("reason %q", d.reason)
	}
	eventually(t, "everything removed", func() bool {
		return srv.io.Of("/").Count() == 0 && srv.io.Of("/custom").Count() == 0 && srv.io.Engine().Count() == 0
	})
}

// A close that arrives while the connection hooks run is handled after them.
func TestCloseDuringConnectHooks(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	events := make(chan string, 4)
	var hookSocket *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) {
		io.Of("/").OnConnection(func(s *Socket) {
			hookSocket = s
			events <- "connect"
			<-release
			events <- "connect done"
		})
		io.Of("/").OnDisconnect(func(s *Socket, reason string) { events <- "disconnect " + reason })
	})
	c := dial(t, srv)
	c.send("0")
	if e := recv(t, events, "hook"); e != "connect" {
		t.Fatalf("got %q", e)
	}
	// The hooks run on the connection's reader, so the close comes from elsewhere (a ping timeout, a kick).
	engineConn(hookSocket).Close("forced close")
	close(release)
	for _, want := range []string{"connect done", "disconnect forced close"} {
		if e := recv(t, events, want); e != want {
			t.Errorf("got %q, want %q", e, want)
		}
	}
	eventually(t, "socket removed", func() bool { return srv.io.Of("/").Count() == 0 })
}

// A connection that closes while middleware runs never connects; the abandon hooks (and no disconnect hook)
// tell the middleware that its socket is gone.
func TestCloseDuringMiddleware(t *testing.T) {
	t.Parallel()
	entered := make(chan *Socket, 1)
	release := make(chan struct{})
	abandoned := make(chan *Socket, 1)
	srv := newSIOServer(t, Config{}, func(io *Server) {
		io.Of("/").OnAbandon(func(s *Socket) { abandoned <- s })
		io.Of("/").OnDisconnect(func(s *Socket, reason string) { t.Error("disconnect hook for a socket never connected") })
		io.Of("/").Use(func(s *Socket) error {
			s.Join("room")
			entered <- s
			<-release
			return nil
		})
		io.Of("/").OnConnection(func(s *Socket) { t.Error("connected after the close") })
	})
	c := dial(t, srv)
	c.send("0")
	s := recv(t, entered, "middleware")
	engineConn(s).Close("forced close") // middleware runs on the connection's reader: the close comes from elsewhere
	close(release)
	if got := recv(t, abandoned, "abandon hook"); got != s {
		t.Error("the abandon hook got another socket")
	}
	eventually(t, "room emptied", func() bool { return localAdapter(srv.io.Of("/")).RoomSize("room") == 0 })
	if srv.io.Of("/").Count() != 0 || s.Connected() {
		t.Error("a socket closed during middleware was connected")
	}
}

// --- rooms ------------------------------------------------------------------------------------------------------

func TestRooms(t *testing.T) {
	t.Parallel()
	var conns <-chan *Socket
	var gone <-chan disconnection
	srv := newSIOServer(t, Config{}, func(io *Server) {
		conns, gone = connected(io.Of("/")), disconnected(io.Of("/"))
	})
	nsp := srv.io.Of("/")
	ad := localAdapter(nsp)
	// a: r1; b: r1 and r2; cc: r2; d: no room at all.
	names := []string{"a", "b", "c", "d"}
	cl := map[string]*tclient{}
	so := map[string]*Socket{}
	for _, n := range names {
		cl[n] = dial(t, srv)
		cl[n].connect("/", "")
		so[n] = recv(t, conns, "connection")
	}
	so["a"].Join("r1")
	so["b"].Join("r1", "r2", "r1")
	so["c"].Join("r2")
	if ad.RoomSize("r1") != 2 || ad.RoomSize("r2") != 2 || strings.Join(ad.Rooms(so["b"]), ",") != "r1,r2" {
		t.Fatalf("rooms: r1 %d r2 %d, b in %v", ad.RoomSize("r1"), ad.RoomSize("r2"), ad.Rooms(so["b"]))
	}
	// expectRound: each client's next packets are exactly its share of the round, then the end marker (sent to
	// everyone), so nothing extra was delivered.
	round := 0
	expectRound := func(emit func(ev string) error, want ...string) {
		t.Helper()
		round++
		ev := "r" + strconv.Itoa(round)
		if err := emit(ev); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			_ = so[n].Emit("end")
		}
		for _, n := range names {
			for _, w := range want {
				if w == n {
					cl[n].expect(`2["` + ev + `"]`)
				}
			}
			cl[n].expect(`2["end"]`)
		}
	}
	expectRound(func(ev string) error { return nsp.To("r1", "r2").Emit(ev) }, "a", "b", "c") // b once
	expectRound(func(ev string) error { return nsp.In("r1").Emit(ev) }, "a", "b")
	expectRound(func(ev string) error { return nsp.To("r1").Except("r2").Emit(ev) }, "a")
	expectRound(func(ev string) error { return nsp.To("r1").To("r2").Except("r1").Emit(ev) }, "c")
	expectRound(func(ev string) error { return nsp.Except("r1").Emit(ev) }, "c", "d")
	expectRound(func(ev string) error { return nsp.Emit(ev) }, "a", "b", "c", "d")
	expectRound(func(ev string) error { return nsp.To("nobody").Emit(ev) })
	expectRound(func(ev string) error { return nsp.Except("r1", "r2").Except("x").Emit(ev) }, "d")

	// Operator room actions.
	nsp.In("r2").SocketsJoin("r3")
	if ad.RoomSize("r3") != 2 {
		t.Errorf("r3 has %d", ad.RoomSize("r3"))
	}
	nsp.To("r3").Except("r1").SocketsLeave("r3")
	if ad.RoomSize("r3") != 1 || strings.Join(ad.Rooms(so["b"]), ",") != "r1,r2,r3" {
		t.Errorf("r3 has %d, b in %v", ad.RoomSize("r3"), ad.Rooms(so["b"]))
	}
	so["a"].Leave("r1", "never joined")
	if ad.RoomSize("r1") != 1 || len(ad.Rooms(so["a"])) != 0 {
		t.Errorf("r1 has %d after a left", ad.RoomSize("r1"))
	}
	expectRound(func(ev string) error { return nsp.Emit(ev) }, "a", "b", "c", "d") // a is still in the namespace

	// DisconnectSockets: b and c leave the namespace, their connections stay.
	nsp.In("r2").DisconnectSockets(false)
	for _, n := range []string{"b", "c"} {
		cl[n].expect("1")
		if d := recv(t, gone, "disconnect"); d.reason != "server namespace disconnect" {
			t.Errorf("reason %q", d.reason)
		}
	}
	if ad.RoomSize("r2") != 0 || ad.RoomSize("r3") != 0 || ad.RoomSize("r1") != 0 || nsp.Count() != 2 {
		t.Errorf("after DisconnectSockets: r1 %d r2 %d r3 %d count %d", ad.RoomSize("r1"), ad.RoomSize("r2"), ad.RoomSize("r3"), nsp.Count())
	}
	cl["b"].connect("/", "") // it may come back
	so["b"] = recv(t, conns, "reconnection")
	// With closeConn the connection closes.
	so["d"].Join("r4")
	nsp.To("r4").DisconnectSockets(true)
	cl["d"].expect("1")
	cl["d"].waitEnd()
	recv(t, gone, "disconnect")

	// Everyone leaves: no socket stays in any room.
	so["a"].Join("r1", "r5")
	so["b"].Join("r1")
	for _, n := range []string{"a", "b", "c"} {
		cl[n].Close()
	}
	eventually(t, "sockets removed", func() bool { return nsp.Count() == 0 })
	ad.mu.RLock()
	rooms, all := len(ad.rooms), len(ad.all)
	ad.mu.RUnlock()
	if rooms != 0 || all != 0 {
		t.Errorf("adapter keeps %d rooms and %d sockets after every socket left", rooms, all)
	}
}

// Server.Close disconnects every client of every namespace.
func TestServerClose(t *testing.T) {
	t.Parallel()
	var gone, customGone <-chan disconnection
	srv := newSIOServer(t, Config{}, func(io *Server) {
		gone, customGone = disconnected(io.Of("/")), disconnected(io.Of("/custom"))
	})
	var clients []*tclient
	for i := 0; i < 3; i++ {
		c := dial(t, srv)
		c.connect("/", "")
		c.connect("/custom", "")
		clients = append(clients, c)
	}
	srv.io.Close()
	for _, c := range clients {
		if code := closeCode(c.waitEnd()); code != ws.StatusNormalClosure {
			t.Errorf("close status %d", code)
		}
	}
	for i := 0; i < 3; i++ {
		if d := recv(t, gone, "disconnect"); d.reason != "server shutting down" {
			t.Errorf("reason %q", d.reason)
		}
		if d := recv(t, customGone, "disconnect"); d.reason != "server shutting down" {
			t.Errorf("reason %q", d.reason)
		}
	}
	if srv.io.Of("/").Count() != 0 || srv.io.Engine().Count() != 0 {
		t.Error("sockets left after Close")
	}
}

// --- fan-out ----------------------------------------------------------------------------------------------------

// A client that stops reading is disconnected once its write queue passes WriteQueueLimit, while the other
// members of the same broadcasts get every message, in order.
func TestSlowClientDoesNotBlockBroadcast(t *testing.T) {
	var conns <-chan *Socket
	var gone <-chan disconnection
	srv := newSIOServer(t, Config{Engine: engineio.Config{WriteQueueLimit: 256 << 10, WriteTimeout: 500 * time.Millisecond}},
		func(io *Server) { conns, gone = connected(io.Of("/")), disconnected(io.Of("/")) })
	nsp := srv.io.Of("/")
	fast := make([]*tclient, 3)
	for i := range fast {
		fast[i] = dial(t, srv)
		fast[i].connect("/", "")
		recv(t, conns, "connection").Join("room")
	}
	slow, err := dialWith(srv.wsURL(), smallReadBuffer)
	if err != nil {
		t.Fatal(err)
	}
	slow.t = t
	// Dropped, not closed: with its tiny receive window, reading what is queued for it would take a long while.
	t.Cleanup(slow.drop)
	slow.next() // open packet
	slow.connect("/", "")
	slowSocket := recv(t, conns, "slow connection")
	slowSocket.Join("room")
	slow.pause()

	payload := json.RawMessage(`"` + strings.Repeat("y", 32<<10) + `"`)
	const max = 3000
	sent, extra := 0, -1
	for ; sent < max && extra != 0; sent++ {
		if err := nsp.To("room").Emit("data", sent, payload); err != nil {
			t.Fatal(err)
		}
		// Pace on the fast clients only: they stay a few messages behind; the slow one falls behind for good.
		deadline := time.Now().Add(waitLong)
		for _, f := range fast {
			for f.received.Load() < int64(sent-4) {
				if time.Now().After(deadline) {
					t.Fatalf("a fast client is stuck at %d of %d messages", f.received.Load(), sent)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		if extra < 0 && !slowSocket.Connected() {
			extra = 20 // a few more after the disconnect
		} else if extra > 0 {
			extra--
		}
	}
	d := recv(t, gone, "the slow client's disconnect")
	if d.s != slowSocket || d.reason != "transport error" {
		t.Errorf("disconnect of %s: %q", d.s.ID(), d.reason)
	}
	for i, f := range fast {
		for n := 0; n < sent; n++ {
			want := `2["data",` + strconv.Itoa(n) + `,"yyy`
			if got := f.nextPacket(); !strings.HasPrefix(got, want) || len(got) != len(`2["data",`+strconv.Itoa(n)+`,]`)+len(payload) {
				t.Fatalf("fast client %d: message %d is %.30q (%d bytes)", i, n, got, len(got))
			}
		}
	}
	if nsp.Count() != 3 || localAdapter(nsp).RoomSize("room") != 3 {
		t.Errorf("count %d, room %d", nsp.Count(), localAdapter(nsp).RoomSize("room"))
	}
	t.Logf("slow client disconnected; %d messages of 32 KiB sent", sent)
}

// Broadcasts and direct emits from many goroutines reach every member complete and in per-sender order.
func TestConcurrentEmits(t *testing.T) {
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{Engine: engineio.Config{WriteQueueLimit: 64 << 20}}, func(io *Server) { conns = connected(io.Of("/")) })
	nsp := srv.io.Of("/")
	const members, senders, per = 3, 6, 100
	cls := make([]*tclient, members)
	socks := make([]*Socket, members)
	for i := range cls {
		cls[i] = dial(t, srv)
		cls[i].connect("/", "")
		socks[i] = recv(t, conns, "connection")
		socks[i].Join("room")
	}
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				pad := strings.Repeat("p", 1+(i*g)%3000)
				if g%2 == 0 {
					_ = nsp.To("room").Emit("m", g, i, pad)
				} else {
					for _, s := range socks {
						_ = s.Emit("m", g, i, pad)
					}
				}
			}
		}()
	}
	wg.Wait()
	for ci, c := range cls {
		next := make([]int, senders)
		for n := 0; n < senders*per; n++ {
			var ev []json.RawMessage
			p := c.nextPacket()
			if !strings.HasPrefix(p, "2") || json.Unmarshal([]byte(p[1:]), &ev) != nil || len(ev) != 4 {
				t.Fatalf("client %d: packet %.50q", ci, p)
			}
			g, _ := strconv.Atoi(string(ev[1]))
			i, _ := strconv.Atoi(string(ev[2]))
			if i != next[g] || len(ev[3]) != 2+1+(i*g)%3000 {
				t.Fatalf("client %d, sender %d: got #%d (%d bytes), want #%d", ci, g, i, len(ev[3]), next[g])
			}
			next[g]++
		}
	}
}

// No goroutine is left behind after many clients come and go (acks pending, rooms joined, either side closing).
func TestNoGoroutineLeak(t *testing.T) {
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{Engine: engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second}},
		func(io *Server) {
			conns = connected(io.Of("/"))
			io.Of("/").On("echo", func(s *Socket, args Args, ack AckFunc) { ack(args) })
		})
	nsp := srv.io.Of("/")
	warm := dial(t, srv)
	warm.connect("/", "")
	recv(t, conns, "connection")
	warm.Close()
	eventually(t, "warm-up client removed", func() bool { return nsp.Count() == 0 })
	base := goroutineBase()
	for i := 0; i < 60; i++ {
		c, err := dialWith(srv.wsURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.t = t
		c.next()
		c.connect("/", `{"i":`+strconv.Itoa(i)+`}`)
		s := recv(t, conns, "connection")
		s.Join("room", fmt.Sprint("own", i))
		_ = s.EmitWithAck(time.Hour, func(Args, error) {}, "never answered")
		c.nextPacket()
		c.send(`21["echo",1]`)
		c.expect(`31[1]`)
		switch i % 3 {
		case 0:
			c.Close()
		case 1:
			s.Disconnect(true)
			c.waitEnd()
		default:
			c.drop()
		}
	}
	eventually(t, "sockets removed", func() bool {
		return nsp.Count() == 0 && srv.io.Engine().Count() == 0 && localAdapter(nsp).RoomSize("room") == 0
	})
	if n := goroutinesSettle(base + 5); n > base+5 {
		t.Errorf("%d goroutines after the clients left, %d before", n, base)
	}
}

// An adapter for several nodes wraps the local one: broadcasts and room actions reach it as plain data, and what
// another node sends is delivered by running it on the local adapter.
type recordingAdapter struct {
	*LocalAdapter
	mu         sync.Mutex
	broadcasts []EncodedPacket
	actions    []RoomAction
}

func (r *recordingAdapter) Broadcast(p EncodedPacket, opts BroadcastOptions) {
	r.mu.Lock()
	r.broadcasts = append(r.broadcasts, p)
	r.mu.Unlock()
	r.LocalAdapter.Broadcast(p, opts)
}

func (r *recordingAdapter) Apply(opts BroadcastOptions, a RoomAction) {
	r.mu.Lock()
	r.actions = append(r.actions, a)
	r.mu.Unlock()
	r.LocalAdapter.Apply(opts, a)
}

func TestCustomAdapter(t *testing.T) {
	t.Parallel()
	ra := &recordingAdapter{LocalAdapter: NewLocalAdapter()}
	var conns <-chan *Socket
	srv := newSIOServer(t, Config{}, func(io *Server) {
		io.Of("/multi").SetAdapter(ra)
		conns = connected(io.Of("/multi"))
	})
	nsp := srv.io.Of("/multi")
	if nsp.Adapter() != Adapter(ra) {
		t.Fatal("Adapter() is not the one set")
	}
	c := dial(t, srv)
	c.connect("/multi", "")
	recv(t, conns, "connection").Join("r")
	if err := nsp.To("r").Emit("x", []byte{1}); err != nil {
		t.Fatal(err)
	}
	c.expect(`51-/multi,["x",{"_placeholder":true,"num":0}]`)
	c.expectBinary([]byte{1})
	nsp.To("r").SocketsJoin("r2")
	ra.mu.Lock()
	if len(ra.broadcasts) != 1 || string(ra.broadcasts[0].Text) != `51-/multi,["x",{"_placeholder":true,"num":0}]` ||
		len(ra.actions) != 1 || ra.actions[0].Join[0] != "r2" {
		t.Errorf("adapter saw %q and %+v", ra.broadcasts, ra.actions)
	}
	ra.mu.Unlock()
	// A broadcast from "another node".
	ra.LocalAdapter.Broadcast(EncodedPacket{Text: []byte(`2/multi,["remote"]`)}, BroadcastOptions{Rooms: []Room{"r2"}})
	c.expect(`2/multi,["remote"]`)
}

func TestConnectErrorMessage(t *testing.T) {
	var err error = &ConnectError{Message: "not authorized", Data: 1}
	if err.Error() != "not authorized" {
		t.Errorf("Error() = %q", err.Error())
	}
}
