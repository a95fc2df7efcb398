#!/usr/bin/env bash
# The explanations against the shap package (the version pinned in
# scripts/python/interop.txt), on the same saved XGBoost model and test loans,
# interleaved REPEATS times, median seconds of each:
#   - TreeSHAP of the whole test split against shap.TreeExplainer;
#   - Kernel SHAP of the first LOANS test loans against shap.KernelExplainer with
#     the run's k-means background and weights, shap's default coalition count
#     (2 x inputs + 2048), and their agreement (tests/interop/kernel_shap.py).
# Ours are the times the run logs for the explanations alone (the background
# excluded, as shap is handed one).
#   bench/explain_compare.sh [LOANS [REPEATS]]      (defaults 50, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
LOANS=${1:-50} REPEATS=${2:-5}
source scripts/python_env.sh
dr_python_env
dr_build >/dev/null
T=$(mktemp -d /tmp/defrisk_explain.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), commit $(git rev-parse --short HEAD), $LOANS loans," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
run_once() { # method, output folder
    rm -rf "$T/$2"
    "$DR_BUILD/defrisk" exp/quickstart.toml train.epochs=1 train.progress=false features.select=false \
        data.cache=false 'baselines.models=["xgboost"]' 'ensemble.members=[]' "explain.method=\"$1\"" \
        'explain.models=["xgboost"]' explain.rows=100000 explain.kernel_rows="$LOANS" explain.lime_rows=0 \
        output.features=true "output.dir=\"$T/$2\"" > "$T/$2.out" 2>&1 || { tail -20 "$T/$2.out"; exit 1; }
}
tree=() tree_py=() kernel=() kernel_py=()
for r in $(seq "$REPEATS"); do
    run_once auto tree
    tree+=("$(sed -n 's/^xgboost: TreeSHAP of .* in \([0-9.]*\) s$/\1/p' "$T/tree.out")")
    "$DR_PYTHON" bench/treeshap_python.py "$(ls -d "$T"/tree/quickstart-*)" > "$T/tree_py.out"
    tree_py+=("$(sed -n 's/.* loans in \([0-9.]*\) s.*/\1/p' "$T/tree_py.out")")
    run_once kernel kernel
    samples=$(sed -n 's/.*Kernel SHAP, \([0-9]*\) coalitions per loan.*/\1/p' "$T/kernel.out")
    kernel+=("$(sed -n 's/^xgboost: Kernel SHAP of .* in \([0-9.]*\) s$/\1/p' "$T/kernel.out")")
    "$DR_PYTHON" tests/interop/kernel_shap.py "$(ls -d "$T"/kernel/quickstart-*)" "$samples" > "$T/kernel_py.out" \
        || { cat "$T/kernel_py.out"; exit 1; }
    kernel_py+=("$(sed -n 's/^shap.KernelExplainer: .* in \([0-9.]*\) s$/\1/p' "$T/kernel_py.out")")
done
cat "$T/tree_py.out" "$T/kernel_py.out"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
grep -o 'TreeSHAP of [0-9]* test loans' "$T/tree.out"
echo "defrisk TreeSHAP: ${tree[*]} s, median $(median "${tree[@]}") s"
echo "shap.TreeExplainer: ${tree_py[*]} s, median $(median "${tree_py[@]}") s"
echo "defrisk Kernel SHAP: ${kernel[*]} s, median $(median "${kernel[@]}") s"
echo "shap.KernelExplainer: ${kernel_py[*]} s, median $(median "${kernel_py[@]}") s ($samples coalitions per loan)"
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
