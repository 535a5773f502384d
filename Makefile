# The two commands a new user needs: `make demo` and `make test`.
GO ?= go

.PHONY: demo test build vet golden bench fuzz

demo:
	$(GO) run ./cmd/signalbox demo

# -pgo=off: the tests gain nothing from cmd/signalbox/default.pgo, and building the main
# package's tests with it would compile every dependency a second time on a cold cache.
test:
	$(GO) vet ./...
	$(GO) test -pgo=off -count=1 -timeout 8m ./...

build:
	$(GO) build -o bin/signalbox ./cmd/signalbox

vet:
	gofmt -l . | (! grep .) && $(GO) vet ./...

# Rewrite every golden file (testdata/*/out, txtar scripts) from the current output.
golden:
	SIGNALBOX_UPDATE_GOLDEN=1 $(GO) test -count=1 ./...

# Benchmarks behind docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -timeout 30m ./compiler/ ./compiler/analysis/ ./compiler/diff/ ./schema/ ./publisher/... ./e2e/ ./proxy/

# A short fuzz run of every fuzz target. Snapshot files are large inputs: minimising a new
# one may take the fuzzer longer than the run, so it is bounded.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 30s ./schema/
	$(GO) test -run '^$$' -fuzz FuzzAnalysis -fuzztime 30s ./compiler/analysis/
	$(GO) test -run '^$$' -fuzz FuzzSnapshotFile -fuzztime 30s -fuzzminimizetime 5s ./compiler/
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 30s ./proxy/
	$(GO) test -run '^$$' -fuzz FuzzParseResponse -fuzztime 30s ./proxy/
	$(GO) test -run '^$$' -fuzz FuzzJWTParse -fuzztime 30s ./proxy/
	$(GO) test -run '^$$' -fuzz FuzzJWTExtract -fuzztime 30s ./proxy/
	$(GO) test -run '^$$' -fuzz FuzzClientHelloSNI -fuzztime 30s ./proxy/
	$(GO) test -run '^$$' -fuzz FuzzCanonicalPath -fuzztime 30s ./proxy/

# Data-plane figures of docs/benchmarks.md: the proxy against direct, nginx, HAProxy and a plain
# httputil.ReverseProxy with wrk and bench/openloop on pinned cores (installs wrk and nginx-light
# itself; QUICK=1 for one short round). Writes bench/results/latest.md.
.PHONY: bench-proxy
bench-proxy:
	GO=$(GO) bash bench/proxy.sh

# Independent proxyless gRPC clients (grpc-js-xds from npm, C-core via Debian's python3-grpcio,
# both installed by the script) against the publisher: one line per client and feature.
.PHONY: conformance
conformance:
	bash conformance/run.sh
