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
Prints one JSON line per repeat and a summary line with the median.
"""
import argparse
import json
import resource
import statistics
import time

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
        return p, p.amax(dim=2)


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


def composite_loss(z, y, a=0.7, gamma=2.0):
    s = 2 * y - 1
    nll = F.softplus(-s * z)
    q = torch.sigmoid(-s * z)
    return (a * nll + (1 - a) * q.pow(gamma) * nll).mean()


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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.interop)
    torch.manual_seed(0)
    groups = [int(g) for g in args.groups.split(",")]
    dev = torch.device(args.device)
    model = Hybrid(groups, seq_ch=args.seq_ch).to(dev)
    step_model = torch.compile(model) if args.compile else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    nf = sum(groups)
    x = torch.randn(args.rows, nf)
    y = (torch.rand(args.rows) < 0.187).float()
    seq = torch.randn(args.rows, args.seq_len, args.seq_ch) if args.seq_len else None
    times = []
    for r in range(args.repeats):
        perm = torch.randperm(args.rows)
        model.train()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, args.rows, args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = x[idx].to(dev, non_blocking=True), y[idx].to(dev, non_blocking=True)
            sb = seq[idx].to(dev) if seq is not None else None
            opt.zero_grad(set_to_none=True)
            loss = composite_loss(step_model(xb, sb), yb)
            loss.backward()
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        times.append(dt)
        print(json.dumps({"repeat": r, "epoch_s": round(dt, 3), "samples_per_s": round(args.rows / dt, 1)}),
              flush=True)
    med = statistics.median(times)
    print(json.dumps({"peer": "pytorch " + torch.__version__, "device": args.device, "threads": args.threads,
                      "interop": args.interop, "rows": args.rows, "groups": groups, "batch": args.batch,
                      "median_epoch_s": round(med, 3), "samples_per_s": round(args.rows / med, 1),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "params": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
