"""What the notebooks share: the folder being reported on, the figures saved as
PNG and SVG beside the report, and a sentence instead of a figure whose input
file is missing. Reads only the framework's outputs."""
import glob
import json
import os

import h5py
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display


class Folder:
    """A run, study or sensitivity folder; figures go to FOLDER/figures/."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.figures = os.path.join(self.path, "figures")

    def file(self, name):
        return os.path.join(self.path, name)

    def has(self, name):
        return os.path.exists(self.file(name))

    def explain_file(self):
        """explain.h5 of the run, or of its latest `run_experiment explain`."""
        if self.has("explain.h5"):
            return self.file("explain.h5")
        later = sorted(glob.glob(os.path.join(self.path, "explain-*", "explain.h5")))
        return later[-1] if later else None

    def require(self, name, command):
        """True when the file is there; else says what is missing and what makes it."""
        if self.has(name):
            return True
        missing(f"`{name}` is not in `{self.path}`", command)
        return False

    def show(self, fig, name):
        os.makedirs(self.figures, exist_ok=True)
        for ext in ("png", "svg"):
            fig.savefig(os.path.join(self.figures, f"{name}.{ext}"), bbox_inches="tight", dpi=110)
        plt.show()


def missing(what, command):
    display(Markdown(f"**Not drawn:** {what}. {command}"))


def results(folder):
    return pd.read_csv(folder.file("results.csv")).set_index("model")


def predictions(folder, split="test"):
    """Every model's probabilities and the labels of a split, as a DataFrame."""
    with h5py.File(folder.file("predictions.h5"), "r") as f:
        g = f[split]
        return pd.DataFrame({k: g[k][()] for k in g if k not in ("row", "exposure")})


def metrics(folder):
    with open(folder.file("metrics.jsonl")) as f:
        return pd.DataFrame([json.loads(line) for line in f if line.strip()])


def precision_recall(score, label):
    order = np.argsort(-score, kind="stable")
    y = label[order]
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    return tp / max(tp[-1], 1), tp / (tp + fp)


def ks_curves(score, label):
    """Cumulative shares of defaults and non-defaults up to each score."""
    grid = np.sort(np.unique(score))
    bad = np.searchsorted(np.sort(score[label == 1]), grid, side="right") / max((label == 1).sum(), 1)
    good = np.searchsorted(np.sort(score[label == 0]), grid, side="right") / max((label == 0).sum(), 1)
    return grid, bad, good
