#!/usr/bin/env bash
# ./run_experiment report RUN_DIR|STUDY_DIR: executes the matching notebook of
# notebooks/ on the folder and writes FOLDER/report.html and FOLDER/figures/
# (notebooks/report.py), in the environment scripts/report_env.sh installs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -ne 1 ]; then
    echo "usage: run_experiment report RUN_DIR|STUDY_DIR" >&2
    exit 2
fi
if [ ! -d "$1" ]; then
    echo "run_experiment report: $1 is not a folder" >&2
    exit 2
fi
venv=$root/.venv-report
if ! cmp -s "$root/scripts/python/report.txt" "$venv/installed.txt" 2>/dev/null; then
    echo "run_experiment report: the report's Python environment is missing or out of date;" \
         "scripts/report_env.sh installs it (the pinned packages of scripts/python/report.txt" \
         "into .venv-report, about a minute)" >&2
    exit 3
fi
exec "$venv/bin/python" "$root/notebooks/report.py" "$1"
