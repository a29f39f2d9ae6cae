/* cpw_jx.h — internal: bounded field readers over jansson values. */
#ifndef CPW_JX_H
#define CPW_JX_H

#include <jansson.h>

#include "cpw.h"

/* Reads an integer member in [min, max]. Absent and !required: CPW_OK, *out untouched. */
cpw_err cpw_jx_int(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                   bool required, cpw_error *err);
/* Reads a string member into out (size bytes incl. NUL); too long is an error.
 * Absent and !required: CPW_OK, out set to "". */
cpw_err cpw_jx_str(json_t *obj, const char *key, char *out, size_t size, bool required,
                   cpw_error *err);

#endif
