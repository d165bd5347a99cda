package attachments_test

import (
	"testing"

	"github.com/parleychat/parley/internal/testenv"
)

// TestMain drops what this process's tests shared (testenv.Main).
func TestMain(m *testing.M) { testenv.Main(m) }
