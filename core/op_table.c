#include "core/op_table.h"

#include <string.h>

#define K(entry) {#entry, offsetof(dr_op_table, entry)}

static const dr_op_kernels dr_op_kernels_list[] = {
    {"linear", {K(linear_forward), K(linear_backward)}},
    {"conv1d", {K(conv1d_scratch), K(conv1d_forward), K(conv1d_backward)}},
    {"maxpool1d", {K(maxpool1d_forward), K(maxpool1d_backward)}},
    {"batchnorm",
     {K(batchnorm_forward_train), K(batchnorm_forward_eval), K(batchnorm_backward), K(batchnorm_backward_eval)}},
    {"relu", {K(relu_forward), K(relu_backward)}},
    {"sigmoid", {K(sigmoid_forward)}},
    {"dropout", {K(dropout_forward), K(dropout_backward), K(copy), K(axpy)}}, /* eval: copy */
    {"lstm", {K(lstm_forward), K(lstm_backward)}},
    {"attention", {K(attention_forward), K(attention_backward)}},
    {"loss", {K(loss_forward), K(loss_backward)}},
    {"add", {K(add), K(axpy)}},
    {"concat", {K(copy2d)}},
    {"slice", {K(copy2d)}},
    {"reshape", {{NULL, 0}}}, /* a view: no kernel */
    {"transpose", {K(transpose)}},
};

const dr_op_kernels *dr_op_kernels_find(const char *op)
{
    for (size_t i = 0; op && i < sizeof dr_op_kernels_list / sizeof dr_op_kernels_list[0]; i++)
        if (strcmp(dr_op_kernels_list[i].op, op) == 0)
            return &dr_op_kernels_list[i];
    return NULL;
}
