/* cpd_job.c — what the job's parts share (see cpd_job.h): events, failing
 * the job, the task helpers, the snapshot I/O thread, and the checkpoint
 * hooks that act on storage, the sink and the agent. */
#include "cpd_job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_clock.h"

const char *const cpd_op_names[CPD_N_OPS] = {"source", "parse", "aggregate", "sink"};

void cpd_job_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cpdemo run: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

cpa_event cpd_job_ev(cpa_event_type t, int64_t cp, int op, int sub)
{
    cpa_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.cp_id = cp;
    e.op = op;
    e.subtask = sub;
    return e;
}

void cpd_job_emit(cpd_job *j, cpa_event ev) { cpa_emit(j->agent, &ev); }

void cpd_job_fail(cpd_job *j, const char *fmt, ...)
{
    pthread_mutex_lock(&j->fail_mu);
    if (!atomic_load(&j->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->fail_reason, sizeof j->fail_reason, fmt, ap);
        va_end(ap);
        atomic_store(&j->failed, 1);
    }
    pthread_mutex_unlock(&j->fail_mu);
    atomic_store(&j->stopping, 1);
}

int cpd_job_md_offsets(const cpd_metadata *md, cpd_offset *out, int max)
{
    int n = 0;
    for (size_t i = 0; md && i < md->n_extra && n < max; i++)
        if (!strncmp(md->extra[i].key, "offset.", 7) && md->extra[i].kind == CPD_MD_INT) {
            out[n].partition = atoi(md->extra[i].key + 7);
            out[n].next = md->extra[i].i;
            n++;
        }
    return n;
}

/* ------------------------------------------------------------------ task helpers */

int cpd_task_index(const cpd_task *t) { return t->op * t->j->P + t->sub; }

void cpd_task_metrics(cpd_task *t, int64_t *last_ms)
{
    int64_t now = cpd_mono_ms();
    if (now - *last_ms < 200)
        return;
    *last_ms = now;
    cpa_subtask_metrics(t->j->agent, t->op, t->sub, atomic_load(&t->rec_in),
                        atomic_load(&t->rec_out),
                        t->op == CPD_OP_SOURCE ? 0 : cpd_inbox_fill_permille(&t->in),
                        atomic_load(&t->blocked_out));
}

bool cpd_task_killed(cpd_task *t)
{
    if (!atomic_load(&t->kill))
        return false;
    cpa_event e = cpd_job_ev(CPA_EV_TASK_FAILED, 0, t->op, t->sub);
    snprintf(e.u.task_failed.error, sizeof e.u.task_failed.error, "killed on request");
    cpd_job_emit(t->j, e);
    cpd_job_fail(t->j, "%s#%d was killed on request", cpd_op_names[t->op], t->sub);
    return true;
}

bool cpd_task_barrier_checks(cpd_task *t, int64_t cp)
{
    int stall = atomic_exchange(&t->stall_ms, 0);
    for (int waited = 0; waited < stall && !atomic_load(&t->j->stopping); waited += 20)
        cpd_sleep_ms(stall - waited < 20 ? stall - waited : 20);
    if (atomic_exchange(&t->decline_next, 0)) {
        const char *why = "declined on request (failure injection)";
        cpa_event e = cpd_job_ev(CPA_EV_DECLINE, cp, t->op, t->sub);
        snprintf(e.u.decline.reason, sizeof e.u.decline.reason, "%s", why);
        cpd_job_emit(t->j, e);
        cpd_ckpt_decline(t->j->ckpt, cp, cpd_task_index(t), why);
        return false;
    }
    return true;
}

void cpd_task_ack(cpd_task *t, int64_t cp, const cpd_state_handle *h, const cpd_offset *offsets,
                  int n_offsets, cpa_ack_info info)
{
    cpa_event e = cpd_job_ev(CPA_EV_ACK, cp, t->op, t->sub);
    e.u.ack = info;
    cpd_job_emit(t->j, e);
    cpd_ckpt_ack(t->j->ckpt, cp, cpd_task_index(t), h, offsets, n_offsets);
}

void cpd_task_write_failed(cpd_task *t, int64_t cp, const char *why)
{
    cpd_ckpt_fail(t->j->ckpt, cp, why);
}

static bool stage_failed(void *o, int64_t cp)
{
    cpd_task *t = o;
    return cp <= atomic_load(&t->j->aborted);
}

void cpd_snap_free(cpd_snap *s)
{
    if (s)
        free(s->data);
    free(s);
}

/* Staged (phase 1) under cp, on the stager's thread; then the channel state
 * the subtask's snapshot holds (attach, a cpd_snap, may be NULL) is written:
 * the async part is done. */
static void staged(void *o, int64_t cp, bool ok, const char *err, int64_t n, int64_t bytes,
                   int64_t duration_us, int64_t start_delay_us, void *attach)
{
    (void)n;
    cpd_task *t = o;
    cpd_snap *s = attach;
    cpd_state_handle h;
    char why[300];
    int64_t t0 = cpd_mono_us();
    if (ok && s && s->data &&
        cpd_storage_write_state(t->j->st, cp, t->op, t->sub, s->data, s->len, &h, why,
                                sizeof why) != CPD_ST_OK) {
        ok = false;
        err = why;
    }
    if (!ok) {
        cpd_task_write_failed(t, cp, err);
        cpd_snap_free(s);
        return;
    }
    int64_t file = s && s->data ? (int64_t)s->len : 0;
    duration_us += cpd_mono_us() - t0;
    cpa_event e = cpd_job_ev(CPA_EV_SNAPSHOT_ASYNC_DONE, cp, t->op, t->sub);
    e.u.async.bytes = bytes + file;
    e.u.async.duration_us = duration_us;
    cpd_job_emit(t->j, e);
    cpa_ack_info info = {.state_size = file, .checkpointed_size = bytes + file,
                         .start_delay_us = start_delay_us, .async_us = duration_us};
    if (s) {
        info.persisted_data = s->persisted;
        info.unaligned = s->unaligned;
        info.alignment_us = s->alignment_us;
        info.sync_us = s->sync_us;
    }
    cpd_task_ack(t, cp, file ? &h : NULL, NULL, 0, info);
    cpd_snap_free(s);
}

static void release(void *o, void *attach)
{
    (void)o;
    cpd_snap_free(attach);
}

cpd_stager_hooks cpd_task_stager_hooks(cpd_task *t)
{
    return (cpd_stager_hooks){.opaque = t, .failed = stage_failed, .done = staged,
                              .release = release};
}

/* ------------------------------------------------------------------ snapshot I/O */

void cpd_job_snapshot(cpd_job *j, cpd_snap *s)
{
    s->next = NULL;
    pthread_mutex_lock(&j->iomu);
    if (j->io_tail)
        j->io_tail->next = s;
    else
        j->io_head = s;
    j->io_tail = s;
    pthread_cond_signal(&j->iocond);
    pthread_mutex_unlock(&j->iomu);
}

static void write_snapshot(cpd_job *j, cpd_snap *r)
{
    int64_t t0 = cpd_mono_us();
    cpd_state_handle h;
    char err[300];
    cpd_st_rc rc = cpd_storage_write_state(j->st, r->cp, r->op, r->sub, r->data, r->len, &h,
                                           err, sizeof err);
    int64_t async_us = cpd_mono_us() - t0;
    cpd_task *t = &j->tasks[r->op][r->sub];
    if (rc != CPD_ST_OK) {
        cpd_task_write_failed(t, r->cp, err);
        return;
    }
    cpa_event e = cpd_job_ev(CPA_EV_SNAPSHOT_ASYNC_DONE, r->cp, r->op, r->sub);
    e.u.async.bytes = (int64_t)r->len;
    e.u.async.duration_us = async_us;
    cpd_job_emit(j, e);
    cpa_ack_info info = {.state_size = (int64_t)r->len, .checkpointed_size = (int64_t)r->len,
                         .persisted_data = r->persisted, .start_delay_us = r->start_delay_us,
                         .alignment_us = r->alignment_us, .sync_us = r->sync_us,
                         .async_us = async_us, .unaligned = r->unaligned};
    cpd_task_ack(t, r->cp, &h, r->offsets, r->n_offsets, info);
}

void *cpd_job_io_main(void *arg)
{
    cpd_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->iomu);
        /* stop_attempt signals under iomu once stopping is set */
        while (!j->io_head && !atomic_load(&j->stopping))
            pthread_cond_wait(&j->iocond, &j->iomu);
        cpd_snap *r = j->io_head;
        if (r) {
            j->io_head = r->next;
            if (!j->io_head)
                j->io_tail = NULL;
        }
        pthread_mutex_unlock(&j->iomu);
        if (!r)
            break; /* stopping and drained */
        /* a checkpoint that failed already needs no state */
        if (!atomic_load(&j->stopping) && r->cp > atomic_load(&j->aborted))
            write_snapshot(j, r);
        cpd_snap_free(r);
    }
    return NULL;
}

/* ------------------------------------------------------------------ checkpoint hooks */

/* How checkpoint id's barriers travel, from the settings at its trigger
 * (as Flink's checkpoint options). The final checkpoint of --drain is
 * aligned, as Flink's savepoints are: everything read is in its sink
 * transaction, none of it in channel state. */
static cpd_barrier_mode barrier_mode(cpd_job *j, int64_t id)
{
    if (!atomic_load(&j->unaligned) || j->cfg.mode != CPD_EXACTLY_ONCE ||
        (j->drain && atomic_load(&j->final_cp) == id))
        return CPD_BAR_ALIGNED;
    return atomic_load(&j->aligned_timeout_ms) > 0 ? CPD_BAR_TIMEOUT : CPD_BAR_UNALIGNED;
}

/* Coordinator thread: barriers go in at every source. */
static void hk_trigger(void *o, int64_t id, cpa_trigger_kind kind, int64_t trigger_us)
{
    cpd_job *j = o;
    if (id >= atomic_load(&j->next_id))
        atomic_store(&j->next_id, id + 1);
    if (j->drain && atomic_load(&j->sources_done) == j->P && !atomic_load(&j->final_cp))
        atomic_store(&j->final_cp, id); /* every record is before its barriers */
    cpd_barrier_mode mode = barrier_mode(j, id);
    cpa_event e = cpd_job_ev(CPA_EV_CP_TRIGGERED, id, -1, -1);
    e.ts_us = trigger_us;
    e.u.triggered.kind = kind;
    e.u.triggered.alignment = (cpa_alignment)mode;
    cpd_job_emit(j, e);
    for (int s = 0; s < j->P; s++)
        atomic_store(&j->pending_barrier[s], cpd_barrier_request(id, mode));
}

static void hk_completed(void *o, int64_t id, int64_t duration_ms, const cpd_metadata *md)
{
    cpd_job *j = o;
    int64_t size = 0;
    for (size_t i = 0; md && i < md->n_states; i++)
        size += (int64_t)md->states[i].size;
    cpa_event e = cpd_job_ev(CPA_EV_CP_COMPLETED, id, -1, -1);
    e.u.completed.duration_us = duration_ms * 1000;
    e.u.completed.state_size = size;
    e.u.completed.checkpointed_size = size;
    cpd_job_emit(j, e);
    atomic_store(&j->last_cp_ms, duration_ms);
    atomic_store(&j->last_cp_bytes, size);
}

static void hk_failed(void *o, int64_t id, cpa_failure_reason reason, const char *message)
{
    cpd_job *j = o;
    if (id > atomic_load(&j->aborted))
        atomic_store(&j->aborted, id); /* tasks drop its barriers, stagers carry its rows on */
    cpa_event e = cpd_job_ev(CPA_EV_CP_FAILED, id, -1, -1);
    e.u.failed.reason = reason;
    snprintf(e.u.failed.message, sizeof e.u.failed.message, "%s", message ? message : "");
    cpd_job_emit(j, e);
}

static void hk_fail_job(void *o, const char *why)
{
    cpd_job_fail(o, "%s", why);
}

/* Worker: the commit point. */
static bool hk_write_metadata(void *o, int64_t id, const cpd_metadata *md, char *err,
                              size_t errsz)
{
    cpd_job *j = o;
    if (cpd_storage_commit(j->st, id, md, err, errsz) == CPD_ST_OK)
        return true;
    cpd_job_say("checkpoint %lld: %s", (long long)id, err);
    return false;
}

/* Worker: phase 2, then retention. */
static bool hk_commit(void *o, int64_t id, const cpd_metadata *md, char *err, size_t errsz)
{
    cpd_job *j = o;
    cpd_offset offs[CPD_MAX_PARTS];
    int n = cpd_job_md_offsets(md, offs, CPD_MAX_PARTS);
    int inject = atomic_exchange(&j->fail_commits, 0);
    if (inject)
        cpd_sink_fail_next_commits(j->commit_sink, inject);
    if (cpd_sink_commit(j->commit_sink, id, offs, n, err, errsz))
        return false;
    cpd_job_emit(j, cpd_job_ev(CPA_EV_CP_COMMITTED, id, -1, -1));
    char why[300];
    if (cpd_storage_retain(j->st, j->cfg.num_retained, why, sizeof why) != CPD_ST_OK)
        cpd_job_say("retention: %s", why);
    return true;
}

static void hk_discard(void *o, int64_t id)
{
    cpd_job *j = o;
    char err[300];
    cpd_storage_discard(j->st, id, err, sizeof err); /* what is left, retention removes */
}

cpd_ckpt_hooks cpd_job_ckpt_hooks(cpd_job *j)
{
    return (cpd_ckpt_hooks){j, hk_trigger, hk_completed, hk_failed, hk_fail_job,
                            hk_write_metadata, hk_commit, hk_discard};
}
