#include "experiments/journal.h"
#include "experiments/file_lock.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Optuna's JournalOperation codes */
enum {
    OP_CREATE_STUDY = 0,
    OP_SET_STUDY_USER_ATTR = 2,
    OP_CREATE_TRIAL = 4,
    OP_SET_TRIAL_STATE_VALUES = 6,
    OP_SET_TRIAL_INTERMEDIATE_VALUE = 7,
    OP_SET_TRIAL_USER_ATTR = 8,
};

struct dr_journal {
    char path[1024];
    int fd; /* -1 when read-only, or shared and not locked */
    int shared, lock_depth;
    dr_file_lock lock;
    long offset, lines; /* what is replayed: bytes and lines */
    const dr_search_space *sp;
    char worker_id[64];
    char study_name[256];
    int maximize, has_study;
    long n, cap;
    dr_journal_trial *t;
    /* parameters as the journal names them, and their distributions */
    int n_params;
    char param[DR_TPE_MAX_PARAMS][DR_TPE_NAME_CAP];
    cJSON *dist[DR_TPE_MAX_PARAMS];
    double *internal; /* [cap][DR_TPE_MAX_PARAMS] Optuna's internal values, NaN = absent */
    int n_study_attrs;
    dr_journal_attr study_attrs[DR_JOURNAL_MAX_ATTRS];
};

/* --- writing ------------------------------------------------------------------ */

static void dr_now_iso(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, cap - k, ".%06ld+00:00", ts.tv_nsec / 1000);
}

/* One operation: the object gets op_code and worker_id, is printed on one line
 * and written with a single write(2). */
static dr_status dr_append(dr_journal *j, int op, cJSON *obj, int sync)
{
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "op_code", op);
    cJSON_AddStringToObject(line, "worker_id", j->worker_id);
    for (cJSON *c = obj->child; c;) { /* move the fields over, keeping their order */
        cJSON *next = c->next;
        cJSON_AddItemToObject(line, c->string, cJSON_DetachItemViaPointer(obj, c));
        c = next;
    }
    cJSON_Delete(obj);
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!text)
        return dr_error(DR_ERR_NOMEM, "%s: out of memory for a journal line", j->path);
    size_t len = strlen(text);
    text[len] = '\n'; /* the terminator's byte becomes the newline: one write of the whole line */
    ssize_t w = write(j->fd, text, len + 1);
    cJSON_free(text);
    if (w != (ssize_t)(len + 1))
        return dr_error(DR_ERR_IO, "%s: cannot append to the journal: %s", j->path, w < 0 ? strerror(errno) : "short write");
    j->offset += w; /* the file's end: we are its only writer now (alone, or holding the lock) */
    j->lines++;
    if (sync && fsync(j->fd) != 0)
        return dr_error(DR_ERR_IO, "%s: fsync: %s", j->path, strerror(errno));
    return DR_OK;
}

/* cJSON prints integral doubles without a fraction and others with 17 digits */
static cJSON *dr_num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

/* --- the replayed state ---------------------------------------------------------- */

static dr_status dr_grow(dr_journal *j)
{
    if (j->n < j->cap)
        return DR_OK;
    long cap = j->cap ? 2 * j->cap : 64;
    dr_journal_trial *t = realloc(j->t, (size_t)cap * sizeof *t);
    if (t)
        j->t = t;
    double *in = realloc(j->internal, (size_t)cap * DR_TPE_MAX_PARAMS * sizeof *in);
    if (in)
        j->internal = in;
    if (!t || !in)
        return dr_error(DR_ERR_NOMEM, "%s: out of memory for %ld trials", j->path, cap);
    j->cap = cap;
    return DR_OK;
}

static dr_journal_trial *dr_trial(const dr_journal *j, long id)
{
    return id >= 0 && id < j->n ? &j->t[id] : NULL;
}

/* Takes dist (deleted when the name is known already). */
static int dr_param_index(dr_journal *j, const char *name, cJSON *dist)
{
    for (int k = 0; k < j->n_params; k++)
        if (strcmp(j->param[k], name) == 0) {
            cJSON_Delete(dist);
            return k;
        }
    if (j->n_params == DR_TPE_MAX_PARAMS || strlen(name) >= DR_TPE_NAME_CAP) {
        cJSON_Delete(dist);
        return -1;
    }
    snprintf(j->param[j->n_params], DR_TPE_NAME_CAP, "%s", name);
    j->dist[j->n_params] = dist;
    return j->n_params++;
}

/* attrs grows (by doubling) when cap is not NULL; a fixed array of
 * DR_JOURNAL_MAX_ATTRS otherwise */
static dr_status dr_set_attr(dr_journal_attr **attrs, int *n, int *cap, const char *key, const cJSON *v)
{
    int i = 0;
    while (i < *n && strcmp((*attrs)[i].key, key) != 0)
        i++;
    if (i == *n) {
        if (*n == DR_JOURNAL_MAX_ATTRS)
            return DR_OK; /* more attributes than the commands show: kept in the file only */
        if (cap && *n == *cap) {
            int grown = *cap ? 2 * *cap : 8;
            dr_journal_attr *a = realloc(*attrs, (size_t)grown * sizeof *a);
            if (!a)
                return dr_error(DR_ERR_NOMEM, "out of memory for a trial's attributes");
            *attrs = a, *cap = grown;
        }
        (*n)++;
    }
    dr_journal_attr *a = &(*attrs)[i];
    snprintf(a->key, sizeof a->key, "%s", key);
    a->num = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    snprintf(a->str, sizeof a->str, "%s", cJSON_IsString(v) ? v->valuestring : "");
    return DR_OK;
}

static dr_status dr_set_step(dr_journal *j, dr_journal_trial *t, int step, double value)
{
    if (step < 0 || step > 1000000)
        return dr_error(DR_ERR_FORMAT, "%s: trial %ld: step %d out of range", j->path, t->number, step);
    if (step >= t->n_steps) {
        double *s = realloc(t->steps, (size_t)(step + 1) * sizeof *s);
        if (!s)
            return dr_error(DR_ERR_NOMEM, "%s: out of memory", j->path);
        for (int k = t->n_steps; k <= step; k++)
            s[k] = NAN;
        t->steps = s;
        t->n_steps = step + 1;
    }
    t->steps[step] = value;
    return DR_OK;
}

static dr_status dr_apply_create_trial(dr_journal *j, const cJSON *op)
{
    DR_TRY(dr_grow(j));
    dr_journal_trial *t = &j->t[j->n];
    memset(t, 0, sizeof *t);
    double *in = j->internal + j->n * DR_TPE_MAX_PARAMS;
    for (int k = 0; k < DR_TPE_MAX_PARAMS; k++)
        t->v[k] = in[k] = NAN;
    t->number = j->n;
    t->value = NAN;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(op, "state");
    t->state = cJSON_IsNumber(state) ? (dr_trial_state)state->valueint : DR_TRIAL_RUNNING;
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value");
    if (cJSON_IsNumber(value))
        t->value = value->valuedouble;
    const cJSON *slot = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "system_attrs"),
                                                        "defrisk:slot");
    t->slot = cJSON_IsNumber(slot) ? (long)slot->valuedouble : t->number;
    const cJSON *worker = cJSON_GetObjectItemCaseSensitive(op, "worker_id");
    snprintf(t->worker, sizeof t->worker, "%s", cJSON_IsString(worker) ? worker->valuestring : "");
    const cJSON *dists = cJSON_GetObjectItemCaseSensitive(op, "distributions");
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(op, "params"))
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(dists, p->string);
        int k = cJSON_IsString(d) && cJSON_IsNumber(p) ? dr_param_index(j, p->string, cJSON_Parse(d->valuestring)) : -1;
        if (k < 0)
            return dr_error(DR_ERR_FORMAT, "%s: trial %ld: parameter '%s' without a distribution, or too many parameters",
                            j->path, t->number, p->string ? p->string : "?");
        in[k] = p->valuedouble;
        if (!j->sp)
            continue;
        int sj = dr_search_space_find(j->sp, p->string);
        if (sj < 0)
            return dr_error(DR_ERR_FORMAT, "%s: trial %ld sets '%s', which the experiment file does not search: "
                            "a journal of another study", j->path, t->number, p->string);
        cJSON *ours = dr_search_distribution(j->sp, sj);
        if (!ours)
            return dr_error(DR_ERR_NOMEM, "out of memory");
        if (!cJSON_Compare(ours, j->dist[k], 1)) {
            char *mine = cJSON_PrintUnformatted(ours);
            dr_status s = dr_error(DR_ERR_FORMAT, "%s: '%s' has the distribution %s in the journal but %s in the "
                                   "experiment file: a journal of another study", j->path, p->string,
                                   d->valuestring, mine ? mine : "?");
            cJSON_free(mine);
            cJSON_Delete(ours);
            return s;
        }
        cJSON_Delete(ours);
        DR_TRY(dr_search_value_from_internal(j->sp, sj, p->valuedouble, &t->v[sj]));
    }
    j->n++;
    return DR_OK;
}

static dr_status dr_apply(dr_journal *j, const cJSON *op, long line)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(op, "op_code");
    if (!cJSON_IsNumber(code))
        return dr_error(DR_ERR_FORMAT, "%s:%ld: a journal line without op_code", j->path, line);
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(op, "trial_id");
    dr_journal_trial *t = cJSON_IsNumber(tid) ? dr_trial(j, (long)tid->valuedouble) : NULL;
    const cJSON *v;
    switch (code->valueint) {
    case OP_CREATE_STUDY:
        if (j->has_study)
            return dr_error(DR_ERR_UNSUPPORTED, "%s:%ld: a second study in one journal", j->path, line);
        v = cJSON_GetObjectItemCaseSensitive(op, "study_name");
        snprintf(j->study_name, sizeof j->study_name, "%s", cJSON_IsString(v) ? v->valuestring : "");
        v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(op, "directions"), 0);
        j->maximize = cJSON_IsNumber(v) && v->valueint == 2;
        j->has_study = 1;
        return DR_OK;
    case OP_SET_STUDY_USER_ATTR:
    {
        dr_journal_attr *study = j->study_attrs;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(op, "user_attr"))
            DR_TRY(dr_set_attr(&study, &j->n_study_attrs, NULL, v->string, v));
        return DR_OK;
    }
    case OP_CREATE_TRIAL:
        return dr_apply_create_trial(j, op);
    case OP_SET_TRIAL_STATE_VALUES:
    case OP_SET_TRIAL_INTERMEDIATE_VALUE:
    case OP_SET_TRIAL_USER_ATTR:
        if (!t)
            return dr_error(DR_ERR_FORMAT, "%s:%ld: operation on a trial that does not exist", j->path, line);
        break;
    default:
        return DR_OK; /* operations defrisk does not write or need */
    }
    if (code->valueint == OP_SET_TRIAL_STATE_VALUES) {
        v = cJSON_GetObjectItemCaseSensitive(op, "state");
        if (!cJSON_IsNumber(v) || v->valueint < 0 || v->valueint > 3)
            return dr_error(DR_ERR_FORMAT, "%s:%ld: unknown trial state", j->path, line);
        t->state = (dr_trial_state)v->valueint;
        v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(op, "values"), 0);
        if (cJSON_IsNumber(v))
            t->value = v->valuedouble;
    } else if (code->valueint == OP_SET_TRIAL_INTERMEDIATE_VALUE) {
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(op, "step");
        v = cJSON_GetObjectItemCaseSensitive(op, "intermediate_value");
        if (!cJSON_IsNumber(step) || !cJSON_IsNumber(v))
            return dr_error(DR_ERR_FORMAT, "%s:%ld: an intermediate value without step or value", j->path, line);
        return dr_set_step(j, t, step->valueint, v->valuedouble);
    } else {
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(op, "user_attr"))
            DR_TRY(dr_set_attr(&t->attrs, &t->n_attrs, &t->cap_attrs, v->string, v));
    }
    return DR_OK;
}

/* Replays what the file holds past what was replayed; a last line without its
 * newline is a write cut short by a crash: cut off (when writable) with a
 * warning. */
static dr_status dr_replay(dr_journal *j)
{
    FILE *f = fopen(j->path, "rb");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot read %s: %s", j->path, strerror(errno));
    if (fseek(f, j->offset, SEEK_SET) != 0) {
        fclose(f);
        return dr_error(DR_ERR_IO, "%s: cannot seek to byte %ld: %s", j->path, j->offset, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long torn = 0;
    dr_status s = DR_OK;
    while (s == DR_OK && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') {
            fprintf(stderr, "warning: %s:%ld: a torn last line (%zd bytes, a write cut short) is ignored\n", j->path,
                    j->lines + 1, len);
            torn = len;
            break;
        }
        cJSON *op = cJSON_ParseWithLength(line, (size_t)len);
        if (!op) {
            s = dr_error(DR_ERR_FORMAT, "%s:%ld: not a JSON object", j->path, j->lines + 1);
            break;
        }
        s = dr_apply(j, op, j->lines + 1);
        cJSON_Delete(op);
        j->offset += len;
        j->lines++;
    }
    free(line);
    fclose(f);
    if (s == DR_OK && torn && j->fd >= 0 && ftruncate(j->fd, j->offset) != 0)
        s = dr_error(DR_ERR_IO, "%s: cannot cut the torn last line: %s", j->path, strerror(errno));
    return s;
}

static dr_journal *dr_journal_new(const char *path)
{
    dr_journal *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    snprintf(j->path, sizeof j->path, "%s", path);
    j->fd = -1;
    char name[300];
    dr_process_name(name, sizeof name);
    snprintf(j->worker_id, sizeof j->worker_id, "defrisk-%.50s", name);
    return j;
}

dr_status dr_journal_read_only(dr_journal **out, const char *path)
{
    dr_journal *j = *out = dr_journal_new(path);
    if (!j)
        return dr_error(DR_ERR_NOMEM, "out of memory");
    DR_TRY(dr_replay(j));
    if (!j->has_study)
        return dr_error(DR_ERR_FORMAT, "%s: no study in this journal", path);
    return DR_OK;
}

/* The study's creation in a new journal, or the check that an old one holds this study. */
static dr_status dr_open_study(dr_journal *j, const char *study_name, int maximize, const char *fingerprint)
{
    if (!j->has_study) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "study_name", study_name);
        cJSON *d = cJSON_AddArrayToObject(o, "directions");
        cJSON_AddItemToArray(d, cJSON_CreateNumber(maximize ? 2 : 1)); /* StudyDirection */
        DR_TRY(dr_append(j, OP_CREATE_STUDY, o, 0));
        snprintf(j->study_name, sizeof j->study_name, "%s", study_name);
        j->maximize = maximize;
        j->has_study = 1;
        return dr_journal_study_attr(j, "defrisk:fingerprint", fingerprint);
    }
    const char *fp = dr_journal_get_study_attr(j, "defrisk:fingerprint");
    if (strcmp(j->study_name, study_name) != 0 || j->maximize != maximize || !fp || strcmp(fp, fingerprint) != 0)
        return dr_error(DR_ERR_FORMAT, "%s: the journal of another study (study '%s', %s, fingerprint %s; this "
                        "experiment: '%s', %s, %s)", j->path, j->study_name, j->maximize ? "maximize" : "minimize",
                        fp ? fp : "none", study_name, maximize ? "maximize" : "minimize", fingerprint);
    return DR_OK;
}

dr_status dr_journal_open(dr_journal **out, const char *path, const dr_search_space *sp, const char *study_name,
                          int maximize, const char *fingerprint, int shared)
{
    dr_journal *j = *out = dr_journal_new(path);
    if (!j)
        return dr_error(DR_ERR_NOMEM, "out of memory");
    j->sp = sp;
    for (int k = 0; k < sp->n; k++)
        if (dr_param_index(j, sp->p[k].key, dr_search_distribution(sp, k)) < 0 || !j->dist[k])
            return dr_error(DR_ERR_NOMEM, "out of memory");
    if (shared) {
        char lock[1100];
        snprintf(lock, sizeof lock, "%s.lock", path);
        DR_TRY(dr_file_lock_init(&j->lock, lock));
        j->shared = 1;
        DR_TRY(dr_journal_lock(j));
    } else {
        j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (j->fd < 0)
            return dr_error(DR_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        DR_TRY(dr_replay(j));
    }
    dr_status s = dr_open_study(j, study_name, maximize, fingerprint);
    dr_journal_unlock(j);
    return s;
}

void dr_journal_close(dr_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    if (j->shared)
        dr_file_lock_close(&j->lock);
    for (long i = 0; i < j->n; i++)
        free(j->t[i].steps), free(j->t[i].attrs);
    for (int k = 0; k < j->n_params; k++)
        cJSON_Delete(j->dist[k]);
    free(j->t);
    free(j->internal);
    free(j);
}

/* --- access --------------------------------------------------------------------- */

long dr_journal_n_trials(const dr_journal *j) { return j->n; }
const dr_journal_trial *dr_journal_trial_at(const dr_journal *j, long number) { return dr_trial(j, number); }
int dr_journal_n_params(const dr_journal *j) { return j->n_params; }
const char *dr_journal_param_name(const dr_journal *j, int k) { return j->param[k]; }
const char *dr_journal_study_name(const dr_journal *j) { return j->study_name; }
int dr_journal_maximize(const dr_journal *j) { return j->maximize; }
const char *dr_journal_path(const dr_journal *j) { return j->path; }
const char *dr_journal_worker_id(const dr_journal *j) { return j->worker_id; }

const char *dr_journal_param_text(const dr_journal *j, const dr_journal_trial *t, int k, int digits, char *buf,
                                  size_t cap)
{
    double x = j->internal[t->number * DR_TPE_MAX_PARAMS + k];
    *buf = '\0';
    if (isnan(x))
        return buf;
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j->dist[k], "attributes");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(attrs, "choices");
    const cJSON *c = choices ? cJSON_GetArrayItem(choices, (int)x) : NULL;
    if (cJSON_IsString(c)) {
        snprintf(buf, cap, "%s", c->valuestring);
    } else if (c) {
        char *s = cJSON_PrintUnformatted(c);
        snprintf(buf, cap, "%s", s ? s : "?");
        cJSON_free(s);
    } else {
        snprintf(buf, cap, "%.*g", digits, x);
    }
    return buf;
}

const char *dr_journal_get_study_attr(const dr_journal *j, const char *key)
{
    for (int i = 0; i < j->n_study_attrs; i++)
        if (strcmp(j->study_attrs[i].key, key) == 0)
            return j->study_attrs[i].str;
    return NULL;
}

/* --- sharing ------------------------------------------------------------------------- */

enum { DR_LOCK_STALE_S = 30, DR_LOCK_WAIT_S = 600 };

dr_status dr_journal_lock(dr_journal *j)
{
    if (!j->shared || j->lock_depth++ > 0)
        return DR_OK;
    dr_status s = dr_file_lock_acquire(&j->lock, DR_LOCK_STALE_S, DR_LOCK_WAIT_S);
    if (s == DR_OK) { /* opened afresh: over NFS, close-to-open consistency shows the others' lines */
        j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (j->fd < 0)
            s = dr_error(DR_ERR_IO, "cannot open %s: %s", j->path, strerror(errno));
    }
    if (s == DR_OK)
        s = dr_replay(j);
    if (s != DR_OK) {
        j->lock_depth = 1;
        dr_journal_unlock(j);
    }
    return s;
}

void dr_journal_unlock(dr_journal *j)
{
    if (!j->shared || --j->lock_depth > 0)
        return;
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    dr_file_lock_release(&j->lock);
}

/* --- operations ------------------------------------------------------------------- */

/* Writes an operation and replays it into the state, so both always agree. */
static dr_status dr_do(dr_journal *j, int op, cJSON *o, int sync)
{
    if (j->fd < 0 && !j->shared) {
        cJSON_Delete(o);
        return dr_error(DR_ERR_INVALID, "%s: opened read-only", j->path);
    }
    dr_status s = dr_journal_lock(j);
    if (s != DR_OK) {
        cJSON_Delete(o);
        return s;
    }
    cJSON *copy = cJSON_Duplicate(o, 1);
    cJSON_AddNumberToObject(copy, "op_code", op);
    cJSON_AddStringToObject(copy, "worker_id", j->worker_id);
    s = dr_append(j, op, o, sync);
    if (s == DR_OK)
        s = dr_apply(j, copy, -1);
    cJSON_Delete(copy);
    dr_journal_unlock(j);
    return s;
}

dr_status dr_journal_start(dr_journal *j, long slot, const double *v, long *number)
{
    char now[64];
    dr_now_iso(now, sizeof now);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "study_id", 0);
    cJSON_AddStringToObject(o, "datetime_start", now);
    cJSON_AddNumberToObject(o, "state", DR_TRIAL_RUNNING);
    cJSON_AddNullToObject(o, "value");
    cJSON_AddNullToObject(o, "values");
    cJSON *dists = cJSON_AddObjectToObject(o, "distributions");
    cJSON *params = cJSON_AddObjectToObject(o, "params");
    for (int k = 0; k < j->sp->n; k++) {
        if (isnan(v[k]))
            continue;
        char *dist = cJSON_PrintUnformatted(j->dist[dr_param_index(j, j->sp->p[k].key, NULL)]);
        if (!dist) {
            cJSON_Delete(o);
            return dr_error(DR_ERR_NOMEM, "out of memory");
        }
        cJSON_AddStringToObject(dists, j->sp->p[k].key, dist);
        cJSON_free(dist);
        cJSON_AddItemToObject(params, j->sp->p[k].key, dr_num(dr_search_value_internal(j->sp, k, v[k])));
    }
    cJSON_AddObjectToObject(o, "user_attrs");
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "system_attrs"), "defrisk:slot", (double)slot);
    cJSON_AddObjectToObject(o, "intermediate_values");
    dr_status s = dr_journal_lock(j); /* the number is the count of trials, the others' included */
    if (s == DR_OK) {
        *number = j->n;
        s = dr_do(j, OP_CREATE_TRIAL, o, 1);
        dr_journal_unlock(j);
    } else {
        cJSON_Delete(o);
    }
    return s;
}

dr_status dr_journal_step(dr_journal *j, long number, int step, double value)
{
    if (!isfinite(value))
        return DR_OK; /* Optuna takes floats; a NaN AUC has nothing to compare */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "trial_id", (double)number);
    cJSON_AddNumberToObject(o, "step", step);
    cJSON_AddNumberToObject(o, "intermediate_value", value);
    return dr_do(j, OP_SET_TRIAL_INTERMEDIATE_VALUE, o, 0);
}

static dr_status dr_attr(dr_journal *j, long number, const char *key, cJSON *value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "trial_id", (double)number);
    cJSON_AddItemToObject(cJSON_AddObjectToObject(o, "user_attr"), key, value);
    return dr_do(j, OP_SET_TRIAL_USER_ATTR, o, 0);
}

dr_status dr_journal_attr_num(dr_journal *j, long number, const char *key, double value)
{
    return dr_attr(j, number, key, dr_num(value));
}

dr_status dr_journal_attr_str(dr_journal *j, long number, const char *key, const char *value)
{
    return dr_attr(j, number, key, cJSON_CreateString(value));
}

dr_status dr_journal_attrs_num(dr_journal *j, long number, int n, const char (*keys)[DR_JOURNAL_KEY_CAP],
                               const double *values)
{
    /* one line each: Optuna's journal takes one attribute per operation */
    DR_TRY(dr_journal_lock(j));
    dr_status s = DR_OK;
    for (int i = 0; s == DR_OK && i < n; i++)
        s = dr_attr(j, number, keys[i], dr_num(values[i]));
    dr_journal_unlock(j);
    return s;
}

dr_status dr_journal_finish(dr_journal *j, long number, dr_trial_state state, double value)
{
    char now[64];
    dr_now_iso(now, sizeof now);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "trial_id", (double)number);
    cJSON_AddNumberToObject(o, "state", state);
    if (state == DR_TRIAL_COMPLETE) {
        cJSON *vals = cJSON_AddArrayToObject(o, "values");
        cJSON_AddItemToArray(vals, dr_num(value));
    } else {
        cJSON_AddNullToObject(o, "values");
    }
    cJSON_AddStringToObject(o, "datetime_complete", now);
    return dr_do(j, OP_SET_TRIAL_STATE_VALUES, o, 1);
}

dr_status dr_journal_study_attr(dr_journal *j, const char *key, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "study_id", 0);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "user_attr"), key, value);
    return dr_do(j, OP_SET_STUDY_USER_ATTR, o, 1);
}
