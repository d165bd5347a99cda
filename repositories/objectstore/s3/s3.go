// Package s3 stores objects in any S3-compatible object store through minio-go: what production and several
// nodes use (every node sees every object). Tests run it against the versitygw gateway the local stack starts.
package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/parleychat/parley/internal/observe"
	"github.com/parleychat/parley/repositories/objectstore"
)

// Config names the store: Endpoint is a URL (http://127.0.0.1:57070 or https://s3.example.com).
type Config struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	// Calls, when set, hears every request by method (metrics, tracing).
	Calls observe.Observer
	// Prefix puts every key under a folder of the bucket ("" = none): a bucket shared with other data, or
	// tests that must not see each other's objects.
	Prefix string
}

// Store is one bucket.
type Store struct {
	c      *minio.Client
	bucket string
	prefix string
}

// Open connects and creates the bucket if it does not exist.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("s3 endpoint must be an http(s) URL, got %q", cfg.Endpoint)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https",
		Region: cfg.Region,
		// Path-style requests work with every S3-compatible server; virtual-host style needs DNS per bucket.
		BucketLookup: minio.BucketLookupPath,
		Transport:    transport(cfg.Calls, u.Scheme == "https"),
	})
	if err != nil {
		return nil, err
	}
	s := &Store{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}
	exists, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %q: %w", cfg.Bucket, err)
	}
	if !exists {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			// Another node may have created it meanwhile.
			if exists, err2 := c.BucketExists(ctx, cfg.Bucket); err2 != nil || !exists {
				return nil, fmt.Errorf("creating s3 bucket %q: %w", cfg.Bucket, err)
			}
		}
	}
	return s, nil
}

// transport is minio-go's default transport, reporting each request to calls when set.
func transport(calls observe.Observer, secure bool) http.RoundTripper {
	rt, _ := minio.DefaultTransport(secure)
	if calls == nil {
		return rt
	}
	return observe.Transport(rt, "s3", calls, func(r *http.Request) string { return strings.ToLower(r.Method) })
}

// Put streams size bytes from r into key. With a known size and multipart off, minio-go sends one PUT that
// reads r as it goes (no part buffers: 20 uploads at once cost 20 small copy buffers, not 20 × 16 MiB).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		ContentType: contentType, DisableMultipart: true, SendContentMd5: false,
	})
	return err
}

// Get opens an object; the caller closes it. A missing key is objectstore.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return nil, 0, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, notFound(err)
	}
	// GetObject is lazy: Stat makes the request, so a missing key is reported here, not on the first Read.
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, 0, notFound(err)
	}
	return obj, st.Size, nil
}

// Delete removes an object; deleting a missing one is not an error (S3 semantics).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	return s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
}

// Keys lists up to limit keys under prefix (a folder: "att/") that sort after after, in key order (S3 lists
// in UTF-8 binary order): the orphan sweeper walks the bucket with it a page at a time.
func (s *Store) Keys(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine once limit keys came
	opts := minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true, MaxKeys: min(limit, 1000)}
	if after != "" {
		opts.StartAfter = s.prefix + after
	}
	var out []string
	for obj := range s.c.ListObjects(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if objectstore.CheckKey(key) == nil {
			out = append(out, key)
		}
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

// Ping checks that the bucket answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.c.BucketExists(ctx, s.bucket)
	return err
}

func notFound(err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.StatusCode == 404 || strings.EqualFold(resp.Code, "NoSuchKey") {
		return objectstore.ErrNotFound
	}
	return err
}
