# One-command entry points. See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.setup-stamp

.PHONY: setup demo test test-fast compose-test lint clean-venv

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

# The main job on the bundled default: a sample motion → a rendered two-view clip (videos,
# calibration, exact detections) → the pipeline with the bundled network → OpenSim files.
demo: setup
	$(PY) -m model_store.demo --out out/demo/motion
	$(PY) -m training.synth clip --motion out/demo/motion/kinematics.mot --out out/demo/clip --seed 7
	$(VENV)/bin/kinematics-estimate --front out/demo/clip/front.mp4 --side out/demo/clip/side.mp4 \
		--calibration out/demo/clip/calibration.toml --detections out/demo/clip/detections \
		--mass-kg 72 --out out/demo/results
	@echo "results in out/demo/results (compare with the truth in out/demo/clip/truth.mot)"

# Type-checked packages (mypy settings in pyproject.toml; a cold run takes ~25 s on 2 cores).
TYPED := app worker model_store training

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(TYPED)

# Test lanes (docs/testing.md). Markers: `slow` (an in-process test over 5 s on 2 cores) and `service`
# (starts real processes: redis-server, uvicorn, Celery workers, Chromium; each stack on free ports).
# test-fast: pytest only, the unit tests (neither marker; needs no Redis, Chromium or network); `make lint`
# is ruff + mypy. test (CI): ruff, mypy, then every test on TEST_WORKERS pytest-xdist workers, a test file
# staying on one worker (module fixtures such as a service stack are built once); TEST_WORKERS=0: one process.
FAST_TESTS := -m "not slow and not service and not compose"
TEST_WORKERS ?= 2

test-fast: setup
	$(VENV)/bin/pytest -q $(FAST_TESTS)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(TYPED)
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not compose"
	$(MAKE) compose-test

# The deployment for real (docs/deployment.md): builds the images (local bases from Debian's packages,
# docker/build-local-bases.sh), brings docker-compose.yml up with podman-compose and docker/compose.local.yml,
# runs the demo pair through nginx, kills a worker mid-job, restarts the stack; removes what it started.
# Needs root, podman, runc and debootstrap (.ci/run installs them); images stay in var/containers.
compose-test: setup
	$(VENV)/bin/pytest -q -s -m compose tests/compose

clean-venv:
	rm -rf $(VENV)
