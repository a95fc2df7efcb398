#!/usr/bin/env bash
# Two builds of this project, timed in one run with their runs interleaved
# (A B A B ...), so both see the same machine load: the CPU op kernels, one
# training epoch and one batch of inference, the CSV reader, and the TPE sampler;
# then whether both give the same numbers (TPE's best values, the synthetic
# loan book) bit for bit.
#   bench/before_after.sh BUILD_A BUILD_B [rounds]     (default 3 rounds)
# Each build needs its ops_bench, train_bench, csv_bench, tpe_bench and
# defrisk-synth. Prints per round, then the medians.
set -euo pipefail
a=$1; b=$2; rounds=${3:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMP_WAIT_POLICY=passive
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%FT%TZ)"
for r in $(seq 1 "$rounds"); do
    for side in a b; do
        dir=${!side}
        "$dir/ops_bench" 7 > "$out/ops.$side.$r" 2>&1
        "$dir/train_bench" --rows 8000 --repeats 1 --infer-repeats 20 > "$out/train.$side.$r" 2>&1
        "$dir/csv_bench" 150000 3 > "$out/csv.$side.$r" 2>&1
        "$dir/tpe_bench" overhead 300 1 > "$out/tpe.$side.$r" 2>&1
        echo "round $r $side: load $(cut -d' ' -f1-3 /proc/loadavg)"
    done
done
python3 - "$out" "$rounds" "$a" "$b" <<'PY'
import glob, json, re, statistics, sys
out, rounds, A, B = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def med(xs):
    return statistics.median(xs) if xs else float("nan")
def ops(side):
    # table rows "op shape pass median-ms ...": the median over rounds per row
    per = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/ops.{side}.{r}"):
            tok = line.split()
            for i, x in enumerate(tok[2:], 2):
                if x in ("fwd", "fwd+bwd", "bwd", "step") and i + 1 < len(tok):
                    try:
                        per.setdefault(" ".join(tok[:i + 1]), []).append(float(tok[i + 1]))
                    except ValueError:
                        pass
                    break
    return {k: med(v) for k, v in per.items()}
def summary(side, name, key):
    xs = []
    for r in range(1, rounds + 1):
        text = open(f"{out}/{name}.{side}.{r}").read()
        m = re.findall(key, text)
        if m:
            xs.append(float(m[-1]))
    return med(xs)
print(f"\nmedians over {rounds} rounds   A = {A}   B = {B}")
for label, name, key in [("train epoch s", "train", r'"median_epoch_s":\s*([0-9.]+)'),
                         ("infer batch ms", "train", r'"infer_ms":\s*([0-9.]+)'),
                         ("csv read s", "csv", r"median ([0-9.]+) s"),
                         ("tpe ms/trial", "tpe", r"(?m)^\d+,\d+,([0-9.]+),")]:
    va, vb = summary("a", name, key), summary("b", name, key)
    print(f"  {label:16s} A {va:9.4f}   B {vb:9.4f}   B/A {vb / va if va else float('nan'):.3f}")
oa, ob = ops("a"), ops("b")
for k in oa:
    if k in ob:
        print(f"  {k:44s} A {oa[k]:9.3f}   B {ob[k]:9.3f}   B/A {ob[k] / oa[k] if oa[k] else float('nan'):.3f}")
PY
for side in a b; do
    dir=${!side}
    "$dir/tpe_bench" quality branin 3 60 > "$out/q.$side"
    "$dir/defrisk-synth" -n 2000 -s 3 "$out/synth.$side.csv" > /dev/null 2>&1
done
cmp -s "$out/q.a" "$out/q.b" && echo "TPE best values: identical" || { echo "TPE best values differ"; diff "$out/q.a" "$out/q.b" || true; }
cmp -s "$out/synth.a.csv" "$out/synth.b.csv" && echo "synthetic loan book: identical" || echo "synthetic loan book differs"
