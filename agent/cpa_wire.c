/* cpa_wire.c — the agent's edge to the wire protocol: the public event and
 * command types (cpagent.h, the jobs' stable ABI) converted to and from the
 * protocol's own (cpw.h), and the public name functions.
 *
 * The two vocabularies are kept apart so the protocol never depends on the
 * agent, and so the ABI can stay put while the wire grows. The enums must
 * agree value for value; the static assertions below break the build the
 * day they do not. */
#include "cpa_internal.h"

#include <string.h>

#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " differs from " #b)
SAME(CPA_EV_CP_TRIGGERED, CPW_EV_CP_TRIGGERED);
SAME(CPA_EV_BARRIER_INJECTED, CPW_EV_BARRIER_INJECTED);
SAME(CPA_EV_BARRIER_RECEIVED, CPW_EV_BARRIER_RECEIVED);
SAME(CPA_EV_ALIGNMENT_START, CPW_EV_ALIGNMENT_START);
SAME(CPA_EV_ALIGNMENT_END, CPW_EV_ALIGNMENT_END);
SAME(CPA_EV_SNAPSHOT_START, CPW_EV_SNAPSHOT_START);
SAME(CPA_EV_SNAPSHOT_SYNC_DONE, CPW_EV_SNAPSHOT_SYNC_DONE);
SAME(CPA_EV_SNAPSHOT_ASYNC_DONE, CPW_EV_SNAPSHOT_ASYNC_DONE);
SAME(CPA_EV_ACK, CPW_EV_ACK);
SAME(CPA_EV_DECLINE, CPW_EV_DECLINE);
SAME(CPA_EV_CP_COMPLETED, CPW_EV_CP_COMPLETED);
SAME(CPA_EV_CP_FAILED, CPW_EV_CP_FAILED);
SAME(CPA_EV_CP_COMMITTED, CPW_EV_CP_COMMITTED);
SAME(CPA_EV_JOB_STATUS, CPW_EV_JOB_STATUS);
SAME(CPA_EV_RESTORED, CPW_EV_RESTORED);
SAME(CPA_EV_FAILURE_INJECTED, CPW_EV_FAILURE_INJECTED);
SAME(CPA_EV_TASK_FAILED, CPW_EV_TASK_FAILED);
SAME(CPA_EV_SWITCHED_TO_UNALIGNED, CPW_EV_SWITCHED_TO_UNALIGNED);
SAME(CPA_EV__COUNT, CPW_EV__COUNT);
SAME(CPA_ALIGN_ALIGNED, CPW_ALIGN_ALIGNED);
SAME(CPA_ALIGN_UNALIGNED, CPW_ALIGN_UNALIGNED);
SAME(CPA_ALIGN_TIMEOUT, CPW_ALIGN_TIMEOUT);
SAME(CPA_ALIGN__COUNT, CPW_ALIGN__COUNT);
SAME(CPA_TRIGGER_PERIODIC, CPW_TRIGGER_PERIODIC);
SAME(CPA_TRIGGER_MANUAL, CPW_TRIGGER_MANUAL);
SAME(CPA_FAIL_EXPIRED, CPW_FAIL_EXPIRED);
SAME(CPA_FAIL_DECLINED, CPW_FAIL_DECLINED);
SAME(CPA_FAIL_ABORTED, CPW_FAIL_ABORTED);
SAME(CPA_FAIL_ASYNC_EXCEPTION, CPW_FAIL_ASYNC_EXCEPTION);
SAME(CPA_FAIL_IO, CPW_FAIL_IO);
SAME(CPA_FAIL_TASK_FAILURE, CPW_FAIL_TASK_FAILURE);
SAME(CPA_FAIL_NOT_ALL_RUNNING, CPW_FAIL_NOT_ALL_RUNNING);
SAME(CPA_FAIL_TOO_MANY_REQUESTS, CPW_FAIL_TOO_MANY_REQUESTS);
SAME(CPA_FAIL_SUBSUMED, CPW_FAIL_SUBSUMED);
SAME(CPA_FAIL__COUNT, CPW_FAIL__COUNT);
SAME(CPA_JOB_CREATED, CPW_JOB_CREATED);
SAME(CPA_JOB_RUNNING, CPW_JOB_RUNNING);
SAME(CPA_JOB_FAILING, CPW_JOB_FAILING);
SAME(CPA_JOB_RESTARTING, CPW_JOB_RESTARTING);
SAME(CPA_JOB_FAILED, CPW_JOB_FAILED);
SAME(CPA_JOB_FINISHED, CPW_JOB_FINISHED);
SAME(CPA_JOB__COUNT, CPW_JOB__COUNT);
SAME(CPA_CMD_GET_STATE, CPW_CMD_GET_STATE);
SAME(CPA_CMD_TRIGGER, CPW_CMD_TRIGGER);
SAME(CPA_CMD_ABORT, CPW_CMD_ABORT);
SAME(CPA_CMD_INJECT_FAILURE, CPW_CMD_INJECT_FAILURE);
SAME(CPA_CMD_SET_CONFIG, CPW_CMD_SET_CONFIG);
SAME(CPA_CMD_CANCEL, CPW_CMD_CANCEL);
SAME(CPA_CMD__COUNT, CPW_CMD__COUNT);
#undef SAME

/* The ABI: members added to the event union (triggered.alignment, switched)
 * must not change the size or layout a compiled job already uses. */
#if defined(__LP64__)
_Static_assert(sizeof(cpa_event) == 224 && offsetof(cpa_event, u) == 32, "cpa_event layout");
#endif

/* What the ABI lets a job declare must fit on the wire. */
_Static_assert(CPA_MAX_OPERATORS <= CPW_MAX_OPERATORS, "operators");
_Static_assert(CPA_MAX_PARALLELISM <= CPW_MAX_PARALLELISM, "parallelism");
_Static_assert(CPA_MAX_SUBTASKS <= CPW_MAX_SUBTASKS, "subtasks");
_Static_assert(CPA_MAX_EDGES <= CPW_MAX_EDGES, "edges");
_Static_assert(CPA_MAX_CONFIG <= CPW_MAX_CONFIG, "config entries");
_Static_assert(CPA_NAME_MAX <= CPW_NAME_MAX, "names");
_Static_assert(CPA_VALUE_MAX <= CPW_VALUE_MAX, "config values");
_Static_assert(CPA_CMD_MAX_PARAMS >= CPW_CMD_MAX_PARAMS, "command parameters");
_Static_assert(CPA_KIND_MAX >= CPW_KIND_MAX, "failure kinds");

/* Copies a NUL-terminated text of the ABI into a wire field, cutting it at
 * the wire's limit on a character boundary. */
static void text(char *dst, size_t dst_size, const char *src, size_t src_size)
{
    size_t n = strnlen(src, src_size);
    if (n >= dst_size) {
        n = dst_size - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}
#define TEXT(dst, src) text(dst, sizeof(dst), src, sizeof(src))

void cpa_event_to_wire(const cpa_event *in, cpw_event *out)
{
    memset(out, 0, offsetof(cpw_event, u));
    out->type = (cpw_event_type)in->type;
    out->op = in->op;
    out->subtask = in->subtask;
    out->cp_id = in->cp_id;
    out->ts_us = in->ts_us;
    switch (in->type) {
    case CPA_EV_CP_TRIGGERED:
        out->u.triggered.kind = (cpw_trigger_kind)in->u.triggered.kind;
        out->u.triggered.alignment = (cpw_alignment)in->u.triggered.alignment;
        break;
    case CPA_EV_BARRIER_RECEIVED:
        out->u.barrier.channel = in->u.barrier.channel;
        break;
    case CPA_EV_ALIGNMENT_END:
        out->u.alignment.buffered_bytes = in->u.alignment.buffered_bytes;
        out->u.alignment.duration_us = in->u.alignment.duration_us;
        break;
    case CPA_EV_SNAPSHOT_SYNC_DONE:
        out->u.sync.duration_us = in->u.sync.duration_us;
        break;
    case CPA_EV_SNAPSHOT_ASYNC_DONE:
        out->u.async.bytes = in->u.async.bytes;
        out->u.async.duration_us = in->u.async.duration_us;
        break;
    case CPA_EV_ACK: {
        const cpa_ack_info *a = &in->u.ack;
        cpw_ack_info *k = &out->u.ack;
        k->state_size = a->state_size;
        k->checkpointed_size = a->checkpointed_size;
        k->processed_data = a->processed_data;
        k->persisted_data = a->persisted_data;
        k->start_delay_us = a->start_delay_us;
        k->alignment_us = a->alignment_us;
        k->sync_us = a->sync_us;
        k->async_us = a->async_us;
        k->unaligned = a->unaligned;
        break;
    }
    case CPA_EV_DECLINE:
        TEXT(out->u.decline.reason, in->u.decline.reason);
        break;
    case CPA_EV_CP_COMPLETED:
        out->u.completed.duration_us = in->u.completed.duration_us;
        out->u.completed.state_size = in->u.completed.state_size;
        out->u.completed.checkpointed_size = in->u.completed.checkpointed_size;
        break;
    case CPA_EV_CP_FAILED:
        out->u.failed.reason = (cpw_failure_reason)in->u.failed.reason;
        TEXT(out->u.failed.message, in->u.failed.message);
        break;
    case CPA_EV_JOB_STATUS:
        out->u.job_status.status = (cpw_job_status)in->u.job_status.status;
        TEXT(out->u.job_status.message, in->u.job_status.message);
        break;
    case CPA_EV_RESTORED:
        out->u.restored.attempt = in->u.restored.attempt;
        break;
    case CPA_EV_FAILURE_INJECTED:
        TEXT(out->u.failure.kind, in->u.failure.kind);
        TEXT(out->u.failure.params, in->u.failure.params);
        break;
    case CPA_EV_TASK_FAILED:
        TEXT(out->u.task_failed.error, in->u.task_failed.error);
        break;
    case CPA_EV_SWITCHED_TO_UNALIGNED:
        out->u.switched.elapsed_us = in->u.switched.elapsed_us;
        out->u.switched.timeout_us = in->u.switched.timeout_us;
        break;
    default:
        break;
    }
}

void cpa_command_from_wire(const cpw_cmd *in, cpa_command *out)
{
    memset(out, 0, sizeof *out);
    out->type = (cpa_command_type)in->type;
    out->cp_id = in->cp_id;
    TEXT(out->kind, in->kind);
    out->op = in->op;
    out->subtask = in->subtask;
    int n = in->n_params < 0 ? 0 : in->n_params;
    out->n_params = n > CPA_CMD_MAX_PARAMS ? CPA_CMD_MAX_PARAMS : n;
    for (int i = 0; i < out->n_params; i++) {
        TEXT(out->keys[i], in->keys[i]);
        TEXT(out->values[i], in->values[i]);
    }
}

static int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

/* Agent thread, before an event is folded and encoded: sizes and durations
 * that went negative (a clock step, a bug in the job) become 0, enums out of
 * range take a defined value, and texts are terminated, so the state and the
 * wire always agree and every receiver can decode what was sent. */
void cpa_normalize(cpw_event *e)
{
    switch (e->type) {
    case CPW_EV_CP_TRIGGERED:
        if (e->u.triggered.kind != CPW_TRIGGER_MANUAL)
            e->u.triggered.kind = CPW_TRIGGER_PERIODIC;
        if ((unsigned)e->u.triggered.alignment >= CPW_ALIGN__COUNT)
            e->u.triggered.alignment = CPW_ALIGN_ALIGNED;
        break;
    case CPW_EV_BARRIER_RECEIVED:
        if (e->u.barrier.channel < 0 || e->u.barrier.channel > CPW_MAX_PARALLELISM * 4)
            e->u.barrier.channel = 0;
        break;
    case CPW_EV_ALIGNMENT_END:
        e->u.alignment.buffered_bytes = nonneg(e->u.alignment.buffered_bytes);
        e->u.alignment.duration_us = nonneg(e->u.alignment.duration_us);
        break;
    case CPW_EV_SNAPSHOT_SYNC_DONE:
        e->u.sync.duration_us = nonneg(e->u.sync.duration_us);
        break;
    case CPW_EV_SNAPSHOT_ASYNC_DONE:
        e->u.async.bytes = nonneg(e->u.async.bytes);
        e->u.async.duration_us = nonneg(e->u.async.duration_us);
        break;
    case CPW_EV_ACK: {
        cpw_ack_info *k = &e->u.ack;
        k->state_size = nonneg(k->state_size);
        k->checkpointed_size = nonneg(k->checkpointed_size);
        k->processed_data = nonneg(k->processed_data);
        k->persisted_data = nonneg(k->persisted_data);
        k->start_delay_us = nonneg(k->start_delay_us);
        k->alignment_us = nonneg(k->alignment_us);
        k->sync_us = nonneg(k->sync_us);
        k->async_us = nonneg(k->async_us);
        k->unaligned = k->unaligned != 0;
        break;
    }
    case CPW_EV_DECLINE:
        e->u.decline.reason[CPW_TEXT_MAX - 1] = '\0';
        break;
    case CPW_EV_CP_COMPLETED:
        e->u.completed.duration_us = nonneg(e->u.completed.duration_us);
        e->u.completed.state_size = nonneg(e->u.completed.state_size);
        e->u.completed.checkpointed_size = nonneg(e->u.completed.checkpointed_size);
        break;
    case CPW_EV_CP_FAILED:
        if ((unsigned)e->u.failed.reason >= CPW_FAIL__COUNT)
            e->u.failed.reason = CPW_FAIL_ASYNC_EXCEPTION; /* the job's own, unnamed reason */
        e->u.failed.message[CPW_TEXT_MAX - 1] = '\0';
        break;
    case CPW_EV_JOB_STATUS:
        if ((unsigned)e->u.job_status.status >= CPW_JOB__COUNT)
            e->u.job_status.status = CPW_JOB_RUNNING;
        e->u.job_status.message[CPW_TEXT_MAX - 1] = '\0';
        break;
    case CPW_EV_RESTORED:
        if (e->u.restored.attempt < 0)
            e->u.restored.attempt = 0;
        break;
    case CPW_EV_FAILURE_INJECTED:
        e->u.failure.kind[CPW_KIND_MAX - 1] = '\0';
        e->u.failure.params[CPW_TEXT_MAX - 1] = '\0';
        break;
    case CPW_EV_TASK_FAILED:
        e->u.task_failed.error[CPW_TEXT_MAX - 1] = '\0';
        break;
    case CPW_EV_SWITCHED_TO_UNALIGNED:
        e->u.switched.elapsed_us = nonneg(e->u.switched.elapsed_us);
        e->u.switched.timeout_us = nonneg(e->u.switched.timeout_us);
        break;
    default:
        break;
    }
}

const char *cpa_event_type_name(cpa_event_type t)
{
    return cpw_event_type_name((cpw_event_type)t);
}

const char *cpa_failure_reason_name(cpa_failure_reason r)
{
    return cpw_failure_reason_name((cpw_failure_reason)r);
}

const char *cpa_job_status_name(cpa_job_status s)
{
    return cpw_job_status_name((cpw_job_status)s);
}

int cpa_failure_reason_counts(cpa_failure_reason r)
{
    return cpw_failure_counts((cpw_failure_reason)r);
}
