#!/usr/bin/env bash
# Reports and tracking with the real tools, in CI:
#   - a run killed with SIGKILL after two epochs, a torn record appended to its
#     event file, resumed: TensorBoard's reader shows each epoch once, equal to
#     metrics.jsonl, and every test metric (tensorboard_events.py);
#   - the quickstart with output.report = true, its event file read the same way;
#   - every notebook executed on a run (with explanations), a small study, a small
#     sensitivity grid and a folder that is not a run; any cell error fails;
#   - the run's report.html rendered by headless Chromium (Debian package): every
#     embedded figure decoded, and a screenshot.
#   tests/report/run.sh PATH/TO/defrisk
set -euo pipefail
DEFRISK=$1
cd "$(dirname "$0")/../.."
source scripts/python_env.sh
dr_python_env report
T=$(mktemp -d /tmp/defrisk_report.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT

# the run, killed after its second epoch and resumed
"$DEFRISK" exp/quickstart.toml train.epochs=6 train.early_stopping_patience=10 train.progress=false \
    features.select=false data.cache=false 'baselines.models=["hybrid", "logistic", "xgboost"]' \
    'ensemble.members=["hybrid", "logistic", "xgboost"]' ensemble.trials=10 baselines.logistic_epochs=5 \
    'explain.models=["hybrid", "xgboost"]' explain.rows=200 explain.lime_rows=1 \
    "output.dir=\"$T/runs\"" > "$T/run.out" 2>&1 &
pid=$!
run=""
for _ in $(seq 600); do
    run=$(ls -d "$T"/runs/quickstart-* 2>/dev/null | head -1 || true)
    [ -n "$run" ] && [ -f "$run/metrics.jsonl" ] && [ "$(wc -l < "$run/metrics.jsonl")" -ge 2 ] && break
    sleep 0.1
done
kill -9 "$pid" && echo "killed after epoch $(wc -l < "$run/metrics.jsonl")"
wait "$pid" || true
[ "$(wc -l < "$run/metrics.jsonl")" -lt 6 ] || { echo "FAIL: the run ended before it was killed"; exit 1; }
printf '\x30\x00\x00\x00\x00\x00\x00\x00\x11' >> "$run/events.out.tfevents.defrisk" # a torn record
"$DEFRISK" --resume "$run" > "$T/resume.out" 2>&1 || { tail -20 "$T/resume.out"; exit 1; }
"$DR_PYTHON" tests/report/tensorboard_events.py "$run"

# the quickstart as the README runs it, with its report at the end
"$DEFRISK" exp/quickstart.toml output.report=true train.progress=false "output.dir=\"$T/quickstart\"" \
    > "$T/quickstart.out" 2>&1 || { tail -20 "$T/quickstart.out"; exit 1; }
quick=$(ls -d "$T"/quickstart/quickstart-*)
grep -q "^report: $quick/report.html in" "$quick/log" && [ -s "$quick/report.html" ] ||
    { echo "FAIL: output.report = true made no report"; tail -5 "$quick/log"; exit 1; }
echo "ok: the quickstart's report ($(grep "^report: $quick/report.html in" "$quick/log" | sed 's/.* in //'))"
"$DR_PYTHON" tests/report/tensorboard_events.py "$quick"

# the notebooks, on every kind of folder
"$DEFRISK" "tests/report/study.toml" "output.dir=\"$T/study\"" > "$T/study.out" 2>&1 || { tail -20 "$T/study.out"; exit 1; }
"$DEFRISK" "tests/report/grid.toml" "output.dir=\"$T/grid\"" > "$T/grid.out" 2>&1 || { tail -20 "$T/grid.out"; exit 1; }
mkdir "$T/not_a_run"
for dir in "$run" "$T"/study/study-* "$T"/grid/grid-* "$T/not_a_run"; do
    ./run_experiment report "$dir" 2> "$T/report.err" || { cat "$T/report.err"; exit 1; }
    [ -s "$dir/report.html" ] || { echo "FAIL: no report.html in $dir"; exit 1; }
done
grep -q "is not a run folder" "$T/not_a_run/report.html" || { echo "FAIL: the report of a non-run does not say so"; exit 1; }
echo "ok: every notebook ran on a run, a study, a grid and a folder that is not a run"

# Chromium renders the run's report: every figure decoded
source scripts/bootstrap.sh
dr_install_missing chromium
sed 's|</body>|<script>addEventListener("load", () => { const i = [...document.images]; document.title = "figures " + i.length + " broken " + i.filter(x => !(x.complete \&\& x.naturalWidth > 0)).length; });</script></body>|' \
    "$run/report.html" > "$T/check.html"
chrome=(chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=20000)
"${chrome[@]}" --dump-dom "file://$T/check.html" 2>/dev/null | grep -o "<title>figures [0-9]* broken [0-9]*</title>" > "$T/title"
"${chrome[@]}" --window-size=1280,6000 --screenshot="$T/report.png" "file://$run/report.html" 2>/dev/null
figures=$(ls "$run"/figures/*.png | wc -l)
if grep -q "<title>figures $figures broken 0</title>" "$T/title" && [ -s "$T/report.png" ]; then
    echo "ok: Chromium decoded all $figures figures of report.html (screenshot $(stat -c %s "$T/report.png") bytes)"
else
    echo "FAIL: Chromium: $(cat "$T/title") for $figures figures"
    exit 1
fi
