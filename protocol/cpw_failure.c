/* cpw_failure.c — a job's failure table and the check of inject_failure
 * commands against it (see cpw_failure.h). */
#include "cpw_failure.h"
#include "cpw_json.h"
#include "cpw_jx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool say(char *msg, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool say(char *msg, size_t size, const char *fmt, ...)
{
    if (msg && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return false;
}

const cpw_failure_kind *cpw_failure_find(const cpw_hello *h, const char *kind)
{
    for (int i = 0; h && kind && i < h->n_failures; i++)
        if (!strcmp(h->failures[i].kind, kind))
            return &h->failures[i];
    return NULL;
}

int cpw_failure_param_index(const cpw_failure_kind *k, const char *name)
{
    for (int i = 0; k && name && i < k->n_params; i++)
        if (!strcmp(k->params[i].name, name))
            return i;
    return -1;
}

/* "1..3600000 ms" */
static void range_text(const cpw_param *p, char *out, size_t size)
{
    snprintf(out, size, "%lld..%lld%s%s", (long long)p->min, (long long)p->max,
             p->unit[0] ? " " : "", p->unit);
}

bool cpw_param_parse(const cpw_param *p, const char *text, int64_t *out, char *msg,
                     size_t size)
{
    char range[64];
    range_text(p, range, sizeof range);
    const char *s = text ? text : "";
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg || s[0] == '+')
        i++;
    size_t digits = i;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == digits)
        return say(msg, size, "%s=%.40s: not a whole number (%s)", p->name, s, range);
    const char *rest = s + i;
    while (*rest == ' ')
        rest++;
    if (*rest && (!p->unit[0] || strcmp(rest, p->unit)))
        return say(msg, size, "%s=%.40s: not a whole number%s%s (%s)", p->name, s,
                   p->unit[0] ? " of " : "", p->unit, range);
    errno = 0;
    char digitbuf[32];
    size_t nd = i;
    if (nd >= sizeof digitbuf)
        return say(msg, size, "%s=%.40s: out of range %s", p->name, s, range);
    memcpy(digitbuf, s, nd);
    digitbuf[nd] = '\0';
    long long v = strtoll(digitbuf, NULL, 10);
    if (errno == ERANGE || v < p->min || v > p->max)
        return say(msg, size, "%s=%.40s: out of range %s", p->name, s, range);
    *out = v;
    return true;
}

/* "kill, stall, decline" */
static void kind_list(const cpw_hello *h, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < h->n_failures && n + 1 < size; i++) {
        int w = snprintf(out + n, size - n, "%s%s", i ? ", " : "", h->failures[i].kind);
        n += w > 0 ? (size_t)w : 0;
    }
}

static bool check_target(const cpw_hello *h, const cpw_failure_kind *k, const cpw_cmd *c,
                         char *msg, size_t size)
{
    if (!k->subtask) {
        if (c->op != -1 || c->subtask != -1)
            return say(msg, size, "%s acts on the whole job: give no operator or subtask",
                       k->kind);
        return true;
    }
    if (h->n_ops < 1)
        return say(msg, size, "%s needs the job's topology, which it has not announced", k->kind);
    if (c->op < 0 || c->op >= h->n_ops)
        return say(msg, size, "%s needs an operator 0..%d and a subtask (operator %d is not one)",
                   k->kind, h->n_ops - 1, c->op);
    int p = h->ops[c->op].parallelism;
    if (c->subtask < 0 || c->subtask >= p)
        return say(msg, size, "%s: operator %d (%s) has subtasks 0..%d, not %d", k->kind, c->op,
                   h->ops[c->op].name, p - 1, c->subtask);
    return true;
}

bool cpw_failure_check(const cpw_hello *h, cpw_cmd *cmd, char *msg, size_t size)
{
    if (!h || !cmd)
        return say(msg, size, "no command");
    if (!h->has_failures)
        return true;
    const cpw_failure_kind *k = cpw_failure_find(h, cmd->kind);
    if (!k) {
        char list[400];
        kind_list(h, list, sizeof list);
        if (!h->n_failures)
            return say(msg, size, "this job offers no failures to inject");
        return say(msg, size, "unknown failure \"%.31s\" (this job offers: %s)", cmd->kind, list);
    }
    if (!check_target(h, k, cmd, msg, size))
        return false;
    int64_t vals[CPW_FAILURE_MAX_PARAMS];
    bool given[CPW_FAILURE_MAX_PARAMS] = {false};
    for (int i = 0; i < k->n_params; i++)
        vals[i] = k->params[i].def;
    for (int i = 0; i < cmd->n_params; i++) {
        int at = cpw_failure_param_index(k, cmd->keys[i]);
        if (at < 0) {
            if (!k->n_params)
                return say(msg, size, "%s takes no parameters (got \"%.31s\")", k->kind,
                           cmd->keys[i]);
            return say(msg, size, "%s has no parameter \"%.31s\" (it takes %s%s%s%s%s%s%s)",
                       k->kind, cmd->keys[i], k->params[0].name,
                       k->n_params > 1 ? ", " : "", k->n_params > 1 ? k->params[1].name : "",
                       k->n_params > 2 ? ", " : "", k->n_params > 2 ? k->params[2].name : "",
                       k->n_params > 3 ? ", " : "", k->n_params > 3 ? k->params[3].name : "");
        }
        if (given[at])
            return say(msg, size, "%s: parameter %s given twice", k->kind, k->params[at].name);
        given[at] = true;
        char why[CPW_TEXT_MAX];
        if (!cpw_param_parse(&k->params[at], cmd->values[i], &vals[at], why, sizeof why))
            return say(msg, size, "%s: %s", k->kind, why);
    }
    cmd->n_params = k->n_params;
    for (int i = 0; i < k->n_params; i++) {
        snprintf(cmd->keys[i], sizeof cmd->keys[i], "%s", k->params[i].name);
        snprintf(cmd->values[i], sizeof cmd->values[i], "%lld", (long long)vals[i]);
    }
    return true;
}

static bool name_ok(const char *s, size_t max, bool underscore)
{
    size_t n = strnlen(s, max);
    if (n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              (underscore && c == '_')))
            return false;
    }
    return true;
}

static bool unit_ok(const char *s)
{
    size_t n = strnlen(s, CPW_UNIT_MAX);
    if (n >= CPW_UNIT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '%'))
            return false;
    return true;
}

bool cpw_failure_table_valid(const cpw_failure_kind *kinds, int n, char *msg, size_t size)
{
    if (n < 0 || n > CPW_MAX_FAILURE_KINDS || (n && !kinds))
        return say(msg, size, "a failure table holds 0..%d kinds", CPW_MAX_FAILURE_KINDS);
    for (int i = 0; i < n; i++) {
        const cpw_failure_kind *k = &kinds[i];
        if (!name_ok(k->kind, CPW_KIND_MAX, false))
            return say(msg, size, "failure kind %d: name \"%.31s\" must be 1..%d of [a-z0-9-]", i,
                       k->kind, CPW_KIND_MAX - 1);
        for (int j = 0; j < i; j++)
            if (!strcmp(kinds[j].kind, k->kind))
                return say(msg, size, "failure kind \"%s\" declared twice", k->kind);
        if (!k->label[0])
            return say(msg, size, "failure kind \"%s\" needs a label", k->kind);
        if (k->n_params < 0 || k->n_params > CPW_FAILURE_MAX_PARAMS)
            return say(msg, size, "failure kind \"%s\": 0..%d parameters", k->kind,
                       CPW_FAILURE_MAX_PARAMS);
        for (int p = 0; p < k->n_params; p++) {
            const cpw_param *q = &k->params[p];
            if (!name_ok(q->name, CPW_PARAM_NAME_MAX, true))
                return say(msg, size, "failure kind \"%s\": parameter %d name must be 1..%d of "
                           "[a-z0-9_-]", k->kind, p, CPW_PARAM_NAME_MAX - 1);
            if (!unit_ok(q->unit))
                return say(msg, size, "failure kind \"%s\", %s: unit must be 0..%d of [a-z%%]",
                           k->kind, q->name, CPW_UNIT_MAX - 1);
            if (!(q->min <= q->def && q->def <= q->max))
                return say(msg, size, "failure kind \"%s\", %s: needs min <= default <= max",
                           k->kind, q->name);
            if (cpw_failure_param_index(k, q->name) != p)
                return say(msg, size, "failure kind \"%s\": parameter %s declared twice",
                           k->kind, q->name);
        }
    }
    return true;
}

void cpw_failure_encode(cpw_buf *b, const cpw_hello *h)
{
    if (!h->has_failures)
        return;
    cpj_key(b, "failures");
    cpj_char(b, '[');
    for (int i = 0; i < h->n_failures; i++) {
        const cpw_failure_kind *k = &h->failures[i];
        cpj_lit(b, i ? ",{\"kind\":" : "{\"kind\":");
        cpj_str(b, k->kind);
        cpj_kv_str(b, "label", k->label);
        cpj_kv_str(b, "target", k->subtask ? "subtask" : "job");
        cpj_key(b, "params");
        cpj_char(b, '[');
        for (int p = 0; p < k->n_params; p++) {
            const cpw_param *q = &k->params[p];
            cpj_lit(b, p ? ",{\"name\":" : "{\"name\":");
            cpj_str(b, q->name);
            cpj_kv_str(b, "unit", q->unit);
            cpj_kv_i64(b, "min", q->min);
            cpj_kv_i64(b, "max", q->max);
            cpj_kv_i64(b, "default", q->def);
            cpj_kv_str(b, "help", q->help);
            cpj_char(b, '}');
        }
        cpj_lit(b, "]}");
    }
    cpj_char(b, ']');
}

static cpw_err decode_param(json_t *o, const char *kind, cpw_param *q, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "params", "a parameter of %s must be an object",
                        kind);
    cpw_err e;
    if ((e = cpw_jx_str(o, "name", q->name, sizeof q->name, true, err)) ||
        (e = cpw_jx_str(o, "unit", q->unit, sizeof q->unit, false, err)) ||
        (e = cpw_jx_int(o, "min", INT64_MIN, INT64_MAX, &q->min, true, err)) ||
        (e = cpw_jx_int(o, "max", INT64_MIN, INT64_MAX, &q->max, true, err)) ||
        (e = cpw_jx_int(o, "default", INT64_MIN, INT64_MAX, &q->def, true, err)) ||
        (e = cpw_jx_str(o, "help", q->help, sizeof q->help, false, err)))
        return e;
    return CPW_OK;
}

static cpw_err decode_kind(json_t *o, cpw_failure_kind *k, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "failures", "each failure must be an object");
    cpw_err e;
    char target[16];
    if ((e = cpw_jx_str(o, "kind", k->kind, sizeof k->kind, true, err)) ||
        (e = cpw_jx_str(o, "label", k->label, sizeof k->label, true, err)) ||
        (e = cpw_jx_str(o, "target", target, sizeof target, true, err)))
        return e;
    if (strcmp(target, "job") && strcmp(target, "subtask"))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "target",
                        "failure %s: target must be \"job\" or \"subtask\"", k->kind);
    k->subtask = target[0] == 's';
    json_t *ps = json_object_get(o, "params");
    if (ps && !json_is_array(ps))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "params", "failure %s: params must be an array",
                        k->kind);
    if (json_array_size(ps) > CPW_FAILURE_MAX_PARAMS)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "params", "failure %s: more than %d parameters",
                        k->kind, CPW_FAILURE_MAX_PARAMS);
    k->n_params = (int)json_array_size(ps);
    for (int p = 0; p < k->n_params; p++)
        if ((e = decode_param(json_array_get(ps, (size_t)p), k->kind, &k->params[p], err)))
            return e;
    return CPW_OK;
}

cpw_err cpw_failure_decode(const void *json_obj, cpw_hello *h, cpw_error *err)
{
    json_t *fs = json_object_get((json_t *)json_obj, "failures");
    h->has_failures = false;
    h->n_failures = 0;
    if (!fs)
        return CPW_OK;
    if (!json_is_array(fs))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "failures", "field \"failures\" must be an array");
    if (json_array_size(fs) > CPW_MAX_FAILURE_KINDS)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "failures", "more than %d failure kinds",
                        CPW_MAX_FAILURE_KINDS);
    int n = (int)json_array_size(fs);
    for (int i = 0; i < n; i++) {
        memset(&h->failures[i], 0, sizeof h->failures[i]);
        cpw_err e = decode_kind(json_array_get(fs, (size_t)i), &h->failures[i], err);
        if (e)
            return e;
    }
    char why[CPW_TEXT_MAX];
    if (!cpw_failure_table_valid(h->failures, n, why, sizeof why))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "failures", "%s", why);
    h->n_failures = n;
    h->has_failures = true;
    return CPW_OK;
}
