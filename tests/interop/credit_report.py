"""A run folder's credit-risk report, read with h5py and recomputed with
scikit-learn and numpy from the stored predictions: isotonic calibration
(scikit-learn's IsotonicRegression fitted on the validation predictions),
AUC, Brier, the reliability table by deciles, ECE, expected loss and the
scores' PSI. Exit 1 on any disagreement.
    python tests/interop/credit_report.py RUN_DIR   (a run with evaluation.calibration = "isotonic")
"""
import csv
import sys

import h5py
import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

run = sys.argv[1]
pred = h5py.File(f"{run}/predictions.h5", "r")
res = h5py.File(f"{run}/results.h5", "r")
table = {r["model"]: r for r in csv.DictReader(open(f"{run}/results.csv"))}
cal_table = {r["model"]: r for r in csv.DictReader(open(f"{run}/results_calibrated.csv"))}
yv, yt = pred["val/label"][:].astype(np.float64), pred["test/label"][:].astype(np.float64)
exposure = pred["test/exposure"][:]
failures = []


def check(what, ours, theirs, tol):
    ok = abs(ours - theirs) <= tol
    print(f"  {what:45s} defrisk {ours:.8g}  python {theirs:.8g}  {'ok' if ok else 'DIFFERENT'}")
    if not ok:
        failures.append(what)


def reliability(p, y):
    order = np.lexsort((np.arange(len(p)), p))  # by probability, ties by index
    n, bins = len(p), min(10, len(p))
    rows = []
    for b in range(bins):
        idx = order[b * n // bins:(b + 1) * n // bins]
        rows.append((len(idx), p[idx].astype(np.float64).mean(), y[idx].mean()))
    return rows


def psi(ref, act):
    s = np.sort(ref)
    cuts = np.unique([s[int(np.ceil(k * len(ref) / 10)) - 1] for k in range(1, 10)])
    e = np.bincount(np.searchsorted(cuts, ref, side="left"), minlength=len(cuts) + 1) / len(ref)
    a = np.bincount(np.searchsorted(cuts, act, side="left"), minlength=len(cuts) + 1) / len(act)
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


models = [m.decode() if isinstance(m, bytes) else m for m in res["models"][:]]
for m in models:
    pv, pt = pred[f"val/{m}"][:], pred[f"test/{m}"][:]
    row = table[m]
    check(f"{m}: test AUC", float(row["auc"]), roc_auc_score(yt, pt), 1e-6)
    check(f"{m}: Brier", float(row["brier"]), brier_score_loss(yt, pt), 1e-6)
    rel = reliability(pt, yt)
    stored = res[f"reliability/{m}/observed_rate"][:]
    check(f"{m}: reliability, default rate per decile", float(np.abs(stored - [r[2] for r in rel]).max()), 0, 1e-9)
    ece = sum(r[0] / len(pt) * abs(r[1] - r[2]) for r in rel)
    check(f"{m}: ECE", float(row["ece"]), ece, 1e-6)
    check(f"{m}: expected loss", float(row["expected_loss"]),
          float(np.sum(pt.astype(np.float64) * exposure)), 1e-6 * max(1.0, float(np.sum(exposure))))
    check(f"{m}: score PSI, validation -> test", float(row["psi"]), psi(pv, pt), 1e-6)
    iso = IsotonicRegression(out_of_bounds="clip").fit(pv.astype(np.float64), yv)
    ours = pred[f"test_calibrated/{m}"][:]
    check(f"{m}: isotonic calibration, max |diff| on test", float(np.abs(ours - iso.predict(pt)).max()), 0, 1e-6)
    check(f"{m}: calibrated Brier", float(cal_table[m]["brier"]), brier_score_loss(yt, ours), 1e-6)

if failures:
    print(f"{len(failures)} disagreement(s): {', '.join(failures)}")
    sys.exit(1)
print(f"credit report of {len(models)} models agrees with scikit-learn and numpy")
