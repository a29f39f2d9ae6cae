/* cpw_jx.c — bounded field readers over jansson values (see cpw_jx.h). */
#include "cpw_jx.h"
#include "cpw_json.h"

#include <string.h>

cpw_err cpw_jx_int(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                   bool required, cpw_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (!required)
            return CPW_OK;
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, key, "required field \"%s\" is missing", key);
    }
    if (!json_is_integer(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, key, "field \"%s\" must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, key, "field \"%s\" must be in [%lld, %lld]",
                        key, (long long)min, (long long)max);
    *out = x;
    return CPW_OK;
}

cpw_err cpw_jx_str(json_t *obj, const char *key, char *out, size_t size, bool required,
                   cpw_error *err)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!v) {
        if (!required)
            return CPW_OK;
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, key, "required field \"%s\" is missing", key);
    }
    if (!json_is_string(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, key, "field \"%s\" must be a string", key);
    size_t n = json_string_length(v);
    if (n >= size)
        return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, 0, key, "field \"%s\" longer than %zu bytes",
                        key, size - 1);
    memcpy(out, json_string_value(v), n + 1);
    return CPW_OK;
}
