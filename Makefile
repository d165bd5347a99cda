# The two commands: `make run` and `make test`. Both install what is missing and start the local databases.
.PHONY: run test stop clean-data status build bench lint conformance

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

lint:
	@go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
