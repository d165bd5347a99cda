package s3_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/objectstore/s3"
	"github.com/parleychat/parley/repositories/objectstore/storetest"
)

// TestS3Store runs the object store suite against the real S3 server of the local stack (versitygw).
func TestS3Store(t *testing.T) {
	s := testenv.S3(t)
	storetest.Run(t, s, testenv.UniqueName("suite"))
}

func TestS3OpenRefusesBadEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, ep := range []string{"", "127.0.0.1:1", "ftp://x", "http://"} {
		if _, err := s3.Open(ctx, s3.Config{Endpoint: ep, Bucket: "b"}); err == nil {
			t.Errorf("endpoint %q accepted", ep)
		}
	}
	// Wrong credentials: the server refuses, Open says so instead of failing later on the first upload.
	cfg := testenv.S3Config(t)
	cfg.SecretKey = "wrong-" + cfg.SecretKey
	if _, err := s3.Open(ctx, cfg); err == nil {
		t.Error("wrong credentials accepted")
	}
}

// A store with a Prefix keeps its keys in a folder of the bucket and sees only them.
func TestS3Prefix(t *testing.T) {
	ctx := context.Background()
	whole := testenv.S3(t)
	cfg := testenv.S3Config(t)
	cfg.Prefix = testenv.UniqueName("tenant") + "/"
	inner, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := inner.Put(ctx, "att/1/file", strings.NewReader("abc"), 3, "text/plain"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inner.Delete(ctx, "att/1/file") })
	rc, size, err := whole.Get(ctx, cfg.Prefix+"att/1/file")
	if err != nil || size != 3 {
		t.Fatalf("the object is not under the prefix: %v", err)
	}
	rc.Close()
	keys, err := inner.Keys(ctx, "att/", "", 10)
	if err != nil || len(keys) != 1 || keys[0] != "att/1/file" {
		t.Fatalf("keys %q %v", keys, err)
	}
}
