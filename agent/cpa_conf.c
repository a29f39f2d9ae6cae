/* cpa_conf.c — the agent's configuration: defaults, keys and their checks,
 * callbacks (see cpa_conf_set() in cpagent.h). */
#include "cpa_internal.h"
#include "cpa_rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cpa_conf *cpa_conf_new(void)
{
    cpa_conf *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    snprintf(c->job_name, sizeof c->job_name, "job");
    snprintf(c->listen, sizeof c->listen, "ipc");
    c->queue_size = 65536;
    c->batch_max = 256;
    c->flush_us = 1000;
    c->heartbeat_ms = 1000;
    c->idle_ms = 20;
    c->history_size = 64;
    c->detail_size = 8;
    c->rest_history = 10;
    return c;
}

void cpa_conf_destroy(cpa_conf *conf) { free(conf); }

static bool parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return false;
    *out = x;
    return true;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CPW_MAX_JOB_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return s[0] != '.';
}

cpa_err cpa_conf_set(cpa_conf *c, const char *key, const char *value, char *errbuf,
                     size_t errbuf_size)
{
    if (!c || !key || !value) {
        cpa_seterr(errbuf, errbuf_size, "cpa_conf_set: NULL argument");
        return CPA_ERR_INVALID_ARG;
    }
    long v;
#define BAD(...) do { cpa_seterr(errbuf, errbuf_size, __VA_ARGS__); return CPA_ERR_INVALID_ARG; } while (0)
#define COPY(dst) do { if (strlen(value) >= sizeof(dst)) BAD("%s: value longer than %zu bytes", key, sizeof(dst) - 1); \
                       memcpy(dst, value, strlen(value) + 1); } while (0)
    if (!strcmp(key, "job.name")) {
        COPY(c->job_name);
    } else if (!strcmp(key, "job.id")) {
        if (!valid_id(value))
            BAD("job.id: \"%s\" must be 1-63 characters of [A-Za-z0-9._-]", value);
        COPY(c->job_id);
    } else if (!strcmp(key, "listen")) {
        if (strcmp(value, "ipc") && strncmp(value, "tcp://", 6))
            BAD("listen: \"%s\" must be \"ipc\" or \"tcp://HOST:PORT\"", value);
        if (!strncmp(value, "tcp://", 6)) {
            const char *colon = strrchr(value + 6, ':');
            long port;
            if (!colon || !parse_long(colon + 1, 1, 65534, &port))
                BAD("listen: \"%s\" needs a port 1-65534 (commands use PORT+1)", value);
        }
        COPY(c->listen);
    } else if (!strcmp(key, "runtime.dir")) {
        if (value[0] != '/')
            BAD("runtime.dir: \"%s\" must be an absolute path", value);
        COPY(c->runtime_dir);
    } else if (!strcmp(key, "secret.file")) {
        COPY(c->secret_file);
    } else if (!strcmp(key, "queue.size")) {
        if (!parse_long(value, 16, 1L << 24, &v) || (v & (v - 1)))
            BAD("queue.size: \"%s\" must be a power of two from 16 to 16777216", value);
        c->queue_size = (size_t)v;
    } else if (!strcmp(key, "batch.max")) {
        if (!parse_long(value, 1, CPW_MAX_BATCH, &v))
            BAD("batch.max: \"%s\" must be 1..%d", value, CPW_MAX_BATCH);
        c->batch_max = (int)v;
    } else if (!strcmp(key, "flush.us")) {
        if (!parse_long(value, 0, 1000000, &v))
            BAD("flush.us: \"%s\" must be 0..1000000", value);
        c->flush_us = (int)v;
    } else if (!strcmp(key, "heartbeat.ms")) {
        if (!parse_long(value, 10, 3600000, &v))
            BAD("heartbeat.ms: \"%s\" must be 10..3600000", value);
        c->heartbeat_ms = (int)v;
    } else if (!strcmp(key, "idle.ms")) {
        if (!parse_long(value, 1, 1000, &v))
            BAD("idle.ms: \"%s\" must be 1..1000", value);
        c->idle_ms = (int)v;
    } else if (!strcmp(key, "history.size")) {
        if (!parse_long(value, 1, CPW_MAX_HISTORY, &v))
            BAD("history.size: \"%s\" must be 1..%d", value, CPW_MAX_HISTORY);
        c->history_size = (int)v;
    } else if (!strcmp(key, "rest.listen")) {
        char why[200];
        if (value[0] && strcmp(value, "off") && !cpa_rest_listen_ok(value, why, sizeof why))
            BAD("%s", why);
        COPY(c->rest_listen);
    } else if (!strcmp(key, "web.checkpoints.history")) {
        if (!parse_long(value, 1, CPW_MAX_HISTORY, &v))
            BAD("web.checkpoints.history: \"%s\" must be 1..%d", value, CPW_MAX_HISTORY);
        c->rest_history = (int)v;
    } else {
        cpa_seterr(errbuf, errbuf_size, "unknown agent configuration key \"%s\"", key);
        return CPA_ERR_UNKNOWN_KEY;
    }
#undef BAD
#undef COPY
    return CPA_OK;
}

void cpa_conf_set_log_cb(cpa_conf *conf, cpa_log_cb cb, void *opaque)
{
    if (!conf)
        return;
    conf->log_cb = cb;
    conf->log_opaque = opaque;
}

cpa_err cpa_conf_set_command_cb(cpa_conf *conf, cpa_command_type type, cpa_command_cb cb,
                                void *opaque)
{
    if (!conf || type <= CPA_CMD_GET_STATE || type >= CPA_CMD__COUNT)
        return CPA_ERR_INVALID_ARG;
    conf->handlers[type] = cb;
    conf->handler_opaque[type] = opaque;
    return CPA_OK;
}

