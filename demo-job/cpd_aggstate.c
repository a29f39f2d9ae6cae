/* cpd_aggstate.c — the aggregate's keyed state (see cpd_aggstate.h): an
 * open-addressing hash table of account rows. */
#include "cpd_aggstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ent {
    cpd_row row;
    bool used, dirty;
} ent;

struct cpd_aggstate {
    ent *e;
    size_t cap, n;              /* cap: a power of two (or 0) */
    size_t n_dirty;             /* entries marked changed */
    size_t flush_pos;           /* where a flush cut short goes on */
};

unsigned cpd_account_hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

cpd_aggstate *cpd_aggstate_new(void) { return calloc(1, sizeof(cpd_aggstate)); }

void cpd_aggstate_free(cpd_aggstate *m)
{
    if (m)
        free(m->e);
    free(m);
}

size_t cpd_aggstate_count(const cpd_aggstate *m) { return m->n; }

static bool grow(cpd_aggstate *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    ent *ne = calloc(ncap, sizeof *ne);
    if (!ne)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].used)
            continue;
        size_t k = cpd_account_hash(m->e[i].row.account) & (ncap - 1);
        while (ne[k].used)
            k = (k + 1) & (ncap - 1);
        ne[k] = m->e[i];
    }
    free(m->e);
    m->e = ne;
    m->cap = ncap;
    m->flush_pos = 0;
    return true;
}

/* The slot of acct: its entry, or the free slot it would take. */
static size_t slot_of(const cpd_aggstate *m, const char *acct)
{
    size_t k = cpd_account_hash(acct) & (m->cap - 1);
    while (m->e[k].used && strcmp(m->e[k].row.account, acct))
        k = (k + 1) & (m->cap - 1);
    return k;
}

static ent *get_or_add(cpd_aggstate *m, const char *account)
{
    char acct[sizeof m->e[0].row.account] = {0}; /* no stray bytes after the key */
    snprintf(acct, sizeof acct, "%s", account);
    if (m->n * 10 >= m->cap * 7 && !grow(m))
        return NULL;
    ent *e = &m->e[slot_of(m, acct)];
    if (!e->used) {
        memset(e, 0, sizeof *e);
        e->used = true;
        memcpy(e->row.account, acct, sizeof acct);
        m->n++;
    }
    return e;
}

bool cpd_aggstate_add(cpd_aggstate *m, const char *account, int64_t amount, int64_t ts)
{
    ent *e = get_or_add(m, account);
    if (!e)
        return false;
    cpd_row *r = &e->row;
    if (!r->count || amount < r->min_cents)
        r->min_cents = amount;
    if (!r->count || amount > r->max_cents)
        r->max_cents = amount;
    r->count++;
    r->sum_cents += amount;
    r->last_ts_ms = ts;
    if (!e->dirty)
        m->n_dirty++;
    e->dirty = true;
    return true;
}

const cpd_row *cpd_aggstate_get(const cpd_aggstate *m, const char *account)
{
    if (!m->cap)
        return NULL;
    const ent *e = &m->e[slot_of(m, account)];
    return e->used ? &e->row : NULL;
}

size_t cpd_aggstate_flush(cpd_aggstate *m, bool (*emit)(void *opaque, const cpd_row *row),
                          void *opaque)
{
    size_t n = 0;
    for (size_t k = 0; k < m->cap && m->n_dirty; k++) {
        size_t i = (m->flush_pos + k) & (m->cap - 1);
        if (!m->e[i].used || !m->e[i].dirty)
            continue;
        if (!emit(opaque, &m->e[i].row)) {
            m->flush_pos = i; /* the next flush starts with this row */
            return n;
        }
        m->e[i].dirty = false;
        m->n_dirty--;
        n++;
    }
    m->flush_pos = 0;
    return n;
}

size_t cpd_aggstate_dirty(const cpd_aggstate *m) { return m->n_dirty; }

bool cpd_aggstate_each_dirty(const cpd_aggstate *m,
                             bool (*fn)(void *opaque, const cpd_row *row), void *opaque)
{
    size_t left = m->n_dirty;
    for (size_t k = 0; k < m->cap && left; k++) {
        size_t i = (m->flush_pos + k) & (m->cap - 1);
        if (!m->e[i].used || !m->e[i].dirty)
            continue;
        left--;
        if (!fn(opaque, &m->e[i].row))
            return false;
    }
    return true;
}

/* An account may hold any byte but NUL: in the snapshot, bytes outside
 * '!'..'~' and '%' itself are written %XX, so a line is always six fields. */
static size_t encode_account(const char *acct, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)acct; *p; p++) {
        if (*p > ' ' && *p <= '~' && *p != '%') {
            out[k++] = (char)*p;
        } else {
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    out[k] = '\0';
    return k;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* false on a bad escape, an empty result, or one longer than an account */
static bool decode_account(const char *in, char *out, size_t outsz)
{
    size_t k = 0;
    for (const char *p = in; *p; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return false;
            c = hi * 16 + lo;
            p += 2;
        }
        if (k + 1 >= outsz)
            return false;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return k > 0;
}

#define LINE_MAX_BYTES 256 /* an encoded account (<= 93) and five int64s fit */

char *cpd_aggstate_serialize(const cpd_aggstate *m, size_t *len)
{
    char *buf = malloc(m->n * LINE_MAX_BYTES + 1);
    size_t l = 0;
    for (size_t i = 0; buf && i < m->cap; i++) {
        const cpd_row *r = &m->e[i].row;
        if (!m->e[i].used)
            continue;
        l += encode_account(r->account, buf + l);
        l += (size_t)sprintf(buf + l, " %lld %lld %lld %lld %lld\n", (long long)r->count,
                             (long long)r->sum_cents, (long long)r->min_cents,
                             (long long)r->max_cents, (long long)r->last_ts_ms);
    }
    *len = l;
    return buf;
}

bool cpd_aggstate_restore(cpd_aggstate *m, const char *data, size_t len, char *err,
                          size_t errsz)
{
    const char *p = data, *end = data + len;
    for (int line_no = 1; p < end; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char line[LINE_MAX_BYTES], enc[LINE_MAX_BYTES], acct[32] = {0}, extra;
        size_t l = nl ? (size_t)(nl - p) : 0;
        long long c, s, mn, mx, ts;
        if (!nl || l >= sizeof line) {
            snprintf(err, errsz, "line %d: %s", line_no, nl ? "too long" : "not terminated");
            return false;
        }
        memcpy(line, p, l);
        line[l] = '\0';
        if (sscanf(line, "%255s %lld %lld %lld %lld %lld %c", enc, &c, &s, &mn, &mx, &ts,
                   &extra) != 6 || c < 1 || mn > mx || !decode_account(enc, acct, sizeof acct)) {
            snprintf(err, errsz, "line %d: not \"account count sum min max last_ts\"", line_no);
            return false;
        }
        ent *e = get_or_add(m, acct);
        if (!e) {
            snprintf(err, errsz, "out of memory");
            return false;
        }
        e->row = (cpd_row){.count = c, .sum_cents = s, .min_cents = mn, .max_cents = mx,
                           .last_ts_ms = ts};
        memcpy(e->row.account, acct, sizeof acct);
        p = nl + 1;
    }
    return true;
}
