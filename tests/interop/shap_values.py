"""A run's explain.h5 against the Python packages of the same libraries: the
saved XGBoost and LightGBM models, loaded by xgboost and lightgbm, give the same
SHAP values (pred_contribs / pred_contrib) on the run's own test inputs
(features.h5), and the same interaction values (pred_interactions) where the
run has them; the values add up to the margin, and the per-column sums are
the sums of the inputs' values. Exit 1 on any disagreement.
    python tests/interop/shap_values.py RUN_DIR   (a run with output.features = true and explain.models)
"""
import sys

import h5py
import lightgbm as lgb
import numpy as np
import xgboost as xgb

run = sys.argv[1]
ex = h5py.File(f"{run}/explain.h5", "r")
feats = h5py.File(f"{run}/features.h5", "r")
n = ex["row"].shape[0]
assert np.array_equal(ex["row"][:], feats["test/row"][:n]), "explain.h5 rows are not the first test rows"
x = feats["test/x"][:n]
features = [f.decode() for f in ex["feature"][:]]
columns = [c.decode() for c in ex["column"][:]]
failures = []


def check(what, value, tol):
    ok = value <= tol
    print(f"  {what:60s} {value:.3g} (tol {tol:g}) {'ok' if ok else 'DIFFERENT'}")
    if not ok:
        failures.append(what)


for model in ex:
    if not isinstance(ex[model], h5py.Group) or model == "kernel_background":
        continue
    ours = ex[f"{model}/shap"][:].astype(np.float64)
    base, margin = ex[f"{model}/base"][:], ex[f"{model}/margin"][:]
    rows = x[: ours.shape[0]]  # each model its own count (Kernel SHAP explains fewer)
    if model == "lightgbm":
        theirs = lgb.Booster(model_file=f"{run}/lightgbm.txt").predict(rows, pred_contrib=True)
    else:
        booster = xgb.Booster(model_file=f"{run}/{model}.json")
        theirs = booster.predict(xgb.DMatrix(rows, missing=np.nan), pred_contribs=True)
    check(f"{model}: max |SHAP defrisk - {'lightgbm' if model == 'lightgbm' else 'xgboost'} package|",
          float(np.abs(ours - theirs[:, :-1]).max()), 1e-5)
    check(f"{model}: max |expected value difference|", float(np.abs(base - theirs[:, -1]).max()), 1e-5)
    check(f"{model}: max |base + sum - margin| / max(1, |margin|)",
          float((np.abs(base + ours.sum(axis=1) - margin) / np.maximum(1, np.abs(margin))).max()), 1e-5)
    if f"{model}/shap_interaction" in ex:  # XGBoost's kinds only
        ours_i = ex[f"{model}/shap_interaction"][:].astype(np.float64)
        dm = xgb.DMatrix(rows[: ours_i.shape[0]], missing=np.nan)
        theirs_i = xgb.Booster(model_file=f"{run}/{model}.json").predict(dm, pred_interactions=True)
        check(f"{model}: max |interaction defrisk - xgboost package|",
              float(np.abs(ours_i - theirs_i[:, :-1, :-1]).max()), 1e-5)
    by_col = ex[f"{model}/shap_by_column"][:]
    summed = np.zeros_like(by_col)
    for j, f in enumerate(features):  # the documented rule: an input belongs to the column it starts with
        owner = max((c for c in columns if f == c or f.startswith(c + "=")), key=len)
        summed[:, columns.index(owner)] += ours[:, j]
    check(f"{model}: max |per-column sum - sum of its inputs|", float(np.abs(by_col - summed).max()), 1e-5)

if failures:
    print(f"{len(failures)} disagreement(s): {', '.join(failures)}")
    sys.exit(1)
print(f"SHAP values of {n} test loans agree with the xgboost and lightgbm packages")
