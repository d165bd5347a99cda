// Package docker_test checks docker/ (Dockerfile, compose.yaml, .env.example, the Cassandra entrypoint) without
// a Docker engine: the files parse, images are pinned, the server's environment matches internal/config, the
// health checks and ports agree, the build context holds what the Dockerfile copies, and .env.example holds
// only placeholders. Each check is a function returning problems; checks_test.go feeds them broken input to
// show that they fail.
package docker_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/parleychat/parley/internal/config"
)

const (
	repoRoot      = ".." // go test runs in docker/
	serverService = "server"
	keysService   = "keys" // the key service (cmd/keys): the same image, its own port and health check
	jwtSecretVar  = "PARLEY_JWT_SECRET"
)

// monitorProbes: the monitoring services and the readiness endpoint their health check must ask.
var monitorProbes = map[string]string{
	"prometheus": "/-/ready",
	"grafana":    "/api/health",
}

// monitorUI may publish a port, on loopback only (the dashboard; Prometheus itself stays internal).
const monitorUI = "grafana"

// withMonitoring is dbQueries plus the monitoring services' probes (health checks are checked the same way).
func withMonitoring() map[string]string {
	out := map[string]string{}
	for k, v := range dbQueries {
		out[k] = v
	}
	for k, v := range monitorProbes {
		out[k] = v
	}
	return out
}

// dbQueries: the database services and a piece of the real query their health check must run.
var dbQueries = map[string]string{
	"postgres":   "SELECT 1",
	"mongo":      "ping",
	"cassandra":  "SELECT release_version FROM system.local",
	"redis":      "ping",
	"s3":         "http://127.0.0.1:7070/", // the S3 gateway of uploaded files: an S3 answer (403 to an unsigned request)
	"opensearch": "_cluster/health",        // message search: the cluster answers and is at least yellow
}

// mustBeSetInDocker: variables whose defaults only make sense in a checkout (a path relative to it, or the port
// the checks compare); on top of every variable whose default points at the local stack, and the JWT secret.
var mustBeSetInDocker = []string{"PARLEY_HTTP_ADDR", "PARLEY_STATIC_DIR", "PARLEY_DATA_DIR"}

// requiredDockerignore: paths the build context must leave out.
var requiredDockerignore = []string{
	".git/config", ".local/data/x", "bin/parley", "coverage/go.out", "frontend/node_modules/react/index.js",
	"tests/jsclient/node_modules/x", "frontend/dist/index.html", "docker/.env", "cmd/ferretdb/main.go",
}

// ---- loading -----------------------------------------------------------------------------------------------

type files struct {
	compose     *composeFile
	refs        map[string]varRef
	envExample  map[string]envEntry
	stages      []stage
	ignoreRules ignoreRules
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exampleLookup resolves compose variables from .env.example, with a placeholder secret for each empty secret
// (the way a filled-in docker/.env would), so that the file can be interpolated and the result checked.
func exampleLookup(example map[string]envEntry) func(string) (string, bool) {
	return func(name string) (string, bool) {
		e, ok := example[name]
		if !ok || e.Commented {
			return "", false
		}
		if e.Value == "" && isSecretName(name) {
			return strings.Repeat("0123456789abcdef", 4), true // 64 hex characters, like openssl rand -hex 32
		}
		return e.Value, true
	}
}

func load(t *testing.T) files {
	t.Helper()
	var f files
	f.envExample = parseEnvFile(read(t, ".env.example"))
	var err error
	f.compose, f.refs, err = parseCompose([]byte(read(t, "compose.yaml")), exampleLookup(f.envExample))
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if f.stages, err = parseDockerfile(read(t, "Dockerfile")); err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if f.ignoreRules, err = parseIgnore(read(t, "Dockerfile.dockerignore")); err != nil {
		t.Fatalf("Dockerfile.dockerignore: %v", err)
	}
	if f.compose.Services[serverService].Build == nil {
		t.Fatalf("compose.yaml: no %q service built from the Dockerfile", serverService)
	}
	return f
}

func report(t *testing.T, what string, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Errorf("%s: %s", what, p)
	}
}

// ---- 1. images are pinned ----------------------------------------------------------------------------------

var (
	imageRef   = regexp.MustCompile(`^([a-z0-9][a-z0-9._/-]*(?::[0-9]+)?/)?[a-z0-9][a-z0-9._-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	versionTag = regexp.MustCompile(`^v?(\d+)\.(\d+)(\.\d+)?`)
	dateTag    = regexp.MustCompile(`(^|-)20\d{6}(-|$)`) // e.g. debian:bookworm-20260803-slim
)

// pinProblem says why an image reference is not pinned to an exact version, or "" if it is. Exact means a
// digest, a major.minor.patch tag, a dated tag, or for PostgreSQL (whose releases are major.minor) major.minor.
func pinProblem(image string) string {
	if !imageRef.MatchString(image) {
		return fmt.Sprintf("%q is not an image reference", image)
	}
	if strings.Contains(image, "@sha256:") {
		return ""
	}
	repo, tag := image, ""
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repo, tag = image[:i], image[i+1:]
	}
	switch m := versionTag.FindStringSubmatch(tag); {
	case tag == "":
		return fmt.Sprintf("%q has no tag (means :latest); pin an exact version", image)
	case tag == "latest" || strings.Contains(tag, "latest"):
		return fmt.Sprintf("%q uses a latest tag; pin an exact version", image)
	case dateTag.MatchString(tag):
		return ""
	case m == nil:
		return fmt.Sprintf("%q: tag %q is not a version; pin an exact version", image, tag)
	case m[3] == "" && path.Base(repo) != "postgres":
		return fmt.Sprintf("%q: tag %q is a moving major.minor tag; pin major.minor.patch", image, tag)
	}
	return ""
}

func checkComposeImages(c *composeFile) []string {
	var out []string
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		switch {
		case s.Image == "" && s.Build == nil:
			out = append(out, fmt.Sprintf("service %s has neither image nor build", name))
		case s.Image != "" && s.Build == nil:
			if p := pinProblem(s.Image); p != "" {
				out = append(out, "service "+name+": "+p)
			}
		case s.Image != "" && (strings.HasSuffix(s.Image, ":latest") || !strings.Contains(path.Base(s.Image), ":")):
			out = append(out, fmt.Sprintf("service %s builds image %q: give it an explicit non-latest tag", name, s.Image))
		}
	}
	return out
}

func checkDockerfileBases(stages []stage) []string {
	var out []string
	names := map[string]bool{}
	for _, st := range stages {
		if !names[st.BaseName] && st.BaseName != "scratch" {
			if p := pinProblem(st.BaseName); p != "" {
				out = append(out, "FROM "+p)
			}
		}
		if st.Name != "" {
			names[st.Name] = true
		}
	}
	return out
}

func TestImagesPinned(t *testing.T) {
	f := load(t)
	report(t, "compose.yaml", checkComposeImages(f.compose))
	report(t, "Dockerfile", checkDockerfileBases(f.stages))
}

// ---- 2. the server's environment matches internal/config ---------------------------------------------------

var loopback = regexp.MustCompile(`(?i)\b(localhost|127\.0\.0\.1|\[?::1\]?)\b`)

// mustSet lists the variables compose has to set for the server.
func mustSet(vars []config.Var) []string {
	var out []string
	for _, v := range vars {
		if loopback.MatchString(v.Default) || v.Name == jwtSecretVar || slices.Contains(mustBeSetInDocker, v.Name) {
			out = append(out, v.Name)
		}
	}
	return out
}

func declared(vars []config.Var, name string) bool {
	is := func(v config.Var) bool { return v.Name == name }
	return slices.ContainsFunc(vars, is) || slices.ContainsFunc(config.KeysVars, is)
}

// browserFacing variables name origins that browsers use, so localhost is a fine value for them.
func browserFacing(name string) bool { return strings.Contains(name, "ORIGIN") }

// checkServerEnv: every variable in mustSet is set (non-empty) for the server; no service sets, and compose
// and .env.example do not mention, a PARLEY_* variable that config.Vars does not declare (a typo would be
// silently ignored by the server); no server-side address points at the container's own loopback.
func checkServerEnv(c *composeFile, refs map[string]varRef, example map[string]envEntry, vars []config.Var) []string {
	var out []string
	srv, ok := c.Services[serverService]
	if !ok {
		return []string{"no server service"}
	}
	for _, name := range mustSet(vars) {
		if v := srv.Environment[name]; v == nil || strings.TrimSpace(*v) == "" {
			out = append(out, fmt.Sprintf("server: %s is not set (its default %q is only right outside Docker)", name, defaultOf(vars, name)))
		}
	}
	for _, svc := range sortedKeys(c.Services) {
		for _, name := range sortedKeys(c.Services[svc].Environment) {
			if strings.HasPrefix(name, "PARLEY_") && !declared(vars, name) {
				out = append(out, fmt.Sprintf("service %s sets %s, which internal/config does not declare (typo?)", svc, name))
			}
		}
	}
	for _, name := range sortedKeys(refs) {
		if strings.HasPrefix(name, "PARLEY_") && !declared(vars, name) {
			out = append(out, fmt.Sprintf("compose.yaml interpolates ${%s}, which internal/config does not declare (typo?)", name))
		}
	}
	for _, name := range sortedKeys(example) {
		if strings.HasPrefix(name, "PARLEY_") && !declared(vars, name) {
			out = append(out, fmt.Sprintf(".env.example line %d: %s is not declared in internal/config (typo?)", example[name].Line, name))
		}
	}
	for _, name := range sortedKeys(srv.Environment) {
		if v := srv.Environment[name]; v != nil && !browserFacing(name) && loopback.MatchString(*v) {
			out = append(out, fmt.Sprintf("server: %s=%q points at the container's own loopback", name, *v))
		}
	}
	return out
}

func defaultOf(vars []config.Var, name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}

// serverGetenv: the server container's environment, the Dockerfile's final-stage ENV overridden by compose.
func serverGetenv(stages []stage, c *composeFile) func(string) string {
	env := envOf(stages[len(stages)-1])
	for k, v := range c.Services[serverService].Environment {
		if v != nil {
			env[k] = *v
		}
	}
	return func(k string) string { return env[k] }
}

func TestServerEnvironment(t *testing.T) {
	f := load(t)
	report(t, "compose.yaml", checkServerEnv(f.compose, f.refs, f.envExample, config.Vars))

	// The server accepts the resulting configuration (durations, ranges, JWT secret length, ...).
	getenv := serverGetenv(f.stages, f.compose)
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Errorf("the server would reject the compose configuration: %v", err)
	}
	// The static files and data dir are where the image puts them.
	final := f.stages[len(f.stages)-1]
	if webDst := copyFromStageDest(f.stages, "npm run build"); webDst == "" || path.Clean(webDst) != path.Clean(cfg.StaticDir) {
		t.Errorf("PARLEY_STATIC_DIR is %q but the Dockerfile copies the web app to %q", cfg.StaticDir, webDst)
	}
	if d := envOf(final)["PARLEY_DATA_DIR"]; d == "" || d != cfg.DataDir {
		t.Errorf("PARLEY_DATA_DIR is %q in compose but %q in the Dockerfile", cfg.DataDir, d)
	}
}

// copyFromStageDest returns the destination of the COPY --from=<stage> whose stage RUNs marker (e.g. the web
// build), or "".
func copyFromStageDest(stages []stage, marker string) string {
	var src string
	for _, st := range stages {
		for _, c := range st.Commands {
			if run, ok := runLine(c); ok && strings.Contains(run, marker) {
				src = st.Name
			}
		}
	}
	for _, c := range stages[len(stages)-1].Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" && cp.From == src {
			return cp.DestPath
		}
	}
	return ""
}

// ---- 3. health checks, dependencies, ports -----------------------------------------------------------------

// checkHealthchecks: every database runs its real query as a health check with a start period, the server has
// a health check, and restarts on failure.
func checkHealthchecks(c *composeFile, queries map[string]string) []string {
	var out []string
	for _, name := range sortedKeys(queries) {
		s, ok := c.Services[name]
		if !ok {
			out = append(out, fmt.Sprintf("no %s service", name))
			continue
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			out = append(out, fmt.Sprintf("service %s has no health check", name))
			continue
		}
		if !strings.Contains(strings.ToLower(strings.Join(hc.Test, " ")), strings.ToLower(queries[name])) {
			out = append(out, fmt.Sprintf("service %s: health check %q does not run %q", name, hc.Test, queries[name]))
		}
		if hc.StartPeriod == nil {
			out = append(out, fmt.Sprintf("service %s: health check has no start_period", name))
		}
	}
	for _, name := range sortedKeys(c.Services) {
		if name == keysService {
			if s := c.Services[name]; s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "/healthz") || s.Restart != "unless-stopped" {
				out = append(out, "the key service needs a /healthz health check and restart: unless-stopped")
			}
			continue
		}
		if _, isDB := queries[name]; !isDB && name != serverService {
			out = append(out, fmt.Sprintf("service %s is neither a known database nor the server: give it a checked health check", name))
		}
	}
	if srv, ok := c.Services[serverService]; ok {
		if srv.HealthCheck == nil || len(srv.HealthCheck.Test) == 0 {
			out = append(out, "the server has no health check")
		}
		if srv.Restart != "unless-stopped" {
			out = append(out, fmt.Sprintf("the server has restart: %q, want unless-stopped", srv.Restart))
		}
	}
	return out
}

// checkDependsOn: the server waits for every database to be healthy.
func checkDependsOn(c *composeFile, dbs []string) []string {
	var out []string
	srv := c.Services[serverService]
	for _, db := range dbs {
		if dep, ok := srv.DependsOn[db]; !ok {
			out = append(out, fmt.Sprintf("server does not depend on %s", db))
		} else if dep.Condition != types.ServiceConditionHealthy {
			out = append(out, fmt.Sprintf("server depends on %s with condition %q, want service_healthy", db, dep.Condition))
		}
	}
	return out
}

func portOf(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("cannot read a port from %q: %w", addr, err)
	}
	return port, nil
}

// checkPorts: only the server publishes a port, and it publishes its PARLEY_HTTP_ADDR port.
func checkPorts(c *composeFile, httpPort string) []string {
	var out []string
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.NetworkMode == "host" {
			out = append(out, fmt.Sprintf("service %s uses network_mode: host", name))
		}
		if name == monitorUI {
			for _, p := range s.Ports {
				if !loopback.MatchString(p.HostIP) {
					out = append(out, fmt.Sprintf("service %s publishes %s:%d beyond loopback by default: the dashboard is for the host's operator", name, p.Published, p.Target))
				}
			}
			continue
		}
		if name != serverService && name != keysService && len(s.Ports) > 0 {
			out = append(out, fmt.Sprintf("service %s publishes ports %v: databases must stay internal", name, portList(s.Ports)))
		}
	}
	srv := c.Services[serverService]
	found := false
	for _, p := range srv.Ports {
		if target := strconv.FormatUint(uint64(p.Target), 10); target == httpPort {
			found = true
		} else {
			out = append(out, fmt.Sprintf("server publishes container port %s, but listens on %s (PARLEY_HTTP_ADDR)", target, httpPort))
		}
	}
	if !found {
		out = append(out, fmt.Sprintf("server does not publish its port %s", httpPort))
	}
	return out
}

// readyzURL returns the /readyz URL a health check command requests, checking it targets port on loopback.
func readyzURL(cmd []string, port string) (string, error) {
	for _, a := range cmd {
		for _, word := range strings.Fields(a) {
			u, err := url.Parse(word)
			if err != nil || u.Scheme != "http" {
				continue
			}
			if u.Path != "/readyz" {
				return "", fmt.Errorf("health check requests %s, want the /readyz endpoint", word)
			}
			if u.Port() != port {
				return "", fmt.Errorf("health check requests port %q, the server listens on %s", u.Port(), port)
			}
			if !loopback.MatchString(u.Hostname()) {
				return "", fmt.Errorf("health check requests host %q, want 127.0.0.1", u.Hostname())
			}
			return word, nil
		}
	}
	return "", fmt.Errorf("health check %q requests no http:// URL", cmd)
}

// checkDockerfileRuntime: the final stage runs as a non-root USER, EXPOSEs the server's port, and its
// HEALTHCHECK requests /readyz on that port with the same command compose uses.
func checkDockerfileRuntime(stages []stage, httpPort string, composeHealth []string) []string {
	var out []string
	final := stages[len(stages)-1]
	user, exposed, health := "", []string{}, []string(nil)
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.ExposeCommand:
			for _, p := range c.Ports {
				exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
			}
		case *instructions.HealthCheckCommand:
			cmd, _, err := healthcheckCmd(c)
			if err != nil {
				out = append(out, err.Error())
			}
			health = cmd
		}
	}
	switch name, _, _ := strings.Cut(user, ":"); name {
	case "":
		out = append(out, "the final stage has no USER: the server would run as root")
	case "root", "0":
		out = append(out, fmt.Sprintf("the final stage runs as USER %s", user))
	}
	if !slices.Contains(exposed, httpPort) {
		out = append(out, fmt.Sprintf("the final stage EXPOSEs %v, not the server's port %s", exposed, httpPort))
	}
	if health == nil {
		out = append(out, "the final stage has no HEALTHCHECK")
	} else {
		if _, err := readyzURL(health, httpPort); err != nil {
			out = append(out, "Dockerfile: "+err.Error())
		}
		if composeHealth != nil {
			want := append([]string{"CMD"}, health...)
			if !slices.Equal(composeHealth, want) {
				out = append(out, fmt.Sprintf("compose's server health check %q differs from the Dockerfile's %q", composeHealth, want))
			}
		}
	}
	return out
}

// checkStopGrace: Docker waits longer than the server's shutdown budget before it kills the server, so queued
// messages reach Cassandra.
func checkStopGrace(c *composeFile, getenv func(string) string) []string {
	budget := getenv("PARLEY_SHUTDOWN_TIMEOUT")
	if budget == "" {
		budget = defaultOf(config.Vars, "PARLEY_SHUTDOWN_TIMEOUT")
	}
	b, err := time.ParseDuration(budget)
	if err != nil {
		return []string{fmt.Sprintf("PARLEY_SHUTDOWN_TIMEOUT %q: %v", budget, err)}
	}
	grace := c.Services[serverService].StopGracePeriod
	if grace == nil {
		return []string{fmt.Sprintf("server has no stop_grace_period: Docker's 10 s default is shorter than the %s shutdown budget", b)}
	}
	if g := time.Duration(*grace); g <= b {
		return []string{fmt.Sprintf("stop_grace_period %s must exceed PARLEY_SHUTDOWN_TIMEOUT %s", g, b)}
	}
	return nil
}

// checkVolumes: each database keeps its data in a named volume declared at the top level; bind-mounted files
// exist (paths are relative to the compose file's directory, dir).
func checkVolumes(c *composeFile, dbs []string, dir string) []string {
	var out []string
	for _, db := range dbs {
		named := false
		for _, v := range c.Services[db].Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				if _, ok := c.Volumes[v.Source]; !ok {
					out = append(out, fmt.Sprintf("service %s mounts volume %q, which is not declared under volumes:", db, v.Source))
				}
				named = true
			}
		}
		if !named {
			out = append(out, fmt.Sprintf("service %s has no named volume: its data would not survive the container", db))
		}
	}
	for _, name := range sortedKeys(c.Services) {
		for _, v := range c.Services[name].Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(v.Source))); err != nil {
					out = append(out, fmt.Sprintf("service %s bind-mounts %s, which does not exist", name, v.Source))
				}
			}
		}
	}
	return out
}

func TestHealthchecksPortsAndDependencies(t *testing.T) {
	f := load(t)
	getenv := serverGetenv(f.stages, f.compose)
	httpPort, err := portOf(getenv("PARLEY_HTTP_ADDR"))
	if err != nil {
		t.Fatal(err)
	}
	dbs := sortedKeys(dbQueries)
	report(t, "compose.yaml", checkHealthchecks(f.compose, withMonitoring()))
	report(t, "compose.yaml", checkDependsOn(f.compose, dbs))
	report(t, "compose.yaml", checkPorts(f.compose, httpPort))
	report(t, "compose.yaml", checkStopGrace(f.compose, getenv))
	report(t, "compose.yaml", checkVolumes(f.compose, append(dbs, sortedKeys(monitorProbes)...), "."))
	var composeHealth []string
	if hc := f.compose.Services[serverService].HealthCheck; hc != nil {
		composeHealth = hc.Test
	}
	report(t, "Dockerfile", checkDockerfileRuntime(f.stages, httpPort, composeHealth))
}

// ---- 4. the Dockerfile's build -----------------------------------------------------------------------------

// checkGoBuild: the server is built static (CGO_ENABLED=0) with -trimpath from ./cmd/server, and nothing
// builds or copies the cmd/ferretdb dev module.
func checkGoBuild(stages []stage) []string {
	var out []string
	built := false
	for _, st := range stages {
		cgoOff := envOf(st)["CGO_ENABLED"] == "0"
		for _, c := range st.Commands {
			switch c.(type) {
			case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
				if strings.Contains(c.(fmt.Stringer).String(), "ferretdb") { // the instruction as written
					out = append(out, fmt.Sprintf("line %d: %s mentions ferretdb, a dev-only module that must stay out of the image", line(c), strings.ToUpper(c.Name())))
				}
			}
			run, ok := runLine(c)
			if !ok {
				continue
			}
			for _, cmd := range strings.Split(run, "&&") {
				if !strings.Contains(cmd, "go build") || !strings.Contains(cmd, "./cmd/server") {
					continue
				}
				built = true
				if !strings.Contains(cmd, "-trimpath") {
					out = append(out, fmt.Sprintf("line %d: go build of ./cmd/server without -trimpath", line(c)))
				}
				if !cgoOff && !strings.Contains(cmd, "CGO_ENABLED=0") {
					out = append(out, fmt.Sprintf("line %d: go build of ./cmd/server without CGO_ENABLED=0 (not a static binary)", line(c)))
				}
			}
		}
	}
	if !built {
		out = append(out, "no RUN builds ./cmd/server with go build")
	}
	return out
}

// copySources lists the build-context sources of COPY/ADD instructions (not --from) per stage.
func copySources(st stage) []string {
	var out []string
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From == "" {
				out = append(out, c.SourcePaths...)
			}
		case *instructions.AddCommand:
			out = append(out, c.SourcePaths...)
		}
	}
	return out
}

// checkCopySources: every COPY source exists under root and is not left out by the .dockerignore. Sources under
// a missing frontend/ are noted, not failed (the front end is being written in parallel).
func checkCopySources(stages []stage, root string, rules ignoreRules) (problems, notes []string) {
	_, err := os.Stat(filepath.Join(root, "frontend"))
	frontendExists := err == nil
	for _, st := range stages {
		for _, src := range copySources(st) {
			clean := path.Clean(src)
			if strings.HasPrefix(clean, "frontend/") && !frontendExists {
				notes = append(notes, fmt.Sprintf("frontend/ does not exist yet: COPY source %s not checked", src))
				continue
			}
			matches, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(clean)))
			if len(matches) == 0 {
				problems = append(problems, fmt.Sprintf("COPY source %s does not exist in the repository", src))
				continue
			}
			if ignored(rules, clean) {
				problems = append(problems, fmt.Sprintf("COPY source %s is excluded by Dockerfile.dockerignore", src))
			}
		}
	}
	return problems, notes
}

// goPackage is one package of this module that the server binary is built from.
type goPackage struct {
	Dir   string   // relative to the repository root, slash-separated
	Files []string // its .go and embedded files, relative to the repository root
}

// serverPackages lists the module's own packages that ./cmd/server imports (go list -deps), with their files.
func serverPackages(t *testing.T, pkg string) []goPackage {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{.Dir}}|{{join .GoFiles ","}}|{{join .EmbedFiles ","}}{{end}}`, pkg)
	cmd.Dir = root
	outb, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
	}
	var pkgs []goPackage
	for _, line := range strings.Split(strings.TrimSpace(string(outb)), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) != 3 {
			continue
		}
		rel, err := filepath.Rel(root, parts[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a dependency from the module cache
		}
		p := goPackage{Dir: filepath.ToSlash(rel)}
		for _, list := range parts[1:] {
			for _, f := range strings.Split(list, ",") {
				if f != "" {
					p.Files = append(p.Files, path.Join(p.Dir, f))
				}
			}
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list found no package of this module behind %s", pkg)
	}
	return pkgs
}

// checkGoSourcesCopied: the stage that runs go build copies go.mod, go.sum and every package directory the
// server is built from (so adding a top-level package without updating the Dockerfile fails here, not in a
// user's docker build), and the .dockerignore leaves none of their files out.
func checkGoSourcesCopied(stages []stage, pkgs []goPackage, rules ignoreRules) []string {
	var goStage *stage
	for i, st := range stages {
		for _, c := range st.Commands {
			if run, ok := runLine(c); ok && strings.Contains(run, "go build") {
				goStage = &stages[i]
			}
		}
	}
	if goStage == nil {
		return []string{"no stage runs go build"}
	}
	srcs := copySources(*goStage)
	covered := func(p string) bool {
		for _, s := range srcs {
			s = path.Clean(s)
			if s == "." || p == s || strings.HasPrefix(p, s+"/") {
				return true
			}
		}
		return false
	}
	var out []string
	for _, f := range []string{"go.mod", "go.sum"} {
		if !covered(f) {
			out = append(out, fmt.Sprintf("the Go build stage does not COPY %s", f))
		}
	}
	for _, p := range pkgs {
		if !covered(p.Dir) {
			out = append(out, fmt.Sprintf("the server imports ./%s, but the Go build stage does not COPY it", p.Dir))
		}
		for _, f := range p.Files {
			if ignored(rules, f) {
				out = append(out, fmt.Sprintf("%s (needed by the server build) is excluded by Dockerfile.dockerignore", f))
			}
		}
	}
	return out
}

// checkIgnoreExcludes: the .dockerignore leaves out local state, dependencies, build output and secrets.
func checkIgnoreExcludes(rules ignoreRules, paths []string) []string {
	var out []string
	for _, p := range paths {
		if !ignored(rules, p) {
			out = append(out, fmt.Sprintf("%s is not excluded from the build context", p))
		}
	}
	return out
}

func TestDockerfileBuild(t *testing.T) {
	f := load(t)
	report(t, "Dockerfile", checkGoBuild(f.stages))
	problems, notes := checkCopySources(f.stages, repoRoot, f.ignoreRules)
	report(t, "Dockerfile", problems)
	for _, n := range notes {
		t.Log("note:", n)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "frontend")); err == nil {
		for _, need := range []string{"frontend/package.json", "frontend/package-lock.json"} {
			if _, err := os.Stat(filepath.Join(repoRoot, need)); err != nil {
				t.Errorf("frontend/ exists but %s does not (the image runs npm ci && npm run build)", need)
			}
		}
	}
	report(t, "Dockerfile", checkGoSourcesCopied(f.stages, serverPackages(t, "./cmd/server"), f.ignoreRules))
	report(t, "Dockerfile.dockerignore", checkIgnoreExcludes(f.ignoreRules, requiredDockerignore))
}

// ---- toolchains --------------------------------------------------------------------------------------------

// versionAtLeast compares dotted version numbers ("1.26.8" >= "1.26.0").
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(w); i++ {
		hv, wv := 0, 0
		if i < len(h) {
			hv, _ = strconv.Atoi(h[i])
		}
		wv, _ = strconv.Atoi(w[i])
		if hv != wv {
			return hv > wv
		}
	}
	return true
}

// imageVersion returns the leading version number of the tag of the stage whose base is repo (e.g. golang).
func imageVersion(stages []stage, repo string) string {
	for _, st := range stages {
		if r, tag, ok := strings.Cut(st.BaseName, ":"); ok && path.Base(r) == repo {
			return versionTag.FindString(tag)
		}
	}
	return ""
}

var (
	goDirective = regexp.MustCompile(`(?m)^(go|toolchain)\s+(go)?(\d+(\.\d+)*)\s*$`)
	nodeEngine  = regexp.MustCompile(`^>=\s*(\d+(\.\d+)*)$`)
)

// checkToolchains: the golang image is at least the go.mod's go (and toolchain) version, since the build runs
// with GOTOOLCHAIN=local; the node image satisfies frontend/package.json's engines.node (">=X.Y" form).
func checkToolchains(stages []stage, goMod, nodeEngines string) []string {
	var out []string
	goImg := imageVersion(stages, "golang")
	if goImg == "" {
		out = append(out, "no golang base image with a version tag")
	}
	for _, m := range goDirective.FindAllStringSubmatch(goMod, -1) {
		if goImg != "" && !versionAtLeast(goImg, m[3]) {
			out = append(out, fmt.Sprintf("golang image %s is older than go.mod's %s %s", goImg, m[1], m[3]))
		}
	}
	if nodeEngines != "" {
		nodeImg := imageVersion(stages, "node")
		m := nodeEngine.FindStringSubmatch(strings.TrimSpace(nodeEngines))
		switch {
		case nodeImg == "":
			out = append(out, "no node base image with a version tag")
		case m == nil:
			out = append(out, fmt.Sprintf("cannot check engines.node %q (only >=X.Y is understood)", nodeEngines))
		case !versionAtLeast(nodeImg, m[1]):
			out = append(out, fmt.Sprintf("node image %s does not satisfy frontend engines.node %q", nodeImg, nodeEngines))
		}
	}
	return out
}

func TestToolchains(t *testing.T) {
	f := load(t)
	var engines string
	if b, err := os.ReadFile(filepath.Join(repoRoot, "frontend", "package.json")); err == nil {
		var pkg struct {
			Engines struct {
				Node string `json:"node"`
			} `json:"engines"`
		}
		if err := json.Unmarshal(b, &pkg); err != nil {
			t.Fatalf("frontend/package.json: %v", err)
		}
		engines = pkg.Engines.Node
	}
	report(t, "Dockerfile", checkToolchains(f.stages, read(t, filepath.Join(repoRoot, "go.mod")), engines))
}

// ---- 5. .env.example ---------------------------------------------------------------------------------------

var secretName = regexp.MustCompile(`(PASSWORD|SECRET|TOKEN|_KEY)$|^(PASSWORD|SECRET|TOKEN)`)

func isSecretName(name string) bool { return secretName.MatchString(name) }

var secretish = regexp.MustCompile(`^[A-Za-z0-9+/=_-]{16,}$`)

// looksLikeSecret: a long run of token characters mixing letters and digits, as generated keys are.
func looksLikeSecret(v string) bool {
	return secretish.MatchString(v) && strings.ContainsAny(v, "0123456789") &&
		strings.ContainsAny(strings.ToLower(v), "abcdefghijklmnopqrstuvwxyz")
}

// checkEnvExample: .env.example sets (uncommented) every variable compose.yaml needs without a default and
// documents every optional one; secrets are empty placeholders and no value looks like a real key.
func checkEnvExample(refs map[string]varRef, example map[string]envEntry) []string {
	var out []string
	for _, name := range sortedKeys(refs) {
		r := refs[name]
		e, ok := example[r.Name]
		switch {
		case required(r) && (!ok || e.Commented):
			out = append(out, fmt.Sprintf("compose.yaml needs ${%s} (no default) but .env.example does not set it", r.Name))
		case !ok:
			out = append(out, fmt.Sprintf("compose.yaml reads ${%s} but .env.example does not document it", r.Name))
		}
	}
	for _, name := range sortedKeys(example) {
		e := example[name]
		if isSecretName(name) && !e.Commented && e.Value != "" {
			out = append(out, fmt.Sprintf(".env.example line %d: %s must be left empty (a placeholder), not %q", e.Line, name, e.Value))
		} else if looksLikeSecret(e.Value) {
			out = append(out, fmt.Sprintf(".env.example line %d: the value of %s looks like a real secret", e.Line, name))
		}
	}
	return out
}

// checkSecretRefs: compose stops with a clear message when a secret is missing or empty, instead of starting
// with an empty or default one. Each string of the file that references a secret is interpolated with that
// secret empty (everything else set): only ${NAME:?set NAME in docker/.env} stops with the message.
func checkSecretRefs(strs []string) []string {
	var out []string
	for _, s := range strs {
		for name := range template.ExtractVariables(map[string]any{"s": s}, nil) {
			if !isSecretName(name) {
				continue
			}
			_, err := substitute(s, func(k string) (string, bool) {
				if k == name {
					return "", true
				}
				return "x", true
			})
			if err == nil || !strings.Contains(err.Error(), "set "+name+" in docker/.env") {
				out = append(out, fmt.Sprintf("%q: a secret must be ${%s:?set %s in docker/.env}", s, name, name))
			}
		}
	}
	return out
}

func TestEnvExample(t *testing.T) {
	f := load(t)
	report(t, ".env.example", checkEnvExample(f.refs, f.envExample))
	strs, err := composeStrings([]byte(read(t, "compose.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	report(t, "compose.yaml", checkSecretRefs(strs))
	if !strings.Contains(read(t, ".env.example"), "openssl rand -hex 32") {
		t.Error(".env.example does not say how to generate PARLEY_JWT_SECRET (openssl rand -hex 32)")
	}
	// With .env.example copied as is, a secret still empty makes compose refuse to start and name it (compose
	// stops at the first one, so each secret is left empty alone).
	for _, name := range []string{"POSTGRES_PASSWORD", "MONGO_PASSWORD", jwtSecretVar, "GRAFANA_ADMIN_PASSWORD"} {
		filled := exampleLookup(f.envExample)
		_, _, err := parseCompose([]byte(read(t, "compose.yaml")), func(k string) (string, bool) {
			if k == name {
				e, ok := f.envExample[k]
				return e.Value, ok && !e.Commented
			}
			return filled(k)
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("compose.yaml interpolates fine with an empty %s (%v); it must stop with an error", name, err)
		}
	}
}

// ---- Cassandra commit log ----------------------------------------------------------------------------------

// cassandraYAML imitates the commit log part of the cassandra.yaml the official image ships.
const cassandraYAML = `cluster_name: 'Test Cluster'
# commitlog_sync may be either "periodic", "group", or "batch."
#
# Min unit: ms
# commitlog_sync_group_window: 1000ms
#
commitlog_sync: periodic
# Min unit: ms
commitlog_sync_period: 10000ms

commitlog_segment_size: 32MiB
`

// runCassandraEntrypoint runs docker/cassandra/entrypoint.sh on a copy of yamlText with a stand-in for the
// image's docker-entrypoint.sh, and returns the edited file and the arguments the stand-in received.
func runCassandraEntrypoint(t *testing.T, script, yamlText string, env []string, runs int) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	conf, bin := filepath.Join(dir, "conf"), filepath.Join(dir, "bin")
	for _, d := range []string{conf, bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(conf, "cassandra.yaml"), []byte(yamlText), 0o644); err != nil {
		t.Fatal(err)
	}
	stub := "#!/bin/sh\necho \"$@\" > \"" + filepath.Join(dir, "args") + "\"\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-entrypoint.sh"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < runs; i++ {
		cmd := exec.Command("bash", script, "cassandra", "-f")
		cmd.Env = append(os.Environ(), "CASSANDRA_CONF="+conf, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		cmd.Env = append(cmd.Env, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("%v: %s", err, out)
		}
	}
	edited, _ := os.ReadFile(filepath.Join(conf, "cassandra.yaml"))
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	return string(edited), strings.TrimSpace(string(args)), nil
}

// checkGroupCommitlog: the edited cassandra.yaml is valid YAML with group sync, a window, and no sync period
// (Cassandra refuses group mode with commitlog_sync_period set).
func checkGroupCommitlog(edited string) []string {
	var conf map[string]any
	if err := yamlUnmarshal([]byte(edited), &conf); err != nil {
		return []string{fmt.Sprintf("edited cassandra.yaml does not parse: %v", err)}
	}
	var out []string
	if conf["commitlog_sync"] != "group" {
		out = append(out, fmt.Sprintf("commitlog_sync is %v, want group", conf["commitlog_sync"]))
	}
	if w, _ := conf["commitlog_sync_group_window"].(string); w == "" {
		out = append(out, "commitlog_sync_group_window is not set")
	}
	if _, ok := conf["commitlog_sync_period"]; ok {
		out = append(out, "commitlog_sync_period is still set (Cassandra refuses to start in group mode with it)")
	}
	return out
}

func TestCassandraGroupCommitlog(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to run docker/cassandra/entrypoint.sh")
	}
	f := load(t)
	cass := f.compose.Services["cassandra"]
	// compose runs the script (bind-mounted) as the entrypoint and keeps the image's command.
	var script string
	for _, v := range cass.Volumes {
		if v.Type == types.VolumeTypeBind && strings.Contains(v.Source, "cassandra/entrypoint.sh") {
			script = v.Target
		}
	}
	if script == "" || !slices.Contains(cass.Entrypoint, script) {
		t.Errorf("cassandra: entrypoint %q does not run the mounted cassandra/entrypoint.sh (%q)", cass.Entrypoint, script)
	}
	if !slices.Equal(cass.Command, []string{"cassandra", "-f"}) {
		t.Errorf("cassandra: command %q, want [cassandra -f] (an entrypoint override clears the image's CMD)", cass.Command)
	}
	var env []string
	for k, v := range cass.Environment {
		if v != nil && strings.HasPrefix(k, "CASSANDRA_COMMITLOG") {
			env = append(env, k+"="+*v)
		}
	}

	// Twice: a restarted container runs it again on the edited file.
	edited, args, err := runCassandraEntrypoint(t, "cassandra/entrypoint.sh", cassandraYAML, env, 2)
	if err != nil {
		t.Fatalf("cassandra/entrypoint.sh failed: %v", err)
	}
	report(t, "cassandra/entrypoint.sh", checkGroupCommitlog(edited))
	if n := strings.Count(edited, "commitlog_sync_group_window:"); n != 2 { // the commented one and ours
		t.Errorf("after two runs cassandra.yaml has %d commitlog_sync_group_window lines, want 2 (idempotent):\n%s", n, edited)
	}
	if args != "cassandra -f" {
		t.Errorf("the image's entrypoint got %q, want \"cassandra -f\"", args)
	}
	if !strings.Contains(edited, "commitlog_sync_group_window: 2ms") {
		t.Errorf("the group window from compose (2ms) is not in the edited file:\n%s", edited)
	}

	// A cassandra.yaml without a commitlog_sync line (the image changed) must stop the container, loudly.
	if _, _, err := runCassandraEntrypoint(t, "cassandra/entrypoint.sh", "cluster_name: x\n", nil, 1); err == nil {
		t.Error("entrypoint.sh accepted a cassandra.yaml without commitlog_sync")
	}
}

// ---- helpers -----------------------------------------------------------------------------------------------

// portList prints published ports as [host_ip:]published:target.
func portList(ports []types.ServicePortConfig) []string {
	var out []string
	for _, p := range ports {
		s := fmt.Sprintf("%s:%d", p.Published, p.Target)
		if p.HostIP != "" {
			s = p.HostIP + ":" + s
		}
		out = append(out, s)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
