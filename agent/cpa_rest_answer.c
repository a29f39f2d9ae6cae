/* cpa_rest_answer.c — the checkpoint endpoints' answers: statistics,
 * details, subtasks and checkpoint configuration, built from the agent's
 * cpw_state (checkpoints in flight, the newest finished ones with
 * per-subtask detail) and the REST history (cpa_rest_hist.c). Checkpoints
 * in flight are in every answer at once, as fresh as the last event. */
#include "cpa_rest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int64_t ms(int64_t us) { return us / 1000; }

static const cpw_flink_status to_flink[] = {
    [CPW_CP_IN_PROGRESS] = CPW_FLINK_IN_PROGRESS,
    [CPW_CP_COMPLETED] = CPW_FLINK_COMPLETED,
    [CPW_CP_FAILED] = CPW_FLINK_FAILED,
};

static cpw_flink_status status_of(const cpw_cp *cp)
{
    return cp->status <= CPW_CP_FAILED ? to_flink[cp->status] : CPW_FLINK_IN_PROGRESS;
}

/* Where a completed checkpoint is, by Flink's layout (<storage>/<job>/chk-N)
 * when the job declared its storage; Flink's words for "nowhere" else. */
static const char *external_path(cpa_rest *r, int64_t id)
{
    const char *st = cpa_rest_conf(r, "execution.checkpointing.storage");
    if (!st)
        st = cpa_rest_conf(r, "state.checkpoints.dir");
    if (!st || !st[0])
        return "<checkpoint-not-externally-addressable>";
    size_t n = strlen(st);
    snprintf(r->path, sizeof r->path, "%s%s%s/chk-%lld", st, st[n - 1] == '/' ? "" : "/",
             r->a->conf.job_id, (long long)id);
    return r->path;
}

/* One checkpoint in Flink's terms. tasks: n_ops aggregates, or NULL. */
static void flink_cp(cpa_rest *r, const cpw_cp *cp, int64_t processed, int64_t persisted,
                     bool unaligned, const char *failure, cpw_flink_cp *out)
{
    memset(out, 0, sizeof *out);
    out->cls = out->status = status_of(cp);
    out->id = cp->id;
    out->trigger_ts = ms(cp->trigger_ts);
    out->latest_ack_ts = cp->latest_ack_ts ? ms(cp->latest_ack_ts) : -1;
    out->has_checkpointed_size = true;
    out->checkpointed_size = cp->checkpointed_size;
    out->state_size = cp->state_size;
    if (cp->status == CPW_CP_IN_PROGRESS) /* Flink: trigger to the latest ack so far */
        out->e2e = cp->latest_ack_ts ? ms(cp->latest_ack_ts > cp->trigger_ts
                                              ? cp->latest_ack_ts - cp->trigger_ts : 0)
                                     : -1;
    else /* completed: what the job measured; failed: trigger to failure */
        out->e2e = ms(cp->duration_us);
    out->processed = processed;
    out->persisted = persisted;
    out->num_subtasks = cp->total;
    out->num_acked = cp->acks;
    snprintf(out->checkpoint_type, sizeof out->checkpoint_type, "%s",
             unaligned ? "UNALIGNED_CHECKPOINT" : "CHECKPOINT");
    if (cp->status == CPW_CP_COMPLETED)
        out->external_path = (char *)external_path(r, cp->id);
    if (cp->status == CPW_CP_FAILED) {
        out->failure_ts = ms(cp->end_ts);
        out->failure_message = (char *)failure;
    }
}

static void flink_entry(cpa_rest *r, const cpa_hist_entry *e, cpw_flink_cp *out)
{
    flink_cp(r, &e->cp, e->processed, e->persisted, e->unaligned, e->failure, out);
}

/* A checkpoint in flight: its figures so far. */
static void flink_live(cpa_rest *r, const cpw_cp *cp, cpa_task_agg *agg, cpw_flink_cp *out)
{
    int64_t processed, persisted;
    bool unaligned;
    cpa_rest_aggregate(r->a->state, cp, agg, &processed, &persisted, &unaligned);
    flink_cp(r, cp, processed, persisted, unaligned, NULL, out);
}

/* ------------------------------------------------------------------ statistics */

static void history_at(void *opaque, int i, cpw_flink_cp *tmp)
{
    cpa_rest *r = opaque;
    const struct cpa_rest_slot *sl = &r->order[i];
    if (sl->inflight)
        flink_live(r, &r->a->state->inflight[sl->idx], NULL, tmp);
    else
        flink_entry(r, cpa_rest_hist_at(r->hist, sl->idx), tmp);
}

static const char *history_json(void *opaque, int i, size_t *len)
{
    cpa_rest *r = opaque;
    const struct cpa_rest_slot *sl = &r->order[i];
    if (sl->inflight)
        return NULL;
    const cpa_hist_entry *e = cpa_rest_hist_at(r->hist, sl->idx);
    *len = e->json_len;
    return e->json;
}

void cpa_rest_render_entry(cpa_rest *r, cpa_hist_entry *e)
{
    cpw_flink_cp cp;
    cpw_buf b;
    cpw_buf_init(&b);
    flink_entry(r, e, &cp);
    cpw_flink_write_cp(&b, &cp);
    if (b.failed) { /* written at answer time instead */
        cpw_buf_free(&b);
        return;
    }
    e->json = b.data;
    e->json_len = b.len;
}

/* Newest first by trigger time, checkpoints in flight among the finished
 * ones, at most web.checkpoints.history of them (Flink's order). */
static int merge_history(cpa_rest *r)
{
    const cpw_state *s = r->a->state;
    int fi = s->n_inflight - 1, hi = 0, n = 0, nh = cpa_rest_hist_count(r->hist);
    while (n < r->history && (fi >= 0 || hi < nh)) {
        const cpw_cp *a = fi >= 0 ? &s->inflight[fi] : NULL;
        const cpa_hist_entry *b = hi < nh ? cpa_rest_hist_at(r->hist, hi) : NULL;
        bool take_a = a && (!b || a->trigger_ts > b->cp.trigger_ts ||
                            (a->trigger_ts == b->cp.trigger_ts && a->id > b->cp.id));
        r->order[n].inflight = take_a;
        r->order[n].idx = take_a ? fi-- : hi++;
        n++;
    }
    return n;
}

int cpa_rest_stats(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    const cpw_state *s = r->a->state;
    cpw_flink_stats fs;
    memset(&fs, 0, sizeof fs);
    fs.counts = (cpw_flink_counts){.restored = s->counts.restored, .total = s->counts.total,
                                   .in_progress = s->counts.in_progress,
                                   .completed = s->counts.completed, .failed = s->counts.failed};
    cpa_rest_hist_summary(r->hist, &fs);
    cpw_flink_cp completed, failed;
    const cpa_hist_entry *lc = cpa_rest_hist_latest(r->hist, CPW_CP_COMPLETED);
    const cpa_hist_entry *lf = cpa_rest_hist_latest(r->hist, CPW_CP_FAILED);
    if (lc) {
        flink_entry(r, lc, &completed);
        fs.latest_completed = &completed;
    }
    if (lf) {
        flink_entry(r, lf, &failed);
        fs.latest_failed = &failed;
    }
    cpw_flink_restored restored = {.id = s->restored_from, .restore_ts = ms(s->last_restore_ts)};
    if (s->restored_from > 0)
        fs.latest_restored = &restored;
    fs.n_history = merge_history(r);
    fs.history_at = history_at;
    fs.history_json = history_json;
    fs.history_opaque = r;
    /* the latest completed path is written before the history reuses r->path */
    cpw_buf_reset(out);
    cpw_flink_write_stats(out, &fs);
    return 200;
}

/* ------------------------------------------------------------------ details */

static void flink_task(const cpw_cp *cp, const cpa_task_agg *t, const char *vid,
                       cpw_flink_task *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->vertex, sizeof out->vertex, "%s", vid);
    out->id = cp->id;
    out->status = status_of(cp);
    out->latest_ack_ts = t->latest_ack_us ? ms(t->latest_ack_us) : -1;
    out->has_checkpointed_size = true;
    out->checkpointed_size = t->checkpointed_size;
    out->state_size = t->state_size;
    out->e2e = t->latest_ack_us ? ms(t->latest_ack_us > cp->trigger_ts
                                         ? t->latest_ack_us - cp->trigger_ts : 0)
                                : -1;
    out->processed = t->processed;
    out->persisted = t->persisted;
    out->num_subtasks = t->total;
    out->num_acked = t->acked;
}

static int not_found_cp(int64_t id, cpw_buf *out)
{
    char msg[CPA_REST_MSG_MAX];
    snprintf(msg, sizeof msg, "Could not find checkpointing statistics for checkpoint %lld.",
             (long long)id);
    cpw_buf_reset(out);
    cpw_flink_write_error(out, msg);
    return 404;
}

int cpa_rest_details(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    const cpw_cp *live = cpw_state_find_inflight(r->a->state, req->cpid);
    const cpa_hist_entry *e = live ? NULL : cpa_rest_hist_find(r->hist, req->cpid);
    if (!live && !e)
        return not_found_cp(req->cpid, out);
    cpw_flink_cp cp;
    const cpa_task_agg *agg = r->agg;
    int n_tasks = r->a->state->hello.n_ops;
    if (live) {
        memset(r->agg, 0, sizeof r->agg);
        flink_live(r, live, r->agg, &cp);
        if (!live->subs || live->total != r->a->state->n_subtasks)
            n_tasks = 0;
    } else {
        flink_entry(r, e, &cp);
        agg = e->tasks;
        n_tasks = e->n_tasks;
    }
    const cpw_cp *base = live ? live : &e->cp;
    int k = 0;
    for (; k < n_tasks && k < CPW_MAX_OPERATORS; k++) {
        char vid[CPW_FLINK_ID_HEX + 1];
        if (!cpa_rest_vertex_id(r, k, vid))
            break; /* the topology shrank since this checkpoint */
        flink_task(base, &agg[k], vid, &r->tasks[k]);
    }
    cp.n_tasks = k;
    cp.tasks = r->tasks;
    cpw_buf_reset(out);
    cpw_flink_write_cp(out, &cp);
    return 200;
}

/* ------------------------------------------------------------------ subtasks */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* min/max/avg and Flink's percentiles over n values (sorted here). */
static cpw_flink_stat exact_stat(int64_t *v, int n)
{
    cpw_flink_stat s = cpw_flink_stat_empty();
    if (!n)
        return s;
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum = sum > INT64_MAX - v[i] ? INT64_MAX : sum + v[i];
    s.min = v[0];
    s.max = v[n - 1];
    s.avg = sum / n;
    s.p50 = cpa_rest_percentile(v, n, 50);
    s.p90 = cpa_rest_percentile(v, n, 90);
    s.p95 = cpa_rest_percentile(v, n, 95);
    s.p99 = cpa_rest_percentile(v, n, 99);
    s.p999 = cpa_rest_percentile(v, n, 99.9);
    return s;
}

enum { S_CPSIZE, S_STATE, S_E2E, S_SYNC, S_ASYNC, S_BUF, S_PROC, S_PERS, S_ALIGN, S_DELAY, S__N };

static void subtask_of(const cpw_cp *cp, const cpw_sub *u, int index, cpw_flink_subtask *o)
{
    memset(o, 0, sizeof *o);
    o->index = index;
    if (u->phase != CPW_PH_ACKED)
        return; /* pending, or declined: Flink's "pending_or_failed" */
    o->completed = true;
    o->ack_ts = ms(u->ack_ts);
    o->e2e = ms(u->ack_ts > cp->trigger_ts ? u->ack_ts - cp->trigger_ts : 0);
    o->has_checkpointed_size = true;
    o->checkpointed_size = u->checkpointed_size;
    o->state_size = u->state_size;
    o->sync = ms(u->sync_us);
    o->async = ms(u->async_us);
    o->align_buffered = u->buffered_bytes;
    o->align_processed = u->processed_data;
    o->align_persisted = u->persisted_data;
    o->align_duration = ms(u->alignment_us);
    o->start_delay = ms(u->start_delay_us);
    o->unaligned = u->unaligned;
}

/* The checkpoint with per-subtask detail: in flight, or among the newest
 * finished ones the agent keeps detail for. */
static const cpw_cp *with_detail(const cpw_state *s, int64_t id)
{
    const cpw_cp *cp = cpw_state_find_inflight(s, id);
    for (int i = 0; !cp && i < s->n_history; i++) {
        const cpw_cp *h = cpw_state_history(s, i);
        if (h->id == id)
            cp = h;
    }
    return cp && cp->subs && cp->total == s->n_subtasks ? cp : NULL;
}

static void fill_detail(const cpw_state *s, const cpw_cp *cp, int op, const char *vid,
                        cpw_flink_task_detail *d, int64_t (*vals)[S__N])
{
    int par = s->hello.ops[op].parallelism, n = 0;
    cpa_task_agg agg[CPW_MAX_OPERATORS];
    int64_t processed, persisted;
    bool unaligned;
    cpa_rest_aggregate(s, cp, agg, &processed, &persisted, &unaligned);
    flink_task(cp, &agg[op], vid, &d->task);
    for (int k = 0; k < par; k++) {
        cpw_flink_subtask *o = &d->subtasks[k];
        subtask_of(cp, &cp->subs[s->op_base[op] + k], k, o);
        if (!o->completed)
            continue;
        const int64_t v[S__N] = {o->checkpointed_size, o->state_size, o->e2e, o->sync,
                                 o->async, o->align_buffered, o->align_processed,
                                 o->align_persisted, o->align_duration, o->start_delay};
        memcpy(vals[n++], v, sizeof v);
    }
    d->n_subtasks = par;
    cpw_flink_stat *stats[S__N] = {&d->checkpointed_size, &d->state_size, &d->e2e, &d->sync,
                                   &d->async, &d->align_buffered, &d->align_processed,
                                   &d->align_persisted, &d->align_duration, &d->start_delay};
    int64_t col[CPW_MAX_PARALLELISM];
    for (int f = 0; f < S__N; f++) {
        for (int i = 0; i < n; i++)
            col[i] = vals[i][f];
        *stats[f] = exact_stat(col, n);
    }
    d->has_checkpointed_size = true;
}

int cpa_rest_subtasks(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    const cpw_state *s = r->a->state;
    char msg[CPA_REST_MSG_MAX];
    const cpw_cp *cp = with_detail(s, req->cpid);
    if (!cp && !cpa_rest_hist_find(r->hist, req->cpid))
        return not_found_cp(req->cpid, out);
    int op = cpa_rest_vertex_of(r, req->vid);
    cpw_buf_reset(out);
    if (op < 0) {
        snprintf(msg, sizeof msg, "There is no checkpoint statistics for task %s.", req->vid);
        cpw_flink_write_error(out, msg);
        return 404;
    }
    if (!cp) {
        snprintf(msg, sizeof msg,
                 "Could not find checkpointing statistics for the subtasks of checkpoint %lld: "
                 "the agent keeps them for the checkpoints in flight and the newest %d "
                 "finished ones.", (long long)req->cpid, r->a->conf.detail_size);
        cpw_flink_write_error(out, msg);
        return 404;
    }
    cpw_flink_task_detail d;
    memset(&d, 0, sizeof d);
    int par = s->hello.ops[op].parallelism;
    d.subtasks = calloc((size_t)par, sizeof *d.subtasks);
    int64_t(*vals)[S__N] = calloc((size_t)par, sizeof *vals);
    if (!d.subtasks || !vals) {
        free(d.subtasks);
        free(vals);
        cpw_flink_write_error(out, "Out of memory.");
        return 500;
    }
    fill_detail(s, cp, op, req->vid, &d, vals);
    cpw_flink_write_task_detail(out, &d);
    free(d.subtasks);
    free(vals);
    return 200;
}

/* ------------------------------------------------------------------ configuration */

static int64_t conf_ms(const cpa_rest *r, const char *key, int64_t def)
{
    int64_t v;
    const char *s = cpa_rest_conf(r, key);
    return s && cpw_flink_parse_duration_ms(s, &v) ? v : def;
}

static bool conf_true(const cpa_rest *r, const char *key)
{
    const char *s = cpa_rest_conf(r, key);
    return s && !strcasecmp(s, "true");
}

int cpa_rest_cp_config(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    cpw_flink_cp_config c = {.max_concurrent = 1, .after_tasks_finish = true,
                             .ext_delete_on_cancellation = true};
    const char *mode = cpa_rest_conf(r, "execution.checkpointing.mode");
    snprintf(c.mode, sizeof c.mode, "%s", mode ? mode : "exactly_once");
    for (char *p = c.mode; *p; p++) /* Flink answers in lowercase */
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p | 0x20 : *p);
    /* no periodic checkpoints: Long.MAX, as Flink */
    c.interval = conf_ms(r, "execution.checkpointing.interval", 0);
    if (c.interval <= 0)
        c.interval = INT64_MAX;
    c.timeout = conf_ms(r, "execution.checkpointing.timeout", 600000);
    c.min_pause = conf_ms(r, "execution.checkpointing.min-pause", 0);
    const char *v = cpa_rest_conf(r, "execution.checkpointing.max-concurrent-checkpoints");
    if (v && atoi(v) > 0)
        c.max_concurrent = atoi(v);
    v = cpa_rest_conf(r, "execution.checkpointing.tolerable-failed-checkpoints");
    c.tolerable_failed = v ? atoll(v) : 0;
    c.aligned_timeout = conf_ms(r, "execution.checkpointing.aligned-checkpoint-timeout", 0);
    c.unaligned = conf_true(r, "execution.checkpointing.unaligned.enabled") ||
                  conf_true(r, "execution.checkpointing.unaligned");
    v = cpa_rest_conf(r, "execution.checkpointing.externalized-checkpoint-retention");
    if (v && strcmp(v, "NO_EXTERNALIZED_CHECKPOINTS")) {
        c.ext_enabled = true;
        c.ext_delete_on_cancellation = !strcmp(v, "DELETE_ON_CANCELLATION");
    }
    v = cpa_rest_conf(r, "state.backend.type");
    snprintf(c.state_backend, sizeof c.state_backend, "%s",
             v && !strcasecmp(v, "rocksdb") ? "EmbeddedRocksDBStateBackend" : "HashMapStateBackend");
    bool fs = cpa_rest_conf(r, "execution.checkpointing.storage") ||
              cpa_rest_conf(r, "state.checkpoints.dir");
    snprintf(c.checkpoint_storage, sizeof c.checkpoint_storage, "%s",
             fs ? "FileSystemCheckpointStorage" : "JobManagerCheckpointStorage");
    cpw_buf_reset(out);
    cpw_flink_write_cp_config(out, &c);
    return 200;
}
