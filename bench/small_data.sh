#!/usr/bin/env bash
# Small data: a seeded subsample of ROWS loans of the bundled sample
# (bench/subsample.py; RATE=0.3 in the environment: 30 % of them defaults), then
# the paired comparison of bench/same_split.sh on it (SEEDS splits), or with
# COMPARE=bench/torch_network.sh the network's against PyTorch's.
#   [RATE=R] [COMPARE=SCRIPT] bench/small_data.sh [ROWS [SEEDS [OVERRIDE...]]]   (defaults 1000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000} SEEDS=${2:-5}
shift $(( $# < 2 ? $# : 2 ))
CSV=/tmp/defrisk_lending_club_$ROWS${RATE:+_$RATE}.csv
python3 bench/subsample.py "$ROWS" "$CSV" ${RATE:+"$RATE"}
echo "# $ROWS loans of data/lending_club.csv (seeded subsample${RATE:+, $RATE defaults}) in $CSV"
"${COMPARE:-bench/same_split.sh}" "$SEEDS" exp/quickstart.toml "data.path=\"$CSV\"" "$@"
