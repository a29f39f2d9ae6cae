/* cpt_flink_feed_int.h — internal to the Flink feed (cpt_flink_feed*.c):
 * its state and the readers of each response kind. */
#ifndef CPT_FLINK_FEED_INT_H
#define CPT_FLINK_FEED_INT_H

#include "cpt_flink_feed.h"
#include "cpw_json.h"

/* Kinds below this one have one body each (skipped when unchanged). */
#define CPT_FF__SKIPPABLE CPT_FF_DETAILS

/* What the last details said of one checkpoint in flight, per operator. */
typedef struct cpt_ff_track {
    int64_t id;
    bool seen;                       /* details arrived at least once */
    int32_t hist_acked;              /* num_acknowledged_subtasks in /checkpoints */
    int32_t acked[CPW_MAX_OPERATORS];/* num_acknowledged_subtasks per vertex (details) */
    /* what was known when details / a vertex's subtasks last answered: an
     * answer staler than that count (Flink's cache) is not asked again
     * until the count rises */
    int32_t det_at, sub_at[CPW_MAX_OPERATORS];
} cpt_ff_track;

/* Checkpoints held back at once: a checkpoint Flink shows finished while
 * acks are missing here keeps its end until its vertices' subtasks
 * answered, so its acks carry Flink's figures and precede the end (the
 * fold drops acks after it). One in flight here may be held; of those
 * first seen finished only the newest CPT_FF_HOLD_NEW of a body: a backlog
 * after a disconnect costs no more requests. */
#define CPT_FF_HOLDS 4
#define CPT_FF_HOLD_NEW 2
#define CPT_FF_HOLD_US 2000000      /* a hold not answered by then ends anyway */

typedef struct cpt_ff_hold {
    int64_t id;                      /* 0: free */
    int64_t since_us;
    uint64_t done;                   /* vertices answered (bit per op) */
    bool ready;                      /* may end: waits only on older holds */
    bool completed;                  /* else failed */
    int64_t ack_ms, e2e_ms, size, cpsize;    /* cp_completed's figures */
    int64_t fail_us;                 /* cp_failed's */
    cpw_failure_reason reason;
    char message[CPW_TEXT_MAX];
} cpt_ff_hold;

/* The finished checkpoint whose detail the user asked for. */
typedef enum cpt_ff_pick_state {
    CPT_FF_PICK_NONE = 0, CPT_FF_PICK_ASKING, CPT_FF_PICK_FILLED, CPT_FF_PICK_GONE,
    CPT_FF_PICK_FAILED,
} cpt_ff_pick_state;

/* Finished checkpoints remembered with acks placed without figures. */
#define CPT_FF_BLIND 64

struct cpt_flink_feed {
    char jid[CPW_FLINK_ID_HEX + 1];
    cpt_ff_emit_fn emit;
    void *ud;
    uint64_t seq;                    /* of the last message emitted */
    cpw_state *st;                   /* folded from what was emitted */
    cpt_ff_info info;

    /* the job's shape: the hello announced, and the one being built */
    cpw_hello *hello, *built;
    bool have_job, have_cp_config, hello_sent;
    char vertex[CPW_MAX_OPERATORS][CPW_FLINK_ID_HEX + 1]; /* op index -> vertex id */
    int n_vertex;
    cpw_flink_cp_config cp_config;
    cpw_flink_jobs jobs;             /* /jobs/overview */

    int64_t restore_ts;              /* latest.restored's timestamp folded (ms) */
    bool no_holds;                   /* replaying: ends are never held */
    int64_t latest_completed_id;     /* latest.completed as Flink said */
    int64_t latest_completed_e2e, latest_completed_size, latest_completed_cpsize,
        latest_completed_ack;
    cpt_ff_track track[CPW_MAX_INFLIGHT];
    cpt_ff_hold hold[CPT_FF_HOLDS];
    int64_t blind[CPT_FF_BLIND];     /* a ring of ids (0: empty) */
    int blind_next;
    int64_t pick_id;                 /* cpt_flink_feed_want_detail's */
    uint64_t pick_done;              /* its vertices answered (bit per op) */
    cpt_ff_pick_state pick_state;
    char pick_err[80];               /* why Flink did not give them */
    uint64_t filled_gen;             /* bumped when a finished one's detail was filled */
    uint64_t fp[CPT_FF__SKIPPABLE];
    bool fp_set[CPT_FF__SKIPPABLE];

    /* the ids of f->st's history, sorted, while the history is as it was
     * when they were taken (a long /checkpoints asks about each entry) */
    int64_t *fin_ids;
    int n_fin, fin_cap;
    int64_t fin_key[3];              /* n_history, newest id, its end */
};

int64_t cpt_ff_us(int64_t ms);
/* Emits one event (folded into f->st first with the seq it gets). */
void cpt_ff_event(cpt_flink_feed *f, cpw_event *ev, int64_t now_us);
/* Emits f->hello (installed into f->st). */
void cpt_ff_hello(cpt_flink_feed *f, int64_t now_us);
/* The operator of a vertex id, or -1. */
int cpt_ff_op_of(const cpt_flink_feed *f, const char *vid);
/* A checkpoint in flight that Flink no longer knows: ended, somehow. */
void cpt_ff_gone(cpt_flink_feed *f, int64_t id, int64_t now_us);
/* Ends checkpoint id as completed / failed (acks still missing are
 * placed without figures first, for a completion). */
void cpt_ff_complete(cpt_flink_feed *f, int64_t id, int64_t ack_ms, int64_t e2e_ms, int64_t size,
                     int64_t cpsize, int64_t now_us);
void cpt_ff_fail(cpt_flink_feed *f, int64_t id, int64_t ts_us, cpw_failure_reason r,
                 const char *msg, int64_t now_us);
/* Subtasks of op acknowledged in f->st's checkpoint cp. */
int cpt_ff_acked_of(const cpt_flink_feed *f, const cpw_cp *cp, int op);

/* Late figures (cpt_flink_feed_late.c). A hold for c (finished in Flink,
 * in flight here) when acks are missing and a slot is free: true when
 * its end is held (now or already). */
bool cpt_ff_hold_start(cpt_flink_feed *f, const cpw_flink_cp *c, int64_t now_us);
/* A hold for c, which asks nothing, when an older checkpoint's end is
 * held: Flink ended them in id order, and so are their ends told. True
 * when its end is held. */
bool cpt_ff_hold_behind(cpt_flink_feed *f, const cpw_flink_cp *c, int64_t now_us);
cpt_ff_hold *cpt_ff_held(const cpt_flink_feed *f, int64_t id);
/* Ends holds with the ends Flink gave, oldest (smallest id) first, while
 * the oldest may end: answered, held CPT_FF_HOLD_US, or its id <= upto
 * (INT64_MAX: all; 0: none by id). A newer one never ends before an older. */
void cpt_ff_hold_release(cpt_flink_feed *f, int64_t upto, int64_t now_us);
/* Vertex op of checkpoint id answered (ok: with its subtasks; else with
 * status, 0 meaning no response): holds and the pick note it. */
void cpt_ff_late_answer(cpt_flink_feed *f, int64_t id, int op, int status, const char *why,
                        int64_t now_us);
/* The subtasks of a finished checkpoint (the pick's): f->st's entry filled. */
void cpt_ff_late_fill(cpt_flink_feed *f, int64_t id, int op, const cpw_flink_task_detail *d);
/* Checkpoint id got acks without figures. */
void cpt_ff_blind(cpt_flink_feed *f, int64_t id);
/* The requests holds and the pick want, after n of max paths. */
int cpt_ff_late_wanted(const cpt_flink_feed *f, char (*paths)[160], int n, int max);

cpw_err cpt_ff_read_config(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                           const char *vid, int64_t now_us, cpw_error *err);
cpw_err cpt_ff_read_overview(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                             const char *vid, int64_t now_us, cpw_error *err);
cpw_err cpt_ff_read_job(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                        const char *vid, int64_t now_us, cpw_error *err);
cpw_err cpt_ff_read_cp_config(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                              const char *vid, int64_t now_us, cpw_error *err);
cpw_err cpt_ff_read_stats(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                          const char *vid, int64_t now_us, cpw_error *err);
cpw_err cpt_ff_read_details(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                            const char *vid, int64_t now_us, cpw_error *err);
cpw_err cpt_ff_read_subtasks(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                             const char *vid, int64_t now_us, cpw_error *err);

#endif /* CPT_FLINK_FEED_INT_H */
