/*
 * cpt_flink_feed.c — see cpt_flink_feed.h. The routes, the dispatch and
 * the checkpoint diffing (stats, details, subtasks); the job's shape and
 * status are in cpt_flink_feed_job.c.
 */
#include "cpt_flink_feed_int.h"
#include "cpt_model.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

int64_t cpt_ff_us(int64_t ms)
{
    if (ms <= 0)
        return 0;
    return ms > INT64_MAX / 1000 ? INT64_MAX : ms * 1000;
}

static int emit(cpt_flink_feed *f, cpw_msg *m, int64_t now_us)
{
    m->v = CPW_VERSION;
    m->seq = ++f->seq;
    if (!m->ts_us)
        m->ts_us = now_us;
    snprintf(m->job, sizeof m->job, "%s", f->jid);
    snprintf(f->st->job, sizeof f->st->job, "%s", f->jid);
    return f->emit ? f->emit(f->ud, m) : 0;
}

void cpt_ff_event(cpt_flink_feed *f, cpw_event *ev, int64_t now_us)
{
    if (!ev->ts_us)
        ev->ts_us = now_us;
    cpw_msg m = {.kind = CPW_K_EVENT, .ev = *ev};
    cpw_state_apply(f->st, ev, f->seq + 1);
    emit(f, &m, now_us);
}

void cpt_ff_hello(cpt_flink_feed *f, int64_t now_us)
{
    cpw_state_set_hello(f->st, f->hello);
    cpw_msg m = {.kind = CPW_K_HELLO, .hello = f->hello};
    f->st->seq = f->seq + 1;
    emit(f, &m, now_us);
}

void cpt_flink_feed_continue(cpt_flink_feed *f, uint64_t seq)
{
    f->seq = seq;
    f->st->seq = seq;
}

void cpt_flink_feed_replaying(cpt_flink_feed *f) { f->no_holds = true; }

void cpt_flink_feed_release(cpt_flink_feed *f, bool all, int64_t now_us)
{
    cpt_ff_hold_release(f, all ? INT64_MAX : 0, now_us);
}

void cpt_flink_feed_alive(cpt_flink_feed *f, int64_t now_us)
{
    cpw_msg m = {.kind = CPW_K_HEARTBEAT};
    f->st->seq = f->seq + 1;
    emit(f, &m, now_us);
}

/* ------------------------------------------------------------------ routes */

typedef struct route {
    cpt_ff_kind kind;
    const char *segs[7];     /* ":jid", ":id", ":vid", ":trigger" or a literal */
} route;

static const route routes[] = {
    {CPT_FF_CONFIG, {"config"}},
    {CPT_FF_OVERVIEW, {"jobs", "overview"}},
    {CPT_FF_JOB, {"jobs", ":jid"}},
    {CPT_FF_STATS, {"jobs", ":jid", "checkpoints"}},
    {CPT_FF_CP_CONFIG, {"jobs", ":jid", "checkpoints", "config"}},
    {CPT_FF_DETAILS, {"jobs", ":jid", "checkpoints", "details", ":id"}},
    {CPT_FF_SUBTASKS, {"jobs", ":jid", "checkpoints", "details", ":id", "subtasks", ":vid"}},
    {CPT_FF_TRIGGER, {"jobs", ":jid", "checkpoints", ":trigger"}},
};

static bool seg_id(const char *s, int64_t *id)
{
    if (!*s || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return false;
        v = v * 10 + (*s - '0');
    }
    *id = v;
    return true;
}

/* Whether one segment matches a pattern, capturing what it names. */
static bool seg_match(const char *pat, const char *seg, char *jid, int64_t *id, char *vid)
{
    if (pat[0] != ':')
        return !strcmp(pat, seg);
    if (!strcmp(pat, ":id"))
        return seg_id(seg, id);
    char hex[CPW_FLINK_ID_HEX + 1];
    if (!cpw_flink_parse_id(seg, hex))
        return false;
    if (!strcmp(pat, ":jid"))
        memcpy(jid, hex, sizeof hex);
    else if (!strcmp(pat, ":vid"))
        memcpy(vid, hex, sizeof hex);
    return true;
}

cpt_ff_kind cpt_flink_feed_route(const char *path, char *jid, int64_t *id, char *vid)
{
    char buf[256], jbuf[CPW_FLINK_ID_HEX + 1] = "", vbuf[CPW_FLINK_ID_HEX + 1] = "";
    int64_t ibuf = 0;
    size_t n = strcspn(path, "?#");
    if (n >= sizeof buf)
        return CPT_FF_UNKNOWN;
    memcpy(buf, path, n);
    buf[n] = 0;
    char *segs[8], *save = NULL;
    int ns = 0;
    for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (ns == 8)
            return CPT_FF_UNKNOWN;
        segs[ns++] = t;
    }
    int first = ns > 0 && !strcmp(segs[0], "v1") ? 1 : 0; /* the optional version prefix */
    for (size_t r = 0; r < sizeof routes / sizeof routes[0]; r++) {
        int k = 0;
        while (k < 7 && routes[r].segs[k])
            k++;
        if (k != ns - first)
            continue;
        bool ok = true;
        for (int i = 0; i < k && ok; i++)
            ok = seg_match(routes[r].segs[i], segs[first + i], jbuf, &ibuf, vbuf);
        if (!ok)
            continue;
        if (jid)
            memcpy(jid, jbuf, sizeof jbuf);
        if (vid)
            memcpy(vid, vbuf, sizeof vbuf);
        if (id)
            *id = ibuf;
        return routes[r].kind;
    }
    return CPT_FF_UNKNOWN;
}

/* ------------------------------------------------------------------ reasons */

static const struct {
    const char *text;        /* lowercase, a part of Flink's message */
    cpw_failure_reason reason;
} reasons[] = {
    {"expired", CPW_FAIL_EXPIRED},
    {"subsumed", CPW_FAIL_SUBSUMED},
    {"declined", CPW_FAIL_DECLINED},
    {"not all required tasks", CPW_FAIL_NOT_ALL_RUNNING},
    {"task has failed", CPW_FAIL_TASK_FAILURE},
    {"task failure", CPW_FAIL_TASK_FAILURE},
    {"finished", CPW_FAIL_NOT_ALL_RUNNING},
    {"too many", CPW_FAIL_TOO_MANY_REQUESTS},
    {"maximum number of queued", CPW_FAIL_TOO_MANY_REQUESTS},
    {"io-problem", CPW_FAIL_IO},
    {"ioexception", CPW_FAIL_IO},
    {"asynchronous", CPW_FAIL_ASYNC_EXCEPTION},
    {"abort", CPW_FAIL_ABORTED},
};

cpw_failure_reason cpt_flink_failure_reason(const char *message)
{
    char low[256];
    size_t n = 0;
    for (; message && message[n] && n < sizeof low - 1; n++)
        low[n] = (char)tolower((unsigned char)message[n]);
    low[n] = 0;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strstr(low, reasons[i].text))
            return reasons[i].reason;
    /* anything else Flink reports comes out of a task's snapshot */
    return CPW_FAIL_ASYNC_EXCEPTION;
}

/* ------------------------------------------------------------------ life */

cpt_flink_feed *cpt_flink_feed_new(const char *jid, int history_cap, int detail_cap,
                                   cpt_ff_emit_fn emit_fn, void *ud)
{
    if (jid && jid[0] && !cpw_flink_parse_id(jid, NULL))
        return NULL;
    cpt_flink_feed *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->st = cpw_state_new(history_cap > 0 ? history_cap : 1000, detail_cap);
    f->hello = calloc(1, sizeof *f->hello);
    f->built = calloc(1, sizeof *f->built);
    if (!f->st || !f->hello || !f->built) {
        cpt_flink_feed_destroy(f);
        return NULL;
    }
    if (jid && jid[0])
        cpw_flink_parse_id(jid, f->jid);
    f->emit = emit_fn;
    f->ud = ud;
    f->st->restored_from = -1;
    return f;
}

void cpt_flink_feed_destroy(cpt_flink_feed *f)
{
    if (f)
        free(f->fin_ids);
    if (!f)
        return;
    cpw_state_free(f->st);
    free(f->hello);
    free(f->built);
    cpw_flink_jobs_clear(&f->jobs);
    free(f);
}

const char *cpt_flink_feed_jid(const cpt_flink_feed *f) { return f->jid; }
const cpt_ff_info *cpt_flink_feed_info(const cpt_flink_feed *f) { return &f->info; }
const cpw_state *cpt_flink_feed_state(const cpt_flink_feed *f) { return f->st; }
const cpw_flink_jobs *cpt_flink_feed_jobs(const cpt_flink_feed *f) { return &f->jobs; }

int cpt_flink_feed_job_rows(const cpt_flink_feed *f, cpt_job_row *out, int max)
{
    for (int i = 0; i < f->jobs.n && i < max; i++) {
        const cpw_flink_job *x = &f->jobs.jobs[i];
        cpt_job_row *r = &out[i];
        memset(r, 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "%s", x->jid);
        snprintf(r->name, sizeof r->name, "%s", x->name);
        snprintf(r->state, sizeof r->state, "%s", x->state);
        r->start_us = x->start_time > 0 ? cpt_ff_us(x->start_time) : 0;
        r->end_us = x->end_time > 0 ? cpt_ff_us(x->end_time) : 0;
        r->tasks = x->tasks_total > 0 ? x->tasks_total : 0;
        r->watched = f->jid[0] && !strcmp(x->jid, f->jid);
    }
    return f->jobs.n;
}

/* A problem for the header, sanitised: the job's 32-hex id in a path
 * ("/jobs/ID/checkpoints: HTTP 500") as "…" (the header names the job). */
static void short_problem(const char *problem, char *out, size_t size)
{
    char buf[400];
    size_t n = 0;
    const char *p = problem ? problem : "";
    while (*p && n + 4 < sizeof buf) {
        char id[CPW_FLINK_ID_HEX + 1];
        if (n + 10 < sizeof buf && !strncmp(p, "/jobs/", 6) &&
            strnlen(p + 6, CPW_FLINK_ID_HEX) == CPW_FLINK_ID_HEX) {
            memcpy(id, p + 6, CPW_FLINK_ID_HEX);
            id[CPW_FLINK_ID_HEX] = 0;
            if (cpw_flink_parse_id(id, NULL)) {
                memcpy(buf + n, "/jobs/\xe2\x80\xa6", 9); /* "/jobs/…" */
                n += 9;
                p += 6 + CPW_FLINK_ID_HEX;
                continue;
            }
        }
        buf[n++] = *p++;
    }
    buf[n] = 0;
    cpw_sanitize(buf, out, size);
}

void cpt_flink_feed_describe(const cpt_flink_feed *f, const char *base, int poll_ms,
                             const char *problem, int64_t now_us, char *out, size_t size)
{
    const cpt_ff_info *i = &f->info;
    char b[300], ver[64], prob[320], age[48] = "no data yet";
    cpw_sanitize(base, b, sizeof b);
    cpw_sanitize(i->version, ver, sizeof ver);
    short_problem(problem, prob, sizeof prob);
    if (i->stats_us)
        snprintf(age, sizeof age, "data %.1fs old", (double)(now_us - i->stats_us) / 1e6);
    bool stale = i->stats_us && now_us - i->stats_us > 3 * (int64_t)poll_ms * 1000 + 2000000;
    /* what a narrow header keeps first: the version, the data's age and
     * what is wrong (why the data is old) */
    snprintf(out, size, "Flink%s%s  %s%s%s%s  cache %llds%s  %s", ver[0] ? " " : "", ver, age,
             stale ? " (stale)" : "", prob[0] ? "  ! " : "", prob,
             (long long)(i->refresh_ms / 1000), i->checkpointing_off ? "  checkpointing off" : "",
             b);
}

cpw_state *cpt_flink_feed_copy(const cpt_flink_feed *f, int history)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_state_encode(&b, f->st, history);
    cpw_state *s = NULL;
    if (!b.failed) {
        json_t *j = json_loadb(b.data, b.len, 0, NULL);
        cpw_error err;
        s = j ? cpw_state_decode_json(j, &err) : NULL;
        json_decref(j);
    }
    cpw_buf_free(&b);
    /* Flink's counts hold the ends kept back for their subtasks; here they
     * are still in flight, and their events will count them */
    for (int i = 0; s && i < CPT_FF_HOLDS; i++) {
        const cpt_ff_hold *h = &f->hold[i];
        if (h->id && h->completed && s->counts.completed > 0)
            s->counts.completed--;
        else if (h->id && !h->completed && s->counts.failed > 0)
            s->counts.failed--;
    }
    return s;
}

/* ------------------------------------------------------------------ dispatch */

/* A cheap fingerprint of a body (FNV-1a), to skip one that did not change. */
static uint64_t fingerprint(const char *b, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
    return h;
}

typedef cpw_err (*ff_read_fn)(cpt_flink_feed *f, const char *body, size_t len, int64_t id,
                              const char *vid, int64_t now_us, cpw_error *err);

static const ff_read_fn readers[] = {
    [CPT_FF_CONFIG] = cpt_ff_read_config,
    [CPT_FF_OVERVIEW] = cpt_ff_read_overview,
    [CPT_FF_JOB] = cpt_ff_read_job,
    [CPT_FF_STATS] = cpt_ff_read_stats,
    [CPT_FF_CP_CONFIG] = cpt_ff_read_cp_config,
    [CPT_FF_DETAILS] = cpt_ff_read_details,
    [CPT_FF_SUBTASKS] = cpt_ff_read_subtasks,
};

/* A response that is not a 2xx: what Flink said, and what it means here. */
static void on_error_status(cpt_flink_feed *f, cpt_ff_kind k, const char *path, int status,
                            const char *body, size_t len, int64_t id, const char *vid,
                            int64_t now_us, char *err, size_t errsz)
{
    char msg[CPW_TEXT_MAX] = "";
    cpw_error e;
    if (status && body && len)
        cpw_flink_read_error(body, len, msg, sizeof msg, &e);
    if (!status)
        snprintf(msg, sizeof msg, "%.*s", (int)(len < sizeof msg ? len : sizeof msg - 1),
                 body ? body : "");
    if (k == CPT_FF_SUBTASKS) {
        cpt_ff_late_answer(f, id, cpt_ff_op_of(f, vid), status, msg, now_us);
        if (status == 404)
            return; /* it left Flink's history: said where it matters */
    }
    if (k == CPT_FF_DETAILS && status == 404) {
        /* it left Flink's history (web.checkpoints.history): decide now */
        cpt_ff_gone(f, id, now_us);
        return;
    }
    if (k == CPT_FF_STATS && status && strstr(msg, "not enabled")) {
        f->info.checkpointing_off = true;
        return;
    }
    f->info.errors++;
    /* which request, as the reader's errors say it: a cluster answers each
     * path differently (a proxy may guard some) */
    if (status)
        snprintf(err, errsz, "%s: HTTP %d%s%s", path, status, msg[0] ? ": " : "", msg);
    else
        snprintf(err, errsz, "%s: %s", path, msg[0] ? msg : "no response");
}

cpt_ff_kind cpt_flink_feed_body(cpt_flink_feed *f, const char *path, int status,
                               const char *body, size_t len, int64_t now_us, char *err,
                               size_t errsz)
{
    char jid[CPW_FLINK_ID_HEX + 1], vid[CPW_FLINK_ID_HEX + 1];
    int64_t id = 0;
    err[0] = 0;
    cpt_ff_kind k = cpt_flink_feed_route(path ? path : "", jid, &id, vid);
    if (k == CPT_FF_UNKNOWN || k == CPT_FF_TRIGGER)
        return k;
    if (k >= CPT_FF_JOB) {
        if (!f->jid[0])
            memcpy(f->jid, jid, sizeof jid);
        if (strcmp(jid, f->jid))
            return CPT_FF_UNKNOWN; /* another job's */
    }
    f->info.responses++;
    cpt_ff_hold_release(f, 0, now_us); /* a hold waits a bounded time */
    if (status < 200 || status > 299) {
        on_error_status(f, k, path, status, body, len, id, vid, now_us, err, errsz);
        return k;
    }
    if (k == CPT_FF_STATS) {
        f->info.stats_us = now_us;
        f->info.checkpointing_off = false;
    }
    uint64_t fp = fingerprint(body ? body : "", len);
    if (k < CPT_FF__SKIPPABLE && f->fp[k] == fp && f->fp_set[k]) {
        f->info.unchanged++; /* Flink's cache answered the same */
        return k;
    }
    cpw_error e = {0};
    cpw_err rc = readers[k](f, body ? body : "", len, id, vid, now_us, &e);
    if (rc != CPW_OK) {
        f->info.errors++;
        if (k == CPT_FF_SUBTASKS) /* asked once: a bad answer is an answer */
            cpt_ff_late_answer(f, id, cpt_ff_op_of(f, vid), 0, "a body it could not read", now_us);
        snprintf(err, errsz, "%s: %s%s%s", path, e.field[0] ? e.field : "",
                 e.field[0] ? ": " : "", e.text[0] ? e.text : cpw_strerror(rc));
        return k;
    }
    if (k < CPT_FF__SKIPPABLE) {
        f->fp[k] = fp;
        f->fp_set[k] = true;
    }
    if (k == CPT_FF_STATS)
        f->info.stats_changed_us = now_us;
    return k;
}
