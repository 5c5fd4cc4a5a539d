# One-command entry points. See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.setup-stamp

.PHONY: setup demo test lint clean-venv

setup: $(STAMP)

# torch 2.13.0 comes as a CPU build from the local wheel directory; opensim is installed without
# its (wrong for us) numpy>=2.1 requirement, see pyproject.toml.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0 numpy==1.26.4
	$(PIP) install -q --no-deps opensim==4.6
	$(PIP) install -q -e '.[dev]'
	$(PY) -c "import opensim, torch, numpy, mediapipe; print('setup ok: opensim', opensim.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)"
	touch $(STAMP)

demo: setup
	$(PY) -m model_store.demo --out out/demo

lint: setup
	$(VENV)/bin/ruff check .

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

clean-venv:
	rm -rf $(VENV)
