// Package mail sends the server's few mails (registration links): over SMTP with go-mail, or, for development and
// tests, as .eml files in a directory. Both build the same message.
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/parleychat/parley/internal/model"
)

func build(from string, m model.Mail) (*gomail.Msg, error) {
	// 8bit, not quoted-printable: the links in these short lines stay exactly as written (QP would turn "=" into "=3D").
	msg := gomail.NewMsg(gomail.WithEncoding(gomail.NoEncoding))
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail: from %q: %w", from, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	return msg, nil
}

// SMTP sends through an SMTP server.
type SMTP struct {
	client *gomail.Client
	from   string
}

// NewSMTP reads a URL: smtp://user:password@host:587 (STARTTLS required), smtps://…:465 (TLS from the start);
// ?tls=opportunistic or ?tls=none relax STARTTLS for a relay on a trusted network. From is the sender address.
func NewSMTP(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("mail: PARLEY_SMTP_URL must look like smtp://user:password@host:587")
	}
	opts := []gomail.Option{gomail.WithTimeout(20 * time.Second)}
	port := 587
	authType := gomail.SMTPAuthAutoDiscover // the strongest mechanism the server offers over TLS
	switch u.Scheme {
	case "smtp":
		switch u.Query().Get("tls") {
		case "", "starttls":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		case "opportunistic":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		case "none":
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
			authType = gomail.SMTPAuthPlainNoEnc // a trusted relay without TLS: the operator said so
		default:
			return nil, fmt.Errorf("mail: tls= must be starttls, opportunistic or none")
		}
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("mail: PARLEY_SMTP_URL must start with smtp:// or smtps://")
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("mail: bad port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pw, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(authType), gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	if from == "" {
		return nil, fmt.Errorf("mail: PARLEY_MAIL_FROM is required with PARLEY_SMTP_URL")
	}
	return &SMTP{client: c, from: from}, nil
}

// Send delivers one mail (one connection per mail: registrations are rare).
func (s *SMTP) Send(ctx context.Context, m model.Mail) error {
	msg, err := build(s.from, m)
	if err != nil {
		return err
	}
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: sending: %w", err)
	}
	return nil
}

// Dir writes each mail as an .eml file into a directory (make run without SMTP can point it at .local/mail;
// tests read the links from there).
type Dir struct {
	path, from string
}

func NewDir(path, from string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	if from == "" {
		from = "parley@localhost"
	}
	return &Dir{path: path, from: from}, nil
}

func (d *Dir) Send(_ context.Context, m model.Mail) error {
	msg, err := build(d.from, m)
	if err != nil {
		return err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := filepath.Join(d.path, strconv.FormatInt(time.Now().UnixNano(), 10)+"-"+hex.EncodeToString(rnd[:])+".eml")
	f, err := os.OpenFile(name+".tmp", os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if _, err := msg.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("mail: writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	return os.Rename(name+".tmp", name) // readers never see half a mail
}
