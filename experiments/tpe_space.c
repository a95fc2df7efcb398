/* The TPE search space: parameters by name, kind and range. */
#include "experiments/tpe_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static dr_status space_add(dr_tpe_space *s, const char *name, dr_tpe_kind kind, double lo,
                           double hi, int n_choices)
{
    if (!s || !name || !*name)
        return dr_error(DR_ERR_INVALID, "tpe: null space or empty parameter name");
    if (strlen(name) >= DR_TPE_NAME_CAP)
        return dr_error(DR_ERR_INVALID, "tpe: parameter name '%s' longer than %d characters",
                        name, DR_TPE_NAME_CAP - 1);
    if (s->n_params >= DR_TPE_MAX_PARAMS)
        return dr_error(DR_ERR_INVALID, "tpe: more than %d parameters", DR_TPE_MAX_PARAMS);
    if (dr_tpe_space_find(s, name) >= 0)
        return dr_error(DR_ERR_INVALID, "tpe: parameter '%s' defined twice", name);
    dr_tpe_param *p = &s->p[s->n_params];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->kind = kind;
    p->lo = lo;
    p->hi = hi;
    p->n_choices = n_choices;
    s->n_params++;
    return DR_OK;
}

dr_status dr_tpe_space_add_float(dr_tpe_space *s, const char *name, double lo, double hi, int log)
{
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return dr_error(DR_ERR_INVALID, "tpe: '%s': range [%g, %g] needs finite lo < hi",
                        name ? name : "?", lo, hi);
    if (log && !(lo > 0.0))
        return dr_error(DR_ERR_INVALID, "tpe: '%s': log range needs lo > 0 (got %g)",
                        name ? name : "?", lo);
    return space_add(s, name, log ? DR_TPE_LOG_FLOAT : DR_TPE_FLOAT, lo, hi, 0);
}

dr_status dr_tpe_space_add_int(dr_tpe_space *s, const char *name, long lo, long hi, int log)
{
    if (lo > hi)
        return dr_error(DR_ERR_INVALID, "tpe: '%s': integer range %ld .. %ld is empty",
                        name ? name : "?", lo, hi);
    if (log && lo < 1)
        return dr_error(DR_ERR_INVALID, "tpe: '%s': log integer range needs lo >= 1 (got %ld)",
                        name ? name : "?", lo);
    return space_add(s, name, log ? DR_TPE_LOG_INT : DR_TPE_INT, (double)lo, (double)hi, 0);
}

dr_status dr_tpe_space_add_categorical(dr_tpe_space *s, const char *name, int n_choices)
{
    if (n_choices < 1 || n_choices > DR_TPE_MAX_CHOICES)
        return dr_error(DR_ERR_INVALID, "tpe: '%s': %d choices, expected 1 .. %d",
                        name ? name : "?", n_choices, DR_TPE_MAX_CHOICES);
    return space_add(s, name, DR_TPE_CATEGORICAL, 0.0, (double)(n_choices - 1), n_choices);
}

int dr_tpe_space_find(const dr_tpe_space *s, const char *name)
{
    for (int i = 0; s && name && i < s->n_params; i++)
        if (strcmp(s->p[i].name, name) == 0)
            return i;
    return -1;
}

/* Internal coordinates: x, ln x, or integer bins [k - 1/2, k + 1/2]. */
