# Two entry points (see README): `make demo` runs the main job on the shipped model,
# `make test` runs the whole test suite. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SNNC := $(VENV)/bin/snnc
STAMP := $(VENV)/.installed
OUT := out

.PHONY: demo test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p $(OUT)
	@echo "== snnc inspect: the shipped digits model (examples/digits/digits.nir)"
	$(SNNC) inspect digits --format json > $(OUT)/digits_summary.json
	$(PY) -c "import json; d=json.load(open('$(OUT)/digits_summary.json')); print('  populations:', [(p['name'], p['model'], p['size']) for p in d['populations']]); print('  projections:', [(p['name'], p['kind'], p['synapses']) for p in d['projections']])"
	@echo "== encode the 450 held-out digits (deterministic rate code, 16 steps)"
	$(PY) examples/digits/demo.py encode $(OUT)/digits_test.npy $(OUT)/digits_labels.npy
	@echo "== snnc run: float engine, batch of 450, 18 steps (16 + 2 steps of latency)"
	$(SNNC) run digits --input $(OUT)/digits_test.npy --batch --steps 18 --trace -o $(OUT)/digits_run.npz > $(OUT)/digits_run.json
	$(PY) examples/digits/demo.py score $(OUT)/digits_run.npz $(OUT)/digits_labels.npy

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis
