#!/usr/bin/env python3
"""defrisk's trained hybrid network inside PyTorch's: the run's best weights and
batch-norm statistics (checkpoint.h5, best/) loaded into bench/torch_ref.py's
Hybrid, its evaluation forward on the run's validation and test inputs
(features.h5) against the probabilities defrisk wrote (predictions.h5). Equal to
float rounding means the two compute the same function from the same weights.
    torch_parity.py RUN_DIR              (a run with output.features = true)
    torch_parity.py --gradient RUN_DIR   (and train.epochs = 1,
                                          train.batch_size >= the training rows)
--gradient checks a training step instead: after one Adam step over one batch
the checkpoint's first moment is (1 - beta1) g, so it holds defrisk's gradient g
of the training loss, and the step can be undone to give the initial weights.
PyTorch computes the loss and gradient of its network from those weights on the
same rows in the same order (defrisk's shuffle) with the same dropout masks (both
drawn here from defrisk's Philox streams), batch norm on batch statistics; the
loss, every gradient and the updated running statistics are compared.
"""
import argparse
import os
import sys
import tomllib

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ref import Hybrid, composite_loss  # noqa: E402


def torch_names(model, n_fc):
    """defrisk's state names -> the PyTorch tensors they fill."""
    out = {}
    for i, br in enumerate(model.branches):
        for l, blk in enumerate(br.blocks):
            p = f"branch{i}.block{l + 1}"
            out |= {f"{p}.conv.w": blk.conv.weight, f"{p}.conv.b": blk.conv.bias, f"{p}.bn.gamma": blk.bn.weight,
                    f"{p}.bn.beta": blk.bn.bias, f"{p}.bn.running_mean": blk.bn.running_mean,
                    f"{p}.bn.running_var": blk.bn.running_var}
            if blk.proj is not None:
                out |= {f"{p}.proj.w": blk.proj.weight, f"{p}.proj.b": blk.proj.bias}
    out |= {"lstm.w_ih": model.lstm.weight_ih_l0, "lstm.w_hh": model.lstm.weight_hh_l0, "lstm.b": model.lstm.bias_ih_l0,
            "attention.w": model.att.w.weight, "attention.b": model.att.w.bias, "attention.v": model.att.v}
    for k in range(n_fc):
        lin, bn = model.head[4 * k], model.head[4 * k + 1]
        out |= {f"fc{k + 1}.w": lin.weight, f"fc{k + 1}.b": lin.bias, f"fc{k + 1}.bn.gamma": bn.weight,
                f"fc{k + 1}.bn.beta": bn.bias, f"fc{k + 1}.bn.running_mean": bn.running_mean,
                f"fc{k + 1}.bn.running_var": bn.running_var}
    out |= {"head.w": model.head[-1].weight, "head.b": model.head[-1].bias}
    return out


def load_state(model, names, group):
    with torch.no_grad():
        for k, t in names.items():
            t.copy_(torch.from_numpy(group[k]).reshape(t.shape))
        model.lstm.bias_hh_l0.zero_()  # defrisk's LSTM has one bias


# --- defrisk's random streams (core/philox.h), to draw the same dropout masks ------

M0, M1, W0, W1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57), 0x9E3779B9, 0xBB67AE85
SHUFFLE_STREAM = 0x20000  # experiments/train.c


def philox(c0, c1, c2, c3, seed):
    """Philox 4x32-10 of the counters (uint64 arrays holding 32-bit words), key seed."""
    c, k0, k1, low = [c0, c1, c2, c3], seed & 0xFFFFFFFF, seed >> 32, np.uint64(0xFFFFFFFF)
    for _ in range(10):
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & low, (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1),
             p0 & low]
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return c


def words(n, value):
    return np.full(n, value, dtype=np.uint64)


def dropout_mask(n, p, seed, stream, counter):
    """kernels/cpu/activation.c's inverted-dropout mask of n elements."""
    blocks = (n + 3) // 4
    c = philox(np.arange(blocks, dtype=np.uint64), words(blocks, counter & 0xFFFFFFFF), words(blocks, counter >> 32),
               words(blocks, stream), seed)
    u = (np.stack(c, 1).reshape(-1)[:n] >> np.uint64(8)).astype(np.float64) / 16777216.0
    return np.where(u >= p, 1.0 / (1.0 - p), 0.0).astype(np.float32)


def epoch_order(n, seed, epoch):
    """experiments/train.c's shuffle of epoch (Fisher-Yates on Philox draws)."""
    i = np.arange(n - 1, 0, -1, dtype=np.uint64)
    c = philox(i, words(len(i), epoch), words(len(i), 0), words(len(i), SHUFFLE_STREAM), seed)
    draws = (c[0] << np.uint64(32)) | c[1]
    a = np.arange(n)
    for k, top in enumerate(range(n - 1, 0, -1)):
        j = int(draws[k] % np.uint64(top + 1))
        a[top], a[j] = a[j], a[top]
    return a


def dropout_streams(groups, filters, n_fc):
    """The node indices of the FC blocks' dropout nodes, counted as models/hybrid.c
    adds nodes: per branch slice, reshape, three residual blocks (conv, batch
    norm, ReLU, a 1x1 projection where the channels change, add), two max-pools,
    reshape, transpose; then the concatenation of the steps, LSTM, attention,
    concatenation; per FC block linear, batch norm, ReLU, dropout."""
    channels = [1] + list(filters)
    per_branch = 2 + sum(4 + (channels[l] != channels[l + 1]) for l in range(3)) + 4
    first = len(groups) * per_branch + 4
    return [first + 4 * k + 3 for k in range(n_fc)]


class FixedMask(torch.nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.mask = mask

    def forward(self, z):
        return z * self.mask


def gradient_check(run, cfg, model, names, feats):
    t, m = cfg.get("train", {}), cfg.get("model", {})
    b1, b2, eps, lr = t.get("beta1", 0.9), t.get("beta2", 0.999), t.get("eps", 1e-8), t.get("lr", 1e-3)
    with h5py.File(f"{run}/checkpoint.h5", "r") as ck:
        if len(ck["history/train_loss"]) != 1:
            sys.exit(f"{run}: --gradient needs a run of one epoch (train.epochs = 1)")
        grad = {k: ck[f"adam_m/{k}"][()].astype(np.float64) / (1 - b1) for k in names if k in ck["adam_m"]}
        start = {}
        for k in grad:
            v_hat = ck[f"adam_v/{k}"][()].astype(np.float64) / (1 - b2)
            start[k] = (ck[f"params/{k}"][()] + lr * grad[k] / (np.sqrt(v_hat) + eps)).astype(np.float32)
        start |= {k: ck[f"buffers/{k}"][()] for k in names if k not in grad}
        buffers_after = {k: ck[f"buffers/{k}"][()] for k in names if k not in grad}
        loss_ours = float(ck["history/train_loss"][0])
    n = len(feats["train/label"])
    if n > t.get("batch_size", 256):
        sys.exit(f"{run}: --gradient needs train.batch_size >= the {n} training rows (one step per epoch)")
    order = torch.from_numpy(epoch_order(n, t.get("seed", 42), 0))
    x, y = torch.from_numpy(feats["train/x"][:])[order], torch.from_numpy(feats["train/label"][:])[order]
    p, fc = m.get("dropout", 0.5), m.get("fc", [256, 64])
    if p > 0:
        drops = [i for i, layer in enumerate(model.head) if isinstance(layer, torch.nn.Dropout)]
        for i, stream, units in zip(drops, dropout_streams(feats["group_size"][:], m.get("filters", [64, 128, 256]), len(fc)), fc):
            model.head[i] = FixedMask(torch.from_numpy(dropout_mask(n * units, p, t.get("seed", 42), stream, 0))
                                      .reshape(n, units))
    load_state(model, names, start)
    for module in model.modules():  # the statistics before the step, to compare their update
        if isinstance(module, torch.nn.BatchNorm1d):
            module.reset_running_stats()
    model.train()
    loss = composite_loss(model(x), y, t.get("loss_alpha", 0.7), t.get("focal_gamma", 2.0), t.get("pos_weight", 1.0))
    loss.backward()
    print(f"training loss over {n} rows (dropout {p}): defrisk {loss_ours:.7f}, PyTorch {loss.item():.7f}")
    theirs = {k: names[k].grad.numpy().astype(np.float64).reshape(grad[k].shape) for k in grad}
    # the gradients of biases that batch norm cancels are 0 but for rounding: an absolute floor
    floor = 1e-3 * max(np.max(np.abs(g)) for g in theirs.values())
    ok = abs(loss_ours - loss.item()) <= 1e-5 * abs(loss.item())
    for k in grad:
        diff = np.max(np.abs(grad[k] - theirs[k]))
        bad = diff > 1e-3 * np.max(np.abs(theirs[k])) + floor
        ok &= not bad
        print(f"  {k:32s} max |g| {np.max(np.abs(theirs[k])):.3e}  max |diff| {diff:.2e}{'  <-- differs' if bad else ''}")
    for k, tensor in names.items():
        if k in buffers_after:
            diff = float(np.max(np.abs(buffers_after[k] - tensor.detach().numpy().reshape(buffers_after[k].shape))))
            ok &= diff <= 1e-5
            print(f"  {k:32s} updated statistic, max |diff| {diff:.2e}")
    print(f"{run}: {'the same training step' if ok else 'DIFFERENT'} (loss to 1e-5 relative; gradients to 1e-3 of "
          f"each tensor's largest plus {floor:.1e}; batch-norm statistics to 1e-5)")
    return ok


def network_of(run):
    """PyTorch's network with the run's shapes, its defrisk names, the settings and features.h5."""
    with open(f"{run}/config.toml", "rb") as f:
        cfg = tomllib.load(f)
    m, feats = cfg.get("model", {}), h5py.File(f"{run}/features.h5", "r")
    fc = m.get("fc", [256, 64])
    model = Hybrid(feats["group_size"][:].tolist(), filters=m.get("filters", [64, 128, 256]),
                   kernels=m.get("kernel_sizes", [3, 3, 3]), pool=m.get("pool", 2), lstm=m.get("lstm_units", 128),
                   attn=m.get("attention_dim", 128), fc=fc, dropout=m.get("dropout", 0.5))
    return model, torch_names(model, len(fc)), cfg, feats


def best_state(run, names):
    """The run's best weights and batch-norm statistics (checkpoint.h5, best/)."""
    with h5py.File(f"{run}/checkpoint.h5", "r") as ck:
        stored = {}
        ck["best"].visititems(lambda n, o: stored.__setitem__(n.split("/", 1)[1], o[()])
                              if isinstance(o, h5py.Dataset) else None)
    missing = sorted(set(names) - set(stored)) + sorted(set(stored) - set(names))
    if missing:
        sys.exit(f"{run}/checkpoint.h5: names that do not match PyTorch's network: {missing[:8]}")
    return stored


def build_from_run(run):
    """PyTorch's network holding the run's trained (best) weights."""
    model, names, _, _ = network_of(run)
    load_state(model, names, best_state(run, names))
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gradient", action="store_true")
    ap.add_argument("run")
    args = ap.parse_args()
    run = args.run
    model, names, cfg, feats = network_of(run)
    if args.gradient:
        best_state(run, names)  # the names match
        sys.exit(0 if gradient_check(run, cfg, model, names, feats) else 1)
    load_state(model, names, best_state(run, names))
    model.eval()
    worst = 0.0
    with h5py.File(f"{run}/predictions.h5", "r") as pr, torch.no_grad():
        for split in ("val", "test"):
            ours = pr[f"{split}/hybrid"][:]
            theirs = torch.sigmoid(model(torch.from_numpy(feats[f"{split}/x"][:]))).numpy()
            err = float(np.max(np.abs(ours - theirs)))
            worst = max(worst, err)
            print(f"{split}: {len(ours)} rows, largest |p_defrisk - p_torch| {err:.3e}")
    print(f"{run}: {'the same function' if worst < 1e-4 else 'DIFFERENT'} (tolerance 1e-4)")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
