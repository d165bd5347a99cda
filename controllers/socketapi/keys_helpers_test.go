package socketapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/parleychat/parley/cmd/server/testserver"
)

// keysCaller returns a function that calls the key service at base as an account and decodes its JSON answer;
// an answer of 300 or more fails the test.
func keysCaller(t *testing.T, base string) func(acc testserver.Account, method, path string, body any) map[string]any {
	return func(acc testserver.Account, method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+acc.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, out)
		}
		return out
	}
}

// opaqueBlob stands in for a key package or Commit: the key service stores them as bytes it never reads.
func opaqueBlob(tag string) string {
	return base64.StdEncoding.EncodeToString([]byte(tag + "-0123456789abcdef0123456789abcdef0123456789"))
}
