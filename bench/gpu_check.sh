#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: builds the CUDA backend for
# this card (build-gpu/), records nvidia-smi, runs the CUDA parity test, times
# one training epoch and one batch's inference of the paper's network against
# PyTorch (eager and torch.compile) on the GPU and every CUDA op against the
# card's measured ceilings (bench/gpu_ops_bench.c), then runs the rest of the
# ctest suite and the parity test under compute-sanitizer. Tests run with
# DR_REQUIRE_CUDA=1 so that the parity test fails (instead of skipping) if the
# GPU cannot be used.
#
#   bench/gpu_check.sh              logs under bench/gpu_logs/
#   OUT=/some/dir bench/gpu_check.sh
#
# On a lent GPU machine (no network, no apt; the build's Debian packages are not
# there): first, here, on Debian 12 with apt reachable,
#     scripts/gpu_deps.sh fetch          # .gpudeps/: the packages as .deb, ~26 MiB, git-ignored
# then one device call (about 6 minutes of the command, plus the machine's start):
#     run(command="DR_GPU_COMMIT=<sha> bench/gpu_check.sh", carry=[".gpudeps"], timeout_s=480)
# (the copy there may have no .git; DR_GPU_COMMIT puts the commit in the logs' header)
# The script unpacks .gpudeps/ into /opt/drdeps (never into /) when the packages are
# missing and builds against it (cmake -C /opt/drdeps/drdeps.cmake; the programs
# carry an RPATH to it, so nothing else's library path changes). The logs come
# back under $OUT.
#
# Steps, in the order of their importance, each with a time limit, all within
# DR_GPU_CHECK_TOTAL_S (360 s): the last steps get what is left.
#   1 nvidia-smi | 2 dependencies | 3 configure and build (150 s) | 4 CUDA parity
#   test (60 s) | 5 benchmarks: train_bench --device cuda (60 s), gpu_ops_bench
#   (each op's FLOP/s or GB/s against the card's SGEMM and copy ceilings, 30 s),
#   torch_ref.py on cuda eager (60 s) and --compile (120 s) | 6 the rest of the
#   suite (110 s) | 7 compute-sanitizer memcheck of the parity test (50 s)
# Knobs: DR_GPU_CHECK_{BUILD,PARITY,BENCH,OPS,TORCH,COMPILE,TEST,SANITIZER,TOTAL}_S;
# DR_GPU_BENCH_ROWS (51200 = 200 batches of 256), DR_GPU_BENCH_REPEATS (3).
#
# Files under $OUT (at most 8: the device returns no more):
#   gpu_check.log        the summary: every step, its time and result, the benchmark line,
#                        gpu_ops_bench's table
#   cuda_parity.log      the CUDA parity test's lines (every measurement)
#   bench_defrisk.log    train_bench --device cuda
#   bench_torch_eager.log, bench_torch_compile.log   torch_ref.py --device cuda [--compile]
#   ctest.log            ctest -V: the output of every test
#   build.log            dependencies, configure and build output
#   more_logs.tar.gz     nvidia-smi.txt, gpu_ops_bench.log (with its OPS json lines), ctest's
#                        LastTest*.log, sanitizer.log, CMakeCache.txt
# Each log starts with a header naming the card, the date and the commit.
# Exit status: 0 when every test passed on the GPU and train_bench ran; 2 no usable
# GPU (before any build); 3 dependencies, configure or build failed; 4 a test failed
# or timed out; 5 the CUDA parity test did not run on the GPU; 6 compute-sanitizer
# found errors; 7 the GPU tests passed but the rest of the suite ran out of time;
# 8 the tests passed but train_bench --device cuda failed. The failures of
# gpu_ops_bench and of PyTorch (torch.compile included) are reported in the
# summary, never in the exit status.
# For testing this script: NVIDIA_SMI (the nvidia-smi to call), DR_GPU_BUILD (the
# build folder), DR_GPU_ARCH (CMAKE_CUDA_ARCHITECTURES instead of native),
# DR_GPU_DEPS (auto: the system's packages if installed, else .gpudeps/; prefix;
# system), DR_GPU_DEPS_PREFIX (/opt/drdeps), DR_GPU_PYTHON (python3), DR_GPU_JOBS (nproc),
# DR_GPU_COMMIT (the commit for the header where there is no .git).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/bench/gpu_logs}
BUILD=${DR_GPU_BUILD:-$ROOT/build-gpu}
NVSMI=${NVIDIA_SMI:-nvidia-smi}
PYTHON=${DR_GPU_PYTHON:-python3}
TOTAL_S=${DR_GPU_CHECK_TOTAL_S:-360}
BUILD_S=${DR_GPU_CHECK_BUILD_S:-150}
PARITY_S=${DR_GPU_CHECK_PARITY_S:-60}
BENCH_S=${DR_GPU_CHECK_BENCH_S:-60}
OPS_S=${DR_GPU_CHECK_OPS_S:-30}
TORCH_S=${DR_GPU_CHECK_TORCH_S:-60}
COMPILE_S=${DR_GPU_CHECK_COMPILE_S:-120}
TEST_S=${DR_GPU_CHECK_TEST_S:-110}
SAN_S=${DR_GPU_CHECK_SANITIZER_S:-50}
ROWS=${DR_GPU_BENCH_ROWS:-51200}
REPEATS=${DR_GPU_BENCH_REPEATS:-3}
DEPS_MODE=${DR_GPU_DEPS:-auto}
DEPS_DIR=$ROOT/.gpudeps
JOBS=${DR_GPU_JOBS:-$(nproc 2>/dev/null || echo 4)}
START=$(date +%s)
# The paper's shapes, as bench/train_compare.sh: batch 256, four groups of 20
# features, a 12 x 2 history; filters 64/128/256, LSTM 128, FC 256/64 (built in).
# shellcheck disable=SC2054 # the commas are in one argument
SHAPE=(--rows "$ROWS" --repeats "$REPEATS" --groups 20,20,20,20 --seq-len 12 --seq-ch 2 --batch 256)

mkdir -p "$OUT" || { echo "gpu_check: cannot create log folder $OUT" >&2; exit 1; }
# Logs beyond the 8 files go to $MORE and into one archive at the end.
MORE=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || exit 1
SUMMARY=$OUT/gpu_check.log
: >"$SUMMARY"

log() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(($(date +%s) - START)); }
indent() { sed 's/^/      /' | tee -a "$SUMMARY"; }
# shellcheck disable=SC2317 # called by the trap
pack() {
    [ -d "$MORE" ] || return 0
    cp "$BUILD/CMakeCache.txt" "$MORE/" 2>/dev/null
    if [ -n "$(ls -A "$MORE")" ]; then
        tar -czf "$OUT/more_logs.tar.gz" -C "$MORE" . 2>/dev/null
    fi
    rm -rf "$MORE"
}
trap pack EXIT
finish() {
    local code=$1 msg=$2
    log "RESULT: $msg (exit $code, $(elapsed) s)"
    exit "$code"
}
# A step's limit: its own, or what is left of TOTAL_S (less a margin for the rest
# of the script), whichever is smaller; prints 0 when fewer than 10 s are left.
limit() {
    local own=$1 left=$((TOTAL_S - $(elapsed) - 5))
    if [ "$left" -lt 10 ]; then echo 0; elif [ "$left" -lt "$own" ]; then echo "$left"; else echo "$own"; fi
}

# --- header ------------------------------------------------------------------
# The device's copy of the tree may have no .git: DR_GPU_COMMIT names the commit then.
COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo "${DR_GPU_COMMIT:-unknown (not a git checkout)}")
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    COMMIT="$COMMIT + uncommitted changes"
fi
CARD=$("$NVSMI" --query-gpu=index,name,memory.total,driver_version,compute_cap \
    --format=csv,noheader 2>/dev/null | paste -sd ';' -)
HEADER="defrisk gpu_check | date $(date -u +%Y-%m-%dT%H:%M:%SZ) | host $(hostname) | commit $COMMIT | card ${CARD:-none found}"
log "$HEADER"
for f in build.log ctest.log; do echo "$HEADER" >"$OUT/$f"; done
for f in bench_defrisk.log bench_torch_eager.log bench_torch_compile.log; do echo "# $HEADER" >"$OUT/$f"; done
echo "$HEADER" >"$MORE/nvidia-smi.txt"

# --- 1. the GPU, before spending minutes on a build ----------------------------
log "== 1. nvidia-smi"
if ! command -v "$NVSMI" >/dev/null 2>&1; then
    log "FAIL: '$NVSMI' not found: this machine has no NVIDIA driver installed, so it cannot"
    log "      run the GPU check. Run bench/gpu_check.sh on a machine with an NVIDIA GPU."
    finish 2 "no usable GPU"
fi
if ! "$NVSMI" >>"$MORE/nvidia-smi.txt" 2>&1 || [ -z "$CARD" ]; then
    log "FAIL: nvidia-smi could not talk to a GPU:"
    tail -n 5 "$MORE/nvidia-smi.txt" | indent
    finish 2 "no usable GPU"
fi
"$NVSMI" -q >>"$MORE/nvidia-smi.txt" 2>&1
log "ok: $CARD"

# --- 2. the build's libraries: the system's, or .gpudeps/ unpacked ---------------
log "== 2. dependencies (DR_GPU_DEPS=$DEPS_MODE)"
CMAKE_DEPS=()
have_system_deps() {
    local p
    command -v dpkg-query >/dev/null 2>&1 || return 1
    for p in libopenblas-dev libhdf5-dev libcjson-dev libcmocka-dev libxgboost-dev libtomlplusplus-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
    done
    command -v pkg-config >/dev/null 2>&1
}
if [ "$DEPS_MODE" = auto ]; then
    if have_system_deps; then DEPS_MODE=system; else DEPS_MODE=prefix; fi
fi
if [ "$DEPS_MODE" = prefix ]; then
    if [ ! -f "$DEPS_DIR/MANIFEST" ]; then
        log "FAIL: the build's Debian packages are not installed and $DEPS_DIR is missing:"
        log "      run scripts/gpu_deps.sh on Debian 12, and carry .gpudeps to this machine."
        finish 3 "dependencies missing"
    fi
    if [ -n "${DR_GPU_DEPS_PREFIX:-}" ]; then
        PREFIX=$DR_GPU_DEPS_PREFIX
    elif mkdir -p /opt/drdeps 2>/dev/null && [ -w /opt/drdeps ]; then
        PREFIX=/opt/drdeps
    else
        PREFIX=$BUILD-deps
    fi
    t0=$(date +%s)
    if cmp -s "$DEPS_DIR/MANIFEST" "$PREFIX/MANIFEST" && [ -f "$PREFIX/drdeps.cmake" ]; then
        log "ok: $PREFIX already holds $DEPS_DIR's packages"
    elif "$ROOT/scripts/gpu_deps.sh" unpack "$DEPS_DIR" "$PREFIX" >>"$OUT/build.log" 2>&1; then
        cp "$DEPS_DIR/MANIFEST" "$PREFIX/MANIFEST"
        log "ok: $(grep -vc '^#' "$DEPS_DIR/MANIFEST") packages of $DEPS_DIR unpacked into $PREFIX in" \
            "$(($(date +%s) - t0)) s"
    else
        log "FAIL: could not unpack $DEPS_DIR into $PREFIX; the end of $OUT/build.log:"
        tail -n 10 "$OUT/build.log" | indent
        finish 3 "dependencies could not be unpacked"
    fi
    CMAKE_DEPS=(-C "$PREFIX/drdeps.cmake")
elif [ "$DEPS_MODE" = system ]; then
    log "ok: the system's packages"
else
    log "FAIL: DR_GPU_DEPS must be auto, prefix or system, not '$DEPS_MODE'"
    finish 3 "bad DR_GPU_DEPS"
fi

# --- 3. configure and build for this card --------------------------------------
# Without -Werror: another compiler's new warning must not cost the GPU run (CI
# builds with -Werror); the warnings are counted in the summary instead.
LIM=$(limit "$BUILD_S")
log "== 3. configure and build ($BUILD, limit ${LIM} s, -j$JOBS)"
# CMake >= 3.24 knows "native"; older ones get the card's compute capability.
ARCH=${DR_GPU_ARCH:-native}
CMAKE_VER=$(cmake --version 2>/dev/null | awk 'NR == 1 {print $3}')
if [ "$ARCH" = native ] && [ "$(printf '%s\n3.24\n' "$CMAKE_VER" | sort -V | head -n 1)" != "3.24" ]; then
    ARCH=$("$NVSMI" --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')
fi
t0=$(date +%s)
# shellcheck disable=SC2016 # the inner script takes its values as $1 .. $4 and "$@"
if ! timeout -k 5 "$LIM" bash -c '
        src=$1 build=$2 arch=$3 jobs=$4; shift 4
        cmake -S "$src" -B "$build" "$@" -DCMAKE_BUILD_TYPE=Release -DDR_CUDA=ON -DDR_WERROR=OFF \
              -DCMAKE_CUDA_ARCHITECTURES="$arch" &&
        cmake --build "$build" -j "$jobs"' _ "$ROOT" "$BUILD" "$ARCH" "$JOBS" "${CMAKE_DEPS[@]}" \
        >>"$OUT/build.log" 2>&1; then
    log "FAIL: configure or build failed or passed ${LIM} s; the end of $OUT/build.log:"
    tail -n 25 "$OUT/build.log" | indent
    finish 3 "build failed"
fi
if ! grep -q "CUDA backend ON" "$OUT/build.log"; then
    log "FAIL: CMake did not enable the CUDA backend (nvcc not found?); see $OUT/build.log"
    finish 3 "build has no CUDA backend"
fi
log "ok: built for CUDA arch '$ARCH' in $(($(date +%s) - t0)) s;" \
    "$(grep -c -i "warning" "$OUT/build.log") lines with 'warning' in build.log"
# cuDNN is optional (cuda.conv1d = "cudnn"): say whether this build has it
grep -m 1 -o "defrisk: cuDNN .*" "$OUT/build.log" | indent
if [ ${#CMAKE_DEPS[@]} -gt 0 ]; then
    # every library of a test should come from the prefix, the C/C++ runtime or CUDA
    OUTSIDE=$(ldd "$BUILD/test_cuda_parity" 2>/dev/null | grep -v "$PREFIX" |
        grep -vE 'linux-vdso|ld-linux|lib(c|m|dl|rt|pthread|resolv|gcc_s|stdc\+\+|gomp)\.so|libcu|libnv' |
        awk '{print $1 " => " $3}' | paste -sd ' ' -)
    [ -n "$OUTSIDE" ] && log "note: test_cuda_parity loads from outside $PREFIX: $OUTSIDE"
fi

# --- 4. the CUDA parity test, alone and first ------------------------------------
# Its result exists even when the rest of the suite (some end-to-end tests take
# minutes) runs out of time.
LIM=$(limit "$PARITY_S")
log "== 4. ctest: test_cuda_parity (limit ${LIM} s)"
t0=$(date +%s)
DR_REQUIRE_CUDA=1 timeout -k 5 "$LIM" ctest --test-dir "$BUILD" -V -R '^test_cuda_parity$' \
    >>"$OUT/ctest.log" 2>&1
prc=$?
cp "$BUILD/Testing/Temporary/LastTest.log" "$MORE/LastTest_parity.log" 2>/dev/null
# ctest -V prefixes each line with the test's number: pull out the parity test's
NUM=$(grep -m 1 -E '^[0-9]+: Test command: .*test_cuda_parity' "$OUT/ctest.log" | cut -d: -f1)
{ echo "$HEADER"; [ -n "$NUM" ] && grep "^$NUM: " "$OUT/ctest.log"; } >"$OUT/cuda_parity.log"
log "exit $prc after $(($(date +%s) - t0)) s; every measurement: $OUT/cuda_parity.log"
# the device line, the failed checks and the first failure messages
grep -E "^$NUM: (device:|.*FAIL|.* [1-9][0-9]* (outside|mismatches))" "$OUT/cuda_parity.log" \
    2>/dev/null | head -n 12 | indent
grep -q "this build has no cuDNN" "$OUT/cuda_parity.log" &&
    log "note: the cuDNN tests were skipped: this build has no cuDNN (see the cuDNN line of step 3)"

# --- 5. benchmarks: one training epoch and one batch's inference ---------------------
# samples/s and inference ms from a program's last summary line ("impl" or "peer")
field() {
    grep -E '"(impl|peer)": ' "$1" 2>/dev/null | tail -n 1 |
        sed -nE "s/.*\"$2\": ([0-9.]+).*/\1/p"
}
bench_step() { # name limit log command...
    local name=$1 own=$2 file=$3 lim rc t0
    shift 3
    lim=$(limit "$own")
    log "-- $name (limit ${lim} s): $file"
    if [ "$lim" -eq 0 ]; then
        log "skipped: out of time"
        return 124
    fi
    t0=$(date +%s)
    echo "# $*" >>"$file"
    (cd "$ROOT" && PYTHONUNBUFFERED=1 timeout -k 5 "$lim" "$@") >>"$file" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        log "ok after $(($(date +%s) - t0)) s: $(field "$file" samples_per_s) samples/s," \
            "one batch's inference $(field "$file" infer_ms) ms"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        log "FAIL: passed its ${lim} s limit; the end of the log:"
        tail -n 4 "$file" | cut -c 1-300 | indent
    else
        log "FAIL: exit $rc after $(($(date +%s) - t0)) s; the end of the log:"
        grep -E '"error"' "$file" | cut -c 1-300 | indent
        grep -vE '^\{|^#' "$file" | tail -n 4 | cut -c 1-300 | indent
    fi
    return "$rc"
}
log "== 5. benchmarks: $ROWS rows x $REPEATS epochs, batch 256, the paper's shapes (groups 20,20,20,20, history 12 x 2)"
bench_step "defrisk train_bench --device cuda" "$BENCH_S" "$OUT/bench_defrisk.log" \
    "$BUILD/train_bench" "${SHAPE[@]}" --device cuda --infer-repeats 50
brc=$?
# Every CUDA op of the network at batch 256, forward and backward, against the
# card's SGEMM and copy ceilings measured in the same run: the whole log (with
# one OPS json line per op) into more_logs.tar.gz, the table into this summary.
OPS_LOG=$MORE/gpu_ops_bench.log
{ echo "# $HEADER"; echo "# $BUILD/gpu_ops_bench"; } >"$OPS_LOG"
LIM=$(limit "$OPS_S")
log "-- defrisk gpu_ops_bench, every op against the card's ceilings (limit ${LIM} s):" \
    "gpu_ops_bench.log in $OUT/more_logs.tar.gz"
if [ "$LIM" -eq 0 ]; then
    log "skipped: out of time"
else
    t0=$(date +%s)
    (cd "$ROOT" && timeout -k 5 "$LIM" "$BUILD/gpu_ops_bench") >>"$OPS_LOG" 2>&1
    orc=$?
    if [ "$orc" -eq 0 ]; then
        log "ok after $(($(date +%s) - t0)) s:"
    elif [ "$orc" -eq 124 ] || [ "$orc" -eq 137 ]; then
        log "FAIL: passed its ${LIM} s limit (not in the exit status); what it printed:"
    else
        log "FAIL: exit $orc after $(($(date +%s) - t0)) s (not in the exit status); what it printed:"
    fi
    grep -v -e '^OPS ' -e '^# ' "$OPS_LOG" | indent
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    log "-- PyTorch: skipped, '$PYTHON' not found"
else
    bench_step "PyTorch eager, cuda" "$TORCH_S" "$OUT/bench_torch_eager.log" \
        "$PYTHON" bench/torch_ref.py "${SHAPE[@]}" --device cuda --infer-repeats 50
    bench_step "PyTorch torch.compile, cuda" "$COMPILE_S" "$OUT/bench_torch_compile.log" \
        "$PYTHON" bench/torch_ref.py "${SHAPE[@]}" --device cuda --compile --infer-repeats 50
fi
# One line: samples/s of each, the ratios, and one batch's inference in ms.
D_SPS=$(field "$OUT/bench_defrisk.log" samples_per_s) D_INF=$(field "$OUT/bench_defrisk.log" infer_ms)
E_SPS=$(field "$OUT/bench_torch_eager.log" samples_per_s) E_INF=$(field "$OUT/bench_torch_eager.log" infer_ms)
C_SPS=$(field "$OUT/bench_torch_compile.log" samples_per_s) C_INF=$(field "$OUT/bench_torch_compile.log" infer_ms)
log "$(awk -v d="$D_SPS" -v e="$E_SPS" -v c="$C_SPS" -v di="$D_INF" -v ei="$E_INF" -v ci="$C_INF" '
    function v(x) { return x == "" ? "n/a" : x }
    function r(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "n/a" : sprintf("%.2f", a / b) }
    BEGIN {
        f = e; fn = "eager"
        if (c != "" && (f == "" || c + 0 > f + 0)) { f = c; fn = "compile" }
        fi = ei; fin = "eager"
        if (ci != "" && (fi == "" || ci + 0 < fi + 0)) { fi = ci; fin = "compile" }
        printf "BENCH samples/s (above 1: defrisk faster): defrisk %s, torch eager %s, torch compile %s; defrisk/eager %s, defrisk/fastest(%s) %s", v(d), v(e), v(c), r(d, e), fn, r(d, f)
        printf " | one batch inference ms: defrisk %s, torch eager %s, torch compile %s; defrisk/eager %s (target <= 0.5), defrisk/fastest(%s) %s", v(di), v(ei), v(ci), r(di, ei), fin, r(di, fi)
    }')"

# --- 6. the rest of the suite ------------------------------------------------------
LIM=$(limit "$TEST_S")
log "== 6. ctest: the rest of the suite, -j$JOBS (limit ${LIM} s)"
t0=$(date +%s)
SKIP=$(wc -l <"$OUT/ctest.log") # what step 4 wrote; the greps below read only this step's part
if [ "$LIM" -eq 0 ]; then
    log "skipped: out of time"
    rc=124
else
    DR_REQUIRE_CUDA=1 timeout -k 5 "$LIM" ctest --test-dir "$BUILD" -V -j "$JOBS" \
        -E '^test_cuda_parity$' >>"$OUT/ctest.log" 2>&1
    rc=$?
fi
cp "$BUILD/Testing/Temporary/LastTest.log" "$MORE/LastTest.log" 2>/dev/null
tail -n +"$((SKIP + 1))" "$OUT/ctest.log" >"$MORE/ctest_rest"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Not Run|\(Failed\)|\(Timeout\)" \
    "$MORE/ctest_rest" | indent
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    rc=124
    # started (a "Test command" line) but never reported
    # shellcheck disable=SC2013 # the words are test numbers
    for n in $(grep -oE '^[0-9]+: Test command: [^ ]+' "$MORE/ctest_rest" | cut -d: -f1); do
        grep -qE "Test +#$n:" "$MORE/ctest_rest" ||
            log "      unfinished: $(grep -m 1 -E "^$n: Test command: " "$MORE/ctest_rest" | awk '{print $4}')"
    done
fi
rm -f "$MORE/ctest_rest"
log "exit $rc after $(($(date +%s) - t0)) s"

VERDICT=0 WHY="all tests passed on ${CARD}"
if [ "$prc" -ne 0 ]; then
    VERDICT=4 WHY="the CUDA parity test failed (exit $prc; see $OUT/cuda_parity.log)"
elif ! grep -q "device: " "$OUT/cuda_parity.log" || grep -q "SKIPPED: no usable CUDA device" "$OUT/cuda_parity.log"; then
    VERDICT=5 WHY="the CUDA parity test did not run on the GPU (see $OUT/cuda_parity.log)"
elif [ "$rc" -eq 124 ]; then
    VERDICT=7 WHY="the GPU tests passed, but the rest of the suite passed its ${LIM} s limit"
elif [ "$rc" -ne 0 ]; then
    VERDICT=4 WHY="some tests failed (see $OUT/ctest.log)"
elif [ "$brc" -ne 0 ]; then
    VERDICT=8 WHY="the tests passed, but train_bench --device cuda failed or ran out of time (see $OUT/bench_defrisk.log)"
fi

# --- 7. the parity test under compute-sanitizer (out-of-bounds, races) ------------
# Run whatever step 4 found: an out-of-bounds access is the likeliest cause of a
# parity failure in kernels that had never run before.
LIM=$(limit "$SAN_S")
log "== 7. compute-sanitizer memcheck on test_cuda_parity (limit ${LIM} s)"
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -z "$SAN" ]; then
    log "skipped: compute-sanitizer is not installed"
elif [ "$LIM" -eq 0 ]; then
    log "skipped: out of time"
else
    echo "$HEADER" >"$MORE/sanitizer.log"
    (cd "$ROOT" && DR_REQUIRE_CUDA=1 timeout -k 5 "$LIM" "$SAN" --tool memcheck --error-exitcode 99 \
        "$BUILD/test_cuda_parity") >>"$MORE/sanitizer.log" 2>&1
    src=$?
    grep -E "ERROR SUMMARY|Invalid|out of bounds" "$MORE/sanitizer.log" | head -n 10 | indent
    if [ "$src" -eq 124 ] || [ "$src" -eq 137 ]; then
        log "unfinished: memcheck passed its ${LIM} s limit (not counted as a failure)"
    elif [ "$src" -ne 0 ]; then
        log "FAIL: memcheck exit $src (see sanitizer.log in $OUT/more_logs.tar.gz)"
        [ "$VERDICT" -eq 0 ] && VERDICT=6 WHY="compute-sanitizer found errors (see sanitizer.log in more_logs.tar.gz)"
    else
        log "ok: memcheck clean"
    fi
fi
finish "$VERDICT" "$WHY"
