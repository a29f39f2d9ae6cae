/* cpd_kafka.c — embedded Kafka (mock cluster) and `cpdemo kafka`, the record
 * generator, a topic's partition count (see cpd_kafka.h). `cpdemo produce`
 * is cpd_kafka_produce.c. */
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

#include "cpd_args.h"
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

/* ================================================================ cpdemo kafka */

static const char kafka_usage[] =
    "usage: cpdemo kafka [--partitions N] [--topic T] [--brokers B] [--bootstrap-file F]\n"
    "\n"
    "Runs the embedded Kafka: a librdkafka mock cluster in this process, listening on\n"
    "127.0.0.1 on ports the system picks, with topic T of N partitions. Its data lives in\n"
    "this process's memory only (so it outlives the job, not this process). When it\n"
    "listens it prints one line on stdout:\n"
    "    bootstrap 127.0.0.1:PORT[,127.0.0.1:PORT...]\n"
    "and, with --bootstrap-file, writes the address list alone (one line, as\n"
    "bootstrap.servers wants it) to F, atomically. It runs until SIGINT or SIGTERM, then\n"
    "removes F and exits 0. Other topics are created on first use with 4 partitions.\n"
    "\n"
    "With --bootstrap-file F it also listens on a control socket, F.ctl (a Unix socket;\n"
    "--control PATH names another), taking one command per connection and answering one\n"
    "line (\"ok ...\" or \"error ...\"). The job relays cptop's broker failures to it:\n"
    "    down SECONDS    every broker down for SECONDS (0: until \"up\")\n"
    "    up              every broker back\n"
    "    rtt MS          add MS of round-trip latency to every broker (0: none)\n"
    "    status          what is in effect\n"
    "\n"
    "  --partitions N      partitions of the topic, 1..1024 (default 4)\n"
    "  --topic T           the topic, 1..249 of [A-Za-z0-9._-] (default payments)\n"
    "  --brokers B         number of brokers, 1..16 (default 1); replication min(B, 3)\n"
    "  --bootstrap-file F  also write the bootstrap address list to F\n"
    "  --control PATH      the control socket (default F.ctl with --bootstrap-file)\n"
    "  -h, --help          this text\n"
    "\n"
    "Limits of the mock: each partition keeps at most 5 MiB of record batches (or 100000\n"
    "batches), dropping the oldest beyond that (its low watermark moves up); there is no\n"
    "CreateTopics API, no persistence, and ports change on every start.\n"
    "\n"
    "Exit status: 0 stopped by a signal, 1 could not start, 2 bad usage.\n"
    "Example: cpdemo kafka --bootstrap-file var/bootstrap &\n"
    "         kcat -b \"$(cat var/bootstrap)\" -L\n";

static int write_file_atomic(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "%s", strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Removes path if it still holds text (another instance may have replaced it). */
static void remove_if_ours(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strcmp(buf, text) == 0)
        unlink(path);
}

/* ---- the control socket ---- */

static int ctl_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "path longer than %zu bytes", sizeof sa.sun_path - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    unlink(path); /* a stale socket of a killed instance */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    chmod(path, 0600); /* it can take the broker down: the owner only */
    return fd;
}

/* Executes one control command line into reply. */
static void ctl_exec(cpd_kafka_cluster *c, char *line, char *reply, size_t n, int *rtt_ms,
                     double *down_s)
{
    char *end = line + strcspn(line, "\r\n");
    *end = '\0';
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    char *e = NULL;
    if (!strcmp(line, "down") && arg) {
        double s = strtod(arg, &e);
        if (e == arg || *e || s < 0 || s > 3600)
            snprintf(reply, n, "error down: \"%s\" is not 0..3600 seconds", arg);
        else if (cpd_kafka_broker_down(c, s) != 0)
            snprintf(reply, n, "error down: the mock cluster refused");
        else {
            *down_s = s;
            if (s > 0)
                snprintf(reply, n, "ok every broker down for %g s", s);
            else
                snprintf(reply, n, "ok every broker down until \"up\"");
        }
    } else if (!strcmp(line, "up") && !arg) {
        *down_s = 0;
        snprintf(reply, n, cpd_kafka_broker_up(c) ? "error up: the mock cluster refused"
                                                   : "ok every broker up");
    } else if (!strcmp(line, "rtt") && arg) {
        long ms = strtol(arg, &e, 10);
        if (e == arg || *e || ms < 0 || ms > 60000)
            snprintf(reply, n, "error rtt: \"%s\" is not 0..60000 ms", arg);
        else if (cpd_kafka_set_rtt(c, (int)ms) != 0)
            snprintf(reply, n, "error rtt: the mock cluster refused");
        else {
            *rtt_ms = (int)ms;
            snprintf(reply, n, "ok round trip +%ld ms on every broker", ms);
        }
    } else if (!strcmp(line, "status") && !arg) {
        snprintf(reply, n, "ok rtt +%d ms; last down %g s", *rtt_ms, *down_s);
    } else {
        snprintf(reply, n, "error unknown command (down SECONDS, up, rtt MS, status)");
    }
}

static void ctl_serve(cpd_kafka_cluster *c, int lfd, int *rtt_ms, double *down_s)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    /* one short line; a client that sends nothing in 1 s is dropped */
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char line[256];
    size_t len = 0;
    while (len + 1 < sizeof line) {
        ssize_t r = read(fd, line + len, sizeof line - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(line, '\n', len))
            break;
    }
    line[len] = '\0';
    char said[256];
    snprintf(said, sizeof said, "%.*s", (int)strcspn(line, "\r\n"), line);
    char reply[300];
    if (len == 0 || len + 1 >= sizeof line)
        snprintf(reply, sizeof reply, "error expected one command line of at most %zu bytes",
                 sizeof line - 2);
    else
        ctl_exec(c, line, reply, sizeof reply, rtt_ms, down_s);
    fprintf(stderr, "cpdemo kafka: control: %s -> %s\n", said, reply);
    size_t rl = strlen(reply);
    reply[rl++] = '\n';
    ssize_t w = write(fd, reply, rl);
    (void)w;
    close(fd);
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

int cpd_cmd_kafka(int argc, char **argv)
{
    cpd_args a;
    cpd_args_init(&a, "cpdemo kafka", argc, argv);
    long long partitions = 4, brokers = 1;
    const char *topic = "payments", *bsfile = NULL, *ctlpath = NULL;
    while (cpd_args_next(&a)) {
        if (cpd_args_is(&a, "--help") || cpd_args_is(&a, "-h")) {
            if (cpd_args_flag_has_value(&a))
                return 2;
            fputs(kafka_usage, stdout);
            return 0;
        } else if (cpd_args_is(&a, "--partitions")) {
            if (!cpd_args_int(&a, 1, 1024, &partitions))
                return 2;
        } else if (cpd_args_is(&a, "--brokers")) {
            if (!cpd_args_int(&a, 1, 16, &brokers))
                return 2;
        } else if (cpd_args_is(&a, "--topic")) {
            if (!cpd_args_topic(&a, &topic))
                return 2;
        } else if (cpd_args_is(&a, "--control")) {
            if (!(ctlpath = cpd_args_value(&a)))
                return 2;
        } else if (cpd_args_is(&a, "--bootstrap-file")) {
            if (!(bsfile = cpd_args_value(&a)))
                return 2;
            if (!*bsfile) {
                fprintf(stderr, "%s: --bootstrap-file: empty path\n", a.cmd);
                return 2;
            }
        } else {
            return cpd_args_unknown(&a);
        }
    }

    /* Signals are taken with sigtimedwait; blocked before librdkafka starts
     * its threads, so they inherit the mask. */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    cpd_kafka_cluster *c = cpd_kafka_cluster_new((int)brokers, err, sizeof err);
    if (!c) {
        fprintf(stderr, "%s: %s\n", a.cmd, err);
        return 1;
    }
    if (cpd_kafka_topic_create(c, topic, (int)partitions, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", a.cmd, err);
        cpd_kafka_cluster_destroy(c);
        return 1;
    }
    const char *bs = cpd_kafka_bootstraps(c);
    char line[1024];
    snprintf(line, sizeof line, "%s\n", bs);
    if (bsfile && write_file_atomic(bsfile, line, err, sizeof err) != 0) {
        fprintf(stderr, "%s: --bootstrap-file %s: %s\n", a.cmd, bsfile, err);
        cpd_kafka_cluster_destroy(c);
        return 1;
    }
    char ctlbuf[PATH_MAX];
    if (!ctlpath && bsfile) {
        snprintf(ctlbuf, sizeof ctlbuf, "%s.ctl", bsfile);
        ctlpath = ctlbuf;
    }
    int lfd = -1;
    if (ctlpath && (lfd = ctl_listen(ctlpath, err, sizeof err)) < 0) {
        fprintf(stderr, "%s: control socket %s: %s\n", a.cmd, ctlpath, err);
        if (bsfile)
            remove_if_ours(bsfile, line);
        cpd_kafka_cluster_destroy(c);
        return 1;
    }
    printf("bootstrap %s\n", bs);
    fflush(stdout);
    fprintf(stderr, "%s: %lld broker%s, topic %s with %lld partition%s, at %s%s%s; "
                    "SIGINT or SIGTERM stops it\n",
            a.cmd, brokers, brokers == 1 ? "" : "s", topic, partitions,
            partitions == 1 ? "" : "s", bs, bsfile ? ", written to " : "", bsfile ? bsfile : "");

    int sig, rtt_ms = 0;
    double down_s = 0;
    for (;;) {
        struct timespec now = { 0, 0 };
        sig = sigtimedwait(&stopset, NULL, &now);
        if (sig > 0)
            break;
        /* the control socket, or a 200 ms tick to look at signals again */
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };
        if (lfd >= 0 && poll(&pfd, 1, 200) > 0)
            ctl_serve(c, lfd, &rtt_ms, &down_s);
        else if (lfd < 0)
            poll(NULL, 0, 200);
        rd_kafka_poll(c->rk, 0);    /* serve the idle handle's events, if any */
    }
    if (lfd >= 0) {
        close(lfd);
        unlink(ctlpath);
    }
    if (bsfile)
        remove_if_ours(bsfile, line);
    cpd_kafka_cluster_destroy(c);
    fprintf(stderr, "%s: stopped by %s\n", a.cmd, sig == SIGINT ? "SIGINT" : "SIGTERM");
    return 0;
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

