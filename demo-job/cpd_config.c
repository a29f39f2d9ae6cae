/* cpd_config.c — cpdemo's configuration: one table of keys, one check per
 * value for the file and for run-time changes (see cpd_config.h). */
#include "cpd_config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpd_kafka.h"
#include "cpd_sink.h"
#include "cpd_storage.h"

#define YEAR_MS (366LL * 24 * 3600 * 1000)

void cpd_config_defaults(cpd_config *c)
{
    memset(c, 0, sizeof *c);
    c->interval_ms = 0;
    c->mode = CPD_EXACTLY_ONCE;
    snprintf(c->storage, sizeof c->storage, "var/checkpoints");
    c->timeout_ms = 10 * 60 * 1000;
    c->tolerable_failures = 0;
    c->min_pause_ms = 0;
    c->max_concurrent = 1;
    c->num_retained = 1;
    c->web_history = 10;
    c->unaligned = false;
    c->aligned_timeout_ms = 0;
    snprintf(c->name, sizeof c->name, "cpdemo");
    c->parallelism = 2;
    snprintf(c->topic, sizeof c->topic, "payments");
    snprintf(c->sink, sizeof c->sink, "sqlite:var/cpdemo.db");
    snprintf(c->agent_listen, sizeof c->agent_listen, "ipc");
    c->restart_attempts = 2147483647;
    c->restart_delay_ms = 1000;
}

/* ------------------------------------------------------------ durations */

static const struct { const char *name; int64_t num, den; } units[] = {
    {"d", 86400000, 1}, {"day", 86400000, 1}, {"days", 86400000, 1},
    {"h", 3600000, 1}, {"hour", 3600000, 1}, {"hours", 3600000, 1},
    {"min", 60000, 1}, {"m", 60000, 1}, {"minute", 60000, 1}, {"minutes", 60000, 1},
    {"s", 1000, 1}, {"sec", 1000, 1}, {"secs", 1000, 1}, {"second", 1000, 1},
    {"seconds", 1000, 1},
    {"ms", 1, 1}, {"milli", 1, 1}, {"millis", 1, 1}, {"millisecond", 1, 1},
    {"milliseconds", 1, 1},
    {"us", 1, 1000}, {"\xc2\xb5s", 1, 1000}, {"micro", 1, 1000}, {"micros", 1, 1000},
    {"microsecond", 1, 1000}, {"microseconds", 1, 1000},
    {"ns", 1, 1000000}, {"nano", 1, 1000000}, {"nanos", 1, 1000000},
    {"nanosecond", 1, 1000000}, {"nanoseconds", 1, 1000000},
};

typedef enum { DUR_OK, DUR_SYNTAX, DUR_RANGE } dur_rc;

/* DUR_RANGE: a well-formed duration beyond a year (never wrapped). */
static dur_rc parse_duration(const char *s, int64_t *ms)
{
    if (!s)
        return DUR_SYNTAX;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return DUR_SYNTAX;
    /* digits by hand: strtoull accepts a sign and saturates silently */
    uint64_t n = 0;
    const uint64_t cap = (uint64_t)YEAR_MS * 1000000u; /* a year in ns: beyond any unit */
    bool big = false;
    for (; isdigit((unsigned char)*s); s++) {
        if (n > cap)
            big = true; /* keep reading: the unit decides syntax */
        else
            n = n * 10 + (uint64_t)(*s - '0');
    }
    while (isspace((unsigned char)*s))
        s++;
    char unit[16];
    size_t k = 0;
    while (*s && !isspace((unsigned char)*s) && k + 1 < sizeof unit)
        unit[k++] = (char)tolower((unsigned char)*s++);
    unit[k] = '\0';
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return DUR_SYNTAX; /* trailing text, or a unit too long to be one */
    int64_t num = 1, den = 1;
    if (k) {
        size_t i = 0;
        for (; i < sizeof units / sizeof units[0]; i++)
            if (!strcmp(unit, units[i].name))
                break;
        if (i == sizeof units / sizeof units[0])
            return DUR_SYNTAX;
        num = units[i].num;
        den = units[i].den;
    }
    if (big || n > (uint64_t)(YEAR_MS * den / num))
        return DUR_RANGE;
    *ms = (int64_t)n * num / den;
    return DUR_OK;
}

bool cpd_parse_duration_ms(const char *s, int64_t *ms)
{
    return parse_duration(s, ms) == DUR_OK;
}

void cpd_format_duration(int64_t ms, char *out, size_t size)
{
    if (ms && ms % 3600000 == 0)
        snprintf(out, size, "%lld h", (long long)(ms / 3600000));
    else if (ms && ms % 60000 == 0)
        snprintf(out, size, "%lld min", (long long)(ms / 60000));
    else if (ms && ms % 1000 == 0)
        snprintf(out, size, "%lld s", (long long)(ms / 1000));
    else
        snprintf(out, size, "%lld ms", (long long)ms);
}

/* ------------------------------------------------------------ reports */

typedef struct report {
    char *buf;
    size_t size, len;
    int n;
} report;

static void report_init(report *r, char *buf, size_t size)
{
    *r = (report){buf, size, 0, 0};
    if (buf && size)
        buf[0] = '\0';
}

static void add(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(report *r, const char *fmt, ...)
{
    r->n++;
    if (!r->buf || r->len + 1 >= r->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(r->buf + r->len, r->size - r->len, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    r->len += (size_t)w;
    if (r->len >= r->size)
        r->len = r->size - 1;
    if (r->len + 1 < r->size) {
        r->buf[r->len++] = '\n';
        r->buf[r->len] = '\0';
    }
}

static void say(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || !errsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* Text from a file or a dashboard as it may be shown: at most 60 bytes,
 * control bytes as '?', in quotes when it was a string. */
static void show(const char *s, size_t len, bool quoted, char *out, size_t size)
{
    size_t k = 0, cut = len > 60 ? 57 : len;
    if (quoted && k + 1 < size)
        out[k++] = '"';
    for (size_t i = 0; i < cut && k + 1 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    for (int i = 0; cut < len && i < 3 && k + 1 < size; i++)
        out[k++] = '.';
    if (quoted && k + 1 < size)
        out[k++] = '"';
    out[k] = '\0';
}

/* ------------------------------------------------------------ numbers */

/* [spaces][+|-]digits[spaces]; false on anything else, *overflow on a value
 * beyond int64 (then *v is the nearest end, for the range message). */
static bool parse_int(const char *s, int64_t *v, bool *overflow)
{
    *overflow = false;
    while (isspace((unsigned char)*s))
        s++;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    uint64_t n = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (lim - d) / 10)
            *overflow = true;
        else
            n = n * 10 + d;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return false;
    *v = *overflow ? (neg ? INT64_MIN : INT64_MAX) : neg ? (int64_t)(0 - n) : (int64_t)n;
    return true;
}

static bool int_value(const char *name, const char *text, const char *shown, int64_t min,
                      int64_t max, int64_t *out, char *err, size_t errsz)
{
    int64_t v;
    bool overflow;
    if (!text || !parse_int(text, &v, &overflow)) {
        say(err, errsz, "%s: %s is not an integer", name, shown);
        return false;
    }
    if (overflow || v < min || v > max) {
        say(err, errsz, "%s: %s is out of range %lld..%lld", name, shown, (long long)min,
            (long long)max);
        return false;
    }
    *out = v;
    return true;
}

static bool duration_value(const char *name, const char *text, const char *shown,
                           int64_t min, int64_t max, const char *hint, int64_t *out, char *err,
                           size_t errsz)
{
    int64_t ms = INT64_MAX;
    dur_rc rc = parse_duration(text, &ms);
    if (rc == DUR_SYNTAX) {
        say(err, errsz, "%s: %s is not a duration (e.g. \"500 ms\", \"30s\", \"10 min\", "
                        "\"1h\")", name, shown);
        return false;
    }
    if (ms < min || ms > max) {
        char lo[32], hi[32];
        cpd_format_duration(min, lo, sizeof lo);
        if (max >= YEAR_MS)
            snprintf(hi, sizeof hi, "a year");
        else
            cpd_format_duration(max, hi, sizeof hi);
        say(err, errsz, "%s: %s must be at least %s and at most %s%s", name, shown, lo, hi,
            hint ? hint : "");
        return false;
    }
    *out = ms;
    return true;
}

bool cpd_config_parse_int(const char *name, const char *text, int64_t min, int64_t max,
                          int64_t *out, char *err, size_t errsz)
{
    char shown[72];
    show(text ? text : "", text ? strlen(text) : 0, true, shown, sizeof shown);
    return int_value(name, text, shown, min, max, out, err, errsz);
}

bool cpd_config_parse_duration(const char *name, const char *text, int64_t min_ms,
                               int64_t max_ms, int64_t *out, char *err, size_t errsz)
{
    char shown[72];
    show(text ? text : "", text ? strlen(text) : 0, true, shown, sizeof shown);
    return duration_value(name, text, shown, min_ms, max_ms, NULL, out, err, errsz);
}

/* ------------------------------------------------------------ names */

/* Kafka's rule for topic names (its Topic.validate): 1..249 of [A-Za-z0-9._-],
 * not "." or "..". */
static bool check_topic(const char *s, char *why, size_t whysz)
{
    if (!cpd_kafka_topic_valid(s)) {
        say(why, whysz, "a Kafka topic is 1 to 249 of A-Z a-z 0-9 . _ -, not \".\" or \"..\"");
        return false;
    }
    return true;
}

/* What the storage layout and cptop take as a job id. */
static bool check_job_id(const char *s, char *why, size_t whysz)
{
    size_t n = strlen(s);
    if (n < 1 || s[0] == '.' ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
        say(why, whysz, "a job id is A-Z a-z 0-9 . _ -, not starting with \".\"");
        return false;
    }
    return true;
}

/* Syntax only: the sink connects to nothing, creates nothing here. Its
 * message names the URL itself, redacted. */
static bool check_sink_url(const char *s, char *why, size_t whysz)
{
    return cpd_sink_check_url(s, why, whysz);
}

/* Syntax only: nothing is created or connected to here. */
static bool check_storage_uri(const char *s, char *why, size_t whysz)
{
    return cpd_storage_check(s, NULL, why, whysz) == CPD_ST_OK;
}

/* ------------------------------------------------------------ the keys */

typedef enum { K_DURATION, K_INT, K_BOOL, K_TRIBOOL, K_MODE, K_STRING } kind;

enum {
    KF_RUNTIME = 1 << 0, /* may change while the job runs */
    KF_SECRET = 1 << 1,  /* its value never appears in a message */
    KF_UNSET0 = 1 << 2,  /* 0 in cpd_config means "absent", below min */
    KF_OPTIONAL = 1 << 3, /* strings: "" in cpd_config means "absent" */
    KF_URL = 1 << 4,      /* a URL that may hold a password: shown redacted, its check
                           * names it (the check's message is the whole reason) */
};

typedef struct key {
    const char *name;
    kind kind;
    size_t off;        /* field in cpd_config */
    size_t size;       /* strings: buffer size */
    int64_t min, max;  /* ints and durations (ms); strings: least length */
    const char *alias; /* an older Flink name for the same setting */
    const char *rt;    /* the short name cptop sends for a run-time change */
    unsigned flags;
    bool (*check)(const char *s, char *why, size_t whysz); /* strings: syntax */
    const char *hint;  /* appended to a range error */
} key;

#define F(m) offsetof(cpd_config, m)
#define S(m) sizeof(((cpd_config *)0)->m)
static const key keys[] = {
    {"execution.checkpointing.interval", K_DURATION, F(interval_ms), 0, CPD_MIN_INTERVAL_MS,
     YEAR_MS, NULL, "interval", KF_RUNTIME | KF_UNSET0, NULL,
     " (leave the key out for no periodic checkpoints)"},
    {"execution.checkpointing.mode", K_MODE, F(mode), 0, 0, 0, NULL, NULL, 0, NULL, NULL},
    {"execution.checkpointing.storage", K_STRING, F(storage), S(storage), 1, 0,
     "state.checkpoints.dir", NULL, KF_URL, check_storage_uri, NULL},
    {"execution.checkpointing.timeout", K_DURATION, F(timeout_ms), 0, 1, YEAR_MS, NULL,
     "timeout", KF_RUNTIME, NULL, NULL},
    {"execution.checkpointing.tolerable-failed-checkpoints", K_INT, F(tolerable_failures), 0,
     0, 1000000, NULL, "tolerable-failed-checkpoints", KF_RUNTIME, NULL, NULL},
    {"execution.checkpointing.min-pause", K_DURATION, F(min_pause_ms), 0, 0, YEAR_MS, NULL,
     NULL, 0, NULL, NULL},
    {"execution.checkpointing.max-concurrent-checkpoints", K_INT, F(max_concurrent), 0, 1, 16,
     NULL, NULL, 0, NULL, NULL},
    {"execution.checkpointing.num-retained", K_INT, F(num_retained), 0, 1, 1000,
     "state.checkpoints.num-retained", NULL, 0, NULL, NULL},
    {"execution.checkpointing.unaligned.enabled", K_BOOL, F(unaligned), 0, 0, 0,
     "execution.checkpointing.unaligned", "unaligned", KF_RUNTIME, NULL, NULL},
    {"execution.checkpointing.aligned-checkpoint-timeout", K_DURATION, F(aligned_timeout_ms), 0,
     0, YEAR_MS, "execution.checkpointing.alignment-timeout", "aligned-checkpoint-timeout",
     KF_RUNTIME, NULL, NULL},
    {"pipeline.name", K_STRING, F(name), S(name), 1, 0, NULL, NULL, 0, NULL, NULL},
    {"parallelism.default", K_INT, F(parallelism), 0, 1, CPD_MAX_PARALLELISM, NULL, NULL, 0,
     NULL, NULL},
    {"source.kafka.bootstrap-servers", K_STRING, F(bootstrap), S(bootstrap), 1, 0, NULL, NULL,
     KF_OPTIONAL, NULL, NULL},
    {"source.kafka.bootstrap-file", K_STRING, F(bootstrap_file), S(bootstrap_file), 1, 0, NULL,
     NULL, KF_OPTIONAL, NULL, NULL},
    {"source.kafka.topic", K_STRING, F(topic), S(topic), 1, 0, NULL, NULL, 0, check_topic,
     NULL},
    {"sink.url", K_STRING, F(sink), S(sink), 1, 0, NULL, NULL, KF_URL, check_sink_url, NULL},
    {"agent.listen", K_STRING, F(agent_listen), S(agent_listen), 1, 0, NULL, NULL, 0, NULL,
     NULL},
    {"agent.job-id", K_STRING, F(agent_job_id), S(agent_job_id), 1, 0, NULL, NULL, KF_OPTIONAL,
     check_job_id, NULL},
    /* checked by the agent (cpa_conf_set "rest.listen") when the job starts it */
    {"agent.rest.listen", K_STRING, F(agent_rest_listen), S(agent_rest_listen), 1, 0, NULL, NULL,
     KF_OPTIONAL, NULL, NULL},
    /* Flink's key: how many checkpoints the REST history keeps */
    {"web.checkpoints.history", K_INT, F(web_history), 0, 1, 10000, NULL, NULL, 0, NULL, NULL},
    {"restart-strategy.fixed-delay.attempts", K_INT, F(restart_attempts), 0, 0, 2147483647,
     NULL, NULL, 0, NULL, NULL},
    {"restart-strategy.fixed-delay.delay", K_DURATION, F(restart_delay_ms), 0, 0, YEAR_MS, NULL,
     NULL, 0, NULL, NULL},
    {"s3.endpoint", K_STRING, F(s3_endpoint), S(s3_endpoint), 1, 0, NULL, NULL, KF_OPTIONAL,
     NULL, NULL},
    {"s3.access-key", K_STRING, F(s3_access_key), S(s3_access_key), 1, 0, "s3.access.key", NULL,
     KF_OPTIONAL, NULL, NULL},
    {"s3.secret-key", K_STRING, F(s3_secret_key), S(s3_secret_key), 1, 0, "s3.secret.key", NULL,
     KF_SECRET | KF_OPTIONAL, NULL, NULL},
    {"s3.path.style.access", K_TRIBOOL, F(s3_path_style), 0, 0, 0, NULL, NULL, 0, NULL, NULL},
};
#undef F
#undef S
#define N_KEYS (sizeof keys / sizeof keys[0])

/* The key named name: its full name or Flink's alias; with runtime_names
 * also the short name cptop sends. */
static const key *find_key(const char *name, bool runtime_names)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(name, keys[i].name) || (keys[i].alias && !strcmp(name, keys[i].alias)) ||
            (runtime_names && keys[i].rt && !strcmp(name, keys[i].rt)))
            return &keys[i];
    return NULL;
}

/* Levenshtein distance, for "did you mean"; names beyond 127 bytes are too
 * far from any key to be worth it (-1). */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return -1;
    int row[128], prev;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int del = row[j] + 1, ins = row[j - 1] + 1;
            int sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            prev = row[j];
            row[j] = del < ins ? (del < sub ? del : sub) : (ins < sub ? ins : sub);
        }
    }
    return row[lb];
}

/* The known name closest to name, if close enough to be a misspelling. */
static const char *closest_key(const char *name)
{
    const char *best = NULL;
    int best_d = -1;
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *cand[] = {keys[i].name, keys[i].alias};
        for (int j = 0; j < 2; j++) {
            int d = cand[j] ? distance(name, cand[j]) : -1;
            if (d >= 0 && (best_d < 0 || d < best_d))
                best = cand[j], best_d = d;
        }
    }
    int limit = (int)strlen(name) / 3;
    return best_d >= 0 && best_d <= (limit < 2 ? 2 : limit) ? best : NULL;
}

static void unknown_key(const char *where, const char *name, char *out, size_t size)
{
    char shown[72];
    show(name, strlen(name), true, shown, sizeof shown);
    const char *near = closest_key(name);
    if (near)
        say(out, size, "%s%sunknown key %s (did you mean \"%s\"?)", where ? where : "",
            where ? ": " : "", shown, near);
    else
        say(out, size, "%s%sunknown key %s (the keys are listed in demo-job/README.md)",
            where ? where : "", where ? ": " : "", shown);
}

const char *cpd_config_key_name(const char *name)
{
    const key *k = name ? find_key(name, true) : NULL;
    return k ? k->name : NULL;
}

bool cpd_config_runtime_key(const char *name)
{
    const key *k = name ? find_key(name, true) : NULL;
    return k && (k->flags & KF_RUNTIME);
}

/* ------------------------------------------------------------ one value */

/*
 * The one check of a value: text (len bytes; from the file's JSON or a
 * run-time change) for key k, named given in messages. is_string: the value
 * was a JSON string (always, at run time); a string key takes nothing else.
 * On success the field changes; otherwise err says why and nothing changes.
 */
static bool set_key(cpd_config *c, const key *k, const char *given, const char *text,
                    size_t len, bool is_string, char *err, size_t errsz)
{
    char shown[72];
    if ((k->flags & KF_SECRET) || ((k->flags & KF_URL) && strlen(text) != len)) {
        snprintf(shown, sizeof shown, "(value not shown)"); /* no redaction past a NUL */
    } else if (k->flags & KF_URL) {
        char redacted[600];
        cpd_sink_redact(text, redacted, sizeof redacted);
        show(redacted, strlen(redacted), is_string, shown, sizeof shown);
    } else {
        show(text, len, is_string, shown, sizeof shown);
    }
    char *field = (char *)c + k->off;
    bool has_nul = strlen(text) != len;
    switch (k->kind) {
    case K_DURATION: {
        int64_t ms;
        if (has_nul || !duration_value(given, text, shown, k->min, k->max, k->hint, &ms, err,
                                       errsz)) {
            if (has_nul)
                say(err, errsz, "%s: %s is not a duration", given, shown);
            return false;
        }
        *(int64_t *)field = ms;
        return true;
    }
    case K_INT: {
        int64_t v;
        if (has_nul || !int_value(given, text, shown, k->min, k->max, &v, err, errsz)) {
            if (has_nul)
                say(err, errsz, "%s: %s is not an integer", given, shown);
            return false;
        }
        *(int *)field = (int)v;
        return true;
    }
    case K_BOOL:
    case K_TRIBOOL: {
        int b = !has_nul && !strcasecmp(text, "true") ? 1
              : !has_nul && !strcasecmp(text, "false") ? 0 : -1;
        if (b < 0) {
            say(err, errsz, "%s: %s must be true or false", given, shown);
            return false;
        }
        if (k->kind == K_BOOL)
            *(bool *)field = b;
        else
            *(int *)field = b ? 1 : -1; /* 0 stays "not set" */
        return true;
    }
    case K_MODE:
        if (is_string && !has_nul && !strcasecmp(text, "EXACTLY_ONCE"))
            *(cpd_mode *)field = CPD_EXACTLY_ONCE;
        else if (is_string && !has_nul && !strcasecmp(text, "AT_LEAST_ONCE"))
            *(cpd_mode *)field = CPD_AT_LEAST_ONCE;
        else {
            say(err, errsz, "%s: %s must be EXACTLY_ONCE or AT_LEAST_ONCE", given, shown);
            return false;
        }
        return true;
    case K_STRING: {
        if (!is_string) {
            say(err, errsz, "%s: %s must be a string", given, shown);
            return false;
        }
        if (len < (size_t)k->min || len >= k->size || has_nul) {
            say(err, errsz, "%s: %s must be 1 to %zu bytes of text", given, shown, k->size - 1);
            return false;
        }
        char why[600];
        if (k->check && !k->check(text, why, sizeof why)) {
            if (k->flags & KF_URL)
                say(err, errsz, "%s: %s", given, why);
            else
                say(err, errsz, "%s: %s: %s", given, shown, why);
            return false;
        }
        memcpy(field, text, len + 1);
        return true;
    }
    }
    return false;
}

bool cpd_config_set(cpd_config *c, const char *name, const char *value, char *err,
                    size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    const key *k = name ? find_key(name, true) : NULL;
    if (!k) {
        unknown_key(NULL, name ? name : "", err, errsz);
        return false;
    }
    /* a short name is reported as the key it stands for */
    const char *given = k->rt && !strcmp(name, k->rt) ? k->name : name;
    if (!value) {
        say(err, errsz, "%s: no value", given);
        return false;
    }
    return set_key(c, k, given, value, strlen(value), true, err, errsz);
}

/* ------------------------------------------------------------ the whole */

/* A value already in *c within its key's limits (a configuration built or
 * changed in code goes through the same limits as the file). */
static void check_field(const cpd_config *c, const key *k, report *errs)
{
    const char *field = (const char *)c + k->off;
    char err[320], text[64];
    bool ok = true;
    switch (k->kind) {
    case K_DURATION: {
        int64_t v = *(const int64_t *)field;
        if (v == 0 && (k->flags & KF_UNSET0))
            return;
        snprintf(text, sizeof text, "%lld", (long long)v);
        ok = v >= 0 && set_key(&(cpd_config){0}, k, k->name, text, strlen(text), false, err,
                               sizeof err);
        if (v < 0)
            snprintf(err, sizeof err, "%s: %s is not a duration", k->name, text);
        break;
    }
    case K_INT:
        snprintf(text, sizeof text, "%d", *(const int *)field);
        ok = set_key(&(cpd_config){0}, k, k->name, text, strlen(text), false, err, sizeof err);
        break;
    case K_STRING:
        if (!memchr(field, '\0', k->size)) {
            snprintf(err, sizeof err, "%s: not terminated", k->name);
            ok = false;
        } else if (!field[0]) {
            snprintf(err, sizeof err, "%s: must be set", k->name);
            ok = k->flags & KF_OPTIONAL;
        } else {
            ok = set_key(&(cpd_config){0}, k, k->name, field, strlen(field), true, err,
                         sizeof err);
        }
        break;
    default:
        return;
    }
    if (!ok)
        add(errs, "%s", err);
}

static void check_combination(const cpd_config *c, report *errs, report *warns)
{
    if (c->min_pause_ms > 0 && c->max_concurrent > 1)
        add(warns, "execution.checkpointing.min-pause > 0 allows only one checkpoint at a time; "
                   "execution.checkpointing.max-concurrent-checkpoints = %d has no effect",
            c->max_concurrent);
    /* as Flink: unaligned checkpoints need EXACTLY_ONCE and one at a time */
    if (c->unaligned && c->mode == CPD_AT_LEAST_ONCE)
        add(errs, "execution.checkpointing.unaligned.enabled = true needs "
                  "execution.checkpointing.mode EXACTLY_ONCE (AT_LEAST_ONCE never aligns, so "
                  "there is nothing to overtake)");
    if (c->unaligned && c->max_concurrent > 1)
        add(errs, "execution.checkpointing.unaligned.enabled = true needs "
                  "execution.checkpointing.max-concurrent-checkpoints = 1 (it is %d)",
            c->max_concurrent);
    if (!c->unaligned && c->aligned_timeout_ms > 0)
        add(warns, "execution.checkpointing.aligned-checkpoint-timeout applies only with "
                   "execution.checkpointing.unaligned.enabled = true; ignored");
    if (c->bootstrap[0] && c->bootstrap_file[0])
        add(errs, "source.kafka.bootstrap-servers and source.kafka.bootstrap-file: give one, "
                  "not both");
    bool s3_keys = c->s3_endpoint[0] || c->s3_access_key[0] || c->s3_secret_key[0] ||
                   c->s3_path_style;
    if (s3_keys && strncasecmp(c->storage, "s3://", 5))
        add(warns, "s3.* keys apply to s3:// storage only; execution.checkpointing.storage is "
                   "not s3://, so they are ignored");
    /* the s3.* keys with the storage they are for (the URI alone is the
     * storage key's own check); the message names the key at fault */
    cpd_storage_s3_opts s3 = {c->s3_endpoint, c->s3_access_key, c->s3_secret_key,
                              c->s3_path_style, 0, 0, 0, 0};
    char why[600];
    if (s3_keys && !strncasecmp(c->storage, "s3://", 5) &&
        cpd_storage_check(c->storage, NULL, NULL, 0) == CPD_ST_OK &&
        cpd_storage_check(c->storage, &s3, why, sizeof why) != CPD_ST_OK)
        add(errs, "%s", why);
}

static void check_all(const cpd_config *c, report *errs, report *warns)
{
    for (size_t i = 0; i < N_KEYS; i++)
        check_field(c, &keys[i], errs);
    check_combination(c, errs, warns);
}

int cpd_config_check(const cpd_config *c, char *errs_buf, size_t errs_size, char *warns_buf,
                     size_t warns_size)
{
    report errs, warns;
    report_init(&errs, errs_buf, errs_size);
    report_init(&warns, warns_buf, warns_size);
    check_all(c, &errs, &warns);
    return errs.n;
}

/* ------------------------------------------------------------ the file */

/* One member of the file's object, as text for set_key. */
static void set_member(cpd_config *c, const key *k, const char *name, json_t *v, report *errs)
{
    char err[512], num[32];
    const char *text;
    size_t len;
    char *dump = NULL;
    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        text = num;
        len = strlen(num);
    } else if (json_is_boolean(v)) {
        text = json_is_true(v) ? "true" : "false";
        len = strlen(text);
    } else { /* null, reals, objects, arrays: as written, for the message */
        dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        text = dump ? dump : "?";
        len = strlen(text);
    }
    if (!set_key(c, k, name, text, len, json_is_string(v), err, sizeof err))
        add(errs, "%s", err);
    free(dump);
}

int cpd_config_parse(const char *json, size_t len, const char *source, cpd_config *c,
                     char *errs_buf, size_t errs_size, char *warns_buf, size_t warns_size,
                     unsigned flags)
{
    report errs, warns;
    report_init(&errs, errs_buf, errs_size);
    report_init(&warns, warns_buf, warns_size);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        add(&errs, "%s:%d:%d: %s", source, je.line, je.column, je.text);
        return errs.n;
    }
    if (!json_is_object(root)) {
        add(&errs, "%s: the configuration must be a JSON object of \"key\": value", source);
        json_decref(root);
        return errs.n;
    }
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        const key *k = find_key(name, false);
        if (!k) {
            char msg[400];
            unknown_key(source, name, msg, sizeof msg);
            if (flags & CPD_CONFIG_ALLOW_UNKNOWN)
                add(&warns, "%s; ignored", msg);
            else
                add(&errs, "%s", msg);
            continue;
        }
        if (k->alias && !strcmp(name, k->alias) && json_object_get(root, k->name)) {
            add(&errs, "%s and %s: the same setting twice", k->name, k->alias);
            continue;
        }
        set_member(c, k, name, v, &errs);
    }
    json_decref(root);
    check_all(c, &errs, &warns); /* on what was accepted: a refused key kept its value */
    return errs.n;
}

int cpd_config_load(const char *path, cpd_config *c, char *errs, size_t errs_size, char *warns,
                    size_t warns_size, unsigned flags)
{
    if (warns && warns_size)
        warns[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        say(errs, errs_size, "%s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) {
                fclose(f);
                free(buf);
                say(errs, errs_size, "%s: larger than 1 MiB; not a configuration\n", path);
                return 1;
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fclose(f);
                free(buf);
                say(errs, errs_size, "%s: out of memory\n", path);
                return 1;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        say(errs, errs_size, "%s: read error\n", path);
        return 1;
    }
    int n = cpd_config_parse(buf, len, path, c, errs, errs_size, warns, warns_size, flags);
    free(buf);
    return n;
}
