package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table must list every variable the server reads.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(append([]Var{}, Vars...), KeysVars...) {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README.md does not document %s", v.Name)
		}
	}
}
