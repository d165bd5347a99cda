// Package storetest is one behaviour suite that every object store implementation passes (fs against a temp
// directory, s3 against the real S3 server of the local stack).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/parleychat/parley/repositories/objectstore"
)

// Store is what the suite exercises.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Delete(ctx context.Context, key string) error
	Keys(ctx context.Context, prefix, after string, limit int) ([]string, error)
	Ping(ctx context.Context) error
}

// Run runs the suite; prefix keeps parallel runs on a shared bucket apart.
func Run(t *testing.T, s Store, prefix string) {
	ctx := context.Background()
	key := func(name string) string { return prefix + "/" + name }
	// A shared bucket (S3) keeps what a run leaves: delete every key the suite may have written.
	t.Cleanup(func() {
		for _, k := range []string{"big", "empty", "short", "aborted", "k", "list/a/1", "list/a/2", "list/b", "list/c/d/e"} {
			_ = s.Delete(ctx, key(k))
		}
	})

	t.Run("round trip of a multi-megabyte object", func(t *testing.T) {
		data := make([]byte, 3<<20+17)
		_, _ = rand.Read(data)
		if err := s.Put(ctx, key("big"), bytes.NewReader(data), int64(len(data)), "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
		rc, size, err := s.Get(ctx, key("big"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) || size != int64(len(data)) {
			t.Fatalf("read back %d bytes (info %d, err %v), want %d identical", len(got), size, err, len(data))
		}
	})
	t.Run("zero-byte object", func(t *testing.T) {
		if err := s.Put(ctx, key("empty"), bytes.NewReader(nil), 0, "text/plain"); err != nil {
			t.Fatal(err)
		}
		rc, size, err := s.Get(ctx, key("empty"))
		if err != nil || size != 0 {
			t.Fatalf("size %d, err %v", size, err)
		}
		rc.Close()
	})
	t.Run("short reader stores nothing", func(t *testing.T) {
		err := s.Put(ctx, key("short"), strings.NewReader("only eleven"), 100, "text/plain")
		if err == nil {
			t.Fatal("a body shorter than its size was accepted")
		}
		if _, _, err := s.Get(ctx, key("short")); !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("after a failed put: %v, want ErrNotFound", err)
		}
	})
	t.Run("failing reader stores nothing", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(strings.Repeat("x", 70_000)), errReader{})
		if err := s.Put(ctx, key("aborted"), r, 1<<20, "text/plain"); err == nil {
			t.Fatal("an aborted body was accepted")
		}
		if _, _, err := s.Get(ctx, key("aborted")); !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("after an aborted put: %v, want ErrNotFound", err)
		}
	})
	t.Run("overwrite, delete, delete again, missing", func(t *testing.T) {
		for _, v := range []string{"one", "two"} {
			if err := s.Put(ctx, key("k"), strings.NewReader(v), int64(len(v)), "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		rc, _, err := s.Get(ctx, key("k"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "two" {
			t.Fatalf("got %q after overwrite", b)
		}
		if err := s.Delete(ctx, key("k")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, key("k")); err != nil {
			t.Fatalf("deleting a missing object: %v", err)
		}
		if _, _, err := s.Get(ctx, key("k")); !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("after delete: %v, want ErrNotFound", err)
		}
	})
	t.Run("invalid keys are refused", func(t *testing.T) {
		for _, k := range []string{"../etc/passwd", "/abs", prefix + "/../x", "", prefix + "/a\\b", "UPPER"} {
			if err := s.Put(ctx, k, strings.NewReader("x"), 1, "text/plain"); err == nil {
				t.Errorf("key %q was accepted", k)
			}
		}
	})
	t.Run("keys are listed in order, a page at a time", func(t *testing.T) {
		want := []string{key("list/a/1"), key("list/a/2"), key("list/b"), key("list/c/d/e")}
		for _, k := range want {
			if err := s.Put(ctx, k, strings.NewReader("x"), 1, "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		after := ""
		for pages := 0; pages < 10; pages++ {
			page, err := s.Keys(ctx, key("list/"), after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 3 {
				t.Fatalf("page of %d keys, limit 3", len(page))
			}
			got = append(got, page...)
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1]
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("listed %q, want %q", got, want)
		}
		if page, err := s.Keys(ctx, key("list/"), key("list/a/2"), 10); err != nil || strings.Join(page, " ") != strings.Join(want[2:], " ") {
			t.Fatalf("after %q: %q %v", key("list/a/2"), page, err)
		}
		if page, err := s.Keys(ctx, key("nothing-here/"), "", 10); err != nil || len(page) != 0 {
			t.Fatalf("an empty folder: %q %v", page, err)
		}
	})
	t.Run("ping", func(t *testing.T) {
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }
