/* cpa_rest_ops.c — checkpoints triggered over REST, from POST to outcome.
 *
 * The job's trigger handler only says it accepted; the checkpoint it starts
 * shows up later as a manual cp_triggered event. Every accepted trigger,
 * from REST or from a dashboard's `trigger` command, joins one queue in the
 * order the agent thread accepted it, and each manual cp_triggered binds the
 * oldest: a job that starts its manual checkpoints in the order it was asked
 * for them (any FIFO coordinator) gets each REST operation the right id.
 * agent/REST.md says what can still confuse it. */
#include "cpa_rest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIFO_MAX 64

struct cpa_rest_ops {
    cpa_op ops[CPA_OPS_MAX];    /* in order of creation */
    int n;
    /* acceptances waiting for their checkpoint: an operation id, or "" for
     * a dashboard's trigger */
    char fifo[FIFO_MAX][CPW_FLINK_ID_HEX + 1];
    int fifo_head, fifo_n;
};

cpa_rest_ops *cpa_rest_ops_new(void) { return calloc(1, sizeof(cpa_rest_ops)); }

void cpa_rest_ops_free(cpa_rest_ops *o) { free(o); }

/* Forgets operations done for longer than CPA_OPS_KEEP_US. */
static void prune(cpa_rest_ops *o, int64_t now_us)
{
    int k = 0;
    for (int i = 0; i < o->n; i++) {
        if (o->ops[i].state == CPA_OP_DONE && now_us - o->ops[i].done_us > CPA_OPS_KEEP_US)
            continue;
        if (k != i)
            o->ops[k] = o->ops[i];
        k++;
    }
    o->n = k;
}

static cpa_op *find(cpa_rest_ops *o, const char *id)
{
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->ops[i].id, id))
            return &o->ops[i];
    return NULL;
}

cpa_op *cpa_rest_ops_find(cpa_rest_ops *o, const char *id, int64_t now_us)
{
    prune(o, now_us);
    return find(o, id);
}

cpa_op *cpa_rest_ops_add(cpa_rest_ops *o, const char *id, int64_t now_us)
{
    prune(o, now_us);
    if (o->n == CPA_OPS_MAX) { /* make room: the oldest finished one goes */
        int i = 0;
        while (i < o->n && o->ops[i].state != CPA_OP_DONE)
            i++;
        if (i == o->n)
            return NULL;
        memmove(&o->ops[i], &o->ops[i + 1], (size_t)(o->n - i - 1) * sizeof o->ops[0]);
        o->n--;
    }
    cpa_op *op = &o->ops[o->n++];
    memset(op, 0, sizeof *op);
    snprintf(op->id, sizeof op->id, "%s", id);
    op->state = CPA_OP_WAITING;
    op->created_us = now_us;
    return op;
}

void cpa_rest_ops_finish(cpa_op *op, bool failed, const char *cause, int64_t now_us)
{
    op->state = CPA_OP_DONE;
    op->failed = failed;
    snprintf(op->cause, sizeof op->cause, "%s", cause ? cause : "");
    op->done_us = now_us;
}

void cpa_rest_ops_accepted(cpa_rest_ops *o, const char *op_id)
{
    if (o->fifo_n == FIFO_MAX) { /* the oldest acceptance never started: let it go */
        o->fifo_head = (o->fifo_head + 1) % FIFO_MAX;
        o->fifo_n--;
    }
    int tail = (o->fifo_head + o->fifo_n) % FIFO_MAX;
    snprintf(o->fifo[tail], sizeof o->fifo[tail], "%s", op_id ? op_id : "");
    o->fifo_n++;
}

void cpa_rest_ops_started(cpa_rest_ops *o, int64_t cp_id)
{
    if (!o->fifo_n)
        return; /* a manual checkpoint nobody asked the agent for */
    const char *id = o->fifo[o->fifo_head];
    o->fifo_head = (o->fifo_head + 1) % FIFO_MAX;
    o->fifo_n--;
    cpa_op *op = id[0] ? find(o, id) : NULL;
    if (op && op->state == CPA_OP_WAITING) {
        op->state = CPA_OP_RUNNING;
        op->cp_id = cp_id;
    }
}

void cpa_rest_ops_ended(cpa_rest_ops *o, const cpa_hist_entry *e, int64_t now_us)
{
    for (int i = 0; i < o->n; i++) {
        cpa_op *op = &o->ops[i];
        if (op->state != CPA_OP_RUNNING || op->cp_id != e->cp.id)
            continue;
        bool failed = e->cp.status != CPW_CP_COMPLETED;
        cpa_rest_ops_finish(op, failed, failed ? e->failure : NULL, now_us);
    }
}

void cpa_rest_ops_expire(cpa_rest_ops *o, int64_t wait_us, const char *why, int64_t now_us)
{
    for (int i = 0; i < o->n; i++) {
        cpa_op *op = &o->ops[i];
        if (op->state == CPA_OP_WAITING && (wait_us < 0 || now_us - op->created_us > wait_us))
            cpa_rest_ops_finish(op, true, why, now_us);
    }
    if (wait_us < 0) /* a restart: nothing asked for before it will start */
        o->fifo_n = 0;
}
