package cassandra

import "testing"

func TestVerb(t *testing.T) {
	for stmt, want := range map[string]string{
		"SELECT * FROM messages": "select",
		"  INSERT INTO m (a)":    "insert",
		"BEGIN BATCH":            "begin",
		"":                       "other",
	} {
		if got := verb(stmt); got != want {
			t.Errorf("verb(%q) = %q, want %q", stmt, got, want)
		}
	}
}
