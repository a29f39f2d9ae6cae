/* cpt_rec_session.c — see cpt_rec_session.h. */
#include "cpt_rec_session.h"
#include "cpw_pack.h"
#include "cpw_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Flink body that sets the scene (cpt_rec_session_scene): the newest
 * for its "STATUS PATH". */
#define SCENE_MAX 256
#define SCENE_BYTES (16u << 20)  /* all of them together */
typedef struct scene_body {
    char *where;
    char *body;
    size_t len;
} scene_body;

struct cpt_rec_session {
    cpt_rec_writer *w;
    const cpt_model *follow[CPT_REC_FOLLOW_MAX];
    int n_follow;
    cpw_buf kf;               /* a keyframe being encoded, reused */
    cpw_sub **hidden;         /* detail set aside while encoding one */
    int hidden_cap;
    scene_body scene[SCENE_MAX];
    int n_scene;
    size_t scene_bytes;
    cpw_pack pack;            /* the agent frame being tapped */
    const char *frame;        /* its bytes (the source's, until its end) */
    size_t frame_len;
    int64_t frame_us;
    char err[300];
};

cpt_rec_session *cpt_rec_session_new(const char *path, const cpt_rec_conf *conf, char *err,
                                     size_t errsz)
{
    cpt_rec_session *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->w = cpt_rec_writer_new(path, conf, err, errsz);
    if (!s->w) {
        free(s);
        return NULL;
    }
    cpw_buf_init(&s->kf);
    cpw_pack_init(&s->pack);
    return s;
}

bool cpt_rec_session_follow(cpt_rec_session *s, const cpt_model *m)
{
    for (int i = 0; i < s->n_follow; i++)
        if (s->follow[i] == m)
            return true;
    if (s->n_follow == CPT_REC_FOLLOW_MAX)
        return false;
    s->follow[s->n_follow++] = m;
    return true;
}

void cpt_rec_session_unfollow(cpt_rec_session *s, const cpt_model *m)
{
    for (int i = 0; i < s->n_follow; i++)
        if (s->follow[i] == m) {
            s->follow[i] = s->follow[--s->n_follow];
            return;
        }
}

static void put(cpt_rec_session *s, const cpt_rec_record *r)
{
    if (cpt_rec_write(s->w, r) != CPT_REC_OK)
        snprintf(s->err, sizeof s->err, "%s", cpt_rec_writer_error(s->w));
}

/*
 * Encodes st as a keyframe: the whole history, per-subtask detail only for
 * what is in flight and the newest KEY_DETAIL finished checkpoints. The
 * rest of the detail (a model keeps 50 × every subtask) would make each
 * keyframe megabytes; a replay gets it back for every checkpoint that
 * finishes after the keyframe. The detail of the older entries is hidden
 * for the encoder and put back: the loop that owns the model is the only
 * thread, and it is inside this call.
 */
#define KEY_DETAIL 5
static bool encode_keyframe(cpt_rec_session *s, const cpw_state *st)
{
    int n = st->n_history;
    if (n > s->hidden_cap) {
        cpw_sub **p = realloc(s->hidden, (size_t)n * sizeof *p);
        if (!p)
            return false;
        s->hidden = p;
        s->hidden_cap = n;
    }
    for (int i = KEY_DETAIL; i < n; i++) {
        cpw_cp *cp = (cpw_cp *)cpw_state_history(st, i);
        s->hidden[i] = cp->subs;
        cp->subs = NULL;
    }
    cpw_state_encode(&s->kf, st, -1);
    for (int i = KEY_DETAIL; i < n; i++)
        ((cpw_cp *)cpw_state_history(st, i))->subs = s->hidden[i];
    return !s->kf.failed;
}

void cpt_rec_session_scene(cpt_rec_session *s, const char *where, const void *bytes, size_t len)
{
    int i = 0;
    while (i < s->n_scene && strcmp(s->scene[i].where, where))
        i++;
    size_t old = i < s->n_scene ? s->scene[i].len : 0;
    char *b = NULL, *w = NULL;
    if ((i == s->n_scene && i == SCENE_MAX) || len > SCENE_BYTES ||
        s->scene_bytes - old + len > SCENE_BYTES || !(b = malloc(len ? len : 1)) ||
        (i == s->n_scene && !(w = strdup(where)))) {
        /* a seek then waits for the path's next body, as without the scene;
         * an older body kept in its place would take the translator back */
        free(b);
        if (i < s->n_scene) {
            free(s->scene[i].where);
            free(s->scene[i].body);
            s->scene_bytes -= old;
            s->scene[i] = s->scene[--s->n_scene];
        }
        return;
    }
    memcpy(b, bytes, len);
    if (i == s->n_scene)
        s->scene[s->n_scene++].where = w;
    free(s->scene[i].body);
    s->scene[i].body = b;
    s->scene[i].len = len;
    s->scene_bytes = s->scene_bytes - old + len;
}

/* A new chunk starts: the state of every followed job that has one, then
 * the Flink bodies a translator made at a seek needs to go on from it. */
static void keyframes(cpt_rec_session *s, int64_t ts)
{
    for (int i = 0; i < s->n_follow; i++) {
        const cpt_model *m = s->follow[i];
        const cpw_state *st = m->st;
        /* nothing known yet, or resyncing (the state is behind what came
         * in: the reply that ends the resync is recorded, the keyframe of
         * the next chunk will be right) */
        if ((!st->job[0] && !st->hello.n_ops) || m->want_state || m->state_pending)
            continue;
        cpw_buf_reset(&s->kf);
        if (!encode_keyframe(s, st)) {
            snprintf(s->err, sizeof s->err, "out of memory for a keyframe");
            continue;
        }
        cpt_rec_record r = {.kind = CPT_REC_KEYFRAME, .ts_us = ts, .data = s->kf.data,
                            .len = s->kf.len};
        put(s, &r);
    }
    for (int i = 0; i < s->n_scene; i++) {
        cpt_rec_record r = {.kind = CPT_REC_FLINK, .ts_us = ts, .data = s->scene[i].body,
                            .len = s->scene[i].len, .path = s->scene[i].where,
                            .path_len = strlen(s->scene[i].where)};
        put(s, &r);
    }
}

/* Before a record at ts: the keyframes, when it starts a chunk. */
static void keyframes_if_due(cpt_rec_session *s, int64_t ts)
{
    if (cpt_rec_writer_wants_keyframe(s->w, ts))
        keyframes(s, ts);
}

void cpt_rec_session_input(cpt_rec_session *s, int kind, const char *where, const void *bytes,
                           size_t len, int64_t recv_us)
{
    keyframes_if_due(s, recv_us);
    cpt_rec_record r = {.kind = kind, .ts_us = recv_us, .data = bytes, .len = len};
    if (kind == CPT_REC_FLINK) {
        r.path = where ? where : "";
        r.path_len = strlen(r.path);
    }
    put(s, &r);
}

void cpt_rec_session_frame_begin(cpt_rec_session *s, const void *bytes, size_t len,
                                 int64_t recv_us)
{
    keyframes_if_due(s, recv_us);
    s->frame = bytes;
    s->frame_len = len;
    s->frame_us = recv_us;
    cpw_pack_reset(&s->pack);
}

void cpt_rec_session_frame_msg(cpt_rec_session *s, const cpw_msg *m)
{
    if (s->frame)
        cpw_pack_add(&s->pack, m, s->frame, s->frame_len);
}

void cpt_rec_session_frame_end(cpt_rec_session *s)
{
    if (!s->frame)
        return;
    /* a frame with no event packed (a hello, a bad frame) is kept as it
     * came: packing would only add bytes */
    bool packed = s->pack.events && !s->pack.failed;
    cpt_rec_record r = {.kind = packed ? CPT_REC_EVENTS : CPT_REC_AGENT, .ts_us = s->frame_us,
                        .data = packed ? s->pack.out.data : s->frame,
                        .len = packed ? s->pack.out.len : s->frame_len};
    put(s, &r);
    s->frame = NULL;
}

void cpt_rec_session_marker(cpt_rec_session *s, int64_t now_us, const char *fmt, ...)
{
    char text[CPW_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    keyframes_if_due(s, now_us);
    cpt_rec_record r = {.kind = CPT_REC_MARKER, .ts_us = now_us, .data = text, .len = strlen(text)};
    put(s, &r);
}

void cpt_rec_session_tick(cpt_rec_session *s, int64_t now_us)
{
    if (cpt_rec_writer_tick(s->w, now_us) != CPT_REC_OK)
        snprintf(s->err, sizeof s->err, "%s", cpt_rec_writer_error(s->w));
}

void cpt_rec_session_status(const cpt_rec_session *s, char *out, size_t size, bool *bad)
{
    int64_t bytes;
    cpt_rec_writer_stats(s->w, &bytes, NULL, NULL);
    *bad = s->err[0] != 0;
    if (*bad)
        snprintf(out, size, "REC: %s", s->err);
    else if (bytes < 10 * 1024 * 1024)
        snprintf(out, size, "REC %.1f kB", (double)bytes / 1024);
    else
        snprintf(out, size, "REC %.1f MB", (double)bytes / (1024 * 1024));
}

void cpt_rec_session_stats(const cpt_rec_session *s, uint64_t *records, int64_t *bytes)
{
    cpt_rec_writer_stats(s->w, bytes, records, NULL);
}

int cpt_rec_session_close(cpt_rec_session *s, char *err, size_t errsz)
{
    if (!s)
        return 0;
    cpt_rec_err e = cpt_rec_writer_close(s->w);
    if (e)
        snprintf(err, errsz, "closing the recording: %s", cpt_rec_strerror(e));
    cpw_buf_free(&s->kf);
    cpw_pack_free(&s->pack);
    free(s->hidden);
    for (int i = 0; i < s->n_scene; i++) {
        free(s->scene[i].where);
        free(s->scene[i].body);
    }
    free(s);
    return e ? -1 : 0;
}
