/* cpd_storage_rc.c — the checkpoint storage's results and how failures are
 * told (see cpd_storage.h, cpd_storage_backend.h). Depends on nothing else
 * of the storage, so the generic layer, the _metadata format and every
 * backend can share it without depending on each other. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

const char *cpd_st_show(const char *text, size_t len, char *out, size_t size)
{
    if (!out || !size)
        return "";
    const char *sep = text ? strstr(text, "://") : NULL;
    size_t at = 0; /* the userinfo's '@', when there is one before the first '/' */
    if (sep && (size_t)(sep - text) < len) {
        size_t start = (size_t)(sep - text) + 3;
        for (size_t i = start; i < len && text[i] != '/'; i++)
            if (text[i] == '@')
                at = i;
    }
    size_t k = 0;
    for (size_t i = 0; text && i < len && k + 1 < size; i++) {
        if (at && i == (size_t)(sep - text) + 3) { /* never a credential */
            for (const char *m = "***"; *m && k + 1 < size; m++)
                out[k++] = *m;
            i = at;
        }
        unsigned char c = (unsigned char)text[i];
        out[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[k] = '\0';
    return out;
}
