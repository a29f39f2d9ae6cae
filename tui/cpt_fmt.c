/* cpt_fmt.c — see cpt_fmt.h. */
#include "cpt_fmt.h"

#include <stdio.h>
#include <time.h>

void cpt_fmt_dur(char *out, size_t n, int64_t us)
{
    if (us < 0)
        us = 0;
    if (us < 1000)
        snprintf(out, n, "%lldus", (long long)us);
    else if (us < 10000)
        snprintf(out, n, "%.2fms", us / 1e3);
    else if (us < 1000000)
        snprintf(out, n, "%.0fms", us / 1e3);
    else if (us < 60000000)
        snprintf(out, n, "%.1fs", us / 1e6);
    else if (us < 3600000000LL)
        snprintf(out, n, "%lldm%02llds", (long long)(us / 60000000), (long long)(us / 1000000 % 60));
    else
        snprintf(out, n, "%lldh%02lldm", (long long)(us / 3600000000LL),
                 (long long)(us / 60000000 % 60));
}

void cpt_fmt_bytes(char *out, size_t n, int64_t b)
{
    if (b < 0)
        b = 0;
    if (b < 1024)
        snprintf(out, n, "%lld B", (long long)b);
    else if (b < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", b / 1024.0);
    else if (b < 1024LL * 1024 * 1024)
        snprintf(out, n, "%.1f MiB", b / (1024.0 * 1024));
    else
        snprintf(out, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

void cpt_fmt_limit(char *out, size_t n, int64_t us)
{
    if (us < 0)
        snprintf(out, n, "?");
    else if (us % 3600000000LL == 0 && us)
        snprintf(out, n, "%lldh", (long long)(us / 3600000000LL));
    else if (us % 60000000 == 0 && us)
        snprintf(out, n, "%lldm", (long long)(us / 60000000));
    else if (us % 1000000 == 0 && us)
        snprintf(out, n, "%llds", (long long)(us / 1000000));
    else
        cpt_fmt_dur(out, n, us);
}

void cpt_fmt_clock(char *out, size_t n, int64_t ts_us, bool millis)
{
    if (ts_us <= 0) {
        snprintf(out, n, "-");
        return;
    }
    time_t t = (time_t)(ts_us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (millis)
        snprintf(out, n, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ts_us / 1000 % 1000));
    else
        snprintf(out, n, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}
