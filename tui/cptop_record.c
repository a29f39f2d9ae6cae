/*
 * cptop_record.c — `cptop --record FILE [--record-max SIZE]`: what the
 * sources receive, through their tap, into a recording (cpt_rec_session);
 * with the dashboard, or `--headless` (no terminal: a service that records
 * every job it finds in the runtime directory, or the one --job names, or
 * the Flink cluster --flink names, until SIGTERM).
 *
 * One recording per process (a static session: the dashboard and the
 * headless loop are the only users, on the one thread).
 *
 * Headless on a Flink cluster without --job: the first source lists the
 * cluster (and watches the job it picks); every other running job gets a
 * source of its own that leaves the listing to the first (one_job), so the
 * recording holds each job's checkpoints and the cluster's job list once.
 */
#include "cptop.h"
#include "cpt_flink_feed.h"
#include "cpt_rec_session.h"
#include "cpt_source.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADLESS_JOBS 64

static cpt_rec_session *rec;

/* "512M", "2G", "100k", bytes: the --record-max value, or -1. */
static int64_t parse_size(const char *s)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    static const struct { const char *suffix; int64_t mul; } units[] = {
        {"", 1}, {"k", 1024}, {"K", 1024}, {"M", 1 << 20}, {"G", 1 << 30},
        {"kB", 1024}, {"MB", 1 << 20}, {"GB", 1 << 30},
    };
    if (end == s || n <= 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].suffix) && n < INT64_MAX / units[i].mul)
            return n * units[i].mul;
    return -1;
}

int cptop_record_open(const cptop_opts *o)
{
    if (!o->record)
        return 0;
    cpt_rec_conf conf = {0};
    if (o->record_max && ((conf.max_bytes = parse_size(o->record_max)) < CPT_REC_MIN_MAX)) {
        char m[200];
        snprintf(m, sizeof m, "--record-max '%s': a size of at least 1M (512M, 2G, …)",
                 o->record_max);
        cptop_complain(m);
        return 2;
    }
    char err[600];
    if (!(rec = cpt_rec_session_new(o->record, &conf, err, sizeof err))) {
        cptop_complain(err);
        return 1;
    }
    cpt_rec_session_marker(rec, cpw_now_us(), "recording started by cptop pid %d", (int)getpid());
    return 0;
}

/* A good answer a Flink translator made at a seek needs (the cluster's
 * version, the job's vertices and settings, what its checkpoints are). */
static bool sets_scene(const char *where)
{
    static const cpt_ff_kind kinds[] = {CPT_FF_CONFIG, CPT_FF_JOB, CPT_FF_CP_CONFIG, CPT_FF_STATS};
    char jid[CPW_FLINK_ID_HEX + 1];
    int64_t id;
    if (strncmp(where, "200 ", 4))
        return false;
    cpt_ff_kind k = cpt_flink_feed_route(where + 4, jid, &id, NULL);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (k == kinds[i])
            return true;
    return false;
}

static void tap(void *ud, cpt_tap_kind kind, const char *where, const void *bytes, size_t len,
                int64_t recv_us)
{
    (void)ud;
    char w[CPT_REC_MAX_PATH];
    switch (kind) {
    case CPT_TAP_AGENT_FRAME:
        cpt_rec_session_frame_begin(rec, bytes, len, recv_us);
        break;
    case CPT_TAP_AGENT_MSG:
        cpt_rec_session_frame_msg(rec, bytes);
        break;
    case CPT_TAP_AGENT_END:
        cpt_rec_session_frame_end(rec);
        break;
    case CPT_TAP_AGENT_REPLY:
        cpt_rec_session_input(rec, CPT_REC_AGENT, NULL, bytes, len, recv_us);
        break;
    case CPT_TAP_HTTP_BODY:
        cpt_rec_session_input(rec, CPT_REC_FLINK, where, bytes, len, recv_us);
        if (sets_scene(where))
            cpt_rec_session_scene(rec, where, bytes, len);
        break;
    case CPT_TAP_HTTP_ERROR: /* status 0: no response, the body says why */
        snprintf(w, sizeof w, "0 %s", where);
        cpt_rec_session_input(rec, CPT_REC_FLINK, w, bytes, len, recv_us);
        break;
    }
}

void cptop_record_attach(cpt_source *src, const cpt_model *m)
{
    if (!rec || !src)
        return;
    cpt_source_set_tap(src, tap, NULL);
    cpt_rec_session_follow(rec, m);
}

void cptop_record_detach(const cpt_model *m)
{
    if (rec)
        cpt_rec_session_unfollow(rec, m);
}

void cptop_record_tick(int64_t now_us)
{
    if (rec)
        cpt_rec_session_tick(rec, now_us);
}

int cptop_record_close(void)
{
    char err[400];
    int rc = cpt_rec_session_close(rec, err, sizeof err);
    rec = NULL;
    if (rc)
        cptop_complain(err);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------------ headless */

typedef struct watched {
    cpt_target t;
    cpt_model *m;
    cpt_source *src;
} watched;

typedef struct headless {
    const cptop_opts *o;
    watched w[HEADLESS_JOBS];
    int n;
} headless;

/* Starts (or restarts) w's source; a Flink job of a cluster followed
 * whole when w->t.job names it (not the first, listing, source). */
static bool start(headless *h, watched *w, int64_t now)
{
    char err[400];
    /* The old source is not destroyed: nng 1.5's close of a SUB socket can
     * wait forever (see cptop_dash.c); it is left to the process's exit,
     * silent (no tap), at most a few per job over a service's life. */
    if (w->src)
        cpt_source_set_tap(w->src, NULL, NULL);
    w->src = h->o->flink ? NULL : cpt_src_agent_new(&w->t, h->o->timeout_ms, err, sizeof err);
    if (h->o->flink) {
        cpt_src_flink_conf c = cptop_flink_conf(h->o);
        if (w->t.job[0]) {
            c.job = w->t.job;
            c.one_job = true;
        }
        w->src = cpt_src_flink_new(&c, err, sizeof err);
    }
    if (w->src)
        cptop_record_attach(w->src, w->m);
    if (!w->src || cpt_source_start(w->src, w->m, now, err, sizeof err)) {
        cptop_complain(err);
        cpt_source_destroy(w->src);
        w->src = NULL;
        return false;
    }
    cpt_rec_session_marker(rec, now, "watching %s%s%s", h->o->flink ? h->o->flink : w->t.job,
                           h->o->flink && w->t.job[0] ? " job " : "",
                           h->o->flink ? w->t.job : "");
    return true;
}

/* Every 5 s (the cluster's list is that fresh): each running job of the
 * cluster that no source follows yet gets one. */
static void follow_cluster(headless *h, int64_t now)
{
    static cpt_job_row rows[CPT_JOBS_MAX];
    int n = cpt_source_jobs(h->w[0].src, rows, CPT_JOBS_MAX);
    for (int i = 0; i < n && i < CPT_JOBS_MAX && h->n < HEADLESS_JOBS; i++) {
        const cpt_job_row *r = &rows[i];
        bool known = r->watched || r->end_us > 0; /* the lister's own, or over */
        for (int k = 1; k < h->n && !known; k++)
            known = !strcmp(h->w[k].t.job, r->id);
        if (known)
            continue;
        cpt_model_conf mc = {.history_cap = h->o->history, .detail_cap = h->o->detail,
                             .log_cap = 100};
        watched *w = &h->w[h->n];
        *w = (watched){.m = cpt_model_new(&mc)};
        if (!w->m)
            return;
        snprintf(w->t.job, sizeof w->t.job, "%s", r->id);
        h->n++;
        start(h, w, now);
    }
}

/* Once a second: a job not followed yet gets a model and a source; one
 * that moved gets a new source (its model keeps its history). */
static void discover(headless *h, int64_t now)
{
    cpt_target c[HEADLESS_JOBS];
    char dir[CPW_PATH_MAX], msg[600];
    cpt_where wh = cptop_where(h->o);
    int n = cpt_target_candidates(&wh, c, HEADLESS_JOBS, dir, sizeof dir, msg, sizeof msg);
    for (int i = 0; i < n; i++) {
        watched *w = NULL;
        for (int k = 0; k < h->n && !w; k++)
            if (!strcmp(h->w[k].t.job, c[i].job))
                w = &h->w[k];
        if (!w && h->n < HEADLESS_JOBS) {
            cpt_model_conf mc = {.history_cap = h->o->history, .detail_cap = h->o->detail,
                                 .log_cap = 100};
            w = &h->w[h->n];
            *w = (watched){.t = c[i], .m = cpt_model_new(&mc)};
            if (!w->m)
                return;
            h->n++;
            start(h, w, now);
        } else if (w && strcmp(c[i].events, w->t.events) && w->m->link != CPT_LINK_UP) {
            /* moved: a new process listening elsewhere (at the same address
             * the subscription redials by itself) */
            w->t = c[i];
            start(h, w, now);
        }
    }
}

static void turn(headless *h, int64_t now)
{
    struct pollfd pfd[HEADLESS_JOBS * 4];
    int n = 0;
    int64_t next = now + 1000000;
    for (int i = 0; i < h->n; i++)
        if (h->w[i].src)
            n += cpt_source_pollfds(h->w[i].src, pfd + n, HEADLESS_JOBS * 4 - n, &next);
    int64_t wait = next > now ? next - now : 0;
    poll(pfd, (nfds_t)n, (int)(wait / 1000) + 1);
    now = cpw_now_us();
    for (int i = 0; i < h->n; i++) {
        watched *w = &h->w[i];
        if (!w->src)
            continue;
        cpt_source_on_ready(w->src, w->m, now);
        cpt_source_tick(w->src, w->m, now);
        cpt_model_tick(w->m, now);
    }
    cptop_record_tick(now);
}

int cptop_record_headless(const cptop_opts *o)
{
    static headless h; /* static: sources are left to the exit, as the dashboard's */
    h = (headless){.o = o};
    if (!o->record) {
        cptop_complain("--headless records: it needs --record FILE");
        return 2;
    }
    int rc = cptop_record_open(o);
    if (rc)
        return rc;
    int64_t last_look = 0;
    if (o->flink || o->connect) {
        cpt_model_conf mc = {.history_cap = o->history, .detail_cap = o->detail, .log_cap = 100};
        h.w[0].m = cpt_model_new(&mc);
        if (!h.w[0].m || (o->connect && !o->flink && cptop_find(o, &h.w[0].t)) ||
            !start(&h, &h.w[0], cpw_now_us())) {
            cptop_record_close();
            return 1;
        }
        h.n = 1;
    }
    while (!cptop_quit) {
        int64_t now = cpw_now_us();
        if (!o->flink && !o->connect && now - last_look >= 1000000) {
            discover(&h, now);
            last_look = now;
        }
        if (o->flink && !o->job && h.w[0].src && now - last_look >= 5000000) {
            follow_cluster(&h, now);
            last_look = now;
        }
        turn(&h, now);
    }
    for (int i = 0; i < h.n; i++)
        cptop_record_detach(h.w[i].m);
    return cptop_record_close();
}
