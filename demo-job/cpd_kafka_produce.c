/* cpd_kafka_produce.c — `cpdemo produce` (see cpd_kafka.h): the generator's
 * records into a topic, paced or as fast as possible, every delivery
 * waited for. */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cpd_args.h"
#include "cpd_clock.h"
#include "cpd_kafka.h"

#define CMD "cpdemo produce"

static const char produce_usage[] =
    "usage: cpdemo produce (--bootstrap B | --bootstrap-file F) [--topic T]\n"
    "                      [--rate R] [--count N] [--seed S] [--accounts A] [--bad-every K]\n"
    "                      [--delivery-timeout S]\n"
    "\n"
    "Produces deterministic JSON payment records, keyed by account:\n"
    "    key   acct-0042\n"
    "    value {\"account\":\"acct-0042\",\"amount_cents\":1250,\"ts_ms\":1700000000170,\"id\":17}\n"
    "ids run 0..N-1; account (uniform in 0..A-1) and amount (1..100000 cents) come from\n"
    "splitmix64 of the seed and the id, ts_ms is 1700000000000 + 10*id: the same seed and\n"
    "accounts give the same records. Partitions are chosen by librdkafka's\n"
    "consistent_random partitioner (CRC32 of the key), so an account stays on one\n"
    "partition. The producer is idempotent (acks=all; a real broker keeps no duplicates of\n"
    "retries; the embedded mock may keep some after it was taken down), lz4.\n"
    "\n"
    "With --bad-every K, record id is malformed when id % K == K-1 (floor(N/K) of N).\n"
    "A malformed record keeps its id and key; its value starts with\n"
    "{\"id\":<id>,\"bad\":\"<kind>\", (the marker \"bad\":\" is in no good record), kinds\n"
    "cycling: truncated JSON, missing amount_cents, amount_cents as a string,\n"
    "non-UTF-8 bytes in the account.\n"
    "\n"
    "  --bootstrap B       broker list host:port[,host:port...] (e.g. from cpdemo kafka)\n"
    "  --bootstrap-file F  read the broker list from the first line of F\n"
    "  --topic T           topic (default payments)\n"
    "  --rate R            records per second, 1..10000000 (default: as fast as possible\n"
    "                      with --count, else 1000)\n"
    "  --count N           stop after N records (default: run until SIGINT/SIGTERM)\n"
    "  --seed S            generator seed, unsigned 64-bit (default 1)\n"
    "  --accounts A        distinct accounts, 1..100000000 (default 1000)\n"
    "  --bad-every K       make every K-th record malformed, 0 = none (default 0)\n"
    "  --delivery-timeout S  a record not acknowledged within S seconds fails,\n"
    "                      1..3600 (default 120)\n"
    "  -h, --help          this text\n"
    "\n"
    "Progress goes to stderr about once a second, then a summary. All records are\n"
    "waited for (flush) before exit. A broker list that cannot be reached within 10 s\n"
    "(at once if every broker refuses) is an error.\n"
    "\n"
    "Exit status: 0 every record delivered (or stopped by a signal without --count, all\n"
    "sent delivered), 1 Kafka unreachable, a delivery failed or --count interrupted,\n"
    "2 bad usage.\n";

typedef struct prod_state {
    cpd_kafka_errors e;         /* first: the error callback's (last_error cleared when shown) */
    uint64_t delivered, failed;
    rd_kafka_resp_err_t first_err;
    char first_errstr[512];
} prod_state;

static void prod_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    prod_state *st = opaque;
    if (!m->err) {
        st->delivered++;
        return;
    }
    if (st->failed++ == 0) {
        st->first_err = m->err;
        snprintf(st->first_errstr, sizeof st->first_errstr, "%s (%s)", rd_kafka_err2str(m->err),
                 rd_kafka_err2name(m->err));
    }
}

static void log_quiet(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* Connection trouble arrives through error_cb, said once and plainly. */
    (void)rk;
    if (level <= 2)
        fprintf(stderr, "cpdemo produce: librdkafka %s: %s\n", fac, buf);
}

static volatile sig_atomic_t prod_signals;

static void prod_on_signal(int sig)
{
    (void)sig;
    prod_signals++;
}

static double now_s(void) { return (double)cpd_mono_us() / 1e6; }

static bool conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) == RD_KAFKA_CONF_OK)
        return true;
    fprintf(stderr, CMD ": librdkafka setting %s=%s: %s\n", k, v, e);
    return false;
}

typedef struct prod_opts {
    const char *bootstrap, *topic;
    long long rate, accounts, bad_every, count, dtimeout;
    uint64_t seed;
    char bsbuf[2048];
} prod_opts;

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, prod_opts *o)
{
    cpd_args a;
    cpd_args_init(&a, CMD, argc, argv);
    const char *bsfile = NULL;
    while (cpd_args_next(&a)) {
        bool ok = true;
        if (cpd_args_is(&a, "--help") || cpd_args_is(&a, "-h")) {
            if (cpd_args_flag_has_value(&a))
                return 2;
            fputs(produce_usage, stdout);
            return 0;
        } else if (cpd_args_is(&a, "--bootstrap")) {
            ok = (o->bootstrap = cpd_args_value(&a)) != NULL;
            if (ok && !*o->bootstrap) {
                fprintf(stderr, CMD ": --bootstrap: empty broker list\n");
                return 2;
            }
        } else if (cpd_args_is(&a, "--bootstrap-file")) {
            ok = (bsfile = cpd_args_value(&a)) != NULL;
        } else if (cpd_args_is(&a, "--topic")) {
            ok = cpd_args_topic(&a, &o->topic);
        } else if (cpd_args_is(&a, "--rate")) {
            ok = cpd_args_int(&a, 1, 10000000, &o->rate);
        } else if (cpd_args_is(&a, "--count")) {
            ok = cpd_args_int(&a, 1, 1000000000000LL, &o->count);
        } else if (cpd_args_is(&a, "--seed")) {
            ok = cpd_args_u64(&a, &o->seed);
        } else if (cpd_args_is(&a, "--accounts")) {
            ok = cpd_args_int(&a, 1, 100000000, &o->accounts);
        } else if (cpd_args_is(&a, "--bad-every")) {
            ok = cpd_args_int(&a, 0, INT_MAX, &o->bad_every);
        } else if (cpd_args_is(&a, "--delivery-timeout")) {
            ok = cpd_args_int(&a, 1, 3600, &o->dtimeout);
        } else {
            return cpd_args_unknown(&a);
        }
        if (!ok)
            return 2;
    }
    if (o->bootstrap && bsfile) {
        fprintf(stderr, CMD ": give --bootstrap or --bootstrap-file, not both\n");
        return 2;
    }
    char err[512];
    if (bsfile) {
        if (!cpd_read_first_line(bsfile, o->bsbuf, sizeof o->bsbuf, err, sizeof err)) {
            fprintf(stderr, CMD ": --bootstrap-file %s: %s\n", bsfile, err);
            return 1;
        }
        o->bootstrap = o->bsbuf;
    }
    if (!o->bootstrap) {
        fprintf(stderr, CMD ": --bootstrap is required (the broker list, e.g. what "
                        "`cpdemo kafka` prints; see --help)\n");
        return 2;
    }
    if (o->count < 0 && o->rate == 0)
        o->rate = 1000;
    return -1;
}

/* The idempotent producer, its signals taken. NULL after a message. */
static rd_kafka_t *new_producer(const prod_opts *o, prod_state *st)
{
    char dtms[32];
    snprintf(dtms, sizeof dtms, "%lld", o->dtimeout * 1000);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf_set(conf, "bootstrap.servers", o->bootstrap) ||
        !conf_set(conf, "client.id", "cpdemo produce") ||
        !conf_set(conf, "enable.idempotence", "true") ||   /* implies acks=all */
        !conf_set(conf, "compression.type", "lz4") ||
        /* paced: larger batches, which the mock stores more compactly */
        !conf_set(conf, "linger.ms", o->rate > 0 ? "50" : "5") ||
        !conf_set(conf, "partitioner", "consistent_random") ||
        !conf_set(conf, "message.timeout.ms", dtms) ||
        !conf_set(conf, "socket.connection.setup.timeout.ms", "10000") ||
        !conf_set(conf, "log.connection.close", "false")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_dr_msg_cb(conf, prod_dr);
    rd_kafka_conf_set_error_cb(conf, cpd_kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, log_quiet);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prod_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        fprintf(stderr, CMD ": cannot create the producer: %s\n", e);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static void say_plan(const prod_opts *o, int partitions)
{
    char what[64], pace[64], bads[64];
    if (o->count < 0)
        snprintf(what, sizeof what, "until signalled");
    else
        snprintf(what, sizeof what, "%lld records", o->count);
    if (o->rate > 0)
        snprintf(pace, sizeof pace, "%lld/s", o->rate);
    else
        snprintf(pace, sizeof pace, "as fast as possible");
    if (o->bad_every > 0)
        snprintf(bads, sizeof bads, "every %lldth malformed", o->bad_every);
    else
        snprintf(bads, sizeof bads, "none malformed");
    fprintf(stderr, CMD ": to %s (%d partitions) at %s: %s, %s, seed %" PRIu64
                    ", %lld accounts, %s\n",
            o->topic, partitions, o->bootstrap, what, pace, o->seed, o->accounts, bads);
}

/* Produces records 0.. until the count, a signal or a fatal error; *sent
 * and *nbad say how many (malformed). 0, or 1 after a message. */
static int produce_all(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const prod_opts *o,
                       prod_state *st, double t0, uint64_t *sent, uint64_t *nbad)
{
    double next_report = t0 + 1.0, last_t = t0;
    uint64_t id = 0, last_id = 0;
    int rc = 0;
    while (!prod_signals && !st->e.fatal && (o->count < 0 || id < (uint64_t)o->count)) {
        double t = now_s();
        if (t >= next_report) {
            fprintf(stderr, CMD ": sent %" PRIu64 ", delivered %" PRIu64 ", %.0f/s, %" PRIu64
                            " delivery errors%s%s\n",
                    id, st->delivered, (double)(id - last_id) / (t - last_t), st->failed,
                    st->e.last_error[0] ? "; last broker error: " : "", st->e.last_error);
            st->e.last_error[0] = '\0';
            last_id = id;
            last_t = t;
            next_report = t + 1.0;
        }
        if (o->rate > 0) {
            /* record id is due at t0 + id / rate */
            double due = t0 + (double)id / (double)o->rate;
            if (due > t) {
                int ms = (int)((due - t) * 1000.0);
                rd_kafka_poll(rk, ms < 1 ? 1 : ms > 100 ? 100 : ms);
                continue;
            }
        }
        char key[CPD_GEN_KEY_MAX], val[CPD_GEN_VAL_MAX];
        bool bad;
        int vlen = cpd_gen_record(o->seed, id, (int)o->accounts, (int)o->bad_every, key,
                                  sizeof key, val, sizeof val, &bad);
        if (vlen < 0) {
            fprintf(stderr, CMD ": internal error: record %" PRIu64 " does not fit\n", id);
            rc = 1;
            break;
        }
        rd_kafka_resp_err_t pe = rd_kafka_producev(
            rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(val, (size_t)vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (pe == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
            continue;
        }
        if (pe) {
            fprintf(stderr, CMD ": cannot produce record %" PRIu64 ": %s\n", id,
                    rd_kafka_err2str(pe));
            rc = 1;
            break;
        }
        id++;
        *nbad += bad;
        if ((id & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    *sent = id;
    return rc;
}

/* Waits for every delivery report (a second signal gives up on the rest)
 * and says how it went. 0, or 1 when something was not delivered. */
static int finish(rd_kafka_t *rk, const prod_opts *o, prod_state *st, double t0, uint64_t id,
                  uint64_t nbad)
{
    bool interrupted = prod_signals > 0;
    int purged = 0, rc = 0;
    while (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        if (st->e.fatal)
            break;
        fprintf(stderr, CMD ": waiting for %d deliveries%s%s\n", rd_kafka_outq_len(rk),
                st->e.last_error[0] ? "; last broker error: " : "", st->e.last_error);
        st->e.last_error[0] = '\0';
        if (prod_signals > 1 && !purged) {
            fprintf(stderr, CMD ": second signal: giving up on undelivered records\n");
            rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            purged = 1;
        }
    }
    rd_kafka_poll(rk, 0);
    double dt = now_s() - t0;
    fprintf(stderr, CMD ": %s: %" PRIu64 " records (%" PRIu64 " malformed) to %s, ids 0..%" PRIu64
                    ", seed %" PRIu64 ", in %.2f s (%.0f/s); delivered %" PRIu64 ", %" PRIu64
                    " delivery errors\n",
            interrupted ? "stopped" : "done", id, nbad, o->topic, id ? id - 1 : 0, o->seed, dt,
            dt > 0 ? (double)id / dt : 0.0, st->delivered, st->failed);
    if (st->e.fatal) {
        fprintf(stderr, CMD ": fatal producer error: %s\n", st->e.fatal_str);
        rc = 1;
    }
    if (st->failed) {
        fprintf(stderr, CMD ": %" PRIu64 " deliveries failed, the first: %s\n", st->failed,
                st->first_errstr);
        rc = 1;
    } else if (st->delivered < id && !st->e.fatal) {
        fprintf(stderr, CMD ": %" PRIu64 " records without a delivery report\n",
                id - st->delivered);
        rc = 1;
    }
    if (interrupted && o->count >= 0 && id < (uint64_t)o->count) {
        fprintf(stderr, CMD ": interrupted after %" PRIu64 " of %lld records\n", id, o->count);
        rc = 1;
    }
    return rc;
}

int cpd_cmd_produce(int argc, char **argv)
{
    prod_opts o = {.topic = "payments", .accounts = 1000, .count = -1, .dtimeout = 120,
                   .seed = 1};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    prod_state st;
    memset(&st, 0, sizeof st);
    rd_kafka_t *rk = new_producer(&o, &st);
    if (!rk)
        return 1;
    char e[512];
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o.topic, NULL);
    int partitions = rkt ? cpd_kafka_partitions(rk, o.topic, o.bootstrap, 10000, &st.e,
                                                &prod_signals, e, sizeof e)
                         : -1;
    if (partitions < 0) {
        fprintf(stderr, CMD ": %s\n", rkt ? e : rd_kafka_err2str(rd_kafka_last_error()));
        if (rkt)
            rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 1;
    }
    say_plan(&o, partitions);
    double t0 = now_s();
    uint64_t sent = 0, nbad = 0;
    rc = produce_all(rk, rkt, &o, &st, t0, &sent, &nbad);
    if (finish(rk, &o, &st, t0, sent, nbad))
        rc = 1;
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}
