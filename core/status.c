#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DR_ERROR_CAP = 2048 };
static _Thread_local char dr_error_buf[DR_ERROR_CAP];

dr_status dr_error(dr_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dr_error_buf, sizeof dr_error_buf, fmt, ap);
    va_end(ap);
    return code;
}

dr_status dr_error_context(dr_status code, const char *fmt, ...)
{
    char old[DR_ERROR_CAP];
    memcpy(old, dr_error_buf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dr_error_buf, sizeof dr_error_buf, fmt, ap);
    va_end(ap);
    if (n >= 0 && n < DR_ERROR_CAP)
        snprintf(dr_error_buf + n, sizeof dr_error_buf - (size_t)n, "%s", old);
    return code;
}

const char *dr_last_error(void) { return dr_error_buf; }

void dr_error_clear(void) { dr_error_buf[0] = '\0'; }

const char *dr_status_name(dr_status s)
{
    switch (s) {
    case DR_OK: return "ok";
    case DR_ERR_INVALID: return "invalid argument";
    case DR_ERR_SHAPE: return "shape mismatch";
    case DR_ERR_PARSE: return "parse error";
    case DR_ERR_IO: return "I/O error";
    case DR_ERR_NOMEM: return "out of memory";
    case DR_ERR_NUMERIC: return "non-finite value";
    case DR_ERR_DEVICE: return "device error";
    case DR_ERR_UNSUPPORTED: return "unsupported";
    case DR_ERR_FORMAT: return "file format error";
    }
    return "unknown status";
}

void dr_assert_fail(const char *cond, const char *file, int line, const char *func)
{
    fprintf(stderr, "internal error: %s:%d in %s: assertion failed: %s\n", file, line, func, cond);
    abort();
}
