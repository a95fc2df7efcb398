#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: builds the CUDA backend for
# this card (build-gpu/), records nvidia-smi, and runs the whole ctest suite
# with every test's output (the CUDA parity test first), with DR_REQUIRE_CUDA=1
# so that the parity test fails (instead of skipping) if the GPU cannot be used.
#
#   bench/gpu_check.sh              logs under bench/gpu_logs/
#   OUT=/some/dir bench/gpu_check.sh
#
# Logs (each starts with a header naming the card, the date and the commit):
#   $OUT/gpu_check.log      the summary: every step, its time and its result
#   $OUT/nvidia-smi.txt     nvidia-smi and nvidia-smi -q
#   $OUT/build.log          configure and build output
#   $OUT/ctest.log          ctest -V: the output of every test
#   $OUT/cuda_parity.log    the CUDA parity test's lines of it (every measurement)
#   $OUT/LastTest*.log      ctest's own records of the two runs
#   $OUT/sanitizer.log      compute-sanitizer memcheck of the parity test
# Exit status: 0 when every test passed on the GPU; 2 no usable GPU (before any
# build); 3 configure or build failed; 4 a test failed or timed out; 5 the CUDA
# parity test did not run on the GPU. Bounded to about 6 minutes: each step has
# a time limit (DR_GPU_CHECK_BUILD_S, DR_GPU_CHECK_TEST_S to change them).
# For testing this script: NVIDIA_SMI (the nvidia-smi to call), DR_GPU_BUILD (the
# build folder), DR_GPU_ARCH (CMAKE_CUDA_ARCHITECTURES instead of native).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/bench/gpu_logs}
BUILD=${DR_GPU_BUILD:-$ROOT/build-gpu}
NVSMI=${NVIDIA_SMI:-nvidia-smi}
BUILD_S=${DR_GPU_CHECK_BUILD_S:-150}
PARITY_S=${DR_GPU_CHECK_PARITY_S:-40}
TEST_S=${DR_GPU_CHECK_TEST_S:-110}
SAN_S=${DR_GPU_CHECK_SANITIZER_S:-50}
JOBS=$(nproc 2>/dev/null || echo 4)
START=$(date +%s)

mkdir -p "$OUT" || { echo "gpu_check: cannot create log folder $OUT" >&2; exit 1; }
SUMMARY=$OUT/gpu_check.log
: >"$SUMMARY"

log() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(($(date +%s) - START)); }
finish() {
    local code=$1 msg=$2
    log "RESULT: $msg (exit $code, $(elapsed) s)"
    exit "$code"
}

# --- header ------------------------------------------------------------------
COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo "unknown (not a git checkout)")
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    COMMIT="$COMMIT + uncommitted changes"
fi
CARD=$("$NVSMI" --query-gpu=index,name,memory.total,driver_version,compute_cap \
    --format=csv,noheader 2>/dev/null | paste -sd ';' -)
HEADER="defrisk gpu_check | date $(date -u +%Y-%m-%dT%H:%M:%SZ) | host $(hostname) | commit $COMMIT | card ${CARD:-none found}"
log "$HEADER"
for f in nvidia-smi.txt build.log ctest.log; do echo "$HEADER" >"$OUT/$f"; done

# --- 1. the GPU, before spending minutes on a build ----------------------------
log "== 1. nvidia-smi"
if ! command -v "$NVSMI" >/dev/null 2>&1; then
    log "FAIL: '$NVSMI' not found: this machine has no NVIDIA driver installed, so it cannot"
    log "      run the GPU check. Run bench/gpu_check.sh on a machine with an NVIDIA GPU."
    finish 2 "no usable GPU"
fi
if ! "$NVSMI" >>"$OUT/nvidia-smi.txt" 2>&1 || [ -z "$CARD" ]; then
    log "FAIL: nvidia-smi could not talk to a GPU:"
    tail -n 5 "$OUT/nvidia-smi.txt" | sed 's/^/      /' | tee -a "$SUMMARY"
    finish 2 "no usable GPU"
fi
"$NVSMI" -q >>"$OUT/nvidia-smi.txt" 2>&1
log "ok: $CARD"

# --- 2. configure and build for this card --------------------------------------
# Without -Werror: another compiler's new warning must not cost the GPU run (CI
# builds with -Werror); the warnings are counted in the summary instead.
log "== 2. configure and build ($BUILD, limit ${BUILD_S} s, -j$JOBS)"
# CMake >= 3.24 knows "native"; older ones get the card's compute capability.
ARCH=${DR_GPU_ARCH:-native}
CMAKE_VER=$(cmake --version 2>/dev/null | awk 'NR == 1 {print $3}')
if [ "$ARCH" = native ] && [ "$(printf '%s\n3.24\n' "$CMAKE_VER" | sort -V | head -n 1)" != "3.24" ]; then
    ARCH=$("$NVSMI" --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')
fi
t0=$(date +%s)
# shellcheck disable=SC2016 # the inner script takes its values as $1 .. $4
if ! timeout "$BUILD_S" bash -c '
        cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DDR_CUDA=ON -DDR_WERROR=OFF \
              -DCMAKE_CUDA_ARCHITECTURES="$3" &&
        cmake --build "$2" -j "$4"' _ "$ROOT" "$BUILD" "$ARCH" "$JOBS" >>"$OUT/build.log" 2>&1; then
    log "FAIL: configure or build failed or passed ${BUILD_S} s; the end of $OUT/build.log:"
    tail -n 25 "$OUT/build.log" | sed 's/^/      /' | tee -a "$SUMMARY"
    finish 3 "build failed"
fi
if ! grep -q "CUDA backend ON" "$OUT/build.log"; then
    log "FAIL: CMake did not enable the CUDA backend (nvcc not found?); see $OUT/build.log"
    finish 3 "build has no CUDA backend"
fi
log "ok: built for CUDA arch '$ARCH' in $(($(date +%s) - t0)) s;" \
    "$(grep -c -i "warning" "$OUT/build.log") lines with 'warning' in build.log"

# --- 3. the CUDA parity test first, then the rest of the suite ---------------------
# The parity test goes first and alone so its result exists even when the rest of
# the suite (some end-to-end tests take minutes) runs out of time.
log "== 3a. ctest: test_cuda_parity (limit ${PARITY_S} s)"
t0=$(date +%s)
DR_REQUIRE_CUDA=1 timeout "$PARITY_S" ctest --test-dir "$BUILD" -V -R '^test_cuda_parity$' \
    >>"$OUT/ctest.log" 2>&1
prc=$?
cp "$BUILD/Testing/Temporary/LastTest.log" "$OUT/LastTest_parity.log" 2>/dev/null
# ctest -V prefixes each line with the test's number: pull out the parity test's
NUM=$(grep -m 1 -E '^[0-9]+: Test command: .*test_cuda_parity' "$OUT/ctest.log" | cut -d: -f1)
{ echo "$HEADER"; [ -n "$NUM" ] && grep "^$NUM: " "$OUT/ctest.log"; } >"$OUT/cuda_parity.log"
log "exit $prc after $(($(date +%s) - t0)) s; every measurement: $OUT/cuda_parity.log"
# the device line, the failed checks and the first failure messages
grep -E "^$NUM: (device:|.*FAIL|.* [1-9][0-9]* (outside|mismatches))" "$OUT/cuda_parity.log" \
    2>/dev/null | head -n 12 | sed 's/^/      /' | tee -a "$SUMMARY"

log "== 3b. ctest: the rest of the suite, -j$JOBS (limit ${TEST_S} s)"
t0=$(date +%s)
SKIP=$(wc -l <"$OUT/ctest.log") # what 3a wrote; the greps below read only 3b's part
DR_REQUIRE_CUDA=1 timeout "$TEST_S" ctest --test-dir "$BUILD" -V -j "$JOBS" \
    -E '^test_cuda_parity$' >>"$OUT/ctest.log" 2>&1
rc=$?
cp "$BUILD/Testing/Temporary/LastTest.log" "$OUT/LastTest.log" 2>/dev/null
tail -n +"$((SKIP + 1))" "$OUT/ctest.log" >"$OUT/.ctest_rest"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Not Run|\(Failed\)|\(Timeout\)" \
    "$OUT/.ctest_rest" | sed 's/^/      /' | tee -a "$SUMMARY"
if [ "$rc" -eq 124 ]; then
    # started (a "Test command" line) but never reported
    # shellcheck disable=SC2013 # the words are test numbers
    for n in $(grep -oE '^[0-9]+: Test command: [^ ]+' "$OUT/.ctest_rest" | cut -d: -f1); do
        grep -qE "Test +#$n:" "$OUT/.ctest_rest" ||
            log "      unfinished: $(grep -m 1 -E "^$n: Test command: " "$OUT/.ctest_rest" | awk '{print $4}')"
    done
fi
rm -f "$OUT/.ctest_rest"
log "exit $rc after $(($(date +%s) - t0)) s"

VERDICT=0 WHY="all tests passed on ${CARD}"
if [ "$prc" -ne 0 ]; then
    VERDICT=4 WHY="the CUDA parity test failed (exit $prc; see $OUT/cuda_parity.log)"
elif ! grep -q "device: " "$OUT/cuda_parity.log" || grep -q "SKIPPED" "$OUT/cuda_parity.log"; then
    VERDICT=5 WHY="the CUDA parity test did not run on the GPU (see $OUT/cuda_parity.log)"
elif [ "$rc" -eq 124 ]; then
    VERDICT=7 WHY="the GPU tests passed, but the rest of the suite passed its ${TEST_S} s limit"
elif [ "$rc" -ne 0 ]; then
    VERDICT=4 WHY="some tests failed (see $OUT/ctest.log)"
fi

# --- 4. the parity test under compute-sanitizer (out-of-bounds, races) ------------
# Run whatever step 3 found: an out-of-bounds access is the likeliest cause of a
# parity failure in kernels that had never run before.
log "== 4. compute-sanitizer memcheck on test_cuda_parity (limit ${SAN_S} s)"
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -z "$SAN" ]; then
    log "skipped: compute-sanitizer is not installed"
else
    echo "$HEADER" >"$OUT/sanitizer.log"
    (cd "$ROOT" && DR_REQUIRE_CUDA=1 timeout "$SAN_S" "$SAN" --tool memcheck --error-exitcode 99 \
        "$BUILD/test_cuda_parity") >>"$OUT/sanitizer.log" 2>&1
    src=$?
    grep -E "ERROR SUMMARY|Invalid|out of bounds" "$OUT/sanitizer.log" | head -n 10 |
        sed 's/^/      /' | tee -a "$SUMMARY"
    if [ "$src" -eq 124 ]; then
        log "unfinished: memcheck passed its ${SAN_S} s limit (not counted as a failure)"
    elif [ "$src" -ne 0 ]; then
        log "FAIL: memcheck exit $src (see $OUT/sanitizer.log)"
        [ "$VERDICT" -eq 0 ] && VERDICT=6 WHY="compute-sanitizer found errors (see $OUT/sanitizer.log)"
    else
        log "ok: memcheck clean"
    fi
fi
finish "$VERDICT" "$WHY"
