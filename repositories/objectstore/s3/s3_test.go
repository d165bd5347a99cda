package s3_test

import (
	"context"
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
