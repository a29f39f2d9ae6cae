/* cpd_verify.c — `cpdemo verify` (see cpd_verify.h). */
#include "cpd_verify.h"
#include "cpd_kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cpd_clock.h"
#include "cpd_config.h"

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

/* ================================================================ the command */

#define CMD "cpdemo verify"
#define CONNECT_LIMIT_S 10.0    /* metadata (the topic and its partitions) */
#define STALL_LIMIT_S 20.0      /* no new record while some are still due */
#define MAX_PARTITIONS 100000

static const char verify_usage[] =
    "usage: cpdemo verify --config FILE [--allow-duplicates] [--allow-unknown-keys]\n"
    "\n"
    "Proves that the job's committed results are exactly the results of the records\n"
    "they claim to cover. From the job's configuration FILE (the one `cpdemo run`\n"
    "uses) it takes the sink (sink.url), Kafka (source.kafka.bootstrap-servers or\n"
    "source.kafka.bootstrap-file) and the topic (source.kafka.topic), then:\n"
    "  1. reads the sink's last committed checkpoint and the offsets it covers per\n"
    "     partition (none committed: every partition's end is 0);\n"
    "  2. reads every partition from offset 0 up to that end (each partition must\n"
    "     still start at offset 0, or records were dropped and nothing can be proved);\n"
    "  3. computes per account, independently of the job: count, sum, min and max of\n"
    "     amount_cents, and the ts_ms of the account's last record (highest offset).\n"
    "     A record is good iff its value is a UTF-8 JSON object with a string\n"
    "     \"account\" (1..31 bytes), integers \"amount_cents\", \"ts_ms\" and \"id\", and\n"
    "     no \"bad\" member; any other record is malformed and must be a dead letter;\n"
    "  4. compares with the database and prints one line on stdout:\n"
    "         records N, lost N, duplicated N, mismatched accounts N\n"
    "     records: good records expected; lost / duplicated: records missing from or\n"
    "     counted twice in the accounts' counts; mismatched: accounts with the right\n"
    "     count but other values wrong (or with duplicates whose min/max prove a record\n"
    "     missing). Up to 10 differences and the dead-letter comparison go to stderr.\n"
    "\n"
    "  --config FILE        the job's configuration (required)\n"
    "  --allow-duplicates   for AT_LEAST_ONCE runs: duplicates (and extra dead\n"
    "                       letters) are counted but do not fail; lost records still do\n"
    "  --allow-unknown-keys unknown configuration keys are warnings, not errors\n"
    "                       (as `cpdemo run --allow-unknown-keys`)\n"
    "  -h, --help           this text\n"
    "\n"
    "Kafka that cannot be reached within 10 s, or that stops delivering for 20 s, is an\n"
    "error. Progress goes to stderr once a second during long reads.\n"
    "\n"
    "Exit status: 0 nothing lost, duplicated or mismatched and the dead letters match;\n"
    "1 a difference, or a runtime failure (sink, Kafka); 2 bad usage or configuration.\n";

static double now_s(void) { return (double)cpd_mono_us() / 1e6; }

/* ---- Kafka client state ---- */

typedef cpd_kafka_errors vk;

static void vk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 2)
        fprintf(stderr, CMD ": librdkafka %s: %s\n", fac, buf);
}

static bool conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) == RD_KAFKA_CONF_OK)
        return true;
    fprintf(stderr, CMD ": librdkafka setting %s=%s: %s\n", k, v, e);
    return false;
}

/* ---- the sink's committed state, read consistently ---- */

typedef struct put_state {
    cpd_vtable *t;
    bool refused;
    char account[sizeof ((cpd_row *)0)->account];
} put_state;

static int put_cb(void *opaque, const cpd_row *row)
{
    put_state *ps = opaque;
    if (cpd_vtable_put_row(ps->t, row) == 0)
        return 0;
    ps->refused = true;
    snprintf(ps->account, sizeof ps->account, "%s", row->account);
    return 1;
}

typedef struct committed {
    int64_t checkpoint;
    cpd_offset *offsets;
    int n_offsets;
    cpd_vtable *rows;
    int64_t dead;
} committed;

/* 0, or 1 after a message. The sink commits atomically and each commit
 * records a newer checkpoint id, so an unchanged id around the reads means
 * they saw one committed state. */
static int read_committed(cpd_sink *s, const char *url, committed *c)
{
    char err[1024];
    c->offsets = calloc(MAX_PARTITIONS, sizeof *c->offsets);
    if (!c->offsets) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        cpd_vtable_free(c->rows);
        c->rows = cpd_vtable_new();
        if (!c->rows) {
            fprintf(stderr, CMD ": out of memory\n");
            return 1;
        }
        c->checkpoint = cpd_sink_last_committed(s, c->offsets, MAX_PARTITIONS, &c->n_offsets);
        err[0] = '\0';
        put_state ps = { .t = c->rows };
        if (cpd_sink_scan(s, put_cb, &ps, err, sizeof err) != 0) {
            fprintf(stderr, CMD ": %s\n", err);
            return 1;
        }
        if (ps.refused) {
            fprintf(stderr, CMD ": %s: account \"%s\" twice in the results, or out of memory\n",
                    url, ps.account);
            return 1;
        }
        c->dead = cpd_sink_dead_count(s);
        if (c->dead < 0) {
            fprintf(stderr, CMD ": %s: cannot count dead letters\n", url);
            return 1;
        }
        int64_t again = cpd_sink_last_committed(s, NULL, 0, NULL);
        if (again == c->checkpoint)
            return 0;
        fprintf(stderr, CMD ": checkpoint %" PRId64 " was committed while reading; again\n",
                again);
        usleep(100000);
    }
    fprintf(stderr, CMD ": %s: the job kept committing while verify read the results; "
                    "stop the job (or let it drain) and run verify again\n", url);
    return 1;
}

/* ---- reading the topic ---- */

typedef struct reader {
    int partitions;
    int64_t *end;               /* committed end per partition */
    int64_t *next;              /* next offset due per partition */
    int64_t total, read;        /* records due, records read (< end) */
    int64_t good, malformed;
    cpd_vtable *expected;
    char first_malformed[200];
} reader;

/* 0, or 1 after a message. */
static int check_watermarks(rd_kafka_t *rk, vk *st, const char *topic, reader *r)
{
    for (int p = 0; p < r->partitions; p++) {
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        double t0 = now_s();
        do {
            e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 2000);
            if (e)
                usleep(100000);
        } while (e && !st->fatal && now_s() - t0 < CONNECT_LIMIT_S);
        if (e) {
            fprintf(stderr, CMD ": partition %d of %s: cannot read its offsets: %s%s%s\n", p, topic,
                    rd_kafka_err2str(e), st->last_error[0] ? "; last broker error: " : "",
                    st->last_error);
            return 1;
        }
        if (r->end[p] > hi) {
            fprintf(stderr, CMD ": partition %d of %s ends at offset %" PRId64 " but the sink "
                            "committed up to %" PRId64 ": not the Kafka or topic the job read "
                            "(or it lost records); verify cannot prove anything\n",
                    p, topic, hi, r->end[p]);
            return 1;
        }
        if (lo > 0 && r->end[p] > 0) {
            fprintf(stderr, CMD ": partition %d starts at offset %" PRId64 ": records were "
                            "dropped by the broker; verify cannot prove anything\n", p, lo);
            return 1;
        }
    }
    return 0;
}

/* One message of partition p at offset o (< end). 0, or 1 after a message. */
static int take(reader *r, const rd_kafka_message_t *m)
{
    int p = m->partition;
    int64_t o = m->offset;
    if (o < r->next[p])
        return 0;               /* seen already (a refetch) */
    if (o > r->next[p]) {
        fprintf(stderr, CMD ": partition %d: offset %" PRId64 " follows %" PRId64 ": records "
                        "%" PRId64 "..%" PRId64 " are missing (dropped by the broker during the "
                        "read, or a compacted/transactional topic); verify cannot prove "
                        "anything\n",
                p, o, r->next[p] - 1, r->next[p], o - 1);
        return 1;
    }
    r->next[p] = o + 1;
    r->read++;
    cpd_vrecord rec;
    char why[160];
    if (cpd_verify_parse(m->payload, m->len, &rec, why, sizeof why)) {
        r->good++;
        if (cpd_vtable_add_record(r->expected, &rec, p, o)) {
            fprintf(stderr, CMD ": out of memory (%zu accounts)\n",
                    cpd_vtable_size(r->expected));
            return 1;
        }
    } else {
        if (!r->malformed++)
            snprintf(r->first_malformed, sizeof r->first_malformed,
                     "partition %d offset %" PRId64 ": %s", p, o, why);
    }
    return 0;
}

static bool partition_done(const reader *r, int p)
{
    return r->next[p] >= r->end[p];
}

/* Reads [0, end) of every partition. 0, or 1 after a message. */
static int read_topic(rd_kafka_t *rk, vk *st, const char *topic, reader *r)
{
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(r->partitions);
    int pending = 0;
    for (int p = 0; p < r->partitions; p++) {
        r->total += r->end[p];
        if (r->end[p] > 0) {
            rd_kafka_topic_partition_list_add(tl, topic, p)->offset = 0;
            pending++;
        }
    }
    if (!pending) {
        rd_kafka_topic_partition_list_destroy(tl);
        return 0;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (e) {
        fprintf(stderr, CMD ": cannot assign the partitions of %s: %s\n", topic,
                rd_kafka_err2str(e));
        return 1;
    }
    double t0 = now_s(), last_progress = t0, next_report = t0 + 1.0;
    int64_t last_read = 0;
    int rc = 0;
    while (pending > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        double t = now_s();
        if (m) {
            int p = m->partition;
            bool ours = m->rkt && p >= 0 && p < r->partitions &&
                        strcmp(rd_kafka_topic_name(m->rkt), topic) == 0;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (ours && !partition_done(r, p) && m->offset <= r->next[p] &&
                    m->offset < r->end[p]) {
                    fprintf(stderr, CMD ": partition %d ends at offset %" PRId64 " before the "
                                    "committed end %" PRId64 "; verify cannot prove anything\n",
                            p, m->offset, r->end[p]);
                    rc = 1;
                }
            } else if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                       m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
                fprintf(stderr, CMD ": partition %d: %s: records were dropped by the broker; "
                                "verify cannot prove anything\n",
                        p, rd_kafka_message_errstr(m));
                rc = 1;
            } else if (m->err) {
                snprintf(st->last_error, sizeof st->last_error, "%s",
                         rd_kafka_message_errstr(m));
            } else if (ours && !partition_done(r, p) && m->offset < r->end[p]) {
                int64_t before = r->read;
                rc = take(r, m);
                if (r->read != before)
                    last_progress = t;
                if (!rc && partition_done(r, p)) {
                    pending--;
                    /* stop fetching what lies beyond the end */
                    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
                    rd_kafka_topic_partition_list_add(one, topic, p);
                    rd_kafka_pause_partitions(rk, one);
                    rd_kafka_topic_partition_list_destroy(one);
                }
            }
            rd_kafka_message_destroy(m);
            if (rc)
                break;
        }
        if (st->fatal) {
            fprintf(stderr, CMD ": fatal Kafka error: %s\n", st->fatal_str);
            rc = 1;
            break;
        }
        if (t - last_progress > STALL_LIMIT_S) {
            fprintf(stderr, CMD ": no records from Kafka for %.0f s with %" PRId64 " of %" PRId64
                            " read (is Kafka still up?)%s%s\n",
                    STALL_LIMIT_S, r->read, r->total,
                    st->last_error[0] ? "; last error: " : "", st->last_error);
            rc = 1;
            break;
        }
        if (t >= next_report) {
            fprintf(stderr, CMD ": read %" PRId64 " of %" PRId64 " records (%.0f%%), %.0f/s\n",
                    r->read, r->total, r->total ? 100.0 * (double)r->read / (double)r->total : 100.0,
                    (double)(r->read - last_read) / (t - next_report + 1.0));
            last_read = r->read;
            next_report = t + 1.0;
        }
    }
    rd_kafka_assign(rk, NULL);
    return rc;
}

/* ---- the command ---- */

static int flag_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *s = argv[*i];
    size_t n = strlen(name);
    if (s[n] == '=') {
        *out = s + n + 1;
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, CMD ": %s needs a value (see --help)\n", name);
        return 2;
    }
    *out = argv[++*i];
    return 0;
}

static bool is_opt(const char *s, const char *name)
{
    size_t n = strlen(name);
    return strncmp(s, name, n) == 0 && (s[n] == '\0' || s[n] == '=');
}

static bool flag_has_value(const char *s, const char *name)
{
    if (s[strlen(name)] != '=')
        return false;
    fprintf(stderr, CMD ": %s takes no value\n", name);
    return true;
}

/* Prints each line of a report with a prefix. */
static void print_lines(const char *text, const char *prefix)
{
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        if (len)
            fprintf(stderr, "%s%.*s\n", prefix, len, p);
        p = nl ? nl + 1 : NULL;
    }
}

int cpd_cmd_verify(int argc, char **argv)
{
    const char *config_path = NULL;
    bool allow_dup = false;
    unsigned cfg_flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (is_opt(s, "--help") || is_opt(s, "-h")) {
            if (flag_has_value(s, is_opt(s, "-h") ? "-h" : "--help"))
                return 2;
            fputs(verify_usage, stdout);
            return 0;
        } else if (is_opt(s, "--config")) {
            if (flag_value(argc, argv, &i, "--config", &config_path))
                return 2;
            if (!*config_path) {
                fprintf(stderr, CMD ": --config: empty path\n");
                return 2;
            }
        } else if (is_opt(s, "--allow-duplicates")) {
            if (flag_has_value(s, "--allow-duplicates"))
                return 2;
            allow_dup = true;
        } else if (is_opt(s, "--allow-unknown-keys")) {
            if (flag_has_value(s, "--allow-unknown-keys"))
                return 2;
            cfg_flags |= CPD_CONFIG_ALLOW_UNKNOWN;
        } else if (s[0] == '-') {
            size_t n = strcspn(s, "=");
            fprintf(stderr, CMD ": unknown option '%.*s' (see --help)\n", (int)n, s);
            return 2;
        } else {
            fprintf(stderr, CMD ": unexpected argument '%s' (see --help)\n", s);
            return 2;
        }
    }
    if (!config_path) {
        fprintf(stderr, CMD ": --config is required (the job's configuration; see --help)\n");
        return 2;
    }

    /* ---- configuration */
    cpd_config c;
    cpd_config_defaults(&c);
    char errs[8192], warns[4096];
    int nerr = cpd_config_load(config_path, &c, errs, sizeof errs, warns, sizeof warns,
                               cfg_flags);
    print_lines(warns, CMD ": warning: ");
    if (nerr) {
        print_lines(errs, CMD ": ");
        fprintf(stderr, CMD ": %s: %d error%s in the configuration\n", config_path, nerr,
                nerr == 1 ? "" : "s");
        return 2;
    }
    char bsbuf[2048], err[1024];
    const char *bootstrap = c.bootstrap;
    if (!c.bootstrap[0]) {
        if (!c.bootstrap_file[0]) {
            fprintf(stderr, CMD ": %s: neither source.kafka.bootstrap-servers nor "
                            "source.kafka.bootstrap-file is set: where is Kafka?\n",
                    config_path);
            return 2;
        }
        if (!cpd_read_first_line(c.bootstrap_file, bsbuf, sizeof bsbuf, err, sizeof err)) {
            fprintf(stderr, CMD ": source.kafka.bootstrap-file %s: cannot read the broker list: "
                            "%s (is `cpdemo kafka --bootstrap-file %s` running?)\n",
                    c.bootstrap_file, err, c.bootstrap_file);
            return 1;
        }
        bootstrap = bsbuf;
    }

    /* ---- the sink's committed state */
    if (!strncmp(c.sink, "sqlite:", 7) && c.sink[7] && strcmp(c.sink + 7, ":memory:") != 0 &&
        strncmp(c.sink + 7, "file:", 5) != 0) {
        struct stat sb;
        if (stat(c.sink + 7, &sb) != 0) {
            fprintf(stderr, CMD ": sink.url %s: no database at %s: %s (has the job run?)\n",
                    c.sink, c.sink + 7, strerror(errno));
            return 1;
        }
    }
    cpd_sink *sink = cpd_sink_open(c.sink, err, sizeof err);
    if (!sink) {
        fprintf(stderr, CMD ": sink.url: %s\n", err);
        return 1;
    }
    committed com;
    memset(&com, 0, sizeof com);
    char shown[sizeof c.sink]; /* the sink as messages name it: no password */
    cpd_sink_redact(c.sink, shown, sizeof shown);
    int rc = read_committed(sink, shown, &com);
    cpd_sink_close(sink);
    if (rc) {
        free(com.offsets);
        cpd_vtable_free(com.rows);
        return 1;
    }

    /* ---- Kafka */
    vk st;
    memset(&st, 0, sizeof st);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf_set(conf, "bootstrap.servers", bootstrap) ||
        !conf_set(conf, "client.id", "cpdemo verify") ||
        /* assign() needs a group id; the group is never joined (no subscribe)
         * and nothing is committed to it */
        !conf_set(conf, "group.id", "cpdemo-verify") ||
        !conf_set(conf, "enable.auto.commit", "false") ||
        !conf_set(conf, "enable.auto.offset.store", "false") ||
        !conf_set(conf, "auto.offset.reset", "earliest") ||
        !conf_set(conf, "enable.partition.eof", "true") ||
        !conf_set(conf, "socket.connection.setup.timeout.ms", "10000") ||
        !conf_set(conf, "log.connection.close", "false")) {
        rd_kafka_conf_destroy(conf);
        free(com.offsets);
        cpd_vtable_free(com.rows);
        return 1;
    }
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_conf_set_error_cb(conf, cpd_kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, vk_log);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        fprintf(stderr, CMD ": cannot create the Kafka consumer: %s\n", e);
        rd_kafka_conf_destroy(conf);
        free(com.offsets);
        cpd_vtable_free(com.rows);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);

    reader r;
    memset(&r, 0, sizeof r);
    r.expected = cpd_vtable_new();
    r.partitions = cpd_kafka_partitions(rk, c.topic, bootstrap, (int)(CONNECT_LIMIT_S * 1000),
                                        &st, NULL, err, sizeof err);
    if (r.partitions < 0)
        fprintf(stderr, CMD ": %s\n", err);
    rc = r.partitions < 0 ? 1 : 0;
    if (!rc) {
        r.end = calloc((size_t)r.partitions, sizeof *r.end);
        r.next = calloc((size_t)r.partitions, sizeof *r.next);
        if (!r.end || !r.next || !r.expected) {
            fprintf(stderr, CMD ": out of memory\n");
            rc = 1;
        }
    }
    for (int i = 0; !rc && com.checkpoint > 0 && i < com.n_offsets; i++) {
        const cpd_offset *o = &com.offsets[i];
        if (o->partition < 0 || o->partition >= r.partitions) {
            fprintf(stderr, CMD ": the sink committed offsets for partition %d, but topic %s "
                            "has %d partitions (partitions 0..%d): not the topic the job "
                            "read\n",
                    o->partition, c.topic, r.partitions, r.partitions - 1);
            rc = 1;
        } else if (o->next < 0) {
            fprintf(stderr, CMD ": the sink committed offset %" PRId64 " for partition %d\n",
                    o->next, o->partition);
            rc = 1;
        } else {
            r.end[o->partition] = o->next;
        }
    }
    if (!rc) {
        char ends[512];
        size_t len = 0;
        ends[0] = '\0';
        for (int p = 0; p < r.partitions && len < sizeof ends - 1; p++) {
            int w = snprintf(ends + len, sizeof ends - len, "%s%d:%" PRId64, p ? " " : "", p,
                             r.end[p]);
            if (w < 0 || (size_t)w >= sizeof ends - len) {
                snprintf(ends + sizeof ends - 5, 5, " ...");
                break;
            }
            len += (size_t)w;
        }
        if (com.checkpoint > 0)
            fprintf(stderr, CMD ": %s: checkpoint %" PRId64 " committed, %zu accounts, %" PRId64
                            " dead letters; reading %s at %s up to offsets %s\n",
                    shown, com.checkpoint, cpd_vtable_size(com.rows), com.dead, c.topic,
                    bootstrap, ends);
        else
            fprintf(stderr, CMD ": %s: no checkpoint committed yet (%zu accounts, %" PRId64
                            " dead letters): nothing should be there\n",
                    shown, cpd_vtable_size(com.rows), com.dead);
        rc = check_watermarks(rk, &st, c.topic, &r);
    }
    double t0 = now_s();
    if (!rc)
        rc = read_topic(rk, &st, c.topic, &r);
    rd_kafka_destroy(rk);
    if (!rc) {
        double dt = now_s() - t0;
        fprintf(stderr, CMD ": read %" PRId64 " records in %.2f s: %" PRId64 " good, %" PRId64
                        " malformed%s%s%s\n",
                r.read, dt, r.good, r.malformed, r.malformed ? " (the first: " : "",
                r.first_malformed, r.malformed ? ")" : "");

        cpd_verify_result res;
        cpd_verify_compare(r.expected, com.rows, r.malformed, com.dead, allow_dup, &res);
        fprintf(stderr, CMD ": accounts: %" PRId64 " expected, %" PRId64 " in the database (%"
                        PRId64 " missing, %" PRId64 " unexpected)\n",
                res.accounts_expected, res.accounts_actual, res.accounts_missing,
                res.accounts_unexpected);
        if (res.accounts_multi_partition)
            fprintf(stderr, CMD ": warning: %" PRId64 " account%s on more than one partition: "
                            "their last_ts_ms is not compared (is the producer keying by "
                            "account?)\n",
                    res.accounts_multi_partition, res.accounts_multi_partition == 1 ? "" : "s");
        for (int i = 0; i < res.n_examples; i++)
            fprintf(stderr, CMD ": %s\n", res.examples[i]);
        if (res.differences > res.n_examples)
            fprintf(stderr, CMD ": ... and %" PRId64 " more accounts with differences\n",
                    res.differences - res.n_examples);
        if (res.dead_expected == res.dead_actual)
            fprintf(stderr, CMD ": dead letters: %" PRId64 " expected, %" PRId64 " in the "
                            "database: match\n", res.dead_expected, res.dead_actual);
        else
            fprintf(stderr, CMD ": dead letters: %" PRId64 " malformed records expected, %" PRId64
                            " in the database: %s\n",
                    res.dead_expected, res.dead_actual,
                    res.dead_ok ? "more than expected, allowed with --allow-duplicates"
                    : res.dead_actual < res.dead_expected ? "MISSING dead letters"
                                                          : "EXTRA dead letters");
        if (allow_dup && res.duplicated)
            fprintf(stderr, CMD ": %" PRId64 " duplicated records allowed (--allow-duplicates)\n",
                    res.duplicated);
        char line[256];
        cpd_verify_summary(&res, line, sizeof line);
        printf("%s\n", line);
        fflush(stdout);
        rc = res.ok ? 0 : 1;
    }
    free(r.end);
    free(r.next);
    cpd_vtable_free(r.expected);
    free(com.offsets);
    cpd_vtable_free(com.rows);
    return rc;
}
