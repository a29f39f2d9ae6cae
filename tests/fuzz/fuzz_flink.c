/*
 * fuzz_flink.c — libFuzzer target for the Flink REST reader
 * (protocol/cpw_flink_read*.c): what a dashboard reads from a Flink
 * JobManager, or from anything answering on its port.
 *
 * The first byte picks the reader, the rest is the response body.
 * Invariants (abort() when broken):
 *  - a refused body leaves the value cleared, with an error code and text;
 *  - an accepted one has its counts within the limits and every string
 *    NUL-terminated inside its field;
 *  - written back by the matching writer, it reads back to the same values.
 *
 *   make fuzz-build && build/fuzz/fuzz_flink -dict=tests/fuzz/fuzz_flink.dict \
 *        build/fuzz/corpus-fuzz_flink tests/fuzz/corpus/fuzz_flink
 */
#include "fuzz_check.h"
#include "cpw_flink.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void fz_str(const char *s, size_t cap) { FZ_CHECK(memchr(s, 0, cap) != NULL); }

static bool same_num(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void same_stat(const cpw_flink_stat *a, const cpw_flink_stat *b)
{
    FZ_CHECK(a->min == b->min && a->max == b->max && a->avg == b->avg);
    FZ_CHECK(a->has_pct == b->has_pct);
    if (a->has_pct)
        FZ_CHECK(same_num(a->p50, b->p50) && same_num(a->p90, b->p90) &&
                 same_num(a->p95, b->p95) && same_num(a->p99, b->p99) &&
                 same_num(a->p999, b->p999));
}

static void same_opt(const char *a, const char *b)
{
    FZ_CHECK((a == NULL) == (b == NULL));
    FZ_CHECK(!a || !strcmp(a, b));
}

static void same_cp(const cpw_flink_cp *a, const cpw_flink_cp *b)
{
    fz_str(a->checkpoint_type, sizeof a->checkpoint_type);
    fz_str(a->savepoint_format, sizeof a->savepoint_format);
    FZ_CHECK(a->n_tasks >= 0 && a->n_tasks <= CPW_FLINK_MAX_VERTICES);
    FZ_CHECK(a->cls == b->cls && a->id == b->id && a->status == b->status);
    FZ_CHECK(a->trigger_ts == b->trigger_ts && a->latest_ack_ts == b->latest_ack_ts);
    FZ_CHECK(a->has_checkpointed_size == b->has_checkpointed_size);
    FZ_CHECK(!a->has_checkpointed_size || a->checkpointed_size == b->checkpointed_size);
    FZ_CHECK(a->state_size == b->state_size && a->e2e == b->e2e);
    FZ_CHECK(a->num_subtasks == b->num_subtasks && a->num_acked == b->num_acked);
    FZ_CHECK(a->n_tasks == b->n_tasks);
    for (int i = 0; i < a->n_tasks; i++) {
        FZ_CHECK(strlen(a->tasks[i].vertex) == CPW_FLINK_ID_HEX);
        FZ_CHECK(!strcmp(a->tasks[i].vertex, b->tasks[i].vertex));
        FZ_CHECK(a->tasks[i].state_size == b->tasks[i].state_size);
    }
    if (a->cls == CPW_FLINK_COMPLETED)
        same_opt(a->external_path, b->external_path);
    if (a->cls == CPW_FLINK_FAILED)
        same_opt(a->failure_message, b->failure_message);
    FZ_CHECK(!a->failure_message || strlen(a->failure_message) < CPW_FLINK_TEXT_MAX);
}

static void stats(const char *buf, size_t len)
{
    cpw_flink_stats s, t;
    cpw_error e = {0};
    if (cpw_flink_read_stats(buf, len, &s, &e) != CPW_OK) {
        FZ_CHECK(e.code != CPW_OK && e.text[0] && s.n_history == 0 && !s.history);
        return;
    }
    FZ_CHECK(s.n_history >= 0 && s.n_history <= CPW_FLINK_MAX_HISTORY);
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_stats(&b, &s);
    FZ_CHECK(!b.failed);
    cpw_err rc = cpw_flink_read_stats(b.data, b.len, &t, &e);
    if (rc) {
        fprintf(stderr, "re-read failed: %s (%s)\n%.500s\n", e.text, e.field, b.data);
        abort();
    }
    FZ_CHECK(!memcmp(&s.counts, &t.counts, sizeof s.counts));
    FZ_CHECK(s.has_checkpointed_size == t.has_checkpointed_size);
    same_stat(&s.state_size, &t.state_size);
    same_stat(&s.e2e, &t.e2e);
    FZ_CHECK(s.n_history == t.n_history);
    for (int i = 0; i < s.n_history; i++)
        same_cp(&s.history[i], &t.history[i]);
    FZ_CHECK(!s.latest_completed == !t.latest_completed);
    if (s.latest_completed)
        same_cp(s.latest_completed, t.latest_completed);
    cpw_flink_stats_clear(&s);
    cpw_flink_stats_clear(&t);
    cpw_buf_free(&b);
}

static void one_cp(const char *buf, size_t len)
{
    cpw_flink_cp a, c;
    cpw_error e = {0};
    if (cpw_flink_read_cp(buf, len, &a, &e) != CPW_OK) {
        FZ_CHECK(e.code != CPW_OK && a.n_tasks == 0 && !a.tasks);
        return;
    }
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_cp(&b, &a);
    FZ_CHECK(cpw_flink_read_cp(b.data, b.len, &c, &e) == CPW_OK);
    same_cp(&a, &c);
    cpw_flink_cp_clear(&a);
    cpw_flink_cp_clear(&c);
    cpw_buf_free(&b);
}

static void task_detail(const char *buf, size_t len)
{
    cpw_flink_task_detail a, c;
    cpw_error e = {0};
    if (cpw_flink_read_task_detail(buf, len, &a, &e) != CPW_OK)
        return;
    FZ_CHECK(a.n_subtasks >= 0 && a.n_subtasks <= CPW_FLINK_MAX_SUBTASKS);
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_task_detail(&b, &a);
    FZ_CHECK(cpw_flink_read_task_detail(b.data, b.len, &c, &e) == CPW_OK);
    FZ_CHECK(a.n_subtasks == c.n_subtasks && a.task.id == c.task.id);
    same_stat(&a.async, &c.async);
    for (int i = 0; i < a.n_subtasks; i++)
        FZ_CHECK(a.subtasks[i].completed == c.subtasks[i].completed &&
                 a.subtasks[i].index == c.subtasks[i].index);
    cpw_flink_task_detail_clear(&a);
    cpw_flink_task_detail_clear(&c);
    cpw_buf_free(&b);
}

static void jobs_and_details(const char *buf, size_t len)
{
    cpw_flink_jobs j, k;
    cpw_error e = {0};
    if (cpw_flink_read_jobs(buf, len, &j, &e) == CPW_OK) {
        cpw_buf b;
        cpw_buf_init(&b);
        cpw_flink_write_overview(&b, &j);
        FZ_CHECK(cpw_flink_read_jobs(b.data, b.len, &k, &e) == CPW_OK && k.n == j.n);
        for (int i = 0; i < j.n; i++) {
            fz_str(j.jobs[i].name, sizeof j.jobs[i].name);
            FZ_CHECK(!strcmp(j.jobs[i].jid, k.jobs[i].jid) && !strcmp(j.jobs[i].state, k.jobs[i].state));
        }
        cpw_flink_jobs_clear(&k);
        cpw_buf_free(&b);
    }
    cpw_flink_jobs_clear(&j);
    cpw_flink_job_details d, d2;
    if (cpw_flink_read_job_details(buf, len, &d, &e) == CPW_OK) {
        cpw_buf b;
        cpw_buf_init(&b);
        cpw_flink_write_job_details(&b, &d);
        FZ_CHECK(cpw_flink_read_job_details(b.data, b.len, &d2, &e) == CPW_OK);
        FZ_CHECK(d.n_vertices == d2.n_vertices && d.n_edges <= CPW_FLINK_MAX_EDGES);
        for (int i = 0; i < d.n_edges; i++)
            FZ_CHECK(d.edges[i].from >= 0 && d.edges[i].from < d.n_vertices &&
                     d.edges[i].to >= 0 && d.edges[i].to < d.n_vertices);
        cpw_flink_job_details_clear(&d2);
        cpw_buf_free(&b);
    }
    cpw_flink_job_details_clear(&d);
}

static void small_ones(const char *buf, size_t len)
{
    cpw_error e = {0};
    cpw_flink_cp_config c, c2;
    cpw_buf b;
    cpw_buf_init(&b);
    if (cpw_flink_read_cp_config(buf, len, &c, &e) == CPW_OK) {
        cpw_flink_write_cp_config(&b, &c);
        FZ_CHECK(cpw_flink_read_cp_config(b.data, b.len, &c2, &e) == CPW_OK);
        FZ_CHECK(!memcmp(&c, &c2, sizeof c));
    }
    cpw_flink_dashboard d;
    if (cpw_flink_read_dashboard(buf, len, &d, &e) == CPW_OK)
        fz_str(d.flink_version, sizeof d.flink_version);
    cpw_flink_op op, op2;
    if (cpw_flink_read_op(buf, len, &op, &e) == CPW_OK) {
        cpw_buf_reset(&b);
        cpw_flink_write_op(&b, &op);
        FZ_CHECK(cpw_flink_read_op(b.data, b.len, &op2, &e) == CPW_OK);
        FZ_CHECK(op.completed == op2.completed && op.failed == op2.failed);
        FZ_CHECK(op.failed || !op.completed || op.location || op.checkpoint_id == op2.checkpoint_id);
        FZ_CHECK(!op.location == !op2.location);
        FZ_CHECK(!op.location || !strcmp(op.location, op2.location));
        cpw_flink_op_clear(&op2);
    }
    cpw_flink_op_clear(&op);
    char id[CPW_FLINK_ID_HEX + 1], msg[64];
    if (cpw_flink_read_trigger(buf, len, id, &e) == CPW_OK)
        FZ_CHECK(strlen(id) == CPW_FLINK_ID_HEX);
    if (cpw_flink_read_error(buf, len, msg, sizeof msg, &e) == CPW_OK)
        fz_str(msg, sizeof msg);
    cpw_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 5) {
    case 0: stats(buf, len); break;
    case 1: one_cp(buf, len); break;
    case 2: task_detail(buf, len); break;
    case 3: jobs_and_details(buf, len); break;
    default: small_ones(buf, len); break;
    }
    return 0;
}
