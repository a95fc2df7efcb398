#!/usr/bin/env bash
# A study on a real Slurm: munge, slurmctld and slurmd for one node on this
# machine (Debian's slurm-wlm, started here as root, ports and state in a
# scratch folder), then
#   - sweep --slurm --submit: the search of tests/study_fixtures.sh as an MPI job
#     of 3 ranks gives the same trials as one process;
#   - the network's study as an MPI job, cancelled (scancel) while trials run,
#     continued by sweep --slurm --submit --resume, equals the uninterrupted one;
#   - the search as a job array of 2 tasks sharing the journal (sweep --array)
#     gives the same trials as one process.
#   tests/slurm/run.sh PATH/TO/defrisk
set -euo pipefail
DEFRISK=$(realpath "$1")
cd "$(dirname "$0")/../.."
source scripts/bootstrap.sh
dr_install_missing slurm-wlm munge
source tests/study_fixtures.sh
T=$(mktemp -d /tmp/defrisk_slurm.XXXXXX)
chmod 755 "$T"
cleanup() {
    for d in slurmd slurmctld munged; do
        [ -f "$T/$d.pid" ] && kill "$(cat "$T/$d.pid")" 2>/dev/null || true
    done
    sleep 1
    rm -rf "$T"
}
trap cleanup EXIT
study_fixtures "$T"
fail() { echo "FAIL: $*"; [ -f "$T/slurmctld.log" ] && tail -5 "$T/slurmctld.log" "$T/slurmd.log"; exit 1; }

# munge with a key of its own, on a socket of its own
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge.key"
munged --force --socket="$T/munge.sock" --key-file="$T/munge.key" --pid-file="$T/munged.pid" \
    --log-file="$T/munged.log" --seed-file="$T/munge.seed"
node=$(hostname -s)
port=$((20000 + RANDOM % 20000))
mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" <<CONF
ClusterName=defrisk
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge.sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node CPUs=8 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$T/slurm.conf OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
slurmctld -c
slurmd -c
for _ in $(seq 60); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
    sleep 0.5
done
[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] || fail "the Slurm node did not come up"
echo "slurm $(sinfo -V | cut -d' ' -f2): node $node idle"

# Submits with sweep: the submission on stderr, the job id on stdout. Not through
# tee /dev/stderr, which reopens stderr truncated where it is a log file (CI lost
# the head of its log so).
submit() {
    local out status=0
    out=$("$DEFRISK" sweep --slurm --submit "$@") || status=$?
    printf '%s\n' "$out" >&2
    sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<< "$out"
    return $status
}
wait_job() {
    for _ in $(seq 600); do
        [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    fail "job $1 still queued or running after 300 s"
}

# the search: one process, then a Slurm MPI job of 3 ranks
"$DEFRISK" "$T/search.toml" search.workers=1 "output.dir=\"$T/one\"" > "$T/one.out" 2>&1 || fail "$(tail -3 "$T/one.out")"
job=$(submit --ranks 3 "$T/search.toml" "output.dir=\"$T/job\"")
wait_job "$job"
log=$(ls "$T"/job/search-*.out)
grep -q "2 MPI ranks" "$log" || fail "job $job: $(tail -5 "$log")"
settled "$(study_dir "$T/one.out")" > "$T/one.csv"
settled "$(study_dir "$log")" > "$T/job.csv"
[ "$(wc -l < "$T/one.csv")" -eq 14 ] && cmp -s "$T/one.csv" "$T/job.csv" || fail "the Slurm job's study differs"
echo "ok: sweep --slurm --submit: job $job, 2 training ranks, the same 14 trials as one process"

# the network's study: cancelled mid-way, resumed in a second job
"$DEFRISK" "$T/hybrid.toml" search.workers=2 "output.dir=\"$T/full\"" > "$T/full.out" 2>&1 || fail "$(tail -3 "$T/full.out")"
job=$(submit --ranks 3 "$T/hybrid.toml" "output.dir=\"$T/cut\"")
for _ in $(seq 1200); do
    j=$(ls "$T"/cut/*/journal.jsonl 2>/dev/null | head -1 || true)
    [ -n "$j" ] && [ "$(grep -c '"op_code":4' "$j")" -ge 3 ] && break
    sleep 0.25
done
scancel "$job"
wait_job "$job"
dir=$(dirname "$(ls "$T"/cut/*/journal.jsonl)")
grep -q ',running,' <("$DEFRISK" study export "$dir") || fail "no trial was running when job $job was cancelled"
job2=$(submit --resume "$dir")
wait_job "$job2"
grep -q "was running when the study stopped" "$dir"/resume-*.out || fail "job $job2: $(tail -5 "$dir"/resume-*.out)"
settled "$(study_dir "$T/full.out")" > "$T/full.csv"
settled "$dir" > "$T/cut.csv"
[ "$(wc -l < "$T/full.csv")" -eq 8 ] && cmp -s "$T/full.csv" "$T/cut.csv" || fail "the resumed study differs"
echo "ok: job $job cancelled while trials ran, job $job2 resumed it: the same 8 trials as the uninterrupted study"

# the search as a job array of 2 tasks, each a process of the study
job=$(submit --array 2 "$T/search.toml" "output.dir=\"$T/array\"")
wait_job "$job"
dir=$(dirname "$(ls "$T"/array/*/array.sbatch)")
[ "$(ls "$dir"/array-*.out | wc -l)" -eq 2 ] || fail "job array $job: $(ls "$dir")"
settled "$dir" > "$T/array.csv"
cmp -s "$T/one.csv" "$T/array.csv" || { diff "$T/one.csv" "$T/array.csv" | head -5; fail "the job array's study differs"; }
[ "$(grep -c '"op_code":4' "$dir/journal.jsonl")" -eq 14 ] || fail "the job array ran some trials twice"
echo "ok: sweep --slurm --submit --array 2: job $job, 2 tasks on one journal, the same 14 trials as one process"
echo "all Slurm checks passed"
