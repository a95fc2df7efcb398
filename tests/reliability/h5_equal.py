"""Whether two HDF5 files hold the same datasets and attributes, bit for bit.

    h5_equal.py A.h5 B.h5 [IGNORED_DATASET ...]

Prints the first differences and exits 1 when there are any. Read with h5py, so
the check does not rest on the framework's own reader."""
import sys

import h5py
import numpy as np


def contents(path, ignored):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for key, value in obj.attrs.items():
                out[f"{name}@{key}"] = np.asarray(value)
            if isinstance(obj, h5py.Dataset) and name not in ignored:
                out[name] = obj[()]
        for key, value in f.attrs.items():
            out[f"/@{key}"] = np.asarray(value)
        f.visititems(visit)
    return out


def same(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype == object or y.dtype == object:  # strings: compare the values, not the pointers
        return x.shape == y.shape and x.tolist() == y.tolist()
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def main():
    a, b = contents(sys.argv[1], set(sys.argv[3:])), contents(sys.argv[2], set(sys.argv[3:]))
    diffs = sorted(set(a) ^ set(b)) + sorted(k for k in set(a) & set(b) if not same(a[k], b[k]))
    for name in diffs[:5]:
        print(f"  {sys.argv[1]} and {sys.argv[2]} differ in {name}")
    print(f"  {len(a)} datasets and attributes compared, {len(diffs)} differ")
    sys.exit(1 if diffs else 0)


main()
