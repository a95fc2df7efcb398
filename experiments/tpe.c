#include "experiments/tpe_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dr_tpe_options_default(dr_tpe_options *o)
{
    o->n_startup = 10;
    o->n_ei_candidates = 24;
    o->gamma = 0.1;
    o->gamma_cap = 25;
    o->prior_weight = 1.0;
    o->maximize = 0;
    o->consider_endpoints = 0;
    o->multivariate = 1;
}

dr_status dr_tpe_create(dr_tpe **out, const dr_tpe_space *space, uint64_t seed,
                        const dr_tpe_options *o)
{
    if (!out || !space)
        return dr_error(DR_ERR_INVALID, "tpe_create: null argument");
    *out = NULL;
    if (space->n_params < 1 || space->n_params > DR_TPE_MAX_PARAMS)
        return dr_error(DR_ERR_INVALID, "tpe_create: %d parameters, expected 1 .. %d",
                        space->n_params, DR_TPE_MAX_PARAMS);
    dr_tpe_options opt;
    dr_tpe_options_default(&opt);
    if (o)
        opt = *o;
    if (opt.n_startup < 0 || opt.n_ei_candidates < 1 || !(opt.gamma > 0.0 && opt.gamma <= 1.0) ||
        opt.gamma_cap < 1 || !(opt.prior_weight > 0.0) || !isfinite(opt.prior_weight))
        return dr_error(DR_ERR_INVALID,
                        "tpe_create: bad options (n_startup %d >= 0, n_ei_candidates %d >= 1, "
                        "gamma %g in (0, 1], gamma_cap %d >= 1, prior_weight %g > 0)",
                        opt.n_startup, opt.n_ei_candidates, opt.gamma, opt.gamma_cap,
                        opt.prior_weight);
    dr_tpe *t = calloc(1, sizeof *t);
    if (!t)
        return dr_error(DR_ERR_NOMEM, "tpe_create: sampler");
    t->space = *space;
    t->o = opt;
    t->seed = seed;
    *out = t;
    return DR_OK;
}

void dr_tpe_free(dr_tpe *t)
{
    if (!t)
        return;
    free(t->obs);
    for (int j = 0; j < DR_TPE_MAX_PARAMS; j++)
        free(t->by_value[j]);
    free(t);
}

static double sample_uniform(const dr_tpe_param *p, dr_philox_stream *r)
{
    if (p->kind == DR_TPE_CATEGORICAL) {
        int c = (int)(tpe_rng_u01(r) * p->n_choices);
        return c < p->n_choices ? c : p->n_choices - 1;
    }
    double a, b;
    tpe_internal_range(p, &a, &b);
    return tpe_from_internal(p, a + tpe_rng_u01(r) * (b - a));
}

/* Optuna's default weights: the newest 25 trials of a group weigh 1, older ones ramp
 * linearly from 1/m up (so a long study slowly forgets its start). rank is the
 * trial's position in told order within the group of m. */
static double age_weight(long rank, long m)
{
    if (m < 25)
        return 1.0;
    long ramp = m - 25;
    if (rank >= ramp)
        return 1.0;
    if (ramp == 1)
        return 1.0 / (double)m;
    return 1.0 / (double)m + (1.0 - 1.0 / (double)m) * (double)rank / (double)(ramp - 1);
}

/* Sort keys copied out of the history, so the comparators need no global context. */
typedef struct tpe_key {
    int rank_class; /* 0 completed, 1 pruned, 2 running (a constant liar) */
    double loss;
    long order, idx;
} tpe_key;

/* Completed trials first by loss, then pruned ones, then running ones (Optuna's
 * constant liar: a running trial counts as worse than any finished one); ties by
 * told order. */
static int rank_cmp(const void *p, const void *q)
{
    const tpe_key *x = p, *y = q;
    if (x->rank_class != y->rank_class)
        return x->rank_class < y->rank_class ? -1 : 1;
    if (x->rank_class == 0 && x->loss != y->loss)
        return x->loss < y->loss ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Moves the nb best keys by rank_cmp to the front, in rank order (the others in
 * any order): one comparison per key with the current nb-th best, mostly. */
static void rank_best(tpe_key *keys, long m, long nb)
{
    for (long i = 0, have = 0; i < m && nb > 0; i++) {
        if (have == nb && rank_cmp(&keys[i], &keys[nb - 1]) >= 0)
            continue;
        tpe_key k = keys[i];
        long at = have < nb ? have++ : nb - 1;
        if (at != i)
            keys[i] = keys[at];
        while (at > 0 && rank_cmp(&k, &keys[at - 1]) < 0) {
            keys[at] = keys[at - 1];
            at--;
        }
        keys[at] = k;
    }
}

/* The good set (the first nb of the ranked keys) and the bad set (the other m - nb),
 * each as observation indices in told order into idx and idx + nb, weighted by age
 * within its set; set is scratch of n_obs. */
static void split_sets(const tpe_key *keys, long m, long nb, long n_obs, unsigned char *set, long *idx,
                       double *w_by_obs)
{
    for (long i = 0; i < n_obs; i++)
        set[i] = 0;
    for (long r = 0; r < m; r++)
        set[keys[r].idx] = r < nb ? 1 : 2;
    long good = 0, bad = nb;
    for (long i = 0; i < n_obs; i++)
        if (set[i])
            idx[set[i] == 1 ? good++ : bad++] = i;
    for (long r = 0; r < nb; r++)
        w_by_obs[idx[r]] = age_weight(r, nb);
    for (long r = 0; r < m - nb; r++)
        w_by_obs[idx[nb + r]] = age_weight(r, m - nb);
}

/* Scratch of one suggestion over a history of n observations. */
typedef struct tpe_work {
    double *mem;     /* two estimators, the candidates and their log-pdf terms */
    tpe_pair *pairs;
    long *active, *pos;
    unsigned char *set;
} tpe_work;

/* Values of the parameters dims[0 .. nd) by l(x) / g(x) over n_ei_candidates draws
 * from l; below / above are observation indices; only the observations where all
 * of dims were active are fitted. */
static void suggest_group(const dr_tpe *t, const int *dims, int nd, const long *below, long nb, const long *above,
                          long na, const double *w_by_obs, tpe_work *wk, dr_philox_stream *r, double *out)
{
    long *act_b = wk->active, *act_a, nb_act = 0, na_act = 0;
    for (long i = 0; i < nb; i++) {
        int on = 1;
        for (int d = 0; d < nd; d++)
            on &= !isnan(t->obs[below[i]].v[dims[d]]);
        if (on)
            act_b[nb_act++] = below[i];
    }
    act_a = act_b + nb_act;
    for (long i = 0; i < na; i++) {
        int on = 1;
        for (int d = 0; d < nd; d++)
            on &= !isnan(t->obs[above[i]].v[dims[d]]);
        if (on)
            act_a[na_act++] = above[i];
    }
    long n = t->n_obs + 1, ne = t->o.n_ei_candidates;
    double *mem = wk->mem;
    tpe_kde l = {.nd = nd, .dims = dims}, g = {.nd = nd, .dims = dims};
    /* laid out for components of the whole history; each mixture uses k = its
     * observations + 1 of them, with stride k */
    double **per_component[] = {&l.w, &l.logw, &g.w, &g.logw};
    double **per_dim[] = {&l.mu, &l.sigma, &l.logz, &g.mu, &g.sigma, &g.logz};
    for (int a = 0; a < 4; a++, mem += n)
        *per_component[a] = mem;
    for (int a = 0; a < 6; a++, mem += (long)nd * n)
        *per_dim[a] = mem;
    double *terms = mem, *col = terms + ne * n, *x = col + (ne + 1) * n, *score_l = x + ne * DR_TPE_MAX_PARAMS,
           *score_g = score_l + ne;
    tpe_kde_fit(&l, t, act_b, nb_act, w_by_obs, wk->pairs, wk->pos);
    tpe_kde_fit(&g, t, act_a, na_act, w_by_obs, wk->pairs, wk->pos);
    for (int e = 0; e < ne; e++)
        tpe_kde_sample(&l, &t->space, r, x + e * DR_TPE_MAX_PARAMS);
    tpe_kde_logp(&l, &t->space, x, (int)ne, score_l, terms, col);
    tpe_kde_logp(&g, &t->space, x, (int)ne, score_g, terms, col);
    int best = 0;
    for (int e = 1; e < ne; e++)
        if (score_l[e] - score_g[e] > score_l[best] - score_g[best])
            best = e;
    for (int d = 0; d < nd; d++)
        out[dims[d]] = x[best * DR_TPE_MAX_PARAMS + dims[d]];
}

dr_status dr_tpe_suggest(dr_tpe *t, dr_tpe_trial *out)
{
    if (!t)
        return dr_error(DR_ERR_INVALID, "tpe_suggest: null argument");
    DR_TRY(dr_tpe_suggest_at(t, t->n_suggested, NULL, 0, out));
    t->n_suggested++;
    return DR_OK;
}

/* Appends the running trials to the history as liars for one suggestion. */
static dr_status add_liars(dr_tpe *t, const dr_tpe_trial *running, int n_running)
{
    if (t->n_obs + n_running > t->cap) {
        long cap = t->n_obs + n_running + 64;
        tpe_obs *o = realloc(t->obs, (size_t)cap * sizeof *o);
        if (!o)
            return dr_error(DR_ERR_NOMEM, "tpe_suggest: history of %ld trials", cap);
        t->obs = o;
        t->cap = cap;
    }
    for (int i = 0; i < n_running; i++) {
        tpe_obs *o = &t->obs[t->n_obs + i];
        memset(o, 0, sizeof *o);
        memcpy(o->v, running[i].v, sizeof o->v);
        o->state = DR_TPE_RUNNING;
        o->loss = NAN;
        o->order = t->n_obs + i;
        o->number = running[i].number;
    }
    t->n_obs += n_running;
    return DR_OK;
}

static dr_status suggest_with_history(dr_tpe *t, long number, long n_running, dr_tpe_trial *out);

dr_status dr_tpe_suggest_at(dr_tpe *t, long number, const dr_tpe_trial *running, int n_running,
                            dr_tpe_trial *out)
{
    if (!t || !out || number < 0 || n_running < 0 || (n_running > 0 && !running))
        return dr_error(DR_ERR_INVALID, "tpe_suggest_at: null argument or negative count");
    DR_TRY(add_liars(t, running, n_running));
    dr_status s = suggest_with_history(t, number, n_running, out);
    t->n_obs -= n_running;
    return s;
}

static dr_status suggest_with_history(dr_tpe *t, long number, long n_running, dr_tpe_trial *out)
{
    long n_complete = 0, n_used = 0;
    for (long i = 0; i < t->n_obs - n_running; i++) {
        n_complete += t->obs[i].state == DR_TPE_COMPLETE;
        n_used += t->obs[i].state != DR_TPE_FAILED;
    }
    /* Optuna: the start-up count and the size of the good set are of finished
     * trials; the liars join the bad set */
    long nb = (long)ceil(t->o.gamma * (double)n_used);
    nb = nb > t->o.gamma_cap ? t->o.gamma_cap : nb;
    nb = nb > n_complete ? n_complete : nb;
    memset(out, 0, sizeof *out);
    out->number = number;
    if (n_used < t->o.n_startup || nb < 1) {
        for (int j = 0; j < t->space.n_params; j++) {
            dr_philox_stream r;
            dr_philox_stream_init(&r, t->seed, 0x54504500u + (uint32_t)j, (uint64_t)number);
            out->v[j] = sample_uniform(&t->space.p[j], &r);
        }
        return DR_OK;
    }
    long n = t->n_obs + 1;
    int nd_max = t->space.n_params;
    long *idx = malloc((size_t)n * sizeof *idx);
    tpe_key *keys = malloc((size_t)n * sizeof *keys);
    double *w_by_obs = malloc((size_t)n * sizeof *w_by_obs);
    size_t ne = (size_t)t->o.n_ei_candidates;
    tpe_work wk = {malloc(((size_t)n * (4 + 6 * (size_t)nd_max + 2 * ne + 1) + ne * (DR_TPE_MAX_PARAMS + 2)) *
                          sizeof(double)),
                   malloc((size_t)n * sizeof(tpe_pair)), malloc((size_t)n * sizeof(long)),
                   malloc((size_t)n * sizeof(long)), malloc((size_t)n)};
    dr_status s = DR_OK;
    if (!idx || !keys || !w_by_obs || !wk.mem || !wk.pairs || !wk.active || !wk.pos || !wk.set) {
        s = dr_error(DR_ERR_NOMEM, "tpe_suggest: scratch for %ld trials", t->n_obs);
        goto done;
    }
    for (long i = 0; i < n; i++)
        wk.pos[i] = -1;
    long m = 0;
    for (long i = 0; i < t->n_obs; i++)
        if (t->obs[i].state != DR_TPE_FAILED) {
            keys[m].rank_class = t->obs[i].state == DR_TPE_COMPLETE ? 0 : t->obs[i].state == DR_TPE_PRUNED ? 1 : 2;
            keys[m].loss = t->obs[i].loss;
            keys[m].order = t->obs[i].order;
            keys[m].idx = i;
            m++;
        }
    rank_best(keys, m, nb);
    split_sets(keys, m, nb, t->n_obs, wk.set, idx, w_by_obs);
    /* multivariate: the parameters active in every finished trial (Optuna's
     * intersection search space) are drawn jointly; the rest one by one */
    int joint[DR_TPE_MAX_PARAMS], n_joint = 0;
    for (int j = 0; j < t->space.n_params && t->o.multivariate; j++) {
        int always = 1;
        for (long i = 0; i < t->n_obs - n_running && always; i++)
            always = t->obs[i].state == DR_TPE_FAILED || !isnan(t->obs[i].v[j]);
        if (always)
            joint[n_joint++] = j;
    }
    if (n_joint > 0) {
        dr_philox_stream r;
        dr_philox_stream_init(&r, t->seed, 0x54504D00u, (uint64_t)number);
        suggest_group(t, joint, n_joint, idx, nb, idx + nb, m - nb, w_by_obs, &wk, &r, out->v);
    }
    for (int j = 0, next = 0; j < t->space.n_params; j++) {
        if (next < n_joint && joint[next] == j) {
            next++;
            continue;
        }
        dr_philox_stream r;
        dr_philox_stream_init(&r, t->seed, 0x54504500u + (uint32_t)j, (uint64_t)number);
        suggest_group(t, &j, 1, idx, nb, idx + nb, m - nb, w_by_obs, &wk, &r, out->v);
    }
done:
    free(idx);
    free(keys);
    free(w_by_obs);
    free(wk.mem);
    free(wk.pairs);
    free(wk.active);
    free(wk.pos);
    free(wk.set);
    return s;
}

dr_status dr_tpe_tell(dr_tpe *t, const dr_tpe_trial *trial, dr_tpe_state state, double objective)
{
    if (!t || !trial)
        return dr_error(DR_ERR_INVALID, "tpe_tell: null argument");
    if (state != DR_TPE_COMPLETE && state != DR_TPE_PRUNED && state != DR_TPE_FAILED)
        return dr_error(DR_ERR_INVALID, "tpe_tell: unknown trial state %d", (int)state);
    if (state == DR_TPE_COMPLETE && !isfinite(objective))
        return dr_error(DR_ERR_NUMERIC,
                        "tpe_tell: trial %ld completed with objective %g; tell it as "
                        "DR_TPE_FAILED instead",
                        trial->number, objective);
    for (int j = 0; j < t->space.n_params; j++) {
        const dr_tpe_param *p = &t->space.p[j];
        double v = trial->v[j];
        if (isnan(v)) /* inactive: a conditional parameter whose condition was false */
            continue;
        if (!(v >= p->lo && v <= p->hi) || ((tpe_is_int(p->kind) || p->kind == DR_TPE_CATEGORICAL) &&
                                            v != floor(v)))
            return dr_error(DR_ERR_INVALID, "tpe_tell: trial %ld: '%s' = %g outside its space",
                            trial->number, p->name, v);
    }
    if (t->n_obs == t->cap) {
        long cap = t->cap ? 2 * t->cap : 64;
        tpe_obs *o = realloc(t->obs, (size_t)cap * sizeof *o);
        if (!o)
            return dr_error(DR_ERR_NOMEM, "tpe_tell: history of %ld trials", cap);
        t->obs = o;
        t->cap = cap;
    }
    for (int j = 0; j < t->space.n_params && t->n_obs == t->by_value_cap; j++) {
        long *b = realloc(t->by_value[j], (size_t)(2 * t->by_value_cap + 64) * sizeof *b);
        if (!b)
            return dr_error(DR_ERR_NOMEM, "tpe_tell: history of %ld trials", t->n_obs);
        t->by_value[j] = b;
    }
    if (t->n_obs == t->by_value_cap)
        t->by_value_cap = 2 * t->by_value_cap + 64;
    tpe_obs *o = &t->obs[t->n_obs];
    memset(o, 0, sizeof *o);
    memcpy(o->v, trial->v, sizeof o->v);
    o->state = state;
    o->loss = state == DR_TPE_COMPLETE ? (t->o.maximize ? -objective : objective) : NAN;
    o->order = t->n_obs;
    o->number = trial->number;
    for (int j = 0; j < t->space.n_params; j++) {
        if (t->space.p[j].kind == DR_TPE_CATEGORICAL || isnan(o->v[j]))
            continue;
        long *b = t->by_value[j], lo = 0, hi = t->n_by_value[j];
        while (lo < hi) { /* after every equal value: ties stay in told order */
            long mid = lo + (hi - lo) / 2;
            if (t->obs[b[mid]].v[j] <= o->v[j])
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(b + lo + 1, b + lo, (size_t)(t->n_by_value[j] - lo) * sizeof *b);
        b[lo] = t->n_obs;
        t->n_by_value[j]++;
    }
    t->n_told = ++t->n_obs;
    return DR_OK;
}

dr_status dr_tpe_best(const dr_tpe *t, dr_tpe_trial *trial, double *objective)
{
    if (!t)
        return dr_error(DR_ERR_INVALID, "tpe_best: null sampler");
    long best = -1;
    for (long i = 0; i < t->n_obs; i++)
        if (t->obs[i].state == DR_TPE_COMPLETE && (best < 0 || t->obs[i].loss < t->obs[best].loss))
            best = i;
    if (best < 0)
        return dr_error(DR_ERR_INVALID, "tpe_best: no completed trial among %ld told", t->n_obs);
    if (trial) {
        memset(trial, 0, sizeof *trial);
        trial->number = t->obs[best].number;
        memcpy(trial->v, t->obs[best].v, sizeof trial->v);
    }
    if (objective)
        *objective = t->o.maximize ? -t->obs[best].loss : t->obs[best].loss;
    return DR_OK;
}

void dr_tpe_counts(const dr_tpe *t, long *n_complete, long *n_pruned, long *n_failed)
{
    long c[4] = {0, 0, 0, 0};
    for (long i = 0; t && i < t->n_obs; i++)
        c[t->obs[i].state]++;
    if (n_complete)
        *n_complete = c[DR_TPE_COMPLETE];
    if (n_pruned)
        *n_pruned = c[DR_TPE_PRUNED];
    if (n_failed)
        *n_failed = c[DR_TPE_FAILED];
}

dr_status dr_tpe_to_simplex(double *w, const double *raw, int k)
{
    if (!w || !raw || k < 1)
        return dr_error(DR_ERR_INVALID, "tpe_to_simplex: null argument or k = %d", k);
    double s = 0.0;
    for (int i = 0; i < k; i++) {
        if (!(raw[i] >= 0.0) || !isfinite(raw[i]))
            return dr_error(DR_ERR_INVALID, "tpe_to_simplex: raw[%d] = %g, expected >= 0", i,
                            raw[i]);
        s += raw[i];
    }
    for (int i = 0; i < k; i++)
        w[i] = s > 0.0 ? raw[i] / s : 1.0 / k;
    return DR_OK;
}
