/* cpd_chanstate.c — channel state and the state file (see cpd_chanstate.h). */
#include "cpd_chanstate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "cpdemo-channel-state 1 "
#define SNAP_MAGIC "cpdemo-snapshot 1 "
#define LINE_MAX_BYTES (3 * CPD_RAW_MAX + 128) /* an escaped raw record and its numbers */

typedef struct entry {
    uint8_t output;
    uint8_t channel;
    cpd_item it;
} entry;

struct cpd_chanstate {
    cpd_edge in, out;
    entry *e;
    int n, cap;
};

static const char *const edge_names[] = {"-", "src", "pay", "row"};

cpd_chanstate *cpd_chanstate_new(cpd_edge in, cpd_edge out)
{
    cpd_chanstate *cs = calloc(1, sizeof *cs);
    if (cs) {
        cs->in = in;
        cs->out = out;
    }
    return cs;
}

void cpd_chanstate_free(cpd_chanstate *cs)
{
    if (cs)
        free(cs->e);
    free(cs);
}

bool cpd_chanstate_add(cpd_chanstate *cs, bool output, int channel, const cpd_item *it)
{
    if ((output ? cs->out : cs->in) == CPD_EDGE_NONE || channel < 0 ||
        channel > CPD_CHANSTATE_MAX_CHANNEL || it->kind != CPD_IT_RECORD)
        return false;
    if (cs->n == cs->cap) {
        int cap = cs->cap ? cs->cap * 2 : 64;
        entry *e = realloc(cs->e, (size_t)cap * sizeof *e);
        if (!e)
            return false;
        cs->e = e;
        cs->cap = cap;
    }
    cs->e[cs->n++] = (entry){output, (uint8_t)channel, *it};
    return true;
}

int cpd_chanstate_count(const cpd_chanstate *cs) { return cs->n; }

const cpd_item *cpd_chanstate_at(const cpd_chanstate *cs, int i, bool *output, int *channel)
{
    if (i < 0 || i >= cs->n)
        return NULL;
    *output = cs->e[i].output;
    *channel = cs->e[i].channel;
    return &cs->e[i].it;
}

/* ------------------------------------------------------------------ writing */

/* Bytes outside '!'..'~' and '%' itself as %XX: a field never holds a space. */
static size_t escape(const char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > ' ' && c <= '~' && c != '%') {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
    return k;
}

static size_t write_entry(const entry *e, cpd_edge edge, char *out)
{
    const cpd_item *it = &e->it;
    size_t k = (size_t)sprintf(out, "%c %d ", e->output ? 'o' : 'i', e->channel);
    switch (edge) {
    case CPD_EDGE_SRC:
        k += (size_t)sprintf(out + k, "%d %lld %d :", it->u.src.partition,
                             (long long)it->u.src.offset, it->u.src.too_long ? 1 : 0);
        k += escape(it->u.src.raw, it->u.src.len > CPD_RAW_MAX ? CPD_RAW_MAX : it->u.src.len,
                    out + k);
        break;
    case CPD_EDGE_PAY:
        k += escape(it->u.pay.account, strnlen(it->u.pay.account, 31), out + k);
        k += (size_t)sprintf(out + k, " %lld %lld", (long long)it->u.pay.amount,
                             (long long)it->u.pay.ts);
        break;
    default: {
        const cpd_row *r = &it->u.row;
        k += escape(r->account, strnlen(r->account, 31), out + k);
        k += (size_t)sprintf(out + k, " %lld %lld %lld %lld %lld", (long long)r->count,
                             (long long)r->sum_cents, (long long)r->min_cents,
                             (long long)r->max_cents, (long long)r->last_ts_ms);
        break;
    }
    }
    out[k++] = '\n';
    return k;
}

char *cpd_chanstate_serialize(const cpd_chanstate *cs, size_t *len)
{
    char *buf = malloc((size_t)cs->n * LINE_MAX_BYTES + 64);
    if (!buf)
        return NULL;
    size_t l = (size_t)sprintf(buf, HEADER "%s %s\n", edge_names[cs->in], edge_names[cs->out]);
    for (int i = 0; i < cs->n; i++)
        l += write_entry(&cs->e[i], cs->e[i].output ? cs->out : cs->in, buf + l);
    *len = l;
    return buf;
}

/* ------------------------------------------------------------------ reading */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undoes escape() on the token [s, s+n); false on a bad escape, a byte that
 * should have been escaped, or more than max bytes. */
static bool unescape(const char *s, size_t n, char *out, size_t max, size_t *got)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        } else if (c <= ' ' || c > '~') {
            return false;
        }
        if (k >= max)
            return false;
        out[k++] = (char)c;
    }
    *got = k;
    return true;
}

/* The next space-separated token of [*p, end); false at the end. */
static bool token(const char **p, const char *end, const char **tok, size_t *n)
{
    if (*p >= end)
        return false;
    const char *sp = memchr(*p, ' ', (size_t)(end - *p));
    *tok = *p;
    *n = sp ? (size_t)(sp - *p) : (size_t)(end - *p);
    *p = sp ? sp + 1 : end;
    return *n > 0;
}

static bool number(const char **p, const char *end, int64_t min, int64_t max, int64_t *v)
{
    const char *t;
    size_t n;
    char buf[24], *stop;
    if (!token(p, end, &t, &n) || n >= sizeof buf)
        return false;
    memcpy(buf, t, n);
    buf[n] = '\0';
    errno = 0;
    long long x = strtoll(buf, &stop, 10);
    if (errno || *stop || stop == buf || (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9')))
        return false;
    *v = x;
    return x >= min && x <= max;
}

static bool account(const char **p, const char *end, char out[32])
{
    const char *t;
    size_t n, got = 0;
    memset(out, 0, 32);
    if (!token(p, end, &t, &n) || !unescape(t, n, out, 31, &got) || !got)
        return false;
    return memchr(out, '\0', got) == NULL; /* %00 would cut the key */
}

/* One record line's fields after "i CH " / "o CH ", for edge. */
static bool read_fields(const char *p, const char *end, cpd_edge edge, cpd_item *it)
{
    int64_t v[5];
    memset(it, 0, sizeof *it);
    it->kind = CPD_IT_RECORD;
    switch (edge) {
    case CPD_EDGE_SRC: {
        if (!number(&p, end, 0, INT32_MAX, &v[0]) || !number(&p, end, 0, INT64_MAX, &v[1]) ||
            !number(&p, end, 0, 1, &v[2]) || p >= end || *p != ':')
            return false;
        size_t got = 0;
        if (!unescape(p + 1, (size_t)(end - p - 1), it->u.src.raw, CPD_RAW_MAX, &got))
            return false;
        it->u.src.partition = (int32_t)v[0];
        it->u.src.offset = v[1];
        it->u.src.too_long = (uint8_t)v[2];
        it->u.src.len = (uint16_t)got;
        return true;
    }
    case CPD_EDGE_PAY:
        if (!account(&p, end, it->u.pay.account) ||
            !number(&p, end, INT64_MIN, INT64_MAX, &v[0]) ||
            !number(&p, end, INT64_MIN, INT64_MAX, &v[1]))
            return false;
        it->u.pay.amount = v[0];
        it->u.pay.ts = v[1];
        return p == end;
    case CPD_EDGE_ROW:
        if (!account(&p, end, it->u.row.account))
            return false;
        for (int k = 0; k < 5; k++)
            if (!number(&p, end, k == 0 ? 1 : INT64_MIN, INT64_MAX, &v[k]))
                return false;
        it->u.row.count = v[0];
        it->u.row.sum_cents = v[1];
        it->u.row.min_cents = v[2];
        it->u.row.max_cents = v[3];
        it->u.row.last_ts_ms = v[4];
        return p == end && v[2] <= v[3];
    default:
        return false;
    }
}

/* One line [p, end) (no newline); false: malformed. */
static bool read_line(cpd_chanstate *cs, const char *p, const char *end)
{
    int64_t ch;
    if (end - p < 2 || (p[0] != 'i' && p[0] != 'o') || p[1] != ' ')
        return false;
    bool output = p[0] == 'o';
    p += 2;
    if (!number(&p, end, 0, CPD_CHANSTATE_MAX_CHANNEL, &ch))
        return false;
    cpd_edge edge = output ? cs->out : cs->in;
    cpd_item it;
    return edge != CPD_EDGE_NONE && read_fields(p, end, edge, &it) &&
           cpd_chanstate_add(cs, output, (int)ch, &it);
}

bool cpd_chanstate_parse(cpd_chanstate *cs, const char *data, size_t len, char *err,
                         size_t errsz)
{
    char want[64];
    int hl = snprintf(want, sizeof want, HEADER "%s %s\n", edge_names[cs->in],
                      edge_names[cs->out]);
    if (len < (size_t)hl || memcmp(data, want, (size_t)hl)) {
        snprintf(err, errsz, "line 1: not \"%.*s\"", hl - 1, want);
        return false;
    }
    const char *p = data + hl, *end = data + len;
    for (int line_no = 2; p < end; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || nl - p >= LINE_MAX_BYTES) {
            snprintf(err, errsz, "line %d: %s", line_no, nl ? "too long" : "not terminated");
            return false;
        }
        if (!read_line(cs, p, nl)) {
            snprintf(err, errsz, "line %d: not a record of this subtask's channels", line_no);
            return false;
        }
        p = nl + 1;
    }
    return true;
}

/* ------------------------------------------------------------------ the state file */

char *cpd_snapfile_wrap(const void *op, size_t op_len, const void *chan, size_t chan_len,
                        size_t *len)
{
    char head[80];
    int hl = snprintf(head, sizeof head, SNAP_MAGIC "%zu %zu\n", op_len, chan_len);
    char *buf = malloc((size_t)hl + op_len + chan_len + 1);
    if (!buf)
        return NULL;
    memcpy(buf, head, (size_t)hl);
    if (op_len)
        memcpy(buf + hl, op, op_len);
    if (chan_len)
        memcpy(buf + (size_t)hl + op_len, chan, chan_len);
    *len = (size_t)hl + op_len + chan_len;
    return buf;
}

bool cpd_snapfile_unwrap(const char *data, size_t len, const char **op, size_t *op_len,
                         const char **chan, size_t *chan_len, char *err, size_t errsz)
{
    size_t ml = sizeof SNAP_MAGIC - 1;
    *chan = NULL;
    *chan_len = 0;
    if (len < ml || memcmp(data, SNAP_MAGIC, ml)) {
        *op = data;
        *op_len = len;
        return true;
    }
    const char *p = data + ml, *end = data + (len < ml + 48 ? len : ml + 48);
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    int64_t a, b;
    if (!nl || !number(&p, nl, 0, INT64_MAX, &a) || !number(&p, nl, 0, INT64_MAX, &b) ||
        p != nl) {
        snprintf(err, errsz, "state file: a malformed \"cpdemo-snapshot\" header");
        return false;
    }
    size_t body = len - (size_t)(nl + 1 - data);
    if ((uint64_t)a > body || (uint64_t)b != body - (uint64_t)a) {
        snprintf(err, errsz, "state file: its header says %lld + %lld bytes, it holds %zu",
                 (long long)a, (long long)b, body);
        return false;
    }
    *op = nl + 1;
    *op_len = (size_t)a;
    *chan = b ? nl + 1 + a : NULL;
    *chan_len = (size_t)b;
    return true;
}
