/*
 * cpw_json.h — internal: the JSON writer and the strict streaming reader
 * behind cpw's encoders and event decoder.
 *
 * The reader parses one object's top-level members into spans of the input
 * (no allocation, no copy); nested values are syntax-checked and skipped
 * with a depth bound. The caller has already checked the frame for size,
 * NUL bytes and UTF-8 (cpj_prevalidate), so the reader only deals with
 * grammar.
 */
#ifndef CPW_JSON_H
#define CPW_JSON_H

#include <string.h>

#include "cpw.h"

/* ---- writer ----
 * cpj_put_* write at a cursor into space the caller reserved (no checks)
 * and return the new cursor: the event encoder's hot path. The cpj_* forms
 * reserve as they go and keep the buffer NUL-terminated. */
#define CPJ_PUT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) += sizeof(lit) - 1)
char *cpj_put_u64(char *o, uint64_t v);            /* at most 20 bytes */
char *cpj_put_i64(char *o, int64_t v);             /* at most 20 bytes */
char *cpj_put_str(char *o, const char *s, size_t n); /* at most 6n+2 bytes */

void cpj_raw(cpw_buf *b, const char *s, size_t n);
void cpj_lit(cpw_buf *b, const char *s);              /* NUL-terminated raw text */
void cpj_char(cpw_buf *b, char c);
void cpj_i64(cpw_buf *b, int64_t v);
void cpj_u64(cpw_buf *b, uint64_t v);
/* A quoted, escaped JSON string; invalid UTF-8 becomes U+FFFD so the
 * output is always valid JSON whatever the job hands us. */
void cpj_str(cpw_buf *b, const char *s);
void cpj_strn(cpw_buf *b, const char *s, size_t n);
/* ,"key": — key is trusted literal text. first: omit the comma. */
void cpj_key(cpw_buf *b, const char *key);
void cpj_kv_i64(cpw_buf *b, const char *key, int64_t v);
void cpj_kv_u64(cpw_buf *b, const char *key, uint64_t v);
void cpj_kv_str(cpw_buf *b, const char *key, const char *v);
void cpj_kv_bool(cpw_buf *b, const char *key, bool v);
/* {"v":1,"type":"<type>","job":…,"seq":…,"ts_us":… (object left open) */
void cpj_envelope(cpw_buf *b, const char *type, const cpw_envelope *env);

/* ---- reader ---- */
typedef enum cpj_type {
    CPJ_STRING = 1, CPJ_NUMBER, CPJ_TRUE, CPJ_FALSE, CPJ_NULL, CPJ_OBJECT, CPJ_ARRAY
} cpj_type;

typedef struct cpj_field {
    const char *key;      /* raw key bytes between the quotes */
    size_t key_len;
    uint32_t tag;         /* fingerprint of the name, for quick compares */
    cpj_type type;
    const char *val;      /* strings: between the quotes; others: the whole value */
    size_t val_len;
    bool escaped;         /* string value contains backslash escapes */
} cpj_field;

#define CPJ_SLOTS 128      /* open-addressed index of members by tag */

typedef struct cpj_obj {
    size_t start, end;    /* byte span of the object in the frame */
    int n;
    uint8_t slot[CPJ_SLOTS]; /* member index + 1 at tag % CPJ_SLOTS (probing), 0 empty */
    cpj_field f[CPW_MAX_FIELDS];
} cpj_obj;

/* Checks size, NUL bytes and UTF-8 of a whole frame. */
cpw_err cpj_prevalidate(const char *buf, size_t len, cpw_error *err);

/* Skips JSON whitespace from *pos. Inline for the common case: none. */
void cpj_ws_slow(const char *buf, size_t len, size_t *pos);
static inline void cpj_ws(const char *buf, size_t len, size_t *pos)
{
    if (*pos < len && (unsigned char)buf[*pos] > ' ')
        return;
    cpj_ws_slow(buf, len, pos);
}

/* Parses the object starting at *pos (must be '{'); on success *pos is just
 * after its '}'. Duplicate keys, bad escapes, too many members, strings over
 * CPW_MAX_STRING and nesting over CPW_MAX_DEPTH are errors. */
cpw_err cpj_parse_object(const char *buf, size_t len, size_t *pos, cpj_obj *o,
                         cpw_error *err);

/* Finds a member by (unescaped-ASCII) name, or NULL. */
const cpj_field *cpj_get(const cpj_obj *o, const char *key);

/* Unescapes a string field into out (NUL-terminated). Fails with
 * CPW_ERR_STRING_TOO_LONG if it does not fit, CPW_ERR_NUL_BYTE on \u0000,
 * CPW_ERR_BAD_UTF8 on a lone surrogate. */
cpw_err cpj_unescape(const cpj_field *f, char *out, size_t out_size);

/* Integer value of a number field: only -?[0-9]+ within int64. */
cpw_err cpj_int(const cpj_field *f, int64_t *out);
cpw_err cpj_uint(const cpj_field *f, uint64_t *out);

/* Sets err (when non-NULL) and returns code. */
cpw_err cpw_fail(cpw_error *err, cpw_err code, size_t offset, const char *field,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

#endif /* CPW_JSON_H */
