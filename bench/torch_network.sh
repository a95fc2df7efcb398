#!/usr/bin/env bash
# The hybrid network against PyTorch's on the same rows and inputs (PyTorch from
# scripts/python/torch.txt in .venv-torch):
#   1. parity: one run of one Adam step over one batch (train.epochs = 1, every
#      training row in one batch: up to 8,192) checked by bench/torch_parity.py --gradient
#      (loss, every gradient, the batch-norm updates, with defrisk's dropout masks
#      and row order), and a trained run's evaluation forward by torch_parity.py;
#      and the expected gradients of that run's first 20 test loans against shap's
#      GradientExplainer on PyTorch's network (bench/gradient_explainer.py; only
#      where the training split has at most 1,000 rows, the default background,
#      so that both average over all of them);
#   2. accuracy: SEEDS runs (split and training seeds 1 .. SEEDS, only the
#      network) and PyTorch trained as defrisk trains on each run's inputs
#      (bench/torch_same_rows.py): the paired test AUC difference.
#   bench/torch_network.sh [SEEDS [EXPERIMENT [OVERRIDE...]]]   (defaults 5, exp/quickstart.toml)
# The run folders stay under runs/torch_network-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-5} EXP=${2:-exp/quickstart.toml}
shift $(( $# < 2 ? $# : 2 ))
source scripts/python_env.sh
dr_python_env torch
dr_build >/dev/null
OUT=runs/torch_network-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), commit $(git rev-parse --short HEAD), $EXP $*, $SEEDS seeds," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # name, overrides...
    local name=$1
    shift
    "$DR_BUILD/defrisk" "$EXP" output.features=true train.progress=false 'baselines.models=["hybrid"]' \
        'ensemble.members=["hybrid"]' "output.dir=\"$OUT\"" "output.name=\"$name\"" "$@" > "$OUT/$name.log" 2>&1 ||
        { tail -20 "$OUT/$name.log"; exit 1; }
}
run step "$@" train.epochs=1 train.batch_size=8192
"$DR_PYTHON" bench/torch_parity.py --gradient "$OUT"/step-* | tail -1
for s in $(seq 1 "$SEEDS"); do
    run "seed$s" "$@" data.split_seed="$s" train.seed="$s"
done
"$DR_PYTHON" bench/torch_parity.py "$OUT"/seed1-* | tail -1
run explain "$@" data.split_seed=1 train.seed=1 'explain.models=["hybrid"]' explain.rows=20 explain.samples=1000 \
    explain.lime_rows=0
"$DR_PYTHON" bench/gradient_explainer.py "$OUT"/explain-* | tail -5 || true
"$DR_PYTHON" bench/torch_same_rows.py "$OUT"/seed*-*
