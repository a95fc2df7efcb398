#!/usr/bin/env bash
# The real tools read our files: a small study of exp/search_quickstart.toml,
# loaded by Optuna from its journal and checked against defrisk's own export;
# a LightGBM model, loaded by the lightgbm package, predicting the same, and the
# package trained on the same rows and parameters reaching the same test AUC; a
# small quickstart run's credit-risk report, read with h5py and recomputed with
# scikit-learn (isotonic calibration included), and its SHAP values against those
# of the xgboost and lightgbm packages on the saved models, and its Kernel SHAP
# values against shap.KernelExplainer on the same model, background and loans.
#   tests/interop/run.sh PATH/TO/defrisk
set -euo pipefail
DEFRISK=$1
cd "$(dirname "$0")/../.."
source scripts/python_env.sh
dr_python_env
T=$(mktemp -d /tmp/defrisk_interop.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$DEFRISK" exp/search_quickstart.toml search.trials=6 search.startup_trials=3 search.pruner_startup_trials=2 \
    search.pruner_warmup_steps=1 search.refit=false train.epochs=3 train.progress=false \
    "output.dir=\"$T\"" > "$T/study.out" 2>&1 || { tail -20 "$T/study.out"; exit 1; }
study=$(sed -n 's/^running study \([^:]*\):.*/\1/p' "$T/study.out" | head -1)
"$DEFRISK" study export "$study" "$T/export.csv"
"$DR_PYTHON" tests/interop/optuna_journal.py "$study" "$T/export.csv"
"$(dirname "$DEFRISK")/lightgbm_bench" "$T" 5000 1 1
"$DR_PYTHON" bench/lightgbm_python.py "$T"
"$DEFRISK" exp/quickstart.toml train.epochs=2 train.progress=false features.select=false data.cache=false \
    baselines.logistic_epochs=3 baselines.mlp_epochs=3 baselines.svm_epochs=3 ensemble.trials=10 \
    'evaluation.calibration="isotonic"' 'evaluation.ead_column="funded_amnt"' evaluation.lgd=0.7 \
    output.features=true 'explain.models=["xgboost", "lightgbm", "random_forest"]' explain.rows=500 explain.lime_rows=1 \
    explain.interaction_rows=50 \
    "output.dir=\"$T/runs\"" > "$T/run.out" 2>&1 || { tail -20 "$T/run.out"; exit 1; }
run=$(ls -d "$T"/runs/quickstart-* | head -1)
"$DR_PYTHON" tests/interop/credit_report.py "$run"
"$DR_PYTHON" tests/interop/shap_values.py "$run"
"$DEFRISK" exp/quickstart.toml train.epochs=1 train.progress=false features.select=false data.cache=false \
    'baselines.models=["xgboost"]' 'ensemble.members=[]' 'explain.method="kernel"' 'explain.models=["xgboost"]' \
    explain.kernel_rows=4 explain.kernel_samples=20000 explain.lime_rows=0 output.features=true \
    "output.dir=\"$T/kernel\"" > "$T/kernel.out" 2>&1 || { tail -20 "$T/kernel.out"; exit 1; }
grep "Kernel SHAP of" "$T/kernel.out"
"$DR_PYTHON" tests/interop/kernel_shap.py "$(ls -d "$T"/kernel/quickstart-* | head -1)" 20000
