#!/usr/bin/env python3
"""PyTorch reference of defrisk's hybrid network (models/hybrid.h), for timing
one training epoch against bench/train_bench on the same shapes.

The layers, their order and their defaults mirror models/hybrid.c: per feature
group three {conv -> batch norm -> ReLU} blocks with residual connections (1x1
projections where channels change), max-pooling (ceil mode), a max over positions
as the branch summary, an LSTM over the branches' positions (or the history
sequence), additive attention, FC layers with batch norm, ReLU and dropout, and
the composite loss a*BCE + (1-a)*focal from logits. Adam.

Usage: torch_ref.py --rows 105000 --groups 20,20,20,20 [--seq-len 12 --seq-ch 2]
                    [--threads 2] [--repeats 3] [--device cpu|cuda] [--compile]
                    [--compile-mode MODE] [--infer-repeats 20] [--math fp32|tf32|bf16]
--math sets PyTorch's arithmetic to match defrisk's cuda.math: fp32 (the default,
as defrisk's) turns TF32 off everywhere, cuDNN included: PyTorch's own default
runs cuDNN's convolutions and LSTM on TF32 tensor cores, which would compare TF32
with fp32. tf32 allows TF32 in matrix products and cuDNN; bf16 lets fp32 matrix
products compute in bf16 (float32_matmul_precision "medium", as defrisk's
cublasGemmEx with bf16 compute) and cuDNN in TF32 (it has no bf16 mode for fp32
tensors).
Prints one JSON line per repeat, one with the inference latency of one batch (the
median of --infer-repeats after 5 warm-ups: the first rows moved to the device,
evaluation forward under no_grad, probabilities back on the host, as
bench/train_bench measures it; 0 skips it), and a summary line with the median
epoch and the inference time. On CUDA every time is taken after a synchronize.
A failure of the model or of torch.compile (training or inference) is printed as
an "error" line and in the summary, and the exit status is 3.
"""
import argparse
import json
import resource
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, k):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, padding="same")
        self.bn = nn.BatchNorm1d(cout)
        self.proj = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        y = F.relu(self.bn(self.conv(x)))
        return y + (self.proj(x) if self.proj is not None else x)


class Branch(nn.Module):
    def __init__(self, filters, kernels, pool):
        super().__init__()
        chans = [1] + list(filters)
        self.blocks = nn.Sequential(*[Block(chans[i], chans[i + 1], kernels[i]) for i in range(3)])
        self.pool = pool

    def forward(self, x):  # x [B, 1, L]
        p = F.max_pool1d(self.blocks(x), self.pool, self.pool, ceil_mode=True)
        # the summary as models/hybrid.c takes it, a max-pool over all positions: at a
        # tie (frequent with one-hot inputs) its gradient goes to the first maximum,
        # where amax would split it between the tied positions
        return p, F.max_pool1d(p, p.shape[2]).squeeze(2)


class Attention(nn.Module):
    def __init__(self, h, a):
        super().__init__()
        self.w = nn.Linear(h, a)
        self.v = nn.Parameter(torch.empty(a).uniform_(-a ** -0.5, a ** -0.5))

    def forward(self, h):  # [B, T, H]
        alpha = torch.softmax(torch.tanh(self.w(h)) @ self.v, dim=1)
        return (alpha.unsqueeze(2) * h).sum(1)


class Hybrid(nn.Module):
    def __init__(self, groups, filters=(64, 128, 256), kernels=(3, 3, 3), pool=2, lstm=128, attn=128,
                 fc=(256, 64), dropout=0.5, seq_ch=0):
        super().__init__()
        self.groups = groups
        self.branches = nn.ModuleList([Branch(filters, kernels, pool) for _ in groups])
        self.lstm = nn.LSTM(seq_ch if seq_ch else filters[2], lstm, batch_first=True)
        self.att = Attention(lstm, attn)
        layers, width = [], len(groups) * filters[2] + lstm
        for f in fc:
            layers += [nn.Linear(width, f), nn.BatchNorm1d(f), nn.ReLU(), nn.Dropout(dropout)]
            width = f
        self.head = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x, seq=None):
        summaries, steps, start = [], [], 0
        for size, br in zip(self.groups, self.branches):
            p, s = br(x[:, None, start:start + size])
            start += size
            summaries.append(s)
            steps.append(p.transpose(1, 2))
        h, _ = self.lstm(seq if seq is not None else torch.cat(steps, 1))
        return self.head(torch.cat(summaries + [self.att(h)], 1)).squeeze(1)


def composite_loss(z, y, a=0.7, gamma=2.0, w_pos=1.0):
    """a * BCE + (1 - a) * focal, defaults weighted by w_pos, the batch mean (core/ops/loss.h)."""
    s = 2 * y - 1
    nll = F.softplus(-s * z)
    q = torch.sigmoid(-s * z)
    loss = a * nll + (1 - a) * q.pow(gamma) * nll
    return (loss if w_pos == 1.0 else torch.where(y > 0.5, w_pos * loss, loss)).mean()


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def train_epochs(args, model, step_model, opt, x, y, seq, dev):
    times = []
    for r in range(args.repeats):
        perm = torch.randperm(args.rows)
        step_model.train()
        sync(dev)
        t0 = time.perf_counter()
        for i in range(0, args.rows, args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = x[idx].to(dev, non_blocking=True), y[idx].to(dev, non_blocking=True)
            sb = seq[idx].to(dev) if seq is not None else None
            opt.zero_grad(set_to_none=True)
            loss = composite_loss(step_model(xb, sb), yb)
            loss.backward()
            opt.step()
        sync(dev)
        dt = time.perf_counter() - t0
        times.append(dt)
        print(json.dumps({"repeat": r, "epoch_s": round(dt, 3), "samples_per_s": round(args.rows / dt, 1)}),
              flush=True)
    return times


def infer_latency(args, step_model, x, seq, dev):
    """Median ms of one batch end to end: host rows in, probabilities on the host."""
    n = min(args.batch, args.rows)
    step_model.eval()
    lat = []
    with torch.no_grad():
        for r in range(-5, args.infer_repeats):  # 5 warm-ups (torch.compile compiles here)
            sync(dev)
            t0 = time.perf_counter()
            xb = x[:n].to(dev)
            sb = seq[:n].to(dev) if seq is not None else None
            prob = torch.sigmoid(step_model(xb, sb)).cpu()
            sync(dev)
            if r >= 0:
                lat.append(1e3 * (time.perf_counter() - t0))
    assert prob.shape == (n,)
    lat.sort()
    print(json.dumps({"infer_batch": n, "infer_repeats": args.infer_repeats,
                      "infer_median_ms": round(statistics.median(lat), 3), "infer_min_ms": round(lat[0], 3)}),
          flush=True)
    return statistics.median(lat)


def report_error(what, exc):
    traceback.print_exc(file=sys.stderr)
    msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:400]
    print(json.dumps({"error": what, "message": msg}), flush=True)
    return f"{what}: {msg}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=105000)
    ap.add_argument("--groups", default="20,20,20,20")
    ap.add_argument("--seq-len", type=int, default=0)
    ap.add_argument("--seq-ch", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--interop", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-mode", default=None, help="torch.compile mode (default, reduce-overhead, ...)")
    ap.add_argument("--infer-repeats", type=int, default=20)
    ap.add_argument("--math", choices=["fp32", "tf32", "bf16"], default="fp32")
    args = ap.parse_args()
    if args.rows < 1 or args.batch < 1 or args.repeats < 1:
        ap.error("--rows, --batch and --repeats must be at least 1")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.interop)
    torch.manual_seed(0)
    torch.set_float32_matmul_precision({"fp32": "highest", "tf32": "high", "bf16": "medium"}[args.math])
    torch.backends.cudnn.allow_tf32 = args.math != "fp32"
    groups = [int(g) for g in args.groups.split(",")]
    errors = []
    times, infer_ms, model = [], None, None
    # Every failure (no GPU, torch.compile) is reported and ends in the summary line.
    try:
        dev = torch.device(args.device)
        model = Hybrid(groups, seq_ch=args.seq_ch).to(dev)
        step_model = torch.compile(model, mode=args.compile_mode) if args.compile else model
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    except Exception as e:
        errors.append(report_error("setup", e))
    nf = sum(groups)
    x = torch.randn(args.rows, nf)
    y = (torch.rand(args.rows) < 0.187).float()
    seq = torch.randn(args.rows, args.seq_len, args.seq_ch) if args.seq_len else None
    if not errors:
        try:
            times = train_epochs(args, model, step_model, opt, x, y, seq, dev)
        except Exception as e:
            errors.append(report_error("compile training" if args.compile else "training", e))
    if not errors and args.infer_repeats > 0:
        try:
            infer_ms = infer_latency(args, step_model, x, seq, dev)
        except Exception as e:
            errors.append(report_error("compile inference" if args.compile else "inference", e))
    med = statistics.median(times) if times else None
    summary = {"peer": "pytorch " + torch.__version__, "device": args.device, "threads": args.threads,
               "interop": args.interop, "rows": args.rows, "groups": groups, "batch": args.batch,
               "median_epoch_s": round(med, 3) if med else None,
               "samples_per_s": round(args.rows / med, 1) if med else None,
               "infer_ms": round(infer_ms, 3) if infer_ms is not None else None,
               "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               "params": sum(p.numel() for p in model.parameters()) if model is not None else None}
    if args.compile:
        summary["compile"] = args.compile_mode or "default"
    if args.device.startswith("cuda") and torch.cuda.is_available():
        summary["card"] = torch.cuda.get_device_name(torch.device(args.device))
        summary["math"] = args.math
        summary["float32_matmul_precision"] = torch.get_float32_matmul_precision()
        summary["tf32_cudnn"] = torch.backends.cudnn.allow_tf32
    if errors:
        summary["errors"] = errors
    print(json.dumps(summary), flush=True)
    return 3 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
