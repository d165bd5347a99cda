package opensearch_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/opensearch"
)

func TestMarks(t *testing.T) {
	for _, c := range []struct {
		in, text string
		want     []model.TextRange
	}{
		{"plain", "plain", nil},
		{"\x02a\x03 b \x02c\x03", "a b c", []model.TextRange{{Start: 0, End: 1}, {Start: 4, End: 5}}},
		{"\x02quick\x03\x02brown\x03", "quickbrown", []model.TextRange{{Start: 0, End: 10}}}, // adjacent marks merge
		{"é \x02😀x\x03", "é 😀x", []model.TextRange{{Start: 2, End: 5}}},                      // UTF-16: the emoji is two units
		{"\x02\x03empty", "empty", nil},
	} {
		text, got := opensearch.Marks(c.in)
		if text != c.text || len(got) != len(c.want) {
			t.Fatalf("Marks(%q) = %q %v, want %q %v", c.in, text, got, c.text, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("Marks(%q) = %v, want %v", c.in, got, c.want)
			}
		}
	}
}

func store(t *testing.T) *opensearch.Store {
	t.Helper()
	url := testenv.SearchURL(t)
	s, err := opensearch.New(opensearch.Config{URLs: []string{url}, Index: testenv.UniqueName("parley-test-repo"), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if created, err := s.EnsureIndex(ctx); err != nil || !created {
		t.Fatalf("EnsureIndex: created %v, %v", created, err)
	}
	if created, err := s.EnsureIndex(ctx); err != nil || created { // idempotent
		t.Fatalf("second EnsureIndex: created %v, %v", created, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteIndex(context.Background()) })
	return s
}

func ids(r model.SearchResult) []int64 {
	var out []int64
	for _, h := range r.Hits {
		out = append(out, h.Message.ID)
	}
	return out
}

func TestVersionsKeepTheNewestChangeAndDeletionsStay(t *testing.T) {
	t.Parallel()
	s := store(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	edited := at.Add(time.Minute)
	orig := model.Message{ID: 1001, ChannelID: 7, SenderID: 3, Content: "original words", CreatedAt: at}
	edit := orig
	edit.Content, edit.EditedAt = "edited words", &edited
	// The edit arrives first, then a late retry of the original: the edit must stay.
	must(t, s.Apply(ctx, []model.IndexOp{{Message: edit, Version: edited.UnixMicro()}}))
	must(t, s.Apply(ctx, []model.IndexOp{{Message: orig, Version: at.UnixMicro()}}))
	must(t, s.Refresh(ctx))
	q := model.SearchQuery{Channels: []int64{7}, Terms: "words"}
	r, err := s.Search(ctx, q)
	must(t, err)
	if len(r.Hits) != 1 || r.Hits[0].Message.Content != "edited words" || r.Hits[0].Message.SenderID != 3 || !r.Hits[0].Message.CreatedAt.Equal(at) {
		t.Fatalf("after a stale retry: %+v", r.Hits)
	}
	// A deletion, then a stale edit: nothing comes back, and no text is kept.
	must(t, s.Apply(ctx, []model.IndexOp{{Message: model.Message{ID: 1001, ChannelID: 7, CreatedAt: at}, Deleted: true, Version: 1 << 62}}))
	must(t, s.Apply(ctx, []model.IndexOp{{Message: edit, Version: edited.UnixMicro() + 5}}))
	must(t, s.Refresh(ctx))
	if r, err = s.Search(ctx, q); err != nil || len(r.Hits) != 0 {
		t.Fatalf("deleted message found: %+v %v", r.Hits, err)
	}
	if r, err = s.Search(ctx, model.SearchQuery{Channels: []int64{7}, From: []int64{3}}); err != nil || len(r.Hits) != 0 {
		t.Fatalf("deleted message found by sender: %+v %v", r.Hits, err)
	}
}

func TestFiltersAndHighlights(t *testing.T) {
	t.Parallel()
	s := store(t)
	ctx := context.Background()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	msgs := []model.Message{
		{ID: 1, ChannelID: 10, SenderID: 100, Content: "see https://example.com for the plan", CreatedAt: day.Add(time.Hour)},
		{ID: 2, ChannelID: 10, SenderID: 101, Content: "the PLAN is ready <@100>", Mentions: []int64{100}, CreatedAt: day.Add(25 * time.Hour)},
		{ID: 3, ChannelID: 11, SenderID: 100, Content: "another plan here", CreatedAt: day.Add(49 * time.Hour)},
		{ID: 4, ChannelID: 12, SenderID: 100, Content: "plan in a channel nobody searches", CreatedAt: day},
	}
	var ops []model.IndexOp
	for _, m := range msgs {
		ops = append(ops, model.IndexOp{Message: m, Version: m.CreatedAt.UnixMicro()})
	}
	must(t, s.Apply(ctx, ops))
	must(t, s.Refresh(ctx))
	both := []int64{10, 11}
	for _, c := range []struct {
		name string
		q    model.SearchQuery
		want []int64
	}{
		{"word, newest first", model.SearchQuery{Terms: "plan"}, []int64{3, 2, 1}},
		{"all words must match", model.SearchQuery{Terms: "plan ready"}, []int64{2}},
		{"phrase", model.SearchQuery{Phrases: []string{"another plan"}}, []int64{3}},
		{"from", model.SearchQuery{Terms: "plan", From: []int64{101}}, []int64{2}},
		{"mentions", model.SearchQuery{Mentions: []int64{100}}, []int64{2}},
		{"has link", model.SearchQuery{HasLink: true}, []int64{1}},
		{"has file: nothing yet", model.SearchQuery{HasFile: true}, nil},
		{"after", model.SearchQuery{Terms: "plan", After: day.Add(24 * time.Hour)}, []int64{3, 2}},
		{"before", model.SearchQuery{Terms: "plan", Before: day.Add(24 * time.Hour)}, []int64{1}},
		{"paging", model.SearchQuery{Terms: "plan", BeforeID: 3, Limit: 1}, []int64{2}},
	} {
		c.q.Channels = both
		r, err := s.Search(ctx, c.q)
		must(t, err)
		got := ids(r)
		if len(got) != len(c.want) {
			t.Fatalf("%s: got %v, want %v", c.name, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%s: got %v, want %v", c.name, got, c.want)
			}
		}
	}
	if r, err := s.Search(ctx, model.SearchQuery{Terms: "plan"}); err != nil || len(r.Hits) != 0 {
		t.Fatalf("no channels must find nothing: %v %v", r.Hits, err)
	}
	r, err := s.Search(ctx, model.SearchQuery{Channels: both, Terms: "plan", From: []int64{101}})
	must(t, err)
	if h := r.Hits[0].Highlights; len(h) != 1 || h[0] != (model.TextRange{Start: 4, End: 8}) {
		t.Fatalf("highlight of PLAN in %q: %v", r.Hits[0].Message.Content, h)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mappingOf returns the "dynamic" setting of the index behind name ("" if there is no such index).
func mappingOf(t *testing.T, name string) (index, dynamic string) {
	t.Helper()
	resp, err := http.Get(testenv.SearchURL(t) + "/" + name + "/_mapping")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", ""
	}
	var m map[string]struct {
		Mappings struct {
			Dynamic string `json:"dynamic"`
		} `json:"mappings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		return k, v.Mappings.Dynamic
	}
	return "", ""
}

// An index deleted under a running server is not re-created by its writes (OpenSearch would auto-create one with
// dynamic mappings: content as text+keyword, ids as long, no analyzer); EnsureIndex creates it with ours.
func TestADeletedIndexIsNotRecreatedByWrites(t *testing.T) {
	t.Parallel()
	name := testenv.UniqueName("parley-test-gone")
	s, err := opensearch.New(opensearch.Config{URLs: []string{testenv.SearchURL(t)}, Index: name, Shards: 1})
	must(t, err)
	ctx := context.Background()
	t.Cleanup(func() { _ = s.DeleteIndex(context.Background()) })
	if created, err := s.EnsureIndex(ctx); err != nil || !created {
		t.Fatalf("EnsureIndex: %v %v", created, err)
	}
	if idx, dyn := mappingOf(t, name); idx != name+"-v1" || dyn != "strict" {
		t.Fatalf("index behind %s: %q dynamic %q", name, idx, dyn)
	}
	var settings map[string]struct {
		Settings struct {
			Index struct {
				Sort struct{ Field, Order string } `json:"sort"`
			} `json:"index"`
		} `json:"settings"`
	}
	getJSON(t, testenv.SearchURL(t)+"/"+name+"/_settings", &settings)
	if st := settings[name+"-v1"].Settings.Index.Sort; st.Field != "id" || st.Order != "desc" {
		t.Fatalf("index sort: %+v, want id desc", st)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := model.Message{ID: 5, ChannelID: 9, SenderID: 1, Content: "still here", CreatedAt: at}
	must(t, s.Apply(ctx, []model.IndexOp{{Message: m, Version: at.UnixMicro()}}))
	must(t, s.DeleteIndex(ctx))
	err = s.Apply(ctx, []model.IndexOp{{Message: m, Version: at.UnixMicro() + 1}})
	if !errors.Is(err, model.ErrSearchIndexMissing) {
		t.Fatalf("write to a deleted index: %v, want ErrSearchIndexMissing", err)
	}
	if idx, _ := mappingOf(t, name); idx != "" {
		t.Fatalf("the write re-created the index as %q", idx)
	}
	if created, err := s.EnsureIndex(ctx); err != nil || !created {
		t.Fatalf("EnsureIndex after the deletion: %v %v", created, err)
	}
	if idx, dyn := mappingOf(t, name); idx != name+"-v1" || dyn != "strict" {
		t.Fatalf("re-created index behind %s: %q dynamic %q", name, idx, dyn)
	}
	must(t, s.Apply(ctx, []model.IndexOp{{Message: m, Version: at.UnixMicro() + 1}}))
	must(t, s.Refresh(ctx))
	if r, err := s.Search(ctx, model.SearchQuery{Channels: []int64{9}, Terms: "still"}); err != nil || len(r.Hits) != 1 {
		t.Fatalf("search after re-creation: %+v %v", r, err)
	}
}

// Documents are routed by channel: every message of a channel is in the one shard its id routes to, an edit
// replaces the document there (no second copy in another shard), and a search in that channel finds it.
func TestMessagesAreRoutedByChannel(t *testing.T) {
	t.Parallel()
	name := testenv.UniqueName("parley-test-routed")
	s, err := opensearch.New(opensearch.Config{URLs: []string{testenv.SearchURL(t)}, Index: name, Shards: 3})
	must(t, err)
	ctx := context.Background()
	t.Cleanup(func() { _ = s.DeleteIndex(context.Background()) })
	if _, err := s.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var ops []model.IndexOp
	for i := int64(1); i <= 60; i++ {
		m := model.Message{ID: i, ChannelID: 100 + i%6, SenderID: 1, Content: "routed words", CreatedAt: at}
		ops = append(ops, model.IndexOp{Message: m, Version: at.UnixMicro()})
	}
	must(t, s.Apply(ctx, ops))
	edited := ops[0].Message
	edited.Content = "routed again"
	must(t, s.Apply(ctx, []model.IndexOp{{Message: edited, Version: at.UnixMicro() + 1}}))
	must(t, s.Refresh(ctx))
	base := testenv.SearchURL(t)
	for ch := int64(100); ch < 106; ch++ {
		var shards struct {
			Shards [][]struct {
				Shard int `json:"shard"`
			} `json:"shards"`
		}
		getJSON(t, base+"/"+name+"/_search_shards?routing="+strconv.FormatInt(ch, 10), &shards)
		if len(shards.Shards) != 1 {
			t.Fatalf("channel %d routes to %d shards", ch, len(shards.Shards))
		}
		var count struct {
			Count int `json:"count"`
		}
		getJSON(t, base+"/"+name+"/_count?preference=_shards:"+strconv.Itoa(shards.Shards[0][0].Shard)+"&q=channel_id:"+strconv.FormatInt(ch, 10), &count)
		if count.Count != 10 {
			t.Fatalf("channel %d: %d messages in its shard, want all 10", ch, count.Count)
		}
		r, err := s.Search(ctx, model.SearchQuery{Channels: []int64{ch}, Terms: "routed"})
		if err != nil || len(r.Hits) != 10 {
			t.Fatalf("search in channel %d: %d hits, %v", ch, len(r.Hits), err)
		}
	}
	var total struct {
		Count int `json:"count"`
	}
	getJSON(t, base+"/"+name+"/_count", &total)
	if total.Count != 60 {
		t.Fatalf("%d documents, want 60 (an edit must replace, not copy)", total.Count)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
