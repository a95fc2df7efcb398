#!/usr/bin/env bash
# Studies end to end, through the defrisk program (trials are processes):
#   - the same study, trial for trial, with 1 and 3 workers (pruned trials included);
#   - a study killed with SIGKILL mid-way and resumed equals an uninterrupted one;
#   - a torn last journal line is cut with a warning;
#   - a trial whose values the model refuses fails alone, with its reason;
#   - a sensitivity grid gives its table;
#   - bad [search] input stops before any trial, naming the key and its position;
#   - under mpirun (a build with MPI): the search and the grid with 3 ranks equal
#     the one-process ones; a rank killed with SIGKILL ends the job, and the study
#     resumed under mpirun equals the uninterrupted one; one rank, more ranks than
#     trials and a single run under mpirun are told apart;
#   - sweep --slurm writes an MPI batch script, and --submit without sbatch says so;
#   - two processes on one study (a job array's tasks) give the one-process study,
#     also when one of them is killed with SIGKILL mid-way;
#   - the heartbeat stays fresh while the study's refit runs.
#   tests/study_test.sh PATH/TO/defrisk
set -uo pipefail
DEFRISK=$1
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/defrisk_study_test.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

source tests/study_fixtures.sh
study_fixtures "$T"

for w in 1 3; do
    "$DEFRISK" "$T/search.toml" search.workers=$w "output.dir=\"$T/w$w\"" > "$T/w$w.out" 2>&1 ||
        fail "search with $w workers: $(tail -3 "$T/w$w.out")"
done
if settled "$(study_dir "$T/w1.out")" > "$T/w1.csv" && settled "$(study_dir "$T/w3.out")" > "$T/w3.csv" &&
   [ "$(wc -l < "$T/w1.csv")" -eq 14 ] && cmp -s "$T/w1.csv" "$T/w3.csv"; then
    ok "1 and 3 workers: the same 14 trials (parameters, states, values, metrics)"
else
    fail "1 and 3 workers differ"; diff "$T/w1.csv" "$T/w3.csv" | head -5
fi
grep -q $'\tpruned\t' "$T/w1.csv" && ok "median pruning stopped some trials" || fail "no trial was pruned"
grep -q $'\tcomplete\t' "$T/w1.csv" || fail "no trial completed"

# kill -9 mid-study, resume, compare with the uninterrupted study
"$DEFRISK" "$T/hybrid.toml" search.workers=2 "output.dir=\"$T/full\"" > "$T/full.out" 2>&1 || fail "hybrid study: $(tail -3 "$T/full.out")"
"$DEFRISK" "$T/hybrid.toml" search.workers=2 "output.dir=\"$T/killed\"" > "$T/killed.out" 2>&1 &
pid=$!
for _ in $(seq 600); do
    j=$(ls "$T"/killed/*/journal.jsonl 2>/dev/null | head -1)
    [ -n "$j" ] && [ "$(grep -c '"op_code":6' "$j")" -ge 3 ] && grep -q '"op_code":7' <(tail -1 "$j") && break
    sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
kdir=$(study_dir "$T/killed.out")
printf '{"op_code":7,"worker_id":"torn' >> "$kdir/journal.jsonl" # a write cut short by the kill
"$DEFRISK" --resume "$kdir" > "$T/resume.out" 2>&1 || fail "resume: $(tail -3 "$T/resume.out")"
grep -q "was running when the study stopped" "$T/resume.out" && ok "the running trials were marked failed" ||
    fail "no running trial at the kill (the test's timing)"
grep -qi "torn\|cut off" "$T/resume.out" && ok "the torn last line was reported" || fail "torn line not reported"
if settled "$(study_dir "$T/full.out")" > "$T/full.csv" && settled "$kdir" > "$T/killed.csv" &&
   [ "$(wc -l < "$T/full.csv")" -eq 8 ] && cmp -s "$T/full.csv" "$T/killed.csv"; then
    ok "killed and resumed: the same study as the uninterrupted one"
else
    fail "the resumed study differs"; diff "$T/full.csv" "$T/killed.csv" | head -5
fi
grep -q ',running,' <("$DEFRISK" study export "$kdir") && fail "a trial stays running after the resume"

# a refused value fails its trial only
sed 's/^"train.batch_size".*/"train.batch_size" = { type = "categorical", choices = [64, 0] }/' "$T/search.toml" |
    sed '/^"train.weight_decay"/d; s/^trials = 14/trials = 8/' > "$T/refused.toml"
"$DEFRISK" "$T/refused.toml" "output.dir=\"$T/refused\"" > "$T/refused.out" 2>&1 || fail "refused: $(tail -3 "$T/refused.out")"
rdir=$(study_dir "$T/refused.out")
rexport=$("$DEFRISK" study export "$rdir")
if grep ',failed,' <<< "$rexport" | grep -q 'train.batch_size' && grep -q ',complete,' <<< "$rexport"; then
    ok "train.batch_size = 0 failed its trials with the reason; the others completed"
else
    fail "refused values"; "$DEFRISK" study trials "$rdir"
fi

# a sensitivity grid: 2 x 2 cells x 2 seeds
"$DEFRISK" "$T/grid.toml" "output.dir=\"$T/grid\"" > "$T/grid.out" 2>&1 || fail "grid: $(tail -3 "$T/grid.out")"
gdir=$(study_dir "$T/grid.out")
if [ "$(wc -l < "$gdir/sensitivity.csv")" -eq 5 ] && awk -F, 'NR > 1 && $3 != 2 { bad = 1 } END { exit bad }' "$gdir/sensitivity.csv" &&
   [ -s "$gdir/sensitivity.h5" ]; then
    ok "sensitivity table: 4 cells, 2 seeds each"
else
    fail "sensitivity table"; cat "$gdir/sensitivity.csv"
fi

# bad input: an error naming the key and where, no trial, no folder
bad() { # name, expected text, sed expression on search.toml
    sed "$3" "$T/search.toml" > "$T/bad.toml"
    if "$DEFRISK" "$T/bad.toml" "output.dir=\"$T/bad\"" > "$T/bad.out" 2>&1; then
        fail "$1: accepted"
    elif ! grep -q -- "$2" "$T/bad.out"; then
        fail "$1: the error does not say '$2':"; tail -2 "$T/bad.out"
    elif ls "$T"/bad/*/journal.jsonl > /dev/null 2>&1; then
        fail "$1: a study folder was left"
    else
        ok "$1: $(grep error: "$T/bad.out" | cut -c1-150)"
    fi
}
bad "unknown key" 'bad.toml:[0-9]*:[0-9]*: search key "train.lrr": .*unknown key train.lrr' 's/^"baselines.neural_lr"/"train.lrr"/'
bad "low > high" 'search key "baselines.logistic_epochs": low 6 > high 2' 's/low = 2, high = 6/low = 6, high = 2/'
bad "log touching 0" 'search key "baselines.neural_lr": a log range needs low > 0' 's/low = 1e-4, high = 1e-1/low = 0.0, high = 1e-1/'
bad "empty categorical" '"train.batch_size"' 's/choices = \[64, 256\]/choices = []/'
bad "search and sensitivity" '"train.batch_size" is both searched' '$a [sensitivity.grid]\n"train.batch_size" = [64, 128]'
w3dir=$(study_dir "$T/w3.out")
cp "$(study_dir "$T/w1.out")/journal.jsonl" "$w3dir/journal.jsonl" # the same file, another study
if "$DEFRISK" --resume "$w3dir" > "$T/other.out" 2>&1; then
    fail "a journal of another study was accepted"
else
    grep -q "another study" "$T/other.out" && ok "journal of another study: $(grep error: "$T/other.out" | cut -c1-150)" ||
        fail "another study: $(tail -1 "$T/other.out")"
fi

# 32 long categorical choices: a distribution of 3.7 kB in each journal line, whole
choices=$(for i in $(seq 0 31); do printf '"%s%s", ' "$(printf './%.0s' $(seq 1 $((30 + i))))" data/lending_club.csv; done)
{ cat "$T/base.toml"; printf '[search]\nmodel = "logistic"\ntrials = 2\nseed = 1\nthreads_per_trial = 1\n'
  printf '[search.space]\n"data.path" = { type = "categorical", choices = [%s] }\n' "${choices%, }"; } > "$T/long.toml"
if "$DEFRISK" "$T/long.toml" output.dir=\"$T/long.out\" > "$T/long.log" 2>&1 &&
    python3 - "$(study_dir "$T/long.log")/journal.jsonl" <<'PY'
import json, sys
n = [len(json.loads(v)["attributes"]["choices"]) for line in open(sys.argv[1])
     for v in json.loads(line).get("distributions", {}).values()]
sys.exit(0 if n == [32, 32] else f"distributions with {n} choices")
PY
then
    ok "32 long categorical choices: every journal line whole"
else
    fail "long categorical choices: $(tail -1 "$T/long.log")"
fi

# the Slurm batch script of a study (tests/slurm/run.sh submits it to a real Slurm)
if "$DEFRISK" sweep --slurm "$T/search.toml" "output.dir=\"$T/sweep\"" > "$T/sweep.out" 2>&1 &&
   grep -qx '#SBATCH --ntasks=5' "$T/sweep/search.sbatch" && bash -n "$T/sweep/search.sbatch" &&
   grep -q "^mpirun '.*defrisk' '$T/search.toml' 'output.dir=\"$T/sweep\"'$" "$T/sweep/search.sbatch"; then
    ok "sweep --slurm: an MPI job of 5 ranks (lag 3: 4 trials at once, and rank 0)"
else
    fail "sweep --slurm: $(cat "$T/sweep.out")"; cat "$T/sweep/search.sbatch"
fi
if PATH=/nonexistent "$DEFRISK" sweep --slurm --submit "$T/search.toml" "output.dir=\"$T/sweep\"" > "$T/nosbatch.out" 2>&1; then
    fail "sweep --submit without sbatch succeeded"
else
    grep -q "sbatch is not on the PATH: .*search.sbatch is written" "$T/nosbatch.out" &&
        ok "sweep --submit without sbatch: $(grep -o 'error:.*' "$T/nosbatch.out" | cut -c1-100)" ||
        fail "sweep --submit without sbatch: $(cat "$T/nosbatch.out")"
fi
"$DEFRISK" sweep --slurm "$T/base.toml" > "$T/nostudy.out" 2>&1 && fail "sweep of a single run accepted"
grep -q "holds no study" "$T/nostudy.out" || fail "sweep of a single run: $(cat "$T/nostudy.out")"

# a job array on one machine: the study made by sweep --array, two processes
# continuing it at once, as Slurm's tasks would; then one of them killed mid-way
"$DEFRISK" sweep --slurm --array 2 "$T/search.toml" "output.dir=\"$T/arr\"" > "$T/arr.out" 2>&1 ||
    fail "sweep --array: $(tail -3 "$T/arr.out")"
adir=$(study_dir "$T/arr.out")
grep -qx '#SBATCH --array=0-1' "$adir/array.sbatch" && grep -q -- "--resume '$adir' --workers 1$" "$adir/array.sbatch" ||
    fail "the array script: $(cat "$adir/array.sbatch")"
"$DEFRISK" --resume "$adir" --workers 1 > "$T/arr0.out" 2>&1 & a0=$!
"$DEFRISK" --resume "$adir" --workers 1 > "$T/arr1.out" 2>&1 & a1=$!
wait $a0 || fail "array task 0: $(tail -3 "$T/arr0.out")"
wait $a1 || fail "array task 1: $(tail -3 "$T/arr1.out")"
if settled "$adir" > "$T/arr.csv" && cmp -s "$T/w1.csv" "$T/arr.csv" && grep -Eq "finish(es|ed) the study" "$T/arr0.out" "$T/arr1.out" &&
   [ "$(grep -c '"op_code":4' "$adir/journal.jsonl")" -eq 14 ]; then
    ok "two processes on one journal: the same 14 trials as one process, none run twice"
else
    fail "two processes on one journal differ from one process"; diff "$T/w1.csv" "$T/arr.csv" | head -5
fi
"$DEFRISK" sweep --slurm --array 2 "$T/hybrid.toml" "output.dir=\"$T/arrk\"" > "$T/arrk.out" 2>&1 ||
    fail "sweep --array: $(tail -3 "$T/arrk.out")"
kdir=$(study_dir "$T/arrk.out")
"$DEFRISK" --resume "$kdir" --workers 1 > "$T/arrk0.out" 2>&1 & a0=$!
"$DEFRISK" --resume "$kdir" --workers 1 > "$T/arrk1.out" 2>&1 & a1=$!
for _ in $(seq 600); do
    [ "$(grep -c '"op_code":4' "$kdir/journal.jsonl")" -ge 3 ] && break
    sleep 0.05
done
kill -9 $a1
wait $a1 2>/dev/null
wait $a0 || fail "the array task left: $(tail -3 "$T/arrk0.out")"
if grep -q "was running when the study stopped" "$T/arrk0.out" && settled "$kdir" > "$T/arrk.csv" && cmp -s "$T/full.csv" "$T/arrk.csv"; then
    ok "one of two processes killed: the other ran its trial again and finished the same study"
else
    fail "a killed process of two: the study differs"; diff "$T/full.csv" "$T/arrk.csv" | head -5
fi

# the refit (about 10 s with 40 epochs) runs outside the study's loop: its heartbeat
# stays fresh, so a process joining meanwhile does not finish the study again
"$DEFRISK" "$T/search.toml" search.trials=4 search.refit=true train.epochs=40 "output.dir=\"$T/refit\"" > "$T/refit.out" 2>&1 &
job=$!
for _ in $(seq 1 600); do grep -q "^search.refit:" "$T/refit.out" && break; sleep 0.25; done
sleep 5
beat=$(ls "$(study_dir "$T/refit.out")"/workers/* 2> /dev/null | head -1)
age=$(( $(date +%s) - $(stat -c %Y "$beat" 2> /dev/null || echo 0) ))
grep -q "^refit run:" "$T/refit.out" && refitting=0 || refitting=1
wait $job || fail "the study with a refit: $(tail -3 "$T/refit.out")"
if [ $refitting = 1 ] && [ $age -le 2 ]; then
    ok "5 s into the refit the heartbeat is ${age} s old"
else
    fail "the heartbeat during the refit: ${age} s old, still refitting $refitting"
fi

# --- MPI ranks ---------------------------------------------------------------------
# Under ASan the ranks do not check for leaks: Open MPI 4 leaves its start-up
# allocations (about 120 KB, most in plugins it has unloaded, which LeakSanitizer
# cannot name, so no suppression matches) unfreed after MPI_Finalize, and every
# rank would exit 1. The same studies without mpirun above are leak-checked.
mpi_env=()
libs=$(ldd "$DEFRISK")
grep -q libasan <<< "$libs" && mpi_env=(-x "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
mpi() { OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 300 mpirun --oversubscribe "${mpi_env[@]}" "$@"; }
if ! grep -q libmpi <<< "$libs"; then
    if command -v mpirun > /dev/null; then
        mpi -np 2 "$DEFRISK" "$T/search.toml" "output.dir=\"$T/nompi\"" > "$T/nompi.out" 2>&1
        grep -q "built without MPI" "$T/nompi.out" && ok "a build without MPI refuses mpirun" ||
            fail "a build without MPI under mpirun: $(tail -2 "$T/nompi.out")"
    fi
    echo "note: $DEFRISK has no MPI: the MPI checks did not run"
elif ! command -v mpirun > /dev/null; then
    fail "$DEFRISK has MPI but mpirun is missing (scripts/bootstrap.sh installs openmpi-bin)"
else
    mpi -np 3 "$DEFRISK" "$T/search.toml" "output.dir=\"$T/mpi\"" > "$T/mpi.out" 2>&1 || fail "mpirun -np 3: $(tail -3 "$T/mpi.out")"
    if grep -q "2 MPI ranks" "$T/mpi.out" && settled "$(study_dir "$T/mpi.out")" > "$T/mpi.csv" && cmp -s "$T/w1.csv" "$T/mpi.csv"; then
        ok "mpirun -np 3: the same 14 trials as one process"
    else
        fail "mpirun -np 3 differs from one process"; diff "$T/w1.csv" "$T/mpi.csv" | head -5
    fi
    mpi -np 3 "$DEFRISK" "$T/grid.toml" "output.dir=\"$T/mgrid\"" > "$T/mgrid.out" 2>&1 || fail "grid under mpirun: $(tail -3 "$T/mgrid.out")"
    cmp -s "$gdir/sensitivity.csv" "$(study_dir "$T/mgrid.out")/sensitivity.csv" &&
        ok "mpirun -np 3: the same sensitivity table as one process" || fail "the grid under mpirun differs"

    # rank 2 killed with SIGKILL while trials run: the job ends; resumed under mpirun
    mpi -np 3 "$DEFRISK" "$T/hybrid.toml" "output.dir=\"$T/mkill\"" > "$T/mkill.out" 2>&1 &
    job=$!
    victim=""
    for _ in $(seq 600); do
        j=$(ls "$T"/mkill/*/journal.jsonl 2>/dev/null | head -1)
        if [ -n "$j" ] && [ "$(grep -c '"op_code":4' "$j")" -ge 3 ]; then
            # rank 2 itself: OMPI_COMM_WORLD_RANK=2 in its environment, not its trial
            victim=$(for e in $(grep -l 'OMPI_COMM_WORLD_RANK=2' /proc/[0-9]*/environ 2>/dev/null); do
                         p=${e#/proc/}; p=${p%/environ}
                         tr '\0' '\n' < /proc/$p/cmdline 2>/dev/null | sed -n 2p | grep -qx "$T/hybrid.toml" && echo $p
                     done | head -1)
            break
        fi
        sleep 0.05
    done
    [ -n "$victim" ] && kill -9 "$victim"
    wait $job && fail "mpirun went on after rank 2 was killed"
    mdir=$(study_dir "$T/mkill.out")
    mpi -np 3 "$DEFRISK" --resume "$mdir" > "$T/mresume.out" 2>&1 || fail "resume under mpirun: $(tail -3 "$T/mresume.out")"
    if [ -n "$victim" ] && grep -q "was running when the study stopped" "$T/mresume.out" &&
       settled "$mdir" > "$T/mkill.csv" && cmp -s "$T/full.csv" "$T/mkill.csv"; then
        ok "rank 2 killed, resumed under mpirun: the same study as the uninterrupted one"
    else
        fail "the study with a killed rank (pid '${victim}') differs after resuming"; diff "$T/full.csv" "$T/mkill.csv" | head -5
    fi

    mpi -np 1 "$DEFRISK" "$T/grid.toml" "output.dir=\"$T/m1\"" > "$T/m1.out" 2>&1 &&
        grep -q "MPI with one rank" "$T/m1.out" && ok "mpirun -np 1: a warning, the study runs" || fail "mpirun -np 1: $(tail -2 "$T/m1.out")"
    sed 's/^trials = 14/trials = 2/' "$T/search.toml" > "$T/two.toml"
    mpi -np 4 "$DEFRISK" "$T/two.toml" "output.dir=\"$T/m4\"" > "$T/m4.out" 2>&1 &&
        grep -q "stay idle" "$T/m4.out" && ok "more ranks than trials: $(grep -o 'warning:.*' "$T/m4.out" | head -1)" ||
        fail "more ranks than trials: $(tail -2 "$T/m4.out")"
    if mpi -np 2 "$DEFRISK" "$T/base.toml" "output.dir=\"$T/msingle\"" > "$T/msingle.out" 2>&1; then
        fail "a single run under mpirun was accepted"
    else
        grep -q "single run: start it without mpirun" "$T/msingle.out" && ! ls "$T"/msingle/* > /dev/null 2>&1 &&
            ok "a single run under mpirun: refused, no run folder" || fail "a single run under mpirun: $(tail -2 "$T/msingle.out")"
    fi
fi

[ $fails -eq 0 ] && echo "all study checks passed" || echo "$fails study checks failed"
exit $((fails > 0))
