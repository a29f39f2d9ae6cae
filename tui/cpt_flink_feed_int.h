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
} cpt_ff_track;

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
    int64_t latest_completed_id;     /* latest.completed as Flink said */
    int64_t latest_completed_e2e, latest_completed_size, latest_completed_cpsize,
        latest_completed_ack;
    cpt_ff_track track[CPW_MAX_INFLIGHT];
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
