"""Past this machine: a study's wall time and its coordinator's load for 8 to
1,024 workers, simulated from measured numbers.

A discrete-event simulation of the study loop (experiments/study.c): one
coordinator, serial, spends `coord_us` per trial (half when it starts the
trial: sampler, journal, dispatch; half when it records the result); each
worker runs one trial at a time, its duration drawn (with replacement) from the
measured durations of a real study's journal; slot k may start only once slots
0 .. k-lag-1 have settled (the lag rule that keeps the study independent of the
worker count).

  bench/cluster_sim.py JOURNAL COORD_US [TRIALS]

JOURNAL: a finished study's journal.jsonl (its trials' start and end times);
COORD_US: the coordinator's cost per trial, as the study logs it
("coordinator: ... us per trial"); TRIALS: the study size (default 4096).
"""
import heapq
import json
import random
import sys
from datetime import datetime


def trial_seconds(journal):
    start, end = {}, {}
    number = 0
    for line in open(journal):
        op = json.loads(line)
        if op["op_code"] == 4:
            start[number] = datetime.fromisoformat(op["datetime_start"])
            number += 1
        elif op["op_code"] == 6 and op.get("datetime_complete"):
            end[op["trial_id"]] = datetime.fromisoformat(op["datetime_complete"])
    return [(end[k] - start[k]).total_seconds() for k in start if k in end]


def simulate(durations, coord_s, workers, lag, trials, seed=1):
    """Wall time and the coordinator's busy fraction."""
    rng = random.Random(seed)
    free_at = 0.0            # when the coordinator is next idle
    busy = 0.0
    settled = [False] * trials
    prefix = 0               # slots 0 .. prefix-1 settled
    nxt = 0                  # next slot to start
    running = []             # (end time, slot)
    idle = workers
    now = 0.0
    while prefix < trials:
        # start what the lag rule and the free workers allow, each through the coordinator
        while idle and nxt < trials and nxt - lag <= prefix:
            t0 = max(now, free_at)
            free_at = t0 + coord_s / 2
            busy += coord_s / 2
            heapq.heappush(running, (free_at + rng.choice(durations), nxt))
            nxt += 1
            idle -= 1
        end, slot = heapq.heappop(running)
        t0 = max(end, free_at)  # the result waits for the coordinator
        free_at = t0 + coord_s / 2
        busy += coord_s / 2
        now = free_at
        settled[slot] = True
        idle += 1
        while prefix < trials and settled[prefix]:
            prefix += 1
    return now, busy / now


def main():
    durations = trial_seconds(sys.argv[1])
    coord_s = float(sys.argv[2]) * 1e-6
    trials = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
    mean = sum(durations) / len(durations)
    print(f"{len(durations)} measured trials, mean {mean:.2f} s; coordinator {coord_s * 1e6:.0f} us per trial; "
          f"a study of {trials} trials")
    print(f"the coordinator saturates near {mean / coord_s:,.0f} workers (mean trial time / its cost per trial)")
    print(f"{'workers':>8} {'lag':>6} {'wall (h)':>10} {'speed-up':>9} {'coordinator busy':>17}")
    one, _ = simulate(durations, coord_s, 1, 0, trials)
    for workers in (8, 16, 32, 64, 128, 256, 512, 1024):
        for lag in sorted({7, workers - 1}):
            wall, load = simulate(durations, coord_s, workers, lag, trials)
            print(f"{workers:>8} {lag:>6} {wall / 3600:>10.2f} {one / wall:>9.1f} {100 * load:>16.1f}%")


if __name__ == "__main__":
    main()
