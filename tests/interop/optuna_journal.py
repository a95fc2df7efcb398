"""Optuna reads a defrisk study journal: the study, every trial's state, value,
parameters with their distributions, intermediate values and user attributes
agree with defrisk's own export, and optuna.visualization draws the study.

    python tests/interop/optuna_journal.py STUDY_DIR EXPORT.csv
"""
import csv
import math
import sys

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend


def main(study_dir, export_csv):
    storage = JournalStorage(JournalFileBackend(f"{study_dir}/journal.jsonl"))
    names = optuna.get_all_study_names(storage)
    assert len(names) == 1, names
    study = optuna.load_study(study_name=names[0], storage=storage)
    rows = list(csv.DictReader(open(export_csv)))
    assert len(study.trials) == len(rows) > 0, (len(study.trials), len(rows))
    states = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL", "running": "RUNNING"}
    for t, row in zip(study.trials, rows):
        assert t.number == int(row["number"])
        assert t.state.name == states[row["state"]], (t.number, t.state, row["state"])
        assert t.system_attrs["defrisk:slot"] == int(row["slot"])
        if t.state.name == "COMPLETE":
            assert math.isclose(t.value, float(row["value"]), rel_tol=1e-12), (t.value, row["value"])
            assert math.isclose(t.user_attrs["val_auc"], float(row["val_auc"]), rel_tol=1e-12)
        for name, dist in t.distributions.items():
            value = t.params[name]
            assert dist._contains(dist.to_internal_repr(value)), (name, value, dist)
            ours = row[name]
            if isinstance(value, float):
                assert math.isclose(value, float(ours), rel_tol=1e-9), (name, value, ours)
            else:
                assert str(value).lower() == ours.lower() or str(value) == ours, (name, value, ours)
        assert all(step >= 0 for step in t.intermediate_values)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    if done:
        best = max(done, key=lambda t: t.value) if study.direction.name == "MAXIMIZE" else min(done, key=lambda t: t.value)
        assert study.best_trial.number == best.number
        optuna.visualization.plot_optimization_history(study)
        optuna.visualization.plot_intermediate_values(study)
        if len(done) > 1:
            optuna.visualization.plot_param_importances(study)
    print(f"optuna {optuna.__version__} read {study.study_name}: {len(study.trials)} trials, "
          f"{len(done)} complete, {sum(t.state.name == 'PRUNED' for t in study.trials)} pruned")


if __name__ == "__main__":
    main(*sys.argv[1:])
