#!/usr/bin/env bash
# The study coordinator's cost per trial (sampler, journal, MPI messages) with 1
# to 64 training ranks, oversubscribed on this machine: 64 trials of the
# logistic baseline (the shortest trials there are: a data stage and one epoch),
# lag = workers - 1 so that every rank has work. The number is rank 0's own
# ("coordinator: ... us per trial"): its loop's time less the time it waited,
# and the CPU time it used (which oversubscription does not inflate).
#   bench/coordinator_cost.sh [DEFRISK]
set -euo pipefail
cd "$(dirname "$0")/.."
DEFRISK=${1:-build/defrisk}
T=$(mktemp -d /tmp/defrisk_coord.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat > "$T/study.toml" <<'TOML'
[data]
source = "csv"
path = "data/lending_club.csv"
target = "Class"
positive = "bad"

[features]
select = false

[baselines]
logistic_epochs = 1

[search]
model = "logistic"
trials = 64
seed = 1
threads_per_trial = 1

[search.space]
"baselines.neural_lr" = { type = "float", low = 1e-4, high = 1e-1, log = true }
"train.batch_size" = { type = "categorical", choices = [64, 256, 1024] }
TOML
echo "$(date -u '+%F %H:%M UTC'), $(nproc) cores, commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%8s %12s %12s %10s %16s\n" workers "us/trial" "CPU us/trial" "wall (s)" "trials/min/core"
for w in 1 2 4 8 16 32 64; do
    mpirun --oversubscribe -np $((w + 1)) "$DEFRISK" "$T/study.toml" search.lag=$((w - 1)) \
        "output.dir=\"$T/w$w\"" > "$T/w$w.out" 2>&1 || { tail -5 "$T/w$w.out"; exit 1; }
    line=$(grep '^coordinator:' "$T/w$w.out")
    us=$(sed 's/^coordinator: \([0-9]*\) us.*/\1/' <<< "$line")
    cpu=$(sed 's/^coordinator: [0-9]* us per trial, \([0-9]*\) us of CPU.*/\1/' <<< "$line")
    wall=$(sed 's/.* trials in \([0-9.]*\) s.*/\1/' <<< "$line")
    printf '%8d %12s %12s %10s %16.1f\n' $w "$us" "$cpu" "$wall" "$(echo "64 / $wall * 60 / $(nproc)" | bc -l)"
done
