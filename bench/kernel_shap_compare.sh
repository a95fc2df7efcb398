#!/usr/bin/env bash
# Kernel SHAP against the shap package's KernelExplainer (the version pinned in
# scripts/python/interop.txt) on the same saved XGBoost model, k-means
# background and test loans, shap's default coalition count (2 x inputs + 2048),
# interleaved REPEATS times: median seconds of each, and their agreement
# (tests/interop/kernel_shap.py). Ours is the time the run logs for the
# explanation alone (the background excluded, as shap is handed one).
#   bench/kernel_shap_compare.sh [LOANS [REPEATS]]      (defaults 50, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
LOANS=${1:-50} REPEATS=${2:-5}
source scripts/python_env.sh
dr_python_env
dr_build >/dev/null
T=$(mktemp -d /tmp/defrisk_kshap.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), commit $(git rev-parse --short HEAD), $LOANS loans," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
ours=() theirs=()
for r in $(seq "$REPEATS"); do
    rm -rf "$T/runs"
    "$DR_BUILD/defrisk" exp/quickstart.toml train.epochs=1 train.progress=false features.select=false \
        data.cache=false 'baselines.models=["xgboost"]' 'ensemble.members=[]' 'explain.method="kernel"' \
        'explain.models=["xgboost"]' explain.kernel_rows="$LOANS" explain.lime_rows=0 output.features=true \
        "output.dir=\"$T/runs\"" > "$T/run.out" 2>&1 || { tail -20 "$T/run.out"; exit 1; }
    run=$(ls -d "$T"/runs/quickstart-* | head -1)
    samples=$(sed -n 's/.*Kernel SHAP, \([0-9]*\) coalitions per loan.*/\1/p' "$T/run.out")
    ours+=("$(sed -n 's/^xgboost: Kernel SHAP of .* in \([0-9.]*\) s$/\1/p' "$T/run.out")")
    "$DR_PYTHON" tests/interop/kernel_shap.py "$run" "$samples" > "$T/py.out" || { cat "$T/py.out"; exit 1; }
    theirs+=("$(sed -n 's/^shap.KernelExplainer: .* in \([0-9.]*\) s$/\1/p' "$T/py.out")")
done
cat "$T/py.out"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "defrisk Kernel SHAP: ${ours[*]} s, median $(median "${ours[@]}") s"
echo "shap.KernelExplainer: ${theirs[*]} s, median $(median "${theirs[@]}") s ($samples coalitions per loan)"
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
