/* Metrics against answers known independently: hand arithmetic on a 12-sample
 * case with ties (written out below), scikit-learn's numbers for a fixed
 * 40-sample array, perfect / inverted / all-tied classifiers, and an O(n^2)
 * pair count for AUC on a larger random set with many ties, where the sweep's
 * AUC must also equal dr_auc's rank sum (data/auc.h), written independently.
 *
 * Tolerances: counts are exact in double, so a metric that is one ratio of
 * counts (AUC, accuracy, precision, recall, F1, KS, ROC points) is the
 * correctly rounded quotient: compared with the same quotient written in C at
 * 2 ulp (4 * DBL_EPSILON relative). Sums of n terms (AP, Brier, log loss) carry
 * at most about n rounding errors of the largest term: n * 4 * DBL_EPSILON *
 * max term, stated at each check. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/philox.h"
#include "data/auc.h"
#include "experiments/metrics.h"
#include "tests/testutil.h"

static void check_close(const char *what, double got, double want, double tol)
{
    double d = fabs(got - want);
    printf("  %-34s got %.17g want %.17g |diff| %.3g (tol %.3g)\n", what, got, want, d, tol);
    if (!(d <= tol))
        fail_msg("%s: got %.17g want %.17g", what, got, want);
}

#define RATIO_TOL(x) (4 * DBL_EPSILON * fabs(x))

/* --- the 12-sample hand case ----------------------------------------------------
 * score  0.9375 0.875 0.875 0.75 0.625 0.625 0.5 0.375 0.25 0.25 0.125 0.0625
 * label  1      1     0     1    0     1     0   1     0    0    1     0
 * (all scores are k/16: exact in float). P = 6 positives, N = 6 negatives.
 *
 * AUC: for each positive, negatives below + 1/2 per tie:
 *   0.9375: 6; 0.875: 5 + 1/2; 0.75: 5; 0.625: 4 + 1/2; 0.375: 3; 0.125: 1
 *   sum 25, AUC = 25 / 36, Gini = 2 * 25/36 - 1 = 7/18.
 * Sweep over distinct scores (tp, fp after the group):
 *   .9375 (1,0) .875 (2,1) .75 (3,1) .625 (4,2) .5 (4,3) .375 (5,3) .25 (5,5)
 *   .125 (6,5) .0625 (6,6)
 * KS = max |tp/6 - fp/6| = 2/6, first at 0.75.
 * AP = (1/6)(1/1 + 2/3 + 3/4 + 4/6 + 5/8 + 6/11) = 1123 / 1584.
 * F1 = 2tp / (2tp + fp + fn): 2/7 4/9 6/10 8/12 8/13 10/14 10/16 12/17 12/18;
 *   best 10/14 = 5/7 at threshold 0.375.
 * At threshold 0.5: tp 4 fp 3 fn 2 tn 3: accuracy 7/12, precision 4/7,
 *   recall 4/6, F1 8/13.
 * Brier: squared errors sum to 373/128 (0.0625^2 * 2 + 0.125^2 + 0.875^2 * 2
 *   + 0.25^2 * 3 + 0.375^2 * 3 + 0.5^2), Brier = 373/1536.
 * Log loss: the true class gets 15/16 (x2), 7/8, 1/8 (x2), 3/4 (x3), 3/8 (x2),
 *   5/8, 1/2: LL = -(1/12)(2 ln 15/16 + ln 7/8 + 2 ln 1/8 + 3 ln 3/4
 *   + 2 ln 3/8 + ln 5/8 + ln 1/2).
 * scikit-learn 1.9.1 agrees with every number (auc 0.69444444444444442,
 * ap 0.70896464646464641, brier 0.24283854166666666, log_loss
 * 0.70077892095365113, roc_curve points as below). */
static const float hand_s[12] = {0.9375f, 0.875f, 0.875f, 0.75f, 0.625f,  0.625f,
                                 0.5f,    0.375f, 0.25f,  0.25f, 0.125f, 0.0625f};
static const float hand_y[12] = {1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0};

static void test_hand_case(void **state)
{
    (void)state;
    dr_metrics m;
    assert_int_equal(dr_metrics_compute(hand_s, hand_y, 12, 0.5, &m), DR_OK);
    check_close("auc = 25/36", m.auc, 25.0 / 36.0, RATIO_TOL(25.0 / 36.0));
    check_close("gini = 7/18", m.gini, 7.0 / 18.0, 8 * DBL_EPSILON); /* 2a-1: a's 2 ulp doubled */
    check_close("ks = 1/3", m.ks, 1.0 / 3.0, RATIO_TOL(1.0 / 3.0));
    check_close("ks threshold", m.ks_threshold, 0.75, 0.0);
    /* 6 terms, each <= 1/6, one rounding each plus the sum: 12 * eps */
    check_close("ap = 1123/1584", m.pr_auc, 1123.0 / 1584.0, 12 * DBL_EPSILON);
    check_close("accuracy = 7/12", m.accuracy, 7.0 / 12.0, RATIO_TOL(7.0 / 12.0));
    check_close("precision = 4/7", m.precision, 4.0 / 7.0, RATIO_TOL(4.0 / 7.0));
    check_close("recall = 4/6", m.recall, 4.0 / 6.0, RATIO_TOL(4.0 / 6.0));
    check_close("f1 = 8/13", m.f1, 8.0 / 13.0, RATIO_TOL(8.0 / 13.0));
    assert_true(m.cm.tp == 4 && m.cm.fp == 3 && m.cm.fn == 2 && m.cm.tn == 3);
    assert_true(m.n == 12 && m.n_pos == 6);
    /* squares of k/16 and their sum are exact; one division */
    check_close("brier = 373/1536", m.brier, 373.0 / 1536.0, RATIO_TOL(373.0 / 1536.0));
    double ll = -(2 * log(15.0 / 16) + log(7.0 / 8) + 2 * log(1.0 / 8) + 3 * log(3.0 / 4) +
                  2 * log(3.0 / 8) + log(5.0 / 8) + log(1.0 / 2)) /
                12;
    /* 12 logs each <= 2.08 with ~1 ulp, both sides: 2 * 12 * 2.08 * eps / 12 per mean */
    check_close("log loss (hand)", m.log_loss, ll, 8 * DBL_EPSILON);
    check_close("log loss (sklearn 1.9.1)", m.log_loss, 0.70077892095365113, 1e-15);

    double t, f1;
    assert_int_equal(dr_metrics_best_f1_threshold(hand_s, hand_y, 12, &t, &f1), DR_OK);
    check_close("best f1 = 5/7", f1, 5.0 / 7.0, RATIO_TOL(5.0 / 7.0));
    check_close("best f1 threshold", t, 0.375, 0.0);
    /* applying the fitted threshold reproduces the F1 it was fitted for */
    dr_confusion c;
    double f1b;
    assert_int_equal(dr_metrics_confusion(hand_s, hand_y, 12, t, &c), DR_OK);
    dr_metrics_from_confusion(&c, NULL, NULL, NULL, &f1b);
    check_close("f1 at the fitted threshold", f1b, f1, 0.0);

    double fpr[13], tpr[13], thr[13];
    long np = -1;
    assert_int_equal(dr_metrics_roc(hand_s, hand_y, 12, fpr, tpr, thr, &np), DR_OK);
    const double want_fp[10] = {0, 0, 1, 1, 2, 3, 3, 5, 5, 6};
    const double want_tp[10] = {0, 1, 2, 3, 4, 4, 5, 5, 6, 6};
    const double want_thr[10] = {INFINITY, 0.9375, 0.875, 0.75, 0.625,
                                 0.5,      0.375,  0.25,  0.125, 0.0625};
    printf("  roc: %ld points (want 10)\n", np);
    assert_int_equal(np, 10);
    long bad = 0;
    for (int k = 0; k < 10; k++) {
        bad += fabs(fpr[k] - want_fp[k] / 6) > RATIO_TOL(want_fp[k] / 6);
        bad += fabs(tpr[k] - want_tp[k] / 6) > RATIO_TOL(want_tp[k] / 6);
        bad += thr[k] != want_thr[k];
    }
    printf("  roc: %ld of 30 coordinates off\n", bad);
    assert_int_equal(bad, 0);
}

/* --- scikit-learn on a fixed 40-sample array ---------------------------------------
 * Obtained once with python3 (numpy 2.4.6, scikit-learn 1.9.1):
 *   rng = np.random.default_rng(20261127); y = rng.random(40) < 0.35
 *   s = round(clip(0.35 y + 0.65 rng.random(40) - 0.1, 0, 1) * 20) / 20 as float32
 *   then roc_auc_score, average_precision_score, max |tpr - fpr| of
 *   roc_curve(drop_intermediate=False), brier_score_loss, log_loss,
 *   accuracy/precision/recall/f1 at s >= 0.5, and the best F1 of
 *   precision_recall_curve, all on s.astype(float64).
 * No positive has score 0, so log loss does not depend on the clipping eps. */
static const float ref_s[40] = {
    0.200000003f, 0.75f,        0.550000012f, 0.400000006f, 0.0500000007f, 0.449999988f,
    0.200000003f, 0.5f,         0.300000012f, 0.400000006f, 0.800000012f,  0.449999988f,
    0.0f,         0.850000024f, 0.0f,         0.800000012f, 0.5f,          0.0f,
    0.300000012f, 0.550000012f, 0.449999988f, 0.75f,        0.0f,          0.150000006f,
    0.0f,         0.349999994f, 0.150000006f, 0.300000012f, 0.850000024f,  0.400000006f,
    0.200000003f, 0.300000012f, 0.0f,         0.800000012f, 0.0f,          0.699999988f,
    0.649999976f, 0.550000012f, 0.600000024f, 0.550000012f};
static const float ref_y[40] = {0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0,
                                0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0};

static void test_sklearn_reference(void **state)
{
    (void)state;
    dr_metrics m;
    assert_int_equal(dr_metrics_compute(ref_s, ref_y, 40, 0.5, &m), DR_OK);
    char line[512];
    dr_metrics_format(&m, line, sizeof line);
    printf("  %s\n", line);
    /* 40 terms of at most 1 with about one rounding each, on both sides: 1e-13 */
    check_close("auc", m.auc, 0.86979166666666663, 1e-13);
    check_close("average precision", m.pr_auc, 0.85299673893781436, 1e-13);
    check_close("ks", m.ks, 0.625, 1e-13);
    check_close("brier", m.brier, 0.1402500010598452, 1e-13);
    /* 40 logs of at most ln 20 = 3 each: 40 * 3 * 4 eps / 40 per mean, well under 1e-13 */
    check_close("log loss", m.log_loss, 0.41995287853980451, 1e-13);
    check_close("accuracy @0.5", m.accuracy, 0.69999999999999996, 1e-15);
    check_close("precision @0.5", m.precision, 0.625, 1e-15);
    check_close("recall @0.5", m.recall, 0.625, 1e-15);
    check_close("f1 @0.5", m.f1, 0.625, 1e-15);
    double t, f1;
    assert_int_equal(dr_metrics_best_f1_threshold(ref_s, ref_y, 40, &t, &f1), DR_OK);
    check_close("best f1", f1, 0.76923076923076927, 1e-15);
    check_close("best f1 threshold", t, (double)0.600000024f, 0.0);
    double fpr[41], tpr[41], thr[41];
    long np;
    assert_int_equal(dr_metrics_roc(ref_s, ref_y, 40, fpr, tpr, thr, &np), DR_OK);
    printf("  roc points %ld (sklearn: 17)\n", np);
    assert_int_equal(np, 17);
}

/* --- perfect, inverted and all-tied classifiers -------------------------------------- */

static void test_extremes(void **state)
{
    (void)state;
    const float y[6] = {0, 1, 0, 1, 1, 0};
    const float perfect[6] = {0.1f, 0.9f, 0.2f, 0.8f, 0.7f, 0.3f};
    const float inverted[6] = {0.9f, 0.1f, 0.8f, 0.2f, 0.3f, 0.7f};
    const float tied[6] = {0.4f, 0.4f, 0.4f, 0.4f, 0.4f, 0.4f};
    dr_metrics m;

    assert_int_equal(dr_metrics_compute(perfect, y, 6, 0.5, &m), DR_OK);
    printf("  perfect: auc %.17g gini %.17g ks %.17g ap %.17g acc %.17g\n", m.auc, m.gini, m.ks,
           m.pr_auc, m.accuracy);
    /* all exact: 9/9, 1 - 0, sums of thirds times 1 */
    check_close("perfect auc", m.auc, 1.0, 0.0);
    check_close("perfect gini", m.gini, 1.0, 0.0);
    check_close("perfect ks", m.ks, 1.0, 0.0);
    check_close("perfect ap", m.pr_auc, 1.0, 4 * DBL_EPSILON); /* 1/3 + 1/3 + 1/3 */
    check_close("perfect accuracy", m.accuracy, 1.0, 0.0);

    /* Inverted: every positive below every negative. AUC 0, Gini -1, KS 1 (the
     * distance is symmetric). AP: the three positives come last, after 3
     * negatives: (1/3)(1/4 + 2/5 + 3/6) = 23/60. */
    assert_int_equal(dr_metrics_compute(inverted, y, 6, 0.5, &m), DR_OK);
    printf("  inverted: auc %.17g gini %.17g ks %.17g ap %.17g acc %.17g\n", m.auc, m.gini,
           m.ks, m.pr_auc, m.accuracy);
    check_close("inverted auc", m.auc, 0.0, 0.0);
    check_close("inverted gini", m.gini, -1.0, 0.0);
    check_close("inverted ks", m.ks, 1.0, 0.0);
    check_close("inverted ap = 23/60", m.pr_auc, 23.0 / 60.0, 8 * DBL_EPSILON);
    check_close("inverted accuracy", m.accuracy, 0.0, 0.0);

    /* All tied: one ROC step from (0,0) to (1,1): AUC 1/2, KS 0, AP = base rate. */
    assert_int_equal(dr_metrics_compute(tied, y, 6, 0.5, &m), DR_OK);
    printf("  tied: auc %.17g ks %.17g ap %.17g\n", m.auc, m.ks, m.pr_auc);
    check_close("tied auc", m.auc, 0.5, 0.0);
    check_close("tied ks", m.ks, 0.0, 0.0);
    check_close("tied ap = 1/2", m.pr_auc, 0.5, 0.0);
    /* threshold 0.5 above every score: nothing predicted positive -> 0 by convention */
    check_close("tied precision (no positive predicted)", m.precision, 0.0, 0.0);
    check_close("tied f1", m.f1, 0.0, 0.0);
    check_close("tied recall", m.recall, 0.0, 0.0);
}

/* --- AUC against an O(n^2) pair count with many ties ---------------------------------- */

static void test_auc_pair_count(void **state)
{
    (void)state;
    enum { N = 3000 };
    float *s = malloc(N * sizeof *s), *y = malloc(N * sizeof *y);
    assert_true(s && y);
    uint64_t seed = tu_seed();
    for (long i = 0; i < N; i++) {
        y[i] = dr_philox_uniform(seed, 7, 0, (uint64_t)i) < 0.2f ? 1.0f : 0.0f;
        /* 50 levels, shifted up for positives: informative with heavy ties */
        float u = dr_philox_uniform(seed, 8, 0, (uint64_t)i);
        s[i] = floorf((0.7f * u + 0.3f * y[i]) * 50.0f) / 50.0f;
    }
    double wins = 0;
    long P = 0, Nn = 0;
    for (long i = 0; i < N; i++) {
        if (y[i] != 1.0f)
            continue;
        P++;
        for (long j = 0; j < N; j++)
            if (y[j] == 0.0f)
                wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
    for (long j = 0; j < N; j++)
        Nn += y[j] == 0.0f;
    double want = wins / ((double)P * (double)Nn), ranks;
    dr_metrics m;
    assert_int_equal(dr_metrics_compute(s, y, N, 0.5, &m), DR_OK);
    assert_int_equal(dr_auc(s, y, N, &ranks), DR_OK);
    /* wins is a sum of halves below 2^53: exact on both sides, one division */
    printf("  n %d (P %ld): ", N, P);
    check_close("auc vs pair count", m.auc, want, RATIO_TOL(want));
    /* dr_auc's rank sum minus P(P+1)/2 is also exact in halves: the same
     * numerator and division. 1e-12 leaves room for any rounding either may
     * gain without hiding a miscounted tie (1 / (2 P N), about 3e-7 here). */
    check_close("auc vs dr_auc (rank sum)", m.auc, ranks, 1e-12);

    /* KS against the empirical CDFs evaluated at every distinct score */
    double ks_want = 0, ks;
    for (long i = 0; i < N; i++) {
        double tp = 0, fp = 0;
        for (long j = 0; j < N; j++)
            if (s[j] >= s[i]) {
                tp += y[j];
                fp += 1 - y[j];
            }
        double d = fabs(tp / (double)P - fp / (double)Nn);
        ks_want = d > ks_want ? d : ks_want;
    }
    assert_int_equal(dr_metrics_ks(s, y, N, &ks, NULL), DR_OK);
    check_close("ks vs brute force", ks, ks_want, 4 * DBL_EPSILON);
    free(s);
    free(y);
}

/* --- bad input ---------------------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    const float s[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    const float one_class[4] = {1, 1, 1, 1};
    const float y[4] = {0, 1, 0, 1};
    const float bad_y[4] = {0, 1, 2, 1};
    const float nan_s[4] = {0.1f, NAN, 0.3f, 0.4f};
    const float big_s[4] = {0.1f, 1.5f, 0.3f, 0.4f};
    double x;
    dr_metrics m;
    dr_status st;

    st = dr_metrics_compute(s, one_class, 4, 0.5, &m);
    printf("  one class: %s\n", dr_last_error());
    assert_int_equal(st, DR_ERR_INVALID);
    st = dr_metrics_compute(s, bad_y, 4, 0.5, &m);
    printf("  label 2: %s\n", dr_last_error());
    assert_int_equal(st, DR_ERR_INVALID);
    st = dr_metrics_compute(nan_s, y, 4, 0.5, &m);
    printf("  NaN score: %s\n", dr_last_error());
    assert_int_equal(st, DR_ERR_NUMERIC);
    st = dr_metrics_brier(big_s, y, 4, &x);
    printf("  score 1.5 for brier: %s\n", dr_last_error());
    assert_int_equal(st, DR_ERR_INVALID);
    /* dr_auc takes any score, not only probabilities (logits too): positives
     * 1.5 and 0.4 above negatives 0.1 and 0.3, AUC 1 exactly */
    assert_int_equal(dr_auc(big_s, y, 4, &x), DR_OK);
    check_close("auc of scores outside [0, 1]", x, 1.0, 0.0);
    st = dr_auc(s, y, 0, &x);
    printf("  n = 0: %s\n", dr_last_error());
    assert_int_equal(st, DR_ERR_INVALID);

    /* log loss clipping: p = 0 for a positive costs -ln(1e-15) = 34.538776394910684 */
    const float p0[2] = {0.0f, 0.0f};
    const float y10[2] = {1, 0};
    assert_int_equal(dr_metrics_log_loss(p0, y10, 2, &x), DR_OK);
    check_close("log loss clipped at eps", x, -log(DR_METRICS_LOG_EPS) / 2, 4 * DBL_EPSILON * 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_case),   cmocka_unit_test(test_sklearn_reference),
        cmocka_unit_test(test_extremes),    cmocka_unit_test(test_auc_pair_count),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
