#!/usr/bin/env bash
# One training epoch of the paper's hybrid network, defrisk against PyTorch, in
# one run on this machine (CPU). Same shapes: batch 256, filters 64/128/256,
# LSTM 128 over a 12 x 2 history, four branches of 20 features, FC 256/64.
#   bench/train_compare.sh [rows] [repeats]     (logs under bench/logs/)
# PyTorch is the pinned one of scripts/python/torch.txt (.venv-torch), run eager
# with 2 intra-op threads and one BLAS thread (its fastest eager setting here),
# eager with its default threading, and under torch.compile (inductor, which
# compiles C++ for the CPU). The load average is logged before each.
set -euo pipefail
rows=${1:-20000}; reps=${2:-3}
cd "$(dirname "$0")/.."
source scripts/python_env.sh
dr_python_env torch
mkdir -p bench/logs
log=bench/logs/train_compare-$(date +%Y%m%d-%H%M%S).log
shape=(--rows "$rows" --repeats "$reps" --groups 20,20,20,20 --seq-len 12 --seq-ch 2)
load() { echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"; }
{
    echo "# $(date -u) commit $(git rev-parse --short HEAD) $(lscpu | grep 'Model name' | sed 's/ \+/ /g')"
    echo "# PyTorch $("$DR_PYTHON" -c 'import torch; print(torch.__version__)')"
    load
    echo "## defrisk (cpu, OMP_WAIT_POLICY=passive)"
    OMP_WAIT_POLICY=passive ./build/train_bench "${shape[@]}"   # as ./run_experiment sets it
    load
    echo "## pytorch: 2 threads, 1 BLAS thread"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$DR_PYTHON" bench/torch_ref.py "${shape[@]}" --threads 2
    load
    echo "## pytorch: default threads"
    "$DR_PYTHON" bench/torch_ref.py "${shape[@]}" --threads "$(nproc)"
    load
    echo "## pytorch: torch.compile, 2 threads, 1 BLAS thread"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$DR_PYTHON" bench/torch_ref.py "${shape[@]}" --threads 2 --compile ||
        echo "# torch.compile failed (above)"
    load
} 2>&1 | tee "$log"
