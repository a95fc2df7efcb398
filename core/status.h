/* Status codes and the last-error message.
 *
 * Every public function returns a dr_status. On failure it also leaves a message
 * (what went wrong, and where: file:line:column of the user's input, or the op and
 * shapes) in a thread-local buffer that dr_last_error() returns. abort() is kept
 * for broken internal invariants only (DR_ASSERT). */
#ifndef DR_STATUS_H
#define DR_STATUS_H

typedef enum dr_status {
    DR_OK = 0,
    DR_ERR_INVALID,     /* bad argument or configuration value */
    DR_ERR_SHAPE,       /* tensor shapes do not fit the op */
    DR_ERR_PARSE,       /* malformed input file (CSV, TOML, ...) */
    DR_ERR_IO,          /* file could not be read or written */
    DR_ERR_NOMEM,       /* host or device allocation failed */
    DR_ERR_NUMERIC,     /* NaN or inf where a finite value is required */
    DR_ERR_DEVICE,      /* CUDA / device failure or no device */
    DR_ERR_UNSUPPORTED, /* feature not built in or not implemented */
    DR_ERR_FORMAT       /* file of another layout version, or truncated */
} dr_status;

/* Sets the last-error message (printf format) and returns code, so callers can
 * write: return dr_error(DR_ERR_SHAPE, "conv1d: ...", ...); */
dr_status dr_error(dr_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("reading x.csv: " + old). */
dr_status dr_error_context(dr_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *dr_last_error(void);
const char *dr_status_name(dr_status s);
void dr_error_clear(void);

#define DR_TRY(expr)                      \
    do {                                  \
        dr_status dr_try_s_ = (expr);     \
        if (dr_try_s_ != DR_OK)           \
            return dr_try_s_;             \
    } while (0)

/* Internal invariant: prints the failed condition with file, line and function
 * and aborts. Never used for a caller's mistake. */
#define DR_ASSERT(cond)                                                     \
    do {                                                                    \
        if (!(cond))                                                        \
            dr_assert_fail(#cond, __FILE__, __LINE__, __func__);            \
    } while (0)
_Noreturn void dr_assert_fail(const char *cond, const char *file, int line, const char *func);

#endif
