# coursekit: the two quick-start commands are `make lab` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
LAB_PORT ?= 8888
DEMO_OUT ?= demo-output
# pytest workers (pytest-xdist): 2 keeps both CPU cores busy while one test waits on I/O or a kernel
JOBS ?= 2
SITE_OUT ?= build/site

.PHONY: help setup lab test lint pytest notebooks refresh-notebooks exercises demo bench clean \
	test-browser wheel site classroom-extras

help:
	@echo "make lab    - set up .venv and open JupyterLab on the course (prints the URL)"
	@echo "make test   - set up .venv, then ruff, pytest over tests/ and nbval over every notebook"
	@echo "make demo   - headless end-to-end run of the course's main job into $(DEMO_OUT)/"
	@echo "make bench  - run the speed benchmarks (prints ratios against baselines)"
	@echo "make exercises - regenerate exercises/ from solutions/"
	@echo "make refresh-notebooks - re-execute lectures/solutions and store clean outputs for nbval"
	@echo "make test-browser - JupyterLab in headless Chromium: run the lectures, drive the viewer (screenshots)"
	@echo "make wheel  - build wheel + sdist into dist/ and test the wheel in a fresh venv"
	@echo "make site   - build the course website (static HTML, stored outputs) into $(SITE_OUT)/"

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

# The deployment checks (marker "classroom": browser, wheel, site, Binder resolution) have
# their own targets and .ci/run stages.
pytest:
	$(PY) -m pytest tests coursekit --doctest-modules -q -m "not classroom" -n $(JOBS) --dist loadfile

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

# The tools of the browser test and the website (pyproject extras "browser" and "site").
classroom-extras: setup
	$(VENV)/bin/pip install --quiet -e ".[browser,site]"

# Skipped with the reason when no Chromium is found (Debian: apt-get install -y chromium).
# COURSEKIT_BROWSER_NOTEBOOKS chooses the notebooks (see tests/test_browser.py).
test-browser: classroom-extras
	$(PY) -m pytest tests/test_browser.py -q -rs -s

wheel: classroom-extras
	$(PY) -m build --outdir dist .
	$(PY) -m pytest tests/test_wheel.py -q

site: classroom-extras
	$(PY) scripts/build_site.py --out $(SITE_OUT)

clean:
	rm -rf $(VENV) $(DEMO_OUT) build dist docs/site/_generated *.egg-info .pytest_cache .ruff_cache
