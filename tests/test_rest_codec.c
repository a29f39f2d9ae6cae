/*
 * test_rest_codec.c — the Flink REST codec (protocol/cpw_flink*.c): every
 * writer read back by its reader, the two recorded Flink responses in
 * tests/fixtures/flink/ read, written and compared field by field (names
 * and JSON types), version tolerance and hostile input.
 */
#include "cpt_test.h"
#include "cpw_flink.h"

#include <jansson.h>
#include <math.h>

/* ------------------------------------------------------------------ helpers */

static char *slurp(const char *name, size_t *len)
{
    /* fixtures sit beside this file, wherever the tests run from */
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__ + 1) : 0;
    snprintf(path, sizeof path, "%.*sfixtures/flink/%s", dir, __FILE__, name);
    FILE *f = fopen(path, "rb");
    CPT_ASSERTF(f != NULL, "cannot open fixture %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    CPT_ASSERT(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The body the archive holds for the REST path ending in `suffix`. */
static char *archive_body(json_t *archive, const char *suffix)
{
    json_t *a = json_object_get(archive, "archive"), *e;
    size_t i, sl = strlen(suffix);
    json_array_foreach(a, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        size_t pl = p ? strlen(p) : 0;
        if (pl >= sl && !strcmp(p + pl - sl, suffix))
            return strdup(json_string_value(json_object_get(e, "json")));
    }
    cpt_fail_at(__FILE__, __LINE__, "archive has no %s", suffix);
}

static bool same_type(json_t *a, json_t *b)
{
    if (json_is_boolean(a) && json_is_boolean(b))
        return true;
    return json_typeof(a) == json_typeof(b);
}

/*
 * Whether `ours` has every member of `theirs`, recursively, with the same
 * JSON type ("@class" is spelled "className" since 1.15), and nothing
 * besides except members named in `extra` (fields a newer Flink added).
 * Arrays compare their first elements. Explains the first difference.
 */
static bool same_shape(json_t *theirs, json_t *ours, const char *path,
                       const char *const *extra, char *why, size_t wsz)
{
    if (!same_type(theirs, ours)) {
        snprintf(why, wsz, "%s: type %d here, %d in the recording", path, json_typeof(ours),
                 json_typeof(theirs));
        return false;
    }
    char sub[300];
    if (json_is_array(theirs) && json_array_size(theirs) && json_array_size(ours)) {
        snprintf(sub, sizeof sub, "%s[0]", path);
        return same_shape(json_array_get(theirs, 0), json_array_get(ours, 0), sub, extra, why,
                          wsz);
    }
    if (!json_is_object(theirs))
        return true;
    const char *k;
    json_t *v;
    json_object_foreach(theirs, k, v) {
        const char *kk = !strcmp(k, "@class") ? "className" : k;
        json_t *o = json_object_get(ours, kk);
        snprintf(sub, sizeof sub, "%s.%s", path, kk);
        if (!o) {
            snprintf(why, wsz, "%s: missing here", sub);
            return false;
        }
        if (!same_shape(v, o, sub, extra, why, wsz))
            return false;
    }
    json_object_foreach(ours, k, v) {
        bool known = json_object_get(theirs, k) ||
                     (!strcmp(k, "className") && json_object_get(theirs, "@class"));
        for (int i = 0; !known && extra[i]; i++)
            known = !strcmp(extra[i], k);
        if (!known) {
            snprintf(why, wsz, "%s.%s: here but not in the recording", path, k);
            return false;
        }
    }
    return true;
}

static void assert_same_shape(const char *theirs, const cpw_buf *ours, const char *const *extra)
{
    CPT_ASSERT(!ours->failed);
    json_error_t je;
    json_t *a = json_loads(theirs, 0, &je), *b = json_loadb(ours->data, ours->len, 0, &je);
    CPT_ASSERTF(a && b, "unparsable: %s", je.text);
    char why[400] = "";
    CPT_ASSERTF(same_shape(a, b, "$", extra, why, sizeof why), "%s\nours: %.600s", why,
                ours->data);
    json_decref(a);
    json_decref(b);
}

static const char *const no_extra[] = {NULL};

static void eq_stat(const cpw_flink_stat *a, const cpw_flink_stat *b)
{
    CPT_EQ_INT(a->min, b->min);
    CPT_EQ_INT(a->max, b->max);
    CPT_EQ_INT(a->avg, b->avg);
    CPT_EQ_INT(a->has_pct, b->has_pct);
    const double x[] = {a->p50, a->p90, a->p95, a->p99, a->p999};
    const double y[] = {b->p50, b->p90, b->p95, b->p99, b->p999};
    for (int i = 0; a->has_pct && i < 5; i++)
        CPT_ASSERTF((isnan(x[i]) && isnan(y[i])) || x[i] == y[i], "percentile %d: %g vs %g",
                    i, x[i], y[i]);
}

static void eq_str_or_null(const char *a, const char *b)
{
    CPT_ASSERT((a == NULL) == (b == NULL));
    if (a)
        CPT_EQ_STR(a, b);
}

static void eq_cp(const cpw_flink_cp *a, const cpw_flink_cp *b)
{
    CPT_EQ_INT(a->cls, b->cls);
    CPT_EQ_INT(a->id, b->id);
    CPT_EQ_INT(a->status, b->status);
    CPT_EQ_INT(a->is_savepoint, b->is_savepoint);
    CPT_EQ_STR(a->savepoint_format, b->savepoint_format);
    CPT_EQ_INT(a->trigger_ts, b->trigger_ts);
    CPT_EQ_INT(a->latest_ack_ts, b->latest_ack_ts);
    CPT_EQ_INT(a->has_checkpointed_size, b->has_checkpointed_size);
    CPT_EQ_INT(a->checkpointed_size, b->checkpointed_size);
    CPT_EQ_INT(a->state_size, b->state_size);
    CPT_EQ_INT(a->e2e, b->e2e);
    CPT_EQ_INT(a->processed, b->processed);
    CPT_EQ_INT(a->persisted, b->persisted);
    CPT_EQ_INT(a->num_subtasks, b->num_subtasks);
    CPT_EQ_INT(a->num_acked, b->num_acked);
    CPT_EQ_STR(a->checkpoint_type, b->checkpoint_type);
    CPT_EQ_INT(a->n_tasks, b->n_tasks);
    for (int i = 0; i < a->n_tasks; i++) {
        const cpw_flink_task *x = &a->tasks[i], *y = &b->tasks[i];
        CPT_EQ_STR(x->vertex, y->vertex);
        CPT_EQ_INT(x->latest_ack_ts, y->latest_ack_ts);
        CPT_EQ_INT(x->state_size, y->state_size);
        CPT_EQ_INT(x->checkpointed_size, y->checkpointed_size);
        CPT_EQ_INT(x->e2e, y->e2e);
        CPT_EQ_INT(x->num_subtasks, y->num_subtasks);
        CPT_EQ_INT(x->num_acked, y->num_acked);
        CPT_EQ_INT(x->status, y->status);
    }
    if (a->cls == CPW_FLINK_COMPLETED) {
        eq_str_or_null(a->external_path, b->external_path);
        CPT_EQ_INT(a->discarded, b->discarded);
    }
    if (a->cls == CPW_FLINK_FAILED) {
        CPT_EQ_INT(a->failure_ts, b->failure_ts);
        eq_str_or_null(a->failure_message, b->failure_message);
    }
}

static void eq_stats(const cpw_flink_stats *a, const cpw_flink_stats *b)
{
    CPT_ASSERT(!memcmp(&a->counts, &b->counts, sizeof a->counts));
    CPT_EQ_INT(a->has_checkpointed_size, b->has_checkpointed_size);
    eq_stat(&a->checkpointed_size, &b->checkpointed_size);
    eq_stat(&a->state_size, &b->state_size);
    eq_stat(&a->e2e, &b->e2e);
    eq_stat(&a->alignment_buffered, &b->alignment_buffered);
    eq_stat(&a->processed, &b->processed);
    eq_stat(&a->persisted, &b->persisted);
    const cpw_flink_cp *la[] = {a->latest_completed, a->latest_savepoint, a->latest_failed};
    const cpw_flink_cp *lb[] = {b->latest_completed, b->latest_savepoint, b->latest_failed};
    for (int i = 0; i < 3; i++) {
        CPT_ASSERT((la[i] == NULL) == (lb[i] == NULL));
        if (la[i])
            eq_cp(la[i], lb[i]);
    }
    CPT_ASSERT((a->latest_restored == NULL) == (b->latest_restored == NULL));
    if (a->latest_restored) {
        CPT_EQ_INT(a->latest_restored->id, b->latest_restored->id);
        CPT_EQ_INT(a->latest_restored->restore_ts, b->latest_restored->restore_ts);
        eq_str_or_null(a->latest_restored->external_path, b->latest_restored->external_path);
    }
    CPT_EQ_INT(a->n_history, b->n_history);
    for (int i = 0; i < a->n_history; i++)
        eq_cp(&a->history[i], &b->history[i]);
}

static cpw_flink_stats reread_stats(const cpw_flink_stats *in, cpw_buf *b)
{
    cpw_buf_reset(b);
    cpw_flink_write_stats(b, in);
    CPT_ASSERT(!b->failed);
    cpw_flink_stats out;
    cpw_error e = {0};
    cpw_err r = cpw_flink_read_stats(b->data, b->len, &out, &e);
    CPT_ASSERTF(r == CPW_OK, "read back: %s (%s) in %.400s", cpw_err_name(r), e.text, b->data);
    return out;
}

/* ------------------------------------------------------------------ round trips */

static cpw_flink_stat stat_of(int64_t base)
{
    cpw_flink_stat s = {.min = base, .max = base * 3, .avg = base * 2, .has_pct = true,
                        .p50 = (double)base * 2, .p90 = 2.5 * (double)base, .p95 = 0.1,
                        .p99 = 1e300, .p999 = NAN};
    return s;
}

CPT_TEST(stats_round_trip_every_field)
{
    cpw_flink_task tasks[2] = {
        {.id = 9, .status = CPW_FLINK_COMPLETED, .latest_ack_ts = 1700000000123,
         .has_checkpointed_size = true, .checkpointed_size = 5, .state_size = 7, .e2e = 12,
         .processed = 3, .persisted = 4, .num_subtasks = 2, .num_acked = 2},
        {.id = 9, .status = CPW_FLINK_COMPLETED, .latest_ack_ts = -1,
         .has_checkpointed_size = true, .e2e = -1, .num_subtasks = 1},
    };
    cpw_flink_derive_id(tasks[0].vertex, "vertex", "job-1", 0);
    cpw_flink_derive_id(tasks[1].vertex, "vertex", "job-1", 1);
    char path[] = "file:///tmp/cp/chk-9", msg[] = "Checkpoint expired before completing. \"q\"\n";
    cpw_flink_cp hist[3] = {
        {.cls = CPW_FLINK_IN_PROGRESS, .id = 10, .status = CPW_FLINK_IN_PROGRESS,
         .trigger_ts = 1700000000500, .latest_ack_ts = -1, .has_checkpointed_size = true,
         .e2e = -1, .num_subtasks = 3, .checkpoint_type = "CHECKPOINT"},
        {.cls = CPW_FLINK_COMPLETED, .id = 9, .status = CPW_FLINK_COMPLETED,
         .trigger_ts = 1700000000100, .latest_ack_ts = 1700000000123,
         .has_checkpointed_size = true, .checkpointed_size = 5, .state_size = 7, .e2e = 23,
         .processed = 3, .persisted = 4, .num_subtasks = 3, .num_acked = 3,
         .checkpoint_type = "UNALIGNED_CHECKPOINT", .n_tasks = 2, .tasks = tasks,
         .external_path = path},
        {.cls = CPW_FLINK_FAILED, .id = 8, .status = CPW_FLINK_FAILED, .trigger_ts = 1699999990000,
         .latest_ack_ts = 1699999990001, .has_checkpointed_size = true, .e2e = 600000,
         .num_subtasks = 3, .num_acked = 1, .checkpoint_type = "CHECKPOINT",
         .failure_ts = 1700000590000, .failure_message = msg},
    };
    cpw_flink_restored rest = {.id = 4, .restore_ts = 1699999000000};
    cpw_flink_stats s = {
        .counts = {1, 10, 1, 7, 2}, .has_checkpointed_size = true,
        .checkpointed_size = stat_of(5), .state_size = stat_of(7), .e2e = stat_of(20),
        .alignment_buffered = stat_of(0), .processed = cpw_flink_stat_empty(),
        .persisted = stat_of(1), .latest_completed = &hist[1], .latest_failed = &hist[2],
        .latest_restored = &rest, .n_history = 3, .history = hist};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_stats r = reread_stats(&s, &b);
    eq_stats(&s, &r);
    CPT_ASSERT(strstr(b.data, "\"p999\":\"NaN\"") != NULL);        /* NaN as Jackson writes it */
    CPT_ASSERT(strstr(b.data, "\"p99\":1e+300") != NULL);
    CPT_ASSERT(strstr(b.data, "\"savepoint\":null") != NULL);
    CPT_ASSERT(strstr(b.data, "\"savepointFormat\":null") != NULL);
    CPT_ASSERT(strstr(b.data, "\"external_path\":null") != NULL); /* restored: unknown */
    cpw_flink_stats_clear(&r);
    CPT_EQ_INT(r.n_history, 0);
    cpw_flink_stats_clear(&r); /* twice is fine */
    cpw_buf_free(&b);
}

CPT_TEST(details_and_subtasks_round_trip)
{
    cpw_flink_subtask subs[3] = {
        {.index = 0, .completed = true, .ack_ts = 1700000000123, .e2e = 23,
         .has_checkpointed_size = true, .checkpointed_size = 5, .state_size = 7, .sync = 1,
         .async = 20, .align_buffered = 0, .align_processed = 9, .align_persisted = 8,
         .align_duration = 2, .start_delay = 1, .unaligned = true},
        {.index = 1},
        {.index = 2, .completed = true, .ack_ts = 1, .aborted = true},
    };
    cpw_flink_task_detail d = {
        .task = {.id = 9, .status = CPW_FLINK_IN_PROGRESS, .latest_ack_ts = 1700000000123,
                 .has_checkpointed_size = true, .checkpointed_size = 5, .state_size = 7,
                 .e2e = 23, .num_subtasks = 3, .num_acked = 2},
        .checkpointed_size = stat_of(5), .state_size = stat_of(7), .e2e = stat_of(23),
        .sync = stat_of(1), .async = stat_of(20), .align_buffered = stat_of(0),
        .align_processed = stat_of(9), .align_persisted = stat_of(8),
        .align_duration = stat_of(2), .start_delay = cpw_flink_stat_empty(),
        .has_checkpointed_size = true, .n_subtasks = 3, .subtasks = subs};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_task_detail(&b, &d);
    CPT_ASSERT(strstr(b.data, "{\"className\":\"pending\",\"index\":1,\"status\":\"pending_or_failed\"}"));
    cpw_flink_task_detail r;
    cpw_error e = {0};
    CPT_EQ_INT(cpw_flink_read_task_detail(b.data, b.len, &r, &e), CPW_OK);
    CPT_EQ_INT(r.task.id, 9);
    CPT_EQ_INT(r.task.status, CPW_FLINK_IN_PROGRESS);
    CPT_EQ_INT(r.task.num_acked, 2);
    eq_stat(&d.async, &r.async);
    eq_stat(&d.align_processed, &r.align_processed);
    eq_stat(&d.start_delay, &r.start_delay);
    CPT_EQ_INT(r.n_subtasks, 3);
    CPT_ASSERT(!memcmp(&r.subtasks[0], &subs[0], sizeof subs[0]));
    CPT_ASSERT(!r.subtasks[1].completed);
    CPT_EQ_INT(r.subtasks[2].aborted, 1);
    cpw_flink_task_detail_clear(&r);
    cpw_buf_free(&b);
}

CPT_TEST(config_dashboard_jobs_op_round_trip)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_error e = {0};
    cpw_flink_cp_config c = {.mode = "exactly_once", .interval = INT64_MAX, .timeout = 600000,
                             .min_pause = 5, .max_concurrent = 2, .ext_enabled = true,
                             .state_backend = "HashMapStateBackend",
                             .checkpoint_storage = "FileSystemCheckpointStorage",
                             .tolerable_failed = 3, .after_tasks_finish = true}, rc;
    cpw_flink_write_cp_config(&b, &c);
    CPT_ASSERT(strstr(b.data, "\"interval\":9223372036854775807"));
    CPT_EQ_INT(cpw_flink_read_cp_config(b.data, b.len, &rc, &e), CPW_OK);
    CPT_ASSERT(!memcmp(&c, &rc, sizeof c));

    cpw_flink_dashboard d = {.refresh_interval = 3000, .timezone_name = "UTC",
                             .flink_version = CPW_FLINK_EMULATED "-libcpagent-0.2.0",
                             .flink_revision = "libcpagent", .web_cancel = true}, rd;
    cpw_buf_reset(&b);
    cpw_flink_write_dashboard(&b, &d);
    CPT_EQ_INT(cpw_flink_read_dashboard(b.data, b.len, &rd, &e), CPW_OK);
    CPT_EQ_STR(rd.flink_version, d.flink_version);
    CPT_EQ_INT(rd.version_major, 1);
    CPT_EQ_INT(rd.version_minor, 19);
    CPT_EQ_INT(rd.web_cancel, 1);

    cpw_flink_job j = {.name = "pay\"ments", .state = "RUNNING", .start_time = 5,
                       .end_time = -1, .duration = 7, .last_modification = 6,
                       .tasks_total = 4, .tasks = {[3] = 4}};
    cpw_flink_derive_id(j.jid, "job", "payments-1", 0);
    cpw_flink_jobs js = {1, &j}, rj;
    cpw_buf_reset(&b);
    cpw_flink_write_overview(&b, &js);
    CPT_EQ_INT(cpw_flink_read_jobs(b.data, b.len, &rj, &e), CPW_OK);
    CPT_EQ_INT(rj.n, 1);
    CPT_ASSERT(!memcmp(&rj.jobs[0], &j, sizeof j));
    cpw_flink_jobs_clear(&rj);
    cpw_buf_reset(&b);
    cpw_flink_write_job_ids(&b, &js);
    CPT_EQ_INT(cpw_flink_read_jobs(b.data, b.len, &rj, &e), CPW_OK);
    CPT_EQ_STR(rj.jobs[0].jid, j.jid);
    CPT_EQ_STR(rj.jobs[0].state, "RUNNING");
    cpw_flink_jobs_clear(&rj);

    const cpw_flink_op ops[] = {{.completed = false},
                                {.completed = true, .checkpoint_id = 42},
                                {.completed = true, .failed = true,
                                 .failure_class = "org.apache.flink.runtime.checkpoint.CheckpointException",
                                 .failure_stack = "refused: \"busy\""},
                                /* a savepoint's: where it went, no checkpoint id */
                                {.completed = true, .location = "file:/data/sp/savepoint-0a1b2c-7"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        cpw_flink_op r;
        cpw_buf_reset(&b);
        cpw_flink_write_op(&b, &ops[i]);
        CPT_EQ_INT(cpw_flink_read_op(b.data, b.len, &r, &e), CPW_OK);
        CPT_EQ_INT(r.completed, ops[i].completed);
        CPT_EQ_INT(r.failed, ops[i].failed);
        CPT_EQ_INT(r.checkpoint_id, ops[i].checkpoint_id);
        eq_str_or_null(r.failure_stack, ops[i].failure_stack);
        eq_str_or_null(r.location, ops[i].location);
        cpw_flink_op_clear(&r);
    }
    char id[CPW_FLINK_ID_HEX + 1], back[CPW_FLINK_ID_HEX + 1], msg[64];
    cpw_flink_derive_id(id, "trigger", "x", 1);
    cpw_buf_reset(&b);
    cpw_flink_write_trigger(&b, id);
    CPT_EQ_INT(cpw_flink_read_trigger(b.data, b.len, back, &e), CPW_OK);
    CPT_EQ_STR(back, id);
    cpw_buf_reset(&b);
    cpw_flink_write_error(&b, "Not found: /x");
    CPT_EQ_STR(b.data, "{\"errors\":[\"Not found: /x\"]}");
    CPT_EQ_INT(cpw_flink_read_error(b.data, b.len, msg, sizeof msg, &e), CPW_OK);
    CPT_EQ_STR(msg, "Not found: /x");
    cpw_buf_free(&b);
}

CPT_TEST(job_details_round_trip_keeps_the_plan)
{
    cpw_flink_vertex v[3] = {{.name = "source", .parallelism = 2, .max_parallelism = 2,
                              .status = "RUNNING", .tasks = {[3] = 2}, .write_records = 99},
                             {.name = "sum", .parallelism = 1, .status = "RUNNING",
                              .read_records = 98},
                             {.name = "sink", .parallelism = 1, .status = "RUNNING"}};
    for (int i = 0; i < 3; i++)
        cpw_flink_derive_id(v[i].id, "vertex", "j", i);
    cpw_flink_edge edges[] = {{0, 1, "HASH"}, {1, 2, "FORWARD"}, {0, 2, "REBALANCE"}};
    cpw_flink_job_details d = {.job = {.name = "j", .state = "RUNNING", .end_time = -1},
                               .max_parallelism = -1, .now = 9, .n_vertices = 3,
                               .vertices = v, .n_edges = 3, .edges = edges};
    cpw_flink_derive_id(d.job.jid, "job", "j", 0);
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_job_details(&b, &d);
    cpw_flink_job_details r;
    cpw_error e = {0};
    CPT_EQ_INT(cpw_flink_read_job_details(b.data, b.len, &r, &e), CPW_OK);
    CPT_EQ_INT(r.n_vertices, 3);
    CPT_ASSERT(!memcmp(r.vertices, v, sizeof v));
    CPT_EQ_INT(r.n_edges, 3);
    /* edges come back grouped by the vertex that reads them */
    int seen = 0;
    for (int i = 0; i < r.n_edges; i++)
        for (int k = 0; k < 3; k++)
            if (r.edges[i].from == edges[k].from && r.edges[i].to == edges[k].to &&
                !strcmp(r.edges[i].ship_strategy, edges[k].ship_strategy))
                seen |= 1 << k;
    CPT_EQ_INT(seen, 7);
    cpw_flink_job_details_clear(&r);
    cpw_buf_free(&b);
}

/* ------------------------------------------------------------------ recordings */

CPT_TEST(fixture_flink_1_12_checkpoints)
{
    size_t len;
    char *body = slurp("checkpoints-flink1.12-production.json", &len);
    cpw_flink_stats s;
    cpw_error e = {0};
    cpw_err r = cpw_flink_read_stats(body, len, &s, &e);
    CPT_ASSERTF(r == CPW_OK, "%s: %s (%s)", cpw_err_name(r), e.text, e.field);
    CPT_EQ_INT(s.counts.total, 1914);
    CPT_EQ_INT(s.counts.completed, 1914);
    CPT_EQ_INT(s.has_checkpointed_size, 0);  /* before 1.15 */
    CPT_EQ_INT(s.state_size.has_pct, 0);     /* before 1.14 */
    CPT_EQ_INT(s.state_size.min, 30751);
    CPT_EQ_INT(s.e2e.max, 6273);
    CPT_ASSERT(s.latest_completed && !s.latest_failed && !s.latest_savepoint && !s.latest_restored);
    CPT_EQ_INT(s.latest_completed->cls, CPW_FLINK_COMPLETED); /* from "@class" */
    CPT_EQ_INT(s.latest_completed->id, 1914);
    CPT_EQ_INT(s.latest_completed->has_checkpointed_size, 0);
    CPT_EQ_STR(s.latest_completed->external_path,
               "oss:///streampark/prod/checkpoints/60dd003f048a5b2f92f0874e6612146c/chk-1914");
    CPT_EQ_INT(s.n_history, 1);
    CPT_EQ_INT(s.history[0].e2e, 89);
    /* written back: the same names and types (className for @class), nothing more */
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_stats again = reread_stats(&s, &b);
    eq_stats(&s, &again);
    static const char *const modern[] = {"savepointFormat", NULL};
    assert_same_shape(body, &b, modern);
    cpw_flink_stats_clear(&again);
    cpw_flink_stats_clear(&s);
    cpw_buf_free(&b);
    free(body);
}

CPT_TEST(fixture_flink_1_15_archive)
{
    size_t len;
    char *raw = slurp("historyserver-archive-flink1.15-checkpointing-off.json", &len);
    json_error_t je;
    json_t *archive = json_loadb(raw, len, 0, &je);
    CPT_ASSERTF(archive != NULL, "%s", je.text);
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_error e = {0};

    char *body = archive_body(archive, "/checkpoints");
    cpw_flink_stats s;
    CPT_EQ_INT(cpw_flink_read_stats(body, strlen(body), &s, &e), CPW_OK);
    CPT_EQ_INT(s.counts.total, 0);
    CPT_EQ_INT(s.has_checkpointed_size, 1);
    CPT_ASSERT(s.e2e.has_pct && isnan(s.e2e.p50) && isnan(s.e2e.p999)); /* "NaN" strings */
    CPT_ASSERT(s.alignment_buffered.p50 == 0.0);                        /* 0.0, not "NaN" */
    CPT_EQ_INT(s.n_history, 0);
    cpw_flink_stats again = reread_stats(&s, &b);
    eq_stats(&s, &again);
    assert_same_shape(body, &b, no_extra);
    cpw_flink_stats_clear(&again);
    cpw_flink_stats_clear(&s);
    free(body);

    body = archive_body(archive, "/checkpoints/config");
    cpw_flink_cp_config c, c2;
    CPT_EQ_INT(cpw_flink_read_cp_config(body, strlen(body), &c, &e), CPW_OK);
    CPT_EQ_STR(c.mode, "at_least_once");
    CPT_EQ_INT(c.interval, INT64_MAX);
    CPT_EQ_INT(c.timeout, 600000);
    CPT_EQ_STR(c.state_backend, "HashMapStateBackend");
    cpw_buf_reset(&b);
    cpw_flink_write_cp_config(&b, &c);
    CPT_EQ_INT(cpw_flink_read_cp_config(b.data, b.len, &c2, &e), CPW_OK);
    CPT_ASSERT(!memcmp(&c, &c2, sizeof c));
    static const char *const cfg_extra[] = {"state_changelog_enabled", NULL}; /* 1.16+ */
    assert_same_shape(body, &b, cfg_extra);
    free(body);

    body = archive_body(archive, "/jobs/overview");
    cpw_flink_jobs j;
    CPT_EQ_INT(cpw_flink_read_jobs(body, strlen(body), &j, &e), CPW_OK);
    CPT_EQ_INT(j.n, 1);
    CPT_EQ_STR(j.jobs[0].jid, "d933fa6c785f0db6dccc6cc05dd43bab");
    CPT_EQ_STR(j.jobs[0].state, "FAILED");
    CPT_EQ_INT(j.jobs[0].tasks_total, 1);
    CPT_EQ_INT(j.jobs[0].tasks[7], 1); /* failed */
    cpw_buf_reset(&b);
    cpw_flink_write_overview(&b, &j);
    assert_same_shape(body, &b, no_extra);
    cpw_flink_jobs_clear(&j);
    free(body);

    body = archive_body(archive, "/jobs/d933fa6c785f0db6dccc6cc05dd43bab");
    cpw_flink_job_details d;
    CPT_EQ_INT(cpw_flink_read_job_details(body, strlen(body), &d, &e), CPW_OK);
    CPT_EQ_INT(d.n_vertices, 1);
    CPT_EQ_STR(d.vertices[0].id, "cbc357ccb763df2852fee8c4fc7d55f2");
    CPT_EQ_INT(d.vertices[0].max_parallelism, 128);
    CPT_EQ_INT(d.timestamps[4], 1669348702523); /* FAILED */
    CPT_EQ_INT(d.n_edges, 0);
    cpw_buf_reset(&b);
    cpw_flink_write_job_details(&b, &d);
    /* 1.19 reports these vertex metrics too */
    static const char *const details_extra[] = {"accumulated-backpressured-time",
                                                "accumulated-idle-time",
                                                "accumulated-busy-time", NULL};
    assert_same_shape(body, &b, details_extra);
    cpw_flink_job_details_clear(&d);
    free(body);

    cpw_buf_free(&b);
    json_decref(archive);
    free(raw);
}

/* ------------------------------------------------------------------ tolerance, hostility */

CPT_TEST(reader_tolerates_versions_and_refuses_garbage)
{
    cpw_flink_cp cp;
    cpw_error e = {0};
    /* no discriminator at all: the status decides; uppercase ids are lowercased */
    const char *ok = "{\"id\":3,\"status\":\"FAILED\",\"trigger_timestamp\":1,\"state_size\":0,"
                     "\"num_subtasks\":1,\"num_acknowledged_subtasks\":0,\"tasks\":"
                     "{\"CBC357CCB763DF2852FEE8C4FC7D55F2\":{\"id\":3,\"status\":\"FAILED\","
                     "\"state_size\":0,\"num_subtasks\":1,\"num_acknowledged_subtasks\":0}}}";
    CPT_EQ_INT(cpw_flink_read_cp(ok, strlen(ok), &cp, &e), CPW_OK);
    CPT_EQ_INT(cp.cls, CPW_FLINK_FAILED);
    CPT_EQ_INT(cp.latest_ack_ts, -1);
    CPT_EQ_STR(cp.tasks[0].vertex, "cbc357ccb763df2852fee8c4fc7d55f2");
    cpw_flink_cp_clear(&cp);
    static const struct {
        const char *json;
        cpw_err code;
        const char *field;
    } bad[] = {
        {"", CPW_ERR_SYNTAX, ""},
        {"[1]", CPW_ERR_NOT_OBJECT, ""},
        {"{\"id\":1,\"id\":2}", CPW_ERR_SYNTAX, ""},
        {"{\"id\":\"1\"}", CPW_ERR_WRONG_TYPE, "id"},
        {"{\"id\":1,\"status\":\"DONE\"}", CPW_ERR_BAD_VALUE, "status"},
        {"{\"id\":1,\"status\":\"FAILED\",\"className\":\"weird\"}", CPW_ERR_BAD_VALUE, "className"},
        {"{\"id\":1,\"status\":\"FAILED\",\"trigger_timestamp\":1,\"state_size\":0,\"num_subtasks\":"
         "99999999999,\"num_acknowledged_subtasks\":0}", CPW_ERR_BAD_VALUE, "num_subtasks"},
        {"{\"id\":1,\"status\":\"FAILED\",\"trigger_timestamp\":1,\"state_size\":0,\"num_subtasks\":1,"
         "\"num_acknowledged_subtasks\":0,\"tasks\":{\"xyz\":{}}}", CPW_ERR_BAD_VALUE, "tasks"},
        {"{\"id\":99999999999999999999}", CPW_ERR_SYNTAX, ""},
        {"{\"id\":1,\"s\":\"\\u0000\"}", CPW_ERR_SYNTAX, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        cpw_err r = cpw_flink_read_cp(bad[i].json, strlen(bad[i].json), &cp, &e);
        CPT_ASSERTF(r == bad[i].code && !strcmp(e.field, bad[i].field),
                    "case %zu: %s field '%s' (%s)", i, cpw_err_name(r), e.field, e.text);
        CPT_EQ_INT(cp.n_tasks, 0); /* cleared */
    }
    /* a percentile string other than the non-finite ones */
    const char *pct = "{\"counts\":{\"total\":0,\"in_progress\":0,\"completed\":0,\"failed\":0},"
                      "\"summary\":{\"state_size\":{\"min\":0,\"max\":0,\"avg\":0,\"p50\":\"x\"}}}";
    cpw_flink_stats s;
    CPT_EQ_INT(cpw_flink_read_stats(pct, strlen(pct), &s, &e), CPW_ERR_BAD_VALUE);
    CPT_EQ_STR(e.field, "p50");
    /* a negative count (fuzz_flinkfeed, ci17: a state holding it did not copy) */
    const char *neg = "{\"counts\":{\"total\":-914,\"in_progress\":0,\"completed\":1914,"
                      "\"failed\":0},\"summary\":{}}";
    CPT_EQ_INT(cpw_flink_read_stats(neg, strlen(neg), &s, &e), CPW_ERR_BAD_VALUE);
    CPT_EQ_STR(e.field, "total");
    /* a failure message longer than the field is cut on a character boundary */
    char big[3 * CPW_FLINK_TEXT_MAX + 200];
    int n = snprintf(big, sizeof big, "{\"id\":1,\"status\":\"FAILED\",\"trigger_timestamp\":1,"
                     "\"state_size\":0,\"num_subtasks\":1,\"num_acknowledged_subtasks\":0,"
                     "\"failure_message\":\"");
    for (int i = 0; i < CPW_FLINK_TEXT_MAX; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "é");
    snprintf(big + n, sizeof big - (size_t)n, "\"}");
    CPT_EQ_INT(cpw_flink_read_cp(big, strlen(big), &cp, &e), CPW_OK);
    CPT_ASSERT(strlen(cp.failure_message) < CPW_FLINK_TEXT_MAX);
    CPT_EQ_INT(strlen(cp.failure_message) % 2, 0); /* whole two-byte characters */
    cpw_flink_cp_clear(&cp);
}

CPT_TEST(ids_and_durations)
{
    char a[CPW_FLINK_ID_HEX + 1], b[CPW_FLINK_ID_HEX + 1];
    cpw_flink_derive_id(a, "vertex", "job-1", 0);
    cpw_flink_derive_id(b, "vertex", "job-1", 0);
    CPT_EQ_STR(a, b); /* stable */
    CPT_EQ_INT(strlen(a), 32);
    CPT_ASSERT(strspn(a, "0123456789abcdef") == 32);
    cpw_flink_derive_id(b, "vertex", "job-1", 1);
    CPT_ASSERT(strcmp(a, b));
    cpw_flink_derive_id(b, "vertex", "job-", 10); /* no ("job-1", 0) / ("job-", 10) clash */
    CPT_ASSERT(strcmp(a, b));
    cpw_flink_derive_id(a, "job", "d933fa6c785f0db6dccc6cc05dd43bab", 0);
    CPT_EQ_STR(a, "d933fa6c785f0db6dccc6cc05dd43bab"); /* a Flink-like id is kept */
    CPT_ASSERT(cpw_flink_parse_id("D933FA6C785F0DB6DCCC6CC05DD43BAB", a));
    CPT_EQ_STR(a, "d933fa6c785f0db6dccc6cc05dd43bab");
    CPT_ASSERT(!cpw_flink_parse_id("d933fa6c785f0db6dccc6cc05dd43ba", NULL));
    CPT_ASSERT(!cpw_flink_parse_id("d933fa6c785f0db6dccc6cc05dd43bab0", NULL));
    CPT_ASSERT(!cpw_flink_parse_id("g933fa6c785f0db6dccc6cc05dd43bab", NULL));
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {{"2s", 2000}, {"500 ms", 500}, {"10 min", 600000}, {"1h", 3600000},
              {"1500", 1500}, {"3 SECONDS", 3000}, {" 7d ", 604800000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        CPT_ASSERTF(cpw_flink_parse_duration_ms(ok[i].s, &v) && v == ok[i].ms, "%s", ok[i].s);
    }
    static const char *const bad[] = {"", "s", "-1s", "1 fortnight", "1s 2", "99999999999999999999",
                                      "9999999999999999 d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        CPT_ASSERTF(!cpw_flink_parse_duration_ms(bad[i], &v), "%s", bad[i]);
    }
}
