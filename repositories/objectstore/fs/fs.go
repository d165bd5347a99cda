// Package fs stores objects as files under one directory: the default for a single node (`make run` keeps them
// under .local/). Writes go to a temporary file in the same directory and are renamed into place after an
// fsync, so a reader never sees half an object and a crash leaves at most a stray temporary file.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/parleychat/parley/repositories/objectstore"
)

// Store is a directory of objects.
type Store struct{ root string }

// Open uses (and creates) dir.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("object store directory: %w", err)
	}
	return &Store{root: abs}, nil
}

func (s *Store) path(key string) (string, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put stores size bytes from r under key. A reader that ends early or yields more than size is an error and
// stores nothing.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(ctxReader{ctx, r}, size+1))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("objectstore: %d bytes for an object of %d", n, size)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	ok = true
	return nil
}

// Get opens an object; the caller closes it.
func (s *Store) Get(_ context.Context, key string) (io.ReadCloser, int64, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, objectstore.ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// Delete removes an object; deleting a missing one is not an error.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Keys lists up to limit keys under prefix (a folder: "att/") that sort after after, in key order: the orphan
// sweeper walks the store with it a page at a time. Temporary files of writes in progress are not keys. The walk
// goes folder by folder in name order, which is key order as long as no folder name holds a character that sorts
// before "/" ('-', '.'): true of the keys the server makes (ids and fixed words).
func (s *Store) Keys(_ context.Context, prefix, after string, limit int) ([]string, error) {
	dir := filepath.Join(s.root, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if len(out) >= limit {
			return fs.SkipAll
		}
		rel, rerr := filepath.Rel(s.root, p)
		if rerr != nil {
			return rerr
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			// WalkDir goes in lexical order; a folder whose every key sorts before after is skipped whole.
			if p != dir && key+"/" < after && !strings.HasPrefix(after, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if key > after && objectstore.CheckKey(key) == nil {
			out = append(out, key)
		}
		return nil
	})
	return out, err
}

// Ping checks that the directory is still there (readiness).
func (s *Store) Ping(context.Context) error {
	_, err := os.Stat(s.root)
	return err
}

// ctxReader stops a copy when the request is cancelled (an aborted upload).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
