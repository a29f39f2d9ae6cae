/* cpd_parse.c — the job's record parser (see cpd_parse.h): one pass over a
 * flat JSON object of plain members, everything else to the reference. */
#include "cpd_parse.h"

#include <string.h>

#define MAX_MEMBERS 16  /* good records have 4; more goes to the reference */

/* One member of the object: its name and value as they are in the text. */
typedef struct member {
    const char *key, *val;
    size_t key_len, val_len;
    enum { V_STRING, V_INT, V_LITERAL } type;
    int64_t num;        /* V_INT */
} member;

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

/* JSON's whitespace, as jansson takes it. */
static inline void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* A string without escapes, control bytes or non-ASCII bytes (each of those
 * is left to the reference: its rules for them are jansson's). At the
 * opening quote; on success past the closing one. */
static inline bool plain_string(cursor *c, const char **s, size_t *n)
{
    const unsigned char *q = ++c->p;
    while (q < c->end && *q != '"') {
        if (*q < 0x20 || *q == '\\' || *q >= 0x80)
            return false;
        q++;
    }
    if (q == c->end)
        return false;
    *s = (const char *)c->p;
    *n = (size_t)(q - c->p);
    c->p = q + 1;
    return true;
}

/* A JSON integer: -?(0|[1-9][0-9]*) within int64, not followed by a
 * fraction or an exponent (a real: the reference's). */
static inline bool integer(cursor *c, int64_t *v)
{
    bool neg = c->p < c->end && *c->p == '-';
    if (neg)
        c->p++;
    if (c->p == c->end || *c->p < '0' || *c->p > '9')
        return false;
    if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9')
        return false; /* a leading zero: not JSON */
    uint64_t u = 0;
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
        unsigned d = (unsigned)(*c->p - '0');
        if (u > (lim - d) / 10)
            return false; /* beyond int64 */
        u = u * 10 + d;
    }
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
        return false;
    *v = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
    return true;
}

static inline bool literal(cursor *c)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, lits[i], n)) {
            c->p += n;
            return true;
        }
    }
    return false;
}

static bool value(cursor *c, member *m)
{
    m->val = (const char *)c->p;
    if (*c->p == '"') {
        m->type = V_STRING;
        return plain_string(c, &m->val, &m->val_len);
    }
    if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
        m->type = V_INT;
        return integer(c, &m->num);
    }
    m->type = V_LITERAL;
    return literal(c); /* objects, arrays: the reference's */
}

/* The members of the object text[0..len) is, in order; the count, or -1
 * when the text is not a flat object of plain members. */
static int members(const char *text, size_t len, member *m)
{
    cursor c = {(const unsigned char *)text, (const unsigned char *)text + len};
    skip_ws(&c);
    if (c.p == c.end || *c.p != '{')
        return -1;
    c.p++;
    skip_ws(&c);
    int n = 0;
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            if (n == MAX_MEMBERS || c.p == c.end || *c.p != '"' ||
                !plain_string(&c, &m[n].key, &m[n].key_len))
                return -1;
            skip_ws(&c);
            if (c.p == c.end || *c.p != ':')
                return -1;
            c.p++;
            skip_ws(&c);
            if (c.p == c.end || !value(&c, &m[n]))
                return -1;
            n++;
            skip_ws(&c);
            if (c.p == c.end)
                return -1;
            if (*c.p == '}') {
                c.p++;
                break;
            }
            if (*c.p++ != ',')
                return -1;
            skip_ws(&c);
        }
    }
    skip_ws(&c);
    return c.p == c.end ? n : -1; /* nothing after the object */
}

static const member *find(const member *m, int n, const char *key, size_t key_len)
{
    for (int i = 0; i < n; i++)
        if (m[i].key_len == key_len && !memcmp(m[i].key, key, key_len))
            return &m[i];
    return NULL;
}

#define FIND(m, n, lit) find(m, n, lit, sizeof lit - 1)

/* A good record by the shape good records have; false when it is not
 * one or this parser cannot tell (the reference decides then). */
static bool fast(const char *text, size_t len, cpd_vrecord *out)
{
    member m[MAX_MEMBERS];
    int n = members(text, len, m);
    if (n < 4)
        return false;
    for (int i = 1; i < n; i++) /* a repeated name: not JSON to jansson */
        for (int j = 0; j < i; j++)
            if (m[i].key_len == m[j].key_len && !memcmp(m[i].key, m[j].key, m[i].key_len))
                return false;
    const member *acct = FIND(m, n, "account"), *amt = FIND(m, n, "amount_cents");
    const member *ts = FIND(m, n, "ts_ms"), *id = FIND(m, n, "id");
    if (FIND(m, n, "bad") || !acct || acct->type != V_STRING || acct->val_len < 1 ||
        acct->val_len > CPD_VERIFY_ACCOUNT_MAX || !amt || amt->type != V_INT || !ts ||
        ts->type != V_INT || !id || id->type != V_INT)
        return false;
    memcpy(out->account, acct->val, acct->val_len);
    out->account[acct->val_len] = '\0';
    out->amount_cents = amt->num;
    out->ts_ms = ts->num;
    out->id = id->num;
    return true;
}

bool cpd_parse_record(const void *value, size_t len, cpd_vrecord *out, char *why,
                      size_t why_size)
{
    if (value && len && fast(value, len, out)) {
        if (why && why_size)
            why[0] = '\0';
        return true;
    }
    /* malformed, or a form the fast path leaves alone (escapes, non-ASCII,
     * nesting, reals): the rule itself, with its words for what is wrong */
    return cpd_verify_parse(value, len, out, why, why_size);
}
