#!/usr/bin/env python3
"""PyTorch's hybrid network on exactly the rows and inputs of defrisk's runs,
trained as defrisk trains it, and the paired difference of test AUC.

Each RUN_DIR must come from a run with output.features = true (bench/same_split.sh
writes them): features.h5 holds the train, validation and test inputs in group
order and the CNN's group sizes; config.toml the run's resolved settings. The
network is bench/torch_ref.py's (the layers, order and defaults of
models/hybrid.c); the training loop is experiments/train.c's: a shuffle per epoch,
every batch of train.batch_size including the last partial one, the output bias
started at the training rows' weighted log-odds, Adam with L2
weight decay, the class-weighted composite loss, ReduceLROnPlateau on the
validation loss (relative threshold 1e-4), early stopping on validation AUC with
the best epoch's weights and batch-norm statistics restored.
    torch_same_rows.py [--torch-seeds K] [--history] RUN_DIR...
With K > 1 each run is also trained with K PyTorch seeds, to set the paired
difference against PyTorch's own seed-to-seed spread.
"""
import argparse
import copy
import csv
import os
import statistics
import sys
import tomllib

import h5py
import numpy as np
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score as auc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ref import Hybrid, composite_loss  # noqa: E402


def setting(cfg, key, default):
    section, name = key.split(".")
    return cfg.get(section, {}).get(name, default)


def evaluate(model, x, y, batch, loss_args):
    model.eval()
    probs, loss_sum = [], 0.0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            z = model(x[i:i + batch])
            loss_sum += composite_loss(z, y[i:i + batch], *loss_args).item() * len(z)
            probs.append(torch.sigmoid(z))
    return torch.cat(probs).numpy(), loss_sum / len(y)


def train(d, cfg, seed, history):
    """Test AUC, best validation AUC and its epoch, and the epochs run."""
    torch.manual_seed(seed)
    g = lambda k, v: setting(cfg, k, v)  # noqa: E731
    model = Hybrid(list(d["groups"]), filters=g("model.filters", [64, 128, 256]),
                   kernels=g("model.kernel_sizes", [3, 3, 3]), pool=g("model.pool", 2),
                   lstm=g("model.lstm_units", 128), attn=g("model.attention_dim", 128),
                   fc=g("model.fc", [256, 64]), dropout=g("model.dropout", 0.5))
    # experiments/model_stage.c starts the output bias at the weighted log-odds of the training rows
    pi = float(d["yt"].mean())
    with torch.no_grad():
        model.head[-1].bias.fill_(float(np.log(g("train.pos_weight", 1.0) * pi / (1 - pi))))
    lr = g("train.lr", 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(g("train.beta1", 0.9), g("train.beta2", 0.999)),
                           eps=g("train.eps", 1e-8), weight_decay=g("train.weight_decay", 0.0))
    loss_args = (g("train.loss_alpha", 0.7), g("train.focal_gamma", 2.0), g("train.pos_weight", 1.0))
    batch, epochs = g("train.batch_size", 256), g("train.epochs", 100)
    plateau_patience, factor = g("train.plateau_patience", 5), g("train.plateau_factor", 0.1)
    patience = g("train.early_stopping_patience", 10)
    xt, yt = torch.from_numpy(d["xt"]), torch.from_numpy(d["yt"])
    xv, yv = torch.from_numpy(d["xv"]), torch.from_numpy(d["yv"])
    plateau_best, plateau_bad, best_auc, best_epoch, best_state, wait = float("inf"), 0, -1.0, -1, None, 0
    epoch = 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(yt))
        train_loss = 0.0
        for i in range(0, len(yt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = composite_loss(model(xt[idx]), yt[idx], *loss_args)
            loss.backward()
            opt.step()
            train_loss += loss.item() * len(idx)
        pv, val_loss = evaluate(model, xv, yv, batch, loss_args)
        val_auc = auc(d["yv"], pv)
        if history:
            print(f"  epoch {epoch + 1}: train_loss {train_loss / len(yt):.4f} val_loss {val_loss:.4f} "
                  f"val_auc {val_auc:.4f} lr {lr:.0e}")
        if val_loss < plateau_best * (1 - 1e-4):
            plateau_best, plateau_bad = val_loss, 0
        else:
            plateau_bad += 1
            if plateau_bad > plateau_patience:
                lr *= factor
                plateau_bad = 0
                for group in opt.param_groups:
                    group["lr"] = lr
        if val_auc > best_auc:
            best_auc, best_epoch, best_state, wait = val_auc, epoch, copy.deepcopy(model.state_dict()), 0
        else:
            wait += 1
            if wait >= patience:
                break
    model.load_state_dict(best_state)
    ps, _ = evaluate(model, torch.from_numpy(d["xs"]), torch.from_numpy(d["ys"]), batch, loss_args)
    return auc(d["ys"], ps), best_auc, best_epoch + 1, epoch + 1


def load(run):
    with h5py.File(f"{run}/features.h5", "r") as f:
        d = {k: f[f"{split}/{part}"][:].astype(np.float32)
             for k, split, part in (("xt", "train", "x"), ("yt", "train", "label"), ("xv", "val", "x"),
                                    ("yv", "val", "label"), ("xs", "test", "x"), ("ys", "test", "label"))}
        d["groups"] = f["group_size"][:].tolist()
    with open(f"{run}/config.toml", "rb") as f:
        cfg = tomllib.load(f)
    with open(f"{run}/results.csv") as f:
        ours = [float(r["auc"]) for r in csv.DictReader(f) if r["model"] == "hybrid"]
    if not ours:
        sys.exit(f"{run}/results.csv: no hybrid row")
    return d, cfg, ours[0]


def interval(x):
    m = statistics.mean(x)
    return m, stats.t.ppf(0.975, len(x) - 1) * statistics.stdev(x) / len(x) ** 0.5 if len(x) > 1 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch-seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--history", action="store_true", help="print every epoch's losses and validation AUC")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    diffs = []
    for run in args.runs:
        d, cfg, ours = load(run)
        seed = setting(cfg, "train.seed", 42)
        results = [train(d, cfg, seed + k, args.history) for k in range(args.torch_seeds)]
        test = [r[0] for r in results]
        diffs.append(ours - statistics.mean(test))
        detail = "; ".join(f"test {t:.4f} val {v:.4f} best epoch {b} of {n}" for t, v, b, n in results)
        print(f"# {run} ({len(d['yt'])} train rows, {int(d['ys'].sum())} test defaults): defrisk {ours:.4f}, "
              f"PyTorch {detail}", flush=True)
        if args.torch_seeds > 1:
            print(f"#   PyTorch's own spread over {args.torch_seeds} seeds: sd {statistics.stdev(test):.4f}")
    m, h = interval(diffs)
    print(f"\nhybrid network, paired test AUC difference defrisk - PyTorch {torch.__version__} over {len(diffs)} runs: "
          f"{m:+.4f} [{m - h:+.4f}, {m + h:+.4f}], defrisk at or above in {sum(x >= 0 for x in diffs)} of {len(diffs)}")


if __name__ == "__main__":
    main()
