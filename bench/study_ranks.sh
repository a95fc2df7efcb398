#!/usr/bin/env bash
# The quickstart search with 48 trials under mpirun with 1 and 2 training ranks
# (2 and 3 ranks in all) on this machine: wall time, trials per minute per core,
# the coordinator's cost, and whether the two studies are the same trial for trial.
#   bench/study_ranks.sh [key=value ...]    (overrides, e.g. train.epochs=3 for a shorter run)
set -euo pipefail
cd "$(dirname "$0")/.."
DEFRISK=${DEFRISK:-build/defrisk}
source tests/study_fixtures.sh
T=$(mktemp -d /tmp/defrisk_ranks.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "$(date -u '+%F %H:%M UTC'), $(nproc) cores, commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "exp/search_quickstart.toml search.trials=48 search.refit=false $*"
for ranks in 2 3; do
    start=$(date +%s.%N)
    mpirun --oversubscribe -np $ranks "$DEFRISK" exp/search_quickstart.toml search.trials=48 search.refit=false "$@" \
        "output.dir=\"$T/r$ranks\"" > "$T/r$ranks.out" 2>&1 || { tail -5 "$T/r$ranks.out"; exit 1; }
    wall=$(echo "$(date +%s.%N) - $start" | bc -l)
    printf '%d training rank%s: %.0f s, %.2f trials per minute per core; %s\n' $((ranks - 1)) "$([ $ranks -gt 2 ] && echo s)" \
        "$wall" "$(echo "48 / $wall * 60 / $(nproc)" | bc -l)" "$(grep -o '^coordinator: [0-9]* us per trial' "$T/r$ranks.out")"
    settled "$(ls -d "$T"/r$ranks/*/)" > "$T/r$ranks.csv"
done
cmp -s "$T/r2.csv" "$T/r3.csv" && echo "the same 48 trials (values, states, metrics) with 1 and 2 ranks" ||
    { echo "the two studies differ"; exit 1; }
