# coursekit: the two quick-start commands are `make lab` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
LAB_PORT ?= 8888
DEMO_OUT ?= demo-output

.PHONY: help setup lab test lint pytest notebooks refresh-notebooks exercises demo bench clean

help:
	@echo "make lab    - set up .venv and open JupyterLab on the course (prints the URL)"
	@echo "make test   - set up .venv, then ruff, pytest over tests/ and nbval over every notebook"
	@echo "make demo   - headless end-to-end run of the course's main job into $(DEMO_OUT)/"
	@echo "make bench  - run the speed benchmarks (prints ratios against baselines)"
	@echo "make exercises - regenerate exercises/ from solutions/"
	@echo "make refresh-notebooks - re-execute lectures/solutions and store clean outputs for nbval"

setup:
	@bash scripts/setup_env.sh

# --allow-root only where make runs as root (containers, classroom VMs); the URL with its
# token is printed once the server is up: open it in a browser.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(VENV)/bin/jupyter lab --no-browser --port=$(LAB_PORT) $(ALLOW_ROOT) \
		--ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/lectures

test: setup lint pytest notebooks

lint:
	$(VENV)/bin/ruff check coursekit tests benchmarks scripts
	$(VENV)/bin/ruff format --check coursekit tests benchmarks scripts

pytest:
	$(PY) -m pytest tests -q

notebooks:
	@bash scripts/run_notebooks.sh

demo: setup
	$(PY) -m coursekit demo --out $(DEMO_OUT)

bench: setup
	$(PY) benchmarks/run_all.py

# nbgrader metadata first (grade ids, points from coursekit.grading), then nbgrader generates
exercises: setup
	$(PY) scripts/nbgrader_metadata.py
	$(PY) -m coursekit make-exercises

refresh-notebooks: setup
	$(PY) scripts/refresh_notebooks.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build dist *.egg-info .pytest_cache .ruff_cache
