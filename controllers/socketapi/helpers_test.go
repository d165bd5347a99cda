package socketapi_test

import (
	"strconv"
	"testing"

	"github.com/parleychat/parley/internal/testenv"
)

func testenvPostgres(t *testing.T) string { return testenv.PostgresURL(t) }

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func ids0(i int) string { return strconv.Itoa(i) }
