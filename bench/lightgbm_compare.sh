#!/usr/bin/env bash
# The framework's LightGBM against the Python lightgbm package (the version pinned
# in scripts/python/interop.txt), same rows, same parameters, same run: test AUC
# and median training time for 1 and 2 threads.
#   bench/lightgbm_compare.sh [N_TRAIN [REPEATS]]      (defaults 100000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000} REPEATS=${2:-5}
source scripts/python_env.sh
dr_python_env
dr_build >/dev/null
T=$(mktemp -d /tmp/defrisk_lgbm.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), commit $(git rev-parse --short HEAD), $N training rows," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
for threads in 1 2; do
    "$DR_BUILD/lightgbm_bench" "$T" "$N" "$threads" "$REPEATS" >/dev/null
    "$DR_PYTHON" bench/lightgbm_python.py "$T" "$REPEATS"
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
