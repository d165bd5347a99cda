package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// The web app's copy must be what TypeScript() renders today: a changed limit or normalisation rule without
// go generate fails here, and a hand edit of the generated file too.
func TestTypeScriptIsGenerated(t *testing.T) {
	got, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(TypeScriptPath)))
	if err != nil {
		t.Fatal(err)
	}
	if want := TypeScript(); !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run `go generate ./internal/rules` (and make the web app pass its rules test)", TypeScriptPath)
	}
}

func TestNormalizeChannelName(t *testing.T) {
	for in, want := range map[string]string{
		"Random Stuff!":      "random-stuff",
		"  off   topic  ":    "off-topic",
		"--a -- b--":         "a-b",
		"dev_ops 2":          "dev_ops-2",
		"Café Crème":         "café-crème",
		"C++ & Go (backend)": "c-go-backend",
		"🎉 party time 🎉":     "party-time",
		"!!!":                "",
		"tab\there":          "tab-here",
	} {
		if got := NormalizeChannelName(in); got != want {
			t.Errorf("NormalizeChannelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The examples must exercise the rule: some change, some normalise to nothing, none break the generated file.
func TestChannelNameExamples(t *testing.T) {
	changed, empty := 0, 0
	for _, in := range ChannelNameExamples {
		out := NormalizeChannelName(in)
		if out != in {
			changed++
		}
		if out == "" {
			empty++
		}
		if !utf8.ValidString(in) || strings.Contains(in, "*/") {
			t.Errorf("example %q cannot be carried into TypeScript", in)
		}
	}
	if changed < len(ChannelNameExamples)/2 || empty == 0 {
		t.Errorf("examples too tame: %d of %d change, %d become empty", changed, len(ChannelNameExamples), empty)
	}
}
