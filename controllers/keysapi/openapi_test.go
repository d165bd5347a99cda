package keysapi_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/parleychat/parley/controllers/keysapi"
)

// Every route of the key service has an entry in docs/keys-openapi.yaml, and the document lists no route the
// service does not serve.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../../docs/keys-openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range keysapi.Routes() {
		served[r] = true
		if !documented[r] {
			t.Errorf("route %s is not in docs/keys-openapi.yaml", r)
		}
	}
	var extra []string
	for r := range documented {
		if !served[r] && regexp.MustCompile(`^[A-Z]+ /`).MatchString(r) {
			extra = append(extra, r)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("documented but not served: %v", extra)
	}
}
