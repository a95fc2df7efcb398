/* LSTM over a whole sequence, zero initial state, gate order i, f, g, o (PyTorch).
 *   x [B, T, I], w_ih [4H, I], w_hh [4H, H], b [4H]
 *   -> h [B, T, H] (every step's hidden state)
 * Saved for backward: c [B, T, H] (cell states) and gates [B, T, 4H] holding the
 * activated gates (sigmoid i, f, o; tanh g).
 *   gates_t = x_t w_ih^T + h_{t-1} w_hh^T + b
 *   c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
 * Backward (backpropagation through time) takes dh [B, T, H], the gradient with
 * respect to every step's output, and adds (+=) into dx (may be NULL), dw_ih,
 * dw_hh and db. scratch holds dr_lstm_scratch_floats(...) floats. */
#ifndef DR_CORE_OPS_LSTM_H
#define DR_CORE_OPS_LSTM_H

#include <stddef.h>

#include "core/backend.h"

static inline size_t dr_lstm_scratch_floats(int B, int T, int In, int H)
{
    (void)In;
    /* gate gradients for all steps [B, T, 4H], plus dh and dc carried between steps */
    return (size_t)B * T * 4 * H + 2 * (size_t)B * H;
}

typedef void dr_lstm_forward_fn(dr_backend *be, float *h, float *c, float *gates,
                                const float *x, const float *w_ih, const float *w_hh,
                                const float *b, int B, int T, int In, int H);
typedef void dr_lstm_backward_fn(dr_backend *be, float *dx, float *dw_ih, float *dw_hh, float *db,
                                 float *scratch, const float *dh, const float *x, const float *h,
                                 const float *c, const float *gates, const float *w_ih,
                                 const float *w_hh, int B, int T, int In, int H);

#endif
