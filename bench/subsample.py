#!/usr/bin/env python3
"""A seeded subsample of ROWS loans of data/lending_club.csv, in their order,
written to OUT: random rows, or with DEFAULT_RATE that share of defaults ("bad")
among them (the bundled sample's 5 % leaves about 8 defaults in a 1,000-loan
test split, too few to tell models apart; public sets of that size often hold
30 %).
    subsample.py ROWS OUT [DEFAULT_RATE]
"""
import random
import sys

rows, out = int(sys.argv[1]), sys.argv[2]
lines = open("data/lending_club.csv").read().splitlines(keepends=True)
body = list(range(1, len(lines)))
r = random.Random(20261207)
if len(sys.argv) > 3:
    bad = [i for i in body if lines[i].rstrip().endswith('"bad"')]
    good = [i for i in body if not lines[i].rstrip().endswith('"bad"')]
    n_bad = round(rows * float(sys.argv[3]))
    if n_bad > len(bad) or rows - n_bad > len(good):
        sys.exit(f"subsample.py: {rows} loans at {sys.argv[3]} defaults need more than the sample's "
                 f"{len(bad)} defaults and {len(good)} others")
    pick = r.sample(bad, n_bad) + r.sample(good, rows - n_bad)
else:
    r.shuffle(body)
    pick = body[:rows]
open(out, "w").writelines([lines[0]] + [lines[i] for i in sorted(pick)])
