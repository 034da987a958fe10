# The README's commands. `make test` is the one test command: README, .ci/run and
# the GitHub workflow all run exactly it (scripts/check-workflows.sh checks).
GO ?= go
FUZZTIME ?= 60s

.PHONY: test deps tools render lint fuzz fuzz-gateway bench bench-gateway bench-gateway-burst bench-routing build fresh-check provider schema

## test: install the test dependencies and build the tools if missing, then run every test
## (the simulated-cluster package alone takes 3-5 minutes: more than go test's default 10 minutes
## is allowed per package for a loaded machine)
test: deps tools
	@echo "test: compiling and running every package's tests (warm: about 17 min on 2 cores; the engine tests of cmd/provider, internal/apiserver and internal/simcluster take 3-6 min each)"
	$(GO) test -count=1 -timeout 30m ./...

## tools: bin/pulumi, bin/pulumi-resource-kubernetes, bin/pulumi-language-yaml, bin/kube-apiserver,
## bin/kube-controller-manager, bin/kube-scheduler, bin/etcd and bin/kwok (each rebuilt only when its
## tools/ module or its build function changes; `scripts/build-tools.sh --plan` says what it would do)
tools:
	scripts/build-tools.sh

## render: the main job: render the dev stack offline through the real engine. It builds only the two
## tools it runs (a pulumi on PATH at or above the pinned version, or an installed provider plugin, is
## used instead of a build), then compiles cmd/render with the program and its cloud SDKs
RENDER_TOOLS = pulumi pulumi-resource-kubernetes
render:
	scripts/build-tools.sh $(RENDER_TOOLS)
	@echo "render: compiling cmd/render with its cloud SDKs (the first time in a clone: about 4 min with a warm Go build cache, longer from an empty one; seconds after), then rendering the dev stack (15-35 s)"
	$(GO) run ./cmd/render -stack dev

## deps: nginx + Lua + cjson + shellcheck + redis + postgresql + node/npm from Debian (then `npm ci` of the pinned OpenAI Node client): when one is missing, prints which and why,
##   then installs them with apt-get (root or sudo); when all are there it installs nothing and needs no root
deps:
	scripts/install-test-deps.sh

## lint: gofmt, go vet, shellcheck over scripts/ and .ci/run, and actionlint over the workflows
##   (REQUIRE_SHELLCHECK=1, as .ci/run sets, fails when shellcheck is missing instead of warning)
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v shellcheck >/dev/null; then shellcheck scripts/*.sh .ci/run && echo "shellcheck: scripts/*.sh .ci/run pass"; \
	elif [ "$${REQUIRE_SHELLCHECK:-0}" = 1 ]; then echo "shellcheck not found and REQUIRE_SHELLCHECK=1: apt-get install -y shellcheck"; exit 1; \
	else echo "WARNING: shellcheck not found: scripts/ are NOT checked (apt-get install -y shellcheck)" >&2; fi
	scripts/check-workflows.sh

build:
	$(GO) build ./...

## provider: the component package's plugin, bin/pulumi-resource-llm-platform (see docs/components.md, "The component package")
provider:
	$(GO) build -o bin/pulumi-resource-llm-platform ./cmd/provider

## schema: regenerate cmd/provider/schema.json from the Go Args (a test fails while it is stale)
schema:
	$(GO) generate ./cmd/provider

## fuzz: fuzz the stack config parser (FUZZTIME=60s by default)
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseValidate -fuzztime $(FUZZTIME) ./stacks/spec/

## fuzz-gateway: the gateway's body scanner against lua-cjson on FUZZ_INPUTS generated and mutated
## bodies (2,000,000 by default, about a minute; CI runs 40,000 in go test). GATEWAY_FUZZ_SEED=n
## repeats a run.
FUZZ_INPUTS ?= 2000000
fuzz-gateway: deps
	GATEWAY_FUZZ_INPUTS=$(FUZZ_INPUTS) $(GO) test -count=1 -timeout 0 -v -run '^TestScanMatchesCJSON$$' ./components/gateway/nginx/

## bench: the whole program under mocks with 1, 10 and 100 models
bench:
	$(GO) test -run '^$$' -bench BenchmarkProgram -benchtime 10x ./stacks/

## fresh-check: the README's two commands in a fresh clone with an empty module cache
##   (COLD=1: an empty Go build cache too, the whole cold path: about an hour on 2 cores)
fresh-check:
	scripts/fresh-check.sh render test

## bench-gateway: gateway vs bare nginx vs direct on loopback
bench-gateway: deps
	$(GO) run ./cmd/gateway-bench

## bench-gateway-burst: 8 bodies of 16 MiB at once through the gateway and the bare proxy
bench-gateway-burst: deps
	$(GO) run ./cmd/gateway-bench -burst

## bench-routing: routing strategies over 4 simulated vLLM replicas, 4 workloads, capacity at SLO (about 35 minutes; QUICK=1 for a ~10-minute smoke run);
##   prints the tables and writes docs/routing-bench.md and docs/routing-bench.svg
bench-routing: deps
	$(GO) run ./cmd/routing-bench $(if $(QUICK),-quick -markdown "" -svg "")
