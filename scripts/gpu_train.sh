#!/usr/bin/env bash
# Train the `gpu` recipe on one CUDA GPU (H100/H200; see docs/training.md).
# Needs the motion library built here first (`python -m training.motion_library build ...`): it
# reads data_cache/motion_library/{library.npz,manifest.json}. No OpenSim or MediaPipe needed.
# Writes the run (model.safetensors, model.json, metrics.jsonl) and logs under $OUT (default runs/gpu-out).
# INIT=model_store/checkpoints/default.json starts from the bundled weights instead of from scratch;
# CONFIG=gpu-continue picks another recipe (default: gpu); PROBE=1 times the data generator first.
set -uo pipefail
OUT=${OUT:-runs/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch, numpy, scipy, cv2; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available(), 'cpus', __import__('os').cpu_count())" || exit 3
test -f data_cache/motion_library/library.npz || { echo "no motion library in data_cache/motion_library"; exit 3; }
# what the data workers run on (cores, hyperthreads, cgroup quota); PROBE=1 also times the generator
# there (one core, then PROBE_WORKERS workers; ~1 minute of device time): see bench/bench_stream.py
$PY bench/bench_stream.py --cpu-only || true
if [ "${PROBE:-0}" != 0 ]; then
  $PY bench/bench_stream.py --sequences 8 --workers "${PROBE_WORKERS:-14}" --seconds 15 || true
fi
# 1. smoke test: the tiny streamed recipe on the same device (tens of seconds); stop early if it fails.
#    SMOKE=0 skips it (the main run also keeps RUN_DIR/partial.safetensors every checkpoint_every steps).
if [ "${SMOKE:-1}" != 0 ]; then
  if ! $PY -m training.train --config stream-tiny --run-dir /tmp/smoke --cache data_cache > "$OUT/smoke.log" 2>&1; then
    tail -40 "$OUT/smoke.log"; exit 4
  fi
  tail -1 "$OUT/smoke.log" | cut -c1-300
fi
# 2. the real run (wall-time bounded by the recipe)
$PY -m training.train --config "${CONFIG:-gpu}" --run-dir "$OUT/run" --cache data_cache ${INIT:+--init "$INIT"} > "$OUT/train.log" 2>&1
rc=$?
grep -E '"step": [0-9]*000,' "$OUT/train.log" | cut -c1-260 | tail -25
tail -3 "$OUT/train.log" | cut -c1-3000
exit $rc
