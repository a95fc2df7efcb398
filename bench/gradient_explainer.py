#!/usr/bin/env python3
"""defrisk's expected gradients against the shap package's GradientExplainer on
the same network: the run's trained weights loaded into PyTorch's network
(bench/torch_parity.py), the same loans and the same background (the run's
training rows), the logit explained on both sides.

Both are Monte Carlo estimates of the same expectation, so they cannot agree
exactly: GradientExplainer is run twice with different seeds, and the spread of
those two runs is the yardstick. defrisk agrees with it when its difference from
one shap run is no larger than the two shap runs' difference from each other
(ratio of root-mean-square differences near 1; a wrong attribution gives a
ratio far above 1 on some inputs). The base value is exact on both sides (the
mean logit over the background).
    gradient_explainer.py RUN_DIR
RUN_DIR: a run with output.features = true, explain.models = ["hybrid"] and
explain.background equal to its training rows (all of them, so both sides
average over the same background), explain.samples as large as time allows.
"""
import os
import sys
import tomllib

import h5py
import numpy as np
import shap
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_parity import build_from_run  # noqa: E402


class Logit(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).unsqueeze(1)


def rms(a):
    return float(np.sqrt(np.mean(np.square(a))))


def main():
    run = sys.argv[1]
    with open(f"{run}/config.toml", "rb") as f:
        cfg = tomllib.load(f)
    samples = cfg.get("explain", {}).get("samples", 200)
    model = build_from_run(run).eval()
    with h5py.File(f"{run}/features.h5", "r") as f:
        background = torch.from_numpy(f["train/x"][:])
    if cfg.get("explain", {}).get("background", 1000) != background.shape[0]:
        sys.exit(f"{run}: explain.background is not all {background.shape[0]} training rows, so the two sides "
                 "would average over different backgrounds; set it to that")
    with h5py.File(f"{run}/explain.h5", "r") as f:
        if "hybrid" not in f:
            sys.exit(f"{run}/explain.h5: no hybrid explanations (explain.models = [\"hybrid\"])")
        ours, base, x = f["hybrid/shap"][:], f["hybrid/base"][:], torch.from_numpy(f["x"][:])
    with torch.no_grad():
        base_theirs = float(model(background).mean())
    explainer = shap.GradientExplainer(Logit(model), background)
    theirs = [np.asarray(explainer.shap_values(x, nsamples=samples, rseed=seed)).reshape(ours.shape)
              for seed in (1, 2)]
    between_shap = rms(theirs[0] - theirs[1])
    against_ours = rms(ours - theirs[0])
    scale = rms(theirs[0])
    per_input = np.sqrt(np.mean((ours - theirs[0]) ** 2, 0)) / np.maximum(
        np.sqrt(np.mean((theirs[1] - theirs[0]) ** 2, 0)), 1e-12)
    top = lambda phi: set(np.argsort(-np.abs(phi).mean(0))[:10])  # noqa: E731
    print(f"{run}: {x.shape[0]} loans, {x.shape[1]} inputs, {samples} samples per loan, background of "
          f"{background.shape[0]} training rows, shap {shap.__version__}, PyTorch {torch.__version__}")
    print(f"base value: defrisk {base[0]:.6f}, mean logit over the background in PyTorch {base_theirs:.6f}")
    print(f"RMS of the SHAP values {scale:.4e}; RMS difference defrisk - shap {against_ours:.4e}, "
          f"shap (seed 1) - shap (seed 2) {between_shap:.4e}: ratio {against_ours / between_shap:.3f}")
    print(f"per input, that ratio: median {np.median(per_input):.3f}, largest {per_input.max():.3f}")
    print(f"top 10 inputs by mean |SHAP|: {len(top(ours) & top(theirs[0]))} shared between defrisk and shap, "
          f"{len(top(theirs[1]) & top(theirs[0]))} between the two shap runs")
    ok = abs(base[0] - base_theirs) < 1e-4 and against_ours / between_shap < 1.5
    print("agree: within shap's own Monte Carlo spread" if ok else "DIFFERENT: beyond shap's own spread")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
