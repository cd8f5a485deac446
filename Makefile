# The two commands of the README:  make demo   and   make test
# Both create .venv and install what is missing first; installing again is a fast no-op
# (the stamp file changes only when pyproject.toml does).

PYTHON_SYSTEM ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: install demo test lint format benchmarks clean-runs

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps tidecv==1.0.1
	rm -f $(VENV)/.installed-* && touch $@

demo: install
	$(PYTHON) scripts/demo.py

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: install
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

benchmarks: install
	$(PYTHON) benchmarks/coco_eval_speed.py
	$(PYTHON) benchmarks/training_throughput.py
	OMP_NUM_THREADS=1 $(PYTHON) benchmarks/simulator_speed.py
	OMP_NUM_THREADS=1 $(PYTHON) benchmarks/inference_latency.py --threads 1
	$(PYTHON) benchmarks/clownfish_grid.py
	$(PYTHON) benchmarks/action_models.py

clean-runs:
	rm -rf logs
