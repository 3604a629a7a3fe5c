# pymemcg: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SOURCES := $(wildcard csrc/*.c csrc/*.h) pymemcg/_build.py setup.py pyproject.toml

.PHONY: all venv demo test test-c test-python bench clean

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

test: test-c test-python

# Standalone C programs from csrc/, under ASan+UBSan and under TSan.
test-c:
	$(MAKE) -C tests/c check

test-python: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/bench_page_counter.py
	$(PY) benchmarks/bench_memcg.py

clean:
	rm -rf build *.egg-info pymemcg/_core*.so pymemcg/_core.c pymemcg/_core.o
	-$(MAKE) -C tests/c clean
