"""The Python lightgbm package on the rows and parameters of bench/lightgbm_bench.c.

    python bench/lightgbm_python.py DIR [REPEATS]

1. Loads DIR/model.txt, written by the framework, with lightgbm.Booster and
   predicts the test rows: the probabilities must equal the framework's
   (DIR/test_prob.f32) exactly, as float32.
2. Trains lightgbm.train with the parameters read back from that file, the same
   rounds and early stopping, on the same rows, REPEATS times (default 1), and
   compares the test AUC and the training time.

Exit status 1 when the loaded model predicts differently, or when single-threaded
training gives a test AUC more than 1e-6 away from the framework's.
"""

import json
import sys
import time

import lightgbm as lgb
import numpy as np


def load(d, name, cols):
    v = np.fromfile(f"{d}/{name}", dtype=np.float32)
    return v.reshape(-1, cols) if cols > 1 else v


def auc(score, label):
    """Rank AUC with ties at their mean rank (the Mann-Whitney statistic)."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = 0.5 * (i + j) + 1.0
        i = j + 1
    pos = label[order] == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def main():
    d = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    ours = json.load(open(f"{d}/ours.json"))
    f = ours["features"]
    xtr, ytr = load(d, "train_x.f32", f), load(d, "train_y.f32", 1)
    xva, yva = load(d, "val_x.f32", f), load(d, "val_y.f32", 1)
    xte, yte = load(d, "test_x.f32", f), load(d, "test_y.f32", 1)
    our_prob = load(d, "test_prob.f32", 1)

    booster = lgb.Booster(model_file=f"{d}/model.txt")
    loaded = booster.predict(xte).astype(np.float32)
    differ = int(np.sum(loaded != our_prob))
    print(f"lightgbm {lgb.__version__} reads model.txt: {booster.num_trees()} trees, "
          f"{differ} of {len(yte)} test probabilities differ from the framework's "
          f"(max |diff| {np.max(np.abs(loaded - our_prob)):.3g})")

    params = dict(booster.params)
    for k in ("num_iterations", "early_stopping_round", "early_stopping_rounds"):
        params.pop(k, None)
    params["num_threads"] = ours["threads"]
    secs, model = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        dtrain = lgb.Dataset(xtr, label=ytr, params=params)
        dval = lgb.Dataset(xva, label=yva, reference=dtrain)
        model = lgb.train(params, dtrain, num_boost_round=ours["n_estimators"], valid_sets=[dval],
                          callbacks=[lgb.early_stopping(ours["early_stopping_rounds"], verbose=False)])
        secs.append(time.perf_counter() - t0)
    prob = model.predict(xte, num_iteration=model.best_iteration).astype(np.float32)
    py_auc = auc(prob, yte)
    gap = abs(py_auc - ours["test_auc"])
    print(f"python lightgbm: test AUC {py_auc:.6f}, kept {model.best_iteration} rounds, median training "
          f"{float(np.median(secs)):.3f} s of {repeats}")
    print(f"defrisk {ours['library']}: test AUC {ours['test_auc']:.6f}, kept {ours['best_iteration'] + 1} "
          f"rounds, median training {ours['train_seconds_median']:.3f} s of {ours['repeats']}")
    print(f"|AUC difference| {gap:.2e}; {ours['threads']} thread(s); time ratio defrisk / python "
          f"{ours['train_seconds_median'] / float(np.median(secs)):.3f}")
    failed = differ > 0 or (ours["threads"] == 1 and gap > 1e-6)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
