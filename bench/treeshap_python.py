"""shap.TreeExplainer on a run's saved XGBoost model over the run's explained
test loans (features.h5): its time, and its largest difference from the run's
TreeSHAP values (explain.h5), for bench/explain_compare.sh.
    python bench/treeshap_python.py RUN_DIR
"""
import sys
import time

import h5py
import numpy as np
import shap
import xgboost as xgb

run = sys.argv[1]
ours = h5py.File(f"{run}/explain.h5", "r")["xgboost/shap"][:]
x = h5py.File(f"{run}/features.h5", "r")["test/x"][: ours.shape[0]]
explainer = shap.TreeExplainer(xgb.Booster(model_file=f"{run}/xgboost.json"))
t0 = time.perf_counter()
theirs = explainer.shap_values(x)
seconds = time.perf_counter() - t0
print(f"shap.TreeExplainer: {x.shape[0]} loans in {seconds:.3f} s, largest |difference| "
      f"{np.abs(theirs - ours).max():.2e}")
