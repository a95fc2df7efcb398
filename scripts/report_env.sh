#!/usr/bin/env bash
# Installs the Python of `run_experiment report` and output.report = true:
# Debian's python3 and the pinned packages of scripts/python/report.txt in
# .venv-report (nothing else of the framework needs it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/python_env.sh"
dr_python_env report
echo "report environment ready: $DR_PYTHON"
