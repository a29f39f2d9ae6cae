/* cpd_verify_cmd.c — `cpdemo verify` (see cpd_verify.h): reads the sink's
 * committed state and the topic up to it, and compares with cpd_verify.c's
 * pure functions. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cpd_args.h"
#include "cpd_clock.h"
#include "cpd_config.h"
#include "cpd_kafka.h"
#include "cpd_verify.h"


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

typedef struct verify_opts {
    const char *config;
    bool allow_dup;
    unsigned cfg_flags;
} verify_opts;

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, verify_opts *o)
{
    cpd_args a;
    cpd_args_init(&a, CMD, argc, argv);
    while (cpd_args_next(&a)) {
        if (cpd_args_is(&a, "--help") || cpd_args_is(&a, "-h")) {
            if (cpd_args_flag_has_value(&a))
                return 2;
            fputs(verify_usage, stdout);
            return 0;
        } else if (cpd_args_is(&a, "--config")) {
            if (!(o->config = cpd_args_value(&a)))
                return 2;
            if (!*o->config) {
                fprintf(stderr, CMD ": --config: empty path\n");
                return 2;
            }
        } else if (cpd_args_is(&a, "--allow-duplicates")) {
            if (cpd_args_flag_has_value(&a))
                return 2;
            o->allow_dup = true;
        } else if (cpd_args_is(&a, "--allow-unknown-keys")) {
            if (cpd_args_flag_has_value(&a))
                return 2;
            o->cfg_flags |= CPD_CONFIG_ALLOW_UNKNOWN;
        } else {
            return cpd_args_unknown(&a);
        }
    }
    if (!o->config) {
        fprintf(stderr, CMD ": --config is required (the job's configuration; see --help)\n");
        return 2;
    }
    return -1;
}

/* The configuration and the broker list. -1 to go on, else the exit status. */
static int load_config(const verify_opts *o, cpd_config *c, char *bsbuf, size_t bssz,
                       const char **bootstrap)
{
    cpd_config_defaults(c);
    char errs[8192], warns[4096], err[1024];
    int nerr = cpd_config_load(o->config, c, errs, sizeof errs, warns, sizeof warns,
                               o->cfg_flags);
    print_lines(warns, CMD ": warning: ");
    if (nerr) {
        print_lines(errs, CMD ": ");
        fprintf(stderr, CMD ": %s: %d error%s in the configuration\n", o->config, nerr,
                nerr == 1 ? "" : "s");
        return 2;
    }
    *bootstrap = c->bootstrap;
    if (c->bootstrap[0])
        return -1;
    if (!c->bootstrap_file[0]) {
        fprintf(stderr, CMD ": %s: neither source.kafka.bootstrap-servers nor "
                        "source.kafka.bootstrap-file is set: where is Kafka?\n",
                o->config);
        return 2;
    }
    if (!cpd_read_first_line(c->bootstrap_file, bsbuf, bssz, err, sizeof err)) {
        fprintf(stderr, CMD ": source.kafka.bootstrap-file %s: cannot read the broker list: "
                        "%s (is `cpdemo kafka --bootstrap-file %s` running?)\n",
                c->bootstrap_file, err, c->bootstrap_file);
        return 1;
    }
    *bootstrap = bsbuf;
    return -1;
}

/* The sink's committed state into *com; shown: how messages name the sink
 * (no password). 0, or 1 after a message. */
static int read_sink(const cpd_config *c, char *shown, size_t shownsz, committed *com)
{
    cpd_sink_redact(c->sink, shown, shownsz);
    if (!strncmp(c->sink, "sqlite:", 7) && c->sink[7] && strcmp(c->sink + 7, ":memory:") != 0 &&
        strncmp(c->sink + 7, "file:", 5) != 0) {
        struct stat sb;
        if (stat(c->sink + 7, &sb) != 0) {
            fprintf(stderr, CMD ": sink.url %s: no database at %s: %s (has the job run?)\n",
                    shown, c->sink + 7, strerror(errno));
            return 1;
        }
    }
    char err[1024];
    cpd_sink *sink = cpd_sink_open(c->sink, err, sizeof err);
    if (!sink) {
        fprintf(stderr, CMD ": sink.url: %s\n", err);
        return 1;
    }
    int rc = read_committed(sink, shown, com);
    cpd_sink_close(sink);
    return rc;
}

/* A consumer that never joins its group nor commits. NULL after a message. */
static rd_kafka_t *open_consumer(const char *bootstrap, vk *st)
{
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
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_error_cb(conf, cpd_kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, vk_log);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        fprintf(stderr, CMD ": cannot create the Kafka consumer: %s\n", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* The topic's partitions and where reading each must end (the committed
 * offsets), said on stderr; then the watermarks checked. 0, or 1 after a
 * message. */
static int plan_reads(rd_kafka_t *rk, vk *st, const cpd_config *c, const char *bootstrap,
                      const committed *com, const char *shown, reader *r)
{
    char err[1024];
    r->partitions = cpd_kafka_partitions(rk, c->topic, bootstrap, (int)(CONNECT_LIMIT_S * 1000),
                                         st, NULL, err, sizeof err);
    if (r->partitions < 0) {
        fprintf(stderr, CMD ": %s\n", err);
        return 1;
    }
    r->end = calloc((size_t)r->partitions, sizeof *r->end);
    r->next = calloc((size_t)r->partitions, sizeof *r->next);
    if (!r->end || !r->next || !r->expected) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    for (int i = 0; com->checkpoint > 0 && i < com->n_offsets; i++) {
        const cpd_offset *o = &com->offsets[i];
        if (o->partition < 0 || o->partition >= r->partitions) {
            fprintf(stderr, CMD ": the sink committed offsets for partition %d, but topic %s "
                            "has %d partitions (partitions 0..%d): not the topic the job "
                            "read\n",
                    o->partition, c->topic, r->partitions, r->partitions - 1);
            return 1;
        }
        if (o->next < 0) {
            fprintf(stderr, CMD ": the sink committed offset %" PRId64 " for partition %d\n",
                    o->next, o->partition);
            return 1;
        }
        r->end[o->partition] = o->next;
    }
    char ends[512];
    size_t len = 0;
    ends[0] = '\0';
    for (int p = 0; p < r->partitions && len < sizeof ends - 1; p++) {
        int w = snprintf(ends + len, sizeof ends - len, "%s%d:%" PRId64, p ? " " : "", p,
                         r->end[p]);
        if (w < 0 || (size_t)w >= sizeof ends - len) {
            snprintf(ends + sizeof ends - 5, 5, " ...");
            break;
        }
        len += (size_t)w;
    }
    if (com->checkpoint > 0)
        fprintf(stderr, CMD ": %s: checkpoint %" PRId64 " committed, %zu accounts, %" PRId64
                        " dead letters; reading %s at %s up to offsets %s\n",
                shown, com->checkpoint, cpd_vtable_size(com->rows), com->dead, c->topic,
                bootstrap, ends);
    else
        fprintf(stderr, CMD ": %s: no checkpoint committed yet (%zu accounts, %" PRId64
                        " dead letters): nothing should be there\n",
                shown, cpd_vtable_size(com->rows), com->dead);
    return check_watermarks(rk, st, c->topic, r);
}

/* The comparison, on stderr in detail and on stdout in one line. The exit
 * status: 0 no difference, 1 one. */
static int report(const reader *r, const committed *com, bool allow_dup, double dt)
{
    fprintf(stderr, CMD ": read %" PRId64 " records in %.2f s: %" PRId64 " good, %" PRId64
                    " malformed%s%s%s\n",
            r->read, dt, r->good, r->malformed, r->malformed ? " (the first: " : "",
            r->first_malformed, r->malformed ? ")" : "");
    cpd_verify_result res;
    cpd_verify_compare(r->expected, com->rows, r->malformed, com->dead, allow_dup, &res);
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
    return res.ok ? 0 : 1;
}

int cpd_cmd_verify(int argc, char **argv)
{
    verify_opts o = {NULL, false, 0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    cpd_config c;
    char bsbuf[2048];
    const char *bootstrap;
    if ((rc = load_config(&o, &c, bsbuf, sizeof bsbuf, &bootstrap)) >= 0)
        return rc;
    committed com;
    memset(&com, 0, sizeof com);
    char shown[sizeof c.sink];
    rc = read_sink(&c, shown, sizeof shown, &com);
    vk st;
    memset(&st, 0, sizeof st);
    rd_kafka_t *rk = rc ? NULL : open_consumer(bootstrap, &st);
    reader r;
    memset(&r, 0, sizeof r);
    if (!rc && !rk)
        rc = 1;
    if (!rc) {
        r.expected = cpd_vtable_new();
        rc = plan_reads(rk, &st, &c, bootstrap, &com, shown, &r);
    }
    double t0 = now_s();
    if (!rc)
        rc = read_topic(rk, &st, c.topic, &r);
    if (rk)
        rd_kafka_destroy(rk);
    if (!rc)
        rc = report(&r, &com, o.allow_dup, now_s() - t0);
    free(r.end);
    free(r.next);
    cpd_vtable_free(r.expected);
    free(com.offsets);
    cpd_vtable_free(com.rows);
    return rc;
}
