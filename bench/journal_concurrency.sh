#!/usr/bin/env bash
# A journal shared by many processes: PROCESSES x TRIALS trials appended under
# its lock (bench/journal_bench.c), then read by Optuna (JournalFileBackend),
# which must find every trial complete.
#   bench/journal_concurrency.sh [PROCESSES [TRIALS]]     (default 64 x 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
dr_python_env
B=${DR_BUILD:-build}
T=$(mktemp -d /tmp/defrisk_journal.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "$(date -u '+%F %H:%M UTC'), $(nproc) cores, commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/journal_bench" "$T" "${1:-64}" "${2:-1000}"
"$DR_PYTHON" - "$T/journal.jsonl" "$(( ${1:-64} * ${2:-1000} ))" <<'PY'
import sys, optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name="journal_bench", storage=JournalStorage(JournalFileBackend(sys.argv[1])))
trials = study.get_trials(deepcopy=False)
done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
print(f"optuna {optuna.__version__} read {len(trials)} trials, {done} complete")
sys.exit(0 if len(trials) == done == int(sys.argv[2]) else 1)
PY
