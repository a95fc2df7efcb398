"""A run's Kernel SHAP values against the shap package's KernelExplainer on the
same saved XGBoost model (its margin), the same k-means background and weights
(explain.h5's kernel_background) and the same loans (features.h5), with as many
coalitions and no L1 selection. The expected value and the margins must agree
to 1e-5 (the same game); the values are two independent samples of the same
estimator, so they agree to sampling error: correlation >= 0.999 and no value
further apart than 5 % of the loan's largest at 20000 coalitions (the bound
scaled as 1 / sqrt(coalitions) for other counts, 1 - correlation as
1 / coalitions). Prints shap's timing. Exit 1 on any disagreement.
    python tests/interop/kernel_shap.py RUN_DIR SAMPLES
    (a run with explain.method = "kernel", explain.models = ["xgboost"], output.features = true)
"""
import sys
import time

import h5py
import numpy as np
import shap
import xgboost as xgb

run, samples = sys.argv[1], int(sys.argv[2])
ex = h5py.File(f"{run}/explain.h5", "r")
ours = ex["xgboost/shap"][:].astype(np.float64)
base, margin = ex["xgboost/base"][:], ex["xgboost/margin"][:]
x = h5py.File(f"{run}/features.h5", "r")["test/x"][: ours.shape[0]]
background, weight = ex["kernel_background/x"][:], ex["kernel_background/weight"][:]
booster = xgb.Booster(model_file=f"{run}/xgboost.json")


def f(rows):
    return booster.predict(xgb.DMatrix(rows, missing=np.nan), output_margin=True)


np.random.seed(0)
names = [str(j) for j in range(background.shape[1])]
explainer = shap.KernelExplainer(f, shap.utils._legacy.DenseData(background, names, None, weight))
t0 = time.perf_counter()
theirs = explainer.shap_values(x, nsamples=samples, l1_reg=False, silent=True)
seconds = time.perf_counter() - t0
checks = [
    ("|expected value difference|", float(np.abs(explainer.expected_value - base).max()), 1e-5),
    ("|margin difference|", float(np.abs(f(x) - margin).max()), 1e-5),
    ("1 - correlation of the values", 1 - float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1]),
     1e-3 * 20000 / samples),
    ("max |difference| / the loan's max |value|",
     float((np.abs(ours - theirs).max(axis=1) / np.abs(ours).max(axis=1)).max()), 0.05 * np.sqrt(20000 / samples)),
]
failed = 0
for what, value, tol in checks:
    print(f"  {what:45s} {value:.3g} (tol {tol:g}) {'ok' if value <= tol else 'DIFFERENT'}")
    failed += value > tol
print(f"shap.KernelExplainer: {ours.shape[0]} loans, {samples} coalitions, in {seconds:.2f} s")
if failed:
    sys.exit(1)
print(f"Kernel SHAP values of {ours.shape[0]} test loans agree with shap.KernelExplainer")
