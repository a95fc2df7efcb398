#!/usr/bin/env bash
# Same seed, same machine, same backend: same numbers. A small quickstart (the
# network, every baseline, the ensemble, SHAP and LIME) three times, and a small
# search twice; every output file compared:
#   - HDF5 files dataset by dataset and attribute by attribute with h5py, bit for
#     bit (the epochs' wall times, history/seconds, excepted);
#   - metrics.jsonl without its "seconds"; config.toml and overrides without the
#     output folder; every other file byte for byte, but the log and the
#     TensorBoard events, which hold times;
#   - the study: every trial's parameters, state, value and metrics.
# Then the quickstart with 1 thread instead of 2: the README says its numbers
# may differ in the last bits; which files do is printed, not asserted.
#   tests/reliability/determinism.sh PATH/TO/defrisk
set -uo pipefail
DEFRISK=$1
cd "$(dirname "$0")/../.."
source scripts/python_env.sh
dr_python_env
source tests/study_fixtures.sh
T=$(mktemp -d /tmp/defrisk_determinism.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fails=0

quickstart() {
    "$DEFRISK" exp/quickstart.toml train.epochs=3 train.progress=false 'model.filters=[4, 8, 8]' model.lstm_units=8 \
        model.attention_dim=8 'model.fc=[16]' features.rfecv_trees=8 baselines.logistic_epochs=3 \
        baselines.mlp_epochs=3 baselines.svm_epochs=3 baselines.xgboost_estimators=30 \
        baselines.lightgbm_estimators=30 baselines.random_forest_estimators=20 ensemble.trials=20 data.cache=false \
        'explain.models=["hybrid", "xgboost"]' explain.rows=50 explain.lime_rows=1 \
        "output.dir=\"$T/$1\"" > "$T/$1.out" 2>&1 || { echo "FAIL: quickstart $1: $(tail -3 "$T/$1.out")"; exit 1; }
}

# compare_runs A B: prints "same: N files" or the files that differ; status 1 then
compare_runs() {
    local a b f n=0 bad=()
    a=$(ls -d "$T/$1"/*/) b=$(ls -d "$T/$2"/*/)
    for f in $(cd "$a" && find . -type f | sort); do
        f=${f#./}
        case $f in
        log | events.out.tfevents.*) continue ;;
        *.h5) "$DR_PYTHON" tests/reliability/h5_equal.py "$a/$f" "$b/$f" history/seconds > "$T/h5.out" ;;
        metrics.jsonl) cmp -s <(sed 's/, "seconds": [0-9.]*//' "$a/$f") <(sed 's/, "seconds": [0-9.]*//' "$b/$f") ;;
        config.toml | overrides) cmp -s <(sed "s|$T/$1|DIR|" "$a/$f") <(sed "s|$T/$2|DIR|" "$b/$f") ;;
        *) cmp -s "$a/$f" "$b/$f" ;;
        esac || bad+=("$f")
        n=$((n + 1))
    done
    [ -e "$b" ] && [ "$(cd "$a" && find . -type f | wc -l)" = "$(cd "$b" && find . -type f | wc -l)" ] || bad+=("(the file lists)")
    if [ ${#bad[@]} = 0 ]; then echo "$n files"; else echo "${bad[*]}"; return 1; fi
}

for r in r1 r2 r3; do quickstart $r; done
for r in r2 r3; do
    if out=$(compare_runs r1 $r); then
        echo "ok: quickstart run 1 and $r: the same $out"
    else
        echo "FAIL: quickstart run 1 and $r differ in: $out"; fails=$((fails + 1))
    fi
done

study_fixtures "$T"
for r in s1 s2; do
    "$DEFRISK" "$T/search.toml" search.workers=2 "output.dir=\"$T/$r\"" > "$T/$r.out" 2>&1 ||
        { echo "FAIL: study $r: $(tail -3 "$T/$r.out")"; exit 1; }
    settled "$(study_dir "$T/$r.out")" > "$T/$r.csv"
done
if [ "$(wc -l < "$T/s1.csv")" -eq 14 ] && cmp -s "$T/s1.csv" "$T/s2.csv"; then
    echo "ok: a study twice: the same 14 trials"
else
    echo "FAIL: a study twice differs"; diff "$T/s1.csv" "$T/s2.csv" | head -5; fails=$((fails + 1))
fi

OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 quickstart t1
out=$(compare_runs r1 t1) && echo "note: 1 and 2 threads: the same $out" ||
    echo "note: 1 and 2 threads differ in: $out (not asserted: the README says the thread count may change the last bits)"

[ $fails = 0 ] && echo "all determinism checks passed" || { echo "$fails determinism checks failed"; exit 1; }
