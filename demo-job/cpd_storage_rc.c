/* cpd_storage_rc.c — the checkpoint storage's results and how failures are
 * told (see cpd_storage.h, cpd_storage_backend.h). Depends on nothing else
 * of the storage, so the generic layer, the _metadata format and every
 * backend can share it without depending on each other. */
#include <stdarg.h>
#include <stdio.h>

#include "cpd_storage_backend.h"

static const char *const rc_names[] = {
    "ok", "not found", "invalid", "i/o error", "corrupt", "injected failure", "out of memory",
    "unsupported",
};

const char *cpd_st_rc_name(cpd_st_rc rc)
{
    return (unsigned)rc < sizeof rc_names / sizeof rc_names[0] ? rc_names[rc] : "?";
}

cpd_st_rc cpd_st_fail(char *err, size_t errsz, cpd_st_rc rc, const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return rc;
}
