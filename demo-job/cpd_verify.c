/* cpd_verify.c — what `cpdemo verify` proves, as pure functions: the rule
 * for a record, the per-account tables and their comparison (see
 * cpd_verify.h). The command itself, reading Kafka and the sink, is
 * cpd_verify_cmd.c. */
#include "cpd_verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ================================================================ the rule */

static void say(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t size, const char *fmt, ...)
{
    if (!why || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

static bool int_member(json_t *o, const char *name, int64_t *out, char *why, size_t why_size)
{
    json_t *v = json_object_get(o, name);
    if (!v) {
        say(why, why_size, "no \"%s\"", name);
        return false;
    }
    if (!json_is_integer(v)) {
        say(why, why_size, "\"%s\" is not an integer", name);
        return false;
    }
    *out = (int64_t)json_integer_value(v);
    return true;
}

bool cpd_verify_parse(const void *value, size_t len, cpd_vrecord *out, char *why,
                      size_t why_size)
{
    if (why && why_size)
        why[0] = '\0';
    if (!value || len == 0) {
        say(why, why_size, "empty value");
        return false;
    }
    json_error_t je;
    json_t *o = json_loadb(value, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        say(why, why_size, "not JSON: %s at byte %d", je.text, je.position);
        for (char *c = why; c && *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
        return false;
    }
    bool good = false;
    json_t *acct;
    if (!json_is_object(o)) {
        say(why, why_size, "not a JSON object");
    } else if (json_object_get(o, "bad")) {
        say(why, why_size, "marked \"bad\"");
    } else if (!(acct = json_object_get(o, "account"))) {
        say(why, why_size, "no \"account\"");
    } else if (!json_is_string(acct)) {
        say(why, why_size, "\"account\" is not a string");
    } else if (json_string_length(acct) < 1 || json_string_length(acct) > CPD_VERIFY_ACCOUNT_MAX ||
               memchr(json_string_value(acct), '\0', json_string_length(acct))) {
        say(why, why_size, "\"account\" is not 1..%d bytes", CPD_VERIFY_ACCOUNT_MAX);
    } else if (int_member(o, "amount_cents", &out->amount_cents, why, why_size) &&
               int_member(o, "ts_ms", &out->ts_ms, why, why_size) &&
               int_member(o, "id", &out->id, why, why_size)) {
        memcpy(out->account, json_string_value(acct), json_string_length(acct));
        out->account[json_string_length(acct)] = '\0';
        good = true;
    }
    json_decref(o);
    /* the reason may quote the record: keep it printable */
    for (char *c = why; !good && c && *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    return good;
}

/* ================================================================ tables */

struct cpd_vtable {
    cpd_vacct *items;
    size_t n, cap;
    int32_t *index;             /* -1: empty; else an item */
    size_t index_cap;           /* power of two */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

cpd_vtable *cpd_vtable_new(void)
{
    return calloc(1, sizeof(cpd_vtable));
}

void cpd_vtable_free(cpd_vtable *t)
{
    if (!t)
        return;
    free(t->items);
    free(t->index);
    free(t);
}

size_t cpd_vtable_size(const cpd_vtable *t)
{
    return t ? t->n : 0;
}

const cpd_vacct *cpd_vtable_at(const cpd_vtable *t, size_t i)
{
    return t && i < t->n ? &t->items[i] : NULL;
}

static int32_t *slot_of(const cpd_vtable *t, const char *account)
{
    if (!t->index_cap)
        return NULL;
    size_t mask = t->index_cap - 1;
    for (size_t i = hash_str(account) & mask;; i = (i + 1) & mask) {
        int32_t *s = &t->index[i];
        if (*s < 0 || strcmp(t->items[*s].row.account, account) == 0)
            return s;
    }
}

const cpd_vacct *cpd_vtable_find(const cpd_vtable *t, const char *account)
{
    if (!t)
        return NULL;
    int32_t *s = slot_of(t, account);
    return s && *s >= 0 ? &t->items[*s] : NULL;
}

static int grow(cpd_vtable *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        if (cap > INT32_MAX)
            return -1;
        cpd_vacct *it = realloc(t->items, cap * sizeof *it);
        if (!it)
            return -1;
        t->items = it;
        t->cap = cap;
    }
    if ((t->n + 1) * 2 > t->index_cap) {
        size_t cap = t->index_cap ? t->index_cap * 2 : 512;
        int32_t *ix = malloc(cap * sizeof *ix);
        if (!ix)
            return -1;
        memset(ix, 0xff, cap * sizeof *ix);
        free(t->index);
        t->index = ix;
        t->index_cap = cap;
        for (size_t k = 0; k < t->n; k++)
            *slot_of(t, t->items[k].row.account) = (int32_t)k;
    }
    return 0;
}

/* The account's entry, created (zeroed, count 0) when absent; NULL when out
 * of memory or the name does not fit. created says which. */
static cpd_vacct *get_or_add(cpd_vtable *t, const char *account, bool *created)
{
    *created = false;
    if (strlen(account) > CPD_VERIFY_ACCOUNT_MAX)
        return NULL;
    int32_t *s = slot_of(t, account);
    if (s && *s >= 0)
        return &t->items[*s];
    if (grow(t))
        return NULL;
    s = slot_of(t, account);
    cpd_vacct *a = &t->items[t->n];
    memset(a, 0, sizeof *a);
    snprintf(a->row.account, sizeof a->row.account, "%s", account);
    a->partition = -1;
    a->last_offset = -1;
    *s = (int32_t)t->n++;
    *created = true;
    return a;
}

int cpd_vtable_add_record(cpd_vtable *t, const cpd_vrecord *r, int32_t partition,
                          int64_t offset)
{
    bool created;
    cpd_vacct *a = get_or_add(t, r->account, &created);
    if (!a)
        return -1;
    cpd_row *w = &a->row;
    if (created) {
        a->partition = partition;
        w->min_cents = w->max_cents = r->amount_cents;
    } else if (a->partition != partition) {
        a->multi_partition = true;
    }
    w->count++;
    w->sum_cents = (int64_t)((uint64_t)w->sum_cents + (uint64_t)r->amount_cents);
    if (r->amount_cents < w->min_cents)
        w->min_cents = r->amount_cents;
    if (r->amount_cents > w->max_cents)
        w->max_cents = r->amount_cents;
    if (created || (partition == a->partition && offset > a->last_offset)) {
        w->last_ts_ms = r->ts_ms;
        a->last_offset = offset;
    }
    return 0;
}

int cpd_vtable_put_row(cpd_vtable *t, const cpd_row *row)
{
    bool created;
    char name[sizeof row->account + 1];
    memcpy(name, row->account, sizeof row->account);
    name[sizeof row->account] = '\0';
    cpd_vacct *a = get_or_add(t, name, &created);
    if (!a || !created)
        return -1;
    a->row = *row;
    return 0;
}

/* ================================================================ comparison */

static int by_account(const void *x, const void *y)
{
    const cpd_vacct *a = *(const cpd_vacct *const *)x, *b = *(const cpd_vacct *const *)y;
    return strcmp(a->row.account, b->row.account);
}

/* The table's entries sorted by account (NULL only when out of memory and n > 0). */
static const cpd_vacct **sorted(const cpd_vtable *t, size_t *n)
{
    *n = cpd_vtable_size(t);
    if (!*n)
        return NULL;
    const cpd_vacct **v = malloc(*n * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        v[i] = &t->items[i];
    qsort(v, *n, sizeof *v, by_account);
    return v;
}

static void example(cpd_verify_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void example(cpd_verify_result *r, const char *fmt, ...)
{
    r->differences++;
    if (r->n_examples >= CPD_VERIFY_EXAMPLES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->examples[r->n_examples++], sizeof r->examples[0], fmt, ap);
    va_end(ap);
}

static void row_text(const cpd_row *w, char *buf, size_t size)
{
    snprintf(buf, size, "count %" PRId64 " sum %" PRId64 " min %" PRId64 " max %" PRId64
                        " last_ts %" PRId64,
             w->count, w->sum_cents, w->min_cents, w->max_cents, w->last_ts_ms);
}

/* The fields of two rows of equal count that differ, as "sum 5 != 7, ...". */
static int field_diffs(const cpd_vacct *e, const cpd_row *d, char *buf, size_t size)
{
    int n = 0;
    size_t len = 0;
    buf[0] = '\0';
#define FIELD(f, label)                                                                      \
    if (e->row.f != d->f) {                                                                  \
        int w = snprintf(buf + len, size - len, "%s" label " expected %" PRId64 ", database " \
                         "%" PRId64, n ? "; " : "", e->row.f, d->f);                         \
        if (w > 0 && (size_t)w < size - len)                                                 \
            len += (size_t)w;                                                                \
        n++;                                                                                 \
    }
    FIELD(sum_cents, "sum_cents")
    FIELD(min_cents, "min_cents")
    FIELD(max_cents, "max_cents")
    if (!e->multi_partition) {
        FIELD(last_ts_ms, "last_ts_ms")
    }
#undef FIELD
    return n;
}

void cpd_verify_compare(const cpd_vtable *expected, const cpd_vtable *actual,
                        int64_t dead_expected, int64_t dead_actual, bool allow_duplicates,
                        cpd_verify_result *r)
{
    memset(r, 0, sizeof *r);
    r->accounts_expected = (int64_t)cpd_vtable_size(expected);
    r->accounts_actual = (int64_t)cpd_vtable_size(actual);
    r->dead_expected = dead_expected;
    r->dead_actual = dead_actual;

    size_t ne, na;
    const cpd_vacct **ev = sorted(expected, &ne), **av = sorted(actual, &na);
    if ((ne && !ev) || (na && !av)) {
        /* out of memory: say so rather than pass */
        r->mismatched = 1;
        example(r, "out of memory while comparing");
        ne = na = 0;
    }
    char et[128], dt[128], diffs[200];
    for (size_t i = 0; i < ne; i++) {
        const cpd_vacct *e = ev[i];
        const cpd_vacct *a = cpd_vtable_find(actual, e->row.account);
        int64_t ec = e->row.count, dc = a ? a->row.count : 0;
        r->records += ec;
        if (e->multi_partition)
            r->accounts_multi_partition++;
        row_text(&e->row, et, sizeof et);
        if (!a) {
            r->lost += ec;
            r->accounts_missing++;
            example(r, "%s: missing from the database; expected %s", e->row.account, et);
            continue;
        }
        row_text(&a->row, dt, sizeof dt);
        if (dc < ec) {
            r->lost += ec - dc;
            example(r, "%s: %" PRId64 " lost; expected %s, database %s", e->row.account, ec - dc,
                    et, dt);
        } else if (dc > ec) {
            r->duplicated += dc - ec;
            bool lacks = a->row.min_cents > e->row.min_cents || a->row.max_cents < e->row.max_cents;
            if (lacks)
                r->mismatched++;
            example(r, "%s: %" PRId64 " duplicated%s; expected %s, database %s", e->row.account,
                    dc - ec,
                    lacks ? ", and min/max show an expected record missing (mismatched)" : "",
                    et, dt);
        } else if (field_diffs(e, &a->row, diffs, sizeof diffs)) {
            r->mismatched++;
            example(r, "%s: mismatched (count %" PRId64 " as expected): %s", e->row.account, ec,
                    diffs);
        }
    }
    for (size_t i = 0; i < na; i++) {
        const cpd_vacct *a = av[i];
        if (cpd_vtable_find(expected, a->row.account))
            continue;
        r->accounts_unexpected++;
        row_text(&a->row, dt, sizeof dt);
        if (a->row.count > 0) {
            r->duplicated += a->row.count;
            example(r, "%s: in the database (%s) but in no record before the committed offsets",
                    a->row.account, dt);
        } else {
            r->mismatched++;
            example(r, "%s: in the database with a non-positive count (%s), in no record",
                    a->row.account, dt);
        }
    }
    free(ev);
    free(av);
    r->dead_ok = dead_actual == dead_expected || (allow_duplicates && dead_actual > dead_expected);
    r->ok = r->lost == 0 && r->mismatched == 0 && r->dead_ok &&
            (allow_duplicates || r->duplicated == 0);
}

void cpd_verify_summary(const cpd_verify_result *r, char *buf, size_t size)
{
    snprintf(buf, size,
             "records %" PRId64 ", lost %" PRId64 ", duplicated %" PRId64
             ", mismatched accounts %" PRId64,
             r->records, r->lost, r->duplicated, r->mismatched);
}

