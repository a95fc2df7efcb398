#!/usr/bin/env bash
# One training epoch of the paper's hybrid network, defrisk against PyTorch, in
# one run on this machine (CPU). Same shapes: batch 256, filters 64/128/256,
# LSTM 128 over a 12 x 2 history, four branches of 20 features, FC 256/64.
#   bench/train_compare.sh [rows] [repeats]     (logs under bench/logs/)
# PyTorch runs in the setting the issue found fastest here (2 intra-op threads,
# one BLAS thread) and in its default setting.
set -euo pipefail
rows=${1:-20000}; reps=${2:-3}
cd "$(dirname "$0")/.."
mkdir -p bench/logs
log=bench/logs/train_compare-$(date +%Y%m%d-%H%M%S).log
shape=(--rows "$rows" --repeats "$reps" --groups 20,20,20,20 --seq-len 12 --seq-ch 2)
{
    echo "# $(date -u) commit $(git rev-parse --short HEAD) $(lscpu | grep 'Model name' | sed 's/ \+/ /g')"
    echo "# load before: $(cat /proc/loadavg)"
    echo "## defrisk (cpu, OMP_WAIT_POLICY=passive)"
    OMP_WAIT_POLICY=passive ./build/train_bench "${shape[@]}"   # as ./run_experiment sets it
    echo "## pytorch: 2 threads, 1 BLAS thread"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_ref.py "${shape[@]}" --threads 2
    echo "## pytorch: default threads"
    /usr/bin/python3 bench/torch_ref.py "${shape[@]}" --threads "$(nproc)"
    echo "# load after: $(cat /proc/loadavg)"
} 2>&1 | tee "$log"
