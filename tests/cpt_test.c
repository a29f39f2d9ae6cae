/* cpt_test.c — fork-per-test runner with timeouts and a name filter. */
#include "cpt_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CPT_MAX 512

static struct { const char *name; cpt_fn fn; int timeout; } tests[CPT_MAX];
static int n_tests;
static char tmpdir[256];

void cpt_register(const char *name, cpt_fn fn, int timeout_s)
{
    if (n_tests < CPT_MAX) {
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        tests[n_tests].timeout = timeout_s;
        n_tests++;
    }
}

void cpt_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(1);
}

const char *cpt_tmpdir(void) { return tmpdir; }

int64_t cpt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int cpt_free_port_pair(void)
{
    /* Let the kernel pick, then check the neighbour is free too. */
    for (int tries = 0; tries < 200; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t l = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        int port = ntohs(a.sin_port);
        close(fd);
        if (port < 65535 && port_free(port) && port_free(port + 1))
            return port;
    }
    return -1;
}

static void rm_rf(const char *path)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) { /* best effort */ }
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : getenv("CPT_FILTER");
    const char *bin = strrchr(argv[0], '/');
    bin = bin ? bin + 1 : argv[0];
    int def_timeout = getenv("CPT_TIMEOUT") ? atoi(getenv("CPT_TIMEOUT")) : 60;
    if (def_timeout <= 0)
        def_timeout = 60;
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < n_tests; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s.%s", bin, tests[i].name);
        if (filter && *filter && !strstr(full, filter))
            continue;
        snprintf(tmpdir, sizeof tmpdir, "/tmp/cpt-%d-%d", (int)getpid(), i);
        rm_rf(tmpdir);
        int64_t t0 = cpt_now_ms();
        int timeout = tests[i].timeout ? tests[i].timeout : def_timeout;
        pid_t pid = fork();
        if (pid == 0) {
            if (mkdir(tmpdir, 0700) != 0)
                cpt_fail_at(__FILE__, __LINE__, "mkdir %s: %s", tmpdir, strerror(errno));
            alarm((unsigned)timeout);
            tests[i].fn();
            /* exit, not _exit: LeakSanitizer checks at exit in sanitizer builds */
            exit(0);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        int64_t ms = cpt_now_ms() - t0;
        rm_rf(tmpdir);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            passed++;
            printf("  ok   %s (%lld ms)\n", full, (long long)ms);
        } else {
            failed++;
            if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
                printf("  FAIL %s: timed out after %d s\n", full, timeout);
            else if (WIFSIGNALED(st))
                printf("  FAIL %s: killed by signal %d\n", full, WTERMSIG(st));
            else
                printf("  FAIL %s (%lld ms)\n", full, (long long)ms);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
