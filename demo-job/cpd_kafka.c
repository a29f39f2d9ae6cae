/* cpd_kafka.c — embedded Kafka (mock cluster), the client of its control
 * socket, the record generator, a topic's partition count (see cpd_kafka.h).
 * `cpdemo kafka` (with the control socket's server) is cpd_kafka_cmd.c,
 * `cpdemo produce` cpd_kafka_produce.c. */
#include "cpd_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cpd_clock.h"

/* ================================================================ generator */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void cpd_gen_fields_of(uint64_t seed, uint64_t id, int accounts, cpd_gen_fields *out)
{
    uint64_t h = splitmix64(splitmix64(seed) ^ id);
    out->id = id;
    out->account = accounts > 0 ? (int)(h % (uint64_t)accounts) : 0;
    out->amount_cents = 1 + (int64_t)(splitmix64(h) % 100000);
    out->ts_ms = (int64_t)((uint64_t)CPD_GEN_TS_BASE_MS + 10 * id);
}

cpd_bad_kind cpd_gen_bad_kind(uint64_t id, int bad_every)
{
    if (bad_every <= 0 || id % (uint64_t)bad_every != (uint64_t)bad_every - 1)
        return CPD_BAD_NONE;
    return (cpd_bad_kind)((id / (uint64_t)bad_every) % CPD_BAD_KINDS);
}

const char *cpd_bad_kind_name(cpd_bad_kind k)
{
    static const char *const names[CPD_BAD_KINDS] = {
        "truncated", "missing-field", "wrong-type", "non-utf8",
    };
    return k >= 0 && k < CPD_BAD_KINDS ? names[k] : "none";
}

int cpd_gen_record(uint64_t seed, uint64_t id, int accounts, int bad_every,
                   char *key, size_t key_cap, char *val, size_t val_cap, bool *is_bad)
{
    if (accounts < 1 || !key || !val)
        return -1;
    cpd_gen_fields f;
    cpd_gen_fields_of(seed, id, accounts, &f);
    cpd_bad_kind kind = cpd_gen_bad_kind(id, bad_every);
    if (is_bad)
        *is_bad = kind != CPD_BAD_NONE;

    int kn = snprintf(key, key_cap, "acct-%04d", f.account);
    if (kn < 0 || (size_t)kn >= key_cap)
        return -1;

    unsigned long long uid = (unsigned long long)id;
    long long amt = (long long)f.amount_cents, ts = (long long)f.ts_ms;
    int n;
    switch (kind) {
    case CPD_BAD_NONE:
        n = snprintf(val, val_cap,
                     "{\"account\":\"acct-%04d\",\"amount_cents\":%lld,\"ts_ms\":%lld,\"id\":%llu}",
                     f.account, amt, ts, uid);
        break;
    case CPD_BAD_TRUNCATED: {
        int prefix = snprintf(val, val_cap, "{\"id\":%llu,\"bad\":\"truncated\",", uid);
        n = snprintf(val, val_cap,
                     "{\"id\":%llu,\"bad\":\"truncated\",\"account\":\"acct-%04d\","
                     "\"amount_cents\":%lld,\"ts_ms\":%lld}",
                     uid, f.account, amt, ts);
        if (n < 0 || (size_t)n >= val_cap)
            return -1;
        int cut = n * 2 / 3;    /* no closing brace: never parseable */
        if (cut <= prefix)
            cut = prefix + 1;
        val[cut] = '\0';
        n = cut;
        break;
    }
    case CPD_BAD_MISSING_FIELD:
        n = snprintf(val, val_cap,
                     "{\"id\":%llu,\"bad\":\"missing-field\",\"account\":\"acct-%04d\",\"ts_ms\":%lld}",
                     uid, f.account, ts);
        break;
    case CPD_BAD_WRONG_TYPE:
        n = snprintf(val, val_cap,
                     "{\"id\":%llu,\"bad\":\"wrong-type\",\"account\":\"acct-%04d\","
                     "\"amount_cents\":\"%lld\",\"ts_ms\":%lld}",
                     uid, f.account, amt, ts);
        break;
    case CPD_BAD_NON_UTF8:
    default:
        n = snprintf(val, val_cap,
                     "{\"id\":%llu,\"bad\":\"non-utf8\",\"account\":\"acct-\xff\xfe%04d\","
                     "\"amount_cents\":%lld,\"ts_ms\":%lld}",
                     uid, f.account, amt, ts);
        break;
    }
    if (n < 0 || (size_t)n >= val_cap)
        return -1;
    return n;
}

/* ================================================================ helpers */


bool cpd_kafka_topic_valid(const char *t)
{
    size_t n = strlen(t);
    if (n < 1 || n > 249 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static void log_to_stderr(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        fprintf(stderr, "cpdemo kafka: librdkafka %s: %s\n", fac, buf);
}

/* ================================================================ mock cluster */

struct cpd_kafka_cluster {
    rd_kafka_t *rk;             /* the handle the mock cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    int brokers;
    char *bootstraps;
    /* broker_down's timer */
    pthread_t timer;
    bool timer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool up_pending;
    struct timespec up_at;      /* CLOCK_MONOTONIC */
};

static void *cluster_timer(void *arg)
{
    cpd_kafka_cluster *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        if (!c->up_pending) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > c->up_at.tv_sec ||
            (now.tv_sec == c->up_at.tv_sec && now.tv_nsec >= c->up_at.tv_nsec)) {
            c->up_pending = false;
            pthread_mutex_unlock(&c->mu);
            rd_kafka_mock_broker_set_up(c->mc, -1);
            pthread_mutex_lock(&c->mu);
            continue;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &c->up_at);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

cpd_kafka_cluster *cpd_kafka_cluster_new(int brokers, char *err, size_t errlen)
{
    if (brokers < 1 || brokers > 16) {
        snprintf(err, errlen, "broker count %d not in 1..16", brokers);
        return NULL;
    }
    cpd_kafka_cluster *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->brokers = brokers;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);

    /* A producer handle that never produces: the mock cluster's home. No
     * bootstrap.servers, so it connects nowhere. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    if (rd_kafka_conf_set(conf, "client.id", "cpdemo kafka", e, sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "librdkafka configuration: %s", e);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, log_to_stderr);
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!c->rk) {
        snprintf(err, errlen, "cannot create the librdkafka handle: %s", e);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    c->mc = rd_kafka_mock_cluster_new(c->rk, brokers);
    if (!c->mc) {
        snprintf(err, errlen, "cannot create the mock cluster (no free loopback port?)");
        goto fail;
    }
    const char *bs = rd_kafka_mock_cluster_bootstraps(c->mc);
    c->bootstraps = strdup(bs ? bs : "");
    if (!c->bootstraps || !*c->bootstraps) {
        snprintf(err, errlen, "the mock cluster has no bootstrap address");
        goto fail;
    }
    if (pthread_create(&c->timer, NULL, cluster_timer, c) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        goto fail;
    }
    c->timer_started = true;
    return c;
fail:
    cpd_kafka_cluster_destroy(c);
    return NULL;
}

int cpd_kafka_topic_create(cpd_kafka_cluster *c, const char *topic, int partitions, char *err,
                           size_t errlen)
{
    if (!topic || !cpd_kafka_topic_valid(topic)) {
        snprintf(err, errlen, "'%s' is not a valid topic name", topic ? topic : "(null)");
        return -1;
    }
    if (partitions < 1) {
        snprintf(err, errlen, "partition count %d < 1", partitions);
        return -1;
    }
    int rf = c->brokers < 3 ? c->brokers : 3;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(c->mc, topic, partitions, rf);
    if (e) {
        snprintf(err, errlen, "cannot create topic %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

const char *cpd_kafka_bootstraps(const cpd_kafka_cluster *c)
{
    return c->bootstraps;
}

void cpd_kafka_cluster_poll(cpd_kafka_cluster *c)
{
    rd_kafka_poll(c->rk, 0); /* the idle handle's events, if any */
}

int cpd_kafka_broker_down(cpd_kafka_cluster *c, double seconds)
{
    if (rd_kafka_mock_broker_set_down(c->mc, -1))
        return -1;
    pthread_mutex_lock(&c->mu);
    c->up_pending = seconds > 0;
    if (c->up_pending) {
        clock_gettime(CLOCK_MONOTONIC, &c->up_at);
        double whole = (double)(long long)seconds;
        c->up_at.tv_sec += (time_t)whole;
        c->up_at.tv_nsec += (long)((seconds - whole) * 1e9);
        if (c->up_at.tv_nsec >= 1000000000L) {
            c->up_at.tv_sec++;
            c->up_at.tv_nsec -= 1000000000L;
        }
    }
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int cpd_kafka_broker_up(cpd_kafka_cluster *c)
{
    pthread_mutex_lock(&c->mu);
    c->up_pending = false;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return rd_kafka_mock_broker_set_up(c->mc, -1) ? -1 : 0;
}

int cpd_kafka_set_rtt(cpd_kafka_cluster *c, int ms)
{
    if (ms < 0)
        return -1;
    return rd_kafka_mock_broker_set_rtt(c->mc, -1, ms) ? -1 : 0;
}

void cpd_kafka_cluster_destroy(cpd_kafka_cluster *c)
{
    if (!c)
        return;
    if (c->timer_started) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->timer, NULL);
    }
    if (c->mc)
        rd_kafka_mock_cluster_destroy(c->mc);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->bootstraps);
    free(c);
}

int cpd_kafka_control(const char *path, const char *cmd, char *reply, size_t n)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(reply, n, "control socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(reply, n, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(reply, n, "cannot reach the embedded Kafka's control socket %s: %s", path,
                 strerror(errno));
        close(fd);
        return -1;
    }
    char line[300];
    int l = snprintf(line, sizeof line, "%s\n", cmd);
    size_t got = 0;
    if (l <= 0 || write(fd, line, (size_t)l) != l) {
        snprintf(reply, n, "control socket %s: write: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    while (got + 1 < n) {
        ssize_t r = read(fd, reply + got, n - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(reply, '\n', got))
            break;
    }
    close(fd);
    reply[got] = '\0';
    reply[strcspn(reply, "\r\n")] = '\0';
    if (got == 0) {
        snprintf(reply, n, "control socket %s: no answer", path);
        return -1;
    }
    if (!strncmp(reply, "ok ", 3)) {
        memmove(reply, reply + 3, strlen(reply + 3) + 1);
        return 0;
    }
    if (!strncmp(reply, "error ", 6))
        memmove(reply, reply + 6, strlen(reply + 6) + 1);
    return -1;
}

void cpd_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cpd_kafka_errors *st = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
        st->fatal = true;
        snprintf(st->fatal_str, sizeof st->fatal_str, "%s: %s", rd_kafka_err2name(orig), buf);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        st->all_down = true;
    else
        snprintf(st->last_error, sizeof st->last_error, "%s", reason);
}

/* ================================================================ metadata */

int cpd_kafka_partitions(rd_kafka_t *rk, const char *topic, const char *bs, int wait_ms,
                         const cpd_kafka_errors *errs, const volatile sig_atomic_t *stop,
                         char *err, size_t errsz)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) {
        snprintf(err, errsz, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    int64_t t0 = cpd_mono_ms();
    rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
    bool topic_err = false;
    int n = -1;
    while (n < 0) {
        if (stop && *stop) {
            snprintf(err, errsz, "interrupted while connecting to %s", bs);
            break;
        }
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 500);
        if (!e && md && md->topic_cnt == 1 && !md->topics[0].err &&
            md->topics[0].partition_cnt > 0) {
            n = md->topics[0].partition_cnt;
        } else if (!e && md) {
            last = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
            topic_err = true;
        } else {
            last = e;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n >= 0)
            break;
        rd_kafka_poll(rk, 0); /* the error callback fills errs */
        bool down = errs && errs->all_down, fatal = errs && errs->fatal;
        if (fatal || down || cpd_mono_ms() - t0 > wait_ms) {
            if (topic_err && !down && !fatal)
                snprintf(err, errsz, "topic %s is not available at %s: %s", topic, bs,
                         rd_kafka_err2str(last));
            else if (down || fatal)
                snprintf(err, errsz, "cannot reach Kafka at %s: %s", bs,
                         fatal ? errs->fatal_str : errs->last_error[0] ? errs->last_error
                                                                        : rd_kafka_err2str(last));
            else
                snprintf(err, errsz, "cannot reach Kafka at %s within %d s: %s", bs,
                         (wait_ms + 999) / 1000,
                         errs && errs->last_error[0] ? errs->last_error : rd_kafka_err2str(last));
            break;
        }
        if (!e)
            cpd_sleep_ms(100);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

bool cpd_read_first_line(const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return false;
    }
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "empty file");
        return false;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!*buf) {
        snprintf(err, errlen, "empty first line");
        return false;
    }
    return true;
}

