#!/bin/sh
# Builds tests/fuzz_csv.c with libFuzzer + AddressSanitizer + UBSan and runs it
# for N seconds (default 30). Exits non-zero on a crash, leak or sanitizer report.
#   tests/fuzz_csv.sh [seconds]        (FUZZ_DIR overrides the work folder)
set -eu
secs=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${FUZZ_DIR:-/tmp/defrisk-fuzz-csv}
mkdir -p "$dir/corpus"
cc=${CC_FUZZ:-clang}
$cc -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -Wno-unknown-pragmas \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root" "$root/tests/fuzz_csv.c" "$root"/data/csv*.c "$root/data/dates.c" "$root/data/table.c" \
    "$root/core/status.c" -lm -o "$dir/fuzz_csv"
# Seeds: the bundled sample's head and a few hand-made edge cases.
head -c 4000 "$root/data/lending_club.csv" > "$dir/corpus/seed_lc.csv"
printf 'a,b,c\r\n1,"x ""y""",2020-01-02\r\n,NA,2020-02\n' > "$dir/corpus/seed_quotes.csv"
printf '\357\273\277id,v\n1,"multi\nline"\n2,3e5\n' > "$dir/corpus/seed_bom.csv"
printf 'y,d\nbad,2019-02-28\ngood,\n' > "$dir/corpus/seed_target.csv"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$dir/fuzz_csv" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/" "$dir/corpus"
echo "fuzz_csv: ${secs} s without a crash, leak or sanitizer report (corpus: $dir/corpus)"
