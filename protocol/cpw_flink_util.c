/* cpw_flink_util.c — Flink ids, durations and name tables (see cpw_flink.h). */
#include "cpw_flink.h"

#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

const char *const cpw_flink_task_state_names[CPW_FLINK_TASK_STATES] = {
    "CREATED",  "SCHEDULED", "DEPLOYING", "RUNNING",     "FINISHED",
    "CANCELING", "CANCELED", "FAILED",    "RECONCILING", "INITIALIZING",
};

const char *const cpw_flink_job_state_names[CPW_FLINK_JOB_STATES] = {
    "INITIALIZING", "CREATED",  "RUNNING",    "FAILING",   "FAILED",      "CANCELLING",
    "CANCELED",     "FINISHED", "RESTARTING", "SUSPENDED", "RECONCILING",
};

static const char *const status_names[CPW_FLINK_STATUS__COUNT] = {"IN_PROGRESS", "COMPLETED",
                                                                   "FAILED"};
static const char *const class_names[CPW_FLINK_STATUS__COUNT] = {"in_progress", "completed",
                                                                  "failed"};

const char *cpw_flink_status_name(cpw_flink_status s)
{
    return (unsigned)s < CPW_FLINK_STATUS__COUNT ? status_names[s] : NULL;
}

const char *cpw_flink_class_name(cpw_flink_status s)
{
    return (unsigned)s < CPW_FLINK_STATUS__COUNT ? class_names[s] : NULL;
}

cpw_flink_stat cpw_flink_stat_empty(void)
{
    return (cpw_flink_stat){.has_pct = true, .p50 = NAN, .p90 = NAN, .p95 = NAN,
                            .p99 = NAN, .p999 = NAN};
}

bool cpw_flink_parse_id(const char *s, char *out)
{
    if (!s)
        return false;
    for (int i = 0; i < CPW_FLINK_ID_HEX; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    if (s[CPW_FLINK_ID_HEX] != '\0')
        return false;
    if (out) {
        for (int i = 0; i < CPW_FLINK_ID_HEX; i++)
            out[i] = (char)tolower((unsigned char)s[i]);
        out[CPW_FLINK_ID_HEX] = '\0';
    }
    return true;
}

void cpw_flink_derive_id(char *out, const char *what, const char *job, int index)
{
    static const char hex[] = "0123456789abcdef";
    if (!strcmp(what, "job") && strlen(job) == CPW_FLINK_ID_HEX &&
        strspn(job, "0123456789abcdef") == CPW_FLINK_ID_HEX) {
        memcpy(out, job, CPW_FLINK_ID_HEX + 1);
        return;
    }
    /* NUL-separated, so ("ab","c") and ("a","bc") cannot collide */
    char in[256];
    int n = snprintf(in, sizeof in, "cptop-flink-id%c%s%c%s%c%d", 0, what, 0, job, 0, index);
    if (n < 0 || (size_t)n >= sizeof in)
        n = sizeof in - 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha256(), NULL) || mdlen < 16)
        memset(md, 0, sizeof md);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[CPW_FLINK_ID_HEX] = '\0';
}

/* Units of Flink's TimeUtils, longest names first within each. */
static const struct {
    const char *name;
    int64_t ms;
} units[] = {
    {"milliseconds", 1}, {"millisecond", 1}, {"millis", 1}, {"milli", 1}, {"ms", 1},
    {"seconds", 1000}, {"second", 1000}, {"secs", 1000}, {"sec", 1000}, {"s", 1000},
    {"minutes", 60000}, {"minute", 60000}, {"mins", 60000}, {"min", 60000}, {"m", 60000},
    {"hours", 3600000}, {"hour", 3600000}, {"h", 3600000},
    {"days", 86400000}, {"day", 86400000}, {"d", 86400000},
};

bool cpw_flink_parse_duration_ms(const char *s, int64_t *out_ms)
{
    if (!s)
        return false;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    int64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s++ - '0');
    }
    while (isspace((unsigned char)*s))
        s++;
    char unit[16];
    size_t n = 0;
    while (*s && !isspace((unsigned char)*s) && n < sizeof unit - 1)
        unit[n++] = (char)tolower((unsigned char)*s++);
    unit[n] = '\0';
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return false;
    int64_t mul = n == 0 ? 1 : 0;
    for (size_t i = 0; !mul && i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(unit, units[i].name))
            mul = units[i].ms;
    if (!mul || v > INT64_MAX / mul)
        return false;
    *out_ms = v * mul;
    return true;
}
