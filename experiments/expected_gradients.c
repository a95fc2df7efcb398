/* Expected gradients over the autograd graph (experiments/expected_gradients.h). */
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "experiments/expected_gradients.h"

enum { DR_EG_STREAM = 0x45474153 /* "EGAS" */ };

typedef struct dr_eg_batch {
    int cap, d, s;    /* rows, flat inputs, sequence values per row */
    float *x, *seq, *y; /* inputs fed to the graph */
    float *gx, *gseq;   /* their gradients */
    float *z;           /* logits */
    long *bg_row;       /* each point's background row, for its x - b after the backward */
} dr_eg_batch;

static dr_status dr_eg_batch_alloc(dr_eg_batch *b, int cap, int d, int s)
{
    *b = (dr_eg_batch){.cap = cap, .d = d, .s = s};
    size_t n = (size_t)cap;
    b->x = malloc(n * (size_t)d * sizeof(float));
    b->gx = malloc(n * (size_t)d * sizeof(float));
    b->seq = malloc(n * (size_t)(s ? s : 1) * sizeof(float));
    b->gseq = malloc(n * (size_t)(s ? s : 1) * sizeof(float));
    b->y = calloc(n, sizeof(float));
    b->z = malloc(n * sizeof(float));
    b->bg_row = malloc(n * sizeof(long));
    if (!b->x || !b->gx || !b->seq || !b->gseq || !b->y || !b->z || !b->bg_row)
        return dr_error(DR_ERR_NOMEM, "expected gradients: out of host memory");
    return DR_OK;
}

static void dr_eg_batch_free(dr_eg_batch *b)
{
    free(b->x), free(b->gx), free(b->seq), free(b->gseq), free(b->y), free(b->z), free(b->bg_row);
}

/* Eval forward of the batch's first `rows` rows; with grads, also their
 * gradients of the logit. */
static dr_status dr_eg_run(const dr_model_io *m, dr_eg_batch *b, int rows, int grads)
{
    DR_TRY(dr_graph_set_input(m->g, m->x, b->x, rows));
    if (b->s)
        DR_TRY(dr_graph_set_input(m->g, m->seq, b->seq, rows));
    DR_TRY(dr_graph_set_input(m->g, m->y, b->y, rows));
    DR_TRY(dr_graph_forward(m->g, DR_MODE_EVAL));
    DR_TRY(dr_graph_read(m->g, m->logit, b->z));
    if (!grads)
        return DR_OK;
    DR_TRY(dr_graph_backward_output(m->g, m->logit));
    DR_TRY(dr_graph_read_grad(m->g, m->x, b->gx));
    return b->s ? dr_graph_read_grad(m->g, m->seq, b->gseq) : DR_OK;
}

/* The logits of the listed rows (all of them when idx is NULL). */
static dr_status dr_eg_logits(const dr_model_io *m, dr_eg_batch *b, const dr_rows *r, const long *idx, long n,
                              float *out)
{
    for (long start = 0; start < n; start += b->cap) {
        int rows = (int)(n - start < b->cap ? n - start : b->cap);
        for (int k = 0; k < rows; k++) {
            long i = idx ? idx[start + k] : start + k;
            memcpy(b->x + (size_t)k * b->d, r->x + i * b->d, (size_t)b->d * sizeof(float));
            if (b->s)
                memcpy(b->seq + (size_t)k * b->s, r->seq + i * b->s, (size_t)b->s * sizeof(float));
        }
        DR_TRY(dr_eg_run(m, b, rows, 0));
        memcpy(out + start, b->z, (size_t)rows * sizeof(float));
    }
    return DR_OK;
}

/* n_background distinct rows of [0, n_all), by a partial Fisher-Yates shuffle. */
static long *dr_eg_background(long n_all, long n_background, uint64_t seed)
{
    long *idx = malloc((size_t)(n_all ? n_all : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    for (long i = 0; i < n_all; i++)
        idx[i] = i;
    for (long i = 0; i < n_background; i++) {
        uint32_t u = dr_philox_block(seed, DR_EG_STREAM, 0, (uint32_t)i).v[0];
        long j = i + (long)(((uint64_t)u * (uint64_t)(n_all - i)) >> 32);
        long t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    return idx;
}

dr_status dr_expected_gradients(const dr_model_io *m, const dr_rows *rows, long n, const dr_rows *background,
                                long n_background, long samples, uint64_t seed, dr_eg_result *out)
{
    memset(out, 0, sizeof *out);
    const int d = rows->n_features, C = m->seq.id >= 0 ? rows->seq_channels : 0;
    const int S = m->seq.id >= 0 ? rows->seq_len * rows->seq_channels : 0;
    if (n_background < 1 || n_background > background->n || samples < 1 || n > rows->n)
        return dr_error(DR_ERR_INVALID, "expected gradients: %ld background rows of %ld, %ld samples, %ld rows of %ld",
                        n_background, background->n, samples, n, rows->n);
    dr_eg_batch b;
    long *bg = dr_eg_background(background->n, n_background, seed);
    double *acc = calloc((size_t)(n * d + n * C + 1), sizeof *acc);
    float *bg_logit = malloc((size_t)n_background * sizeof *bg_logit);
    out->phi = malloc((size_t)(n * (d + 1) + 1) * sizeof(float));
    out->phi_seq = C ? malloc((size_t)(n * C) * sizeof(float)) : NULL;
    out->logit = malloc((size_t)(n + 1) * sizeof(float));
    dr_status s = dr_eg_batch_alloc(&b, dr_graph_max_batch(m->g), d, S);
    if (s == DR_OK && (!bg || !acc || !bg_logit || !out->phi || (C && !out->phi_seq) || !out->logit))
        s = dr_error(DR_ERR_NOMEM, "expected gradients: out of host memory");
    if (s == DR_OK)
        s = dr_eg_logits(m, &b, background, bg, n_background, bg_logit);
    if (s == DR_OK)
        s = dr_eg_logits(m, &b, rows, NULL, n, out->logit);
    double base = 0;
    for (long j = 0; s == DR_OK && j < n_background; j++)
        base += bg_logit[j] / (double)n_background;

    /* Points (loan i, sample t) in order, a batch at a time: sample t of loan
     * i draws its background row and interpolation from Philox block
     * (seed, counter 1 + i, index t). */
    const long total = n * samples;
    for (long p0 = 0; s == DR_OK && p0 < total; p0 += b.cap) {
        int rows_now = (int)(total - p0 < b.cap ? total - p0 : b.cap);
        for (int k = 0; k < rows_now; k++) {
            long i = (p0 + k) / samples, t = (p0 + k) % samples;
            dr_philox_u4 r = dr_philox_block(seed, DR_EG_STREAM, 1 + (uint64_t)i, (uint32_t)t);
            long j = b.bg_row[k] = bg[((uint64_t)r.v[0] * (uint64_t)n_background) >> 32];
            float a = dr_uniform01(r.v[1]);
            const float *xi = rows->x + i * d, *xb = background->x + j * d;
            for (int f = 0; f < d; f++)
                b.x[(size_t)k * d + f] = xb[f] + a * (xi[f] - xb[f]);
            for (int f = 0; f < S; f++) {
                float si = rows->seq[i * S + f], sb = background->seq[j * S + f];
                b.seq[(size_t)k * S + f] = sb + a * (si - sb);
            }
        }
        s = dr_eg_run(m, &b, rows_now, 1);
        for (int k = 0; s == DR_OK && k < rows_now; k++) {
            long i = (p0 + k) / samples, j = b.bg_row[k];
            const float *xi = rows->x + i * d, *xb = background->x + j * d;
            for (int f = 0; f < d; f++)
                acc[i * d + f] += (double)(xi[f] - xb[f]) * b.gx[(size_t)k * d + f];
            for (int f = 0; f < S; f++) /* summed over steps, one value per channel */
                acc[n * d + i * C + f % C] +=
                    (double)(rows->seq[i * S + f] - background->seq[j * S + f]) * b.gseq[(size_t)k * S + f];
        }
    }
    for (long i = 0; s == DR_OK && i < n; i++) {
        for (int f = 0; f < d; f++)
            out->phi[i * (d + 1) + f] = (float)(acc[i * d + f] / (double)samples);
        out->phi[i * (d + 1) + d] = (float)base;
        for (int c = 0; c < C; c++)
            out->phi_seq[i * C + c] = (float)(acc[n * d + i * C + c] / (double)samples);
    }
    dr_eg_batch_free(&b);
    free(bg), free(acc), free(bg_logit);
    if (s != DR_OK)
        dr_eg_result_free(out);
    return s == DR_OK ? s : dr_error_context(s, "expected gradients: ");
}

void dr_eg_result_free(dr_eg_result *r)
{
    free(r->phi), free(r->phi_seq), free(r->logit);
    memset(r, 0, sizeof *r);
}
