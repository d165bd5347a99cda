package mlswire

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// fixture is real ciphertext from the web app's library (frontend/scripts/mls-fixture.mjs).
type fixture struct {
	GroupID  string
	Messages []struct {
		Epoch      uint64
		Ciphertext string
	}
	Commit, KeyPackage string
}

func load(t *testing.T) fixture {
	t.Helper()
	raw, err := os.ReadFile("testdata/private-messages.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Messages) < 3 {
		t.Fatalf("fixture has %d messages", len(f.Messages))
	}
	return f
}

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsesTheWebAppsCiphertext(t *testing.T) {
	f := load(t)
	for i, m := range f.Messages {
		h, err := ParseApplicationMessage(unb64(t, m.Ciphertext))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got := base64.RawURLEncoding.EncodeToString(h.GroupID); got != f.GroupID || h.Epoch != m.Epoch {
			t.Fatalf("message %d: group %s epoch %d, want %s %d", i, got, h.Epoch, f.GroupID, m.Epoch)
		}
	}
}

func TestRefusesWhatIsNotAnApplicationMessage(t *testing.T) {
	f := load(t)
	good := unb64(t, f.Messages[0].Ciphertext)
	long := unb64(t, f.Messages[1].Ciphertext) // its ciphertext length takes two bytes
	mutate := func(b []byte, fn func([]byte) []byte) []byte { return fn(append([]byte(nil), b...)) }
	cases := map[string][]byte{
		"empty":                  nil,
		"version only":           good[:2],
		"commit":                 unb64(t, f.Commit),
		"key package":            unb64(t, f.KeyPackage),
		"truncated header":       good[:10],
		"truncated ciphertext":   good[:len(good)-1],
		"truncated long":         long[:len(long)-300],
		"trailing byte":          append(append([]byte(nil), good...), 0),
		"other version":          mutate(good, func(b []byte) []byte { b[1] = 2; return b }),
		"public message":         mutate(good, func(b []byte) []byte { b[3] = 1; return b }),
		"empty group id":         {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 9, 1, 9},
		"8-byte length prefix":   {0, 1, 0, 2, 0xc0, 0, 0, 0, 0, 0, 0, 1, 7},
		"non-minimal length":     {0, 1, 0, 2, 0x40, 0x01, 7, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 9, 1, 9},
		"length past the end":    {0, 1, 0, 2, 0x7f, 0xff, 7},
		"no ciphertext":          {0, 1, 0, 2, 1, 7, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 9, 0},
		"proposal content type":  {0, 1, 0, 2, 1, 7, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1, 9, 1, 9},
		"text, not MLS at all":   []byte("hello, this is not ciphertext"),
		"garbage with a version": {0, 1, 0, 2, 0xff, 0xff, 0xff},
	}
	for name, b := range cases {
		if _, err := ParseApplicationMessage(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// The smallest well-formed message, by hand: group 0x07, epoch 1, application, no aad, sender data 9, ciphertext 9.
	h, err := ParseApplicationMessage([]byte{0, 1, 0, 2, 1, 7, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 9, 1, 9})
	if err != nil || len(h.GroupID) != 1 || h.GroupID[0] != 7 || h.Epoch != 1 {
		t.Fatalf("minimal message: %+v %v", h, err)
	}
}

func FuzzParseApplicationMessage(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 1, 7, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 9, 1, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseApplicationMessage(b)
		if err == nil && (len(h.GroupID) == 0 || len(h.GroupID) > len(b)) {
			t.Fatalf("accepted %x as %+v", b, h)
		}
	})
}
