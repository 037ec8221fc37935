# vigil — make targets. `make run` starts one node with an embedded Kafka
# broker; `make test` runs everything CI runs.

GO        ?= go
DATA_DIR  ?= vigil-data
BIN       := bin/vigil
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME  ?= 200000x
# Packages whose fuzz targets `make fuzz` runs: the decoders of untrusted
# input. Every fuzz target's seed corpus also runs in test-unit.
FUZZ_PKGS ?= ./sources ./event ./profiles ./storage ./findings ./actors

.PHONY: all build run test test-unit test-memory test-cluster fuzz lint bench bench-micro docs clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/vigil

## run: start one node (embedded Kafka on 127.0.0.1:9092, admin on 127.0.0.1:8080, data in $(DATA_DIR))
run: build
	$(BIN) run --data-dir $(DATA_DIR)

## test: unit, integration and end-to-end tests with the race detector, the memory test without it, the fuzz seeds, then lint
test: test-unit test-memory fuzz lint

test-unit:
	$(GO) test -race -count=1 -timeout 30m ./...

## test-memory: a node's resident memory before, at and after a 100,000-event record (the race detector would distort it)
test-memory:
	$(GO) test -count=1 -timeout 10m -run '^TestMemorySpike$$' -v ./cmd/vigil/

## test-cluster: the multi-process cluster tests with 200,000 records each (make test runs them with 20,000)
test-cluster:
	VIGIL_CLUSTER_RECORDS=200000 $(GO) test -count=1 -timeout 60m -run '^TestCluster' -v ./cmd/vigil/

## fuzz: run the decoders' fuzz targets briefly (their seed corpora always run in test-unit)
fuzz:
	@for pkg in $$($(GO) list $(FUZZ_PKGS)); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x $$pkg || exit 1; \
		done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## bench: `vigil bench`, short: every source and the mix, each in max, rate and backlog phases of BENCH_DURATION against
## an in-process node, then the reference loop over the same records; prints the summary and writes report.md,
## results.json and charts to BENCH_OUT (under two minutes on 2 cores)
BENCH_DURATION ?= 5s
BENCH_OUT      ?= bin/bench-report
bench: build
	$(BIN) bench --duration $(BENCH_DURATION) --out $(BENCH_OUT)

## bench-micro: Go micro-benchmarks of the decoders, the event and internal-record codecs, profile updates and
## encoding, the detectors and Pebble batches
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./sources/ ./event/ ./actors/ ./profiles/ ./detect/ ./storage/

## docs: rewrite the README's detection table from the detector catalogue (make test fails when they differ)
docs:
	$(GO) test -count=1 -run '^TestCatalogueInREADME$$' ./detect/ -update

clean:
	rm -rf bin $(DATA_DIR)
