package mail

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/parleychat/parley/internal/model"
)

// sink is a real SMTP server (go-smtp) that keeps what it receives and wants PLAIN auth as alice/secret.
type sink struct {
	mu     sync.Mutex
	mails  []received
	authed bool
}

type received struct {
	from string
	to   []string
	data string
}

type session struct {
	s   *sink
	cur received
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alice" || pass != "secret" {
			return errors.New("bad credentials")
		}
		ss.s.mu.Lock()
		ss.s.authed = true
		ss.s.mu.Unlock()
		return nil
	}), nil
}
func (ss *session) Mail(from string, _ *smtp.MailOptions) error { ss.cur.from = from; return nil }
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.cur.to = append(ss.cur.to, to)
	return nil
}
func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = string(b)
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, ss.cur)
	ss.s.mu.Unlock()
	ss.cur = received{}
	return nil
}
func (ss *session) Reset()        { ss.cur = received{} }
func (ss *session) Logout() error { return nil }

func startSink(t *testing.T) (*sink, string) {
	t.Helper()
	be := &sink{}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback, no TLS in the test
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return be, ln.Addr().String()
}

func TestSMTPSendsThroughARealServer(t *testing.T) {
	be, addr := startSink(t)
	m, err := NewSMTP("smtp://alice:secret@"+addr+"?tls=none", "Parley <noreply@chat.example>")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Send(ctx, model.Mail{To: "bob@example.com", Subject: "Confirm your email", Text: "open https://chat.example/verify-email?token=abc\n"}); err != nil {
		t.Fatal(err)
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if !be.authed || len(be.mails) != 1 {
		t.Fatalf("authed %v, %d mails", be.authed, len(be.mails))
	}
	got := be.mails[0]
	if got.from != "noreply@chat.example" || len(got.to) != 1 || got.to[0] != "bob@example.com" ||
		!strings.Contains(got.data, "Subject: Confirm your email") || !strings.Contains(got.data, "verify-email?token=abc") {
		t.Fatalf("received %+v", got)
	}
}

func TestSMTPRefusesWhatItCannotUse(t *testing.T) {
	_, addr := startSink(t)
	// Wrong password: the send fails (and the caller logs it).
	m, err := NewSMTP("smtp://alice:wrong@"+addr+"?tls=none", "noreply@chat.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), model.Mail{To: "bob@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sent with a wrong password")
	}
	// STARTTLS is required by default, and this server has none.
	m, _ = NewSMTP("smtp://alice:secret@"+addr, "noreply@chat.example")
	if err := m.Send(context.Background(), model.Mail{To: "bob@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sent in clear text without being told to")
	}
	for _, bad := range []string{"http://host", "smtp://", "smtp://h?tls=maybe", "smtp://h:notaport"} {
		if _, err := NewSMTP(bad, "a@b.c"); err == nil {
			t.Errorf("NewSMTP(%q) accepted", bad)
		}
	}
	if _, err := NewSMTP("smtp://h:25", ""); err == nil {
		t.Error("no sender address accepted")
	}
	if _, err := NewSMTP("smtps://h", "a@b.c"); err != nil {
		t.Errorf("smtps: %v", err)
	}
}

func TestDirWritesWholeMails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	d, err := NewDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Send(context.Background(), model.Mail{To: "carol@example.com", Subject: "Hello", Text: "line\n"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Send(context.Background(), model.Mail{To: "not an address", Subject: "x", Text: "y"}); err == nil {
		t.Error("a bad recipient was written")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if !strings.HasSuffix(f, ".eml") || !strings.Contains(string(b), "To: <carol@example.com>") || !strings.Contains(string(b), "From: <parley@localhost>") {
			t.Fatalf("%s: %s", f, b)
		}
	}
}
