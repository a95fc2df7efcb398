/* HDF5 wrapper: see core/h5.h. Every HDF5 call is checked; failures become a
 * dr_status whose message names the file and the object. HDF5's own error-stack
 * printing is switched off for this thread so the library never writes to stderr
 * behind the caller's back. */
#include "core/h5.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dr_h5 {
    hid_t file;
    int writing;
    char *path;     /* final path */
    char *tmp_path; /* writer only */
};

static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

const char *dr_h5_path(const dr_h5 *f) { return f ? f->path : ""; }

dr_status dr_h5_create(dr_h5 **out, const char *path)
{
    *out = NULL;
    quiet();
    dr_h5 *f = calloc(1, sizeof *f);
    size_t n = strlen(path) + 32;
    if (!f || !(f->path = dup_str(path)) || !(f->tmp_path = malloc(n))) {
        if (f) {
            free(f->path);
            free(f);
        }
        return dr_error(DR_ERR_NOMEM, "h5: out of memory creating %s", path);
    }
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    f->writing = 1;
    f->file = H5Fcreate(f->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f->file < 0) {
        dr_status s = dr_error(DR_ERR_IO, "h5: cannot create %s (is the folder writable?)",
                               f->tmp_path);
        free(f->tmp_path);
        free(f->path);
        free(f);
        return s;
    }
    *out = f;
    return DR_OK;
}

dr_status dr_h5_open(dr_h5 **out, const char *path)
{
    *out = NULL;
    quiet();
    if (access(path, R_OK) != 0)
        return dr_error(DR_ERR_IO, "h5: cannot read %s", path);
    if (H5Fis_hdf5(path) <= 0)
        return dr_error(DR_ERR_FORMAT, "h5: %s is not an HDF5 file", path);
    dr_h5 *f = calloc(1, sizeof *f);
    if (!f || !(f->path = dup_str(path))) {
        free(f);
        return dr_error(DR_ERR_NOMEM, "h5: out of memory opening %s", path);
    }
    f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->file < 0) {
        free(f->path);
        free(f);
        return dr_error(DR_ERR_FORMAT, "h5: cannot open %s (truncated or damaged?)", path);
    }
    *out = f;
    return DR_OK;
}

static void free_handle(dr_h5 *f)
{
    free(f->path);
    free(f->tmp_path);
    free(f);
}

dr_status dr_h5_commit(dr_h5 *f)
{
    if (!f || !f->writing)
        return dr_error(DR_ERR_INVALID, "h5: commit needs a file opened with dr_h5_create");
    quiet();
    herr_t e1 = H5Fflush(f->file, H5F_SCOPE_GLOBAL);
    herr_t e2 = H5Fclose(f->file);
    dr_status s = DR_OK;
    if (e1 < 0 || e2 < 0) {
        s = dr_error(DR_ERR_IO, "h5: writing %s failed (disk full?)", f->tmp_path);
        remove(f->tmp_path);
    } else if (rename(f->tmp_path, f->path) != 0) {
        s = dr_error(DR_ERR_IO, "h5: cannot rename %s to %s", f->tmp_path, f->path);
        remove(f->tmp_path);
    }
    free_handle(f);
    return s;
}

void dr_h5_close(dr_h5 *f)
{
    if (!f)
        return;
    quiet();
    H5Fclose(f->file);
    if (f->writing)
        remove(f->tmp_path);
    free_handle(f);
}

/* H5Lexists fails (rather than returning 0) when an intermediate group is
 * missing, so the path is checked one component at a time. */
int dr_h5_exists(dr_h5 *f, const char *name)
{
    quiet();
    char buf[1024];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof buf)
        return 0;
    if (strcmp(name, "/") == 0)
        return 1;
    memcpy(buf, name, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char keep = buf[i];
            buf[i] = '\0';
            htri_t ok = H5Lexists(f->file, buf, H5P_DEFAULT);
            buf[i] = keep;
            if (ok <= 0)
                return 0;
        }
    }
    return 1;
}

/* HDF5 stamps every object with its creation and modification times unless
 * told not to: without them the same run writes the same bytes. */
static hid_t untimed(hid_t cls)
{
    hid_t pl = H5Pcreate(cls);
    if (pl >= 0)
        H5Pset_obj_track_times(pl, 0);
    return pl;
}

/* The groups above name, created untimed where missing. */
static int make_parents(dr_h5 *f, const char *name)
{
    char buf[1024];
    size_t n = strlen(name);
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, name, n + 1);
    hid_t gcpl = untimed(H5P_GROUP_CREATE);
    int ok = gcpl >= 0;
    for (size_t i = 1; ok && i < n; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        if (!dr_h5_exists(f, buf)) {
            hid_t g = H5Gcreate2(f->file, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            ok = g >= 0;
            if (ok)
                H5Gclose(g);
        }
        buf[i] = '/';
    }
    if (gcpl >= 0)
        H5Pclose(gcpl);
    return ok;
}

static dr_status write_any(dr_h5 *f, const char *name, hid_t mem_type, hid_t file_type,
                           const void *x, int rank, const int64_t *dims)
{
    quiet();
    if (!f->writing)
        return dr_error(DR_ERR_INVALID, "h5: %s is open read-only (writing '%s')", f->path, name);
    if (rank < 0 || rank > DR_H5_MAX_RANK)
        return dr_error(DR_ERR_INVALID, "h5: '%s' rank %d outside 0..%d", name, rank,
                        DR_H5_MAX_RANK);
    if (dr_h5_exists(f, name))
        return dr_error(DR_ERR_INVALID, "h5: '%s' already written in %s", name, f->path);
    hsize_t hd[DR_H5_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return dr_error(DR_ERR_INVALID, "h5: '%s' negative dim %d", name, i);
        hd[i] = (hsize_t)dims[i];
    }
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, hd, NULL);
    hid_t dcpl = untimed(H5P_DATASET_CREATE);
    hid_t ds = make_parents(f, name) ? H5Dcreate2(f->file, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT) : -1;
    herr_t w = -1;
    if (ds >= 0)
        w = H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    if (ds >= 0)
        H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (ds < 0 || w < 0)
        return dr_error(DR_ERR_IO, "h5: cannot write '%s' to %s", name, f->tmp_path);
    return DR_OK;
}

dr_status dr_h5_write_f32(dr_h5 *f, const char *name, const float *x, int rank,
                          const int64_t *dims)
{
    return write_any(f, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, x, rank, dims);
}

dr_status dr_h5_write_f64(dr_h5 *f, const char *name, const double *x, int rank,
                          const int64_t *dims)
{
    return write_any(f, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, x, rank, dims);
}

dr_status dr_h5_write_i32(dr_h5 *f, const char *name, const int32_t *x, int rank,
                          const int64_t *dims)
{
    return write_any(f, name, H5T_NATIVE_INT32, H5T_STD_I32LE, x, rank, dims);
}

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

dr_status dr_h5_write_strings(dr_h5 *f, const char *name, const char *const *s, long n)
{
    const char **tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
    if (!tmp)
        return dr_error(DR_ERR_NOMEM, "h5: out of memory writing '%s'", name);
    for (long i = 0; i < n; i++)
        tmp[i] = s[i] ? s[i] : "";
    hid_t t = vlen_str_type();
    int64_t d = n;
    dr_status st = write_any(f, name, t, t, tmp, 1, &d);
    H5Tclose(t);
    free(tmp);
    return st;
}

static hid_t open_ds(dr_h5 *f, const char *name)
{
    quiet();
    if (!dr_h5_exists(f, name))
        return -1;
    return H5Dopen2(f->file, name, H5P_DEFAULT);
}

dr_status dr_h5_shape(dr_h5 *f, const char *name, int *rank, int64_t *dims)
{
    hid_t ds = open_ds(f, name);
    if (ds < 0)
        return dr_error(DR_ERR_FORMAT, "h5: %s has no dataset '%s'", f->path, name);
    hid_t sp = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(sp);
    hsize_t hd[DR_H5_MAX_RANK];
    dr_status s = DR_OK;
    if (r < 0 || r > DR_H5_MAX_RANK) {
        s = dr_error(DR_ERR_FORMAT, "h5: '%s' in %s has rank %d (max %d)", name, f->path, r,
                     DR_H5_MAX_RANK);
    } else {
        H5Sget_simple_extent_dims(sp, hd, NULL);
        *rank = r;
        for (int i = 0; i < r; i++)
            dims[i] = (int64_t)hd[i];
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return s;
}

static dr_status read_any(dr_h5 *f, const char *name, hid_t mem_type, size_t esize,
                          void **out, int *rank, int64_t *dims)
{
    *out = NULL;
    int r;
    int64_t d[DR_H5_MAX_RANK];
    DR_TRY(dr_h5_shape(f, name, &r, d));
    int64_t n = 1;
    for (int i = 0; i < r; i++)
        n *= d[i];
    void *buf = malloc((size_t)(n > 0 ? n : 1) * esize);
    if (!buf)
        return dr_error(DR_ERR_NOMEM, "h5: out of memory reading '%s' (%lld values)", name,
                        (long long)n);
    hid_t ds = open_ds(f, name);
    herr_t e = ds >= 0 ? H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
    if (ds >= 0)
        H5Dclose(ds);
    if (e < 0) {
        free(buf);
        return dr_error(DR_ERR_FORMAT, "h5: cannot read '%s' from %s as a number array", name,
                        f->path);
    }
    *out = buf;
    if (rank)
        *rank = r;
    if (dims)
        for (int i = 0; i < r; i++)
            dims[i] = d[i];
    return DR_OK;
}

dr_status dr_h5_read_f32(dr_h5 *f, const char *name, float **out, int *rank, int64_t *dims)
{
    return read_any(f, name, H5T_NATIVE_FLOAT, sizeof(float), (void **)out, rank, dims);
}

dr_status dr_h5_read_f64(dr_h5 *f, const char *name, double **out, int *rank, int64_t *dims)
{
    return read_any(f, name, H5T_NATIVE_DOUBLE, sizeof(double), (void **)out, rank, dims);
}

dr_status dr_h5_read_i32(dr_h5 *f, const char *name, int32_t **out, int *rank, int64_t *dims)
{
    return read_any(f, name, H5T_NATIVE_INT32, sizeof(int32_t), (void **)out, rank, dims);
}

dr_status dr_h5_read_f32_into(dr_h5 *f, const char *name, float *dst, long n)
{
    int r;
    int64_t d[DR_H5_MAX_RANK];
    DR_TRY(dr_h5_shape(f, name, &r, d));
    int64_t m = 1;
    for (int i = 0; i < r; i++)
        m *= d[i];
    if (m != n)
        return dr_error(DR_ERR_FORMAT, "h5: '%s' in %s has %lld values, expected %ld", name,
                        f->path, (long long)m, n);
    hid_t ds = open_ds(f, name);
    herr_t e = ds >= 0 ? H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) : -1;
    if (ds >= 0)
        H5Dclose(ds);
    if (e < 0)
        return dr_error(DR_ERR_FORMAT, "h5: cannot read '%s' from %s", name, f->path);
    return DR_OK;
}

void dr_h5_free_strings(char **s, long n)
{
    if (!s)
        return;
    for (long i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

dr_status dr_h5_read_strings(dr_h5 *f, const char *name, char ***out, long *n_out)
{
    *out = NULL;
    *n_out = 0;
    int r;
    int64_t d[DR_H5_MAX_RANK];
    DR_TRY(dr_h5_shape(f, name, &r, d));
    if (r != 1)
        return dr_error(DR_ERR_FORMAT, "h5: '%s' in %s has rank %d, a string list has 1", name,
                        f->path, r);
    long n = (long)d[0];
    hid_t ds = open_ds(f, name);
    hid_t ft = H5Dget_type(ds);
    int is_str = H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0;
    H5Tclose(ft);
    if (!is_str) {
        H5Dclose(ds);
        return dr_error(DR_ERR_FORMAT, "h5: '%s' in %s is not a variable-length string list",
                        name, f->path);
    }
    char **raw = calloc((size_t)(n > 0 ? n : 1), sizeof *raw);
    char **res = calloc((size_t)(n > 0 ? n : 1), sizeof *res);
    hid_t t = vlen_str_type();
    herr_t e = (raw && res) ? H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) : -1;
    dr_status s = DR_OK;
    if (e < 0) {
        s = dr_error(raw && res ? DR_ERR_FORMAT : DR_ERR_NOMEM, "h5: cannot read strings '%s' from %s",
                     name, f->path);
    } else {
        for (long i = 0; i < n && s == DR_OK; i++)
            if (!(res[i] = dup_str(raw[i] ? raw[i] : "")))
                s = dr_error(DR_ERR_NOMEM, "h5: out of memory reading '%s'", name);
        hid_t sp = H5Dget_space(ds);
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, raw);
        H5Sclose(sp);
    }
    H5Tclose(t);
    H5Dclose(ds);
    free(raw);
    if (s != DR_OK) {
        dr_h5_free_strings(res, n);
        return s;
    }
    *out = res;
    *n_out = n;
    return DR_OK;
}

/* ---- attributes ---- */

static hid_t open_obj(dr_h5 *f, const char *obj)
{
    quiet();
    if (!dr_h5_exists(f, obj))
        return -1;
    return H5Oopen(f->file, obj, H5P_DEFAULT);
}

static dr_status attr_write(dr_h5 *f, const char *obj, const char *key, hid_t type,
                            const void *v)
{
    if (!f->writing)
        return dr_error(DR_ERR_INVALID, "h5: %s is open read-only (attribute %s)", f->path, key);
    hid_t o = open_obj(f, obj);
    if (o < 0)
        return dr_error(DR_ERR_INVALID, "h5: no object '%s' in %s for attribute '%s'", obj,
                        f->path, key);
    if (H5Aexists(o, key) > 0)
        H5Adelete(o, key);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, key, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, type, v) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Oclose(o);
    if (e < 0)
        return dr_error(DR_ERR_IO, "h5: cannot write attribute %s:%s in %s", obj, key, f->path);
    return DR_OK;
}

dr_status dr_h5_attr_set_str(dr_h5 *f, const char *obj, const char *key, const char *value)
{
    hid_t t = vlen_str_type();
    dr_status s = attr_write(f, obj, key, t, &value);
    H5Tclose(t);
    return s;
}

dr_status dr_h5_attr_set_i64(dr_h5 *f, const char *obj, const char *key, int64_t value)
{
    return attr_write(f, obj, key, H5T_NATIVE_INT64, &value);
}

dr_status dr_h5_attr_set_f64(dr_h5 *f, const char *obj, const char *key, double value)
{
    return attr_write(f, obj, key, H5T_NATIVE_DOUBLE, &value);
}

int dr_h5_attr_exists(dr_h5 *f, const char *obj, const char *key)
{
    hid_t o = open_obj(f, obj);
    if (o < 0)
        return 0;
    int ok = H5Aexists(o, key) > 0;
    H5Oclose(o);
    return ok;
}

/* Opens attribute key of obj; on failure returns < 0 with the message set. */
static hid_t attr_open(dr_h5 *f, const char *obj, const char *key, hid_t *o)
{
    *o = open_obj(f, obj);
    if (*o < 0 || H5Aexists(*o, key) <= 0) {
        if (*o >= 0)
            H5Oclose(*o);
        dr_error(DR_ERR_FORMAT, "h5: %s has no attribute '%s' on '%s'", f->path, key, obj);
        return -1;
    }
    return H5Aopen(*o, key, H5P_DEFAULT);
}

static dr_status attr_read_num(dr_h5 *f, const char *obj, const char *key, hid_t mt, void *v)
{
    hid_t o;
    hid_t a = attr_open(f, obj, key, &o);
    if (a < 0)
        return DR_ERR_FORMAT;
    hid_t ft = H5Aget_type(a);
    H5T_class_t c = H5Tget_class(ft);
    H5Tclose(ft);
    herr_t e = (c == H5T_INTEGER || c == H5T_FLOAT) ? H5Aread(a, mt, v) : -1;
    H5Aclose(a);
    H5Oclose(o);
    if (e < 0)
        return dr_error(DR_ERR_FORMAT, "h5: attribute %s:%s in %s is not a number", obj, key,
                        f->path);
    return DR_OK;
}

dr_status dr_h5_attr_get_i64(dr_h5 *f, const char *obj, const char *key, int64_t *value)
{
    return attr_read_num(f, obj, key, H5T_NATIVE_INT64, value);
}

dr_status dr_h5_attr_get_f64(dr_h5 *f, const char *obj, const char *key, double *value)
{
    return attr_read_num(f, obj, key, H5T_NATIVE_DOUBLE, value);
}

dr_status dr_h5_attr_get_str(dr_h5 *f, const char *obj, const char *key, char **value)
{
    *value = NULL;
    hid_t o;
    hid_t a = attr_open(f, obj, key, &o);
    if (a < 0)
        return DR_ERR_FORMAT;
    hid_t ft = H5Aget_type(a);
    dr_status s = DR_OK;
    if (H5Tget_class(ft) != H5T_STRING) {
        s = dr_error(DR_ERR_FORMAT, "h5: attribute %s:%s in %s is not a string", obj, key,
                     f->path);
    } else if (H5Tis_variable_str(ft) > 0) {
        hid_t t = vlen_str_type();
        char *raw = NULL;
        if (H5Aread(a, t, &raw) < 0 || !(*value = dup_str(raw ? raw : "")))
            s = dr_error(DR_ERR_FORMAT, "h5: cannot read attribute %s:%s in %s", obj, key,
                         f->path);
        if (raw)
            H5free_memory(raw);
        H5Tclose(t);
    } else {
        /* fixed-length (numpy 'S' strings written by h5py) */
        size_t n = H5Tget_size(ft);
        char *buf = calloc(n + 1, 1);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, n);
        if (!buf || H5Aread(a, t, buf) < 0) {
            free(buf);
            s = dr_error(DR_ERR_FORMAT, "h5: cannot read attribute %s:%s in %s", obj, key,
                         f->path);
        } else {
            *value = buf;
        }
        H5Tclose(t);
    }
    H5Tclose(ft);
    H5Aclose(a);
    H5Oclose(o);
    return s;
}
