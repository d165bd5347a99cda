// Package objectstore holds what the object store implementations share: the error for a missing object and
// the rule for keys. The implementations are fs (a local directory, the default for one node) and s3 (any
// S3-compatible store, for production and several nodes); services declare the interface they use.
package objectstore

import (
	"fmt"
	"regexp"

	"github.com/parleychat/parley/internal/model"
)

// ErrNotFound is returned by Get for a key that holds no object (model.ErrNotFound, so services need not
// import this package).
var ErrNotFound = model.ErrNotFound

// keyPattern: keys are made by the server (ids and fixed suffixes), never from user input; the pattern keeps
// a bug from ever turning into a path outside the store (no "..", no leading slash, no backslash).
var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}(/[a-z0-9][a-z0-9_.-]{0,63}){0,4}$`)

// CheckKey reports whether key is a valid object key.
func CheckKey(key string) error {
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("objectstore: invalid key %q", key)
	}
	return nil
}
