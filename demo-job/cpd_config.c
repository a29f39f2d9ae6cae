/* cpd_config.c — loading cpdemo's JSON configuration (see cpd_config.h). */
#include "cpd_config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    c->unaligned = false;
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

bool cpd_parse_duration_ms(const char *s, int64_t *ms)
{
    if (!s)
        return false;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || n > (unsigned long long)YEAR_MS * 1000000ULL)
        return false;
    while (isspace((unsigned char)*end))
        end++;
    char unit[16];
    size_t k = 0;
    while (*end && !isspace((unsigned char)*end) && k + 1 < sizeof unit)
        unit[k++] = (char)tolower((unsigned char)*end++);
    unit[k] = '\0';
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return false; /* trailing text, or a unit too long to be one */
    int64_t num = 1, den = 1;
    if (k) {
        size_t i = 0;
        for (; i < sizeof units / sizeof units[0]; i++)
            if (!strcmp(unit, units[i].name))
                break;
        if (i == sizeof units / sizeof units[0])
            return false;
        num = units[i].num;
        den = units[i].den;
    }
    if (n > (unsigned long long)(YEAR_MS * den / num))
        return false;
    *ms = (int64_t)n * num / den;
    return true;
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

/* ------------------------------------------------------------ loading */

typedef struct report {
    char *buf;
    size_t size, len;
    int n;
} report;

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

typedef enum { K_DURATION, K_INT, K_BOOL, K_STRING, K_MODE, K_TRIBOOL } kind;

typedef struct key {
    const char *name;
    kind kind;
    size_t off;        /* field in cpd_config */
    size_t size;       /* strings: buffer size */
    int64_t min, max;  /* ints and durations (ms) */
    const char *alias; /* an older Flink name for the same setting */
} key;

/* Keys whose value never appears in a message (a bad value is not echoed). */
static bool is_secret(const key *k) { return !strcmp(k->name, "s3.secret-key"); }

#define F(m) offsetof(cpd_config, m)
#define S(m) sizeof(((cpd_config *)0)->m)
static const key keys[] = {
    {"execution.checkpointing.interval", K_DURATION, F(interval_ms), 0, 0, YEAR_MS, NULL},
    {"execution.checkpointing.mode", K_MODE, F(mode), 0, 0, 0, NULL},
    {"execution.checkpointing.storage", K_STRING, F(storage), S(storage), 1, 0,
     "state.checkpoints.dir"},
    {"execution.checkpointing.timeout", K_DURATION, F(timeout_ms), 0, 1, YEAR_MS, NULL},
    {"execution.checkpointing.tolerable-failed-checkpoints", K_INT, F(tolerable_failures), 0,
     0, 1000000, NULL},
    {"execution.checkpointing.min-pause", K_DURATION, F(min_pause_ms), 0, 0, YEAR_MS, NULL},
    {"execution.checkpointing.max-concurrent-checkpoints", K_INT, F(max_concurrent), 0, 1, 16,
     NULL},
    {"execution.checkpointing.num-retained", K_INT, F(num_retained), 0, 1, 1000,
     "state.checkpoints.num-retained"},
    {"execution.checkpointing.unaligned.enabled", K_BOOL, F(unaligned), 0, 0, 0,
     "execution.checkpointing.unaligned"},
    {"pipeline.name", K_STRING, F(name), S(name), 1, 0, NULL},
    {"parallelism.default", K_INT, F(parallelism), 0, 1, CPD_MAX_PARALLELISM, NULL},
    {"source.kafka.bootstrap-servers", K_STRING, F(bootstrap), S(bootstrap), 1, 0, NULL},
    {"source.kafka.bootstrap-file", K_STRING, F(bootstrap_file), S(bootstrap_file), 1, 0, NULL},
    {"source.kafka.topic", K_STRING, F(topic), S(topic), 1, 0, NULL},
    {"sink.url", K_STRING, F(sink), S(sink), 1, 0, NULL},
    {"agent.listen", K_STRING, F(agent_listen), S(agent_listen), 1, 0, NULL},
    {"agent.job-id", K_STRING, F(agent_job_id), S(agent_job_id), 1, 0, NULL},
    {"restart-strategy.fixed-delay.attempts", K_INT, F(restart_attempts), 0, 0, 2147483647,
     NULL},
    {"restart-strategy.fixed-delay.delay", K_DURATION, F(restart_delay_ms), 0, 0, YEAR_MS, NULL},
    {"s3.endpoint", K_STRING, F(s3_endpoint), S(s3_endpoint), 1, 0, NULL},
    {"s3.access-key", K_STRING, F(s3_access_key), S(s3_access_key), 1, 0, "s3.access.key"},
    {"s3.secret-key", K_STRING, F(s3_secret_key), S(s3_secret_key), 1, 0, "s3.secret.key"},
    {"s3.path.style.access", K_TRIBOOL, F(s3_path_style), 0, 0, 0, NULL},
};
#undef F
#undef S

static void describe(json_t *v, char *out, size_t size)
{
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out, size, "%s", t ? t : "?");
    if (strlen(out) > 60)
        strcpy(out + 57, "...");
    free(t);
}

static void set_one(const key *k, const char *given, json_t *v, cpd_config *c, report *errs)
{
    char shown[72];
    if (is_secret(k))
        snprintf(shown, sizeof shown, "(value not shown)");
    else
        describe(v, shown, sizeof shown);
    char *field = (char *)c + k->off;
    switch (k->kind) {
    case K_DURATION: {
        int64_t ms;
        bool ok = json_is_integer(v) ? (ms = json_integer_value(v)) >= 0
                : json_is_string(v) && cpd_parse_duration_ms(json_string_value(v), &ms);
        if (!ok) {
            add(errs, "%s: %s is not a duration (e.g. \"500 ms\", \"30s\", \"10 min\", \"1h\")",
                given, shown);
            return;
        }
        if (ms < k->min || ms > k->max) {
            add(errs, "%s: %s must be at least %lld ms and at most a year", given, shown,
                (long long)k->min);
            return;
        }
        *(int64_t *)field = ms;
        return;
    }
    case K_INT: {
        long long x;
        char *end = NULL;
        bool ok = json_is_integer(v) ? (x = json_integer_value(v), true)
                : json_is_string(v) && (x = strtoll(json_string_value(v), &end, 10), end &&
                                        end != json_string_value(v) && !*end);
        if (!ok) {
            add(errs, "%s: %s is not an integer", given, shown);
            return;
        }
        if (x < k->min || x > k->max) {
            add(errs, "%s: %s is out of range %lld..%lld", given, shown, (long long)k->min,
                (long long)k->max);
            return;
        }
        *(int *)field = (int)x;
        return;
    }
    case K_BOOL:
    case K_TRIBOOL: {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        int b = json_is_boolean(v) ? json_is_true(v)
              : s && !strcasecmp(s, "true") ? 1
              : s && !strcasecmp(s, "false") ? 0 : -1;
        if (b < 0)
            add(errs, "%s: %s must be true or false", given, shown);
        else if (k->kind == K_BOOL)
            *(bool *)field = b;
        else
            *(int *)field = b ? 1 : -1; /* 0 stays "not set" */
        return;
    }
    case K_MODE: {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (s && !strcasecmp(s, "EXACTLY_ONCE"))
            *(cpd_mode *)field = CPD_EXACTLY_ONCE;
        else if (s && !strcasecmp(s, "AT_LEAST_ONCE"))
            *(cpd_mode *)field = CPD_AT_LEAST_ONCE;
        else
            add(errs, "%s: %s must be EXACTLY_ONCE or AT_LEAST_ONCE", given, shown);
        return;
    }
    case K_STRING: {
        if (!json_is_string(v)) {
            add(errs, "%s: %s must be a string", given, shown);
            return;
        }
        size_t n = json_string_length(v);
        if (n < (size_t)k->min || n >= k->size || strlen(json_string_value(v)) != n) {
            add(errs, "%s: %s must be 1 to %zu bytes of text", given, shown, k->size - 1);
            return;
        }
        memcpy(field, json_string_value(v), n + 1);
        return;
    }
    }
}

static void check_combination(const cpd_config *c, report *errs, report *warns)
{
    if (c->min_pause_ms > 0 && c->max_concurrent > 1)
        add(warns, "execution.checkpointing.min-pause > 0 allows only one checkpoint at a time; "
                   "execution.checkpointing.max-concurrent-checkpoints = %d has no effect",
            c->max_concurrent);
    if (c->interval_ms > 0 && c->interval_ms < 10)
        add(errs, "execution.checkpointing.interval: must be at least 10 ms (or absent: off)");
    if (c->unaligned && c->mode == CPD_AT_LEAST_ONCE)
        add(warns, "execution.checkpointing.unaligned.enabled applies to EXACTLY_ONCE only; "
                   "ignored in AT_LEAST_ONCE");
    if (c->bootstrap[0] && c->bootstrap_file[0])
        add(errs, "source.kafka.bootstrap-servers and source.kafka.bootstrap-file: give one, "
                  "not both");
    if ((c->s3_endpoint[0] || c->s3_access_key[0] || c->s3_secret_key[0] || c->s3_path_style) &&
        strncasecmp(c->storage, "s3://", 5))
        add(warns, "s3.* keys apply to s3:// storage only; execution.checkpointing.storage is "
                   "not s3://, so they are ignored");
    if (strncmp(c->sink, "sqlite:", 7) && strncmp(c->sink, "postgresql://", 13) &&
        strncmp(c->sink, "postgres://", 11))
        add(errs, "sink.url: \"%s\" must be sqlite:PATH or postgresql://…", c->sink);
}

int cpd_config_parse(const char *json, size_t len, const char *source, cpd_config *c,
                     char *errs_buf, size_t errs_size, char *warns_buf, size_t warns_size)
{
    report errs = {errs_buf, errs_size, 0, 0}, warns = {warns_buf, warns_size, 0, 0};
    if (errs_buf && errs_size)
        errs_buf[0] = '\0';
    if (warns_buf && warns_size)
        warns_buf[0] = '\0';
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
        const key *k = NULL;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !k; i++)
            if (!strcmp(name, keys[i].name) || (keys[i].alias && !strcmp(name, keys[i].alias)))
                k = &keys[i];
        if (!k) {
            char shown[80];
            snprintf(shown, sizeof shown, "%s", name);
            add(&warns, "%s: unknown key \"%s\" ignored (see demo-job/README.md)", source, shown);
            continue;
        }
        if (k->alias && !strcmp(name, k->alias) && json_object_get(root, k->name)) {
            add(&errs, "%s and %s: the same setting twice", k->name, k->alias);
            continue;
        }
        set_one(k, name, v, c, &errs);
    }
    json_decref(root);
    check_combination(c, &errs, &warns);
    return errs.n;
}

int cpd_config_load(const char *path, cpd_config *c, char *errs, size_t errs_size, char *warns,
                    size_t warns_size)
{
    if (warns && warns_size)
        warns[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errs, errs_size, "%s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) {
                fclose(f);
                free(buf);
                snprintf(errs, errs_size, "%s: larger than 1 MiB; not a configuration\n", path);
                return 1;
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fclose(f);
                free(buf);
                snprintf(errs, errs_size, "%s: out of memory\n", path);
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
        snprintf(errs, errs_size, "%s: read error\n", path);
        return 1;
    }
    int n = cpd_config_parse(buf, len, path, c, errs, errs_size, warns, warns_size);
    free(buf);
    return n;
}
