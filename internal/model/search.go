package model

import (
	"errors"
	"time"
)

// SearchQuery is one message search, already restricted to what the searcher may read now.
type SearchQuery struct {
	Channels []int64  // the channels searched: never empty (a searcher who can read nothing gets no query)
	Terms    string   // free words; every one must match (analysed: case and accents do not matter)
	Phrases  []string // exact phrases ("quoted"), each must match in order
	From     []int64  // sent by one of these users
	Mentions []int64  // mentioning one of these users by name (not @everyone)
	HasLink  bool
	HasFile  bool      // messages have no attachments yet: matches nothing
	After    time.Time // sent at or after (zero: no bound)
	Before   time.Time // sent before (zero: no bound)
	BeforeID int64     // paging: only messages older than this id (0: from the newest)
	Limit    int
}

// SearchHit is a message that matched, as it is now (edits included), and where its text matched.
type SearchHit struct {
	Message    Message
	Highlights []TextRange // in Message.Content, ordered, not overlapping
}

// TextRange is a span of a message's text in UTF-16 code units (what JavaScript strings index).
type TextRange struct{ Start, End int }

// SearchResult is one page of hits, newest first; Total counts every match (at least, when TotalIsLowerBound).
type SearchResult struct {
	Hits              []SearchHit
	Total             int
	TotalIsLowerBound bool
	EngineTime        time.Duration // what the engine reports it spent (benchmarks: queueing vs work)
}

// IndexOp is one change to the search index: a message to store as it now is, or a deletion.
type IndexOp struct {
	Message Message // ID and ChannelID always; the rest unless Deleted
	Deleted bool
	// Version orders changes of one message (microseconds of the change): the index keeps the highest, so a late
	// retry of an older change never undoes a newer one (an edit, a deletion).
	Version int64
}

// ErrSearchIndexMissing: the search index is gone (deleted while the server ran); writes are refused rather than
// creating an index without its mapping, and the indexer creates it again and rebuilds it from the message log.
var ErrSearchIndexMissing = errors.New("the search index does not exist")

// SearchCheckpoint is what one node's indexer may not have written yet, kept outside the process so that a
// crash (which loses its in-memory queue) is caught up by the next start: every message created from Since on,
// and the edits and deletions of older messages in Messages.
type SearchCheckpoint struct {
	Node     string
	Since    time.Time
	Messages []MessageRef
	SavedAt  time.Time
}

// MessageRef names one message.
type MessageRef struct {
	ChannelID int64
	ID        int64
}
