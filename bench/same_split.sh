#!/usr/bin/env bash
# The paired comparison with the Python stack: SEEDS runs of EXPERIMENT (split
# and training seeds 1 .. SEEDS, features.h5 written), then bench/same_split.py
# training scikit-learn, XGBoost and LightGBM on exactly their rows and inputs.
#   bench/same_split.sh [SEEDS [EXPERIMENT [OVERRIDE...]]]    (defaults 10, exp/quickstart.toml)
# The run folders stay under runs/same_split-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-10} EXP=${2:-exp/quickstart.toml}
shift $(( $# < 2 ? $# : 2 ))
source scripts/python_env.sh
dr_python_env
dr_build >/dev/null
mkdir -p runs
OUT=runs/same_split-$(date -u +%Y%m%d-%H%M%S)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), commit $(git rev-parse --short HEAD), $EXP $*, $SEEDS seeds," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $(seq 1 "$SEEDS"); do
    "$DR_BUILD/defrisk" "$EXP" data.split_seed="$s" train.seed="$s" output.features=true train.progress=false \
        "output.dir=\"$OUT\"" "output.name=\"seed$s\"" "$@" > "$OUT.seed$s.log" 2>&1 ||
        { tail -20 "$OUT.seed$s.log"; exit 1; }
done
"$DR_PYTHON" bench/same_split.py "$OUT"/seed*-*
