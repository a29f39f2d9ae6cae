/* cpw_flink_fx.c — see cpw_flink_fx.h. */
#include "cpw_flink_fx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ fields */

json_t *cpw_fx_load(const char *buf, size_t len, cpw_error *err)
{
    if (len > CPW_FLINK_MAX_BODY) {
        cpw_fail(err, CPW_ERR_TOO_LARGE, 0, "", "response of %zu bytes (limit %u)", len,
                 CPW_FLINK_MAX_BODY);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        cpw_fail(err, CPW_ERR_SYNTAX, (size_t)(je.position < 0 ? 0 : je.position), "",
                 "not JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        cpw_fail(err, CPW_ERR_NOT_OBJECT, 0, "", "the response is not a JSON object");
        return NULL;
    }
    return j;
}

/* Absent (or null when !required): CPW_OK, *out untouched. */
cpw_err cpw_fx_int(json_t *o, const char *k, int64_t *out, bool required, cpw_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || (json_is_null(v) && !required)) {
        if (required)
            return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, k, "required field \"%s\" is missing", k);
        return CPW_OK;
    }
    if (!json_is_integer(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "field \"%s\" must be an integer", k);
    *out = json_integer_value(v);
    return CPW_OK;
}

cpw_err cpw_fx_count(json_t *o, const char *k, int64_t *out, bool required, cpw_error *err)
{
    int64_t v = *out;
    TRY(cpw_fx_int(o, k, &v, required, err));
    if (v < 0)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, k, "field \"%s\" must not be negative", k);
    *out = v;
    return CPW_OK;
}

cpw_err cpw_fx_i32(json_t *o, const char *k, int32_t *out, bool required, cpw_error *err)
{
    int64_t v = *out;
    TRY(cpw_fx_int(o, k, &v, required, err));
    if (v < INT32_MIN || v > INT32_MAX)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, k, "field \"%s\" is out of range", k);
    *out = (int32_t)v;
    return CPW_OK;
}

/* A JSON number, or Jackson's strings for the non-finite doubles. */
cpw_err cpw_fx_num(json_t *o, const char *k, double *out, bool *present, cpw_error *err)
{
    json_t *v = json_object_get(o, k);
    if (present)
        *present = v != NULL;
    if (!v)
        return CPW_OK;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return CPW_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "NaN"))
            *out = NAN;
        else if (!strcmp(s, "Infinity"))
            *out = INFINITY;
        else if (!strcmp(s, "-Infinity"))
            *out = -INFINITY;
        else
            return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, k,
                            "field \"%s\" is neither a number nor \"NaN\"", k);
        return CPW_OK;
    }
    return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "field \"%s\" must be a number", k);
}

cpw_err cpw_fx_bool(json_t *o, const char *k, bool *out, cpw_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return CPW_OK;
    if (!json_is_boolean(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "field \"%s\" must be a boolean", k);
    *out = json_is_true(v);
    return CPW_OK;
}

/* Copies at most size-1 bytes of s, not cutting a UTF-8 sequence. */
void cpw_fx_cut_copy(char *out, size_t size, const char *s, size_t n)
{
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

/* A string member cut to its field; absent or null: "" (an error when required). */
cpw_err cpw_fx_str(json_t *o, const char *k, char *out, size_t size, bool required,
                     cpw_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required)
            return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, k, "required field \"%s\" is missing", k);
        out[0] = '\0';
        return CPW_OK;
    }
    if (!json_is_string(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "field \"%s\" must be a string", k);
    cpw_fx_cut_copy(out, size, json_string_value(v), json_string_length(v));
    return CPW_OK;
}

/* A string member as an owned copy (cut to CPW_FLINK_TEXT_MAX); null: NULL. */
cpw_err cpw_fx_strdup(json_t *o, const char *k, char **out, cpw_error *err)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return CPW_OK;
    if (!json_is_string(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "field \"%s\" must be a string", k);
    size_t n = json_string_length(v);
    if (n >= CPW_FLINK_TEXT_MAX)
        n = CPW_FLINK_TEXT_MAX - 1;
    *out = malloc(n + 1);
    if (!*out)
        return cpw_fail(err, CPW_ERR_NOMEM, 0, k, "out of memory");
    cpw_fx_cut_copy(*out, n + 1, json_string_value(v), json_string_length(v));
    return CPW_OK;
}

/* An object member; absent or null gives *out = NULL (an error when required). */
cpw_err cpw_fx_obj(json_t *o, const char *k, json_t **out, bool required, cpw_error *err)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, k, "required field \"%s\" is missing", k);
        return CPW_OK;
    }
    if (!json_is_object(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "field \"%s\" must be an object", k);
    *out = v;
    return CPW_OK;
}

/* An array member of at most max entries; absent gives an empty one. */
cpw_err cpw_fx_arr(json_t *o, const char *k, json_t **out, size_t max, bool required,
                     cpw_error *err)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, k, "required field \"%s\" is missing", k);
        return CPW_OK;
    }
    if (!json_is_array(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "field \"%s\" must be an array", k);
    if (json_array_size(v) > max)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, k, "field \"%s\" has %zu entries (limit %zu)",
                        k, json_array_size(v), max);
    *out = v;
    return CPW_OK;
}

void *cpw_fx_alloc_n(size_t n, size_t size, const char *k, cpw_error *err)
{
    void *p = n ? calloc(n, size) : NULL;
    if (n && !p)
        cpw_fail(err, CPW_ERR_NOMEM, 0, k, "out of memory");
    return p;
}

cpw_err cpw_fx_id(json_t *o, const char *k, char *out, bool required, cpw_error *err)
{
    char s[CPW_FLINK_ID_HEX + 2];
    TRY(cpw_fx_str(o, k, s, sizeof s, required, err));
    if (!s[0] && !required) {
        out[0] = '\0';
        return CPW_OK;
    }
    if (!cpw_flink_parse_id(s, out))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, k, "field \"%s\" is not a 32-hex id", k);
    return CPW_OK;
}

cpw_err cpw_fx_status(json_t *o, const char *k, cpw_flink_status *out, cpw_error *err)
{
    char s[24];
    TRY(cpw_fx_str(o, k, s, sizeof s, true, err));
    for (int i = 0; i < CPW_FLINK_STATUS__COUNT; i++)
        if (!strcmp(s, cpw_flink_status_name((cpw_flink_status)i))) {
            *out = (cpw_flink_status)i;
            return CPW_OK;
        }
    return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, k, "unknown checkpoint status \"%s\"", s);
}

