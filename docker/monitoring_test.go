package docker_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/metrics"
)

// TestMonitoring: Prometheus scrapes the port the server serves its metrics on; Grafana's data source has the uid
// the dashboard uses; and every metric the dashboard queries is one the server exports (a renamed series would
// otherwise leave an empty panel that nobody notices).
func TestMonitoring(t *testing.T) {
	f := load(t)
	getenv := serverGetenv(f.stages, f.compose)
	report(t, "monitoring", checkScrapeTarget(read(t, "prometheus/prometheus.yml"), "parley", serverService, getenv("PARLEY_METRICS_ADDR"), getenv("PARLEY_HTTP_ADDR")))
	keysEnv := func(k string) string {
		if v := f.compose.Services["keys"].Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	report(t, "monitoring", checkScrapeTarget(read(t, "prometheus/prometheus.yml"), "parley-keys", "keys", keysEnv("PARLEY_KEYS_METRICS_ADDR"), keysEnv("PARLEY_KEYS_ADDR")))
	report(t, "monitoring", checkDataSource(read(t, "grafana/provisioning/datasources/prometheus.yaml"), read(t, "grafana/dashboards/parley-node.json")))
	exported := exportedMetrics(t)
	report(t, "grafana/dashboards/parley-node.json", checkDashboard(read(t, "grafana/dashboards/parley-node.json"), exported))

	// The cluster: one target per replica, on each replica's metrics port.
	cluster, _, err := parseCompose([]byte(read(t, "compose.cluster.yaml")), exampleLookup(f.envExample))
	if err != nil {
		t.Fatalf("compose.cluster.yaml: %v", err)
	}
	promCluster := read(t, "prometheus/prometheus.cluster.yml")
	replicas := 0
	for name := range cluster.Services {
		if !strings.HasPrefix(name, "server-") {
			continue
		}
		replicas++
		// compose-go merges the x-server-env anchor the replicas share, so each one's own environment is read.
		addr := cluster.Services[name].Environment["PARLEY_METRICS_ADDR"]
		if addr == nil {
			t.Errorf("compose.cluster.yaml does not set PARLEY_METRICS_ADDR for %s", name)
			continue
		}
		_, port, err := net.SplitHostPort(*addr)
		if err != nil {
			t.Errorf("compose.cluster.yaml: %s: PARLEY_METRICS_ADDR %q: %v", name, *addr, err)
			continue
		}
		if !strings.Contains(promCluster, `"`+name+":"+port+`"`) {
			t.Errorf("prometheus.cluster.yml does not scrape %s:%s", name, port)
		}
	}
	if replicas != 3 {
		t.Errorf("compose.cluster.yaml: %d server replicas, want 3", replicas)
	}
	if cluster.Services["prometheus"].Image == "" || cluster.Services["grafana"].Image == "" {
		t.Error("compose.cluster.yaml has no prometheus and grafana services")
	}
}

func checkScrapeTarget(promYAML, job, svc, metricsAddr, httpAddr string) []string {
	var conf struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yamlUnmarshal([]byte(promYAML), &conf); err != nil {
		return []string{fmt.Sprintf("prometheus.yml: %v", err)}
	}
	addr := metricsAddr
	if addr == "" {
		addr = httpAddr // metrics on the main port
	}
	if addr == "off" {
		return []string{fmt.Sprintf("the %s service's metrics address is off: Prometheus has nothing to scrape", svc)}
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{fmt.Sprintf("%s metrics address %q: %v", svc, addr, err)}
	}
	want := svc + ":" + port
	for _, sc := range conf.ScrapeConfigs {
		if sc.JobName != job {
			continue
		}
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			return []string{fmt.Sprintf("job %s scrapes %s, the %s service serves /metrics", job, sc.MetricsPath, svc)}
		}
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				if tg == want {
					return nil
				}
			}
		}
		return []string{fmt.Sprintf("job %s does not scrape %s (the %s service's metrics address %q)", job, want, svc, addr)}
	}
	return []string{fmt.Sprintf("prometheus.yml has no job_name: %s", job)}
}

func checkDataSource(dsYAML, dashJSON string) []string {
	var ds struct {
		Datasources []struct{ UID, Type, URL string } `yaml:"datasources"`
	}
	if err := yamlUnmarshal([]byte(dsYAML), &ds); err != nil {
		return []string{fmt.Sprintf("datasource: %v", err)}
	}
	uids := map[string]bool{}
	for _, d := range ds.Datasources {
		if d.Type == "prometheus" && strings.Contains(d.URL, "prometheus:9090") {
			uids[d.UID] = true
		}
	}
	var out []string
	for _, uid := range regexp.MustCompile(`"uid":\s*"([^"]+)"`).FindAllStringSubmatch(dashJSON, -1) {
		if strings.HasPrefix(uid[1], "parley-") && uid[1] != "parley-node" && !uids[uid[1]] {
			out = append(out, fmt.Sprintf("the dashboard uses data source %q, which is not provisioned", uid[1]))
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\b((?:parley|go|process)_[a-z0-9_]+)`)

func checkDashboard(dashJSON string, exported map[string]bool) []string {
	var d struct {
		UID    string
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(dashJSON), &d); err != nil {
		return []string{err.Error()}
	}
	var out []string
	if d.UID == "" || d.Title == "" {
		out = append(out, "the dashboard has no uid or title")
	}
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(m, suffix); ok && exported[b] {
						base = b
					}
				}
				if !exported[base] {
					out = append(out, fmt.Sprintf("panel %q queries %s, which the server does not export", p.Title, m))
				}
			}
		}
	}
	if queries < 10 {
		out = append(out, fmt.Sprintf("only %d queries: is this the node dashboard?", queries))
	}
	return out
}

// exportedMetrics: the Go and process collectors' series (gathered from a real registry) and every parley_*
// name the server declares (internal/metrics and cmd/server/app; vectors without children are not gathered).
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	fams, err := metrics.New(1).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		out[f.GetName()] = true
	}
	for _, file := range []string{"../internal/metrics/metrics.go", "../cmd/server/app/app.go"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(parley_[a-z0-9_]+)"`).FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	if !out["parley_message_ack_seconds"] || !out["parley_message_queue_depth"] || !out["go_goroutines"] {
		t.Fatalf("exported metrics look wrong: %v", names)
	}
	return out
}
