# pymemcg: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SOURCES := $(wildcard csrc/*.c csrc/*.h) pymemcg/_build.py setup.py pyproject.toml

.PHONY: all venv demo test test-deep test-c test-python typecheck bench clean

all: venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Editable install: the extension is compiled in place (pymemcg/_core*.so).
$(STAMP): $(PY) $(SOURCES)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m pymemcg demo

# The C programs and the Python suite run side by side (two jobs: the machines
# this must fit have two cores), each one's output kept together; then mypy.
test: $(STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-c test-python
	@$(MAKE) --no-print-directory typecheck

# The state machines and the fuzzers with ten times CI's budget (a few minutes more).
test-deep: $(STAMP) fuzz-deps-optional
	PYMEMCG_HIERARCHY_STEPS=30000 PYMEMCG_MACHINE_STEPS=50000 PYMEMCG_SLAB_STEPS=20000 \
	PYMEMCG_FUZZ_SECONDS=40 HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q \
	tests/test_hierarchy_machine.py tests/test_page_counter_machine.py \
	tests/test_slab_machine.py tests/test_fuzz_short.py

# Standalone C programs from csrc/, under ASan+UBSan and under TSan.
test-c:
	$(MAKE) -C tests/c check

# Two pytest-xdist workers, a test file each at a time (the packaging tests share
# their build; a machine's runs stay in one process).
test-python: $(STAMP) fuzz-deps-optional
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -n 2 --dist loadfile

# mypy --strict over the package, as [tool.mypy] of pyproject.toml sets it (mypy and
# types-cffi come with the `test` extra).  Its cache, build/mypy_cache, makes a re-run
# take a second or so (a cold run: a few seconds).
typecheck: $(STAMP)
	$(PY) -m mypy

# Fuzzing (tests/fuzz/README.md).  atheris is the `fuzz` extra of pyproject.toml;
# it is installed alone, since `pip install -e '.[fuzz]'` would rebuild the extension.
.PHONY: fuzz fuzz-deps-optional
FUZZ_SECONDS ?= 600
FUZZERS ?=
FUZZ_STAMP := $(VENV)/.fuzz-installed

$(FUZZ_STAMP): $(STAMP)
	$(PY) -m pip install -q --retries 1 --timeout 15 'atheris>=2.3'
	touch $@

# `make test` tries to install atheris; where it cannot (no wheel for this Python or
# platform, no network), tests/test_fuzz_short.py runs the harnesses over Hypothesis
# and reports test_atheris_installed as skipped.
fuzz-deps-optional: $(STAMP)
	@$(MAKE) --no-print-directory $(FUZZ_STAMP) || echo "make: atheris could not be installed: the short fuzz runs of make test fall back to Hypothesis"

# Every harness (or FUZZERS="memparse replay") for FUZZ_SECONDS each, each in its own
# process; prints each one's execution count; corpus, logs and reproducers in build/fuzz/.
fuzz: $(FUZZ_STAMP)
	$(PY) tests/fuzz/run_all.py --seconds $(FUZZ_SECONDS) --workdir build/fuzz $(FUZZERS)

# Line coverage of csrc/ by the C programs (tests/c, flavour cov) and by the Python
# suite (an extension built with --coverage in build/coverage; the in-place
# pymemcg/_core*.so is untouched), merged per source line by gcovr (the `coverage`
# extra of pyproject.toml, installed alone by tools/coverage.py if missing).  Prints
# the table and the uncovered lines; fails below COVERAGE_MIN percent or if a run fails.
.PHONY: coverage
COVERAGE_MIN ?= 95
coverage: $(STAMP)
	$(PY) tools/coverage.py --min $(COVERAGE_MIN)

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/bench_page_counter.py
	$(PY) benchmarks/bench_memcg.py

clean:
	rm -rf build *.egg-info pymemcg/_core*.so pymemcg/_core.c pymemcg/_core.o
	-$(MAKE) -C tests/c clean
