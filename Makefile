# The two commands: `make run` and `make test`. Both install what is missing and start the local databases.
# The Go toolchain of go.mod (scripts/lib.sh says why); targets that call go directly need it too.
export GOTOOLCHAIN := go1.27.3

.PHONY: run test stop clean-data status build bench lint conformance cluster cluster-stop cluster-status cluster-check chaos fuzz sockfuzz soak

# make run PROMETHEUS=1           also start Prometheus (Debian package) on http://127.0.0.1:59090, scraping the server
run:
	@scripts/run.sh

test:
	@scripts/test.sh

stop:
	@scripts/stack.sh down

clean-data:
	@scripts/stack.sh clean-data

status:
	@scripts/stack.sh status

# make cluster [NODES=3]           N server nodes behind HAProxy on http://127.0.0.1:8090 and a three-node Cassandra
#                                  (scripts/cluster.sh; README "Run a cluster"); chaos helpers: scripts/cluster.sh help
NODES ?= 3
cluster:
	@scripts/cluster.sh up --nodes $(NODES)

cluster-stop:
	@scripts/cluster.sh down

cluster-status:
	@scripts/cluster.sh status

cluster-check:
	@scripts/cluster.sh check

# make bench                      full run (see BENCHMARKS.md); make bench ARGS="--smoke" for the quick check
bench:
	@bench/run.sh $(ARGS)

# make conformance                the official Engine.IO/Socket.IO suites against cmd/conformance (scripts/conformance.sh);
# make conformance ARGS="--node-reference"   the same against the Node.js reference server
conformance:
	@scripts/deps.sh go
	@scripts/conformance.sh $(ARGS)

build:
	@scripts/deps.sh go frontend
	@cd frontend && npm run build --silent
	@go build -trimpath -o bin/parley ./cmd/server

# make lint                       go vet, gofmt, staticcheck, govulncheck (offline, pinned database) and ESLint
lint:
	@scripts/lint.sh

# make chaos                      the full failure drill of a cluster (tests/chaos): owner killed and frozen, a
#                                 gateway killed, one then two Cassandra nodes down, Redis frozen, a kick; then
#                                 make fuzz and make sockfuzz
chaos:
	@scripts/chaos.sh

# make fuzz [FUZZTIME=30s]        every Go fuzz target for FUZZTIME each (scripts/fuzz.sh; FUZZ_SAVE=1 keeps new corpus)
fuzz:
	@scripts/fuzz.sh

# make sockfuzz [SOCKFUZZ_FRAMES=100000]   the socket-level fuzzer at full size (scripts/sockfuzz.sh)
sockfuzz:
	@scripts/sockfuzz.sh

# make soak [SOAK_DURATION=30m]   mixed traffic for 30 minutes: RSS/goroutine slopes, p99 per minute (RELIABILITY.md)
soak:
	@scripts/soak.sh
