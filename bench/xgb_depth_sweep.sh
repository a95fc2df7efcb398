#!/usr/bin/env bash
# XGBoost tuned by hand on the Lending Club sample: max_depth 2, 3, 4 and 6 (eta
# 0.05, up to 2,000 rounds, early stopping on validation) over the 5 seeds of
# bench/seeds.sh; prints each depth's mean validation AUC (what picks the depth) and
# mean test AUC. The README compares the network with the depth validation picks.
#   bench/xgb_depth_sweep.sh [exp/quickstart.toml]
set -euo pipefail
exp=${1:-exp/quickstart.toml}
cd "$(dirname "$0")/.."
root=${SWEEP_OUT:-runs/xgb-sweep-$(date +%Y%m%d-%H%M%S)}
for depth in 2 3 4 6; do
    out=$root/depth$depth
    mkdir -p "$out"
    for s in 1 2 3 4 5; do
        ./build/defrisk "$exp" output.dir=\"$out\" train.seed=$s data.split_seed=$s train.progress=false \
            'baselines.models=["xgboost"]' 'ensemble.members=[]' baselines.xgboost_estimators=2000 \
            baselines.xgboost_max_depth=$depth > "$out/seed$s.log" 2>&1
    done
    python3 - "$out" "$depth" <<'PY'
import csv, glob, re, statistics, sys
val = [float(re.search(r"xgboost \(xgboost\): .*validation AUC ([0-9.]+)", open(f).read()).group(1))
       for f in sorted(glob.glob(sys.argv[1] + "/seed*.log"))]
test = [float(r["auc"]) for f in sorted(glob.glob(sys.argv[1] + "/*/results.csv"))
        for r in csv.DictReader(open(f)) if r["model"] == "xgboost"]
print(f"max_depth {sys.argv[2]}: validation AUC {statistics.mean(val):.4f}, "
      f"test AUC {statistics.mean(test):.4f} +/- {statistics.stdev(test):.4f} over {len(test)} seeds")
PY
done
