"""The Python stack on exactly the rows and inputs of defrisk's runs, and the
paired difference of test AUC, model by model.

Each RUN_DIR must come from a run with output.features = true: its features.h5
holds the train, validation and test inputs as defrisk's models read them
(preprocessed, selected), so both sides see the same rows and the same
preprocessing. On each, scikit-learn's logistic regression, linear SVM, MLP and
random forest, XGBoost and LightGBM train with their usual settings (the
counterparts of defrisk's defaults, below) and are scored on test; defrisk's
numbers come from the run's results.csv. Per model: the mean paired
difference (defrisk - Python) over the runs with its 95 % t-interval; and
defrisk's ensemble against Python's best single model (picked by validation
AUC, and the oracle pick by test AUC).
    python bench/same_split.py RUN_DIR...
"""
import csv
import statistics
import sys

import h5py
import lightgbm as lgb
import numpy as np
import xgboost as xgb
from scipy import stats
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.svm import LinearSVC


def python_models(d, seed):
    """Test and validation AUC of each Python model on one run's inputs."""
    xt, yt, xv, yv, xs, ys = (d[k] for k in ("xt", "yt", "xv", "yv", "xs", "ys"))
    out = {}

    def score(name, val, test):
        out[name] = (roc_auc_score(yv, val), roc_auc_score(ys, test))

    m = LogisticRegression(max_iter=5000).fit(xt, yt)
    score("logistic", m.predict_proba(xv)[:, 1], m.predict_proba(xs)[:, 1])
    # defrisk's SVM: hinge loss, balanced class weights, weight decay 1e-3 = 1 / (C n)
    m = LinearSVC(C=1.0 / (1e-3 * len(yt)), class_weight="balanced", max_iter=20000, random_state=seed).fit(xt, yt)
    score("svm", m.decision_function(xv), m.decision_function(xs))
    m = MLPClassifier(hidden_layer_sizes=(128, 64), early_stopping=True, max_iter=200, random_state=seed).fit(xt, yt)
    score("mlp", m.predict_proba(xv)[:, 1], m.predict_proba(xs)[:, 1])
    m = RandomForestClassifier(n_estimators=300, max_features="sqrt", n_jobs=-1, random_state=seed).fit(xt, yt)
    score("random_forest", m.predict_proba(xv)[:, 1], m.predict_proba(xs)[:, 1])
    m = xgb.XGBClassifier(n_estimators=500, learning_rate=0.05, max_depth=6, subsample=0.8, colsample_bytree=0.8,
                          early_stopping_rounds=50, eval_metric="auc", tree_method="hist", random_state=seed)
    m.fit(xt, yt, eval_set=[(xv, yv)], verbose=False)
    score("xgboost", m.predict_proba(xv)[:, 1], m.predict_proba(xs)[:, 1])
    m = lgb.LGBMClassifier(n_estimators=500, learning_rate=0.05, num_leaves=31, subsample=0.8, subsample_freq=1,
                           colsample_bytree=0.8, random_state=seed, verbose=-1)
    m.fit(xt, yt, eval_set=[(xv, yv)], eval_metric="auc", callbacks=[lgb.early_stopping(50, verbose=False)])
    score("lightgbm", m.predict_proba(xv)[:, 1], m.predict_proba(xs)[:, 1])
    return out


def load(run):
    f = h5py.File(f"{run}/features.h5", "r")
    d = {"xt": f["train/x"][:], "yt": f["train/label"][:], "xv": f["val/x"][:], "yv": f["val/label"][:],
         "xs": f["test/x"][:], "ys": f["test/label"][:]}
    with h5py.File(f"{run}/predictions.h5", "r") as p:  # the same test rows as the run's own results
        assert np.array_equal(p["test/row"][:], f["test/row"][:]), f"{run}: features.h5 and predictions.h5 differ"
    ours = {r["model"]: float(r["auc"]) for r in csv.DictReader(open(f"{run}/results.csv"))}
    return d, ours


def interval(x):
    m = statistics.mean(x)
    if len(x) < 2:
        return m, float("nan")
    return m, stats.t.ppf(0.975, len(x) - 1) * statistics.stdev(x) / len(x) ** 0.5


runs = sys.argv[1:]
diffs, ens_val, ens_oracle = {}, [], []
for i, run in enumerate(runs):
    d, ours = load(run)
    theirs = python_models(d, seed=i + 1)
    line = []
    for name, (_, test) in theirs.items():
        if name in ours:
            diffs.setdefault(name, []).append(ours[name] - test)
            line.append(f"{name} {ours[name]:.4f}/{test:.4f}")
    if "ensemble" in ours:
        best_val = max(theirs, key=lambda k: theirs[k][0])
        ens_val.append(ours["ensemble"] - theirs[best_val][1])
        ens_oracle.append(ours["ensemble"] - max(t for _, t in theirs.values()))
        line.append(f"ensemble {ours['ensemble']:.4f} vs {best_val} {theirs[best_val][1]:.4f}")
    print(f"# {run} ({len(d['yt'])} train rows, {d['xt'].shape[1]} inputs): defrisk/Python test AUC: "
          + ", ".join(line), flush=True)

print(f"\npaired test AUC difference, defrisk - Python, over {len(runs)} runs (mean +/- 95 % t-interval)")
print(f"{'model':34s} {'mean':>8s} {'95 % CI':>18s} {'runs ahead':>10s}")
for name, x in diffs.items():
    m, h = interval(x)
    print(f"{name:34s} {m:+8.4f} [{m - h:+.4f}, {m + h:+.4f}] {sum(v >= 0 for v in x):>5d} of {len(x)}")
for label, x in (("ensemble vs best Python (by val)", ens_val), ("ensemble vs best Python (oracle)", ens_oracle)):
    if x:
        m, h = interval(x)
        print(f"{label:34s} {m:+8.4f} [{m - h:+.4f}, {m + h:+.4f}] {sum(v >= 0 for v in x):>5d} of {len(x)}")
