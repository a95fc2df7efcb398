#!/usr/bin/env bash
# Small data: a seeded random subsample of ROWS loans of the bundled sample, then
# the paired comparison of bench/same_split.sh on it (SEEDS splits).
#   bench/small_data.sh [ROWS [SEEDS [OVERRIDE...]]]      (defaults 1000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000} SEEDS=${2:-5}
shift $(( $# < 2 ? $# : 2 ))
CSV=/tmp/defrisk_lending_club_$ROWS.csv
python3 - "$ROWS" "$CSV" <<'EOF'
import random, sys
rows, out = int(sys.argv[1]), sys.argv[2]
lines = open("data/lending_club.csv").read().splitlines(keepends=True)
body = lines[1:]
random.Random(20261207).shuffle(body)
open(out, "w").writelines([lines[0]] + sorted(body[:rows], key=lines.index))
EOF
echo "# $ROWS loans of data/lending_club.csv (seeded subsample) in $CSV"
bench/same_split.sh "$SEEDS" exp/quickstart.toml "data.path=\"$CSV\"" "$@"
