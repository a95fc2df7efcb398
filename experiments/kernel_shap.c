/* Kernel SHAP and its k-means background (experiments/kernel_shap.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/compare.h"
#include "core/linalg.h"
#include "core/philox.h"
#include "experiments/kernel_shap.h"

enum { DR_KSHAP_STREAM = 0x4b534850 /* "KSHP" */, DR_KMEANS_STREAM = 0x4b4d4e53 /* "KMNS" */ };
enum { DR_KSHAP_CHUNK = 32768 }; /* composites per model call */

static uint32_t dr_draw_u32(uint64_t seed, uint32_t stream, uint64_t draw, uint32_t j)
{
    return dr_philox_block(seed, stream, draw, j >> 2).v[j & 3];
}

static double dr_draw_unit(uint64_t seed, uint32_t stream, uint64_t draw, uint32_t j)
{
    return dr_draw_u32(seed, stream, draw, j) * (1.0 / 4294967296.0);
}

/* --- background ------------------------------------------------------------------ */

/* Squared distance over the coordinates both have. */
static double dr_dist2(const float *a, const float *b, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++)
        if (!isnan(a[j]) && !isnan(b[j]))
            s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

/* The point of c [k, d] nearest row (the distance is symmetric: also the row of
 * c nearest a point). */
static long dr_closest(const float *row, const float *c, long k, int d)
{
    long best = 0;
    double bd = INFINITY;
    for (long i = 0; i < k; i++) {
        double v = dr_dist2(row, c + i * d, d);
        if (v < bd)
            bd = v, best = i;
    }
    return best;
}

/* k-means++: each further centre a row drawn with probability proportional to
 * its squared distance from the nearest centre so far. */
static void dr_kmeanspp(const float *x, long n, int d, long k, uint64_t seed, float *c, double *near2)
{
    long first = (long)(dr_draw_unit(seed, DR_KMEANS_STREAM, 0, 0) * (double)n);
    memcpy(c, x + first * d, (size_t)d * sizeof *c);
    for (long r = 0; r < n; r++)
        near2[r] = dr_dist2(x + r * d, c, d);
    for (long i = 1; i < k; i++) {
        double total = 0, acc = 0;
        for (long r = 0; r < n; r++)
            total += near2[r];
        double u = dr_draw_unit(seed, DR_KMEANS_STREAM, (uint64_t)i, 0) * total;
        long pick = n - 1;
        for (long r = 0; r < n && total > 0; r++)
            if ((acc += near2[r]) > u) {
                pick = r;
                break;
            }
        memcpy(c + i * d, x + pick * d, (size_t)d * sizeof *c);
        for (long r = 0; r < n; r++)
            near2[r] = fmin(near2[r], dr_dist2(x + r * d, c + i * d, d));
    }
}

/* The value of sorted[0 .. m) nearest v. */
static float dr_snap(const float *sorted, long m, float v)
{
    long lo = 0, hi = m;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (sorted[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m)
        return sorted[m - 1];
    return lo > 0 && v - sorted[lo - 1] <= sorted[lo] - v ? sorted[lo - 1] : sorted[lo];
}

/* Lloyd iterations from the centres in c; label [n] out. */
static void dr_lloyd(const float *x, long n, int d, long k, float *c, long *label, double *sum, long *cnt)
{
    for (long r = 0; r < n; r++)
        label[r] = -1;
    for (int it = 0; it < 300; it++) {
        long moved = 0;
        for (long r = 0; r < n; r++) {
            long l = dr_closest(x + r * d, c, k, d);
            moved += l != label[r];
            label[r] = l;
        }
        if (!moved)
            break;
        memset(sum, 0, (size_t)(k * d) * sizeof *sum);
        memset(cnt, 0, (size_t)(k * d) * sizeof *cnt);
        for (long r = 0; r < n; r++)
            for (int j = 0; j < d; j++)
                if (!isnan(x[r * d + j]))
                    sum[label[r] * d + j] += x[r * d + j], cnt[label[r] * d + j]++;
        for (long i = 0; i < k * d; i++) /* an input no row of the cluster has keeps its value */
            if (cnt[i])
                c[i] = (float)(sum[i] / (double)cnt[i]);
    }
}

dr_status dr_kshap_kmeans(const float *x, long n, int d, long k, uint64_t seed, dr_kshap_background *out)
{
    memset(out, 0, sizeof *out);
    if (k < 1 || k > n)
        return dr_error(DR_ERR_INVALID, "kernel SHAP: a background of %ld points from %ld rows", k, n);
    float *c = malloc((size_t)(k * d) * sizeof *c), *col = malloc((size_t)n * sizeof *col);
    double *near2 = malloc((size_t)n * sizeof *near2), *sum = malloc((size_t)(k * d) * sizeof *sum);
    long *label = malloc((size_t)n * sizeof *label), *cnt = malloc((size_t)(k * d) * sizeof *cnt);
    out->x = malloc((size_t)(k * d) * sizeof *out->x);
    out->w = calloc((size_t)k, sizeof *out->w);
    out->nearest = malloc((size_t)k * sizeof *out->nearest);
    dr_status s = DR_OK;
    if (!c || !col || !near2 || !sum || !label || !cnt || !out->x || !out->w || !out->nearest) {
        s = dr_error(DR_ERR_NOMEM, "kernel SHAP: out of host memory for the background");
        goto done;
    }
    dr_kmeanspp(x, n, d, k, seed, c, near2);
    dr_lloyd(x, n, d, k, c, label, sum, cnt);
    for (int j = 0; j < d; j++) { /* shap.kmeans: each value one that the input takes */
        long m = 0;
        for (long r = 0; r < n; r++)
            if (!isnan(x[r * d + j]))
                col[m++] = x[r * d + j];
        qsort(col, (size_t)m, sizeof *col, dr_cmp_float);
        for (long i = 0; i < k && m > 0; i++)
            if (!isnan(c[i * d + j]))
                c[i * d + j] = dr_snap(col, m, c[i * d + j]);
    }
    double *w = near2; /* reused: the cluster sizes */
    memset(w, 0, (size_t)k * sizeof *w);
    for (long r = 0; r < n; r++)
        w[label[r]] += 1.0 / (double)n;
    for (long i = 0; i < k; i++) { /* clusters left empty (fewer distinct rows than k) are dropped */
        if (w[i] == 0)
            continue;
        memcpy(out->x + out->k * d, c + i * d, (size_t)d * sizeof *c);
        out->w[out->k] = w[i];
        out->nearest[out->k] = dr_closest(c + i * d, x, n, d);
        out->k++;
    }
    out->d = d;
done:
    free(c), free(col), free(near2), free(sum), free(label), free(cnt);
    if (s != DR_OK)
        dr_kshap_background_free(out);
    return s;
}

void dr_kshap_background_free(dr_kshap_background *b)
{
    free(b->x), free(b->w), free(b->nearest);
    memset(b, 0, sizeof *b);
}

/* --- coalitions ------------------------------------------------------------------- */

typedef struct dr_design {
    int M;
    long n, cap;
    uint8_t *z; /* [cap, M] */
    double *w;  /* [cap] */
    long *slot; /* hash table of drawn coalitions: index into z, -1 empty */
    long n_slots;
} dr_design;

static uint64_t dr_hash(const uint8_t *z, int M)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int j = 0; j < M; j++)
        h = (h ^ z[j]) * 1099511628211ull;
    return h;
}

/* The index of coalition z among those added, or -1; *at is its hash slot. */
static long dr_find(const dr_design *D, const uint8_t *z, long *at)
{
    long i = (long)(dr_hash(z, D->M) & (uint64_t)(D->n_slots - 1));
    while (D->slot[i] >= 0 && memcmp(D->z + D->slot[i] * D->M, z, (size_t)D->M) != 0)
        i = (i + 1) & (D->n_slots - 1);
    *at = i;
    return D->slot[i];
}

static void dr_add(dr_design *D, const uint8_t *z, double w, int hashed)
{
    memcpy(D->z + D->n * D->M, z, (size_t)D->M);
    D->w[D->n] = w;
    if (hashed) {
        long at;
        dr_find(D, z, &at);
        D->slot[at] = D->n;
    }
    D->n++;
}

static double dr_binom(int n, int k)
{
    double r = 1;
    for (int i = 1; i <= k; i++)
        r = r * (n - k + i) / i;
    return r;
}

/* Every coalition of `size` players, and each one's complement when paired;
 * c [size] holds the combination's indices. */
static void dr_enumerate(dr_design *D, int size, int paired, double w, uint8_t *z, int *c)
{
    int M = D->M;
    for (int i = 0; i < size; i++)
        c[i] = i;
    for (;;) {
        memset(z, 0, (size_t)M);
        for (int i = 0; i < size; i++)
            z[c[i]] = 1;
        dr_add(D, z, w, 0);
        if (paired) {
            for (int j = 0; j < M; j++)
                z[j] ^= 1;
            dr_add(D, z, w, 0);
        }
        int i = size - 1;
        while (i >= 0 && c[i] == M - size + i)
            i--;
        if (i < 0)
            return;
        c[i]++;
        for (int t = i + 1; t < size; t++)
            c[t] = c[t - 1] + 1;
    }
}

/* Draws the remaining coalitions: sizes from full_sizes + 1 up, by weight. */
static void dr_draw(dr_design *D, const double *size_weight, int n_sizes, int full_sizes, int n_paired, long left,
                    uint64_t seed, uint8_t *z, int *perm)
{
    int M = D->M;
    if (M < 2)
        return;
    double total = 0;
    for (int i = full_sizes; i < n_sizes; i++)
        total += size_weight[i] / (i < n_paired ? 2 : 1);
    long first = D->n, draws = 4 * left;
    for (long t = 0; t < draws && left > 0; t++) {
        double u = dr_draw_unit(seed, DR_KSHAP_STREAM, (uint64_t)t, 0) * total, acc = 0;
        int size = n_sizes;
        for (int i = full_sizes; i < n_sizes; i++)
            if ((acc += size_weight[i] / (i < n_paired ? 2 : 1)) > u) {
                size = i + 1;
                break;
            }
        for (int j = 0; j < M; j++)
            perm[j] = j;
        memset(z, 0, (size_t)M);
        for (int j = 0; j < size; j++) { /* the first `size` of a random permutation */
            int r = j + (int)(dr_draw_u32(seed, DR_KSHAP_STREAM, (uint64_t)t, 1 + (uint32_t)j) % (uint32_t)(M - j));
            int tmp = perm[j];
            perm[j] = perm[r], perm[r] = tmp;
            z[perm[j]] = 1;
        }
        for (int pass = 0; pass < 1 + (size <= n_paired) && left > 0; pass++) {
            if (pass)
                for (int j = 0; j < M; j++)
                    z[j] ^= 1;
            long at, i = dr_find(D, z, &at);
            if (i >= 0)
                D->w[i] += 1;
            else
                dr_add(D, z, 1, 1), left--;
        }
    }
    double drawn = 0, share = 0;
    for (long i = first; i < D->n; i++)
        drawn += D->w[i];
    for (int i = full_sizes; i < n_sizes; i++)
        share += size_weight[i];
    for (long i = first; i < D->n; i++)
        D->w[i] *= share / drawn;
}

static void dr_design_free(dr_design *D)
{
    free(D->z), free(D->w), free(D->slot);
    memset(D, 0, sizeof *D);
}

static dr_status dr_design_make(int M, long samples, uint64_t seed, dr_design *D)
{
    memset(D, 0, sizeof *D);
    if (M <= 30 && samples > (1L << M) - 2)
        samples = (1L << M) - 2;
    int n_sizes = M / 2, n_paired = (M - 1) / 2; /* ceil((M - 1) / 2), floor((M - 1) / 2) */
    D->M = M;
    D->cap = samples;
    for (D->n_slots = 1; D->n_slots < 2 * samples + 2;)
        D->n_slots *= 2;
    D->z = malloc((size_t)(samples * M));
    D->w = malloc((size_t)samples * sizeof *D->w);
    D->slot = malloc((size_t)D->n_slots * sizeof *D->slot);
    double *size_weight = malloc((size_t)(n_sizes + 1) * sizeof *size_weight);
    uint8_t *z = malloc((size_t)M);
    int *perm = malloc((size_t)M * sizeof *perm);
    if (!D->z || !D->w || !D->slot || !size_weight || !z || !perm) {
        free(size_weight), free(z), free(perm);
        dr_design_free(D);
        return dr_error(DR_ERR_NOMEM, "kernel SHAP: out of host memory for %ld coalitions", samples);
    }
    for (long i = 0; i < D->n_slots; i++)
        D->slot[i] = -1;
    /* the Shapley kernel's total weight of each size, a size and its complement together when paired */
    double total = 0;
    for (int s = 1; s <= n_sizes; s++)
        total += size_weight[s - 1] = (M - 1.0) / (s * (double)(M - s)) * (s <= n_paired ? 2 : 1);
    for (int s = 0; s < n_sizes; s++)
        size_weight[s] /= total;
    int full = 0;
    long left = samples;
    double remaining = 1;
    for (int s = 1; s <= n_sizes; s++) {
        double count = dr_binom(M, s) * (s <= n_paired ? 2 : 1);
        if (left * (size_weight[s - 1] / remaining) / count < 1 - 1e-8)
            break;
        dr_enumerate(D, s, s <= n_paired, size_weight[s - 1] / count, z, perm);
        left -= (long)count;
        remaining -= size_weight[s - 1];
        full++;
    }
    if (full < n_sizes) {
        for (long i = 0; i < D->n; i++) { /* enumerated coalitions are in the table too */
            long at;
            dr_find(D, D->z + i * M, &at);
            D->slot[at] = i;
        }
        dr_draw(D, size_weight, n_sizes, full, n_paired, left, seed, z, perm);
    }
    free(size_weight), free(z), free(perm);
    return DR_OK;
}

dr_status dr_kshap_design(int M, long samples, uint64_t seed, uint8_t **z, double **w, long *n)
{
    dr_design D;
    DR_TRY(dr_design_make(M, samples, seed, &D));
    *z = D.z, *w = D.w, *n = D.n;
    free(D.slot);
    return DR_OK;
}

/* --- one loan --------------------------------------------------------------------- */

/* y [rows, n_out]: the background-weighted output of each coalition row of
 * `take` [rows, players] (row 0 alone at point 0: the loan itself). */
static dr_status dr_coalition_values(const dr_kshap_game *g, const uint8_t *take, long rows, double *y)
{
    long k = g->bg->k, per = DR_KSHAP_CHUNK / k > 0 ? DR_KSHAP_CHUNK / k : 1;
    long cap = per * k;
    uint8_t *t = malloc((size_t)(cap * g->players));
    long *point = malloc((size_t)cap * sizeof *point);
    double *out = malloc((size_t)(cap * g->n_out) * sizeof *out);
    dr_status s = t && point && out ? DR_OK : dr_error(DR_ERR_NOMEM, "kernel SHAP: out of host memory");
    for (long r0 = 0; r0 < rows && s == DR_OK; r0 += per) {
        long nr = rows - r0 < per ? rows - r0 : per, n = 0;
        for (long r = r0; r < r0 + nr; r++)
            for (long b = 0; b < (r == 0 ? 1 : k); b++) {
                memcpy(t + n * g->players, take + r * g->players, (size_t)g->players);
                point[n++] = b;
            }
        s = g->f(g->ctx, t, point, n, out);
        for (long r = r0, i = 0; r < r0 + nr && s == DR_OK; r++) {
            long nb = r == 0 ? 1 : k;
            for (int o = 0; o < g->n_out; o++) {
                double v = 0;
                for (long b = 0; b < nb; b++)
                    v += (r == 0 ? 1 : g->bg->w[b]) * out[(i + b) * g->n_out + o];
                y[r * g->n_out + o] = v;
            }
            i += nb;
        }
    }
    free(t), free(point), free(out);
    return s;
}

/* The constrained weighted least squares: phi [M] with sum phi = delta. */
static dr_status dr_solve(const dr_design *D, const double *y, int n_out, int o, double base, double delta,
                          double *A, double *b, double *phi)
{
    int M = D->M, q = M - 1;
    memset(A, 0, (size_t)(q * q) * sizeof *A);
    memset(b, 0, (size_t)q * sizeof *b);
    for (long i = 0; i < D->n; i++) { /* the last player's value is delta minus the others' */
        const uint8_t *z = D->z + i * M;
        double last = z[M - 1], t = y[i * n_out + o] - base - last * delta, w = D->w[i];
        for (int a = 0; a < q; a++) {
            double xa = z[a] - last;
            if (xa == 0)
                continue;
            b[a] += w * xa * t;
            for (int c = 0; c <= a; c++)
                A[a * q + c] += w * xa * (z[c] - last);
        }
    }
    if (!dr_cholesky(A, q))
        return dr_error(DR_ERR_NUMERIC, "kernel SHAP: %ld coalitions do not determine the values of %d inputs "
                        "(too few samples for the regression)", D->n, M);
    dr_cholesky_solve(A, b, q);
    double sum = 0;
    for (int a = 0; a < q; a++)
        phi[a] = b[a], sum += b[a];
    phi[q] = delta - sum;
    return DR_OK;
}

dr_status dr_kernel_shap(const dr_kshap_game *g, long samples, uint64_t seed, double *phi, double *fx)
{
    int P = g->players, M = 0, n_out = g->n_out;
    int *var = malloc((size_t)(P ? P : 1) * sizeof *var);
    if (!var)
        return dr_error(DR_ERR_NOMEM, "kernel SHAP: out of host memory");
    for (int p = 0; p < P; p++)
        if (g->varying[p])
            var[M++] = p;
    dr_design D = {0};
    dr_status s = M >= 2 ? dr_design_make(M, samples, seed, &D) : DR_OK;
    long rows = 2 + D.n;
    uint8_t *take = s == DR_OK ? malloc((size_t)(rows * P) + 1) : NULL;
    double *y = malloc((size_t)(rows * n_out) * sizeof *y);
    double *A = malloc((size_t)(M * M + 1) * sizeof *A), *b = malloc((size_t)(M + 1) * sizeof *b);
    double *val = malloc((size_t)(M + 1) * sizeof *val);
    if (s == DR_OK && (!take || !y || !A || !b || !val))
        s = dr_error(DR_ERR_NOMEM, "kernel SHAP: out of host memory for %ld coalitions", D.n);
    if (s == DR_OK) { /* row 0 the loan, row 1 the background alone, then the design */
        memset(take, 1, (size_t)(rows * P));
        for (int m = 0; m < M; m++)
            take[P + var[m]] = 0;
        for (long i = 0; i < D.n; i++)
            for (int m = 0; m < M; m++)
                take[(2 + i) * P + var[m]] = D.z[i * M + m];
        s = dr_coalition_values(g, take, rows, y);
    }
    for (int o = 0; o < n_out && s == DR_OK; o++) {
        double *out = phi + o * (P + 1), f = y[o], base = y[n_out + o];
        memset(out, 0, (size_t)P * sizeof *out);
        out[P] = base;
        fx[o] = f;
        if (M == 1)
            out[var[0]] = f - base;
        if (M >= 2)
            s = dr_solve(&D, y + 2 * n_out, n_out, o, base, f - base, A, b, val);
        for (int m = 0; m < M && M >= 2 && s == DR_OK; m++)
            out[var[m]] = val[m];
    }
    free(var), free(take), free(y), free(A), free(b), free(val);
    dr_design_free(&D);
    return s;
}
