/*
 * cpt_src_replay.c — a recording as a dashboard source (see cpt_source.h):
 * the player (cpt_replay.c) feeds the model at the replay clock, recorded
 * Flink REST bodies go through the Flink source's translator as they did
 * live, and the source can do nothing to a job (every capability refused,
 * with a sentence that says why). No descriptors: a tick plays what is due.
 */
#include "cpt_source.h"
#include "cpt_flink_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAY_TICK_US 50000 /* how often a playing replay wants time (at up to 100x) */

typedef struct replay_src {
    cpt_replay *rp;
    cpt_source *s;            /* back: the observer goes through it */
    char job[CPW_MAX_JOB_ID]; /* for the Flink translator ("": the first met) */
    int history, detail;
    /* the Flink translator, made at the first recorded body */
    cpt_flink_feed *feed;
} replay_src;

static const char *const replay_cannot[] = {
    "a replay shows a recording: it cannot trigger a checkpoint",
    "a replay shows a recording: it cannot abort a checkpoint",
    "a replay shows a recording: it cannot inject failures",
    "a replay shows a recording: it cannot change settings",
    "a replay plays recorded input back at its own clock",
    "a replay shows a recording: it cannot trigger a checkpoint",
    "a replay shows the one job it recorded",
    "a replay shows a recording: it cannot take a savepoint",
    NULL, /* cpt_source_cannot reads up to here */
};

static void replay_destroy(void *impl)
{
    replay_src *r = impl;
    if (!r)
        return;
    cpt_replay_free(r->rp);
    cpt_flink_feed_destroy(r->feed);
    free(r);
}

static void replay_describe(const void *impl, char *out, size_t size)
{
    const replay_src *r = impl;
    cpt_replay_info in;
    cpt_replay_get_info(r->rp, &in);
    snprintf(out, size, "replay of %s", in.file); /* sanitised by the player */
}

static unsigned replay_caps(const void *impl, const cpt_model *m)
{
    (void)impl, (void)m;
    return 0;
}

static int replay_start(cpt_source *s, cpt_model *m, int64_t now_us, char *err, size_t errsz)
{
    (void)now_us, (void)err, (void)errsz;
    replay_src *r = cpt_source_impl(s);
    cpt_replay_info in;
    cpt_replay_get_info(r->rp, &in);
    if (m)
        cpt_replay_seek(r->rp, m, in.first_us);
    return 0;
}

/* No descriptors; while playing, time every PLAY_TICK_US (at once at
 * full speed). */
static int replay_pollfds(const void *impl, struct pollfd *pfd, int max, int64_t *next_us)
{
    (void)pfd, (void)max;
    const replay_src *r = impl;
    cpt_replay_info in;
    cpt_replay_get_info(r->rp, &in);
    if (next_us && !in.paused && !in.at_end) {
        int64_t due = cpw_now_us() + (in.speed ? PLAY_TICK_US : 0);
        if (due < *next_us)
            *next_us = due;
    }
    return 0;
}

static void replay_tick(cpt_source *s, cpt_model *m, int64_t now_us)
{
    (void)now_us; /* the player runs on the monotonic clock */
    replay_src *r = cpt_source_impl(s);
    if (m)
        cpt_replay_play(r->rp, m, cpw_mono_us());
}

static int64_t replay_clock(const void *impl, int64_t now_us)
{
    (void)now_us;
    const replay_src *r = impl;
    cpt_replay_info in;
    cpt_replay_get_info(r->rp, &in);
    return in.pos_us;
}

static const cpt_source_ops replay_ops = {
    .kind = "replay",
    .destroy = replay_destroy,
    .describe = replay_describe,
    .caps = replay_caps,
    .cannot = replay_cannot,
    .start = replay_start,
    .pollfds = replay_pollfds,
    .tick = replay_tick,
    .clock = replay_clock,
};

/* ------------------------------------------------------------ Flink */

/* Through the player, as an agent frame's messages go: its observer (the
 * source's, --json's printer, --advise's log) sees them when played. */
static int ff_emit(void *ud, const cpw_msg *msg)
{
    replay_src *r = ud;
    return cpt_replay_derived(r->rp, msg);
}

/* The id of the job named name in a recorded /jobs/overview body; false
 * when the body is no such list or names no such job. */
static bool named_in(const char *where, size_t where_len, const char *body, size_t len,
                     const char *name, char *jid)
{
    char w[CPT_REC_MAX_PATH + 1], id[CPW_FLINK_ID_HEX + 1];
    int64_t cp;
    snprintf(w, sizeof w, "%.*s", (int)where_len, where);
    const char *path = w[0] == '/' ? w : strchr(w, ' ');
    if (!path || (w[0] != '/' && atoi(w) != 200) ||
        cpt_flink_feed_route(path + (path != w), id, &cp, NULL) != CPT_FF_OVERVIEW)
        return false;
    cpw_flink_jobs j;
    cpw_error e;
    bool found = false;
    if (cpw_flink_read_jobs(body, len, &j, &e) != CPW_OK)
        return false;
    for (int i = 0; i < j.n && !found; i++)
        if ((found = !strcmp(j.jobs[i].name, name)))
            snprintf(jid, CPW_FLINK_ID_HEX + 1, "%s", j.jobs[i].jid);
    cpw_flink_jobs_clear(&j);
    return found;
}

/* --job NAME of a Flink recording (a cluster's jobs, each under its id):
 * the id, from the first recorded job list that names it, so that the
 * player's keyframes and the translator's bodies are that job's from the
 * start. Stops at an agent record (an agent recording names jobs by id)
 * and after a bounded number of records. Blocking (file I/O). */
static void resolve_name(const char *path, char *job, size_t size)
{
    char err[300], jid[CPW_FLINK_ID_HEX + 1];
    if (!job[0] || cpw_flink_parse_id(job, NULL))
        return;
    cpt_rec_reader *rd = cpt_rec_reader_open(path, NULL, NULL, err, sizeof err);
    cpt_rec_record r;
    for (int n = 0; rd && n < 200000 && cpt_rec_reader_next(rd, &r) == 1; n++) {
        if (r.kind == CPT_REC_AGENT || r.kind == CPT_REC_EVENTS)
            break;
        if (r.kind == CPT_REC_FLINK &&
            named_in(r.path, r.path_len, r.data, r.len, job, jid)) {
            snprintf(job, size, "%s", jid);
            break;
        }
    }
    cpt_rec_reader_close(rd);
}

/* A recorded body through the translator, as the Flink source fed it; the
 * model gets the translator's state when it asks (as from the source).
 * where NULL: a seek reset the model, the translator starts over. */
static void flink_body(void *ud, cpt_model *m, const char *where, size_t where_len,
                       const char *body, size_t len, int64_t recv_us)
{
    replay_src *r = ud;
    if (!where) {
        cpt_flink_feed_destroy(r->feed);
        r->feed = NULL;
        return;
    }
    char w[CPT_REC_MAX_PATH + 1], err[300];
    snprintf(w, sizeof w, "%.*s", (int)where_len, where);
    /* "STATUS PATH" as the source saw it; a bare PATH (an imported
     * HistoryServer archive) was a 200 */
    char *path = w[0] == '/' ? w : strchr(w, ' ');
    int status = w[0] == '/' ? 200 : atoi(w);
    if (!path)
        return;
    path += path != w;
    /* one job for the player's keyframes and the translator's bodies: the
     * player's when it met one first */
    if (!r->job[0])
        snprintf(r->job, sizeof r->job, "%s", cpt_replay_job(r->rp));
    if (!r->feed) {
        if (!(r->feed = cpt_flink_feed_new(r->job, r->history, r->detail, ff_emit, r)))
            return;
        /* after a seek the model holds a keyframe: number on from it */
        cpt_flink_feed_continue(r->feed, m->st->seq);
        cpt_flink_feed_replaying(r->feed);
    }
    cpt_flink_feed_body(r->feed, path, status, body, len, recv_us, err, sizeof err);
    if (!r->job[0] && cpt_flink_feed_jid(r->feed)[0]) {
        snprintf(r->job, sizeof r->job, "%s", cpt_flink_feed_jid(r->feed));
        cpt_replay_set_job(r->rp, r->job);
    }
    if (m->want_state && !m->state_pending) {
        cpw_state *st = cpt_flink_feed_copy(r->feed, -1);
        if (st) {
            cpt_model_state_sent(m);
            cpt_model_on_state(m, st, recv_us);
        }
    }
}

/* Agent messages played (not those replayed silently to reach a seek
 * target) go to the source's observer; the player folds them itself. */
static int observe(void *ud, const cpw_msg *msg, int64_t recv_us)
{
    replay_src *r = ud;
    return cpt_source_emit(r->s, NULL, msg, recv_us);
}

cpt_source *cpt_src_replay_new(const cpt_src_replay_conf *c, char *err, size_t errsz)
{
    replay_src *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    snprintf(r->job, sizeof r->job, "%s", c->job ? c->job : "");
    resolve_name(c->path, r->job, sizeof r->job);
    r->rp = cpt_replay_open(c->path, r->job, c->notes, c->notes_ud, err, errsz);
    if (!r->rp) {
        free(r);
        return NULL;
    }
    r->history = c->history;
    r->detail = c->detail;
    cpt_source *s = cpt_source_new(&replay_ops, r);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    r->s = s;
    cpt_replay_set_flink(r->rp, flink_body, r);
    cpt_replay_set_observer(r->rp, observe, r);
    return s;
}

cpt_replay *cpt_src_replay_player(cpt_source *s)
{
    if (!s || strcmp(cpt_source_kind(s), "replay"))
        return NULL;
    replay_src *r = cpt_source_impl(s);
    return r->rp;
}
