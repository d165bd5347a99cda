// Command gen writes frontend/src/api/rules.gen.ts from internal/rules (run by go generate ./internal/rules).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/parleychat/parley/internal/rules"
)

func main() {
	// go generate runs in internal/rules; the repository root is two levels up.
	out := filepath.Join("..", "..", filepath.FromSlash(rules.TypeScriptPath))
	if err := os.WriteFile(out, rules.TypeScript(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "rules/gen:", err)
		os.Exit(1)
	}
}
