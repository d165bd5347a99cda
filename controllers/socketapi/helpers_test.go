package socketapi_test

import (
	"testing"

	"github.com/parleychat/parley/internal/testenv"
)

func testenvPostgres(t *testing.T) string { return testenv.PostgresURL(t) }
