#!/usr/bin/env bash
# Runs an experiment over several seeds (split and training) and prints each
# model's test AUC as mean +/- std: the README's results table.
#   bench/seeds.sh exp/quickstart.toml 5 [extra overrides...]
set -euo pipefail
exp=$1; n=$2; shift 2
out=${SEEDS_OUT:-runs/seeds-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
for s in $(seq 1 "$n"); do
    ./build/defrisk "$exp" output.dir=\"$out\" train.seed=$s data.split_seed=$s train.progress=false "$@" \
        > "$out/seed$s.log" 2>&1
done
python3 - "$out" <<'PY'
import csv, glob, statistics, sys
rows = {}
for f in sorted(glob.glob(sys.argv[1] + "/*/results.csv")):
    for r in csv.DictReader(open(f)):
        rows.setdefault(r["model"], []).append(float(r["auc"]))
print(f"{'model':15s} test AUC mean +/- std over {len(next(iter(rows.values())))} seeds")
for m, v in rows.items():
    print(f"{m:15s} {statistics.mean(v):.4f} +/- {statistics.stdev(v) if len(v) > 1 else 0:.4f}")
PY
