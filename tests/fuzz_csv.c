/* libFuzzer target for the CSV reader (not a ctest: run tests/fuzz_csv.sh).
 *
 * Each input is parsed twice: once with kinds inferred, and, when that works,
 * again with an override for every column (kinds chosen from the first byte)
 * and the first column as target, so the override, target and error paths all
 * run. Parsed tables are walked (codes within their levels) and freed, so
 * AddressSanitizer's leak check sees every allocation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"

static void check_table(const dr_table *t)
{
    for (int j = 0; j < t->n_cols; j++) {
        const dr_column *c = &t->cols[j];
        if (c->cat)
            for (long i = 0; i < t->n_rows; i++)
                if (c->cat[i] < -1 || c->cat[i] >= c->n_levels)
                    abort(); /* a broken invariant: the fuzzer reports it */
        if (c->levels)
            for (int k = 0; k < c->n_levels; k++)
                if (!c->levels[k])
                    abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dr_table t;
    if (dr_csv_parse(&t, (const char *)data, size, "fuzz.csv", NULL) != DR_OK)
        return 0;
    check_table(&t);
    if (t.n_cols > 0 && t.n_cols <= 64 && size > 0) {
        dr_csv_override ov[64];
        for (int j = 0; j < t.n_cols; j++)
            ov[j] = (dr_csv_override){t.cols[j].name, (dr_col_kind)((data[0] + j) % 6)};
        dr_csv_options opt = {.overrides = ov + 1, .n_overrides = t.n_cols - 1,
                              .target = t.cols[0].name};
        dr_table u;
        if (dr_csv_parse(&u, (const char *)data, size, "fuzz.csv", &opt) == DR_OK) {
            check_table(&u);
            float *y;
            if (u.cols[0].n_levels > 0 && dr_table_target(&u, u.cols[0].name, u.cols[0].levels[0], &y) == DR_OK)
                free(y);
            dr_table_free(&u);
        }
    }
    dr_table_free(&t);
    return 0;
}
