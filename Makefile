# textract-connector: the front door. `make demo` and `make test` work on a fresh clone.
CARGO      ?= cargo
WASM_TARGET = wasm32-wasip2
# cargo's output, and the component as it ships (post-optimised when jco is there).
COMPONENT_RAW = target/$(WASM_TARGET)/release/textract_connector.wasm
COMPONENT   = target/component/textract_connector.wasm
FIXTURE     = target/$(WASM_TARGET)/release/sandbox_guest.wasm
HOST        = target/debug/textract-host
JCO        ?= $(firstword $(wildcard target/tools/node_modules/.bin/jco) $(shell command -v jco 2>/dev/null))
# The features rustc's wasm32 output uses; Binaryen needs to be told.
WASM_OPT_FLAGS = -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
                 --enable-mutable-globals --enable-multivalue --enable-reference-types

# The guest's optimisation levels, per package (measured by `make bench` and
# `textract-bench --profile`): the connector itself and its JSON path (serde_json,
# serde, zmij, itoa) at 3, everything else (aws-sigv4, http, sha2, base64, ...) at
# "z". Cold code then costs 20 KB less at the same speed; the connector at "s"
# would save 54 KB more but slows the SYNC call by ~25% (LTO optimises the whole
# module at the connector's level).
GUEST_OPT = --config 'profile.release.opt-level="z"' \
            $(foreach p,textract-connector serde_json serde_core zmij itoa,--config 'profile.release.package.$(p).opt-level=3')

# The official element templates (the models users write) and bpmn-io's validator, pinned.
OFFICIAL_TEMPLATES = target/tools/node_modules/@camunda/connectors-element-templates/src/element-templates/aws-textract-outbound-connector.json
NPM_TOOLS   = @bytecodealliance/jco@1.35.0 @camunda/connectors-element-templates@1.0.29 \
              @bpmn-io/element-templates-validator@2.26.0

.PHONY: demo test layout tools component fixture host target bench bench-quick profile sdk-baseline fuzz test-jco templates \
        test-templates clean

# Idempotent: adds the wasm target to the toolchain named in rust-toolchain.toml.
target:
	@rustup target add $(WASM_TARGET) >/dev/null 2>&1 || rustup target add $(WASM_TARGET)

# The guest is built on its own (-p, --target) so its features never unify with
# the host's, and the host is built with --workspace exactly as `cargo test`
# builds it, so wasmtime is compiled once per profile and shared.
# The guest has its own optimisation levels (GUEST_OPT above) while the
# workspace's release profile stays at "s": in wasm, "s" cost the JSON path ~25%,
# while native code barely cares. wasm-opt -Oz below wins size back where it can.
component: target
	$(CARGO) build $(GUEST_OPT) -p textract-connector --target $(WASM_TARGET) --release
	@mkdir -p $(dir $(COMPONENT))
	@if [ -f $(COMPONENT) ] && [ ! $(COMPONENT_RAW) -nt $(COMPONENT) ]; then :; \
	elif [ -z "$(JCO)" ]; then \
	  echo "component: not post-optimised (\`make tools\` installs jco and its wasm-opt)"; \
	  cp $(COMPONENT_RAW) $(COMPONENT); \
	else \
	  $(JCO) opt $(COMPONENT_RAW) -q -o $(COMPONENT).tmp -- $(WASM_OPT_FLAGS) && \
	  python3 tools/strip_custom_sections.py $(COMPONENT).tmp $(COMPONENT) && rm -f $(COMPONENT).tmp; \
	fi
	@# cargo judged the build current: mark it so, for the tests' stale-build check
	@# (a change to a file the wasm build does not compile, such as a test fake, is not staleness).
	@touch $(COMPONENT)
	@ls -l $(COMPONENT) | awk '{print "component: " $$5 " bytes"}'

# Post-link size optimisation: jco (npm) runs Binaryen's wasm-opt on the core
# module and splices it back into the component; then every custom section
# (names, producers) is stripped. `make tools` installs jco into target/tools;
# without it the plain cargo output is used, which behaves the same.
# It also installs the official element templates and bpmn-io's validator, which
# the template tests of `make test` need (they report themselves skipped without).
tools:
	mkdir -p target/tools
	cd target/tools && npm install --no-audit --no-fund --loglevel=error --save-exact $(NPM_TOOLS)

# The element templates alone: installs the pinned packages, then runs every official
# template version's models through the component, and validates our own template.
templates: tools component test-templates

test-templates:
	@if [ -f $(OFFICIAL_TEMPLATES) ]; then \
	  $(CARGO) test -p textract-host --test element_templates -- --ignored --nocapture; \
	else echo "official element template models: skipped (run \`make tools\` to install @camunda/connectors-element-templates)"; fi
	@if command -v node >/dev/null 2>&1; then node tests/element-templates/validate.mjs; \
	else echo "element template validation: skipped (no node)"; fi

# The test-only component that proves the sandbox's limits.
fixture: target
	$(CARGO) build -p sandbox-guest --target $(WASM_TARGET) --release

host:
	$(CARGO) build --workspace

demo: component host
	@echo "== SYNC analysis of a pay stub (S3, all five features and a query), replayed from a recording"
	$(HOST) run --input examples/sync-paystub/input.json --replay examples/sync-paystub/cassette.json \
	  --summary --output target/demo-result.json
	@echo "(the full Camunda-shaped result, with the summary the CLI asked for, is in target/demo-result.json)"

test: component fixture layout
	$(CARGO) test --workspace
	@$(MAKE) --no-print-directory test-templates
	@if [ -n "$$TEXTRACT_MOTO_CONFIG" ]; then $(CARGO) test -p textract-host --test moto --test worker_moto -- --ignored; else echo "moto tests: skipped (TEXTRACT_MOTO_CONFIG is not set)"; fi

# jco as a second runtime: every replayable scenario through the shipped component
# transpiled by jco (Node 20+, installed by `make tools`), compared byte for byte
# with textract-host's result (tests/jco/run.mjs; README "A second runtime: jco").
test-jco: component host
	@test -x target/tools/node_modules/.bin/jco || { echo "test-jco: jco is not installed; run \`make tools\`"; exit 1; }
	node tests/jco/run.mjs

# The long fuzzing run: a million generated hostile inputs through the connector's
# core natively (tests/fuzz.rs; `make test` runs 20,000 of them). Prints the counts
# by outcome; FUZZ_SEED picks another run.
FUZZ_CASES ?= 1000000
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test --release -p textract-connector --test fuzz -- --nocapture

# The layout's rule: files import downwards only (no circle over 3 files in the
# connector, none in the host).
layout:
	python3 tests/tools/import_cycles.py src --max 3
	python3 tests/tools/import_cycles.py host-harness/src --max 1

# The AWS SDK for Rust baseline: its own workspace and target folder, built only here.
sdk-baseline:
	cd bench/sdk-baseline && CARGO_TARGET_DIR=$(CURDIR)/target/sdk $(CARGO) build --release

# Everything measured in one run on a release host (builds wasmtime in release once).
bench: component sdk-baseline
	$(CARGO) build --release -p textract-host --bins
	target/release/textract-bench

# Where the component's SYNC call spends its time: perf samples `textract-bench
# --profile`, and the engine's perf map names the guest's functions (Debian's
# linux-perf; the host's own symbols are stripped in release).
profile: component
	$(CARGO) build --release -p textract-host --bins
	TEXTRACT_HOST_PERF_MAP=1 perf record -q -e cpu-clock -F 20000 -o target/perf.data target/release/textract-bench --profile
	perf report -i target/perf.data --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$$' | head -60

# A reduced run on the test build, to prove the bench works (CI runs it).
bench-quick: component host
	target/debug/textract-bench --quick

clean:
	$(CARGO) clean
