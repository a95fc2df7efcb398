/* The synthetic loan book (data/synth.h says what it is). One loan at a time:
 * gen_loan draws a borrower's latent factors, features and history from its own
 * Philox counter, and computes its default score; then the intercept is set from
 * the drawn latent scores, labels follow, and missingness is punched in last (so
 * the score always sees complete values). */
#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/random.h"
#include "data/auc.h"
#include "data/dates.h"

/* Philox streams: one per purpose, so adding draws to one part (say, the
 * missingness) leaves the others' numbers unchanged. The counter is the loan. */
enum {
    ST_DATE = 0x53590001u,
    ST_LOAN = 0x53590002u,
    ST_NOISE = 0x53590003u,
    ST_MISS = 0x53590004u,
};

/* ---- random numbers for one loan ---- */

typedef struct srng {
    dr_philox_stream s;
    int has_spare;
    double spare; /* the second normal of the last Box-Muller pair */
} srng;

static void srng_init(srng *r, uint64_t seed, uint32_t stream, uint64_t ctr)
{
    dr_philox_stream_init(&r->s, seed, stream, ctr);
    r->has_spare = 0;
}

/* Uniform in (0, 1), never 0 or 1: safe for logs. */
static double ru(srng *r)
{
    return ((double)dr_philox_stream_word(&r->s) + 0.5) * (1.0 / 4294967296.0);
}

/* Standard normal (Box-Muller; both of the pair are used: normals are most of
 * the generator's time). */
static double rn(srng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = ru(r), u2 = ru(r);
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

/* Poisson by inversion; the means here are small (< 30). */
static int rpois(srng *r, double lam)
{
    double u = ru(r), p = exp(-lam), f = p;
    int k = 0;
    while (u > f && k < 200) {
        k++;
        p *= lam / k;
        f += p;
    }
    return k;
}

/* Index drawn with probability w[i] / sum(w); negative weights count as 0. */
static int rcat(srng *r, const double *w, int k)
{
    double tot = 0.0;
    for (int i = 0; i < k; i++)
        tot += w[i] > 0 ? w[i] : 0;
    double u = ru(r) * tot;
    for (int i = 0; i < k; i++) {
        double wi = w[i] > 0 ? w[i] : 0;
        if (u < wi)
            return i;
        u -= wi;
    }
    return k - 1;
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }
static double pos(double x) { return x > 0 ? x : 0; }

/* ---- the schema ---- */

enum {
    N_ANNUAL_INCOME,
    N_DEBT_TO_INCOME,
    N_CREDIT_SCORE,
    N_LOAN_AMOUNT,
    N_EMPLOYMENT_LENGTH,
    N_INQUIRIES_6M,
    N_INTEREST_RATE,
    N_TOTAL_CREDIT_LIMIT,
    N_OPEN_ACCOUNTS,
    N_PREVIOUS_LOANS,
    N_REVOLVING_BALANCE,
    N_REVOLVING_UTIL,
    N_INSTALLMENT,
    N_AGE,
    N_MONTHS_SINCE_DELINQ,
    N_DELINQ_2Y,
    N_PUBLIC_RECORDS,
    N_TOTAL_ACCOUNTS,
    N_MORTGAGE_ACCOUNTS,
    N_CREDIT_HISTORY_MONTHS,
    N_SAVINGS_BALANCE,
    N_STATIC
};

static const char *const num_names[N_STATIC] = {
    "annual_income",      "debt_to_income",      "credit_score",
    "loan_amount",        "employment_length",   "credit_inquiries_6m",
    "interest_rate",      "total_credit_limit",  "open_accounts",
    "previous_platform_loans", "revolving_balance", "revolving_utilization",
    "installment",        "age",                 "months_since_last_delinquency",
    "delinquencies_2y",   "public_records",      "total_accounts",
    "mortgage_accounts",  "credit_history_months", "savings_balance",
};

/* MCAR rate per static numeric column (the MAR and structural parts are in code). */
static const double num_mcar[N_STATIC] = {
    0.01, 0.01, 0.005, 0, 0.03, 0.02, 0, 0.04, 0.02, 0, 0.03,
    0.03, 0, 0.01, 0, 0.02, 0.02, 0.02, 0.03, 0.02, 0.08,
};

enum {
    C_PURPOSE, C_HOME, C_REGION, C_TERM, C_GRADE, C_SUBGRADE, C_EMPTYPE, C_JOB, C_EDU,
    C_MARITAL, C_VERIF, C_APPTYPE, C_INCSRC, C_CHANNEL, C_DEVICE, C_CITY, C_INDUSTRY,
    C_GUARANTOR, C_COLLATERAL, C_PAYMETHOD, C_FREQ, C_FIRSTLOAN, C_PHONE, C_EMAIL,
    C_SOCIAL, C_IDDOC, C_CAR, C_CARD, C_DEPEND, C_RESID, C_EMPSIZE, C_REFERRAL,
    C_LISTING, N_CAT
};

typedef struct cat_spec {
    const char *name;
    double mcar;
    int n;
    const char *levels[35];
} cat_spec;

static const cat_spec cat_specs[N_CAT] = {
    {"purpose", 0, 10, {"debt_consolidation", "credit_card", "home_improvement", "business",
                        "education", "medical", "car", "wedding", "vacation", "other"}},
    {"home_ownership", 0.01, 4, {"rent", "own", "mortgage", "family"}},
    {"region", 0, 8, {"north", "south", "east", "west", "central", "northeast", "northwest",
                      "southwest"}},
    /* "12m", not "12": a CSV reader would take bare numbers for a numeric column */
    {"loan_term", 0, 4, {"12m", "24m", "36m", "60m"}},
    {"grade", 0, 7, {"A", "B", "C", "D", "E", "F", "G"}},
    {"sub_grade", 0, 35, {"A1", "A2", "A3", "A4", "A5", "B1", "B2", "B3", "B4", "B5", "C1", "C2",
                          "C3", "C4", "C5", "D1", "D2", "D3", "D4", "D5", "E1", "E2", "E3", "E4",
                          "E5", "F1", "F2", "F3", "F4", "F5", "G1", "G2", "G3", "G4", "G5"}},
    {"employment_type", 0.01, 6, {"salaried", "self_employed", "contract", "unemployed",
                                  "retired", "student"}},
    {"job_category", 0.04, 10, {"office", "sales", "service", "manual", "healthcare", "it",
                                "teaching", "transport", "hospitality", "other"}},
    {"education", 0.05, 6, {"high_school", "associate", "bachelor", "master", "doctorate",
                            "other"}},
    {"marital_status", 0.02, 4, {"single", "married", "divorced", "widowed"}},
    {"verification_status", 0, 3, {"not_verified", "source_verified", "verified"}},
    {"application_type", 0, 2, {"individual", "joint"}},
    {"income_source", 0.02, 5, {"wages", "business", "pension", "benefits", "investments"}},
    {"channel", 0.01, 4, {"app", "web", "agent", "partner"}},
    {"device_os", 0.03, 3, {"android", "ios", "desktop"}},
    {"city_tier", 0.01, 4, {"tier1", "tier2", "tier3", "tier4"}},
    {"industry", 0.04, 8, {"finance", "retail", "manufacturing", "construction", "public_sector",
                           "tech", "agriculture", "other"}},
    {"has_guarantor", 0.01, 2, {"no", "yes"}},
    {"collateral_type", 0.01, 4, {"none", "vehicle", "property", "deposit"}},
    {"payment_method", 0.01, 3, {"auto_debit", "manual_transfer", "card"}},
    {"repayment_frequency", 0, 2, {"monthly", "biweekly"}},
    {"first_loan", 0, 2, {"yes", "no"}},
    {"phone_verified", 0.01, 2, {"yes", "no"}},
    {"email_domain", 0.02, 4, {"free", "corporate", "education", "other"}},
    {"social_profile_linked", 0.02, 2, {"no", "yes"}},
    {"id_document", 0.01, 3, {"national_id", "passport", "driving_licence"}},
    {"has_car", 0.02, 2, {"no", "yes"}},
    {"has_credit_card", 0.02, 2, {"no", "yes"}},
    {"dependents", 0.03, 4, {"0", "1", "2", "3+"}},
    {"residence_type", 0.02, 4, {"house", "apartment", "shared", "other"}},
    {"employer_size", 0.06, 5, {"micro", "small", "medium", "large", "public"}},
    {"referral_source", 0.03, 5, {"search", "social_media", "friend", "advert", "none"}},
    {"listing_type", 0, 2, {"whole", "fractional"}},
};

#define HIST DR_SYNTH_HISTORY
/* Column positions in the table. */
enum {
    COL_ID = 0,
    COL_DATE = 1,
    COL_NUM0 = 2,
    COL_LATE0 = COL_NUM0 + N_STATIC,
    COL_UTIL0 = COL_LATE0 + HIST,
    COL_CAT0 = COL_UTIL0 + HIST,
    COL_TARGET = COL_CAT0 + N_CAT,
    N_COLS = COL_TARGET + 1
};

/* One loan before it is scattered into columns. */
typedef struct loan {
    double num[N_STATIC];
    double late[HIST], util[HIST];
    int cat[N_CAT];
    double score;
} loan;

/* Periods of the drift, as years since 2018-01-01. */
#define T_SHOCK_START (2.0 + 59.0 / 365.25)  /* 2020-03-01 */
#define T_SHOCK_END (3.0 + 181.0 / 365.25)   /* 2021-07-01 */
#define T_MACRO_START (2.0 + 91.0 / 365.25)  /* 2020-04-01 */
#define T_MACRO_END (3.0)                    /* 2021-01-01 */

/* Draws loan i (issued t years after 2018-01-01) and its default score. */
static void gen_loan(uint64_t seed, long i, double t, const dr_synth_options *o, loan *L)
{
    srng r;
    srng_init(&r, seed, ST_LOAN, (uint64_t)i);
    double *x = L->num;
    int *c = L->cat;

    /* Latent factors: quality q, capacity cap, discipline disc (correlated). */
    double q = rn(&r);
    double cap = 0.45 * q + 0.893 * rn(&r);
    double disc = 0.55 * q + 0.835 * rn(&r);

    double age = floor(clampd(38 + 11 * rn(&r) + 2 * cap, 19, 75));
    x[N_AGE] = age;

    double w[35];
    w[0] = 0.62 + 0.05 * cap;                               /* salaried */
    w[1] = 0.12;                                            /* self-employed */
    w[2] = 0.12 - 0.02 * cap;                               /* contract */
    w[3] = 0.04 * exp(-0.8 * cap);                          /* unemployed */
    w[4] = age > 60 ? 0.5 * (age - 60) / 10 : 0.005;        /* retired */
    w[5] = age < 26 ? 0.25 * (26 - age) / 7 : 0.003;        /* student */
    int emp = c[C_EMPTYPE] = rcat(&r, w, 6);
    int self_emp = emp == 1;

    double el = 0;
    if (emp != 3 && emp != 5)
        el = fmin(age - 18, -log(ru(&r)) * (3 + 0.15 * (age - 18)) * exp(0.2 * cap));
    x[N_EMPLOYMENT_LENGTH] = floor(clampd(el, 0, 40));

    static const double emp_mult[6] = {1.0, 1.1, 0.9, 0.35, 0.6, 0.4};
    double income = exp(10.65 + 0.42 * cap + 0.12 * q + 0.012 * (fmin(age, 55) - 35) +
                        (self_emp ? 0.55 : 0.32) * rn(&r)) * emp_mult[emp];
    income = fmax(3000, 100 * round(income / 100));
    x[N_ANNUAL_INCOME] = income;
    double linc = log(income / 45000);

    double score_cs =
        round(clampd(680 + 52 * q + 10 * disc + 0.6 * (age - 38) + 14 * rn(&r), 300, 850));
    x[N_CREDIT_SCORE] = score_cs;
    double cs = (score_cs - 680) / 52;

    x[N_INQUIRIES_6M] = rpois(&r, exp(0.1 - 0.45 * q + 0.25 * rn(&r) + (age < 30 ? 0.3 : 0)));
    double open = rpois(&r, exp(1.5 + 0.2 * cap + 0.1 * rn(&r)));
    x[N_OPEN_ACCOUNTS] = open;
    double hist_m = floor(fmax(0, (age - 18) * 12 * (0.35 + 0.55 * ru(&r)) + 12 * q));
    x[N_CREDIT_HISTORY_MONTHS] = hist_m;
    x[N_TOTAL_ACCOUNTS] = open + rpois(&r, 1 + 0.25 * hist_m / 12);

    w[0] = 0.45 - 0.05 * cap + (age < 30 ? 0.1 : 0);  /* rent */
    w[1] = 0.10 + 0.004 * (age - 19);                 /* own */
    w[2] = 0.25 + 0.10 * cap + (age > 30 ? 0.1 : 0);  /* mortgage */
    w[3] = age < 28 ? 0.25 : 0.03;                    /* family */
    int home = c[C_HOME] = rcat(&r, w, 4);
    x[N_MORTGAGE_ACCOUNTS] = home == 2 ? 1 + rpois(&r, 0.3) : rpois(&r, 0.05);

    /* Pareto(alpha) factors give the limits, balances and savings their tails. */
    /* (Draws in separate statements: the order of evaluation of the operands of
     * one expression is unspecified in C, and the stream must not depend on it.) */
    double limit = exp(9.3 + 0.75 * linc + 0.35 * q + 0.3 * rn(&r));
    limit *= pow(ru(&r), -1 / 2.5);
    limit = 100 * round(limit / 100);
    x[N_TOTAL_CREDIT_LIMIT] = limit;
    double util0 = sigm(-0.6 - 0.9 * disc - 0.3 * q + 0.7 * rn(&r));
    double bal = round(limit * util0);
    x[N_REVOLVING_BALANCE] = bal;
    double rev_util = limit > 0 ? round(1000 * bal / limit) / 10 : 0;
    x[N_REVOLVING_UTIL] = rev_util;

    double amount = 50 * round(clampd(exp(8.3 + 0.45 * linc + 0.55 * rn(&r)), 500, 35000) / 50);
    x[N_LOAN_AMOUNT] = amount;
    double lti = amount / income;

    w[0] = 0.30; w[1] = 0.20; w[2] = 0.10; w[3] = self_emp ? 0.35 : 0.04;
    w[4] = age < 30 ? 0.10 : 0.02; w[5] = 0.05; w[6] = 0.07; w[7] = age < 35 ? 0.04 : 0.01;
    w[8] = 0.03; w[9] = 0.06;
    int purpose = c[C_PURPOSE] = rcat(&r, w, 10);

    double la = log(amount / 4000);
    w[0] = exp(-1.0 * la); w[1] = 1.0; w[2] = exp(0.6 * la); w[3] = 0.3 * exp(1.2 * la);
    int term = c[C_TERM] = rcat(&r, w, 4);
    static const double term_m[4] = {12, 24, 36, 60};

    /* The platform's grade: a noisy reading of the score and inquiries, 7 grades
     * x 5 steps. */
    double gs = cs - 0.12 * (x[N_INQUIRIES_6M] - 1.2) + 0.5 * rn(&r);
    double gpos = clampd((1.6 - gs) / 0.5, 0, 6.999); /* 0 = best */
    int grade = (int)gpos, sub = (int)((gpos - grade) * 5);
    c[C_GRADE] = grade;
    c[C_SUBGRADE] = grade * 5 + sub;

    double macro = 0;
    if (t >= 2.0 && t < 4.0)
        macro = -0.5; /* low-rate years */
    else if (t >= 4.0)
        macro = 2.5 * (t - 4.0); /* 2022: rates rise */
    /* The rate follows the grade, term and market, and investors' bids (the noise). */
    double rate = 5.5 + 3.1 * grade + 0.35 * sub + (term == 3 ? 1.0 : term == 2 ? 0.5 : 0) + macro +
                  1.6 * rn(&r);
    rate = round(100 * clampd(rate, 3, 36)) / 100;
    x[N_INTEREST_RATE] = rate;
    double mr = rate / 1200, nm = term_m[term];
    x[N_INSTALLMENT] = round(100 * amount * mr / (1 - pow(1 + mr, -nm))) / 100;

    double dti_raw = 17 * exp(-0.15 * q - 0.25 * cap + 0.45 * rn(&r));
    x[N_DEBT_TO_INCOME] = round(100 * clampd(dti_raw, 0, 80)) / 100;
    double dti = x[N_DEBT_TO_INCOME];

    double delinq = rpois(&r, exp(-1.7 - 0.9 * disc - 0.3 * q));
    x[N_DELINQ_2Y] = delinq;
    double msd = 1 + floor(24 * ru(&r));
    x[N_MONTHS_SINCE_DELINQ] = delinq > 0 ? msd : NAN; /* structural: none to date */
    double pubrec = rpois(&r, exp(-3.0 - 0.7 * q));
    x[N_PUBLIC_RECORDS] = pubrec;

    double prev = ru(&r) < 0.15 + 0.08 * t ? 1 + rpois(&r, 0.8 + 0.3 * t) : 0;
    x[N_PREVIOUS_LOANS] = prev;
    c[C_FIRSTLOAN] = prev > 0;

    double sav = 0;
    if (ru(&r) >= 0.1) {
        sav = exp(7.5 + 0.9 * cap + 0.3 * q + 0.9 * rn(&r));
        sav *= pow(ru(&r), -1 / 1.8);
    }
    x[N_SAVINGS_BALANCE] = round(sav);

    /* The remaining categoricals: some follow the latent factors, some are noise. */
    w[0] = 0.5 - 0.1 * linc; w[1] = 0.25; w[2] = 0.25 + 0.15 * linc;
    int verif = c[C_VERIF] = rcat(&r, w, 3);
    w[0] = age < 30 ? 0.7 : 0.3; w[1] = age < 30 ? 0.25 : 0.55; w[2] = age > 35 ? 0.12 : 0.03;
    w[3] = age > 60 ? 0.15 : 0.01;
    int marital = c[C_MARITAL] = rcat(&r, w, 4);
    w[0] = marital == 1 ? 0.85 : 0.97; w[1] = marital == 1 ? 0.15 : 0.03;
    c[C_APPTYPE] = rcat(&r, w, 2);
    w[0] = 0.35 - 0.1 * cap; w[1] = 0.15; w[2] = 0.30 + 0.08 * cap; w[3] = 0.12 + 0.05 * cap;
    w[4] = 0.02 + 0.01 * cap; w[5] = 0.06;
    c[C_EDU] = rcat(&r, w, 6);
    static const int src_of_emp[6] = {0, 1, 0, 3, 2, 3};
    c[C_INCSRC] = cap > 1.5 && ru(&r) < 0.3 ? 4 : src_of_emp[emp];
    w[0] = 0.35 + 0.04 * t; w[1] = 0.40 - 0.03 * t; w[2] = 0.12; w[3] = 0.10;
    int channel = c[C_CHANNEL] = rcat(&r, w, 4);
    w[0] = 0.6 - 0.1 * linc; w[1] = 0.4 + 0.1 * linc; w[2] = channel == 1 ? 1.2 : 0.1;
    c[C_DEVICE] = rcat(&r, w, 3);
    w[0] = 0.25 + 0.1 * linc; w[1] = 0.3; w[2] = 0.25; w[3] = 0.2 - 0.08 * linc;
    c[C_CITY] = rcat(&r, w, 4);
    for (int k = 0; k < 8; k++)
        w[k] = 1;
    w[4] = emp == 0 ? 1.5 : 0.3;
    int industry = c[C_INDUSTRY] = rcat(&r, w, 8);
    for (int k = 0; k < 10; k++)
        w[k] = 1;
    w[4] = 0.8 + 0.3 * cap; w[5] = 0.6 + 0.4 * cap; w[3] = 1.2 - 0.4 * cap;
    c[C_JOB] = rcat(&r, w, 10);
    int guarantor = c[C_GUARANTOR] = ru(&r) < (cs < -1 ? 0.15 : 0.05);
    int has_car = c[C_CAR] = ru(&r) < sigm(0.2 + 0.4 * cap);
    w[0] = 0.85; w[1] = has_car ? 0.08 : 0; w[2] = home == 1 ? 0.08 : 0.01; w[3] = 0.04;
    c[C_COLLATERAL] = rcat(&r, w, 4);
    w[0] = 0.55 + 0.1 * disc; w[1] = 0.3; w[2] = 0.15;
    int paymeth = c[C_PAYMETHOD] = rcat(&r, w, 3);
    c[C_FREQ] = ru(&r) < 0.1;
    c[C_PHONE] = ru(&r) < 0.07;
    w[0] = 0.7; w[1] = emp == 0 ? 0.25 : 0.05; w[2] = emp == 5 ? 0.5 : 0.02; w[3] = 0.05;
    c[C_EMAIL] = rcat(&r, w, 4);
    c[C_SOCIAL] = ru(&r) < (age < 30 ? 0.45 : 0.2);
    w[0] = 0.7; w[1] = 0.15; w[2] = 0.15;
    c[C_IDDOC] = rcat(&r, w, 3);
    c[C_CARD] = ru(&r) < sigm(0.4 + 0.6 * q);
    double kids = marital == 1 ? 1.2 : 0.3;
    w[0] = exp(-kids); w[1] = kids * w[0]; w[2] = kids * w[1] / 2; w[3] = 1 - w[0] - w[1] - w[2];
    c[C_DEPEND] = rcat(&r, w, 4);
    w[0] = home == 1 || home == 2 ? 0.6 : 0.2; w[1] = 0.4; w[2] = age < 30 ? 0.3 : 0.05;
    w[3] = 0.05;
    c[C_RESID] = rcat(&r, w, 4);
    w[0] = 0.15; w[1] = 0.25; w[2] = 0.25; w[3] = 0.25; w[4] = industry == 4 ? 3.0 : 0.05;
    c[C_EMPSIZE] = rcat(&r, w, 5);
    w[0] = 0.3; w[1] = 0.25; w[2] = 0.2; w[3] = 0.1; w[4] = 0.15;
    c[C_REFERRAL] = rcat(&r, w, 5);
    c[C_LISTING] = ru(&r) < 0.4;
    w[0] = 1.1; w[1] = 1; w[2] = 1; w[3] = 1; w[4] = 1; w[5] = 0.8; w[6] = 0.9; w[7] = 1;
    int region = c[C_REGION] = rcat(&r, w, 8);

    /* Twelve months of history: lateness from an AR(1) propensity with a
     * borrower-specific trend and, for some, a shock in the last half year;
     * utilisation drifts toward its level at issue. */
    double trend = 0.5 * rn(&r) - 0.25 * disc;
    int shock_month = ru(&r) < 0.12 ? 6 + (int)(6 * ru(&r)) : HIST;
    double shock = 1.2 + 0.5 * ru(&r);
    double utrend = 0.5 * rn(&r) + 0.4 * trend;
    double e = 0;
    double lu0 = log(util0 / (1 - util0));
    for (int k = 0; k < HIST; k++) {
        e = 0.6 * e + 0.8 * rn(&r);
        double a = -1.5 - 0.9 * disc + trend * (k - 5.5) / 5.5 + (k >= shock_month ? shock : 0) +
                   0.6 * e;
        L->late[k] = a > 0 ? fmin(120, floor(exp(1.6 + 0.9 * a + 0.5 * rn(&r)))) : 0;
        double lu = lu0 + utrend * (k - (HIST - 1)) / (HIST - 1) + 0.25 * rn(&r);
        L->util[k] = round(1000 * sigm(lu)) / 10;
    }

    /* ---- the default score: a function of the complete features and t only ---- */
    double recent = (L->late[HIST - 1] + L->late[HIST - 2] + L->late[HIST - 3]) / 3;
    double early = (L->late[0] + L->late[1] + L->late[2]) / 3;
    int n30 = 0;
    for (int k = 0; k < HIST; k++)
        n30 += L->late[k] > 30;
    int consec = L->late[HIST - 1] > 0 && L->late[HIST - 2] > 0;
    double util_trend = (L->util[HIST - 1] + L->util[HIST - 2] + L->util[HIST - 3]) / 3 -
                        (L->util[0] + L->util[1] + L->util[2]) / 3;
    double td = o->drift ? t : 2.5; /* without drift every loan sees mid-period coefficients */
    double s = 0;
    s += -0.1 * cs + 1.2 * (score_cs < 600) + 0.6 * (score_cs < 540);
    s += (0.04 + 0.024 * td) * pos(dti - 30); /* debt burden matters more each year */
    s += (-0.35 + 0.07 * td) * linc;            /* income matters less each year */
    s += 2.5 * pos(lti - 0.25) * (self_emp ? 2.0 : 1.0);
    s += x[N_INQUIRIES_6M] * (age < 30 ? 0.3 : 0.0);
    s += 0.5 * log1p(n30) + 0.07 * pos(recent - early) + 1.0 * consec;
    s += 0.03 * pos(util_trend);
    s += 0.008 * (age - 42) * (age - 42);
    s += (0.01 + 0.03 * td) * (rate - 14);
    int shock_period = o->drift && t >= T_SHOCK_START && t < T_SHOCK_END;
    static const double purpose_eff[10] = {0.15, 0, -0.05, 0.15, 0, 0.25, -0.1, 0.1, 0.1, 0.05};
    s += purpose == 3 && shock_period ? 1.5 : purpose_eff[purpose];
    if (o->drift && t >= T_MACRO_START && t < T_MACRO_END)
        s += 0.3;
    /* Seasonality: loans taken for the December holidays are riskier. */
    s += 0.6 * cos(6.283185307179586 * (t - 350.0 / 365.25));
    s += x[N_EMPLOYMENT_LENGTH] < 1 && emp != 4 ? 0.35 : 0;
    static const double home_eff[4] = {0.15, -0.1, -0.15, 0.05};
    s += home_eff[home];
    s += verif == 0 ? 0.2 : 0;
    /* Returning borrowers: good if their history is clean, bad if not. */
    s += n30 == 0 ? -0.35 * fmin(prev, 3) : 0.6 * (prev > 0);
    s += 0.2 * fmin(delinq, 4) + 0.35 * (pubrec > 0);
    /* Utilisation: a U; near-zero means a thin, inactive credit file. */
    s += 1.2 * (rev_util < 5) + 0.03 * pos(rev_util - 80);
    s += 0.6 * (amount < 1000);
    s += 0.06 * pos(dti - 25) * (linc < -0.3); /* debt hurts the poor more */
    s += 0.8 * (term == 3) * (cs < -0.5);
    s += region == 1 ? 0.15 : region == 5 ? -0.1 : 0;
    s += guarantor ? -0.3 : 0;
    s += paymeth == 0 ? -0.2 : 0;
    s += -0.12 * log1p(x[N_SAVINGS_BALANCE] / 1000);
    L->score = o->signal_scale * s;
}

/* Missingness for loan i, after the labels are drawn. */
static void punch_missing(uint64_t seed, long i, loan *L)
{
    srng r;
    srng_init(&r, seed, ST_MISS, (uint64_t)i);
    int *c = L->cat;
    double *x = L->num;
    /* MAR: depends on values that stay observed (mostly). */
    double mar[N_STATIC] = {0};
    mar[N_ANNUAL_INCOME] = c[C_EMPTYPE] == 1 ? 0.12 : 0;
    mar[N_DEBT_TO_INCOME] = c[C_VERIF] == 0 ? 0.10 : 0;
    mar[N_EMPLOYMENT_LENGTH] = c[C_EMPTYPE] == 3 || c[C_EMPTYPE] == 5 ? 0.5 : 0;
    mar[N_SAVINGS_BALANCE] = c[C_CHANNEL] == 2 ? 0.15 : 0;
    for (int j = 0; j < N_STATIC; j++)
        if (ru(&r) < num_mcar[j] + mar[j])
            x[j] = NAN;
    if (isnan(x[N_TOTAL_CREDIT_LIMIT]))
        x[N_REVOLVING_UTIL] = NAN; /* cannot be computed without the limit */
    for (int k = 0; k < HIST; k++) {
        if (ru(&r) < 0.01)
            L->late[k] = NAN;
        if (ru(&r) < 0.01)
            L->util[k] = NAN;
    }
    for (int j = 0; j < N_CAT; j++)
        if (ru(&r) < cat_specs[j].mcar)
            c[j] = -1;
}

void dr_synth_options_default(dr_synth_options *opt)
{
    opt->default_rate = 0.187;
    opt->missing = 1;
    opt->drift = 1;
    opt->signal_scale = 1.0;
    opt->n_threads = 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Allocates the table's columns (all or nothing). */
static dr_status alloc_table(dr_table *t, long n)
{
    memset(t, 0, sizeof *t);
    t->cols = calloc(N_COLS, sizeof *t->cols);
    t->source = strdup("synthetic");
    if (!t->cols || !t->source)
        goto nomem;
    t->n_cols = N_COLS;
    t->n_rows = n;
    for (int j = 0; j < N_COLS; j++) {
        dr_column *col = &t->cols[j];
        char name[64];
        if (j == COL_ID) {
            snprintf(name, sizeof name, "loan_id");
            col->kind = DR_COL_ID;
        } else if (j == COL_DATE) {
            snprintf(name, sizeof name, "issue_date");
            col->kind = DR_COL_DATE;
        } else if (j < COL_LATE0) {
            snprintf(name, sizeof name, "%s", num_names[j - COL_NUM0]);
            col->kind = DR_COL_NUMERIC;
        } else if (j < COL_UTIL0) {
            snprintf(name, sizeof name, "late_days_%d", j - COL_LATE0 + 1);
            col->kind = DR_COL_NUMERIC;
        } else if (j < COL_CAT0) {
            snprintf(name, sizeof name, "utilisation_%d", j - COL_UTIL0 + 1);
            col->kind = DR_COL_NUMERIC;
        } else if (j < COL_TARGET) {
            snprintf(name, sizeof name, "%s", cat_specs[j - COL_CAT0].name);
            col->kind = DR_COL_CATEGORICAL;
        } else {
            snprintf(name, sizeof name, "default");
            col->kind = DR_COL_TARGET;
        }
        col->name = strdup(name);
        if (!col->name)
            goto nomem;
        if (col->kind == DR_COL_NUMERIC || col->kind == DR_COL_DATE) {
            col->num = malloc((size_t)n * sizeof *col->num);
            if (!col->num)
                goto nomem;
            continue;
        }
        col->cat = malloc((size_t)n * sizeof *col->cat);
        int nl = j == COL_ID ? (int)n : j == COL_TARGET ? 2 : cat_specs[j - COL_CAT0].n;
        col->levels = calloc((size_t)nl, sizeof *col->levels);
        if (!col->cat || !col->levels)
            goto nomem;
        col->n_levels = nl;
        for (int k = 0; k < nl; k++) {
            char buf[32];
            const char *lv = buf;
            if (j == COL_ID)
                snprintf(buf, sizeof buf, "L%07d", k + 1);
            else if (j == COL_TARGET)
                lv = k ? "yes" : "no";
            else
                lv = cat_specs[j - COL_CAT0].levels[k];
            col->levels[k] = strdup(lv);
            if (!col->levels[k])
                goto nomem;
        }
    }
    return DR_OK;
nomem:
    dr_table_free(t);
    return dr_error(DR_ERR_NOMEM, "synth: out of memory for a table of %ld loans", n);
}

/* Issue dates: monthly volume grows 2.5 % a month and dips in 2020 Q2; the
 * day is uniform within the month. Sorted ascending (a counting sort over the
 * days of the period), so row order is time order. */
static dr_status draw_dates(uint64_t seed, long n, double *day)
{
    double cum[61];
    long start[61];
    cum[0] = 0;
    for (int m = 0; m < 60; m++) {
        int y = 2018 + m / 12, mo = m % 12 + 1;
        start[m] = dr_days_from_civil(y, mo, 1);
        double wgt = exp(0.025 * m) * (m >= 27 && m <= 29 ? 0.55 : 1.0);
        cum[m + 1] = cum[m] + wgt;
    }
    start[60] = dr_days_from_civil(2023, 1, 1);
    long span = start[60] - start[0];
    long *count = calloc((size_t)span, sizeof *count);
    if (!count)
        return dr_error(DR_ERR_NOMEM, "synth: date counts");
    for (long i = 0; i < n; i++) {
        srng r;
        srng_init(&r, seed, ST_DATE, (uint64_t)i);
        double u = ru(&r) * cum[60];
        int m = 0;
        while (m < 59 && u >= cum[m + 1])
            m++;
        long dd = start[m] + (long)(ru(&r) * (double)(start[m + 1] - start[m]));
        count[dd - start[0]]++;
    }
    long i = 0;
    for (long k = 0; k < span; k++)
        for (long c = 0; c < count[k]; c++)
            day[i++] = (double)(start[0] + k);
    free(count);
    return DR_OK;
}

dr_status dr_synth_generate(uint64_t seed, long n_loans, const dr_synth_options *opt,
                            dr_table *out, double **p_true, dr_synth_stats *stats)
{
    if (!out)
        return dr_error(DR_ERR_INVALID, "synth: out is NULL");
    memset(out, 0, sizeof *out);
    if (p_true)
        *p_true = NULL;
    dr_synth_options o;
    dr_synth_options_default(&o);
    if (opt)
        o = *opt;
    if (n_loans < 2 || n_loans > 100000000L)
        return dr_error(DR_ERR_INVALID, "synth: n_loans = %ld, expected 2 .. 1e8", n_loans);
    if (!(o.default_rate > 0 && o.default_rate < 1))
        return dr_error(DR_ERR_INVALID, "synth: default_rate = %g, expected in (0, 1)",
                        o.default_rate);
    if (!(o.signal_scale >= 0 && isfinite(o.signal_scale)))
        return dr_error(DR_ERR_INVALID, "synth: signal_scale = %g, expected >= 0",
                        o.signal_scale);
    long n_pos = lround(o.default_rate * (double)n_loans);
    if (n_pos < 1 || n_pos >= n_loans)
        return dr_error(DR_ERR_INVALID,
                        "synth: default_rate %g of %ld loans gives %ld defaults; need 1 .. n-1",
                        o.default_rate, n_loans, n_pos);

    DR_TRY(alloc_table(out, n_loans));
    loan *L = malloc((size_t)n_loans * sizeof *L);
    double *latent = malloc((size_t)n_loans * sizeof *latent);
    double *sorted = malloc((size_t)n_loans * sizeof *sorted);
    double *p = malloc((size_t)n_loans * sizeof *p);
    if (!L || !latent || !sorted || !p) {
        free(L);
        free(latent);
        free(sorted);
        free(p);
        dr_table_free(out);
        return dr_error(DR_ERR_NOMEM, "synth: out of memory for %ld loans", n_loans);
    }
    double *day = out->cols[COL_DATE].num;
    dr_status dst = draw_dates(seed, n_loans, day);
    if (dst != DR_OK) {
        free(L);
        free(latent);
        free(sorted);
        free(p);
        dr_table_free(out);
        return dst;
    }
    const double day0 = (double)dr_days_from_civil(2018, 1, 1);
    int nt = o.n_threads > 0 ? o.n_threads : omp_get_max_threads();

#pragma omp parallel for schedule(static) num_threads(nt)
    for (long i = 0; i < n_loans; i++) {
        gen_loan(seed, i, (day[i] - day0) / 365.25, &o, &L[i]);
        srng r;
        srng_init(&r, seed, ST_NOISE, (uint64_t)i);
        double u = ru(&r);
        latent[i] = L[i].score + log(u / (1 - u)); /* + standard logistic noise */
        sorted[i] = latent[i];
    }

    /* Intercept: the n_pos largest latent scores are the defaults, so put the
     * threshold -b midway between the n_pos-th and the next largest. */
    qsort(sorted, (size_t)n_loans, sizeof *sorted, cmp_double);
    double thr = 0.5 * (sorted[n_loans - n_pos] + sorted[n_loans - n_pos - 1]);
    double b = -thr;
    free(sorted);

    double sum_p = 0;
    long yes = 0, n_missing = 0;
#pragma omp parallel for schedule(static) num_threads(nt) \
    reduction(+ : sum_p, yes, n_missing)
    for (long i = 0; i < n_loans; i++) {
        loan *li = &L[i];
        p[i] = sigm(li->score + b);
        sum_p += p[i];
        int y = latent[i] + b > 0;
        yes += y;
        if (o.missing)
            punch_missing(seed, i, li);
        dr_table *t = out;
        t->cols[COL_ID].cat[i] = (int32_t)i;
        for (int j = 0; j < N_STATIC; j++) {
            t->cols[COL_NUM0 + j].num[i] = li->num[j];
            n_missing += isnan(li->num[j]);
        }
        for (int k = 0; k < HIST; k++) {
            t->cols[COL_LATE0 + k].num[i] = li->late[k];
            t->cols[COL_UTIL0 + k].num[i] = li->util[k];
            n_missing += isnan(li->late[k]) + isnan(li->util[k]);
        }
        for (int j = 0; j < N_CAT; j++) {
            t->cols[COL_CAT0 + j].cat[i] = li->cat[j];
            n_missing += li->cat[j] < 0;
        }
        t->cols[COL_TARGET].cat[i] = y;
    }
    free(L);
    free(latent);
    if (stats) {
        stats->intercept = b;
        stats->mean_p = sum_p / (double)n_loans;
        stats->default_rate = (double)yes / (double)n_loans;
        stats->missing_fraction =
            (double)n_missing / ((double)n_loans * (N_STATIC + 2 * HIST + N_CAT));
    }
    if (p_true)
        *p_true = p;
    else
        free(p);
    return DR_OK;
}

dr_status dr_synth_bayes_auc(const dr_table *t, const double *p_true, const long *rows,
                             long n_rows, double *auc)
{
    if (!t || !p_true || !auc)
        return dr_error(DR_ERR_INVALID, "synth_bayes_auc: null argument");
    int j = dr_table_find(t, "default");
    if (j < 0 || !t->cols[j].cat)
        return dr_error(DR_ERR_INVALID, "synth_bayes_auc: table has no categorical 'default'");
    if (!rows)
        n_rows = t->n_rows;
    if (n_rows <= 0)
        return dr_error(DR_ERR_INVALID, "synth_bayes_auc: n_rows = %ld", n_rows);
    const dr_column *c = &t->cols[j];
    int yes = -1;
    for (int k = 0; k < c->n_levels; k++)
        if (strcmp(c->levels[k], "yes") == 0)
            yes = k;
    if (yes < 0)
        return dr_error(DR_ERR_INVALID, "synth_bayes_auc: 'default' has no level \"yes\"");
    double *s = malloc((size_t)n_rows * sizeof *s);
    float *y = malloc((size_t)n_rows * sizeof *y);
    if (!s || !y) {
        free(s);
        free(y);
        return dr_error(DR_ERR_NOMEM, "synth_bayes_auc: %ld rows", n_rows);
    }
    dr_status st = DR_OK;
    for (long k = 0; k < n_rows; k++) {
        long i = rows ? rows[k] : k;
        if (i < 0 || i >= t->n_rows) {
            st = dr_error(DR_ERR_INVALID, "synth_bayes_auc: rows[%ld] = %ld outside 0..%ld", k, i,
                          t->n_rows - 1);
            break;
        }
        s[k] = p_true[i];
        y[k] = c->cat[i] == yes ? 1.0f : 0.0f;
    }
    if (st == DR_OK)
        st = dr_auc_f64(s, y, n_rows, auc);
    free(s);
    free(y);
    return st;
}
