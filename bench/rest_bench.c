/*
 * rest_bench.c — the REST endpoint's half of `make bench` (cprestbench):
 *
 *  1. A pretend job (two worker threads doing a fixed amount of work per
 *     record, 20 checkpoints a second over 8 subtasks, counters for the
 *     heartbeat) runs alternately with no HTTP client and with one that
 *     polls /jobs/:jid/checkpoints and the latest checkpoint's details 20
 *     times a second: the job's throughput with the client over without it
 *     (the median over adjacent pairs of rounds, target >= 0.99), and the
 *     agent threads' own CPU from the scheduler with and without it.
 *  2. GET /jobs/:jid/checkpoints with web.checkpoints.history = 1000 and
 *     1,000 finished checkpoints retained: p50/p99 round trip over a
 *     keep-alive connection (target p99 <= 2 ms on this machine).
 *
 * Figures only: it never fails on a target, it says whether it met it.
 *   cprestbench [--rounds N] [--seconds S] [--requests N] [--control]
 * --control runs the first part with no client in either round of a pair:
 * the ratio it prints is the machine's noise floor for the real one.
 */
#include "bench_util.h"
#include "cpagent.h"
#include "cpw_flink.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char rtdir[128];

/* ------------------------------------------------------------------ HTTP/1.1 keep-alive client */

typedef struct client {
    int fd;
    char *buf;
    size_t cap;
} client;

static int client_open(client *c, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!c->buf) {
        c->cap = 1 << 20;
        c->buf = malloc(c->cap);
    }
    return connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
}

/* One GET; the body (NUL-terminated, in c->buf) and its length, or -1. */
static long client_get(client *c, const char *path, const char **body)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
    if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        ssize_t k = recv(c->fd, c->buf + got, c->cap - got - 1, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
        c->buf[got] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(c->buf, "Content-Length:");
    if (!cl || cl > end)
        return -1;
    size_t len = strtoul(cl + 15, NULL, 10), head = (size_t)(end + 4 - c->buf);
    if (head + len + 1 > c->cap) {
        c->cap = head + len + 1;
        c->buf = realloc(c->buf, c->cap);
    }
    while (got < head + len) {
        ssize_t k = recv(c->fd, c->buf + got, head + len - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    c->buf[head + len] = '\0';
    *body = c->buf + head;
    return (long)len;
}

/* ------------------------------------------------------------------ the pretend job */

static const cpa_operator ops[] = {{"source", 2}, {"map", 4}, {"sink", 2}};
static const cpa_edge edges[] = {{0, 1, "hash"}, {1, 2, "forward"}};

static cpa_agent *make_agent(const char *job, const char *history)
{
    char err[256];
    cpa_conf *c = cpa_conf_new();
    cpa_conf_set(c, "runtime.dir", rtdir, err, sizeof err);
    cpa_conf_set(c, "job.id", job, err, sizeof err);
    cpa_conf_set(c, "rest.listen", "127.0.0.1:0", err, sizeof err);
    cpa_conf_set(c, "queue.size", "1048576", err, sizeof err);
    if (history)
        cpa_conf_set(c, "web.checkpoints.history", history, err, sizeof err);
    cpa_agent *a = cpa_new(c, err, sizeof err);
    if (!a || cpa_set_topology(a, ops, 3, edges, 2) || cpa_start(a)) {
        fprintf(stderr, "cprestbench: cannot start an agent: %s\n", a ? "cpa_start" : err);
        exit(1);
    }
    return a;
}

/* Every event a checkpoint of the 8 subtasks emits. */
static void one_checkpoint(cpa_agent *a, int64_t id)
{
    cpa_emit(a, &(cpa_event){.type = CPA_EV_CP_TRIGGERED, .cp_id = id, .op = -1, .subtask = -1});
    for (int op = 0; op < 3; op++)
        for (int s = 0; s < ops[op].parallelism; s++) {
            cpa_emit(a, &(cpa_event){.type = op ? CPA_EV_BARRIER_RECEIVED : CPA_EV_BARRIER_INJECTED,
                                     .cp_id = id, .op = op, .subtask = s});
            cpa_emit(a, &(cpa_event){.type = CPA_EV_SNAPSHOT_START, .cp_id = id, .op = op, .subtask = s});
            cpa_emit(a, &(cpa_event){.type = CPA_EV_SNAPSHOT_SYNC_DONE, .cp_id = id, .op = op,
                                     .subtask = s, .u.sync.duration_us = 50});
            cpa_emit(a, &(cpa_event){.type = CPA_EV_SNAPSHOT_ASYNC_DONE, .cp_id = id, .op = op,
                                     .subtask = s, .u.async = {.bytes = 4096, .duration_us = 900}});
            cpa_emit(a, &(cpa_event){.type = CPA_EV_ACK, .cp_id = id, .op = op, .subtask = s,
                                     .u.ack = {.state_size = 4096, .checkpointed_size = 4096,
                                               .start_delay_us = 100, .sync_us = 50,
                                               .async_us = 900}});
        }
    cpa_emit(a, &(cpa_event){.type = CPA_EV_CP_COMPLETED, .cp_id = id, .op = -1, .subtask = -1,
                             .u.completed = {.duration_us = 2000, .state_size = 8 * 4096,
                                             .checkpointed_size = 8 * 4096}});
}

/* Our own threads (main, workers, poller): the rest are the agent's. */
static _Atomic pid_t mine[8];
static atomic_int n_mine;

static void note_thread(void)
{
    int i = atomic_fetch_add(&n_mine, 1);
    if (i < 8)
        atomic_store(&mine[i], (pid_t)syscall(SYS_gettid));
}

/* CPU seconds the agent's threads (the agent thread, nng's) have used:
 * from the scheduler's per-thread nanoseconds, so a machine busy with
 * other work does not blur it as it blurs throughput. */
static double agent_cpu_s(void)
{
    DIR *d = opendir("/proc/self/task");
    double total = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        pid_t tid = (pid_t)atoi(de->d_name);
        bool ours = tid <= 0;
        for (int i = 0; !ours && i < atomic_load(&n_mine) && i < 8; i++)
            ours = atomic_load(&mine[i]) == tid;
        if (ours)
            continue;
        char path[64];
        unsigned long long ns = 0;
        snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%llu", &ns) == 1)
            total += (double)ns / 1e9;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return total;
}

typedef struct job {
    cpa_agent *a;
    atomic_int stop;
    atomic_uint_fast64_t records;
    atomic_int_fast64_t next_cp;
} job;

typedef struct worker {
    job *j;
    int index;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    job *j = w->j;
    note_thread();
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(w->index + 1), n = 0;
    int64_t next = bench_now_ns();
    while (!atomic_load_explicit(&j->stop, memory_order_relaxed)) {
        for (int i = 0; i < 1000; i++) { /* a record's worth of work, 1,000 at a time */
            for (int k = 0; k < 40; k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }
        }
        n += 1000;
        atomic_fetch_add_explicit(&j->records, 1000, memory_order_relaxed);
        for (int s = 0; s < 4; s++)
            cpa_subtask_metrics(j->a, 1, w->index * 2 + s % 2, (int64_t)n, (int64_t)n, 10, 0);
        if (w->index == 0 && bench_now_ns() >= next) { /* the coordinator's part: 20/s */
            one_checkpoint(j->a, atomic_fetch_add(&j->next_cp, 1));
            next += 50000000;
        }
    }
    if (x == 42)
        fprintf(stderr, "%llu\n", (unsigned long long)x); /* keep the work */
    return NULL;
}

typedef struct poller {
    int port;
    char jid[CPW_FLINK_ID_HEX + 1];
    atomic_int stop;
    long polls, failures;
    double cpu_s;               /* the client thread's own CPU, all rounds */
} poller;

static void *poller_main(void *arg)
{
    poller *p = arg;
    client c = {0};
    note_thread();
    client_open(&c, p->port);
    char path[200];
    int64_t next = bench_now_ns();
    while (!atomic_load(&p->stop)) {
        const char *body;
        snprintf(path, sizeof path, "/jobs/%s/checkpoints", p->jid);
        long n = client_get(&c, path, &body);
        static const char latest[] = "\"latest\":{\"completed\":{\"className\":\"completed\",\"id\":";
        const char *k = n > 0 ? strstr(body, latest) : NULL;
        if (k) {
            snprintf(path, sizeof path, "/jobs/%s/checkpoints/details/%lld", p->jid,
                     strtoll(k + sizeof latest - 1, NULL, 10));
            n = client_get(&c, path, &body);
        }
        if (n > 0)
            p->polls++;
        else {
            p->failures++;
            close(c.fd);
            client_open(&c, p->port);
        }
        next += 50000000; /* 20 a second */
        int64_t wait = next - bench_now_ns();
        if (wait > 0)
            nanosleep(&(struct timespec){wait / 1000000000, wait % 1000000000}, NULL);
    }
    close(c.fd);
    free(c.buf);
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    p->cpu_s += (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return NULL;
}

/* records/s over one round; *cpu gets the agent's CPU share (of a core). */
static double run_round(job *j, bool poll, double seconds, poller *p, double *cpu)
{
    pthread_t pt;
    if (poll) {
        atomic_store(&p->stop, 0);
        pthread_create(&pt, NULL, poller_main, p);
    }
    uint64_t r0 = atomic_load(&j->records);
    double c0 = agent_cpu_s();
    int64_t t0 = bench_now_ns();
    nanosleep(&(struct timespec){(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)}, NULL);
    uint64_t r1 = atomic_load(&j->records);
    int64_t t1 = bench_now_ns();
    *cpu = (agent_cpu_s() - c0) / ((double)(t1 - t0) / 1e9);
    if (poll) {
        atomic_store(&p->stop, 1);
        pthread_join(pt, NULL);
        atomic_fetch_sub(&n_mine, 1); /* its tid may be reused */
    }
    return (double)(r1 - r0) / ((double)(t1 - t0) / 1e9);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* control: no client in either round of a pair (the noise floor, A/A). */
static void bench_throughput(int rounds, double seconds, bool control)
{
    job j = {.next_cp = 1};
    j.a = make_agent("restbench-job", NULL);
    worker w[2] = {{&j, 0}, {&j, 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    poller p = {.port = cpa_rest_port(j.a)};
    cpw_flink_derive_id(p.jid, "job", "restbench-job", 0);
    bench_note("REST: job throughput without and with a client polling 20/s (%d pairs of %.1fs)",
               rounds, seconds);
    double cpu, none[32], polled[32], cpu_none[32], cpu_polled[32], ratios[32];
    run_round(&j, false, 1.0, &p, &cpu); /* warm up */
    int nn = 0, np = 0;
    /* pairs of adjacent rounds, in alternating order: a pair's ratio cancels
     * what else the machine was doing over both, and the median of the
     * ratios what it did in one of them */
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            bool poll = (k + r) % 2;
            double rate = run_round(&j, poll && !control, seconds, &p, &cpu);
            if (poll) {
                cpu_polled[np] = cpu;
                polled[np++] = rate;
            } else {
                cpu_none[nn] = cpu;
                none[nn++] = rate;
            }
        }
        ratios[r] = polled[r] / none[r];
    }
    atomic_store(&j.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cpa_stats st;
    cpa_get_stats(j.a, &st);
    cpa_destroy(j.a);
    double lo_a = none[0], hi_a = none[0], lo_b = polled[0], hi_b = polled[0];
    for (int i = 1; i < nn; i++)
        lo_a = none[i] < lo_a ? none[i] : lo_a, hi_a = none[i] > hi_a ? none[i] : hi_a;
    for (int i = 1; i < np; i++)
        lo_b = polled[i] < lo_b ? polled[i] : lo_b, hi_b = polled[i] > hi_b ? polled[i] : hi_b;
    double ratio = median(ratios, rounds), a = median(none, nn), b = median(polled, np);
    double rlo = ratios[0], rhi = ratios[rounds - 1]; /* sorted by median() */
    double ca = median(cpu_none, nn), cb = median(cpu_polled, np);
    printf("REST endpoint (agent thread, libmicrohttpd in its loop)%s\n",
           control ? ": CONTROL, no client in either half of a pair" : "");
    printf("  job throughput, no HTTP client          %s records/s (median of %d, %s…%s)\n",
           bench_commas((uint64_t)a), nn, bench_commas((uint64_t)lo_a), bench_commas((uint64_t)hi_a));
    printf("  job throughput, polled 20/s (2 GETs)    %s records/s (median of %d, %s…%s; %ld polls, %ld failed)\n",
           bench_commas((uint64_t)b), np, bench_commas((uint64_t)lo_b), bench_commas((uint64_t)hi_b),
           p.polls, p.failures);
    printf("  ratio (median over %d adjacent pairs)   %.3f (%.3f…%.3f; target >= 0.99: %s); events dropped %llu\n",
           rounds, ratio, rlo, rhi, ratio >= 0.99 ? "met" : "NOT met", (unsigned long long)st.dropped);
    /* what the polling costs the job at most, whatever else runs here: the
     * agent's extra CPU and the client's own, out of the machine's cores */
    double own = p.cpu_s / ((double)np * seconds);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("  agent threads' CPU                      %.2f%% of a core without the client, %.2f%% "
           "with it; the client %.2f%%\n", 100 * ca, 100 * cb, 100 * own);
    printf("  bound from CPU: polling takes at most   %.2f%% of this machine's %ld cores "
           "(throughput ratio >= %.3f)\n", 100 * (cb - ca + own) / (double)cores, cores,
           1 - (cb - ca + own) / (double)cores);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void bench_latency(int requests)
{
    cpa_agent *a = make_agent("restbench-hist", "1000");
    bench_note("REST: 1,100 checkpoints into a history of 1,000");
    for (int64_t id = 1; id <= 1100; id++)
        one_checkpoint(a, id);
    cpa_stats st;
    do { /* all folded */
        usleep(10000);
        cpa_get_stats(a, &st);
    } while (st.sent + st.dropped < st.emitted);
    char jid[CPW_FLINK_ID_HEX + 1], path[200];
    cpw_flink_derive_id(jid, "job", "restbench-hist", 0);
    client c = {0};
    if (client_open(&c, cpa_rest_port(a))) {
        fprintf(stderr, "cprestbench: cannot connect\n");
        exit(1);
    }
    int64_t *rtt = calloc((size_t)requests, sizeof *rtt);
    const char *body;
    long size = 0;
    int n_hist = 0;
    snprintf(path, sizeof path, "/jobs/%s/checkpoints", jid);
    bench_note("REST: %d GETs of /jobs/:jid/checkpoints", requests);
    for (int i = 0; i < 20; i++) /* warm up */
        client_get(&c, path, &body);
    for (int i = 0; i < requests; i++) {
        int64_t t0 = bench_now_ns();
        size = client_get(&c, path, &body);
        rtt[i] = bench_now_ns() - t0;
        if (size < 0) {
            fprintf(stderr, "cprestbench: request failed\n");
            exit(1);
        }
    }
    cpw_flink_stats s;
    cpw_error e = {0};
    if (cpw_flink_read_stats(body, (size_t)size, &s, &e) == CPW_OK) {
        n_hist = s.n_history;
        cpw_flink_stats_clear(&s);
    }
    qsort(rtt, (size_t)requests, sizeof *rtt, cmp_i64);
    double p50 = (double)rtt[requests / 2], p99 = (double)rtt[(size_t)(requests * 0.99)];
    printf("  GET /checkpoints, %d in history, %s bytes: p50 %s, p99 %s, max %s (target p99 <= 2 ms: %s)\n",
           n_hist, bench_commas((uint64_t)size), bench_fmt_ns(p50), bench_fmt_ns(p99),
           bench_fmt_ns((double)rtt[requests - 1]), p99 <= 2e6 ? "met" : "NOT met");
    free(rtt);
    close(c.fd);
    free(c.buf);
    cpa_destroy(a);
}

int main(int argc, char **argv)
{
    int rounds = 10, requests = 2000;
    double seconds = 1.0;
    bool control = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--requests") && i + 1 < argc)
            requests = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--control"))
            control = true;
        else {
            fprintf(stderr, "usage: cprestbench [--rounds N] [--seconds S] [--requests N] [--control]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 32 || seconds <= 0 || requests < 100) {
        fprintf(stderr, "cprestbench: --rounds 1..32, --seconds > 0, --requests >= 100\n");
        return 2;
    }
    bench_origin_ns = bench_now_ns();
    note_thread();
    snprintf(rtdir, sizeof rtdir, "/tmp/cprestbench.XXXXXX");
    if (!mkdtemp(rtdir)) {
        perror("cprestbench: mkdtemp");
        return 1;
    }
    bench_throughput(rounds, seconds, control);
    bench_latency(requests);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rtdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cprestbench: could not remove %s\n", rtdir);
    return 0;
}
