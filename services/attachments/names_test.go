package attachments

import (
	"strings"
	"testing"
)

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":                      "report.pdf",
		"../../etc/passwd":                "passwd",
		`C:\Users\me\secret.txt`:          "secret.txt",
		"invoice\u202Efdp.exe":            "invoicefdp.exe",
		"a\u2066b\u2069c\u200Fd.txt":      "abcd.txt",
		"line\r\nbreak\x00.txt":           "linebreak.txt",
		`quo"te.txt`:                      "quo_te.txt",
		"   ...hidden  ":                  "hidden",
		"":                                "file",
		"..":                              "file",
		"/":                               "file",
		"\xff\xfebad.txt":                 "_bad.txt",
		"Ünïcödé 文件.txt":                  "Ünïcödé 文件.txt",
		strings.Repeat("é", 200) + ".png": strings.Repeat("é", 88) + ".png",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServedTypeNeverActive(t *testing.T) {
	for _, ct := range []string{"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/javascript", "application/pdf"} {
		if got, inline := ServedType(ct); inline || got != "application/octet-stream" {
			t.Errorf("%s served as %s inline=%v", ct, got, inline)
		}
	}
	if got, inline := ServedType("text/plain"); !inline || got != "text/plain; charset=utf-8" {
		t.Errorf("text/plain: %s %v", got, inline)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{25 << 20: "25 MiB", 3_355_443: "3.2 MiB", 2048: "2 KiB", 10: "10 bytes"} {
		if got := humanSize(n); got != want {
			t.Errorf("%d: %s, want %s", n, got, want)
		}
	}
}

func TestSnippet(t *testing.T) {
	if got := snippet([]byte("a\nb\n")); got != "a\nb" {
		t.Errorf("%q", got)
	}
	if got := snippet([]byte("bin\x00ary")); got != "" {
		t.Errorf("binary text got a snippet %q", got)
	}
	long := []byte(strings.Repeat("é", 1500)) // cut inside a character
	if got := snippet(long); len(got) > 2048 || !strings.HasPrefix(got, "éé") {
		t.Errorf("len %d", len(got))
	}
}
