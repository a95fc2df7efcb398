#include "core/tfevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Field numbers of tensorflow/core/util/event.proto, summary.proto, tensor.proto
 * tensor_shape.proto and tensorboard/plugins/hparams/plugin_data.proto. */
enum {
    EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5, EVENT_SESSION_LOG = 7,
    SESSION_LOG_STATUS = 1, SESSION_LOG_START = 1,
    SUMMARY_VALUE = 1,
    VALUE_TAG = 1, VALUE_SIMPLE = 2, VALUE_TENSOR = 8, VALUE_METADATA = 9,
    METADATA_PLUGIN_DATA = 1, PLUGIN_NAME = 1, PLUGIN_CONTENT = 2,
    TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, SHAPE_DIM = 2, DT_FLOAT = 1,
    HPARAMS_SESSION_START = 3, HPARAMS_SESSION_END = 4,
    START_HPARAMS = 1, START_TIME = 5, END_STATUS = 1, END_TIME = 2,
    STATUS_SUCCESS = 1, STATUS_FAILURE = 2,
    MAP_KEY = 1, MAP_VALUE = 2,
    VALUE_NUMBER = 2, VALUE_STRING = 3 /* google.protobuf.Value */
};
enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_BYTES = 2, WIRE_FIXED32 = 5 };

struct dr_tfevents {
    FILE *f;
    char path[1024];
};

/* --- CRC-32C ---------------------------------------------------------------------- */

/* Bit by bit: records are a few hundred bytes, and no table means no shared state. */
uint32_t dr_crc32c(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

uint32_t dr_crc32c_masked(const void *data, size_t n)
{
    uint32_t c = dr_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

/* --- protocol buffer encoding ------------------------------------------------------ */

static void dr_le(unsigned char *out, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        out[i] = (unsigned char)(v >> (8 * i));
}

/* A message being encoded; a failed allocation is remembered and reported once. */
typedef struct pb {
    unsigned char *p;
    size_t n, cap;
    int failed;
} pb;

static void pb_raw(pb *b, const void *src, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void pb_varint(pb *b, uint64_t v)
{
    unsigned char buf[10];
    int n = 0;
    do {
        buf[n] = (unsigned char)(v & 0x7F);
        v >>= 7;
        buf[n++] |= v ? 0x80 : 0;
    } while (v);
    pb_raw(b, buf, (size_t)n);
}

static void pb_key(pb *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void pb_int(pb *b, int field, int64_t v)
{
    pb_key(b, field, WIRE_VARINT);
    pb_varint(b, (uint64_t)v);
}

/* bits as `bytes` little-endian bytes: a fixed64 / fixed32 field */
static void pb_fixed(pb *b, int field, int wire, uint64_t bits, int bytes)
{
    unsigned char le[8];
    dr_le(le, bits, bytes);
    pb_key(b, field, wire);
    pb_raw(b, le, (size_t)bytes);
}

static void pb_double(pb *b, int field, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    pb_fixed(b, field, WIRE_FIXED64, u, 8);
}

static void pb_float(pb *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    pb_fixed(b, field, WIRE_FIXED32, u, 4);
}

static void pb_bytes(pb *b, int field, const void *data, size_t n)
{
    pb_key(b, field, WIRE_BYTES);
    pb_varint(b, n);
    pb_raw(b, data, n);
}

static void pb_string(pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Appends inner as field of b and empties inner for reuse. */
static void pb_message(pb *b, int field, pb *inner)
{
    b->failed |= inner->failed;
    pb_bytes(b, field, inner->p, inner->n);
    inner->n = 0;
}

static void pb_free(pb *b) { free(b->p); }

/* --- records ------------------------------------------------------------------------ */

static double dr_wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t dr_le_read(const unsigned char *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

/* The Event's common head (wall time, step) is written by the caller into ev. */
static dr_status dr_write_event(dr_tfevents *w, pb *ev)
{
    if (ev->failed)
        return dr_error(DR_ERR_NOMEM, "%s: out of host memory encoding an event", w->path);
    unsigned char head[12], tail[4];
    dr_le(head, ev->n, 8);
    dr_le(head + 8, dr_crc32c_masked(head, 8), 4);
    dr_le(tail, dr_crc32c_masked(ev->p, ev->n), 4);
    if (fwrite(head, 1, 12, w->f) != 12 || fwrite(ev->p, 1, ev->n, w->f) != ev->n || fwrite(tail, 1, 4, w->f) != 4 ||
        fflush(w->f) != 0)
        return dr_error(DR_ERR_IO, "cannot write %s: %s", w->path, strerror(errno));
    return DR_OK;
}

static void dr_event_head(pb *ev, int64_t step)
{
    pb_double(ev, EVENT_WALL_TIME, dr_wall_time());
    if (step)
        pb_int(ev, EVENT_STEP, step);
}

/* Offset just after the last record whose checksums hold. */
static dr_status dr_valid_length(const char *path, FILE *f, long *out)
{
    long at = 0;
    unsigned char head[12];
    *out = 0;
    while (fread(head, 1, 12, f) == 12) {
        uint64_t n = dr_le_read(head, 8);
        if (dr_le_read(head + 8, 4) != dr_crc32c_masked(head, 8) || n > (1u << 30))
            break;
        unsigned char *data = malloc(n + 4);
        if (!data)
            return dr_error(DR_ERR_NOMEM, "%s: out of host memory", path);
        int ok = fread(data, 1, n + 4, f) == n + 4 && dr_le_read(data + n, 4) == dr_crc32c_masked(data, n);
        free(data);
        if (!ok)
            break;
        at += (long)(12 + n + 4);
    }
    *out = at;
    return DR_OK;
}

dr_status dr_tfevents_open(dr_tfevents **out, const char *path, int *created)
{
    *out = NULL;
    dr_tfevents *w = calloc(1, sizeof *w);
    if (!w)
        return dr_error(DR_ERR_NOMEM, "%s: out of host memory", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    int exists = access(path, F_OK) == 0;
    if (exists) {
        FILE *r = fopen(path, "rb");
        long valid = 0;
        dr_status s = r ? dr_valid_length(path, r, &valid) : dr_error(DR_ERR_IO, "cannot read %s", path);
        struct stat sb;
        if (r)
            fclose(r);
        if (s == DR_OK && stat(path, &sb) == 0 && sb.st_size != valid && truncate(path, valid) != 0)
            s = dr_error(DR_ERR_IO, "cannot cut the torn record off %s: %s", path, strerror(errno));
        if (s != DR_OK) {
            free(w);
            return s;
        }
        exists = valid > 0; /* torn inside its first record: begins again with the header */
    }
    w->f = fopen(path, "ab");
    if (!w->f) {
        free(w);
        return dr_error(DR_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    if (created)
        *created = !exists;
    if (!exists) {
        pb ev = {0};
        dr_event_head(&ev, 0);
        pb_string(&ev, EVENT_FILE_VERSION, "brain.Event:2");
        dr_status s = dr_write_event(w, &ev);
        pb_free(&ev);
        if (s != DR_OK) {
            dr_tfevents_close(w);
            return s;
        }
    }
    *out = w;
    return DR_OK;
}

dr_status dr_tfevents_close(dr_tfevents *w)
{
    if (!w)
        return DR_OK;
    int bad = fclose(w->f) != 0;
    dr_status s = bad ? dr_error(DR_ERR_IO, "cannot write %s: %s", w->path, strerror(errno)) : DR_OK;
    free(w);
    return s;
}

dr_status dr_tfevents_scalar(dr_tfevents *w, const char *tag, int64_t step, double value)
{
    pb ev = {0}, summary = {0}, v = {0};
    pb_string(&v, VALUE_TAG, tag);
    pb_float(&v, VALUE_SIMPLE, (float)value);
    pb_message(&summary, SUMMARY_VALUE, &v);
    dr_event_head(&ev, step);
    pb_message(&ev, EVENT_SUMMARY, &summary);
    dr_status s = dr_write_event(w, &ev);
    pb_free(&ev);
    pb_free(&summary);
    pb_free(&v);
    return s;
}

dr_status dr_tfevents_restart(dr_tfevents *w, int64_t step)
{
    pb ev = {0}, log = {0};
    pb_int(&log, SESSION_LOG_STATUS, SESSION_LOG_START);
    dr_event_head(&ev, step);
    pb_message(&ev, EVENT_SESSION_LOG, &log);
    dr_status s = dr_write_event(w, &ev);
    pb_free(&ev);
    pb_free(&log);
    return s;
}

/* A summary value of the hparams plugin: its data is in the metadata, the
 * tensor an empty float vector, the plugin's own placeholder (NULL_TENSOR). */
static dr_status dr_hparams_event(dr_tfevents *w, const char *tag, int field, pb *info)
{
    pb ev = {0}, summary = {0}, v = {0}, meta = {0}, plugin = {0}, data = {0}, tensor = {0}, shape = {0}, dim = {0};
    pb_message(&data, field, info);
    pb_string(&plugin, PLUGIN_NAME, "hparams");
    pb_message(&plugin, PLUGIN_CONTENT, &data);
    pb_message(&meta, METADATA_PLUGIN_DATA, &plugin);
    pb_int(&tensor, TENSOR_DTYPE, DT_FLOAT);
    pb_message(&shape, SHAPE_DIM, &dim); /* one dimension of size 0 */
    pb_message(&tensor, TENSOR_SHAPE, &shape);
    pb_string(&v, VALUE_TAG, tag);
    pb_message(&v, VALUE_TENSOR, &tensor);
    pb_message(&v, VALUE_METADATA, &meta);
    pb_message(&summary, SUMMARY_VALUE, &v);
    dr_event_head(&ev, 0);
    pb_message(&ev, EVENT_SUMMARY, &summary);
    dr_status s = dr_write_event(w, &ev);
    pb *all[] = {&ev, &summary, &v, &meta, &plugin, &data, &tensor, &shape, &dim};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pb_free(all[i]);
    return s;
}

dr_status dr_tfevents_hparams_start(dr_tfevents *w, const dr_hparam *hp, int n)
{
    pb info = {0}, entry = {0}, value = {0};
    for (int i = 0; i < n; i++) {
        if (hp[i].text)
            pb_string(&value, VALUE_STRING, hp[i].text);
        else
            pb_double(&value, VALUE_NUMBER, hp[i].number);
        pb_string(&entry, MAP_KEY, hp[i].name);
        pb_message(&entry, MAP_VALUE, &value);
        pb_message(&info, START_HPARAMS, &entry);
    }
    pb_double(&info, START_TIME, dr_wall_time());
    dr_status s = dr_hparams_event(w, "_hparams_/session_start_info", HPARAMS_SESSION_START, &info);
    pb_free(&info);
    pb_free(&entry);
    pb_free(&value);
    return s;
}

dr_status dr_tfevents_hparams_end(dr_tfevents *w, int success)
{
    pb info = {0};
    pb_int(&info, END_STATUS, success ? STATUS_SUCCESS : STATUS_FAILURE);
    pb_double(&info, END_TIME, dr_wall_time());
    dr_status s = dr_hparams_event(w, "_hparams_/session_end_info", HPARAMS_SESSION_END, &info);
    pb_free(&info);
    return s;
}
