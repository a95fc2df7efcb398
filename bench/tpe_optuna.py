"""Optuna's TPESampler on the problems of bench/tpe_bench.c, printing the same lines:

    python bench/tpe_optuna.py quality branin|hartmann6 SEEDS TRIALS [independent]
    python bench/tpe_optuna.py overhead TRIALS REPEATS [independent]

The sampler has Optuna's defaults (multivariate for one objective, as this
version's TPESampler chooses) or multivariate=False with "independent". The
overhead is the time of study.optimize less the objective's, per trial: what a
user of Optuna pays per trial with the in-memory storage.
"""
import math
import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(x):
    return -sum(a * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))) for i, a in enumerate(ALPHA))


def sampler(seed, independent):
    return optuna.samplers.TPESampler(seed=seed, multivariate=False if independent else None)


def quality(name, seeds, trials, independent):
    for seed in range(1, seeds + 1):
        study = optuna.create_study(sampler=sampler(seed, independent))
        if name == "branin":
            study.optimize(lambda t: branin(t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15)), n_trials=trials)
        else:
            study.optimize(lambda t: hartmann6([t.suggest_float(f"x{j + 1}", 0, 1) for j in range(6)]), n_trials=trials)
        print(f"{name},{seed},{study.best_value:.10g}", flush=True)


def overhead(trials, repeats, independent):
    for seed in range(1, repeats + 1):
        spent_in_objective = [0.0]
        starts = []

        def objective(t):
            starts.append(time.perf_counter())
            lr = t.suggest_float("train.lr", 1e-4, 1e-2, log=True)
            dropout = t.suggest_float("model.dropout", 0.3, 0.7)
            filters = t.suggest_categorical("model.filters", [0, 1])
            lstm = t.suggest_categorical("model.lstm_units", [0, 1, 2])
            batch = t.suggest_int("train.batch_size", 128, 512, step=128) // 128 - 1
            t0 = time.perf_counter()
            y = (math.log10(lr) + 3) ** 2 + (dropout - 0.5) ** 2 + 0.1 * filters + 0.05 * abs(lstm - 1) \
                + 0.01 * (batch - 2) ** 2
            spent_in_objective[0] += time.perf_counter() - t0
            return y

        study = optuna.create_study(sampler=sampler(seed, independent))
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=trials)
        total = time.perf_counter() - t0 - spent_in_objective[0]
        tail = time.perf_counter() - starts[trials - trials // 10]
        print(f"{trials},{seed},{1e3 * total / trials:.4f},{1e3 * tail / (trials // 10):.4f}", flush=True)


if __name__ == "__main__":
    independent = sys.argv[-1] == "independent"
    if sys.argv[1] == "quality":
        quality(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), independent)
    else:
        overhead(int(sys.argv[2]), int(sys.argv[3]), independent)
