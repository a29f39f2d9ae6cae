/* cpw_flink_fx.h — internal to the Flink reader: bounded field readers over
 * jansson values, shared by cpw_flink_read*.c. Each names the member it
 * failed on in the cpw_error. A member that is absent (or null, where it
 * may be) leaves *out untouched unless said otherwise. */
#ifndef CPW_FLINK_FX_H
#define CPW_FLINK_FX_H

#include <jansson.h>

#include "cpw_flink.h"
#include "cpw_json.h"

#define TRY(x) do { cpw_err e_ = (x); if (e_) return e_; } while (0)

/* Parses a whole body (at most CPW_FLINK_MAX_BODY bytes) that must be an object. */
json_t *cpw_fx_load(const char *buf, size_t len, cpw_error *err);

cpw_err cpw_fx_int(json_t *o, const char *k, int64_t *out, bool required, cpw_error *err);
/* cpw_fx_int for a count: a negative one is a bad value (Flink never sends
 * one, and a state holding it would not encode and decode again). */
cpw_err cpw_fx_count(json_t *o, const char *k, int64_t *out, bool required, cpw_error *err);
cpw_err cpw_fx_i32(json_t *o, const char *k, int32_t *out, bool required, cpw_error *err);
/* A number, or Jackson's "NaN" / "Infinity" / "-Infinity" strings. */
cpw_err cpw_fx_num(json_t *o, const char *k, double *out, bool *present, cpw_error *err);
cpw_err cpw_fx_bool(json_t *o, const char *k, bool *out, cpw_error *err);
/* Copies at most size-1 bytes of s (n bytes), not cutting a UTF-8 sequence. */
void cpw_fx_cut_copy(char *out, size_t size, const char *s, size_t n);
/* Cut to the field; absent or null: "" (an error when required). */
cpw_err cpw_fx_str(json_t *o, const char *k, char *out, size_t size, bool required,
                   cpw_error *err);
/* An owned copy cut to CPW_FLINK_TEXT_MAX; absent or null: NULL. */
cpw_err cpw_fx_strdup(json_t *o, const char *k, char **out, cpw_error *err);
/* *out NULL when absent or null (an error when required). */
cpw_err cpw_fx_obj(json_t *o, const char *k, json_t **out, bool required, cpw_error *err);
cpw_err cpw_fx_arr(json_t *o, const char *k, json_t **out, size_t max, bool required,
                   cpw_error *err);
/* calloc that names k when it fails; NULL for n == 0 too. */
void *cpw_fx_alloc_n(size_t n, size_t size, const char *k, cpw_error *err);
/* A 32-hex id, lowercased into out; absent and !required: "". */
cpw_err cpw_fx_id(json_t *o, const char *k, char *out, bool required, cpw_error *err);
cpw_err cpw_fx_status(json_t *o, const char *k, cpw_flink_status *out, cpw_error *err);

/* Parses a whole body and runs fn(json, out, err) over it; clears *out on
 * failure. The body of every public reader. */
#define READ_DOC(buf, len, out, clear, fn, err)                                \
    do {                                                                       \
        cpw_error le_;                                                         \
        cpw_error *ep_ = (err) ? (err) : &le_;                                 \
        memset(out, 0, sizeof *(out));                                         \
        json_t *j_ = cpw_fx_load(buf, len, ep_);                               \
        if (!j_)                                                               \
            return ep_->code;                                                  \
        cpw_err e_ = fn(j_, out, ep_);                                         \
        json_decref(j_);                                                       \
        if (e_)                                                                \
            clear(out);                                                        \
        return e_;                                                             \
    } while (0)

static inline void cpw_fx_no_clear(void *p) { (void)p; }

#endif
