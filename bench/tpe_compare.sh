#!/usr/bin/env bash
# The TPE sampler against Optuna's TPESampler (the version pinned in
# scripts/python/interop.txt), same problems, same run:
#   - search quality: best value after TRIALS trials of Branin and Hartmann-6 over
#     SEEDS seeds, median and quartiles, for the multivariate TPE (both defaults)
#     and the independent one;
#   - sampler overhead per trial at 100 and 1,000 trials (median of REPEATS).
#   bench/tpe_compare.sh [SEEDS [TRIALS [REPEATS]]]      (defaults 20, 100, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-20} TRIALS=${2:-100} REPEATS=${3:-3}
source scripts/python_env.sh
dr_python_env
dr_build >/dev/null
BENCH=$DR_BUILD/tpe_bench
T=$(mktemp -d /tmp/defrisk_tpe.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), commit $(git rev-parse --short HEAD)," \
     "optuna $("$DR_PYTHON" -c 'import optuna; print(optuna.__version__)'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# median and quartiles of column 3 of a file of lines a,b,value
stats() { sort -t, -k3 -g "$1" | awk -F, '{ v[NR] = $3 } END { printf "%.6g [%.6g, %.6g]", v[int((NR + 1) / 2)], v[int((NR + 3) / 4)], v[int((3 * NR + 3) / 4)] }'; }

echo "quality: best value after $TRIALS trials, median [lower, upper quartile] of $SEEDS seeds (lower is better)"
printf "%-10s %-12s %-36s %s\n" function sampler defrisk optuna
for f in branin hartmann6; do
    for mode in multivariate independent; do
        arg=; [ "$mode" = independent ] && arg=independent
        "$BENCH" quality "$f" "$SEEDS" "$TRIALS" $arg > "$T/ours"
        "$DR_PYTHON" bench/tpe_optuna.py quality "$f" "$SEEDS" "$TRIALS" $arg > "$T/optuna"
        printf "%-10s %-12s %-36s %s\n" "$f" "$mode" "$(stats "$T/ours")" "$(stats "$T/optuna")"
    done
done

echo "overhead: sampler ms per trial over the study / over its last tenth, median of $REPEATS (quickstart-like space, 5 parameters)"
printf "%-7s %-12s %-22s %s\n" trials sampler defrisk optuna
for n in 100 1000; do
    for mode in multivariate independent; do
        arg=; [ "$mode" = independent ] && arg=independent
        "$BENCH" overhead "$n" "$REPEATS" $arg > "$T/ours"
        "$DR_PYTHON" bench/tpe_optuna.py overhead "$n" "$REPEATS" $arg > "$T/optuna"
        med() { sort -t, -k"$2" -g "$1" | awk -F, -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }
        printf "%-7s %-12s %-22s %s\n" "$n" "$mode" "$(med "$T/ours" 3) / $(med "$T/ours" 4)" \
               "$(med "$T/optuna" 3) / $(med "$T/optuna" 4)"
    done
done
