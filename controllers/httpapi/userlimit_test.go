package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/parleychat/parley/cmd/server/testserver"
)

// Each signed-in user has a REST budget: a burst, then 429 with Retry-After; another user is not affected.
func TestAuthenticatedRequestsAreLimitedPerUser(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_API_RATE": "1", "PARLEY_API_BURST": "5"}})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	for i := range 5 {
		if res := s.Do(t, "GET", "/api/users/me", alice.AccessToken, nil); res.Status != http.StatusOK {
			t.Fatalf("request %d of a burst of 5: %d %s", i+1, res.Status, res.Body)
		}
	}
	res := s.Do(t, "GET", "/api/servers", alice.AccessToken, nil)
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("6th request: %d (Retry-After %q) %s, want 429", res.Status, res.Header.Get("Retry-After"), res.Body)
	}
	if res := s.Do(t, "GET", "/api/users/me", bob.AccessToken, nil); res.Status != http.StatusOK {
		t.Fatalf("another user: %d", res.Status)
	}
}
