/*
 * cpt_replay.c — see cpt_replay.h. Records go into the model the way the
 * live sources put them there: an agent frame through the protocol's
 * decoder into cpt_model_on_msg, a recorded get_state reply (or a keyframe)
 * through cpt_model_on_state, a Flink body through the Flink translator.
 */
#include "cpt_replay.h"
#include "cpt_fmt.h"
#include "cpw_pack.h"
#include "cpw_state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH   200000   /* records played per call at full speed */
#define FIND_WINDOW 10000000 /* µs looked back at a time for the previous checkpoint */

static const int speeds[] = {1, 2, 10, 100, 0};
#define N_SPEEDS ((int)(sizeof speeds / sizeof speeds[0]))

struct cpt_replay {
    cpt_rec_reader *rd;
    char file[256];
    char job[CPW_MAX_JOB_ID];  /* "" until the first job met */
    int64_t first, last, pos;
    cpt_rec_record rec;        /* the next record, read ahead */
    bool have, end;
    cpt_replay_msg_fn obs;
    void *obs_ud;
    cpt_replay_state_fn restart_obs;
    void *restart_ud;
    cpt_replay_flink_fn flink;
    void *flink_ud;
    /* the clock */
    int speed;                 /* index into speeds */
    bool paused;
    int64_t last_mono;
    /* while feeding one record */
    cpt_model *m;
    int64_t ts;
    bool observe;
    int stop;
};

cpt_replay *cpt_replay_open(const char *path, const char *job, cpt_rec_note_fn notes, void *ud,
                            char *err, size_t errsz)
{
    cpt_replay *rp = calloc(1, sizeof *rp);
    if (!rp) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    rp->rd = cpt_rec_reader_open(path, notes, ud, err, errsz);
    if (!rp->rd) {
        free(rp);
        return NULL;
    }
    const char *base = strrchr(path, '/');
    cpw_sanitize(base ? base + 1 : path, rp->file, sizeof rp->file);
    snprintf(rp->job, sizeof rp->job, "%s", job ? job : "");
    cpt_rec_reader_range(rp->rd, &rp->first, &rp->last);
    rp->pos = rp->first;
    return rp;
}

void cpt_replay_free(cpt_replay *rp)
{
    if (!rp)
        return;
    cpt_rec_reader_close(rp->rd);
    free(rp);
}

void cpt_replay_set_restart_observer(cpt_replay *rp, cpt_replay_state_fn fn, void *ud)
{
    rp->restart_obs = fn;
    rp->restart_ud = ud;
}

void cpt_replay_set_observer(cpt_replay *rp, cpt_replay_msg_fn fn, void *ud)
{
    rp->obs = fn;
    rp->obs_ud = ud;
}

const char *cpt_replay_job(const cpt_replay *rp) { return rp->job; }

void cpt_replay_set_job(cpt_replay *rp, const char *job)
{
    snprintf(rp->job, sizeof rp->job, "%s", job);
}

void cpt_replay_set_flink(cpt_replay *rp, cpt_replay_flink_fn fn, void *ud)
{
    rp->flink = fn;
    rp->flink_ud = ud;
}

void cpt_replay_get_info(const cpt_replay *rp, cpt_replay_info *out)
{
    *out = (cpt_replay_info){.first_us = rp->first, .last_us = rp->last, .pos_us = rp->pos,
                             .speed = speeds[rp->speed], .paused = rp->paused,
                             .at_end = rp->end && !rp->have};
    cpt_rec_reader_counts(rp->rd, NULL, &out->skipped);
    snprintf(out->file, sizeof out->file, "%s", rp->file);
}

/* ------------------------------------------------------------ feeding */

/* Whether a message or state of job belongs to the replayed job (the first
 * one met when none was named). */
static bool our_job(cpt_replay *rp, const char *job)
{
    if (!rp->job[0] && job[0])
        snprintf(rp->job, sizeof rp->job, "%s", job);
    return !job[0] || !strcmp(job, rp->job);
}

/* Installs st (taken) as the model's state, as a get_state reply is. */
static void install(cpt_replay *rp, cpw_state *st)
{
    if (!our_job(rp, st->job)) {
        cpw_state_free(st);
        return;
    }
    cpt_model_state_sent(rp->m);
    cpt_model_on_state(rp->m, st, rp->ts);
}

/* A message for the model, the observer seeing it first when it is played
 * (not replayed silently towards a seek target). */
static void play_msg(cpt_replay *rp, const cpw_msg *msg)
{
    if (rp->observe && rp->obs && rp->obs(rp->obs_ud, msg, rp->ts))
        rp->stop = 1;
    cpt_model_on_msg(rp->m, msg, rp->ts);
}

static int on_msg(void *opaque, cpw_msg *msg)
{
    cpt_replay *rp = opaque;
    if (!our_job(rp, msg->job))
        return 0;
    if (msg->kind == CPW_K_REPLY) {
        /* A get_state reply the live model asked for: this one asks too,
         * unless what made the live one ask left no trace (a request that
         * timed out against a process that had died). A reply from another
         * process is the state of the new one: what the model counted of
         * the old one's seqs does not apply to it. */
        cpt_model *m = rp->m;
        cpw_state *st = msg->reply->state;
        if (!st)
            return 0;
        bool other = st->hello.instance[0] && strcmp(st->hello.instance, m->instance);
        if (m->want_state || m->state_pending || other) {
            if (other && !m->want_state && !m->state_pending) {
                m->last_seq = 0;
                m->pend_n = 0;
            }
            bool had = m->instance[0];
            msg->reply->state = NULL;
            install(rp, st);
            if (other && rp->observe && rp->restart_obs && rp->m->st)
                rp->restart_obs(rp->restart_ud, rp->m->st, had, rp->ts);
        }
        return 0;
    }
    play_msg(rp, msg);
    return 0;
}

int cpt_replay_derived(cpt_replay *rp, const cpw_msg *msg)
{
    if (!rp->m)
        return 1; /* not within a Flink callback: nowhere to fold it */
    play_msg(rp, msg);
    return rp->stop;
}

static void keyframe(cpt_replay *rp, const cpt_rec_record *r, bool force)
{
    if (!force && !rp->m->want_state)
        return; /* in step with the stream: nothing to learn */
    json_error_t je;
    json_t *j = json_loadb(r->data, r->len, JSON_REJECT_DUPLICATES, &je);
    cpw_error err = {0};
    cpw_state *st = j ? cpw_state_decode_json(j, &err) : NULL;
    json_decref(j);
    if (!st) {
        cpt_model_note(rp->m, r->ts_us, true, "replay: a keyframe that does not decode (%s)",
                       j ? err.text : je.text);
        return;
    }
    install(rp, st);
}

static void feed(cpt_replay *rp, cpt_model *m, const cpt_rec_record *r, bool observe, bool first)
{
    rp->m = m;
    rp->ts = r->ts_us;
    rp->observe = observe;
    switch (r->kind) {
    case CPT_REC_AGENT:
    case CPT_REC_EVENTS: { /* a frame as it came, or packed: the same messages */
        cpw_error err;
        size_t count;
        cpw_err e = r->kind == CPT_REC_AGENT
                        ? cpw_decode_frame(r->data, r->len, on_msg, rp, &count, &err)
                        : cpw_unpack(r->data, r->len, on_msg, rp, &count, &err);
        if (e != CPW_OK)
            cpt_model_on_bad_frame(m, err.text, r->ts_us);
        break;
    }
    case CPT_REC_FLINK:
        if (rp->flink)
            rp->flink(rp->flink_ud, m, r->path, r->path_len, r->data, r->len, r->ts_us);
        break;
    case CPT_REC_KEYFRAME:
        keyframe(rp, r, first);
        break;
    case CPT_REC_MARKER: {
        char text[CPW_TEXT_MAX];
        snprintf(text, sizeof text, "%.*s", (int)(r->len < sizeof text ? r->len : sizeof text - 1),
                 r->data);
        cpt_model_note(m, r->ts_us, false, "recorded: %s", text); /* sanitised when shown */
        break;
    }
    default:
        break;
    }
}

/* The next record, read ahead; false at the end. */
static bool peek(cpt_replay *rp)
{
    if (!rp->have && !rp->end) {
        if (cpt_rec_reader_next(rp->rd, &rp->rec) == 1)
            rp->have = true;
        else
            rp->end = true;
    }
    return rp->have;
}

/* ------------------------------------------------------------ moving */

/* A fresh model in m's place (same conf): a seek may go backwards. The
 * struct is swapped, its owned buffers travel with it. */
static void reset_model(cpt_replay *rp, cpt_model *m, int64_t ts)
{
    cpt_model *fresh = cpt_model_new(&m->conf);
    if (!fresh)
        return; /* out of memory: replay on top of what is there */
    cpt_model tmp = *m;
    *m = *fresh;
    *fresh = tmp;
    cpt_model_free(fresh);
    char ep[300];
    snprintf(ep, sizeof ep, "replay of %s", rp->file);
    cpt_model_connecting(m, ep, ts);
    if (rp->flink)
        rp->flink(rp->flink_ud, m, NULL, 0, NULL, 0, ts);
}

int cpt_replay_seek(cpt_replay *rp, cpt_model *m, int64_t ts_us)
{
    if (ts_us < rp->first)
        ts_us = rp->first;
    if (ts_us > rp->last)
        ts_us = rp->last;
    int64_t at = cpt_rec_reader_seek(rp->rd, ts_us);
    rp->have = rp->end = false;
    reset_model(rp, m, at);
    int n = 0;
    while (peek(rp) && rp->rec.ts_us <= ts_us) {
        feed(rp, m, &rp->rec, false, n == 0);
        rp->have = false;
        n++;
    }
    rp->pos = ts_us;
    cpt_model_tick(m, ts_us);
    return n;
}

int cpt_replay_run(cpt_replay *rp, cpt_model *m, int64_t until_us, int max)
{
    int n = 0;
    rp->stop = 0;
    while (!rp->stop && (!max || n < max) && peek(rp) && rp->rec.ts_us <= until_us) {
        feed(rp, m, &rp->rec, true, false);
        rp->pos = rp->rec.ts_us;
        rp->have = false;
        n++;
    }
    if (!rp->stop && (!max || n < max))
        rp->pos = until_us > rp->last ? rp->last : until_us;
    if (rp->pos < rp->first)
        rp->pos = rp->first;
    cpt_model_tick(m, rp->pos);
    return n;
}

/* What tells checkpoints apart: a new one started or one ended. */
static int64_t cp_sig(const cpt_model *m)
{
    const cpw_counts *c = &m->st->counts;
    return c->total * 1000003 + (c->completed + c->failed) * 7919 + m->st->n_inflight;
}

/* Plays one record at a time until the checkpoints change. */
static bool find_next(cpt_replay *rp, cpt_model *m)
{
    int64_t sig = cp_sig(m);
    while (peek(rp)) {
        feed(rp, m, &rp->rec, false, false);
        rp->pos = rp->rec.ts_us;
        rp->have = false;
        if (cp_sig(m) != sig) {
            cpt_model_tick(m, rp->pos);
            return true;
        }
    }
    return false;
}

/* The last time before `before` at which the checkpoints changed, looking
 * back a window at a time; 0 when there is none. */
static int64_t find_prev(cpt_replay *rp, cpt_model *m, int64_t before)
{
    for (int64_t win = FIND_WINDOW; before - win / 2 > rp->first - win; win *= 4) {
        int64_t lo = before - win, found = 0;
        cpt_replay_seek(rp, m, lo);
        int64_t sig = cp_sig(m);
        while (peek(rp) && rp->rec.ts_us < before) {
            feed(rp, m, &rp->rec, false, false);
            rp->have = false;
            if (cp_sig(m) != sig) {
                sig = cp_sig(m);
                found = rp->rec.ts_us;
            }
        }
        if (found)
            return found;
        if (lo <= rp->first)
            break;
    }
    return 0;
}

bool cpt_replay_find_cp(cpt_replay *rp, cpt_model *m, int dir)
{
    int64_t from = rp->pos;
    if (dir > 0) {
        if (find_next(rp, m))
            return true;
        cpt_replay_seek(rp, m, from);
        return false;
    }
    int64_t t = find_prev(rp, m, from);
    cpt_replay_seek(rp, m, t ? t : from);
    return t != 0;
}

/* ------------------------------------------------------------ the clock */

int cpt_replay_play(cpt_replay *rp, cpt_model *m, int64_t mono_us)
{
    int64_t dt = rp->last_mono ? mono_us - rp->last_mono : 0;
    rp->last_mono = mono_us;
    if (rp->paused || dt < 0)
        return 0;
    int sp = speeds[rp->speed];
    if (sp == 0)
        return cpt_replay_run(rp, m, INT64_MAX, MAX_BATCH);
    int64_t until = rp->pos + dt * sp;
    return cpt_replay_run(rp, m, until, 0);
}

void cpt_replay_pause(cpt_replay *rp, bool paused)
{
    rp->paused = paused;
    rp->last_mono = 0; /* the time paused is not played */
}

void cpt_replay_speed(cpt_replay *rp, int step)
{
    int s = rp->speed + (step > 0 ? 1 : -1);
    rp->speed = s < 0 ? 0 : s >= N_SPEEDS ? N_SPEEDS - 1 : s;
}

/* ------------------------------------------------------------ the keys */

#define EDGE_SLACK 60000000 /* µs: HH:MM names the start's minute, not its second */

static void landed(const cpt_replay *rp, const char *what, char *msg, size_t size)
{
    char at[32];
    cpt_fmt_clock(at, sizeof at, rp->pos, false);
    snprintf(msg, size, "%s: at %s", what, at);
}

/* A typed time: within the recording (a minute's slack at its edges), or
 * refused with what was typed and the range. */
static bool jump(cpt_replay *rp, cpt_model *m, const char *typed, char *msg, size_t size)
{
    char text[sizeof ((cpt_replay_req *)0)->text], a[32], b[32];
    int64_t t;
    cpw_sanitize(typed, text, sizeof text);
    cpt_fmt_clock(a, sizeof a, rp->first, false);
    cpt_fmt_clock(b, sizeof b, rp->last, false);
    if (!text[0]) {
        snprintf(msg, size, "no time typed: the replay stays where it was");
        return false;
    }
    if (!cpt_rec_parse_time(text, rp->first, text[0] == '+' ? rp->first : rp->last, &t)) {
        snprintf(msg, size, "'%s' is not a time (HH:MM[:SS], -5m before the end, +30s after "
                 "the start, @EPOCH)", text);
        return false;
    }
    if (t < rp->first - EDGE_SLACK || t > rp->last + EDGE_SLACK) {
        snprintf(msg, size, "'%s' is outside the recording (%s to %s)", text, a, b);
        return false;
    }
    cpt_replay_seek(rp, m, t);
    char what[96];
    snprintf(what, sizeof what, "jumped to '%s'", text);
    landed(rp, what, msg, size);
    return true;
}

static bool step(cpt_replay *rp, cpt_model *m, int64_t d, char *msg, size_t size)
{
    char what[64];
    if (d > 0)
        cpt_replay_run(rp, m, rp->pos + d, 0); /* forward: played on, no keyframe needed */
    else
        cpt_replay_seek(rp, m, rp->pos + d);
    snprintf(what, sizeof what, "%lld s %s", (long long)((d < 0 ? -d : d) / 1000000),
             d < 0 ? "back" : "forward");
    landed(rp, what, msg, size);
    return true;
}

static bool find(cpt_replay *rp, cpt_model *m, int dir, char *msg, size_t size)
{
    char at[32];
    if (cpt_replay_find_cp(rp, m, dir)) {
        landed(rp, dir > 0 ? "next checkpoint event" : "previous checkpoint event", msg, size);
        return true;
    }
    cpt_fmt_clock(at, sizeof at, rp->pos, false);
    snprintf(msg, size, "no checkpoint event %s %s", dir > 0 ? "after" : "before", at);
    return false;
}

static void said_speed(const cpt_replay *rp, char *msg, size_t size)
{
    int sp = speeds[rp->speed];
    if (sp)
        snprintf(msg, size, "speed %dx%s", sp, rp->paused ? " (paused)" : "");
    else
        snprintf(msg, size, "speed: as fast as possible%s", rp->paused ? " (paused)" : "");
}

bool cpt_replay_do(cpt_replay *rp, cpt_model *m, const cpt_replay_req *req, char *msg,
                   size_t size)
{
    switch (req->op) {
    case CPT_RP_PAUSE:
        cpt_replay_pause(rp, !rp->paused);
        landed(rp, rp->paused ? "paused" : "playing", msg, size);
        return true;
    case CPT_RP_NEXT_CP:
        return find(rp, m, 1, msg, size);
    case CPT_RP_PREV_CP:
        return find(rp, m, -1, msg, size);
    case CPT_RP_STEP:
        return step(rp, m, req->step_us, msg, size);
    case CPT_RP_JUMP:
        return jump(rp, m, req->text, msg, size);
    case CPT_RP_START:
        cpt_replay_seek(rp, m, rp->first);
        landed(rp, "rewound to the start", msg, size);
        return true;
    case CPT_RP_END:
        cpt_replay_seek(rp, m, rp->last);
        landed(rp, "the end of the recording", msg, size);
        return true;
    case CPT_RP_FASTER:
    case CPT_RP_SLOWER:
        cpt_replay_speed(rp, req->op == CPT_RP_FASTER ? 1 : -1);
        said_speed(rp, msg, size);
        return true;
    default:
        snprintf(msg, size, "not a replay request");
        return false;
    }
}
