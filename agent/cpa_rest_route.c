/* cpa_rest_route.c — which Flink REST request a method and path are, and the
 * trigger request's body. Pure functions over hostile input: bounded,
 * allocation-free routing (the body parser uses jansson on at most
 * CPA_REST_MAX_BODY bytes). */
#include "cpa_rest_int.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define MAX_SEGS 8
#define MAX_SEG_LEN 200

typedef enum param { P_NONE = 0, P_JID, P_CPID, P_VID, P_TRIGGER } param;

/* Flink's names of the path parameters, for error messages. */
static const char *const param_names[] = {"", "jobid", "checkpointid", "vertexid", "triggerid"};

typedef struct route_def {
    const char *method;
    const char *segs[MAX_SEGS];  /* literal, or ":jid" etc. */
    cpa_route route;
} route_def;

/* Static segments win over parameters where both match (as in Flink's
 * router): "jobs/overview" is not a job, "checkpoints/config" not a trigger. */
static const route_def routes[] = {
    {"GET", {"config"}, CPA_R_CONFIG},
    {"GET", {"jobs"}, CPA_R_JOBS},
    {"GET", {"jobs", "overview"}, CPA_R_OVERVIEW},
    {"GET", {"jobs", ":jid"}, CPA_R_JOB},
    {"PATCH", {"jobs", ":jid"}, CPA_R_CANCEL},
    {"GET", {"jobs", ":jid", "checkpoints"}, CPA_R_STATS},
    {"POST", {"jobs", ":jid", "checkpoints"}, CPA_R_TRIGGER},
    {"GET", {"jobs", ":jid", "checkpoints", "config"}, CPA_R_CP_CONFIG},
    {"GET", {"jobs", ":jid", "checkpoints", "details", ":cpid"}, CPA_R_DETAILS},
    {"GET", {"jobs", ":jid", "checkpoints", "details", ":cpid", "subtasks", ":vid"},
     CPA_R_SUBTASKS},
    {"GET", {"jobs", ":jid", "checkpoints", ":trigger"}, CPA_R_TRIGGER_STATUS},
};

static param param_of(const char *pat)
{
    if (pat[0] != ':')
        return P_NONE;
    if (!strcmp(pat, ":jid"))
        return P_JID;
    if (!strcmp(pat, ":cpid"))
        return P_CPID;
    if (!strcmp(pat, ":vid"))
        return P_VID;
    return P_TRIGGER;
}

/* Splits "/a/b/c" into segments (pointers into buf). -1 when malformed or
 * too long to be any of ours. */
static int split(const char *path, char *buf, size_t bufsz, char **segs)
{
    size_t n = strlen(path);
    if (path[0] != '/' || n >= bufsz)
        return -1;
    memcpy(buf, path + 1, n); /* includes the NUL */
    if (!strncmp(buf, "v1/", 3))
        memmove(buf, buf + 3, strlen(buf + 3) + 1);
    else if (!strcmp(buf, "v1"))
        buf[0] = '\0';
    int k = 0;
    char *p = buf;
    if (!*p)
        return 0;
    for (;;) {
        if (k == MAX_SEGS)
            return -1;
        segs[k++] = p;
        char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len > MAX_SEG_LEN)
            return -1;
        if (!slash)
            return k;
        *slash = '\0';
        p = slash + 1;
    }
}

/* How well a route's path matches (number of literal segments + 1), 0: no. */
static int path_score(const route_def *r, char **segs, int n)
{
    int score = 1, k = 0;
    for (; k < MAX_SEGS && r->segs[k]; k++) {
        if (k >= n)
            return 0;
        if (param_of(r->segs[k]) == P_NONE) {
            if (strcmp(r->segs[k], segs[k]))
                return 0;
            score++;
        }
    }
    return k == n ? score : 0;
}

static bool parse_cpid(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s || strlen(s) > 18)
        return false;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

/* Fills req's parameters from the matched route; 400 on a malformed one. */
static int bind_params(const route_def *r, char **segs, cpa_request *req, char *msg,
                       size_t msgsz)
{
    for (int k = 0; k < MAX_SEGS && r->segs[k]; k++) {
        param p = param_of(r->segs[k]);
        bool ok = true;
        if (p == P_JID)
            ok = cpw_flink_parse_id(segs[k], req->jid);
        else if (p == P_VID)
            ok = cpw_flink_parse_id(segs[k], req->vid);
        else if (p == P_TRIGGER)
            ok = cpw_flink_parse_id(segs[k], req->trigger);
        else if (p == P_CPID)
            ok = parse_cpid(segs[k], &req->cpid);
        if (!ok) {
            char shown[64];
            cpw_sanitize(segs[k], shown, sizeof shown);
            snprintf(msg, msgsz,
                     "Bad request, could not parse parameters: Cannot resolve path parameter "
                     "(%s) from value \"%s\".", param_names[p], shown);
            return 400;
        }
    }
    return 0;
}

int cpa_rest_route(const char *method, const char *path, cpa_request *req, char *msg,
                   size_t msgsz, char *allow, size_t allowsz)
{
    memset(req, 0, sizeof *req);
    msg[0] = '\0';
    if (allowsz)
        allow[0] = '\0';
    const char *m = !strcmp(method, "HEAD") ? "GET" : method;
    char buf[CPA_REST_MAX_URL + 1], *segs[MAX_SEGS];
    int n = split(path, buf, sizeof buf, segs);
    const route_def *best = NULL;
    int best_score = 0, path_best = 0;
    for (size_t i = 0; n >= 0 && i < sizeof routes / sizeof routes[0]; i++) {
        int sc = path_score(&routes[i], segs, n);
        if (sc > path_best)
            path_best = sc;
        if (sc > best_score && !strcmp(routes[i].method, m)) {
            best = &routes[i];
            best_score = sc;
        }
    }
    /* a path that takes other methods only (a better static match for
     * another method counts: PATCH /jobs/overview is not a job id) */
    if (path_best && (!best || best_score < path_best)) {
        size_t used = 0;
        for (size_t i = 0; i < sizeof routes / sizeof routes[0] && used < allowsz; i++)
            if (path_score(&routes[i], segs, n) == path_best && !strstr(allow, routes[i].method))
                used += (size_t)snprintf(allow + used, allowsz - used, "%s%s", used ? ", " : "",
                                         routes[i].method);
        char shown[120], meth[16];
        cpw_sanitize(path, shown, sizeof shown);
        cpw_sanitize(method, meth, sizeof meth);
        snprintf(msg, msgsz, "Request method '%s' is not allowed for %s (allowed: %s)", meth,
                 shown, allowsz ? allow : "?");
        return 405;
    }
    if (!best) {
        char shown[200];
        cpw_sanitize(path, shown, sizeof shown);
        snprintf(msg, msgsz, "Not found: %s", shown);
        return 404;
    }
    req->route = best->route;
    return bind_params(best, segs, req, msg, msgsz);
}

int cpa_rest_parse_trigger_body(const char *body, size_t len, cpa_trigger_body *out, char *msg,
                                size_t msgsz)
{
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "CONFIGURED");
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len)
        return 0; /* no body: every default */
    if (len > CPA_REST_MAX_BODY) {
        snprintf(msg, msgsz, "Request body of %zu bytes is larger than %d bytes", len,
                 CPA_REST_MAX_BODY);
        return 400;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    int rc = 0;
    if (!j || !json_is_object(j)) {
        char why[100];
        cpw_sanitize(j ? "the body is not a JSON object" : je.text, why, sizeof why);
        snprintf(msg, msgsz, "Request did not match expected format CheckpointTriggerRequestBody: %s",
                 why);
        rc = 400;
        goto out;
    }
    json_t *id = json_object_get(j, "triggerId"), *type = json_object_get(j, "checkpointType");
    if (id && !json_is_null(id) &&
        (!json_is_string(id) || !cpw_flink_parse_id(json_string_value(id), out->trigger_id))) {
        snprintf(msg, msgsz, "Request did not match expected format CheckpointTriggerRequestBody: "
                             "triggerId must be 32 hexadecimal characters");
        rc = 400;
        goto out;
    }
    if (type && !json_is_null(type)) {
        const char *t = json_is_string(type) ? json_string_value(type) : "";
        if (strcmp(t, "CONFIGURED") && strcmp(t, "FULL") && strcmp(t, "INCREMENTAL")) {
            snprintf(msg, msgsz, "Request did not match expected format CheckpointTriggerRequestBody: "
                                 "checkpointType must be CONFIGURED, FULL or INCREMENTAL");
            rc = 400;
            goto out;
        }
        snprintf(out->type, sizeof out->type, "%s", t);
    }
out:
    json_decref(j);
    return rc;
}
