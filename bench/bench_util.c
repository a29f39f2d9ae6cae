/* bench_util.c — see bench_util.h. */
#include "bench_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int64_t bench_origin_ns;

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %5.1fs ", (double)(bench_now_ns() - bench_origin_ns) / 1e9);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *bench_commas(uint64_t v)
{
    static char bufs[8][32];
    static int k;
    char *out = bufs[k++ & 7];
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    int o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
    return out;
}

const char *bench_fmt_ns(double ns)
{
    static char bufs[8][32];
    static int k;
    char *out = bufs[k++ & 7];
    if (ns < 10000)
        snprintf(out, 32, "%.0f ns", ns);
    else if (ns < 10000000)
        snprintf(out, 32, "%.1f us", ns / 1e3);
    else
        snprintf(out, 32, "%.1f ms", ns / 1e6);
    return out;
}
