# The studies that tests/study_test.sh and tests/slurm/run.sh run, and how they
# read one back. study_fixtures DIR writes into DIR:
#   base.toml    a small network and the logistic baseline on the bundled sample
#   search.toml  14 trials of the logistic baseline, median pruning, lag 3
#   hybrid.toml  8 trials of the network (seconds each: long enough to be killed)
#   grid.toml    a sensitivity grid of 2 x 2 cells x 2 seeds
# Sourced from the repository root, with DEFRISK set.

study_dir() { sed -n 's/^running study \([^:]*\):.*/\1/p' "$1" | head -1; }

# One line per slot: the trial that settled it (the last of the slot), without
# the trial number and folder, which a resumed study numbers on, and the reasons
# of the interrupted trials. The CSV is split with its quotes (a list choice such
# as "[32, 64, 128]" holds commas), fields joined by tabs.
settled() {
    "$DEFRISK" study export "$1" | awk '
        function split_csv(s, f,   n, i, c, q, cur) {
            n = 0; cur = ""; q = 0
            for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (q && c == "\"" && substr(s, i + 1, 1) == "\"") { cur = cur c; i++ }
                else if (c == "\"") q = !q
                else if (c == "," && !q) { f[++n] = cur; cur = "" }
                else cur = cur c
            }
            f[++n] = cur
            return n
        }
        { n = split_csv($0, f) }
        NR == 1 { for (i = 1; i <= n; i++) skip[i] = f[i] == "trial_dir" || f[i] == "fail_reason"; next }
        { line = ""; for (i = 2; i <= n; i++) if (!skip[i]) line = line "\t" f[i]; last[f[2]] = line }
        END { for (s in last) print s last[s] }' | sort -n
}

study_fixtures() {
    local T=$1
    cat > "$T/base.toml" <<'EOF'
[data]
source = "csv"
path = "data/lending_club.csv"
target = "Class"
positive = "bad"
split = [0.70, 0.15]

[features]
select = false

[model]
filters = [4, 4, 4]
lstm_units = 4
attention_dim = 4
fc = [8]

[train]
epochs = 4
progress = false

[baselines]
logistic_epochs = 6
EOF

    # the search over the logistic baseline: fast trials, median pruning
    { cat "$T/base.toml"; cat <<'EOF'
[search]
model = "logistic"
trials = 14
lag = 3
seed = 3
startup_trials = 4
threads_per_trial = 1
pruner = "median"
pruner_startup_trials = 2

[search.space]
"baselines.neural_lr" = { type = "float", low = 1e-4, high = 1e-1, log = true }
"baselines.logistic_epochs" = { type = "int", low = 2, high = 6 }
"train.batch_size" = { type = "categorical", choices = [64, 256] }
"train.weight_decay" = { type = "float", low = 0.0, high = 0.01, when = "train.batch_size", equals = 64 }
EOF
    } > "$T/search.toml"
    { cat "$T/search.toml" | sed 's/^model = "logistic"/model = "hybrid"/; s/^trials = 14/trials = 8/'; } > "$T/hybrid.toml"
    sed -i 's/^"baselines.logistic_epochs".*/"model.dropout" = { type = "float", low = 0.3, high = 0.7 }/' "$T/hybrid.toml"

    { cat "$T/base.toml"; cat <<'EOF'
[sensitivity]
model = "logistic"
seeds = [1, 2]
workers = 2

[sensitivity.grid]
"baselines.logistic_epochs" = [2, 4]
"train.batch_size" = [64, 256]
EOF
    } > "$T/grid.toml"
}
