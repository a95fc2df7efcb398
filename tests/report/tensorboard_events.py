"""TensorBoard's own reader on a run's event file: the network's epochs equal
metrics.jsonl (float32), every test metric equals results.csv (to its 6 decimals), the hparams are
the given keys of [model] and [train], the session ended in success, and a
resumed run shows each epoch once.
    tensorboard_events.py RUN_DIR"""
import json
import sys

import numpy as np
import pandas as pd
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hm

run = sys.argv[1]
acc = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
acc.Reload()
fails = 0


def check(ok, what):
    global fails
    print(("ok: " if ok else "FAIL: ") + what)
    fails += not ok


epochs = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if l.strip()]
for tag, key in [("loss/train", "train_loss"), ("loss/val", "val_loss"), ("auc/val", "val_auc"), ("lr", "lr")]:
    got = [(e.step, e.value) for e in acc.Scalars(tag)]
    want = [(r["epoch"], float(np.float32(r[key]))) for r in epochs]
    check(got == want, f"{tag}: {len(got)} epochs, each once, equal to metrics.jsonl")

table = pd.read_csv(f"{run}/results.csv").set_index("model")
bad = 0
for model, row in table.iterrows():
    for col, v in row.items():
        got = acc.Scalars(f"test_{col}/{model}")
        # results.csv has 6 decimals, the scalar float32's 7 digits
        bad += len(got) != 1 or not np.isclose(got[0].value, v, rtol=1e-6, atol=6e-7, equal_nan=True)
check(bad == 0, f"test_<metric>/<model>: {table.size} scalars equal to results.csv (to its 6 decimals)")

start = hm.parse_session_start_info_plugin_data(acc.SummaryMetadata(hm.SESSION_START_INFO_TAG).plugin_data.content)
hp = {k: v.WhichOneof("kind") for k, v in start.hparams.items()}
check(hp.get("train.epochs") == "number_value" and hp.get("model.filters") == "string_value",
      f"hparams: {len(hp)} keys, numbers as numbers, lists as text")
end = hm.parse_session_end_info_plugin_data(acc.SummaryMetadata(hm.SESSION_END_INFO_TAG).plugin_data.content)
check(end.status == api_pb2.STATUS_SUCCESS, "the session ended in success")
sys.exit(1 if fails else 0)
