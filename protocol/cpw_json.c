/* cpw_json.c — JSON writer and strict streaming reader (see cpw_json.h). */
#include "cpw_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===================================================================== buffer */

void cpw_buf_init(cpw_buf *b) { memset(b, 0, sizeof *b); }

void cpw_buf_free(cpw_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void cpw_buf_reset(cpw_buf *b)
{
    b->len = 0;
    b->failed = false;
}

bool cpw_buf_reserve(cpw_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

/* ===================================================================== writer */

void cpj_raw(cpw_buf *b, const char *s, size_t n)
{
    if (!cpw_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cpj_lit(cpw_buf *b, const char *s) { cpj_raw(b, s, strlen(s)); }

void cpj_char(cpw_buf *b, char c)
{
    if (!cpw_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char *cpj_put_u64(char *o, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    while (v >= 100) { /* two digits per division */
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        tmp[--i] = digits2[2 * r + 1];
        tmp[--i] = digits2[2 * r];
    }
    if (v >= 10) {
        tmp[--i] = digits2[2 * v + 1];
        tmp[--i] = digits2[2 * v];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    memcpy(o, tmp + i, sizeof tmp - (size_t)i);
    return o + (sizeof tmp - (size_t)i);
}

char *cpj_put_i64(char *o, int64_t v)
{
    if (v < 0) {
        *o++ = '-';
        return cpj_put_u64(o, (uint64_t)0 - (uint64_t)v); /* well-defined for INT64_MIN */
    }
    return cpj_put_u64(o, (uint64_t)v);
}

void cpj_u64(cpw_buf *b, uint64_t v)
{
    if (!cpw_buf_reserve(b, 24))
        return;
    b->len = (size_t)(cpj_put_u64(b->data + b->len, v) - b->data);
    b->data[b->len] = '\0';
}

void cpj_i64(cpw_buf *b, int64_t v)
{
    if (!cpw_buf_reserve(b, 24))
        return;
    b->len = (size_t)(cpj_put_i64(b->data + b->len, v) - b->data);
    b->data[b->len] = '\0';
}

/* Length of a valid UTF-8 sequence at s (n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0;
        if (c == 0xF4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

char *cpj_put_str(char *o, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                *o++ = 'u'; *o++ = '0'; *o++ = '0';
                *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            }
            i++;
            continue;
        }
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD for a bad byte */
            o += 3;
            i++;
        } else {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        }
    }
    *o++ = '"';
    return o;
}

void cpj_strn(cpw_buf *b, const char *str, size_t n)
{
    /* worst case: every byte becomes \u00XX (6) or U+FFFD (3) */
    if (!cpw_buf_reserve(b, n * 6 + 2))
        return;
    b->len = (size_t)(cpj_put_str(b->data + b->len, str, n) - b->data);
    b->data[b->len] = '\0';
}

void cpj_str(cpw_buf *b, const char *s) { cpj_strn(b, s ? s : "", s ? strlen(s) : 0); }

void cpj_key(cpw_buf *b, const char *key)
{
    size_t n = strlen(key);
    if (!cpw_buf_reserve(b, n + 4))
        return;
    char *o = b->data + b->len;
    *o++ = ',';
    *o++ = '"';
    memcpy(o, key, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    *o = '\0';
    b->len = (size_t)(o - b->data);
}

void cpj_kv_i64(cpw_buf *b, const char *key, int64_t v) { cpj_key(b, key); cpj_i64(b, v); }
void cpj_kv_u64(cpw_buf *b, const char *key, uint64_t v) { cpj_key(b, key); cpj_u64(b, v); }
void cpj_kv_str(cpw_buf *b, const char *key, const char *v) { cpj_key(b, key); cpj_str(b, v); }
void cpj_kv_bool(cpw_buf *b, const char *key, bool v)
{
    cpj_key(b, key);
    cpj_lit(b, v ? "true" : "false");
}

void cpj_envelope(cpw_buf *b, const char *type, const cpw_envelope *env)
{
    cpj_lit(b, "{\"v\":1,\"type\":\"");
    cpj_lit(b, type);
    cpj_char(b, '"');
    cpj_kv_str(b, "job", env->job ? env->job : "");
    cpj_kv_u64(b, "seq", env->seq);
    cpj_kv_i64(b, "ts_us", env->ts_us);
}

/* ===================================================================== errors */

cpw_err cpw_fail(cpw_error *err, cpw_err code, size_t offset, const char *field,
                 const char *fmt, ...)
{
    if (err) {
        err->code = code;
        err->offset = offset;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ===================================================================== reader */

cpw_err cpj_prevalidate(const char *buf, size_t len, cpw_error *err)
{
    if (len > CPW_MAX_FRAME)
        return cpw_fail(err, CPW_ERR_TOO_LARGE, CPW_MAX_FRAME, "",
                        "frame of %zu bytes exceeds the %u byte limit", len,
                        CPW_MAX_FRAME);
    const char *z = memchr(buf, '\0', len);
    if (z)
        return cpw_fail(err, CPW_ERR_NUL_BYTE, (size_t)(z - buf), "",
                        "NUL byte at offset %zu", (size_t)(z - buf));
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        /* fast path over ASCII, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(s + i, len - i);
        if (!k)
            return cpw_fail(err, CPW_ERR_BAD_UTF8, i, "",
                            "invalid UTF-8 byte 0x%02x at offset %zu", s[i], i);
        i += k;
    }
    return CPW_OK;
}

void cpj_ws_slow(const char *buf, size_t len, size_t *pos)
{
    size_t p = *pos;
    while (p < len && (buf[p] == ' ' || buf[p] == '\n' || buf[p] == '\r' || buf[p] == '\t'))
        p++;
    *pos = p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Scans a string starting at the opening quote; on success *pos is after the
 * closing quote and the content span is returned. */
static cpw_err scan_string(const char *buf, size_t len, size_t *pos, const char **out,
                           size_t *out_len, bool *escaped, cpw_error *err)
{
    size_t p = *pos + 1, start = p;
    bool esc = false;
    for (;;) {
        /* run of plain bytes, 8 at a time: stop at a word holding '"',
         * '\\' or a control byte, then find it bytewise */
        while (p + 8 <= len) {
            uint64_t w;
            memcpy(&w, buf + p, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t hit = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high;
            if (hit) {
                /* the lowest flagged byte is exactly the first stop byte
                 * (false flags only occur above a true one) */
                p += (size_t)__builtin_ctzll(hit) / 8;
                break;
            }
            p += 8;
        }
        while (p < len) {
            unsigned char c = (unsigned char)buf[p];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            p++;
        }
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside a string");
        unsigned char c = (unsigned char)buf[p];
        if (c == '"')
            break;
        if (c < 0x20)
            return cpw_fail(err, CPW_ERR_SYNTAX, p, "",
                            "unescaped control character 0x%02x in a string", c);
        /* backslash */
        esc = true;
        if (p + 1 >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside an escape");
        char e = buf[p + 1];
        if (e == 'u') {
            if (p + 6 > len)
                return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside \\u escape");
            for (int k = 2; k < 6; k++)
                if (hexval(buf[p + k]) < 0)
                    return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "bad \\u escape");
            p += 6;
        } else if (strchr("\"\\/bfnrt", e) && e) {
            p += 2;
        } else {
            return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "bad escape '\\%c'",
                            (e >= 0x20 && e < 0x7f) ? e : '?');
        }
    }
    if (p - start > CPW_MAX_STRING)
        return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, start, "",
                        "string of %zu bytes exceeds the %d byte limit", p - start,
                        CPW_MAX_STRING);
    *out = buf + start;
    *out_len = p - start;
    *escaped = esc;
    *pos = p + 1;
    return CPW_OK;
}

static cpw_err scan_number(const char *buf, size_t len, size_t *pos, cpw_error *err)
{
    size_t p = *pos;
    if (p < len && buf[p] == '-')
        p++;
    if (p >= len)
        return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside a number");
    if (buf[p] == '0') {
        p++;
    } else if (buf[p] >= '1' && buf[p] <= '9') {
        while (p < len && buf[p] >= '0' && buf[p] <= '9')
            p++;
    } else {
        return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "bad number");
    }
    if (p < len && buf[p] == '.') {
        p++;
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside a number");
        if (!(buf[p] >= '0' && buf[p] <= '9'))
            return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "bad number fraction");
        while (p < len && buf[p] >= '0' && buf[p] <= '9')
            p++;
    }
    if (p < len && (buf[p] == 'e' || buf[p] == 'E')) {
        p++;
        if (p < len && (buf[p] == '+' || buf[p] == '-'))
            p++;
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside a number");
        if (!(buf[p] >= '0' && buf[p] <= '9'))
            return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "bad number exponent");
        while (p < len && buf[p] >= '0' && buf[p] <= '9')
            p++;
    }
    if (p - *pos > 64)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, *pos, "", "number of %zu characters", p - *pos);
    *pos = p;
    return CPW_OK;
}

static cpw_err scan_literal(const char *buf, size_t len, size_t *pos, const char *lit,
                            cpw_error *err)
{
    size_t n = strlen(lit), p = *pos;
    size_t avail = len - p < n ? len - p : n;
    if (memcmp(buf + p, lit, avail) != 0)
        return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "unexpected character '%c'",
                        (buf[p] >= 0x20 && buf[p] < 0x7f) ? buf[p] : '?');
    if (avail < n)
        return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside '%s'", lit);
    *pos = p + n;
    return CPW_OK;
}

/* Skips any value with nesting bounded by CPW_MAX_DEPTH (iterative). */
static cpw_err skip_value(const char *buf, size_t len, size_t *pos, int depth,
                          cpj_type *type, cpw_error *err)
{
    /* stack of open containers: '{' or '[' */
    char stack[CPW_MAX_DEPTH + 1];
    int sp = 0;
    size_t p = *pos;
    bool want_value = true;
    cpj_type first = 0;
    for (;;) {
        cpj_ws(buf, len, &p);
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside a value");
        if (want_value) {
            char c = buf[p];
            cpj_type t;
            cpw_err e = CPW_OK;
            if (c == '{' || c == '[') {
                if (depth + sp + 1 > CPW_MAX_DEPTH)
                    return cpw_fail(err, CPW_ERR_TOO_DEEP, p, "",
                                    "nesting deeper than %d levels", CPW_MAX_DEPTH);
                t = c == '{' ? CPJ_OBJECT : CPJ_ARRAY;
                if (!first)
                    first = t;
                stack[sp++] = c;
                p++;
                cpj_ws(buf, len, &p);
                if (p >= len)
                    return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside a value");
                if ((c == '{' && buf[p] == '}') || (c == '[' && buf[p] == ']')) {
                    sp--;
                    p++;
                    want_value = false;
                    if (sp == 0)
                        break;
                    continue;
                }
                if (c == '{') {
                    /* expect a key */
                    if (buf[p] != '"')
                        return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected a member name");
                    const char *k; size_t kl; bool ke;
                    if ((e = scan_string(buf, len, &p, &k, &kl, &ke, err)))
                        return e;
                    cpj_ws(buf, len, &p);
                    if (p >= len)
                        return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends after a name");
                    if (buf[p] != ':')
                        return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected ':'");
                    p++;
                }
                continue; /* want a value */
            }
            if (c == '"') {
                const char *s; size_t sl; bool se;
                e = scan_string(buf, len, &p, &s, &sl, &se, err);
                t = CPJ_STRING;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                e = scan_number(buf, len, &p, err);
                t = CPJ_NUMBER;
            } else if (c == 't') {
                e = scan_literal(buf, len, &p, "true", err);
                t = CPJ_TRUE;
            } else if (c == 'f') {
                e = scan_literal(buf, len, &p, "false", err);
                t = CPJ_FALSE;
            } else if (c == 'n') {
                e = scan_literal(buf, len, &p, "null", err);
                t = CPJ_NULL;
            } else {
                return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "unexpected character '%c'",
                                (c >= 0x20 && c < 0x7f) ? c : '?');
            }
            if (e)
                return e;
            if (!first)
                first = t;
            want_value = false;
            if (sp == 0)
                break;
            continue;
        }
        /* after a value inside a container: ',' or the closer */
        char open = stack[sp - 1];
        char c = buf[p];
        if (c == ',') {
            p++;
            if (open == '{') {
                cpj_ws(buf, len, &p);
                if (p >= len)
                    return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends after ','");
                if (buf[p] != '"')
                    return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected a member name");
                const char *k; size_t kl; bool ke;
                cpw_err e = scan_string(buf, len, &p, &k, &kl, &ke, err);
                if (e)
                    return e;
                cpj_ws(buf, len, &p);
                if (p >= len)
                    return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends after a name");
                if (buf[p] != ':')
                    return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected ':'");
                p++;
            }
            want_value = true;
            continue;
        }
        if ((open == '{' && c == '}') || (open == '[' && c == ']')) {
            p++;
            sp--;
            if (sp == 0)
                break;
            continue;
        }
        return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected ',' or '%c'",
                        open == '{' ? '}' : ']');
    }
    *pos = p;
    *type = first;
    return CPW_OK;
}

/* A cheap fingerprint of a member name: length and first and last bytes. */
static inline uint32_t key_tag(const char *k, size_t n)
{
    return n ? (uint32_t)(n * 977u) ^ ((uint32_t)(unsigned char)k[0] << 8) ^
                   ((uint32_t)(unsigned char)k[n - 1] << 16)
             : 0;
}

static bool key_eq(const cpj_field *a, const cpj_field *b)
{
    return a->tag == b->tag && a->key_len == b->key_len &&
           memcmp(a->key, b->key, a->key_len) == 0;
}

cpw_err cpj_parse_object(const char *buf, size_t len, size_t *pos, cpj_obj *o,
                         cpw_error *err)
{
    size_t p = *pos;
    o->n = 0;
    memset(o->slot, 0, sizeof o->slot);
    o->start = p;
    if (p >= len)
        return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends before a message");
    if (buf[p] != '{')
        return cpw_fail(err, CPW_ERR_NOT_OBJECT, p, "", "a message must be a JSON object");
    p++;
    cpj_ws(buf, len, &p);
    if (p < len && buf[p] == '}') {
        *pos = p + 1;
        o->end = p + 1;
        return CPW_OK;
    }
    for (;;) {
        cpj_ws(buf, len, &p);
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside an object");
        if (buf[p] != '"')
            return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected a member name");
        if (o->n >= CPW_MAX_FIELDS)
            return cpw_fail(err, CPW_ERR_TOO_MANY, p, "",
                            "more than %d members in one object", CPW_MAX_FIELDS);
        cpj_field *f = &o->f[o->n];
        bool kesc;
        cpw_err e = scan_string(buf, len, &p, &f->key, &f->key_len, &kesc, err);
        if (e)
            return e;
        if (f->key_len > 256)
            return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, p, "",
                            "member name of %zu bytes", f->key_len);
        cpj_ws(buf, len, &p);
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends after a name");
        if (buf[p] != ':')
            return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected ':'");
        p++;
        cpj_ws(buf, len, &p);
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends before a value");
        size_t vstart = p;
        if (buf[p] == '"') {
            e = scan_string(buf, len, &p, &f->val, &f->val_len, &f->escaped, err);
            f->type = CPJ_STRING;
        } else if (buf[p] == '-' || (buf[p] >= '0' && buf[p] <= '9')) {
            e = scan_number(buf, len, &p, err); /* the common case, without the stack */
            f->type = CPJ_NUMBER;
            f->val = buf + vstart;
            f->val_len = p - vstart;
            f->escaped = false;
        } else {
            e = skip_value(buf, len, &p, 1, &f->type, err);
            f->val = buf + vstart;
            f->val_len = p - vstart;
            f->escaped = false;
        }
        if (e)
            return e;
        /* Members we read are plain ASCII names; an escaped name can never
         * match one, but duplicates are still compared byte for byte. A
         * 64-bit filter on the tag skips the comparisons in the usual case. */
        f->tag = key_tag(f->key, f->key_len);
        unsigned h = f->tag % CPJ_SLOTS;
        for (; o->slot[h]; h = (h + 1) % CPJ_SLOTS) {
            if (key_eq(&o->f[o->slot[h] - 1], f)) {
                char name[48];
                size_t n = f->key_len < sizeof name - 1 ? f->key_len : sizeof name - 1;
                memcpy(name, f->key, n);
                name[n] = '\0';
                return cpw_fail(err, CPW_ERR_DUPLICATE_KEY, (size_t)(f->key - buf), name,
                                "member \"%s\" appears twice", name);
            }
        }
        o->slot[h] = (uint8_t)(o->n + 1); /* at most 64 members in 128 slots */
        o->n++;
        cpj_ws(buf, len, &p);
        if (p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside an object");
        if (buf[p] == ',') {
            p++;
            continue;
        }
        if (buf[p] == '}') {
            p++;
            break;
        }
        return cpw_fail(err, CPW_ERR_SYNTAX, p, "", "expected ',' or '}'");
    }
    *pos = p;
    o->end = p;
    return CPW_OK;
}

const cpj_field *cpj_get(const cpj_obj *o, const char *key)
{
    size_t n = strlen(key);
    uint32_t tag = key_tag(key, n);
    for (unsigned h = tag % CPJ_SLOTS; o->slot[h]; h = (h + 1) % CPJ_SLOTS) {
        const cpj_field *f = &o->f[o->slot[h] - 1];
        if (f->tag == tag && f->key_len == n && memcmp(f->key, key, n) == 0)
            return f;
    }
    return NULL;
}

static void put_utf8(char *o, size_t *k, unsigned cp)
{
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xC0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xE0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*k)++] = (char)(0xF0 | (cp >> 18));
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static unsigned hex4(const char *s)
{
    return (unsigned)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

cpw_err cpj_unescape(const cpj_field *f, char *out, size_t out_size)
{
    if (f->type != CPJ_STRING)
        return CPW_ERR_WRONG_TYPE;
    if (!f->escaped) {
        if (f->val_len + 1 > out_size)
            return CPW_ERR_STRING_TOO_LONG;
        memcpy(out, f->val, f->val_len);
        out[f->val_len] = '\0';
        return CPW_OK;
    }
    size_t k = 0;
    const char *s = f->val;
    size_t n = f->val_len;
    for (size_t i = 0; i < n;) {
        if (k + 2 > out_size) /* room for one more byte and the NUL */
            return CPW_ERR_STRING_TOO_LONG;
        if (s[i] != '\\') {
            out[k++] = s[i++];
            continue;
        }
        char e = s[i + 1]; /* scan_string guaranteed a complete escape */
        i += 2;
        switch (e) {
        case 'n': out[k++] = '\n'; break;
        case 't': out[k++] = '\t'; break;
        case 'r': out[k++] = '\r'; break;
        case 'b': out[k++] = '\b'; break;
        case 'f': out[k++] = '\f'; break;
        case 'u': {
            unsigned cp = hex4(s + i);
            i += 4;
            if (cp == 0)
                return CPW_ERR_NUL_BYTE;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
                    return CPW_ERR_BAD_UTF8;
                unsigned lo = hex4(s + i + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return CPW_ERR_BAD_UTF8;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return CPW_ERR_BAD_UTF8;
            }
            if (k + (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4) + 1 > out_size)
                return CPW_ERR_STRING_TOO_LONG;
            put_utf8(out, &k, cp);
            break;
        }
        default: out[k++] = e; break; /* " \ / */
        }
    }
    if (k + 1 > out_size)
        return CPW_ERR_STRING_TOO_LONG;
    out[k] = '\0';
    return CPW_OK;
}

cpw_err cpj_uint(const cpj_field *f, uint64_t *out)
{
    if (f->type != CPJ_NUMBER)
        return CPW_ERR_WRONG_TYPE;
    uint64_t v = 0;
    if (f->val_len == 0)
        return CPW_ERR_BAD_VALUE;
    if (f->val_len <= 19) { /* cannot overflow: no check per digit */
        for (size_t i = 0; i < f->val_len; i++) {
            unsigned d = (unsigned)(f->val[i] - '0');
            if (d > 9)
                return CPW_ERR_BAD_VALUE; /* fraction, exponent or sign */
            v = v * 10 + d;
        }
        *out = v;
        return CPW_OK;
    }
    for (size_t i = 0; i < f->val_len; i++) {
        char c = f->val[i];
        if (c < '0' || c > '9')
            return CPW_ERR_BAD_VALUE; /* fraction, exponent or sign */
        unsigned d = (unsigned)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return CPW_ERR_BAD_VALUE;
        v = v * 10 + d;
    }
    *out = v;
    return CPW_OK;
}

cpw_err cpj_int(const cpj_field *f, int64_t *out)
{
    if (f->type != CPJ_NUMBER)
        return CPW_ERR_WRONG_TYPE;
    bool neg = f->val_len > 0 && f->val[0] == '-';
    cpj_field t = *f;
    if (neg) {
        t.val++;
        t.val_len--;
    }
    uint64_t u;
    cpw_err e = cpj_uint(&t, &u);
    if (e)
        return e;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return CPW_ERR_BAD_VALUE;
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX)
            return CPW_ERR_BAD_VALUE;
        *out = (int64_t)u;
    }
    return CPW_OK;
}
