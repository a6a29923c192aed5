#!/usr/bin/env bash
# The CUDA path on a real GPU (issue 20 item 4), in under 5 minutes, with no network:
#   1. the CUDA tests (tests/test_cuda.py, tests/test_batched_forward.py, and every test
#      parametrized over devices, selected by "cuda" in their names);
#   2. benchmarks/gpu_check.py: aggregate real-time factor of A1 standard on 1, 8, 64 and
#      512 one-second signals (float32 and float64), and a 1,000-model audit's forwards
#      (batched gain sweeps), timed with CUDA events after warm-up.
#
# Usage, from anywhere:
#   benchmarks/gpu_check.sh [--dry-run] [--out DIR]     (or NAMCHECK_GPU_DRY=1)
# --dry-run: no CUDA call at all; the tests run on the CPU (their CUDA cases skip by name)
# and gpu_check.py at tiny sizes on the CPU: what CI runs (tests/test_gpu_check.py).
# Results: DIR/gpu_check.json and DIR/gpu_check.log (DIR: $OUT if set, else ./gpu_check).
#
# namcheck need not be installed: the checkout is put on PYTHONPATH as the `namcheck`
# namespace (a folder of links in a temporary directory). Its dependencies must import:
# torch (with CUDA), numpy, scipy, pytest, hypothesis, tqdm, pydantic, soundfile, pyloudnorm.
# A GPU image without pydantic, soundfile or pyloudnorm (no network there) takes them as
# wheels fetched beforehand on a machine with pip access, from the checkout's root:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl pydantic pydantic-core annotated-types \
#     typing-inspection typing-extensions soundfile cffi pycparser pyloudnorm
# (--python-version: the GPU machine's python3; soundfile's wheel bundles libsndfile for
# x86_64; pydantic-core needs typing-extensions >= 4.14.1), then on the GPU machine,
# carrying .whl:
#   python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site
#   benchmarks/gpu_check.sh --out "$OUT"
# The fixture tests need ../shared/fixtures beside the checkout (they skip by name without).
# Last run: an H200 (torch 2.11.0+cu130), 2026-11-30: 219 s in all (tests 104 s).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dry="${NAMCHECK_GPU_DRY:-0}"
out="${OUT:-$PWD/gpu_check}"
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry=1 ;;
        --out) out="$2"; shift ;;
        *) echo "gpu_check.sh: unknown argument $1 (expected --dry-run, --out DIR)" >&2
           exit 2 ;;
    esac
    shift
done
[ "$dry" = 0 ] || dry=1
mkdir -p "$out"
python="${PYTHON:-python3}"

# namcheck from this checkout, whatever is installed
shim="$(mktemp -d)"
trap 'rm -rf "$shim"' EXIT
mkdir -p "$shim/namcheck"
for part in harness models signals; do ln -s "$root/$part" "$shim/namcheck/$part"; done
export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

"$python" - <<'EOF' || exit 2
import importlib, sys
missing = []
for name in ("torch", "numpy", "scipy", "pytest", "hypothesis", "tqdm", "pydantic",
             "soundfile", "pyloudnorm"):
    try:
        importlib.import_module(name)
    except Exception as exc:
        missing.append(f"{name} ({type(exc).__name__}: {exc})")
if missing:
    print("gpu_check.sh: cannot import " + "; ".join(missing)
          + " (see this script's header for wheels)", file=sys.stderr)
    sys.exit(1)
import namcheck.models, torch
print(f"namcheck from {namcheck.models.__path__[0]}; torch {torch.__version__}, "
      f"CUDA available: {torch.cuda.is_available()}")
EOF

log="$out/gpu_check.log"
start=$(date +%s)
cd "$root"
if [ "$dry" = 1 ]; then
    tests=(tests/test_cuda.py)  # the CUDA cases skip by name here; one CPU case runs
    select=(-k "test_cuda_ or ieee")
    bench=(--dry-run --budget 600)
    dev=cpu
else
    "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
        echo "gpu_check.sh: torch sees no CUDA device here (--dry-run runs without one)" >&2
        exit 2; }
    tests=(tests/test_cuda.py tests/test_batched_forward.py tests/test_engine_contract.py
           tests/test_forward_fixtures.py)
    select=(-k cuda)  # (every test of test_cuda.py, and the cuda cases elsewhere)
    bench=(--budget 180)
    dev=cuda
fi
echo "== CUDA tests ($dev)" | tee "$log"
set +e
"$python" -m pytest -q -p no:cacheprovider -p no:namcheck -rs "${tests[@]}" \
    ${select[@]+"${select[@]}"} 2>&1 | tee -a "$log"
tests_rc=${PIPESTATUS[0]}
set -e
echo "== gpu_check.py (tests exit $tests_rc, $(( $(date +%s) - start )) s so far)" | tee -a "$log"
set +e
"$python" benchmarks/gpu_check.py "${bench[@]}" --out "$out" 2>&1 | tee -a "$log"
bench_rc=${PIPESTATUS[0]}
set -e
echo "== done in $(( $(date +%s) - start )) s: tests exit $tests_rc, gpu_check exit $bench_rc" \
    | tee -a "$log"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
