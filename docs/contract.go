// Package docs embeds the API contracts (openapi.yaml, asyncapi.yaml, keys-openapi.yaml) so the server can serve them and the tests
// can check real traffic against them. The YAML files are the source; JSON is derived once.
package docs

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var openAPIYAML []byte

//go:embed asyncapi.yaml
var asyncAPIYAML []byte

//go:embed keys-openapi.yaml
var keysOpenAPIYAML []byte

// OpenAPIYAML is the OpenAPI 3.1 document of the REST API.
func OpenAPIYAML() []byte { return openAPIYAML }

// KeysOpenAPIYAML is the OpenAPI 3.1 document of the key service (cmd/keys).
func KeysOpenAPIYAML() []byte { return keysOpenAPIYAML }

// AsyncAPIYAML is the AsyncAPI 3 document of the Socket.IO events.
func AsyncAPIYAML() []byte { return asyncAPIYAML }

// OpenAPIJSON is the OpenAPI document as JSON (served at /api/openapi.json).
var OpenAPIJSON = sync.OnceValues(func() ([]byte, error) { return toJSON(openAPIYAML) })

// AsyncAPIJSON is the AsyncAPI document as JSON (served at /api/asyncapi.json).
var AsyncAPIJSON = sync.OnceValues(func() ([]byte, error) { return toJSON(asyncAPIYAML) })

// KeysOpenAPIJSON is the key service's OpenAPI document as JSON.
var KeysOpenAPIJSON = sync.OnceValues(func() ([]byte, error) { return toJSON(keysOpenAPIYAML) })

func toJSON(y []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	return json.Marshal(v)
}
