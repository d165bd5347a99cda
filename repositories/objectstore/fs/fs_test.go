package fs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/repositories/objectstore/fs"
	"github.com/parleychat/parley/repositories/objectstore/storetest"
)

func TestFSStore(t *testing.T) {
	dir := t.TempDir()
	s, err := fs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s, "suite")
	// Failed and aborted puts leave no temporary files behind.
	var stray []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() && filepath.Base(p)[0] == '.' {
			stray = append(stray, p)
		}
		return nil
	})
	if len(stray) > 0 {
		t.Fatalf("temporary files left: %v", stray)
	}
}
