package postgres

import "testing"

func TestVerb(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT 1":                               "select",
		"\n\t  insert into users values ($1)":    "insert",
		"-- a comment\nWITH x AS (SELECT 1) ...": "with",
		"":                                       "other",
		"(SELECT 1)":                             "other",
	} {
		if got := Verb(sql); got != want {
			t.Errorf("Verb(%q) = %q, want %q", sql, got, want)
		}
	}
}
