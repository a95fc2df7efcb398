#include "experiments/search_space.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const dr_search_types[] = {"float", "int", "categorical", "bool", NULL};

static dr_status dr_entry_error(const dr_search_param *p, const char *what)
{
    return dr_error(DR_ERR_INVALID, "%s: search key \"%s\": %s", p->where, p->key, what);
}

/* sub-key `name` of the entry at path */
static const char *dr_sub(char *buf, size_t cap, const char *path, const char *name)
{
    snprintf(buf, cap, "%s.%s", path, name);
    return buf;
}

/* choices of a categorical entry, or the values of equals: one value or a list */
static dr_status dr_read_values(dr_config *cfg, const char *key, int allow_scalar, const char **out, int *n)
{
    if (allow_scalar && dr_config_type_of(cfg, key) != DR_CONFIG_ARRAY) {
        *n = 1;
        return dr_config_value_toml(cfg, key, -1, &out[0]);
    }
    DR_TRY(dr_config_array_len(cfg, key, n));
    if (*n < 1 || *n > DR_TPE_MAX_CHOICES)
        return dr_error(DR_ERR_INVALID, "%s: %s: %d values, expected 1 .. %d", dr_config_where(cfg, key), key, *n,
                        DR_TPE_MAX_CHOICES);
    for (int i = 0; i < *n; i++)
        DR_TRY(dr_config_value_toml(cfg, key, i, &out[i]));
    for (int i = 0; i < *n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(out[i], out[j]) == 0)
                return dr_error(DR_ERR_INVALID, "%s: %s: the value %s is listed twice", dr_config_where(cfg, key),
                                key, out[i]);
    return DR_OK;
}

static dr_status dr_read_numeric(dr_config *cfg, const char *path, dr_search_param *p)
{
    char k[512];
    int is_int = p->kind == DR_SEARCH_INT;
    bool log;
    if (dr_config_type_of(cfg, dr_sub(k, sizeof k, path, "low")) == DR_CONFIG_NONE ||
        dr_config_type_of(cfg, dr_sub(k, sizeof k, path, "high")) == DR_CONFIG_NONE)
        return dr_entry_error(p, "needs low and high");
    DR_TRY(dr_config_float(cfg, dr_sub(k, sizeof k, path, "low"), 0.0, -1e300, 1e300, &p->lo));
    DR_TRY(dr_config_float(cfg, dr_sub(k, sizeof k, path, "high"), 0.0, -1e300, 1e300, &p->hi));
    DR_TRY(dr_config_bool(cfg, dr_sub(k, sizeof k, path, "log"), false, &log));
    DR_TRY(dr_config_float(cfg, dr_sub(k, sizeof k, path, "step"), is_int ? 1.0 : 0.0, 0.0, 1e300, &p->step));
    p->log = log;
    if (is_int && (p->lo != floor(p->lo) || p->hi != floor(p->hi) || p->step != floor(p->step) || p->step < 1))
        return dr_entry_error(p, "an int range needs integral low, high and step >= 1");
    if (p->lo > p->hi || (!is_int && p->step == 0 && p->lo == p->hi)) {
        char m[160];
        snprintf(m, sizeof m, "low %g > high %g", p->lo, p->hi);
        return dr_entry_error(p, p->lo > p->hi ? m : "low = high leaves nothing to search");
    }
    if (log && !(p->lo > 0))
        return dr_entry_error(p, "a log range needs low > 0 (the logarithm of 0 or less is undefined)");
    if (log && p->step != (is_int ? 1.0 : 0.0))
        return dr_entry_error(p, "log = true takes no step (Optuna's rule)");
    if (p->step > 0 && fabs(remainder(p->hi - p->lo, p->step)) > 1e-9 * p->step)
        return dr_entry_error(p, "high - low must be a multiple of step");
    return DR_OK;
}

static dr_status dr_read_condition(dr_config *cfg, const char *path, dr_search_space *sp, dr_search_param *p)
{
    char k[512], e[512];
    const char *when;
    DR_TRY(dr_config_string(cfg, dr_sub(k, sizeof k, path, "when"), "", NULL, &when));
    int has_equals = dr_config_type_of(cfg, dr_sub(e, sizeof e, path, "equals")) != DR_CONFIG_NONE;
    p->parent = -1;
    if (!*when && !has_equals)
        return DR_OK;
    if (!*when || !has_equals)
        return dr_entry_error(p, "a condition needs both when (the key it depends on) and equals (its value or values)");
    p->parent = dr_search_space_find(sp, when);
    if (p->parent < 0)
        return dr_entry_error(p, "when names a key that is not searched before this one");
    const dr_search_param *q = &sp->p[p->parent];
    if (q->kind != DR_SEARCH_CATEGORICAL && q->kind != DR_SEARCH_BOOL)
        return dr_entry_error(p, "when must name a categorical or bool parameter");
    const char *vals[DR_TPE_MAX_CHOICES];
    DR_TRY(dr_read_values(cfg, e, 1, vals, &p->n_enabling));
    for (int i = 0; i < p->n_enabling; i++) {
        int c = 0;
        while (c < q->n_choices && strcmp(q->choice[c], vals[i]) != 0)
            c++;
        if (c == q->n_choices) {
            char m[300];
            snprintf(m, sizeof m, "equals %s is not a value of \"%s\"", vals[i], q->key);
            return dr_entry_error(p, m);
        }
        p->enabling[i] = c;
    }
    return DR_OK;
}

static dr_status dr_read_entry(dr_config *cfg, const dr_config_key *ck, dr_search_space *sp)
{
    dr_search_param *p = &sp->p[sp->n];
    memset(p, 0, sizeof *p);
    snprintf(p->where, sizeof p->where, "%s", dr_config_where(cfg, ck->path));
    if (strlen(ck->name) >= sizeof p->key)
        return dr_error(DR_ERR_INVALID, "%s: search key \"%s\" is longer than %d characters", p->where, ck->name,
                        (int)sizeof p->key - 1);
    snprintf(p->key, sizeof p->key, "%s", ck->name);
    if (ck->type != DR_CONFIG_TABLE)
        return dr_entry_error(p, "expected a table such as { type = \"float\", low = 0.1, high = 0.5 }");
    if (dr_search_space_find(sp, p->key) >= 0)
        return dr_entry_error(p, "searched twice");
    char k[512];
    const char *type;
    DR_TRY(dr_config_string(cfg, dr_sub(k, sizeof k, ck->path, "type"), NULL, dr_search_types, &type));
    p->kind = strcmp(type, "float") == 0 ? DR_SEARCH_FLOAT
              : strcmp(type, "int") == 0 ? DR_SEARCH_INT
              : strcmp(type, "bool") == 0 ? DR_SEARCH_BOOL : DR_SEARCH_CATEGORICAL;
    dr_status s = DR_OK;
    if (p->kind == DR_SEARCH_BOOL) {
        p->n_choices = 2;
        p->choice[0] = "false";
        p->choice[1] = "true";
        s = dr_tpe_space_add_categorical(&sp->tpe, p->key, 2);
    } else if (p->kind == DR_SEARCH_CATEGORICAL) {
        s = dr_read_values(cfg, dr_sub(k, sizeof k, ck->path, "choices"), 0, p->choice, &p->n_choices);
        if (s == DR_OK)
            s = dr_tpe_space_add_categorical(&sp->tpe, p->key, p->n_choices);
    } else {
        s = dr_read_numeric(cfg, ck->path, p);
        int stepped = p->kind == DR_SEARCH_INT ? p->step > 1 : p->step > 0;
        if (s == DR_OK && stepped)
            s = dr_tpe_space_add_int(&sp->tpe, p->key, 0, lround((p->hi - p->lo) / p->step), 0);
        else if (s == DR_OK && p->kind == DR_SEARCH_INT)
            s = dr_tpe_space_add_int(&sp->tpe, p->key, (long)p->lo, (long)p->hi, p->log);
        else if (s == DR_OK)
            s = dr_tpe_space_add_float(&sp->tpe, p->key, p->lo, p->hi, p->log);
    }
    if (s == DR_OK)
        s = dr_read_condition(cfg, ck->path, sp, p);
    if (s != DR_OK) /* the messages name the entry or its sub-key already */
        return s;
    sp->n++;
    return DR_OK;
}

dr_status dr_search_space_read(dr_config *cfg, const char *section, dr_search_space *sp)
{
    memset(sp, 0, sizeof *sp);
    const dr_config_key *keys;
    int n;
    DR_TRY(dr_config_keys(cfg, section, &keys, &n));
    if (n == 0)
        return dr_error(DR_ERR_INVALID, "[%s] is empty or missing: a study needs at least one key to vary", section);
    if (n > DR_TPE_MAX_PARAMS)
        return dr_error(DR_ERR_INVALID, "%s: [%s] has %d keys, at most %d", dr_config_where(cfg, section), section, n,
                        DR_TPE_MAX_PARAMS);
    for (int i = 0; i < n; i++)
        DR_TRY(dr_read_entry(cfg, &keys[i], sp));
    return DR_OK;
}

int dr_search_space_find(const dr_search_space *sp, const char *key)
{
    for (int i = 0; i < sp->n; i++)
        if (strcmp(sp->p[i].key, key) == 0)
            return i;
    return -1;
}

void dr_search_space_deactivate(const dr_search_space *sp, double *v)
{
    /* a parent comes before its children, so one pass in order settles chains */
    for (int j = 0; j < sp->n; j++) {
        const dr_search_param *p = &sp->p[j];
        if (p->parent < 0)
            continue;
        double pv = v[p->parent];
        int on = 0;
        for (int i = 0; i < p->n_enabling && !isnan(pv); i++)
            on |= p->enabling[i] == (int)pv;
        if (!on)
            v[j] = NAN;
    }
}

static int dr_stepped(const dr_search_param *p)
{
    return p->kind == DR_SEARCH_INT ? p->step > 1 : p->kind == DR_SEARCH_FLOAT && p->step > 0;
}

const char *dr_search_value_toml(const dr_search_space *sp, int j, double v, char *buf, size_t cap)
{
    const dr_search_param *p = &sp->p[j];
    double x = dr_search_value_internal(sp, j, v);
    if (p->kind == DR_SEARCH_CATEGORICAL || p->kind == DR_SEARCH_BOOL)
        snprintf(buf, cap, "%s", p->choice[(int)v]);
    else if (p->kind == DR_SEARCH_INT)
        snprintf(buf, cap, "%.0f", x);
    else
        snprintf(buf, cap, "%.17g%s", x, x == floor(x) && fabs(x) < 1e15 ? ".0" : "");
    return buf;
}

double dr_search_value_internal(const dr_search_space *sp, int j, double v)
{
    const dr_search_param *p = &sp->p[j];
    if (!dr_stepped(p))
        return v;
    double x = p->lo + v * p->step;
    return x > p->hi ? p->hi : x;
}

dr_status dr_search_value_from_internal(const dr_search_space *sp, int j, double internal, double *v)
{
    const dr_search_param *p = &sp->p[j];
    double x = internal;
    if (dr_stepped(p))
        x = round((internal - p->lo) / p->step);
    const dr_tpe_param *t = &sp->tpe.p[j];
    if (!(x >= t->lo && x <= t->hi) || (t->kind != DR_TPE_FLOAT && t->kind != DR_TPE_LOG_FLOAT && x != floor(x)))
        return dr_error(DR_ERR_FORMAT, "\"%s\" = %g lies outside the space of the experiment file", p->key, internal);
    *v = x;
    return DR_OK;
}

cJSON *dr_search_distribution(const dr_search_space *sp, int j)
{
    const dr_search_param *p = &sp->p[j];
    cJSON *d = cJSON_CreateObject(), *a = cJSON_CreateObject();
    if (!d || !a) {
        cJSON_Delete(d);
        cJSON_Delete(a);
        return NULL;
    }
    const char *name = p->kind == DR_SEARCH_FLOAT ? "FloatDistribution"
                       : p->kind == DR_SEARCH_INT ? "IntDistribution"
                                                  : "CategoricalDistribution";
    int ok = cJSON_AddStringToObject(d, "name", name) != NULL;
    cJSON_AddItemToObject(d, "attributes", a);
    if (p->kind == DR_SEARCH_FLOAT) {
        ok &= (p->step > 0 ? cJSON_AddNumberToObject(a, "step", p->step) : cJSON_AddNullToObject(a, "step")) != NULL;
        ok &= cJSON_AddNumberToObject(a, "low", p->lo) && cJSON_AddNumberToObject(a, "high", p->hi) &&
              cJSON_AddBoolToObject(a, "log", p->log);
    } else if (p->kind == DR_SEARCH_INT) {
        ok &= cJSON_AddBoolToObject(a, "log", p->log) && cJSON_AddNumberToObject(a, "step", p->step) &&
              cJSON_AddNumberToObject(a, "low", p->lo) && cJSON_AddNumberToObject(a, "high", p->hi);
    } else {
        cJSON *choices = cJSON_AddArrayToObject(a, "choices");
        ok &= choices != NULL;
        for (int c = 0; ok && c < p->n_choices; c++) {
            /* TOML scalars that are JSON too (numbers, true/false, "strings") as
             * themselves; lists, tables and TOML-only spellings (inf, 1_000) as
             * their TOML text, since Optuna's choices must be scalars */
            const char *t = p->choice[c];
            cJSON *one = p->kind == DR_SEARCH_BOOL || (t[0] != '[' && t[0] != '{') ? cJSON_Parse(t) : NULL;
            if (!one)
                one = cJSON_CreateString(t);
            ok &= one != NULL && cJSON_AddItemToArray(choices, one);
        }
    }
    if (!ok) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

dr_status dr_search_space_read_grid(dr_config *cfg, const char *section, dr_search_space *sp)
{
    memset(sp, 0, sizeof *sp);
    const dr_config_key *keys;
    int n;
    DR_TRY(dr_config_keys(cfg, section, &keys, &n));
    if (n == 0)
        return dr_error(DR_ERR_INVALID, "[%s] is empty or missing: a grid needs at least one key and its values",
                        section);
    if (n > DR_TPE_MAX_PARAMS)
        return dr_error(DR_ERR_INVALID, "%s: [%s] has %d keys, at most %d", dr_config_where(cfg, section), section, n,
                        DR_TPE_MAX_PARAMS);
    for (int i = 0; i < n; i++) {
        dr_search_param *p = &sp->p[sp->n];
        memset(p, 0, sizeof *p);
        snprintf(p->where, sizeof p->where, "%s", dr_config_where(cfg, keys[i].path));
        if (strlen(keys[i].name) >= sizeof p->key)
            return dr_error(DR_ERR_INVALID, "%s: grid key \"%s\" is longer than %d characters", p->where,
                            keys[i].name, (int)sizeof p->key - 1);
        snprintf(p->key, sizeof p->key, "%s", keys[i].name);
        p->kind = DR_SEARCH_CATEGORICAL;
        p->parent = -1;
        if (keys[i].type != DR_CONFIG_ARRAY)
            return dr_entry_error(p, "a grid key takes the list of its values, e.g. [64, 128, 256]");
        DR_TRY(dr_read_values(cfg, keys[i].path, 0, p->choice, &p->n_choices));
        DR_TRY(dr_tpe_space_add_categorical(&sp->tpe, p->key, p->n_choices));
        sp->n++;
    }
    return DR_OK;
}
