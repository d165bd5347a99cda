package keysapi_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/parleychat/parley/services/keys"
)

// /metrics counts the requests by route pattern and status and the database calls behind them.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keys.DefaultPolicy)
	alice := e.newUser()
	dev := e.device(alice)
	e.must(e.do(alice, "GET", "/v1/devices", nil), 200)
	e.must(e.do(user{}, "GET", "/v1/devices", nil), 401)
	e.must(e.do(alice, "DELETE", "/v1/devices/"+dev+"/welcomes/999", nil), 404)
	e.do(alice, "GET", "/nowhere", nil)

	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(b)
	value := func(series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	for series, want := range map[string]float64{
		`parley_http_requests_total{method="POST",node="1",route="/v1/devices",status="201"}`:                             1,
		`parley_http_requests_total{method="GET",node="1",route="/v1/devices",status="200"}`:                              1,
		`parley_http_requests_total{method="GET",node="1",route="/v1/devices",status="401"}`:                              1,
		`parley_http_requests_total{method="DELETE",node="1",route="/v1/devices/{id}/welcomes/{welcomeId}",status="404"}`: 1,
		`parley_http_requests_total{method="GET",node="1",route="unmatched",status="404"}`:                                1,
	} {
		if got := value(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := value(`parley_db_call_seconds_count{node="1",op="insert",store="postgres"}`); got < 1 {
		t.Errorf("no Postgres insert counted (%v)", got)
	}
	if value(`go_goroutines{node="1"}`) <= 0 {
		t.Error("no Go runtime metrics")
	}
}
