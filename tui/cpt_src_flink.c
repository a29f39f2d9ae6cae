/*
 * cpt_src_flink.c — the source of a job on an Apache Flink cluster: polls
 * its JobManager's REST API through cpt_http and hands every answer to a
 * cpt_flink_feed, whose messages feed the model like an agent's would.
 *
 * Polling respects the cluster: /config once a minute, /jobs/overview (the
 * jobs and their states) every 5 s, /jobs/:jid (its vertices) and its
 * checkpoints/config every 5 s until the job's shape is known, then every
 * 30 s and 60 s (a rescale or a resubmission changes them, nothing else
 * does), /jobs/:jid/checkpoints at the poll interval, details and subtasks
 * only where the feed says acks are missing (in flight, ended between two
 * polls, or finished and opened on the detail screen). A request still
 * out is never sent again.
 * While the overview wants them, every other listed job's /checkpoints too,
 * for its row (cpt_flink_rows), no faster than Flink's statistics cache
 * refreshes (/config's refresh interval) nor the poll. Triggers go
 * through POST /jobs/:jid/checkpoints (Flink ≥ 1.17), savepoints through
 * POST /jobs/:jid/savepoints (any version; what `t` offers on a cluster
 * older than 1.17), each followed by its trigger id; Flink has no request
 * that aborts one checkpoint, no
 * failure table and no run-time settings, and the caps say so.
 */
#include "cpt_source.h"
#include "cpt_flink_feed.h"
#include "cpt_flink_rows.h"
#include "cpt_http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_POLL = 1, T_TRIGGER, T_TRIGGER_STATUS, T_ROW };

typedef struct flink_src {
    cpt_source *s;
    cpt_http *http;
    cpt_flink_feed *feed;
    cpt_flink_rows *rows;     /* the other jobs' figures, for the overview */
    bool want_rows;           /* the overview is shown: poll them */
    cpt_model *m;             /* fed while started; may be NULL */
    char want_job[300];       /* --job: an id or a name ("" any) */
    int poll_ms, timeout_ms;
    bool one_job;             /* no /jobs/overview: another source lists the cluster */
    int history, detail;      /* a feed's caps */
    char *overview;           /* the last /jobs/overview body (a new feed reads it) */
    size_t overview_len;
    int64_t next_config, next_slow, next_stats, next_job, next_cp_config;
    int64_t last_ok_us;       /* an answer of any kind (the cluster is there) */
    bool synced;              /* a round went through: the state is worth showing */
    bool overview_seen;       /* /jobs/overview answered */
    char problem[300];        /* the last error, "" once that request was answered well */
    int problem_kind;         /* the cpt_ff_kind whose answer said it (-1: no answer's) */
    /* a trigger being followed */
    bool cmd_out;
    char cmd_name[32];
    char trigger_id[CPW_FLINK_ID_HEX + 1];
    int64_t cmd_sent_us, trig_next_us;
    bool cmd_done, cmd_ok;
    char cmd_text[300];
    int64_t cmd_cp;
    bool savepoint;           /* the command out is a savepoint */
    uint64_t jobs_gen;        /* changes with the list, the watched job or a row's figures */
    int64_t detail_id;        /* the checkpoint on the detail screen (0: none) */
    uint64_t filled_seen;     /* the feed's filled count the model has */
    bool detail_asking;       /* the feed asks for the detail's figures */
} flink_src;

static const char *const flink_cannot[] = {
    "this Flink cluster has no REST checkpoint trigger (Flink 1.17+); a savepoint can be taken "
    "instead (t offers one; cptop --flink URL ctl savepoint)",
    "Flink has no request that aborts one checkpoint: it ends at its timeout (or cancel the job)",
    "Flink announces no failure table: cptop injects failures only into jobs that offer them",
    "Flink's checkpoint settings cannot be changed through its REST API while the job runs",
    "Flink is polled (see the data's age in the header), not pushed",
    NULL,
};

static void flink_destroy(void *impl)
{
    flink_src *f = impl;
    if (!f)
        return;
    cpt_http_destroy(f->http);
    cpt_flink_feed_destroy(f->feed);
    cpt_flink_rows_destroy(f->rows);
    free(f->overview);
    free(f);
}

static void flink_describe(const void *impl, char *out, size_t size)
{
    const flink_src *f = impl;
    cpt_flink_feed_describe(f->feed, cpt_http_base(f->http), f->poll_ms, f->problem, cpw_now_us(),
                            out, size);
}

static unsigned flink_caps(const void *impl, const cpt_model *m)
{
    (void)m;
    const flink_src *f = impl;
    const cpt_ff_info *i = cpt_flink_feed_info(f->feed);
    bool old = i->version_major && (i->version_major < 1 ||
                                    (i->version_major == 1 && i->version_minor < 17));
    return CPT_CAP_JOBS | CPT_CAP_SAVEPOINT | (old ? 0 : CPT_CAP_TRIGGER | CPT_CAP_FULL);
}

static int on_msg(void *ud, const cpw_msg *msg)
{
    flink_src *f = ud;
    return cpt_source_emit(f->s, f->m, msg, cpw_now_us());
}

static void request(flink_src *f, const char *method, const char *path, const char *body,
                    uint64_t tag)
{
    char err[200];
    if (cpt_http_pending(f->http, path))
        return;
    if (cpt_http_start(f->http, method, path, body, tag, err, sizeof err)) {
        snprintf(f->problem, sizeof f->problem, "%s", err);
        f->problem_kind = -1;
    }
}

/* What the answers showed missing (the feed says; one of each at a time). */
static void ask_wanted(flink_src *f)
{
    char paths[16][160];
    int n = cpt_flink_feed_wanted(f->feed, paths, 16);
    for (int i = 0; i < n; i++)
        request(f, "GET", paths[i], NULL, T_POLL);
}

/* The detail screen's checkpoint in the model: figures the feed filled
 * in after its end, and what to say while it asks or when it cannot. */
static void sync_detail(flink_src *f, cpt_model *m)
{
    int64_t id = 0;
    uint64_t gen = cpt_flink_feed_filled(f->feed, &id);
    if (!m || !f->detail_id)
        return;
    char note[200];
    cpt_flink_feed_detail_note(f->feed, f->detail_id, note, sizeof note);
    cpt_model_detail_note(m, f->detail_id, note);
    if (gen == f->filled_seen)
        return;
    f->filled_seen = gen;
    const cpw_state *st = cpt_flink_feed_state(f->feed);
    for (int i = 0; i < st->n_history; i++)
        if (cpw_state_history(st, i)->id == id)
            cpt_model_fill_detail(m, cpw_state_history(st, i));
}

static void flink_want_detail(cpt_source *s, cpt_model *m, int64_t cp_id)
{
    flink_src *f = cpt_source_impl(s);
    /* asked each turn: one opened in flight may end without figures */
    bool asking = cpt_flink_feed_want_detail(f->feed, cp_id);
    if (asking && !f->detail_asking)
        ask_wanted(f);
    f->detail_asking = asking;
    if (cp_id == f->detail_id && !asking)
        return;
    f->detail_id = cp_id;
    sync_detail(f, m);
}

/* A new feed for job jid (the state is another job's), which reads the
 * last overview again; every request is due again. */
static int use_feed(flink_src *f, const char *jid)
{
    cpt_flink_feed *nf = cpt_flink_feed_new(jid, f->history, f->detail, on_msg, f);
    if (!nf)
        return -1;
    cpt_flink_feed_destroy(f->feed);
    f->feed = nf;
    f->detail_id = 0;
    f->filled_seen = 0;
    f->detail_asking = false;
    f->next_config = f->next_slow = f->next_stats = f->next_job = f->next_cp_config = 0;
    f->synced = false;
    f->problem[0] = 0;
    f->jobs_gen++; /* another job is the watched one */
    if (f->overview) {
        char err[200];
        cpt_flink_feed_body(nf, "/jobs/overview", 200, f->overview, f->overview_len, cpw_now_us(),
                            err, sizeof err);
    }
    return 0;
}

/* Keeps the overview's body for a feed made later. */
static void keep_overview(flink_src *f, const cpt_http_resp *r)
{
    char *b = malloc(r->len + 1);
    if (!b)
        return;
    memcpy(b, r->body, r->len);
    b[r->len] = 0;
    free(f->overview);
    f->overview = b;
    f->overview_len = r->len;
}

/* Picks the job among /jobs/overview: --job's id or name, else the one
 * running (the first when several do). */
static void pick_job(flink_src *f, const cpw_flink_jobs *j)
{
    int best = -1;
    for (int i = 0; i < j->n; i++) {
        const cpw_flink_job *x = &j->jobs[i];
        if (f->want_job[0]) {
            if (!strcmp(x->jid, f->want_job) || !strcmp(x->name, f->want_job))
                best = i;
        } else if (best < 0 || (!strcmp(x->state, "RUNNING") &&
                                strcmp(j->jobs[best].state, "RUNNING"))) {
            best = i;
        }
    }
    if (best < 0) {
        snprintf(f->problem, sizeof f->problem, "%s", f->want_job[0] ? "no such job on the cluster"
                                                                     : "no job on the cluster");
        f->problem_kind = CPT_FF_OVERVIEW;
        return;
    }
    use_feed(f, j->jobs[best].jid);
}

/* How often another job's row is asked: the poll, but never faster than
 * Flink refreshes its statistics (asking sooner gets the same body). */
static int64_t row_period(const flink_src *f)
{
    int64_t ms = cpt_flink_feed_info(f->feed)->refresh_ms;
    ms = ms > f->poll_ms ? ms : f->poll_ms;
    return (ms < 60000 ? ms : 60000) * 1000;
}

/* Rows due together are spread over this (a second at most): figures
 * appear soon, and the cluster is not asked fifty things at once. */
static int64_t row_spread(const flink_src *f)
{
    int64_t p = row_period(f);
    return p < 1000000 ? p : 1000000;
}

/* The watched job's rows are the feed's while a model is fed; without
 * one (--list) every job is asked. */
static const char *row_skip(const flink_src *f) { return f->m ? cpt_flink_feed_jid(f->feed) : ""; }

static void trigger_answer(flink_src *f, const cpt_http_resp *r)
{
    char err[200];
    if (r->tag == T_TRIGGER) {
        cpw_error e;
        if (r->status == 202 || r->status == 200) {
            if (cpw_flink_read_trigger(r->body, r->len, f->trigger_id, &e) == CPW_OK) {
                f->trig_next_us = cpw_now_us() + 200000;
                return;
            }
            snprintf(err, sizeof err, "a bad answer: %s", e.text);
        } else if (r->status) {
            char msg[CPW_TEXT_MAX] = "";
            cpw_flink_read_error(r->body, r->len, msg, sizeof msg, &e);
            snprintf(err, sizeof err, "HTTP %d%s%s", r->status, msg[0] ? ": " : "", msg);
        } else {
            snprintf(err, sizeof err, "%s", r->err);
        }
        f->cmd_done = true;
        f->cmd_ok = false;
        snprintf(f->cmd_text, sizeof f->cmd_text, "%s refused (%s)", f->cmd_name, err);
        return;
    }
    cpw_flink_op op;
    cpw_error e;
    if (r->status != 200 || cpw_flink_read_op(r->body, r->len, &op, &e) != CPW_OK) {
        f->trig_next_us = cpw_now_us() + 500000; /* asked again */
        return;
    }
    if (op.completed) {
        f->cmd_done = true;
        f->cmd_ok = !op.failed;
        f->cmd_cp = op.checkpoint_id;
        if (op.failed)
            snprintf(f->cmd_text, sizeof f->cmd_text, "%s failed: %s", f->cmd_name,
                     op.failure_class ? op.failure_class : "unknown cause");
        else if (op.location)
            snprintf(f->cmd_text, sizeof f->cmd_text, "%s: ok, written to %s", f->cmd_name,
                     op.location);
        else
            snprintf(f->cmd_text, sizeof f->cmd_text, "%s: ok, checkpoint %lld completed",
                     f->cmd_name, (long long)op.checkpoint_id);
    } else {
        f->trig_next_us = cpw_now_us() + 500000;
    }
    cpw_flink_op_clear(&op);
}

static void on_answer(void *ud, const cpt_http_resp *r)
{
    flink_src *f = ud;
    char where[300];
    if (r->tag == T_ROW) {
        /* another job's row: not the watched job's, not recorded */
        if (r->status)
            f->last_ok_us = r->recv_us;
        if (cpt_flink_rows_answer(f->rows, r->path, r->status, r->status ? r->body : r->err,
                                  r->status ? r->len : strlen(r->err), r->recv_us))
            f->jobs_gen++;
        return;
    }
    snprintf(where, sizeof where, "%d %s", r->status, r->path);
    if (r->status)
        cpt_source_tap(f->s, CPT_TAP_HTTP_BODY, where, r->body, r->len, r->recv_us);
    else
        cpt_source_tap(f->s, CPT_TAP_HTTP_ERROR, r->path, r->err, strlen(r->err), r->recv_us);
    if (r->status)
        f->last_ok_us = r->recv_us;
    if (r->tag == T_TRIGGER || r->tag == T_TRIGGER_STATUS) {
        trigger_answer(f, r);
        return;
    }
    char err[300];
    cpt_ff_kind k = cpt_flink_feed_body(f->feed, r->path, r->status, r->status ? r->body : r->err,
                                        r->status ? r->len : strlen(r->err), r->recv_us, err,
                                        sizeof err);
    /* A problem stays until the kind of request that had it is answered
     * well: a good /config does not make a failing /checkpoints fine. */
    if (err[0]) {
        snprintf(f->problem, sizeof f->problem, "%s", err);
        f->problem_kind = (int)k;
    } else if (f->problem_kind == (int)k || f->problem_kind < 0) {
        f->problem[0] = 0;
    }
    if (k == CPT_FF_OVERVIEW && r->status == 200) {
        f->overview_seen = !err[0];
        if (!err[0]) {
            keep_overview(f, r);
            cpt_flink_rows_sync(f->rows, cpt_flink_feed_jobs(f->feed), row_spread(f), r->recv_us);
            f->jobs_gen++; /* the list may differ */
        }
        if (!cpt_flink_feed_jid(f->feed)[0] && !err[0])
            pick_job(f, cpt_flink_feed_jobs(f->feed)); /* the new feed reads the same list */
    }
    /* A round went through only when its statistics were read: an error
     * status or a body that is not Flink's shows nothing of the job, and a
     * dashboard kept "live" by it would let checkpoints in flight run on. */
    if (k == CPT_FF_STATS && r->status && !err[0]) {
        cpt_flink_feed_alive(f->feed, r->recv_us);
        if (cpt_flink_feed_state(f->feed)->hello.n_ops)
            f->synced = true;
    }
    ask_wanted(f);
    sync_detail(f, f->m);
}

/* The requests due now. */
static void schedule(flink_src *f, int64_t now)
{
    const char *jid = cpt_flink_feed_jid(f->feed);
    char p[160];
    if (now >= f->next_config) {
        request(f, "GET", "/config", NULL, T_POLL);
        f->next_config = now + 60000000;
    }
    if (now >= f->next_slow && !f->one_job) {
        request(f, "GET", "/jobs/overview", NULL, T_POLL);
        f->next_slow = now + 5000000;
    }
    /* the job's shape and settings: again soon until both arrived */
    const cpw_hello *h = &cpt_flink_feed_state(f->feed)->hello;
    bool settled = h->n_ops > 0 && h->n_config > 0;
    if (jid[0] && now >= f->next_job) {
        snprintf(p, sizeof p, "/jobs/%s", jid);
        request(f, "GET", p, NULL, T_POLL);
        /* one job alone learns its state here, at the overview's pace */
        f->next_job = now + (settled && !f->one_job ? 30000000 : 5000000);
    }
    if (jid[0] && now >= f->next_cp_config) {
        snprintf(p, sizeof p, "/jobs/%s/checkpoints/config", jid);
        request(f, "GET", p, NULL, T_POLL);
        f->next_cp_config = now + (settled ? 60000000 : 5000000);
    }
    if (jid[0] && now >= f->next_stats) {
        snprintf(p, sizeof p, "/jobs/%s/checkpoints", jid);
        request(f, "GET", p, NULL, T_POLL);
        f->next_stats = now + (int64_t)f->poll_ms * 1000;
    }
    if (f->want_rows) {
        char rp[8][160];
        int n = cpt_flink_rows_due(f->rows, now, row_period(f), row_skip(f), rp, 8);
        for (int i = 0; i < n; i++)
            request(f, "GET", rp[i], NULL, T_ROW);
    }
    if (f->cmd_out && !f->cmd_done && f->trigger_id[0] && now >= f->trig_next_us) {
        snprintf(p, sizeof p, "/jobs/%s/%s/%s", jid, f->savepoint ? "savepoints" : "checkpoints",
                 f->trigger_id);
        request(f, "GET", p, NULL, T_TRIGGER_STATUS);
        f->trig_next_us = now + 60000000; /* set again by the answer */
    }
}

static int flink_start(cpt_source *s, cpt_model *m, int64_t now_us, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    flink_src *f = cpt_source_impl(s);
    f->m = m;
    if (m)
        cpt_model_connecting(m, cpt_http_base(f->http), now_us);
    schedule(f, now_us);
    return 0;
}

static int flink_pollfds(const void *impl, struct pollfd *pfd, int max, int64_t *next_us)
{
    const flink_src *f = impl;
    /* the job's requests are due only once there is a job to ask about */
    bool job = cpt_flink_feed_jid(f->feed)[0] != 0;
    const int64_t at[] = {f->one_job ? INT64_MAX : f->next_slow, f->next_config, job ? f->next_stats : INT64_MAX,
                          job ? f->next_job : INT64_MAX, job ? f->next_cp_config : INT64_MAX,
                          f->cmd_out && !f->cmd_done && f->trig_next_us ? f->trig_next_us
                                                                        : INT64_MAX,
                          f->want_rows ? cpt_flink_rows_next(f->rows, row_skip(f)) : INT64_MAX};
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        due = at[i] < due ? at[i] : due;
    if (next_us && due < *next_us)
        *next_us = due;
    return cpt_http_pollfds(f->http, pfd, max, next_us);
}

static void flink_on_ready(cpt_source *s, cpt_model *m, int64_t now_us)
{
    (void)now_us;
    flink_src *f = cpt_source_impl(s);
    f->m = m;
    cpt_http_run(f->http, on_answer, f);
}

/* The model asks for the state at start and after it lost the thread:
 * the feed's own, once a round went through. */
static void give_state(flink_src *f, cpt_model *m, int64_t now_us)
{
    if (!m || !m->want_state || m->state_pending || !f->synced)
        return;
    cpw_state *st = cpt_flink_feed_copy(f->feed, -1);
    if (!st)
        return;
    cpt_model_state_sent(m);
    cpt_model_on_state(m, st, now_us);
}

static void flink_tick(cpt_source *s, cpt_model *m, int64_t now_us)
{
    flink_src *f = cpt_source_impl(s);
    f->m = m;
    cpt_http_run(f->http, on_answer, f);
    cpt_flink_feed_release(f->feed, false, now_us);
    int before = cpt_http_active(f->http);
    schedule(f, now_us);
    /* what was just asked goes out now, not after a wait of libcurl's
     * "at once" (a wakeup more per request) */
    if (cpt_http_active(f->http) > before)
        cpt_http_run(f->http, on_answer, f);
    give_state(f, m, now_us);
    if (m) {
        /* the header's source line: URL, version, the data's age */
        flink_describe(f, m->endpoint, sizeof m->endpoint);
    }
}

/* The POST a trigger is: its path and body (malloc'd), by its "type"
 * parameter: a checkpoint (configured or full) or a savepoint (to "dir",
 * else the cluster's state.savepoints.dir; the job keeps running). */
static char *trigger_post(const cpw_cmd *c, const char *jid, char *path, size_t size,
                          const char **name)
{
    const char *type = c->n_params > 0 && !strcmp(c->keys[0], "type") ? c->values[0] : "";
    json_t *b;
    if (!strcmp(type, "savepoint")) {
        const char *dir = c->n_params > 1 && !strcmp(c->keys[1], "dir") ? c->values[1] : NULL;
        snprintf(path, size, "/jobs/%s/savepoints", jid);
        b = json_pack("{s:b}", "cancel-job", 0);
        if (b && dir)
            json_object_set_new(b, "target-directory", json_string(dir));
        *name = "savepoint";
    } else {
        bool full = !strcmp(type, "full");
        snprintf(path, size, "/jobs/%s/checkpoints", jid);
        b = json_pack("{s:s}", "checkpointType", full ? "FULL" : "CONFIGURED");
        *name = full ? "trigger --full" : "trigger";
    }
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    return body;
}

static int flink_send_cmd(cpt_source *s, const cpw_cmd *c, char *err, size_t errsz)
{
    flink_src *f = cpt_source_impl(s);
    const char *jid = cpt_flink_feed_jid(f->feed);
    if (c->type != CPW_CMD_TRIGGER) {
        snprintf(err, errsz, "Flink takes no such request");
        return -1;
    }
    if (f->cmd_out && !f->cmd_done) {
        snprintf(err, errsz, "still waiting for %s", f->cmd_name);
        return -1;
    }
    if (!jid[0]) {
        snprintf(err, errsz, "no job chosen yet");
        return -1;
    }
    char path[160];
    const char *name;
    char *body = trigger_post(c, jid, path, sizeof path, &name);
    if (!body) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    f->cmd_out = true;
    f->cmd_done = false;
    f->trigger_id[0] = 0;
    f->cmd_cp = 0;
    f->cmd_sent_us = cpw_now_us();
    f->savepoint = !strcmp(name, "savepoint");
    snprintf(f->cmd_name, sizeof f->cmd_name, "%s", name);
    int rc = cpt_http_start(f->http, "POST", path, body, T_TRIGGER, err, errsz);
    free(body);
    if (rc) {
        f->cmd_out = false;
        return -1;
    }
    return 0;
}

static bool flink_cmd_pending(const void *impl)
{
    const flink_src *f = impl;
    return f->cmd_out && !f->cmd_done;
}

static const char *flink_cmd_name(const void *impl) { return ((const flink_src *)impl)->cmd_name; }

static int flink_poll_cmd(cpt_source *s, int64_t now_us, int timeout_ms, bool *ok, char *text,
                          size_t size)
{
    flink_src *f = cpt_source_impl(s);
    if (!f->cmd_out)
        return 0;
    if (!f->cmd_done && now_us - f->cmd_sent_us < (int64_t)timeout_ms * 1000)
        return 0;
    if (!f->cmd_done) {
        f->cmd_ok = false;
        snprintf(f->cmd_text, sizeof f->cmd_text, "%s: not completed within %d ms%s", f->cmd_name,
                 timeout_ms, f->trigger_id[0] ? " (Flink is still working on it)" : "");
    }
    f->cmd_out = false;
    *ok = f->cmd_ok;
    cpw_sanitize(f->cmd_text, text, size);
    return 1;
}

/* Runs the loop (without a model) until done() or the deadline. */
static bool run_until(cpt_source *s, int timeout_ms, bool (*done)(flink_src *f))
{
    flink_src *f = cpt_source_impl(s);
    int64_t end = cpw_now_us() + (int64_t)timeout_ms * 1000;
    while (!done(f)) {
        int64_t now = cpw_now_us();
        if (now >= end)
            return false;
        struct pollfd pfd[32];
        int64_t next = end;
        int n = flink_pollfds(f, pfd, 32, &next);
        int64_t wait = next - now;
        wait = wait < 0 ? 0 : wait > 100000 ? 100000 : wait;
        poll(pfd, (nfds_t)n, (int)(wait / 1000) + 1);
        flink_tick(s, f->m, cpw_now_us());
    }
    return true;
}

/* Why a wait ended empty, as ": …" (or ""): the last problem, else the
 * request still out (a deadline of ours came before libcurl's). */
static void why_not(const flink_src *f, char *out, size_t size)
{
    char w[400];
    if (f->problem[0])
        snprintf(out, size, ": %s", f->problem);
    else if (cpt_http_waiting(f->http, w, sizeof w))
        snprintf(out, size, ": %s", w);
    else
        out[0] = 0;
}

static bool cmd_finished(flink_src *f) { return f->cmd_done; }
static bool overview_read(flink_src *f) { return f->overview_seen; }
static bool job_known(flink_src *f) { return cpt_flink_feed_jid(f->feed)[0] != 0; }
static bool config_known(flink_src *f) { return cpt_flink_feed_info(f->feed)->have_config; }

static int flink_request(cpt_source *s, const cpw_cmd *c, int timeout_ms, cpt_src_reply *r,
                         char *err, size_t errsz)
{
    flink_src *f = cpt_source_impl(s);
    if (!run_until(s, timeout_ms, job_known)) {
        char why[420];
        why_not(f, why, sizeof why);
        snprintf(err, errsz, "no job found on the cluster within %d ms%s", timeout_ms, why);
        return -1;
    }
    /* the cluster's version says whether it has a REST trigger (a proxy
     * that hides /config: the POST itself will say) */
    run_until(s, timeout_ms < 2000 ? timeout_ms : 2000, config_known);
    if (!(flink_caps(f, NULL) & CPT_CAP_TRIGGER) &&
        !(c->n_params > 0 && !strcmp(c->values[0], "savepoint"))) {
        r->ok = false;
        snprintf(r->error, sizeof r->error, "unsupported");
        snprintf(r->message, sizeof r->message, "%s", flink_cannot[0]);
        return 0;
    }
    if (flink_send_cmd(s, c, err, errsz))
        return -1;
    run_until(s, timeout_ms, cmd_finished);
    bool ok;
    char text[300];
    f->cmd_sent_us = 0; /* whatever is there now is the outcome */
    flink_poll_cmd(s, cpw_now_us(), timeout_ms, &ok, text, sizeof text);
    r->ok = ok;
    r->cp_id = f->cmd_cp;
    snprintf(r->error, sizeof r->error, "%s", ok ? "" : "flink");
    snprintf(r->message, sizeof r->message, "%s", text);
    return 0;
}

/* A snapshot is ready when a round went through and nothing it asked for
 * is still out. */
static bool round_done(flink_src *f)
{
    return f->synced && cpt_http_active(f->http) == 0;
}

static int flink_snapshot(cpt_source *s, int history, int timeout_ms, cpw_state **out, char *err,
                          size_t errsz)
{
    flink_src *f = cpt_source_impl(s);
    if (!round_done(f) && !run_until(s, timeout_ms, round_done) && !f->synced) {
        char b[300], why[420];
        cpw_sanitize(cpt_http_base(f->http), b, sizeof b);
        why_not(f, why, sizeof why);
        snprintf(err, errsz, "no checkpoint statistics from %s within %d ms%s", b, timeout_ms, why);
        return -1;
    }
    /* Flink said how the held ones ended; a snapshot waits no longer for
     * their subtasks (none are left held when the round went through) */
    cpt_flink_feed_release(f->feed, true, cpw_now_us());
    if (!(*out = cpt_flink_feed_copy(f->feed, history))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

const cpw_flink_jobs *cpt_src_flink_jobs(cpt_source *s, int timeout_ms, char *err, size_t errsz)
{
    flink_src *f = cpt_source_impl(s);
    if (strcmp(cpt_source_kind(s), "flink")) {
        snprintf(err, errsz, "not a Flink source");
        return NULL;
    }
    if (!run_until(s, timeout_ms, overview_read)) {
        char b[300], why[420];
        cpw_sanitize(cpt_http_base(f->http), b, sizeof b);
        why_not(f, why, sizeof why);
        snprintf(err, errsz, "no job list from %s within %d ms%s", b, timeout_ms, why);
        return NULL;
    }
    return cpt_flink_feed_jobs(f->feed);
}

static int flink_jobs(const void *impl, cpt_job_row *out, int max)
{
    const flink_src *f = impl;
    int n = cpt_flink_feed_job_rows(f->feed, out, max);
    for (int i = 0; i < n && i < max; i++) {
        const cpt_job_cp *cp = cpt_flink_rows_get(f->rows, out[i].id);
        if (cp)
            memcpy(&out[i].cp, cp, sizeof *cp);
    }
    return n;
}

static void flink_want_jobs(void *impl, bool on)
{
    flink_src *f = impl;
    if (on && !f->want_rows)
        cpt_flink_rows_resume(f->rows, row_spread(f), cpw_now_us());
    f->want_rows = on;
}

static bool rows_heard(flink_src *f)
{
    return f->overview_seen && cpt_flink_rows_unheard(f->rows, row_skip(f)) == 0;
}

int cpt_src_flink_job_rows(cpt_source *s, int timeout_ms, cpt_job_row *out, int max, char *err,
                           size_t errsz)
{
    int64_t end = cpw_now_us() + (int64_t)timeout_ms * 1000;
    if (!cpt_src_flink_jobs(s, timeout_ms, err, errsz))
        return -1;
    flink_src *f = cpt_source_impl(s);
    flink_want_jobs(f, true);
    int left = (int)((end - cpw_now_us()) / 1000);
    run_until(s, left > 0 ? left : 0, rows_heard); /* who did not answer stays unknown */
    return flink_jobs(f, out, max);
}

static uint64_t flink_jobs_gen(const void *impl) { return ((const flink_src *)impl)->jobs_gen; }

static int flink_watch(cpt_source *s, const char *job, char *err, size_t errsz)
{
    flink_src *f = cpt_source_impl(s);
    char jid[CPW_FLINK_ID_HEX + 1];
    if (!cpw_flink_parse_id(job, jid)) {
        snprintf(err, errsz, "not a Flink job id");
        return -1;
    }
    if (f->cmd_out && !f->cmd_done) {
        snprintf(err, errsz, "still waiting for %s", f->cmd_name);
        return -1;
    }
    if (use_feed(f, jid)) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    f->want_job[0] = 0;
    f->cmd_out = false;
    f->jobs_gen++;
    return 0;
}

static const cpt_source_ops flink_ops = {
    .kind = "flink",
    .destroy = flink_destroy,
    .describe = flink_describe,
    .caps = flink_caps,
    .cannot = flink_cannot,
    .start = flink_start,
    .pollfds = flink_pollfds,
    .on_ready = flink_on_ready,
    .tick = flink_tick,
    .send_cmd = flink_send_cmd,
    .cmd_pending = flink_cmd_pending,
    .cmd_name = flink_cmd_name,
    .poll_cmd = flink_poll_cmd,
    .request = flink_request,
    .snapshot = flink_snapshot,
    .jobs = flink_jobs,
    .jobs_gen = flink_jobs_gen,
    .want_jobs = flink_want_jobs,
    .watch = flink_watch,
    .want_detail = flink_want_detail,
};

cpt_source *cpt_src_flink_new(const cpt_src_flink_conf *c, char *err, size_t errsz)
{
    flink_src *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    f->poll_ms = c->poll_ms >= 250 ? c->poll_ms : 1000;
    f->timeout_ms = c->http.timeout_ms > 0 ? c->http.timeout_ms : 5000;
    f->history = c->history > 0 ? c->history : 1000;
    f->detail = c->detail;
    f->one_job = c->one_job;
    snprintf(f->want_job, sizeof f->want_job, "%s", c->job ? c->job : "");
    char jid[CPW_FLINK_ID_HEX + 1] = "";
    if (c->job && cpw_flink_parse_id(c->job, jid))
        f->want_job[0] = 0; /* an id: watched straight away */
    f->http = cpt_http_new(&c->http, err, errsz);
    f->feed = cpt_flink_feed_new(jid, f->history, f->detail, on_msg, f);
    f->rows = cpt_flink_rows_new();
    if (!f->http || !f->feed || !f->rows) {
        if (f->http)
            snprintf(err, errsz, "out of memory");
        flink_destroy(f);
        return NULL;
    }
    cpt_source *s = cpt_source_new(&flink_ops, f);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    f->s = s;
    return s;
}
