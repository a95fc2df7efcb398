/* HDF5 files of named tensors (float32, float64, int32), string lists and
 * attributes: the format of the table cache, fitted preprocessing, checkpoints
 * and predictions. h5py reads everything written here.
 *
 * Names are HDF5 paths ("weights/conv1", "prep/mean"); writing creates the
 * intermediate groups. Attributes hang on a dataset or group named by path, or
 * on the file's root with obj = "/".
 *
 * A file opened for writing is a temporary ("PATH.tmp.PID") until
 * dr_h5_commit() closes it and renames it over PATH, so a reader never sees a
 * half-written file (a crash leaves the old PATH intact). dr_h5_close() on an
 * uncommitted writer discards the temporary. */
#ifndef DR_H5_H
#define DR_H5_H

#include <stdint.h>

#include "core/status.h"

enum { DR_H5_MAX_RANK = 8 };

typedef struct dr_h5 dr_h5;
/* Adds datasets to a file being written (a checkpoint's caller-defined part). */
typedef dr_status dr_h5_writer_fn(dr_h5 *f, void *ctx);

/* Writing: a new, empty temporary for path. */
dr_status dr_h5_create(dr_h5 **out, const char *path);
/* Reading: an existing file, read-only. */
dr_status dr_h5_open(dr_h5 **out, const char *path);
/* Writer: flush, close, rename into place; the handle is freed in all cases. */
dr_status dr_h5_commit(dr_h5 *f);
/* Reader: close. Writer: close and delete the temporary. NULL is a no-op. */
void dr_h5_close(dr_h5 *f);
const char *dr_h5_path(const dr_h5 *f);

/* 1 if a dataset or group exists at name, else 0. */
int dr_h5_exists(dr_h5 *f, const char *name);

/* Datasets: rank dims[0..rank-1]; rank 0 is a scalar. Writing a name twice is
 * DR_ERR_INVALID. */
dr_status dr_h5_write_f32(dr_h5 *f, const char *name, const float *x, int rank,
                          const int64_t *dims);
dr_status dr_h5_write_f64(dr_h5 *f, const char *name, const double *x, int rank,
                          const int64_t *dims);
dr_status dr_h5_write_i32(dr_h5 *f, const char *name, const int32_t *x, int rank,
                          const int64_t *dims);
/* A 1-D list of n variable-length UTF-8 strings (h5py: bytes; .asstr() for str).
 * A NULL entry is written as "". */
dr_status dr_h5_write_strings(dr_h5 *f, const char *name, const char *const *s, long n);

/* Shape of a dataset: *rank and dims (DR_H5_MAX_RANK entries). */
dr_status dr_h5_shape(dr_h5 *f, const char *name, int *rank, int64_t *dims);
/* Reads a whole dataset, converting to the asked type (HDF5 converts between
 * numeric types). *out is malloc'd; rank/dims may be NULL. */
dr_status dr_h5_read_f32(dr_h5 *f, const char *name, float **out, int *rank, int64_t *dims);
dr_status dr_h5_read_f64(dr_h5 *f, const char *name, double **out, int *rank, int64_t *dims);
dr_status dr_h5_read_i32(dr_h5 *f, const char *name, int32_t **out, int *rank, int64_t *dims);
/* Reads into caller memory: the dataset must hold exactly n elements. */
dr_status dr_h5_read_f32_into(dr_h5 *f, const char *name, float *dst, long n);
/* A 1-D string list; *out holds n malloc'd strings (free with dr_h5_free_strings). */
dr_status dr_h5_read_strings(dr_h5 *f, const char *name, char ***out, long *n);
void dr_h5_free_strings(char **s, long n);

/* Scalar attributes. */
dr_status dr_h5_attr_set_str(dr_h5 *f, const char *obj, const char *key, const char *value);
dr_status dr_h5_attr_set_i64(dr_h5 *f, const char *obj, const char *key, int64_t value);
dr_status dr_h5_attr_set_f64(dr_h5 *f, const char *obj, const char *key, double value);
/* *value is malloc'd. A missing attribute is DR_ERR_FORMAT. */
dr_status dr_h5_attr_get_str(dr_h5 *f, const char *obj, const char *key, char **value);
dr_status dr_h5_attr_get_i64(dr_h5 *f, const char *obj, const char *key, int64_t *value);
dr_status dr_h5_attr_get_f64(dr_h5 *f, const char *obj, const char *key, double *value);
/* 1 if the attribute exists. */
int dr_h5_attr_exists(dr_h5 *f, const char *obj, const char *key);

#endif
