// Package opensearch is the message search index (issue #18): one document per message, written in bulk after
// Cassandra stored the message, queried with the searcher's readable channels as a filter. Cassandra 5.0's
// storage-attached indexes cannot do full-text search (README, "Message search"), so the index lives here.
package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	opensearchgo "github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/observe"
)

// Config locates the index.
type Config struct {
	URLs   []string
	Index  string
	Shards int // primary shards when the index is created (1 for one node; more to spread it over a cluster)
	// Calls, when set, hears every request by operation (metrics, tracing).
	Calls observe.Observer
}

// Store reads and writes the message index.
//
// Layout: the configured name is an alias of the concrete index <name>-v1, and bulk writes require the alias
// (require_alias), so an index deleted while servers run is never re-created by a write with dynamic mappings
// (OpenSearch's auto-create would); EnsureIndex creates it again with the mapping and says so. An index of the
// first layout (a concrete index under the configured name, before this change) is used as it is, without that
// protection: delete it and restart to get the new layout (the server then rebuilds it from Cassandra).
type Store struct {
	c      *opensearchapi.Client
	index  string
	shards int
	legacy atomic.Bool // the configured name is a concrete index (first layout): writes cannot require the alias
}

// New makes a client; it does not talk to the cluster (EnsureIndex does), so chat starts while search is down.
func New(cfg Config) (*Store, error) {
	var rt http.RoundTripper = &http.Transport{MaxIdleConnsPerHost: 32, ResponseHeaderTimeout: 30 * time.Second}
	if cfg.Calls != nil {
		rt = observe.Transport(rt, "opensearch", cfg.Calls, operation)
	}
	c, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearchgo.Config{Addresses: cfg.URLs, Transport: rt}})
	if err != nil {
		return nil, fmt.Errorf("opensearch: %w", err)
	}
	return &Store{c: c, index: cfg.Index, shards: cfg.Shards}, nil
}

// operation names a request for metrics and spans by its API (the path's first "_" segment: search, bulk,
// doc …), or by its method for index-level requests.
func operation(r *http.Request) string {
	for _, seg := range strings.Split(r.URL.Path, "/") {
		if api, ok := strings.CutPrefix(seg, "_"); ok && api != "" {
			return api
		}
	}
	return strings.ToLower(r.Method)
}

// concrete is the index the alias points at (a new mapping version would be -v2, filled while -v1 serves).
func (s *Store) concrete() string { return s.index + "-v1" }

// Ping checks that the cluster answers.
func (s *Store) Ping(ctx context.Context) error {
	resp, err := s.c.Client.Stream(mustRequest(ctx, http.MethodGet, "/_cluster/health", nil))
	if err != nil {
		return fmt.Errorf("opensearch: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("opensearch: cluster health answered %d", resp.StatusCode)
	}
	return nil
}

// status performs a bodiless request and returns its HTTP status.
func (s *Store) status(ctx context.Context, method, path string) (int, error) {
	resp, err := s.c.Client.Stream(mustRequest(ctx, method, path, nil))
	if err != nil {
		return 0, fmt.Errorf("opensearch: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func mustRequest(ctx context.Context, method, path string, body io.Reader) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, method, path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// The index is sorted by id, newest first, the order every search asks for: a query then stops after the first
// page and the 10,000 matches it counts instead of visiting every match (a search for one of the commonest words
// over 100 channels and 1,000,000 messages: p99 83 -> 14 ms, BENCHMARKS.md).
//
// Documents are routed by channel id: a channel's messages live in one shard, so a search in one channel (the
// phrase search of the issue, a DM) asks one shard however many the index has, and a server's search asks the
// shards its channels hash to. Routing is required, so a write without it fails instead of landing elsewhere.
//
// The mapping: message text analysed by the standard tokenizer (Unicode word boundaries, so any script), lower
// cased and folded to ASCII (searching "cafe" finds "Café"); everything else exact. Stop words are kept: people
// search for phrases like "to be or not".
func mapping(shards int) string {
	if shards <= 0 {
		shards = 1
	}
	return `{
  "settings": {
    "number_of_shards": ` + strconv.Itoa(shards) + `, "number_of_replicas": 0,
    "sort.field": "id", "sort.order": "desc",
    "analysis": {"analyzer": {"message_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}
  },
  "mappings": {
    "dynamic": "strict",
    "_routing": {"required": true},
    "properties": {
      "id": {"type": "long"},
      "channel_id": {"type": "long"},
      "sender_id": {"type": "long"},
      "mentions": {"type": "long"},
      "content": {"type": "text", "analyzer": "message_text"},
      "created_at": {"type": "date", "format": "epoch_millis"},
      "has_link": {"type": "boolean"},
      "deleted": {"type": "boolean"}
    }
  }
}`
}

// EnsureIndex creates the index with its mapping and alias unless the alias exists; created says it made a new,
// empty index (the caller then builds it from the message log).
func (s *Store) EnsureIndex(ctx context.Context) (created bool, err error) {
	st, err := s.status(ctx, http.MethodHead, "/_alias/"+s.index)
	if err != nil {
		return false, err
	}
	if st == http.StatusOK {
		s.legacy.Store(false)
		return false, nil
	}
	if st, err = s.status(ctx, http.MethodHead, "/"+s.index); err != nil {
		return false, err
	}
	if st == http.StatusOK {
		s.legacy.Store(true) // not an alias, so a concrete index of the first layout
		return false, nil
	}
	body := mapping(s.shards)
	body = body[:len(body)-2] + `,
  "aliases": {` + strconv.Quote(s.index) + `: {"is_write_index": true}}
}`
	_, err = s.c.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: s.concrete(), Body: strings.NewReader(body)})
	var osErr *opensearchgo.StructError
	if errors.As(err, &osErr) && osErr.Err.Type == "resource_already_exists_exception" {
		// Another node created it meanwhile, or only the alias was removed: (re)attach the alias; nothing is lost.
		_, err = s.c.Indices.Alias.Put(ctx, opensearchapi.AliasPutReq{Indices: []string{s.concrete()}, Alias: s.index})
		if err != nil {
			return false, fmt.Errorf("opensearch: alias %s: %w", s.index, err)
		}
		s.legacy.Store(false)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opensearch: creating index %s: %w", s.concrete(), err)
	}
	s.legacy.Store(false)
	return true, nil
}

// DeleteIndex drops the index (tests, benchmarks): the concrete index behind the alias, or one of the first layout.
func (s *Store) DeleteIndex(ctx context.Context) error {
	for _, name := range []string{s.concrete(), s.index} {
		st, err := s.status(ctx, http.MethodDelete, "/"+name)
		if err != nil {
			return err
		}
		if st == http.StatusOK {
			return nil
		}
	}
	return nil
}

// Refresh makes every write so far searchable now (tests; otherwise within the 1 s refresh interval).
func (s *Store) Refresh(ctx context.Context) error {
	_, err := s.c.Indices.Refresh(ctx, &opensearchapi.IndicesRefreshReq{Index: []string{s.index}})
	return err
}

type doc struct {
	ID        int64   `json:"id"`
	ChannelID int64   `json:"channel_id"`
	SenderID  int64   `json:"sender_id,omitempty"`
	Mentions  []int64 `json:"mentions,omitempty"`
	Content   string  `json:"content,omitempty"`
	CreatedAt int64   `json:"created_at"`
	HasLink   bool    `json:"has_link"`
	Deleted   bool    `json:"deleted"`
}

var linkRe = regexp.MustCompile(`(?i)\b(?:https?://|mailto:)\S`)

// Apply writes changes in one bulk request. Each document carries its change's version (external versioning),
// so changes may be applied more than once and out of order: the newest wins, a deletion stays a deletion (its
// tombstone keeps no text). A failed request or item is an error; the caller retries the whole batch.
func (s *Store) Apply(ctx context.Context, ops []model.IndexOp) error {
	if len(ops) == 0 {
		return nil
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	legacy := s.legacy.Load()
	for _, op := range ops {
		m := op.Message
		d := doc{ID: m.ID, ChannelID: m.ChannelID, CreatedAt: m.CreatedAt.UnixMilli(), Deleted: op.Deleted}
		if !op.Deleted {
			d.SenderID, d.Mentions, d.Content, d.HasLink = m.SenderID, m.Mentions, m.Content, linkRe.MatchString(m.Content)
		}
		action := map[string]any{"_index": s.index, "_id": strconv.FormatInt(m.ID, 10), "version": op.Version, "version_type": "external"}
		if !legacy {
			action["routing"] = strconv.FormatInt(m.ChannelID, 10)
		}
		meta := map[string]any{"index": action}
		if err := enc.Encode(meta); err != nil {
			return err
		}
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	requireAlias := !legacy
	resp, err := s.c.Bulk(ctx, opensearchapi.BulkReq{Body: &body, Params: opensearchapi.BulkParams{RequireAlias: &requireAlias}})
	if err != nil {
		return fmt.Errorf("opensearch: bulk: %w", err)
	}
	if !resp.Errors {
		return nil
	}
	for _, item := range resp.Items {
		for _, r := range item {
			if r.Error != nil && r.Error.Type == "index_not_found_exception" {
				return fmt.Errorf("opensearch: bulk: %w (%s)", model.ErrSearchIndexMissing, r.Error.Reason)
			}
			// 409: the index already holds this or a newer version of the message; nothing to do.
			if r.Error != nil && r.Status != http.StatusConflict {
				return fmt.Errorf("opensearch: bulk item %s: %d %s: %s", r.ID, r.Status, r.Error.Type, r.Error.Reason)
			}
		}
	}
	return nil
}

// Highlight marks: control characters, which message text cannot contain (validation refuses them).
const (
	markOpen  = "\x02"
	markClose = "\x03"
)

// maxRoutes: channels whose routing values a search sends (20 characters each in the request line).
const maxRoutes = 100

// Search runs a query, newest first.
func (s *Store) Search(ctx context.Context, q model.SearchQuery) (model.SearchResult, error) {
	if len(q.Channels) == 0 || q.HasFile {
		return model.SearchResult{}, nil
	}
	filter := []any{map[string]any{"terms": map[string]any{"channel_id": q.Channels}}}
	// A tombstone has no text, sender, mentions or link, so a query that asks for any of them cannot match one;
	// only a query of dates alone needs the extra clause (one fewer iterator over every document otherwise).
	if strings.TrimSpace(q.Terms) == "" && len(q.Phrases) == 0 && len(q.From) == 0 && len(q.Mentions) == 0 && !q.HasLink {
		filter = append(filter, map[string]any{"term": map[string]any{"deleted": false}})
	}
	if len(q.From) > 0 {
		filter = append(filter, map[string]any{"terms": map[string]any{"sender_id": q.From}})
	}
	if len(q.Mentions) > 0 {
		filter = append(filter, map[string]any{"terms": map[string]any{"mentions": q.Mentions}})
	}
	if q.HasLink {
		filter = append(filter, map[string]any{"term": map[string]any{"has_link": true}})
	}
	if !q.After.IsZero() || !q.Before.IsZero() {
		r := map[string]any{}
		if !q.After.IsZero() {
			r["gte"] = q.After.UnixMilli()
		}
		if !q.Before.IsZero() {
			r["lt"] = q.Before.UnixMilli()
		}
		filter = append(filter, map[string]any{"range": map[string]any{"created_at": r}})
	}
	if q.BeforeID > 0 {
		filter = append(filter, map[string]any{"range": map[string]any{"id": map[string]any{"lt": q.BeforeID}}})
	}
	var must []any
	if strings.TrimSpace(q.Terms) != "" {
		must = append(must, map[string]any{"match": map[string]any{"content": map[string]any{"query": q.Terms, "operator": "and"}}})
	}
	for _, p := range q.Phrases {
		must = append(must, map[string]any{"match_phrase": map[string]any{"content": p}})
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 25
	}
	body := map[string]any{
		"size":             limit,
		"track_total_hits": 10_000,
		"sort":             []any{map[string]any{"id": "desc"}},
		"_source":          []string{"id", "channel_id", "sender_id", "mentions", "content", "created_at"},
		"query":            map[string]any{"bool": map[string]any{"filter": filter, "must": must}},
	}
	if len(must) > 0 {
		body["highlight"] = map[string]any{
			"pre_tags": []string{markOpen}, "post_tags": []string{markClose},
			"fields": map[string]any{"content": map[string]any{"number_of_fragments": 0}},
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return model.SearchResult{}, err
	}
	req := &opensearchapi.SearchReq{Indices: []string{s.index}, Body: bytes.NewReader(raw)}
	// Routing values travel in the URL (4 KB at most by default); a search over more channels than fit asks
	// every shard, which it would nearly do anyway.
	if !s.legacy.Load() && len(q.Channels) <= maxRoutes {
		routes := make([]string, len(q.Channels))
		for i, ch := range q.Channels {
			routes[i] = strconv.FormatInt(ch, 10)
		}
		req.Params.Routing = routes
	}
	resp, err := s.c.Search(ctx, req)
	if err != nil {
		return model.SearchResult{}, fmt.Errorf("opensearch: search: %w", err)
	}
	out := model.SearchResult{Total: resp.Hits.Total.Value, TotalIsLowerBound: resp.Hits.Total.Relation == "gte",
		EngineTime: time.Duration(resp.Took) * time.Millisecond}
	for _, h := range resp.Hits.Hits {
		var d doc
		if err := json.Unmarshal(h.Source, &d); err != nil {
			return model.SearchResult{}, fmt.Errorf("opensearch: hit %s: %w", h.ID, err)
		}
		hit := model.SearchHit{Message: model.Message{ID: d.ID, ChannelID: d.ChannelID, SenderID: d.SenderID, Mentions: d.Mentions,
			Content: d.Content, CreatedAt: time.UnixMilli(d.CreatedAt).UTC()}}
		if hl := h.Highlight["content"]; len(hl) == 1 {
			if text, ranges := Marks(hl[0]); text == d.Content {
				hit.Highlights = ranges
			}
		}
		out.Hits = append(out.Hits, hit)
	}
	return out, nil
}

// Marks strips the highlighter's marks from text and returns where they were, in UTF-16 code units.
func Marks(marked string) (string, []model.TextRange) {
	var b strings.Builder
	var ranges []model.TextRange
	pos, start := 0, -1
	for i := 0; i < len(marked); {
		r, size := utf8.DecodeRuneInString(marked[i:])
		i += size
		switch string(r) {
		case markOpen:
			start = pos
		case markClose:
			if start >= 0 && pos > start {
				if n := len(ranges); n > 0 && ranges[n-1].End == start {
					ranges[n-1].End = pos // adjacent marks read as one
				} else {
					ranges = append(ranges, model.TextRange{Start: start, End: pos})
				}
			}
			start = -1
		default:
			b.WriteRune(r)
			pos += utf16.RuneLen(r)
		}
	}
	return b.String(), ranges
}
