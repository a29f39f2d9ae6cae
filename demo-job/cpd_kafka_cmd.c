/* cpd_kafka_cmd.c — `cpdemo kafka`: the embedded Kafka as a process of its
 * own, with its bootstrap file and the control socket the job relays
 * cptop's broker failures to (see cpd_kafka.h). */
#include "cpd_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cpd_args.h"
#include "cpd_clock.h"

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
        cpd_kafka_cluster_poll(c);
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

