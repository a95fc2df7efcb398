/* The synthetic loan book at the paper's scale.
 *
 *   synth_bench [n_loans] [runs] [threads]   time dr_synth_generate (median of
 *       runs) and print the book's statistics: realised default rate, mean true
 *       probability, intercept, share of empty cells, Bayes-optimal AUC.
 *   synth_bench select [n_loans] [max_rows]  the hybrid selection (VIF, MI,
 *       RFECV with default options) on the preprocessed first 70 % of the book
 *       (the time-ordered training part); prints every drop and Table 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/preprocess.h"
#include "data/select.h"
#include "data/synth.h"
#include "bench/bench_clock.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != DR_OK) {                                                                     \
            fprintf(stderr, "synth_bench: %s: %s\n", #call, dr_last_error());                      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int run_select(long n, long max_rows)
{
    dr_table t;
    double *p = NULL;
    double t0 = dr_now();
    CHECK(dr_synth_generate(1, n, NULL, &t, &p, NULL));
    long ntr = n * 7 / 10;
    dr_prep prep;
    dr_matrix m;
    float *y_all = NULL;
    CHECK(dr_prep_fit(&prep, &t, NULL, ntr, NULL));
    CHECK(dr_prep_transform(&prep, &t, NULL, ntr, &m));
    CHECK(dr_table_target(&t, "default", "yes", &y_all));
    double t1 = dr_now();
    printf("synth_bench select: %ld loans, training part %ld rows x %d features (%.2f s to "
           "generate and preprocess)\n",
           n, m.n_rows, m.n_features, t1 - t0);
    dr_select_options o;
    dr_select_options_default(&o);
    if (max_rows >= 0)
        o.rfecv.max_rows = max_rows;
    dr_select_result r;
    CHECK(dr_select_hybrid(m.x, m.n_rows, m.n_features, (const char *const *)m.names, y_all, &o, &r,
                           stdout));
    double t2 = dr_now();
    printf("\nTable 2 (synthetic book, seed 1): %d features selected\n", r.n_selected);
    dr_select_table_print(stdout, &r, (const char *const *)m.names);
    printf("synth_bench select: selection took %.1f s\n", t2 - t1);
    dr_select_result_free(&r);
    dr_matrix_free(&m);
    dr_prep_free(&prep);
    free(y_all);
    free(p);
    dr_table_free(&t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "select") == 0)
        return run_select(argc > 2 ? atol(argv[2]) : DR_SYNTH_N_PAPER,
                          argc > 3 ? atol(argv[3]) : -1);
    long n = argc > 1 ? atol(argv[1]) : DR_SYNTH_N_PAPER;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    dr_synth_options o;
    dr_synth_options_default(&o);
    o.n_threads = argc > 3 ? atoi(argv[3]) : 0;
    if (runs < 1 || runs > 100) {
        fprintf(stderr, "synth_bench: runs = %d, expected 1..100\n", runs);
        return 1;
    }
    double t[100];
    for (int r = 0; r < runs; r++) {
        dr_table tab;
        double *p = NULL;
        dr_synth_stats st;
        double t0 = dr_now();
        CHECK(dr_synth_generate(1000 + (uint64_t)r, n, &o, &tab, &p, &st));
        t[r] = dr_now() - t0;
        double auc = 0;
        CHECK(dr_synth_bayes_auc(&tab, p, NULL, 0, &auc));
        printf("run %d seed %d: %ld loans x %d columns in %.3f s; default rate %.4f, mean p %.4f, "
               "intercept %.3f, empty cells %.2f %%, Bayes AUC %.4f\n",
               r, 1000 + r, tab.n_rows, tab.n_cols, t[r], st.default_rate, st.mean_p, st.intercept,
               100 * st.missing_fraction, auc);
        free(p);
        dr_table_free(&tab);
    }
    qsort(t, (size_t)runs, sizeof *t, bench_cmp_double);
    printf("synth_bench: %ld loans, threads %d (0 = OpenMP default), median %.3f s over %d runs "
           "(min %.3f, max %.3f)\n",
           n, o.n_threads, t[runs / 2], runs, t[0], t[runs - 1]);
    return 0;
}
