/* cpt_recfix.c — see cpt_recfix.h. */
#include "cpt_recfix.h"
#include "cpt_test.h"
#include "cpw_state.h"

#include <stdio.h>

void cpt_recfix_open(cpt_recfix *r, const char *path, int64_t chunk_us, const char *job)
{
    char err[300];
    cpt_rec_conf conf = {.chunk_us = chunk_us};
    *r = (cpt_recfix){.s = cpt_rec_session_new(path, &conf, err, sizeof err),
                      .live = cpt_model_new(NULL), .job = job};
    CPT_ASSERTF(r->s, "%s", err);
    cpt_rec_session_follow(r->s, r->live);
    cpw_buf_init(&r->frame);
}

void cpt_recfix_close(cpt_recfix *r)
{
    char err[300];
    CPT_EQ_INT(cpt_rec_session_close(r->s, err, sizeof err), 0);
    cpt_model_free(r->live);
    cpw_buf_free(&r->frame);
}

static int fold(void *ud, cpw_msg *m)
{
    cpt_recfix *r = ud;
    if (m->kind == CPW_K_REPLY) {
        cpt_model_state_sent(r->live);
        cpt_model_on_state(r->live, m->reply->state, r->frame_ts);
        m->reply->state = NULL;
    } else {
        cpt_model_on_msg(r->live, m, r->frame_ts);
    }
    return 0;
}

void cpt_recfix_deliver(cpt_recfix *r, const char *data, size_t len, int64_t ts)
{
    cpt_rec_session_input(r->s, CPT_REC_AGENT, NULL, data, len, ts);
    cpt_rec_session_tick(r->s, ts);
    r->frame_ts = ts;
    cpw_error err;
    size_t count;
    CPT_EQ_INT(cpw_decode_frame(data, len, fold, r, &count, &err), CPW_OK);
}

void cpt_recfix_flush(cpt_recfix *r)
{
    if (r->n)
        cpt_recfix_deliver(r, r->frame.data, r->frame.len, r->frame_ts + 300);
    cpw_buf_reset(&r->frame);
    r->n = 0;
}

void cpt_recfix_event(cpt_recfix *r, const cpw_event *e)
{
    if (r->n && cpw_buf_reserve(&r->frame, 1))
        r->frame.data[r->frame.len++] = '\n';
    cpw_envelope env = {.job = r->job, .seq = ++r->seq, .ts_us = e->ts_us};
    cpw_encode_event(&r->frame, &env, e);
    r->frame_ts = e->ts_us;
    if (++r->n == 16)
        cpt_recfix_flush(r);
}

void cpt_recfix_start(cpt_recfix *r, const cpw_hello *h, int64_t t0)
{
    cpw_envelope env = {.job = r->job, .seq = ++r->seq, .ts_us = t0};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_encode_hello(&b, &env, h);
    cpt_recfix_deliver(r, b.data, b.len, t0);
    cpw_state *st = cpw_state_new(100, 50);
    snprintf(st->job, sizeof st->job, "%s", r->job);
    cpw_state_set_hello(st, h);
    st->seq = r->seq;
    st->status = CPW_JOB_RUNNING;
    cpw_reply rep = {.req = 1, .ok = true};
    cpw_buf_reset(&b);
    cpw_encode_reply(&b, &env, &rep, st, -1);
    cpw_state_free(st);
    cpt_recfix_deliver(r, b.data, b.len, t0 + 1000);
    cpw_buf_free(&b);
}
