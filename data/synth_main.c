/* defrisk-synth: writes the synthetic loan book (data/synth.h) as CSV.
 *
 *   defrisk-synth [-n LOANS] [-s SEED] [--no-missing] [--no-drift]
 *                 [-p TRUE_P.csv] OUT.csv
 *
 * OUT.csv has a header row; dates are YYYY-MM-DD, a missing value is an empty
 * field, the target column is `default` with values no / yes. The true default
 * probabilities (not a feature) go to a separate file, loan_id,p_true, with -p. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/synth.h"

static int usage(void)
{
    fprintf(stderr, "usage: defrisk-synth [-n LOANS] [-s SEED] [--no-missing] [--no-drift] "
                    "[-p TRUE_P.csv] OUT.csv\n");
    return 2;
}

int main(int argc, char **argv)
{
    long n = DR_SYNTH_N_PAPER;
    unsigned long long seed = 1;
    const char *out = NULL, *pout = NULL;
    dr_synth_options o;
    dr_synth_options_default(&o);
    for (int a = 1; a < argc; a++) {
        char *end = NULL;
        if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
            n = strtol(argv[++a], &end, 10);
            if (*end)
                return usage();
        } else if (strcmp(argv[a], "-s") == 0 && a + 1 < argc) {
            seed = strtoull(argv[++a], &end, 0);
            if (*end)
                return usage();
        } else if (strcmp(argv[a], "-p") == 0 && a + 1 < argc) {
            pout = argv[++a];
        } else if (strcmp(argv[a], "--no-missing") == 0) {
            o.missing = 0;
        } else if (strcmp(argv[a], "--no-drift") == 0) {
            o.drift = 0;
        } else if (argv[a][0] == '-' || out) {
            return usage();
        } else {
            out = argv[a];
        }
    }
    if (!out)
        return usage();
    dr_table t;
    double *p = NULL;
    dr_synth_stats st;
    if (dr_synth_generate(seed, n, &o, &t, &p, &st) != DR_OK) {
        fprintf(stderr, "defrisk-synth: %s\n", dr_last_error());
        return 1;
    }
    double auc = 0;
    if (dr_synth_bayes_auc(&t, p, NULL, 0, &auc) != DR_OK) {
        fprintf(stderr, "defrisk-synth: %s\n", dr_last_error());
        return 1;
    }
    int rc = dr_csv_write(&t, out) != DR_OK;
    if (rc)
        fprintf(stderr, "defrisk-synth: %s\n", dr_last_error());
    if (!rc && pout) {
        FILE *f = fopen(pout, "w");
        if (!f) {
            fprintf(stderr, "defrisk-synth: cannot write %s: %s\n", pout, strerror(errno));
            rc = 1;
        } else {
            fprintf(f, "loan_id,p_true\n");
            for (long i = 0; i < t.n_rows; i++)
                fprintf(f, "%s,%.9g\n", t.cols[0].levels[t.cols[0].cat[i]], p[i]);
            rc = fclose(f) != 0;
        }
    }
    if (!rc)
        printf("defrisk-synth: %ld loans x %d columns -> %s (seed %llu): default rate %.4f, "
               "mean p %.4f, empty cells %.2f %%, Bayes AUC %.4f\n",
               t.n_rows, t.n_cols, out, seed, st.default_rate, st.mean_p, 100 * st.missing_fraction,
               auc);
    free(p);
    dr_table_free(&t);
    return rc;
}
