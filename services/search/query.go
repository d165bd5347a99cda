package search

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/rules"
	"github.com/parleychat/parley/internal/snowflake"
)

// MaxQueryLength bounds a query (characters).
const MaxQueryLength = rules.SearchQueryMaxRunes

// Parsed is a query split into words, phrases and the filters Discord and Slack users know:
// from:user, in:#channel, mentions:user, has:link, has:file, before:/after:/during: dates, "exact phrases".
type Parsed struct {
	Terms    string
	Phrases  []string
	From     []string
	In       []string
	Mentions []string
	HasLink  bool
	HasFile  bool
	Before   string // dates as typed: YYYY-MM-DD (during: also YYYY-MM or YYYY)
	After    string
	During   string
}

func idTime(id int64) time.Time { return snowflake.Time(id) }

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// Parse reads a query. A word with a colon that is not a known filter is just a word (a time "10:30", a URL).
// Filter values may be quoted (from:"bob"); an unclosed quote runs to the end.
func Parse(q string) (Parsed, error) {
	var p Parsed
	q = strings.TrimSpace(q)
	if !utf8.ValidString(q) {
		return p, apperr.InvalidField("q", "the query is not valid UTF-8")
	}
	if utf8.RuneCountInString(q) > MaxQueryLength {
		return p, apperr.InvalidField("q", "the query is too long (512 characters at most)")
	}
	var words []string
	for _, tok := range tokenize(q) {
		if tok.quoted {
			if strings.TrimSpace(tok.value) != "" {
				p.Phrases = append(p.Phrases, tok.value)
			}
			continue
		}
		key, _, ok := strings.Cut(tok.key, ":")
		if !ok {
			words = append(words, tok.value)
			continue
		}
		if tok.value == "" {
			return p, apperr.InvalidField("q", key+": needs a value, e.g. "+example(key))
		}
		v := tok.value
		switch strings.ToLower(key) {
		case "from":
			p.From = append(p.From, strings.TrimPrefix(v, "@"))
		case "mentions":
			p.Mentions = append(p.Mentions, strings.TrimPrefix(v, "@"))
		case "in":
			p.In = append(p.In, strings.TrimPrefix(v, "#"))
		case "has":
			switch strings.ToLower(v) {
			case "link":
				p.HasLink = true
			case "file":
				p.HasFile = true
			default:
				return p, apperr.InvalidField("q", "has: takes link or file")
			}
		case "before":
			p.Before = v
		case "after":
			p.After = v
		case "during", "on":
			p.During = v
		}
	}
	p.Terms = strings.Join(words, " ")
	if p.Terms == "" && len(p.Phrases) == 0 && len(p.From) == 0 && len(p.In) == 0 && len(p.Mentions) == 0 &&
		!p.HasLink && !p.HasFile && p.Before == "" && p.After == "" && p.During == "" {
		return p, apperr.InvalidField("q", "type something to search for")
	}
	return p, nil
}

func example(key string) string {
	switch strings.ToLower(key) {
	case "from", "mentions":
		return key + ":alice"
	case "in":
		return "in:#general"
	case "has":
		return "has:link"
	default:
		return key + ":2026-01-31"
	}
}

type token struct {
	key    string // "from:" for a filter (value after it), "" for a plain word or a phrase
	value  string
	quoted bool // a "phrase" on its own
}

var filters = map[string]bool{"from": true, "mentions": true, "in": true, "has": true, "before": true, "after": true, "during": true, "on": true}

func tokenize(q string) []token {
	var out []token
	rs := []rune(q)
	for i := 0; i < len(rs); {
		if unicode.IsSpace(rs[i]) {
			i++
			continue
		}
		if rs[i] == '"' {
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				j++
			}
			out = append(out, token{value: string(rs[i+1 : j]), quoted: true})
			i = j + 1
			continue
		}
		j := i
		for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != ':' && rs[j] != '"' {
			j++
		}
		if j < len(rs) && rs[j] == ':' && filters[strings.ToLower(string(rs[i:j]))] {
			key := string(rs[i : j+1])
			k := j + 1
			if k < len(rs) && rs[k] == '"' {
				e := k + 1
				for e < len(rs) && rs[e] != '"' {
					e++
				}
				out = append(out, token{key: key, value: strings.TrimSpace(string(rs[k+1 : min(e, len(rs))]))})
				i = e + 1
				continue
			}
			e := k
			for e < len(rs) && !unicode.IsSpace(rs[e]) {
				e++
			}
			out = append(out, token{key: key, value: string(rs[k:e])})
			i = e
			continue
		}
		e := i
		for e < len(rs) && !unicode.IsSpace(rs[e]) && rs[e] != '"' {
			e++
		}
		out = append(out, token{value: string(rs[i:e])})
		i = e
	}
	return out
}

// dates turns before:/after:/during: into a time window in the searcher's time zone: before: a day means
// before that day starts, after: a day means after it ends, during: the day (or month, or year).
func (p Parsed) dates(offset time.Duration) (after, before time.Time, err error) {
	zone := time.FixedZone("searcher", int(offset.Seconds()))
	if p.Before != "" {
		start, _, err := period(p.Before, zone, "before")
		if err != nil {
			return after, before, err
		}
		before = start
	}
	if p.After != "" {
		_, end, err := period(p.After, zone, "after")
		if err != nil {
			return after, before, err
		}
		after = end
	}
	if p.During != "" {
		start, end, err := period(p.During, zone, "during")
		if err != nil {
			return after, before, err
		}
		if after.IsZero() || start.After(after) {
			after = start
		}
		if before.IsZero() || end.Before(before) {
			before = end
		}
	}
	return after, before, nil
}

func period(v string, zone *time.Location, op string) (time.Time, time.Time, error) {
	for _, f := range []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	} {
		if t, err := time.ParseInLocation(f.layout, v, zone); err == nil {
			return t, f.next(t), nil
		}
	}
	return time.Time{}, time.Time{}, apperr.InvalidField("q", op+": takes a date like 2026-01-31 (or 2026-01, 2026)")
}
