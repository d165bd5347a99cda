package app

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Imports point one way: cmd → controllers → services → repositories → internal (the foundation). The test
// harness internal/testenv may import repositories (it migrates each test's databases with their own migrations);
// test files may import anything (integration tests build the whole server through cmd/server/testserver).
func TestImportsPointOneWay(t *testing.T) {
	const module = "github.com/parleychat/parley/"
	rank := func(dir string) int { // higher may import lower
		switch top, _, _ := strings.Cut(dir, "/"); top {
		case "internal":
			return 0
		case "repositories":
			return 1
		case "services":
			return 2
		case "controllers":
			return 3
		case "cmd":
			return 4
		}
		return -1
	}
	root := filepath.Join("..", "..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		from := rank(rel)
		if from < 0 {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			dep, ok := strings.CutPrefix(p, module)
			if !ok {
				continue
			}
			to := rank(dep)
			if to > from && !(strings.HasPrefix(rel, "internal/testenv/") && strings.HasPrefix(dep, "repositories/")) {
				t.Errorf("%s imports %s: imports must point down (cmd → controllers → services → repositories → internal)", rel, dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked: is the repository root right?", checked)
	}
}
