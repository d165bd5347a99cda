package docker_test

// The checks of docker_test.go, fed small broken files: each check must report the problem, so a passing run
// of docker_test.go means something. Where they rely on a detail of compose-go or BuildKit (interpolation, the
// forms of environment, ports and depends_on), that detail is pinned here too.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/parleychat/parley/internal/config"
)

// wantProblems fails unless every want substring occurs in one of the problems.
func wantProblems(t *testing.T, what string, problems []string, want ...string) {
	t.Helper()
	all := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("%s: no problem mentions %q; got:\n%s", what, w, all)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

func mustCompose(t *testing.T, text string, lookup func(string) (string, bool)) (*composeFile, map[string]varRef) {
	t.Helper()
	c, refs, err := parseCompose([]byte(text), lookup)
	if err != nil {
		t.Fatal(err)
	}
	return c, refs
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"SET": "v", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"$$ and $$$$", "$ and $$", ""},
		{"a${SET}b $SET", "avb v", ""},
		{"${UNSET}", "", ""},
		{"${UNSET:-def}|${EMPTY:-def}|${EMPTY-def}|${UNSET-def}", "def|def||def", ""},
		{"${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}", "alt||alt|", ""},
		{"${UNSET:-${SET}}", "v", ""},
		{"${SET:?msg}", "v", ""},
		{"${EMPTY:?set EMPTY in docker/.env}", "", "set EMPTY in docker/.env"},
		{"${UNSET?gone}", "", "gone"},
		{"${EMPTY?gone}", "", ""},
		{"${unclosed", "", "unclosed"},
		{"${9bad}", "", "Invalid template"},
		{"price: 5$", "price: 5$", ""},
	}
	for _, c := range cases {
		got, err := substitute(c.in, lookup)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("interpolate(%q): error %v, want one containing %q", c.in, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("interpolate(%q): unexpected error %v", c.in, err)
		case c.err == "" && got != c.want:
			t.Errorf("interpolate(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	refs := template.ExtractVariables(map[string]any{"k": "${A:?x} ${B:-${C}} $D"}, nil)
	if len(refs) != 4 || !required(refs["A"]) || required(refs["B"]) || refs["B"].DefaultValue != "${C}" ||
		!required(refs["C"]) || !required(refs["D"]) {
		t.Errorf("refs / required() wrong: %+v", refs)
	}
}

func TestPinProblem(t *testing.T) {
	ok := []string{
		"postgres:17.11-bookworm", "postgres:17.11", "mongo:8.0.29-noble", "cassandra:5.0.9", "redis:7.4.11-bookworm",
		"node:22.23.2-bookworm-slim", "golang:1.27.3-bookworm", "debian:bookworm-20260803-slim",
		"ghcr.io/org/img:1.2.3", "registry.local:5000/img:v1.2.3",
		"gcr.io/distroless/static-debian12@sha256:" + strings.Repeat("a", 64),
	}
	bad := map[string]string{
		"postgres":                         "no tag",
		"postgres:latest":                  "latest",
		"redis:latest-alpine":              "latest",
		"postgres:17":                      "not a version",
		"mongo:8.0":                        "moving",
		"redis:7.4-alpine":                 "moving",
		"gcr.io/distroless/static:nonroot": "not a version",
		"debian:bookworm-slim":             "not a version",
		"Bad Image":                        "not an image reference",
	}
	for _, img := range ok {
		if p := pinProblem(img); p != "" {
			t.Errorf("pinProblem(%q) = %q, want none", img, p)
		}
	}
	for img, want := range bad {
		if p := pinProblem(img); !strings.Contains(p, want) {
			t.Errorf("pinProblem(%q) = %q, want one containing %q", img, p, want)
		}
	}
}

// badCompose breaks most rules at once.
const badCompose = `
services:
  postgres:
    image: postgres
    ports: ["5432:5432"]
    volumes: ["/var/lib/postgresql/data"]
  mongo:
    image: mongo:latest
    healthcheck:
      test: ["CMD", "true"]
    volumes: ["mongo-data:/data/db", "./no-such-file.sh:/x.sh:ro"]
  cassandra:
    image: cassandra:5.0.9
    network_mode: host
    healthcheck:
      test: ["CMD", "cqlsh", "-e", "SELECT release_version FROM system.local"]
  adminer:
    image: adminer:4.8.1
  server:
    build: {context: .., dockerfile: docker/Dockerfile}
    image: parley:latest
    depends_on: [postgres, mongo]
    environment:
      - PARLEY_HTTP_ADDR=:9090
      - PARLEY_POSTGRES_URL=postgres://parley@127.0.0.1:5432/parley
      - PARLEY_REDIS_ULR=redis://redis:6379/0
      - PARLEY_JWT_SECRET=${PARLEY_JWT_SECRET:-devsecret}
      - PARLEY_MONGO_URI=${PARLEY_MONGO_URL}
    ports: ["8080:8080"]
`

func TestChecksRejectBadCompose(t *testing.T) {
	c, refs := mustCompose(t, badCompose, noEnv)
	dbs := sortedKeys(dbQueries)

	wantProblems(t, "images", checkComposeImages(c),
		`service postgres: "postgres" has no tag`, `service mongo: "mongo:latest" uses a latest tag`,
		`service server builds image "parley:latest"`)
	wantProblems(t, "env", checkServerEnv(c, refs, map[string]envEntry{"PARLEY_TYPO": {Value: "x"}}, config.Vars),
		"PARLEY_REDIS_URL is not set", "PARLEY_CASSANDRA_HOSTS is not set", "PARLEY_STATIC_DIR is not set",
		"PARLEY_MONGO_URI is not set", // set, but to an empty value
		"sets PARLEY_REDIS_ULR, which internal/config does not declare",
		"interpolates ${PARLEY_MONGO_URL}, which internal/config does not declare",
		"PARLEY_TYPO is not declared",
		`PARLEY_POSTGRES_URL="postgres://parley@127.0.0.1:5432/parley" points at the container's own loopback`)
	wantProblems(t, "health", checkHealthchecks(c, dbQueries),
		"service postgres has no health check", "no redis service", `does not run "ping"`,
		"service cassandra: health check has no start_period", "service adminer is neither",
		"the server has no health check", `restart: ""`)
	wantProblems(t, "depends_on", checkDependsOn(c, dbs),
		`depends on postgres with condition "service_started"`, "server does not depend on cassandra",
		"server does not depend on redis")
	wantProblems(t, "ports", checkPorts(c, "9090"),
		"service postgres publishes ports", "service cassandra uses network_mode: host",
		"server publishes container port 8080, but listens on 9090", "server does not publish its port 9090")
	wantProblems(t, "stop", checkStopGrace(c, func(string) string { return "" }), "no stop_grace_period")
	grace := types.Duration(20 * time.Second)
	c.Services[serverService] = func(s service) service { s.StopGracePeriod = &grace; return s }(c.Services[serverService])
	wantProblems(t, "stop", checkStopGrace(c, func(string) string { return "" }), "must exceed PARLEY_SHUTDOWN_TIMEOUT")
	wantProblems(t, "volumes", checkVolumes(c, dbs, "."),
		"service postgres has no named volume", `mounts volume "mongo-data", which is not declared`,
		"bind-mounts ./no-such-file.sh, which does not exist")
	strs, err := composeStrings([]byte(badCompose))
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, "secrets", checkSecretRefs(strs), "${PARLEY_JWT_SECRET:-devsecret}")
	if p := checkSecretRefs([]string{"${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in docker/.env}"}); len(p) != 0 {
		t.Errorf("a well-written secret reference reported: %v", p)
	}
	wantProblems(t, "secrets", checkSecretRefs([]string{"${POSTGRES_PASSWORD?set POSTGRES_PASSWORD in docker/.env}"}), "POSTGRES_PASSWORD")
}

func TestChecksRejectBadEnvExample(t *testing.T) {
	_, refs := mustCompose(t, `
services:
  s:
    environment:
      A: ${NEEDED:?set NEEDED in docker/.env}
      B: ${ALSO_NEEDED}
      C: ${OPTIONAL:-x}
      D: ${DOCUMENTED:-y}
      E: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in docker/.env}
`, func(string) (string, bool) { return "v", true })
	example := parseEnvFile(`# comment
# NEEDED=value   (commented: not set)
DOCUMENTED=y
POSTGRES_PASSWORD=hunter2
PARLEY_JWT_SECRET=
OTHER=9f86d081884c7d659a2feaa0c55ad015b3bf4f1b2b0b822cd15d6c15b0f00a08
URL=http://localhost:8080
`)
	problems := checkEnvExample(refs, example)
	wantProblems(t, ".env.example", problems,
		"needs ${NEEDED} (no default) but .env.example does not set it",
		"needs ${ALSO_NEEDED}", "reads ${OPTIONAL} but .env.example does not document it",
		"POSTGRES_PASSWORD must be left empty", "the value of OTHER looks like a real secret")
	for _, p := range problems {
		if strings.Contains(p, "DOCUMENTED") || strings.Contains(p, "URL") || strings.Contains(p, "PARLEY_JWT_SECRET") {
			t.Errorf("unexpected problem: %s", p)
		}
	}
	if e := example["NEEDED"]; !e.Commented || e.Value == "" {
		t.Errorf("commented entry parsed as %+v", e)
	}
	for _, v := range []string{"", "8080", "http://localhost:8080", "change-me-please-soon", "1G", "127.0.0.1"} {
		if looksLikeSecret(v) {
			t.Errorf("looksLikeSecret(%q) = true", v)
		}
	}
	for _, v := range []string{"9f86d081884c7d659a2feaa0c55ad015", "dGhpcyBpcyBhIHNlY3JldCBrZXkgMTIz"} {
		if !looksLikeSecret(v) {
			t.Errorf("looksLikeSecret(%q) = false", v)
		}
	}
}

// badDockerfile: unpinned bases, a missing COPY source, no -trimpath or CGO_ENABLED=0, ferretdb, root.
const badDockerfile = `# syntax comment
ARG X=1
FROM golang AS go
WORKDIR /src
COPY go.mod go.sum ./
COPY no/such/file.txt ./
COPY cmd/server/ cmd/server/
RUN go build -o /out/parley ./cmd/server && \
    go build -o /out/ferretdb ./cmd/ferretdb
FROM debian:latest
COPY --from=go /out/parley /usr/local/bin/
USER root
EXPOSE 9090
HEALTHCHECK --interval=5s CMD ["/probe", "http://127.0.0.1:8080/healthz"]
`

func TestChecksRejectBadDockerfile(t *testing.T) {
	stages, err := parseDockerfile(badDockerfile)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].Name != "go" || stages[1].BaseName != "debian:latest" {
		t.Fatalf("stages parsed as %+v", stages)
	}
	wantProblems(t, "bases", checkDockerfileBases(stages), `"golang" has no tag`, `"debian:latest" uses a latest tag`)
	wantProblems(t, "build", checkGoBuild(stages),
		"without -trimpath", "without CGO_ENABLED=0", "mentions ferretdb")
	rules, _ := parseIgnore("cmd/server\n")
	problems, _ := checkCopySources(stages, repoRoot, rules)
	wantProblems(t, "copy", problems,
		"COPY source no/such/file.txt does not exist", "COPY source cmd/server/ is excluded by Dockerfile.dockerignore")
	pkgs := []goPackage{{Dir: "cmd/server", Files: []string{"cmd/server/main.go"}},
		{Dir: "internal/config", Files: []string{"internal/config/config.go"}}}
	wantProblems(t, "go sources", checkGoSourcesCopied(stages, pkgs, rules),
		"imports ./internal/config, but the Go build stage does not COPY it",
		"cmd/server/main.go (needed by the server build) is excluded")
	wantProblems(t, "runtime", checkDockerfileRuntime(stages, "8080", []string{"CMD", "/other"}),
		"runs as USER root", "EXPOSEs [9090], not the server's port 8080", "want the /readyz endpoint")
	wantProblems(t, "runtime", checkDockerfileRuntime(stages[:1], "8080", nil),
		"has no USER", "has no HEALTHCHECK")

	ok, _ := parseDockerfile("FROM debian:bookworm-20260803-slim\nUSER 10001:10001\nEXPOSE 8080/tcp\n" +
		"HEALTHCHECK CMD [\"/p\", \"http://127.0.0.1:9999/readyz\"]\n")
	wantProblems(t, "runtime", checkDockerfileRuntime(ok, "8080", []string{"CMD", "/other"}),
		`requests port "9999"`, "differs from the Dockerfile's")
	if _, err := parseDockerfile("RUN echo no FROM\n"); err == nil {
		t.Error("parseDockerfile accepted a RUN before FROM")
	}
}

func TestIgnoreRules(t *testing.T) {
	rules, err := parseIgnore(`
# comment
.git
/bin/
**/node_modules
*.log
docs/**/*.md
cmd/ferretdb
**/.env
!keep/.env
`)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		".git": true, ".git/config": true, ".github/x": false, "bin/parley": true, "x/bin/y": false,
		"node_modules/a": true, "frontend/node_modules/a/b.js": true, "app.log": true, "x/app.log": false,
		"docs/a/b/c.md": true, "docs/c.md": true, "docs/c.txt": false, "cmd/ferretdb/main.go": true,
		"cmd/server/main.go": false, "docker/.env": true, "docker/.env.example": false, "keep/.env": false,
	}
	for p, want := range cases {
		if got := ignored(rules, p); got != want {
			t.Errorf("ignored(%q) = %v, want %v", p, got, want)
		}
	}
	wantProblems(t, "dockerignore", checkIgnoreExcludes(rules, []string{"coverage/go.out", ".local/x"}),
		"coverage/go.out is not excluded", ".local/x is not excluded")
}

func TestCassandraCheckRejectsPeriodic(t *testing.T) {
	wantProblems(t, "periodic", checkGroupCommitlog(cassandraYAML),
		"commitlog_sync is periodic, want group", "commitlog_sync_group_window is not set", "commitlog_sync_period is still set")
	wantProblems(t, "garbage", checkGroupCommitlog("a: [b"), "does not parse")
}

func TestEnvironmentForms(t *testing.T) {
	c, _ := mustCompose(t, `
services:
  a:
    environment: {X: "1", Y: 2, Z: null, W: ""}
    ports:
      - "127.0.0.1:8080:80/tcp"
      - target: 81
        published: "9000"
    depends_on: {b: {condition: service_healthy}, c: {condition: service_started}}
    volumes:
      - type: volume
        source: data
        target: /data
  b:
    environment: ["X=1", "Y"]
    depends_on: [a]
`, noEnv)
	a, b := c.Services["a"], c.Services["b"]
	if *a.Environment["X"] != "1" || *a.Environment["Y"] != "2" || a.Environment["Z"] != nil || *a.Environment["W"] != "" {
		t.Errorf("map environment parsed as %v", a.Environment)
	}
	if *b.Environment["X"] != "1" || b.Environment["Y"] != nil {
		t.Errorf("list environment parsed as %v", b.Environment)
	}
	if got := fmt.Sprint(portList(a.Ports)); got != "[127.0.0.1:8080:80 9000:81]" || a.Ports[0].Protocol != "tcp" {
		t.Errorf("ports parsed as %s (%+v)", got, a.Ports)
	}
	if a.DependsOn["b"].Condition != "service_healthy" || a.DependsOn["c"].Condition != "service_started" ||
		b.DependsOn["a"].Condition != "service_started" {
		t.Errorf("depends_on parsed as %v", a.DependsOn)
	}
	if v := a.Volumes[0]; v.Type != "volume" || v.Source != "data" || v.Target != "/data" {
		t.Errorf("long volume parsed as %+v", v)
	}
}

func TestChecksRejectOldToolchains(t *testing.T) {
	stages, err := parseDockerfile("FROM node:20.11.1-bookworm-slim AS web\nFROM golang:1.25.4-bookworm AS go\nFROM debian:bookworm-20260803-slim\n")
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, "toolchains", checkToolchains(stages, "module x\n\ngo 1.26.0\ntoolchain go1.26.2\n", ">=20.19"),
		"golang image 1.25.4 is older than go.mod's go 1.26.0", "older than go.mod's toolchain 1.26.2",
		`node image 20.11.1 does not satisfy frontend engines.node ">=20.19"`)
	wantProblems(t, "toolchains", checkToolchains(stages[2:], "go 1.26\n", "^20 || >=22"),
		"no golang base image", "no node base image")
	if p := checkToolchains(stages[1:], "go 1.25\n", ""); len(p) != 0 {
		t.Errorf("golang 1.25.4 for go 1.25: %v", p)
	}
	for _, c := range []struct {
		have, want string
		ok         bool
	}{{"1.26.8", "1.26.0", true}, {"1.26", "1.26.0", true}, {"1.26.8", "1.27", false}, {"22.23.2", "20.19", true}, {"20.18.9", "20.19", false}} {
		if got := versionAtLeast(c.have, c.want); got != c.ok {
			t.Errorf("versionAtLeast(%s, %s) = %v", c.have, c.want, got)
		}
	}
}
