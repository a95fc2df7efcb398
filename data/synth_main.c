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

#include "data/synth.h"

/* Civil date from days since 1970-01-01 (H. Hinnant's civil_from_days). */
static void civil(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int write_csv(const dr_table *t, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "defrisk-synth: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (int j = 0; j < t->n_cols; j++)
        fprintf(f, "%s%s", j ? "," : "", t->cols[j].name);
    fputc('\n', f);
    for (long i = 0; i < t->n_rows; i++) {
        for (int j = 0; j < t->n_cols; j++) {
            const dr_column *c = &t->cols[j];
            if (j)
                fputc(',', f);
            if (c->kind == DR_COL_DATE) {
                int y, m, d;
                civil((long)c->num[i], &y, &m, &d);
                fprintf(f, "%04d-%02d-%02d", y, m, d);
            } else if (c->num) {
                if (c->num[i] == c->num[i]) /* empty when NaN */
                    fprintf(f, "%.10g", c->num[i]);
            } else if (c->cat[i] >= 0) {
                fputs(c->levels[c->cat[i]], f);
            }
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "defrisk-synth: error writing %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

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
    int rc = write_csv(&t, out);
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
