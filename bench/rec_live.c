/* rec_live.c — see rec_live.h. */
#include "rec_live.h"
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define COLS 200
#define ROWS 60

typedef struct dash {
    pid_t pid;
    int master;               /* the pty's master side: drained, never shown */
    bool live;                /* it drew the job's checkpoints ("completed") */
} dash;

/* Starts argv[0] on a new pseudo-terminal of COLS x ROWS as its session's
 * leader. false when it could not. */
static bool spawn_on_pty(char *const argv[], dash *d)
{
    d->pid = -1;
    d->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (d->master < 0 || grantpt(d->master) || unlockpt(d->master))
        return false;
    const char *slave = ptsname(d->master);
    if (!slave)
        return false;
    struct winsize ws = {.ws_row = ROWS, .ws_col = COLS};
    d->pid = fork();
    if (d->pid < 0)
        return false;
    if (d->pid == 0) {
        setsid();
        int fd = open(slave, O_RDWR);
        if (fd < 0)
            _exit(127);
        ioctl(fd, TIOCSCTTY, 0);
        ioctl(fd, TIOCSWINSZ, &ws);
        dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
        if (fd > 2)
            close(fd);
        setenv("TERM", "xterm-256color", 1);
        setenv("LANG", "C.UTF-8", 1);
        unsetenv("NO_COLOR");
        execv(argv[0], argv);
        _exit(127);
    }
    return true;
}

/* Reads and discards what the dashboards drew for ms milliseconds (a
 * dashboard whose terminal is not read stops drawing). */
static void drain(dash *d, int n, int ms)
{
    int64_t end = bench_now_ns() + (int64_t)ms * 1000000;
    char buf[65536];
    for (int64_t now = bench_now_ns(); now < end; now = bench_now_ns()) {
        struct pollfd p[4];
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){.fd = d[i].master, .events = POLLIN};
        if (poll(p, (nfds_t)n, (int)((end - now) / 1000000) + 1) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            ssize_t k = (p[i].revents & (POLLIN | POLLHUP | POLLERR)) ? (ssize_t)sizeof buf : 0;
            while (k == (ssize_t)sizeof buf) {
                k = read(d[i].master, buf, sizeof buf);
                if (k > 0 && memmem(buf, (size_t)k, "completed", 9))
                    d[i].live = true;
            }
        }
    }
}

/* The CPU time of pid in seconds (*res: its resolution): the scheduler's
 * nanoseconds on a CPU (/proc/PID/schedstat) where the kernel keeps them,
 * else utime + stime in clock ticks; -1 when it has gone. */
static double cpu_of(pid_t pid, double *res)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    double ns = -1;
    char sched[64];
    snprintf(sched, sizeof sched, "/proc/%d/schedstat", (int)pid);
    FILE *sf = fopen(sched, "r");
    if (sf) {
        unsigned long long v;
        if (fscanf(sf, "%llu", &v) == 1)
            ns = (double)v;
        fclose(sf);
    }
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    const char *p = strrchr(line, ')'); /* the command may hold spaces */
    unsigned long long ut = 0, st = 0;
    char state = 0;
    if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &ut,
                     &st) != 3 || state == 'Z')
        return -1; /* gone, or a zombie */
    *res = ns >= 0 ? 1e-9 : 1.0 / (double)sysconf(_SC_CLK_TCK);
    return ns >= 0 ? ns / 1e9 : (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; i++) { /* 5 s, then for good */
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Waits up to 10 s for the job's announcement in rt. */
static bool announced(const char *rt, const char *job)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s.json", rt, job);
    for (int i = 0; i < 100; i++) {
        if (access(path, R_OK) == 0)
            return true;
        usleep(100000);
    }
    return false;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The dashboards' CPU over window_s, in REC_LIVE_SLICES slices; the
 * ratio of each slice, their median. d[0] watches, d[1] records, d[2]
 * watches too (the control). */
static bool measure(dash *d, int window_s, rec_live_res *out)
{
    double *r = &out->resolution_s, extra[REC_LIVE_SLICES];
    double a0 = cpu_of(d[0].pid, r), b0 = cpu_of(d[1].pid, r), c0 = cpu_of(d[2].pid, r);
    double a = a0, b = b0;
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < REC_LIVE_SLICES && a >= 0 && b >= 0; i++) {
        drain(d, 3, window_s * 1000 / REC_LIVE_SLICES);
        double a1 = cpu_of(d[0].pid, r), b1 = cpu_of(d[1].pid, r);
        extra[i] = a1 > a ? ((b1 - b) - (a1 - a)) / (a1 - a) * 100 : 0;
        a = a1, b = b1;
    }
    double c = cpu_of(d[2].pid, r);
    out->window_s = (double)(bench_now_ns() - t0) / 1e9;
    if (a0 < 0 || b0 < 0 || c0 < 0 || a < 0 || b < 0 || c < 0) {
        snprintf(out->err, sizeof out->err, "a dashboard exited during the window");
        return false;
    }
    if (!d[0].live || !d[1].live || !d[2].live) {
        snprintf(out->err, sizeof out->err, "a dashboard never drew a completed checkpoint");
        return false;
    }
    out->plain_s = a - a0;
    out->rec_s = b - b0;
    out->control_s = c - c0;
    qsort(extra, REC_LIVE_SLICES, sizeof extra[0], cmp_d);
    out->extra_min = extra[0];
    out->extra_max = extra[REC_LIVE_SLICES - 1];
    out->extra_median = (extra[REC_LIVE_SLICES / 2 - 1] + extra[REC_LIVE_SLICES / 2]) / 2;
    return true;
}

bool rec_live_measure(const char *cptop, const char *dir, const char *job, int warm_s,
                      int window_s, rec_live_pub_fn pub, rec_live_res *out)
{
    memset(out, 0, sizeof *out);
    char rt[512], rec[600];
    snprintf(rt, sizeof rt, "%s/rt", dir);
    snprintf(rec, sizeof rec, "%s/live.cprec", dir);
    if (access(cptop, X_OK)) {
        snprintf(out->err, sizeof out->err, "%s is not built", cptop);
        return false;
    }
    if (mkdir(rt, 0700) && errno != EEXIST) {
        snprintf(out->err, sizeof out->err, "mkdir %s: %s", rt, strerror(errno));
        return false;
    }
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        pub(rt, job);
        _exit(0);
    }
    dash d[3] = {{-1, -1, false}, {-1, -1, false}, {-1, -1, false}};
    bool ok = p > 0 && announced(rt, job);
    char *plain[] = {(char *)cptop, "--runtime-dir", rt, "--job", (char *)job, NULL};
    char *recording[] = {(char *)cptop, "--runtime-dir", rt, "--job", (char *)job, "--record",
                         rec, NULL};
    if (!ok)
        snprintf(out->err, sizeof out->err, "the publisher did not announce itself");
    else if (!spawn_on_pty(plain, &d[0]) || !spawn_on_pty(recording, &d[1]) ||
             !spawn_on_pty(plain, &d[2])) {
        snprintf(out->err, sizeof out->err, "cannot start cptop on a pty: %s", strerror(errno));
        ok = false;
    }
    if (ok) {
        drain(d, 3, warm_s * 1000);
        ok = measure(d, window_s, out);
    }
    for (int i = 0; i < 3; i++) {
        stop(d[i].pid);
        if (d[i].master >= 0)
            close(d[i].master);
    }
    stop(p);
    struct stat st;
    out->rec_bytes = stat(rec, &st) == 0 ? (int64_t)st.st_size : 0;
    if (ok && out->rec_bytes == 0) {
        snprintf(out->err, sizeof out->err, "the recording dashboard recorded nothing");
        ok = false;
    }
    unlink(rec);
    rmdir(rt);
    return ok;
}
