/* TensorBoard event files: the TFRecord framing (length, masked CRC-32C of the
 * length, an Event protocol buffer, masked CRC-32C of it) and the few Event
 * kinds a run writes: scalars, the hparams plugin's session start and end, and
 * the SessionLog START with which a resumed run tells TensorBoard to drop what
 * the killed run wrote at its step and after.
 *
 * A file is only ever appended to. Opening an existing one first cuts off a
 * record torn by a crash (any bytes after the last record whose two checksums
 * hold), so the records appended after it stay readable. */
#ifndef DR_TFEVENTS_H
#define DR_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct dr_tfevents dr_tfevents;

/* Opens path for appending, creating it with the file_version record when
 * missing (*created = 1, else 0; created may be NULL). */
dr_status dr_tfevents_open(dr_tfevents **out, const char *path, int *created);
/* Flushes and closes; the handle is freed in all cases. */
dr_status dr_tfevents_close(dr_tfevents *w);

dr_status dr_tfevents_scalar(dr_tfevents *w, const char *tag, int64_t step, double value);
/* SessionLog START at step: readers drop the earlier records at step >= step. */
dr_status dr_tfevents_restart(dr_tfevents *w, int64_t step);

/* One hyperparameter: a number (text NULL) or a text. */
typedef struct dr_hparam {
    const char *name;
    const char *text;
    double number;
} dr_hparam;
dr_status dr_tfevents_hparams_start(dr_tfevents *w, const dr_hparam *hp, int n);
dr_status dr_tfevents_hparams_end(dr_tfevents *w, int success);

/* CRC-32C (Castagnoli), and the rotated, offset form TFRecord stores. */
uint32_t dr_crc32c(const void *data, size_t n);
uint32_t dr_crc32c_masked(const void *data, size_t n);

#endif
