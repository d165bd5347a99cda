package cassandra_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/cassandra"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func store(t *testing.T) (*cassandra.MessageStore, *gocql.Session) {
	t.Helper()
	s, _ := testenv.SharedCassandra(t)
	return cassandra.NewMessageStore(s), s
}

// bucketStart is the first instant of a bucket.
func bucketStart(k int) time.Time {
	return snowflake.Epoch.Add(time.Duration(k) * cassandra.BucketWidth)
}

// currentBucket is the bucket of now.
func currentBucket() int { return cassandra.Bucket(snowflake.FirstIDAt(time.Now())) }

// channelAt returns a channel id created at t that no other test (or -count repetition) in the shared keyspace
// uses: the low 22 bits (node and sequence) are random.
func channelAt(t time.Time) int64 { return snowflake.FirstIDAt(t) + rand.Int64N(1<<22) }

// randomSender returns a sender id unique to this run, so nonce rows never clash in the shared keyspace.
func randomSender() int64 { return rand.Int64N(1<<62) + 1 }

func msg(channelID int64, at time.Time, n int, sender int64, content string) model.Message {
	return model.Message{ID: snowflake.FirstIDAt(at) + int64(n), ChannelID: channelID, SenderID: sender, Content: content}
}

func ids(msgs []model.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestBucket(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	cases := []struct {
		id   int64
		want int
	}{
		{0, 0},
		{snowflake.FirstIDAt(snowflake.Epoch), 0},
		{snowflake.FirstIDAt(snowflake.Epoch.Add(10*day-time.Millisecond)) + 1<<22 - 1, 0},
		{snowflake.FirstIDAt(snowflake.Epoch.Add(10 * day)), 1},
		{snowflake.FirstIDAt(snowflake.Epoch.Add(25*day)) + 4095, 2},
		{snowflake.FirstIDAt(time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)), 69}, // day 692 since 2025-01-01
	}
	for _, c := range cases {
		if got := cassandra.Bucket(c.id); got != c.want {
			t.Errorf("Bucket(%d) (%v) = %d, want %d", c.id, snowflake.Time(c.id), got, c.want)
		}
	}
	if cassandra.BucketWidth != 10*day {
		t.Errorf("BucketWidth = %v", cassandra.BucketWidth)
	}
}

func TestInsertBatchAndGet(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	base := bucketStart(currentBucket() - 2)
	ch := channelAt(base.Add(time.Hour))
	sender := randomSender()
	in := []model.Message{
		msg(ch, base.Add(2*time.Hour), 0, sender, "hello"),
		msg(ch, base.Add(3*time.Hour), 0, sender, "world"),
		msg(ch, base.Add(cassandra.BucketWidth+time.Hour), 0, sender+1, "next bucket"), // another partition
	}
	in[0].Nonce = "n-" + fmt.Sprint(sender)
	if err := ms.InsertBatch(ctx, in, 0); err != nil {
		t.Fatal(err)
	}
	if err := ms.InsertBatch(ctx, nil, 0); err != nil {
		t.Fatalf("InsertBatch(nil): %v", err)
	}
	for _, want := range in {
		got, err := ms.Get(ctx, ch, want.ID)
		if err != nil {
			t.Fatalf("Get(%d): %v", want.ID, err)
		}
		if got.ID != want.ID || got.ChannelID != ch || got.SenderID != want.SenderID || got.Content != want.Content ||
			got.Nonce != want.Nonce || got.Deleted || got.EditedAt != nil || !got.CreatedAt.Equal(snowflake.Time(want.ID)) {
			t.Errorf("Get(%d) = %+v, want %+v", want.ID, got, want)
		}
	}
	if _, err := ms.Get(ctx, ch, in[0].ID+1); !errors.Is(err, model.ErrNotFound) || !errors.Is(err, cassandra.ErrNotFound) {
		t.Errorf("Get(missing id): err = %v, want ErrNotFound", err)
	}
	if _, err := ms.Get(ctx, ch+1, in[0].ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Get(other channel): err = %v, want ErrNotFound", err)
	}
	// Idempotent: inserting the same batch again changes nothing.
	if err := ms.InsertBatch(ctx, in, 0); err != nil {
		t.Fatal(err)
	}
	page, more, err := ms.After(ctx, ch, 0, 10)
	if err != nil || more || !slices.Equal(ids(page), ids(in)) {
		t.Fatalf("After after a repeated insert = %v, %v, %v; want %v", ids(page), more, err, ids(in))
	}
}

// A channel created in bucket k0 with messages in k0, k0+1 and k0+3 (k0+2 is empty), plus a message in k0-1
// that predates the channel: pages walk across buckets in both directions and stop at the creation bucket.
func TestPaginationAcrossBuckets(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	k0 := currentBucket() - 6
	created := bucketStart(k0).Add(time.Hour + time.Duration(rand.Int64N(int64(24*time.Hour))))
	ch := channelAt(created)
	sender := randomSender()
	var all []model.Message // oldest first
	add := func(at time.Time, n int) {
		all = append(all, msg(ch, at, n, sender, fmt.Sprintf("message at %s #%d", at.Format(time.RFC3339), n)))
	}
	add(created.Add(time.Hour), 0)
	add(created.Add(2*time.Hour), 7)
	add(bucketStart(k0+1).Add(time.Hour), 0)
	add(bucketStart(k0+1).Add(time.Hour), 1) // same millisecond, next sequence
	add(bucketStart(k0+1).Add(3*time.Hour), 0)
	add(bucketStart(k0+3).Add(time.Minute), 0)
	add(bucketStart(k0+3).Add(2*time.Minute), 0)
	for i, m := range all {
		if i > 0 && m.ID <= all[i-1].ID {
			t.Fatalf("test ids not increasing at %d", i)
		}
	}
	wantBuckets := []int{k0, k0, k0 + 1, k0 + 1, k0 + 1, k0 + 3, k0 + 3}
	for i, m := range all {
		if b := cassandra.Bucket(m.ID); b != wantBuckets[i] {
			t.Fatalf("message %d is in bucket %d, want %d", i, b, wantBuckets[i])
		}
	}
	prehistoric := msg(ch, bucketStart(k0-1).Add(5*time.Hour), 0, sender, "before the channel existed")
	// Insert newest first and in two calls: order of insertion must not matter.
	if err := ms.InsertBatch(ctx, append(reversed(all[3:]), prehistoric), 0); err != nil {
		t.Fatal(err)
	}
	if err := ms.InsertBatch(ctx, all[:3], 0); err != nil {
		t.Fatal(err)
	}
	allIDs := ids(all)

	// Before: newest first.
	for _, limit := range []int{1, 2, 3, 6, 7, 8, 50} {
		var got []int64
		var flags []bool
		before := int64(0)
		for page := 0; page < 20; page++ {
			msgs, more, err := ms.Before(ctx, ch, before, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(msgs))
			}
			got = append(got, ids(msgs)...)
			flags = append(flags, more)
			if !more {
				break
			}
			if len(msgs) == 0 {
				t.Fatalf("limit %d: empty page with hasMore", limit)
			}
			before = msgs[len(msgs)-1].ID
		}
		if !slices.Equal(got, reversed(allIDs)) {
			t.Errorf("Before, limit %d: %v, want %v (newest first, nothing older than the channel)", limit, got, reversed(allIDs))
		}
		wantPages := (len(all) + limit - 1) / limit
		if len(flags) != wantPages {
			t.Errorf("Before, limit %d: %d pages (hasMore %v), want %d", limit, len(flags), flags, wantPages)
		}
	}
	// A cursor in the middle of a bucket.
	msgs, more, err := ms.Before(ctx, ch, all[4].ID, 2)
	if err != nil || !more || !slices.Equal(ids(msgs), []int64{all[3].ID, all[2].ID}) {
		t.Errorf("Before(all[4], 2) = %v, %v, %v", ids(msgs), more, err)
	}
	msgs, more, err = ms.Before(ctx, ch, all[1].ID, 5)
	if err != nil || more || !slices.Equal(ids(msgs), []int64{all[0].ID}) {
		t.Errorf("Before(all[1], 5) = %v, %v, %v", ids(msgs), more, err)
	}
	if msgs, more, err := ms.Before(ctx, ch, all[0].ID, 5); err != nil || more || len(msgs) != 0 {
		t.Errorf("Before(oldest) = %v, %v, %v; want nothing", ids(msgs), more, err)
	}

	// After: oldest first.
	for _, limit := range []int{1, 2, 3, 6, 7, 8, 50} {
		var got []int64
		var flags []bool
		after := int64(0)
		for page := 0; page < 20; page++ {
			msgs, more, err := ms.After(ctx, ch, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(msgs))
			}
			got = append(got, ids(msgs)...)
			flags = append(flags, more)
			if !more {
				break
			}
			if len(msgs) == 0 {
				t.Fatalf("limit %d: empty page with hasMore", limit)
			}
			after = msgs[len(msgs)-1].ID
		}
		if !slices.Equal(got, allIDs) {
			t.Errorf("After, limit %d: %v, want %v", limit, got, allIDs)
		}
		wantPages := (len(all) + limit - 1) / limit
		if len(flags) != wantPages {
			t.Errorf("After, limit %d: %d pages (hasMore %v), want %d", limit, len(flags), flags, wantPages)
		}
	}
	msgs, more, err = ms.After(ctx, ch, all[2].ID, 2)
	if err != nil || !more || !slices.Equal(ids(msgs), []int64{all[3].ID, all[4].ID}) {
		t.Errorf("After(all[2], 2) = %v, %v, %v", ids(msgs), more, err)
	}
	if msgs, more, err := ms.After(ctx, ch, all[len(all)-1].ID, 5); err != nil || more || len(msgs) != 0 {
		t.Errorf("After(newest) = %v, %v, %v; want nothing", ids(msgs), more, err)
	}
	// Pages carry the full message.
	msgs, _, _ = ms.After(ctx, ch, 0, 1)
	if len(msgs) != 1 || msgs[0].Content != all[0].Content || msgs[0].SenderID != sender || msgs[0].ChannelID != ch ||
		!msgs[0].CreatedAt.Equal(snowflake.Time(all[0].ID)) {
		t.Errorf("first message = %+v, want %+v", msgs, all[0])
	}
	// The message that predates the channel is stored but never paged.
	if got, err := ms.Get(ctx, ch, prehistoric.ID); err != nil || got.Content != prehistoric.Content {
		t.Fatalf("Get(prehistoric) = %+v, %v", got, err)
	}
}

func TestDeletedMessagesAreSkippedInPages(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	k0 := currentBucket() - 3
	ch := channelAt(bucketStart(k0).Add(time.Hour))
	sender := randomSender()
	var all []model.Message
	for i := 0; i < 4; i++ {
		all = append(all, msg(ch, bucketStart(k0).Add(time.Duration(2+i)*time.Hour), 0, sender, fmt.Sprintf("a%d", i)))
	}
	for i := 0; i < 4; i++ {
		all = append(all, msg(ch, bucketStart(k0+1).Add(time.Duration(1+i)*time.Hour), 0, sender, fmt.Sprintf("b%d", i)))
	}
	all[6].Nonce = fmt.Sprintf("del-%d", sender)
	if err := ms.InsertBatch(ctx, all, 0); err != nil {
		t.Fatal(err)
	}
	// Delete the newest of each bucket plus two in the middle, including both sides of the bucket boundary.
	deleted := map[int]bool{1: true, 3: true, 4: true, 6: true, 7: true}
	for i := range deleted {
		if err := ms.Delete(ctx, ch, all[i].ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	var visible []int64
	for i, m := range all {
		if !deleted[i] {
			visible = append(visible, m.ID)
		}
	}
	for _, limit := range []int{1, 2, 3, 4} {
		var got []int64
		before := int64(0)
		for {
			msgs, more, err := ms.Before(ctx, ch, before, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) > limit || (more && len(msgs) != limit) {
				t.Fatalf("limit %d: page of %d with hasMore %v", limit, len(msgs), more)
			}
			got = append(got, ids(msgs)...)
			if !more {
				break
			}
			before = msgs[len(msgs)-1].ID
		}
		if !slices.Equal(got, reversed(visible)) {
			t.Errorf("Before, limit %d: %v, want %v", limit, got, reversed(visible))
		}
		got = nil
		after := int64(0)
		for {
			msgs, more, err := ms.After(ctx, ch, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) > limit || (more && len(msgs) != limit) {
				t.Fatalf("limit %d: page of %d with hasMore %v", limit, len(msgs), more)
			}
			got = append(got, ids(msgs)...)
			if !more {
				break
			}
			after = msgs[len(msgs)-1].ID
		}
		if !slices.Equal(got, visible) {
			t.Errorf("After, limit %d: %v, want %v", limit, got, visible)
		}
	}
	// Only deleted messages remain after all[5]: no page, no hasMore.
	if msgs, more, err := ms.After(ctx, ch, all[5].ID, 1); err != nil || more || len(msgs) != 0 {
		t.Errorf("After(all[5]) = %v, %v, %v; want nothing (the rest is deleted)", ids(msgs), more, err)
	}
	// Range (the search index's catch-up) reads deleted rows too, marked and emptied, across buckets.
	var ranged []model.Message
	for after := int64(0); ; {
		msgs, more, err := ms.Range(ctx, ch, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		ranged = append(ranged, msgs...)
		if !more {
			break
		}
		after = msgs[len(msgs)-1].ID
	}
	if !slices.Equal(ids(ranged), ids(all)) {
		t.Errorf("Range: %v, want every row %v", ids(ranged), ids(all))
	}
	for i, m := range ranged {
		if m.Deleted != deleted[i] || (m.Deleted && m.Content != "") || (!m.Deleted && m.Content != all[i].Content) {
			t.Errorf("Range row %d: %+v", i, m)
		}
	}
	// Get still returns a deleted message, marked and emptied.
	for i := range deleted {
		got, err := ms.Get(ctx, ch, all[i].ID)
		if err != nil || !got.Deleted || got.Content != "" || got.SenderID != sender || got.ID != all[i].ID {
			t.Errorf("Get(deleted %d) = %+v, %v", i, got, err)
		}
	}
	if got, err := ms.Get(ctx, ch, all[0].ID); err != nil || got.Deleted || got.Content != "a0" {
		t.Errorf("Get(visible) = %+v, %v", got, err)
	}
}

func TestEdit(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	base := bucketStart(currentBucket() - 1)
	ch := channelAt(base)
	sender := randomSender()
	in := []model.Message{
		msg(ch, base.Add(time.Hour), 0, sender, "first"),
		msg(ch, base.Add(2*time.Hour), 0, sender, "second"),
		msg(ch, base.Add(3*time.Hour), 0, sender, "third"),
		msg(ch, base.Add(4*time.Hour), 0, sender, "fourth"),
	}
	if err := ms.InsertBatch(ctx, in, 0); err != nil {
		t.Fatal(err)
	}
	editedAt := time.Now().UTC().Truncate(time.Millisecond)
	edit := func(m model.Message, content string) model.Message { m.Content = content; return m }
	if err := ms.Edit(ctx, edit(in[2], "third, edited"), editedAt, 0); err != nil {
		t.Fatal(err)
	}
	got, err := ms.Get(ctx, ch, in[2].ID)
	if err != nil || got.Content != "third, edited" || got.EditedAt == nil || !got.EditedAt.Equal(editedAt) || got.Deleted || got.SenderID != sender {
		t.Fatalf("Get after Edit = %+v, %v; want new content, edited at %v", got, err, editedAt)
	}
	if got.EditedAt.Location() != time.UTC {
		t.Errorf("EditedAt not in UTC")
	}
	// Edit, then delete, the newest: in a newest-first page the rows after an edited (and after an edited
	// and deleted) row must not inherit its edit time.
	if err := ms.Edit(ctx, edit(in[3], "fourth, edited"), editedAt.Add(time.Second), 0); err != nil {
		t.Fatal(err)
	}
	if err := ms.Delete(ctx, ch, in[3].ID, 0); err != nil {
		t.Fatal(err)
	}
	page, _, err := ms.Before(ctx, ch, 0, 10)
	if err != nil || len(page) != 3 {
		t.Fatalf("Before = %+v, %v", page, err)
	}
	if page[0].ID != in[2].ID || page[0].EditedAt == nil || !page[0].EditedAt.Equal(editedAt) || page[0].Content != "third, edited" {
		t.Errorf("edited message in page = %+v", page[0])
	}
	for _, m := range page[1:] {
		if m.EditedAt != nil {
			t.Errorf("unedited message %d in page has EditedAt %v", m.ID, *m.EditedAt)
		}
	}
	if d, err := ms.Get(ctx, ch, in[3].ID); err != nil || !d.Deleted || d.Content != "" || d.EditedAt == nil {
		t.Errorf("edited-then-deleted message = %+v, %v", d, err)
	}
	// Get of an unedited neighbour has no edit time.
	if u, err := ms.Get(ctx, ch, in[1].ID); err != nil || u.EditedAt != nil || u.Content != "second" {
		t.Errorf("unedited message = %+v, %v", u, err)
	}
	asc, _, err := ms.After(ctx, ch, 0, 10)
	if err != nil || len(asc) != 3 || asc[2].EditedAt == nil || asc[0].EditedAt != nil || asc[1].EditedAt != nil {
		t.Errorf("After page edit times wrong: %+v, %v", asc, err)
	}
}

func TestNoncesReadsTheRecentRowsOfAChannelAcrossBuckets(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	cur := bucketStart(currentBucket())
	ch := channelAt(cur.Add(-48 * time.Hour))
	sender, other := randomSender(), randomSender()
	// Two messages at the end of the previous bucket, three at the start of the current one, one of them deleted.
	var in []model.Message
	for i, at := range []time.Time{cur.Add(-2 * time.Hour), cur.Add(-time.Hour), cur, cur, cur} {
		m := msg(ch, at, i, sender, fmt.Sprint("n", i))
		if i == 3 {
			m.SenderID = other
		}
		m.Nonce = fmt.Sprint("nonce-", i)
		in = append(in, m)
	}
	if err := ms.InsertBatch(ctx, in, 0); err != nil {
		t.Fatal(err)
	}
	if err := ms.Delete(ctx, ch, in[4].ID, 0); err != nil {
		t.Fatal(err)
	}
	got, err := ms.Nonces(ctx, ch, in[1].ID, 100) // from the second message on, newest first, the deleted one too
	if err != nil {
		t.Fatal(err)
	}
	if want := reversed(ids(in[1:])); !slices.Equal(ids(got), want) {
		t.Fatalf("Nonces = %v, want %v", ids(got), want)
	}
	for _, g := range got {
		i := slices.IndexFunc(in, func(m model.Message) bool { return m.ID == g.ID })
		if g.Nonce != in[i].Nonce || g.SenderID != in[i].SenderID || g.ChannelID != ch || g.Content != "" {
			t.Errorf("row %d = %+v, want nonce %q sender %d", i, g, in[i].Nonce, in[i].SenderID)
		}
	}
	// The limit keeps the newest rows, also when it ends inside the older bucket.
	for limit, want := range map[int][]int64{2: reversed(ids(in[3:])), 4: reversed(ids(in[1:]))} {
		if got, err := ms.Nonces(ctx, ch, in[0].ID, limit); err != nil || !slices.Equal(ids(got), want) {
			t.Errorf("Nonces(limit %d) = %v, %v; want %v", limit, ids(got), err, want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ms.Nonces(cctx, ch, in[0].ID, 10); err == nil {
		t.Error("Nonces with a cancelled context: no error")
	}
}

// 60 messages of 3,000 characters in one partition (180 KB) exceed Cassandra's batch size limit in a single
// batch; InsertBatch splits them (and the 90 small ones past 100 statements) and stores every one.
func TestInsertBatchLargerThanBatchCap(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	base := bucketStart(currentBucket() - 1)
	ch := channelAt(base)
	sender := randomSender()
	var in []model.Message
	for i := 0; i < 150; i++ {
		content := fmt.Sprintf("small %d", i)
		if i < 60 {
			content = fmt.Sprintf("%04d", i) + strings.Repeat(string(rune('a'+i%26)), 2996)
		}
		m := msg(ch, base.Add(time.Hour+time.Duration(i)*time.Second), 0, sender, content)
		m.Nonce = fmt.Sprintf("bulk-%d", i)
		in = append(in, m)
	}
	if err := ms.InsertBatch(ctx, in, 0); err != nil {
		t.Fatal(err)
	}
	got, more, err := ms.After(ctx, ch, 0, 200)
	if err != nil || more {
		t.Fatalf("After = %d messages, %v, %v", len(got), more, err)
	}
	if len(got) != len(in) {
		t.Fatalf("stored %d of %d messages", len(got), len(in))
	}
	for i := range in {
		if got[i].ID != in[i].ID || got[i].Content != in[i].Content || got[i].Nonce != in[i].Nonce {
			t.Fatalf("message %d: got id %d (%d chars), want id %d (%d chars)", i, got[i].ID, len(got[i].Content), in[i].ID, len(in[i].Content))
		}
	}
	// A single 3,000-character message is one statement of its own; all in one more call also works when
	// the messages alternate between two partitions.
	ch2 := channelAt(base)
	var mixed []model.Message
	for i := 0; i < 20; i++ {
		at := base.Add(time.Hour + time.Duration(i)*time.Second)
		if i%2 == 1 {
			at = at.Add(cassandra.BucketWidth)
		}
		mixed = append(mixed, msg(ch2, at, 0, sender, strings.Repeat("x", 3000)))
	}
	if err := ms.InsertBatch(ctx, mixed, 0); err != nil {
		t.Fatal(err)
	}
	if got, _, err := ms.Before(ctx, ch2, 0, 100); err != nil || len(got) != len(mixed) {
		t.Fatalf("mixed partitions: %d stored, %v", len(got), err)
	}
}

func TestStoreReportsErrors(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch := channelAt(time.Now().Add(-time.Hour))
	m := msg(ch, time.Now().Add(-time.Minute), 0, 1, "x")
	if err := ms.InsertBatch(ctx, []model.Message{m}, 0); err == nil {
		t.Error("InsertBatch without nonce, cancelled: no error")
	}
	m.Nonce = "n"
	if err := ms.InsertBatch(ctx, []model.Message{m}, 0); err == nil {
		t.Error("InsertBatch with nonce, cancelled: no error")
	}
	if _, err := ms.Get(ctx, ch, m.ID); err == nil || errors.Is(err, model.ErrNotFound) {
		t.Errorf("Get, cancelled: %v", err)
	}
	if _, _, err := ms.Before(ctx, ch, 0, 10); err == nil {
		t.Error("Before, cancelled: no error")
	}
	if _, _, err := ms.After(ctx, ch, 0, 10); err == nil {
		t.Error("After, cancelled: no error")
	}
}

func TestConnectValidatesConfig(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	_, shared := testenv.SharedCassandra(t)

	bad := shared
	bad.Keyspace = "bad-keyspace!"
	if _, err := cassandra.Connect(ctx, bad); err == nil || !strings.Contains(err.Error(), "invalid keyspace") {
		t.Errorf("bad keyspace name: err = %v", err)
	}
	bad = shared
	bad.Keyspace = "9starts_with_digit"
	if _, err := cassandra.Connect(ctx, bad); err == nil {
		t.Error("keyspace starting with a digit accepted")
	}
	bad = shared
	bad.Consistency = "SOMETIMES"
	if _, err := cassandra.Connect(ctx, bad); err == nil || !strings.Contains(err.Error(), "unknown consistency") {
		t.Errorf("unknown consistency: err = %v", err)
	}
	// Every known consistency is accepted (the failure is then about the closed port, not the setting).
	for _, c := range []string{"", "local_quorum", "LOCAL_QUORUM", "QUORUM", "one", "LOCAL_ONE", "ALL", "each_quorum"} {
		cfg := shared
		cfg.Hosts = []string{"127.0.0.1:1"}
		cfg.Consistency = c
		cfg.Timeout = 0 // the default applies
		_, err := cassandra.Connect(ctx, cfg)
		if err == nil || strings.Contains(err.Error(), "unknown consistency") || !strings.Contains(err.Error(), "connecting") {
			t.Errorf("consistency %q against a closed port: err = %v", c, err)
		}
	}
	// A replication map Cassandra rejects.
	bad = shared
	bad.Keyspace = testenv.UniqueName("never")
	bad.Replication = "{'class': 'NoSuchStrategy'}"
	if _, err := cassandra.Connect(ctx, bad); err == nil || !strings.Contains(err.Error(), "creating keyspace") {
		t.Errorf("bad replication: err = %v", err)
	}
}

func TestConnectToExistingKeyspaceAndPing(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	shared, cfg := testenv.SharedCassandra(t)
	if err := cassandra.Ping(ctx, shared); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cfg.Consistency = "quorum"
	s, err := cassandra.Connect(ctx, cfg) // the keyspace exists: CREATE ... IF NOT EXISTS is a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c := s.Query("SELECT now() FROM system.local").GetConsistency(); c != gocql.Quorum {
		t.Errorf("session consistency = %v, want QUORUM", c)
	}
	if err := cassandra.Ping(ctx, s); err != nil {
		t.Fatalf("Ping on the new session: %v", err)
	}
	// The session is bound to the keyspace: unqualified table names resolve.
	var n int
	if err := s.Query("SELECT count(*) FROM schema_migrations").ScanContext(ctx, &n); err != nil || n != 1 {
		t.Fatalf("schema_migrations rows = %d, %v", n, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := cassandra.Ping(cctx, s); err == nil {
		t.Fatal("Ping with a cancelled context succeeded")
	}
}

// Uses a private keyspace (slow schema changes): the only test that does.
func TestMigrateTwiceIsNoop(t *testing.T) {
	t.Parallel()
	s := testenv.Cassandra(t) // migrated once
	ctx := testCtx(t)
	v, err := cassandra.Migrate(ctx, s)
	if err != nil || v != 7 {
		t.Fatalf("second Migrate = %d, %v; want 7, nil", v, err)
	}
	var version int64
	var dirty bool
	if err := s.Query("SELECT version, dirty FROM schema_migrations WHERE id = 0").ScanContext(ctx, &version, &dirty); err != nil || version != 7 || dirty {
		t.Fatalf("schema_migrations = %d dirty %v, %v", version, dirty, err)
	}
	// The tables work.
	ms := cassandra.NewMessageStore(s)
	base := bucketStart(currentBucket() - 1)
	m := msg(channelAt(base), base.Add(time.Hour), 0, 1, "after migrating twice")
	m.Nonce = "migrated"
	if err := ms.InsertBatch(ctx, []model.Message{m}, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := ms.Nonces(ctx, m.ChannelID, m.ID, 10); err != nil || len(got) != 1 || got[0].Nonce != "migrated" {
		t.Fatalf("Nonces = %+v, %v", got, err)
	}
	// Migration 2 dropped the separate nonce table (the nonce is a column of the message row).
	var tables int
	if err := s.Query("SELECT count(*) FROM system_schema.tables WHERE keyspace_name = ? AND table_name = 'message_nonces'",
		s.Query("SELECT now() FROM system.local").Keyspace()).ScanContext(ctx, &tables); err != nil || tables != 0 {
		t.Fatalf("message_nonces tables = %d, %v; want 0", tables, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := cassandra.Migrate(cctx, s); err == nil {
		t.Fatal("Migrate with a cancelled context succeeded")
	}
}

// Mentions are stored with the message, read back with it, and replaced (or cleared) by an edit; a message that
// mentions nobody leaves the columns unset.
func TestMentionsRoundTrip(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	base := bucketStart(currentBucket())
	ch := channelAt(base.Add(-time.Hour))
	sender := randomSender()
	a := msg(ch, base.Add(time.Minute), 0, sender, "hi <@11> and <@12>")
	a.Mentions = []int64{11, 12}
	b := msg(ch, base.Add(2*time.Minute), 0, sender, "@everyone look")
	b.MentionEveryone = true
	c := msg(ch, base.Add(3*time.Minute), 0, sender, "plain")
	if err := ms.InsertBatch(ctx, []model.Message{a, b, c}, 0); err != nil {
		t.Fatal(err)
	}
	page, _, err := ms.After(ctx, ch, 0, 10)
	if err != nil || len(page) != 3 {
		t.Fatalf("After = %+v, %v", page, err)
	}
	if !slices.Equal(page[0].Mentions, []int64{11, 12}) || page[0].MentionEveryone || !page[1].MentionEveryone ||
		page[1].Mentions != nil || page[2].Mentions != nil || page[2].MentionEveryone {
		t.Fatalf("mentions read back wrong: %+v", page)
	}
	a.Content, a.Mentions = "hi <@13>", []int64{13}
	if err := ms.Edit(ctx, a, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	b.Content, b.MentionEveryone = "never mind", false
	if err := ms.Edit(ctx, b, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	ga, _ := ms.Get(ctx, ch, a.ID)
	gb, _ := ms.Get(ctx, ch, b.ID)
	if !slices.Equal(ga.Mentions, []int64{13}) || gb.MentionEveryone || gb.Mentions != nil {
		t.Fatalf("after edits: %+v / %+v", ga, gb)
	}
}

type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) ObserveQuery(context.Context, gocql.ObservedQuery) { c.n.Add(1) }

// A page before an id far in the future (the largest id there is) starts at the newest possible bucket: a
// client cannot make one history request walk thousands of empty partitions.
func TestBeforeFarFutureCostsNoMoreThanNewest(t *testing.T) {
	ctx := testCtx(t)
	_, cfg := testenv.SharedCassandra(t)
	counter := &queryCounter{}
	cfg.Observer = counter
	s, err := cassandra.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ms := cassandra.NewMessageStore(s)
	ch := channelAt(time.Now().Add(-2 * cassandra.BucketWidth)) // three buckets: two old, the current one
	want := msg(ch, time.Now(), 1, randomSender(), "newest")
	if err := ms.InsertBatch(ctx, []model.Message{want}, 0); err != nil {
		t.Fatal(err)
	}
	cost := func(before int64) int64 {
		counter.n.Store(0)
		got, more, err := ms.Before(ctx, ch, before, 10)
		if err != nil || more || len(got) != 1 || got[0].ID != want.ID {
			t.Fatalf("Before(%d) = %v, %v, %v", before, ids(got), more, err)
		}
		return counter.n.Load()
	}
	newest, far := cost(0), cost(math.MaxInt64)
	if far != newest || newest > 4 {
		t.Errorf("Before(max int64) ran %d queries, Before(0) %d; want the same few", far, newest)
	}
}

// Attachments travel in the message row (no second read for history) and are cleared by a delete.
func TestAttachmentsRoundTrip(t *testing.T) {
	t.Parallel()
	ms, _ := store(t)
	ctx := testCtx(t)
	ch := channelAt(time.Now())
	sender := randomSender()
	m := msg(ch, time.Now(), 1, sender, "")
	m.Attachments = []model.Attachment{
		{ID: 7, Name: "photo.jpg", ContentType: "image/jpeg", Size: 12345, Width: 800, Height: 600, Preview: true},
		{ID: 8, Name: "main.go", ContentType: "text/plain", Size: 42, Snippet: "package main\n\nfunc main() {}"},
	}
	plain := msg(ch, time.Now(), 2, sender, "no files")
	if err := ms.InsertBatch(ctx, []model.Message{m, plain}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := ms.Get(ctx, ch, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Attachments) != 2 || got.Attachments[0].Name != "photo.jpg" || !got.Attachments[0].Preview || got.Attachments[0].Width != 800 ||
		got.Attachments[1].Snippet != m.Attachments[1].Snippet || got.Attachments[1].ChannelID != ch || got.Attachments[1].MessageID != m.ID ||
		got.Attachments[0].Status != model.AttachmentAttached {
		t.Fatalf("attachments read back: %+v", got.Attachments)
	}
	if p, _ := ms.Get(ctx, ch, plain.ID); p.Attachments != nil {
		t.Fatalf("a message without files has %+v", p.Attachments)
	}
	if err := ms.Delete(ctx, ch, m.ID, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := ms.Get(ctx, ch, m.ID); !got.Deleted || got.Attachments != nil {
		t.Fatalf("after delete: deleted=%v attachments %+v", got.Deleted, got.Attachments)
	}
}
