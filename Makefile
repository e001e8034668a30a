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
	$(PY) -m pip install -q -e ".[dev,lava]"
	# lava-nc 0.10.0 declares Python < 3.11 and numpy < 2; both are fine in practice
	# (README, "Two commands"): install it without its pins; snnc patches its one 3.11 issue
	# at import.
	$(PY) -m pip install -q --no-deps --ignore-requires-python lava-nc==0.10.0
	# Sinabs 3.1.3 (conformance suite) pins nir <= 1.0.4 and wants samna (Speck hardware);
	# its code runs on nir 1.0.8 without samna, so it comes without its pins.
	$(PY) -m pip install -q --no-deps sinabs==3.1.3
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
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
	@echo "== snnc compile: loihi2, 8-bit weights -> $(OUT)/digits.loihi2 (each pass timed, then verified)"
	$(SNNC) compile digits --target loihi2 -o $(OUT)/digits.loihi2 --time-passes
	@echo "== snnc run: the core map on the simulated chip (refsim, bit-exact to Lava), same 450 digits, with counters"
	$(SNNC) run $(OUT)/digits.loihi2 --input $(OUT)/digits_test.npy --batch --steps 18 --counters -o $(OUT)/digits_fixed.npz > $(OUT)/digits_fixed.json
	$(PY) examples/digits/demo.py score $(OUT)/digits_fixed.npz $(OUT)/digits_labels.npy loihi2-refsim
	@echo "== snnc run --engine lava: the first 5 digits in Lava 0.10.0, compared with the simulated chip"
	$(PY) -c "import numpy as np; np.save('$(OUT)/digits_5.npy', np.load('$(OUT)/digits_test.npy')[:5])"
	$(SNNC) run $(OUT)/digits.loihi2 --engine lava --input $(OUT)/digits_5.npy --batch --steps 18 -o $(OUT)/digits_lava.npz > /dev/null
	$(PY) -c "import numpy as np; a=np.load('$(OUT)/digits_lava.npz')['output_spikes']; b=np.load('$(OUT)/digits_fixed.npz')['output_spikes'][:5]; print('  lava == refsim on 5 digits:', bool((a==b).all()))"
	@echo "== snnc compile: tianjic core map (per-core crossbars, routes) -> $(OUT)/digits.tianjic"
	$(SNNC) compile digits --target tianjic -o $(OUT)/digits.tianjic
	@echo "  cores: $$(wc -l < $(OUT)/digits.tianjic/tianjic/cores.jsonl) (one line each in tianjic/cores.jsonl); summary in $(OUT)/digits.tianjic/cores.md"
	@echo "== snnc report: resources, energy, time, fidelity -> $(OUT)/digits_report.{json,md,html}"
	$(SNNC) report $(OUT)/digits.tianjic -q --json $(OUT)/digits_report.json --md $(OUT)/digits_report.md --html $(OUT)/digits_report.html
	@echo "== an ONNX ANN: the digits CNN of examples/onnx_digits converted to an SNN for loihi2 (64 steps)"
	$(PY) examples/onnx_digits/demo.py data $(OUT)/cnn_xtrain.npy $(OUT)/cnn_xtest.npy $(OUT)/cnn_labels.npy
	$(SNNC) compile examples/onnx_digits/cnn.onnx --balance-data $(OUT)/cnn_xtrain.npy --target loihi2 -o $(OUT)/cnn.loihi2
	$(SNNC) encode $(OUT)/cnn.loihi2 --values $(OUT)/cnn_xtest.npy -o $(OUT)/cnn_spikes.npy
	$(SNNC) run $(OUT)/cnn.loihi2 --input $(OUT)/cnn_spikes.npy --batch > $(OUT)/cnn_run.json
	$(PY) examples/onnx_digits/demo.py score $(OUT)/cnn_run.json $(OUT)/cnn_labels.npy
	@echo "== snnc eval: the loihi2 artifact over the 450 digits on a Dask LocalCluster of 2 worker processes"
	$(SNNC) eval $(OUT)/digits.loihi2 --input $(OUT)/digits_test.npy --labels $(OUT)/digits_labels.npy --steps 18 --workers 2 -o $(OUT)/digits_eval.json
	@echo "== snnc sweep: loihi2 and tianjic at 8- and 4-bit weights, 18 steps -> $(OUT)/digits_sweep/sweep.{json,csv,html}"
	rm -rf $(OUT)/digits_sweep
	$(SNNC) sweep digits --targets loihi2,tianjic --weight-bits 8,4 --steps 18 --input $(OUT)/digits_test.npy --labels $(OUT)/digits_labels.npy -o $(OUT)/digits_sweep --workers 2 -q
	$(PY) -c "import json; [print(f\"  {r['point']:<20} {100 * r['accuracy']:.2f} %  {r['energy_per_inference_joules']:.3e} J  {r['cores']} core(s){'  (Pareto: energy)' if r['pareto_energy'] else ''}\") for r in json.load(open('$(OUT)/digits_sweep/sweep.json'))['rows']]"
	@echo "== a model trained in snnTorch (biases, default delayed reset): snnTorch, snnc float, loihi2 and tianjic refsim"
	$(PY) examples/snntorch_digits/evaluate.py --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis
