/*
 * cpt_recfix.h — a recording made as cptop makes one, for the replay tests:
 * each frame goes to the recorder (as the source's tap gives it) and is
 * decoded into a "live" model the recorder follows for its keyframes.
 * Events are batched 16 to a frame, as an agent batches them.
 */
#ifndef CPT_RECFIX_H
#define CPT_RECFIX_H

#include "cpt_model.h"
#include "cpt_rec_session.h"
#include "cpw.h"

typedef struct cpt_recfix {
    cpt_rec_session *s;
    cpt_model *live;          /* what a live dashboard folded */
    const char *job;
    uint64_t seq;             /* the last seq sent */
    cpw_buf frame;            /* events not yet delivered */
    int n;                    /* ... how many */
    int64_t frame_ts;
} cpt_recfix;

/* Starts a recording of job at path, in chunks of chunk_us (fails the test
 * when it cannot). cpt_recfix_close ends it and frees r's parts. */
void cpt_recfix_open(cpt_recfix *r, const char *path, int64_t chunk_us, const char *job);
void cpt_recfix_close(cpt_recfix *r);

/* One frame as received at ts: recorded, then folded into r->live. */
void cpt_recfix_deliver(cpt_recfix *r, const char *data, size_t len, int64_t ts);
/* Delivers the events batched so far, 300 µs after the last one. */
void cpt_recfix_flush(cpt_recfix *r);
/* Adds e (stamped e->ts_us, the next seq) to the batch; 16 make a frame. */
void cpt_recfix_event(cpt_recfix *r, const cpw_event *e);
/* The job's hello at t0, then its get_state reply (running, that hello). */
void cpt_recfix_start(cpt_recfix *r, const cpw_hello *h, int64_t t0);

#endif /* CPT_RECFIX_H */
