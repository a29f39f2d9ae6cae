/*
 * test_proto.c — the wire protocol (protocol/): a round trip of every message
 * type, batching (JSON array and NDJSON), a table of malformed inputs with
 * their exact error codes, and sanitising of wire text for display.
 */
#include "cpt_test.h"
#include "cpw.h"
#include "cpw_state.h"

#include <stdint.h>

#define JOB "job-42.a_b"
#define T0 INT64_C(1700000000000000)

/* Quotes, backslashes, newline, tab, control characters, DEL and multi-byte
 * UTF-8 (2, 3 and 4 bytes) in one string field. */
static const char WEIRD[] = "q\"uote\\back/slash\nnl\ttab\r\b\f\x01\x1f\x7f é 日本 😀 end";
static const char WEIRD_KIND[] = "kill\"\\\n\x01é😀"; /* fits CPW_KIND_MAX */

/* ------------------------------------------------------------------ helpers */

static void decode_ok(const char *buf, size_t len, cpw_msg *m)
{
    cpw_error e;
    memset(&e, 0, sizeof e);
    cpw_err r = cpw_decode_one(buf, len, m, &e);
    CPT_ASSERTF(r == CPW_OK, "decode failed: %s (%s), field '%s' at %zu in: %.*s",
                cpw_err_name(r), e.text, e.field, e.offset, (int)(len > 600 ? 600 : len), buf);
}

static cpw_event mkev(cpw_event_type t, int64_t id, int op, int sub, int64_t ts)
{
    cpw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = t;
    ev.cp_id = id;
    ev.op = op;
    ev.subtask = sub;
    ev.ts_us = ts;
    return ev;
}

static void encode_ev(cpw_buf *b, uint64_t seq, const cpw_event *ev)
{
    cpw_envelope env = {JOB, seq, ev->ts_us};
    cpw_encode_event(b, &env, ev);
    CPT_ASSERT(!b->failed);
}

/* One event of each of the 18 types, every field distinctive. */
static int sample_events(cpw_event *out)
{
    int n = 0;
    cpw_event e;
    e = mkev(CPW_EV_CP_TRIGGERED, 7, -1, -1, T0 + 1);
    e.u.triggered.kind = CPW_TRIGGER_MANUAL;
    e.u.triggered.alignment = CPW_ALIGN_TIMEOUT;
    out[n++] = e;
    out[n++] = mkev(CPW_EV_BARRIER_INJECTED, 7, 0, 3, T0 + 2);
    e = mkev(CPW_EV_BARRIER_RECEIVED, 7, 2, 1, T0 + 3);
    e.u.barrier.channel = 4;
    out[n++] = e;
    out[n++] = mkev(CPW_EV_ALIGNMENT_START, 7, 2, 1, T0 + 4);
    e = mkev(CPW_EV_ALIGNMENT_END, 7, 2, 1, T0 + 5);
    e.u.alignment.buffered_bytes = 123456789;
    e.u.alignment.duration_us = 4321;
    out[n++] = e;
    out[n++] = mkev(CPW_EV_SNAPSHOT_START, 7, 2, 1, T0 + 6);
    e = mkev(CPW_EV_SNAPSHOT_SYNC_DONE, 7, 2, 1, T0 + 7);
    e.u.sync.duration_us = 987;
    out[n++] = e;
    e = mkev(CPW_EV_SNAPSHOT_ASYNC_DONE, 7, 2, 1, T0 + 8);
    e.u.async.bytes = INT64_C(5555555555);
    e.u.async.duration_us = 65432;
    out[n++] = e;
    e = mkev(CPW_EV_ACK, 7, CPW_MAX_OPERATORS - 1, CPW_MAX_PARALLELISM - 1, T0 + 9);
    e.u.ack.state_size = INT64_MAX;
    e.u.ack.checkpointed_size = 2222;
    e.u.ack.processed_data = 3333;
    e.u.ack.persisted_data = 4444;
    e.u.ack.start_delay_us = 5555;
    e.u.ack.alignment_us = 6666;
    e.u.ack.sync_us = 7777;
    e.u.ack.async_us = 8888;
    e.u.ack.unaligned = 1;
    out[n++] = e;
    e = mkev(CPW_EV_DECLINE, 7, 1, 0, T0 + 10);
    snprintf(e.u.decline.reason, sizeof e.u.decline.reason, "%s", WEIRD);
    out[n++] = e;
    e = mkev(CPW_EV_CP_COMPLETED, 7, -1, -1, T0 + 11);
    e.u.completed.duration_us = 99999;
    e.u.completed.state_size = INT64_C(1) << 40;
    e.u.completed.checkpointed_size = INT64_C(1) << 33;
    out[n++] = e;
    e = mkev(CPW_EV_CP_FAILED, 8, -1, -1, T0 + 12);
    e.u.failed.reason = CPW_FAIL_IO;
    snprintf(e.u.failed.message, sizeof e.u.failed.message, "%s", WEIRD);
    out[n++] = e;
    out[n++] = mkev(CPW_EV_CP_COMMITTED, 7, -1, -1, T0 + 13);
    e = mkev(CPW_EV_JOB_STATUS, 0, -1, -1, T0 + 14);
    e.u.job_status.status = CPW_JOB_RESTARTING;
    snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "%s", WEIRD);
    out[n++] = e;
    e = mkev(CPW_EV_RESTORED, 7, -1, -1, T0 + 15);
    e.u.restored.attempt = 3;
    out[n++] = e;
    e = mkev(CPW_EV_FAILURE_INJECTED, 0, 1, 0, T0 + 16);
    snprintf(e.u.failure.kind, sizeof e.u.failure.kind, "%s", WEIRD_KIND);
    snprintf(e.u.failure.params, sizeof e.u.failure.params, "%s", WEIRD);
    out[n++] = e;
    e = mkev(CPW_EV_TASK_FAILED, 0, 3, 2, T0 + 17);
    snprintf(e.u.task_failed.error, sizeof e.u.task_failed.error, "%s", WEIRD);
    out[n++] = e;
    e = mkev(CPW_EV_SWITCHED_TO_UNALIGNED, 7, 3, 1, T0 + 18);
    e.u.switched.elapsed_us = 2500123;
    e.u.switched.timeout_us = 2000000;
    out[n++] = e;
    return n;
}

/* Field by field, then the whole struct (nothing else may differ). */
static void check_event_eq(const cpw_event *got, const cpw_event *want)
{
    CPT_EQ_INT(got->type, want->type);
    CPT_EQ_INT(got->op, want->op);
    CPT_EQ_INT(got->subtask, want->subtask);
    CPT_EQ_INT(got->cp_id, want->cp_id);
    CPT_EQ_INT(got->ts_us, want->ts_us);
    switch (want->type) {
    case CPW_EV_CP_TRIGGERED:
        CPT_EQ_INT(got->u.triggered.kind, want->u.triggered.kind);
        CPT_EQ_INT(got->u.triggered.alignment, want->u.triggered.alignment);
        break;
    case CPW_EV_BARRIER_RECEIVED:
        CPT_EQ_INT(got->u.barrier.channel, want->u.barrier.channel);
        break;
    case CPW_EV_ALIGNMENT_END:
        CPT_EQ_INT(got->u.alignment.buffered_bytes, want->u.alignment.buffered_bytes);
        CPT_EQ_INT(got->u.alignment.duration_us, want->u.alignment.duration_us);
        break;
    case CPW_EV_SNAPSHOT_SYNC_DONE:
        CPT_EQ_INT(got->u.sync.duration_us, want->u.sync.duration_us);
        break;
    case CPW_EV_SNAPSHOT_ASYNC_DONE:
        CPT_EQ_INT(got->u.async.bytes, want->u.async.bytes);
        CPT_EQ_INT(got->u.async.duration_us, want->u.async.duration_us);
        break;
    case CPW_EV_ACK:
        CPT_EQ_INT(got->u.ack.state_size, want->u.ack.state_size);
        CPT_EQ_INT(got->u.ack.checkpointed_size, want->u.ack.checkpointed_size);
        CPT_EQ_INT(got->u.ack.processed_data, want->u.ack.processed_data);
        CPT_EQ_INT(got->u.ack.persisted_data, want->u.ack.persisted_data);
        CPT_EQ_INT(got->u.ack.start_delay_us, want->u.ack.start_delay_us);
        CPT_EQ_INT(got->u.ack.alignment_us, want->u.ack.alignment_us);
        CPT_EQ_INT(got->u.ack.sync_us, want->u.ack.sync_us);
        CPT_EQ_INT(got->u.ack.async_us, want->u.ack.async_us);
        CPT_EQ_INT(got->u.ack.unaligned, want->u.ack.unaligned);
        break;
    case CPW_EV_DECLINE:
        CPT_EQ_STR(got->u.decline.reason, want->u.decline.reason);
        break;
    case CPW_EV_CP_COMPLETED:
        CPT_EQ_INT(got->u.completed.duration_us, want->u.completed.duration_us);
        CPT_EQ_INT(got->u.completed.state_size, want->u.completed.state_size);
        CPT_EQ_INT(got->u.completed.checkpointed_size, want->u.completed.checkpointed_size);
        break;
    case CPW_EV_CP_FAILED:
        CPT_EQ_INT(got->u.failed.reason, want->u.failed.reason);
        CPT_EQ_STR(got->u.failed.message, want->u.failed.message);
        break;
    case CPW_EV_JOB_STATUS:
        CPT_EQ_INT(got->u.job_status.status, want->u.job_status.status);
        CPT_EQ_STR(got->u.job_status.message, want->u.job_status.message);
        break;
    case CPW_EV_RESTORED:
        CPT_EQ_INT(got->u.restored.attempt, want->u.restored.attempt);
        break;
    case CPW_EV_FAILURE_INJECTED:
        CPT_EQ_STR(got->u.failure.kind, want->u.failure.kind);
        CPT_EQ_STR(got->u.failure.params, want->u.failure.params);
        break;
    case CPW_EV_TASK_FAILED:
        CPT_EQ_STR(got->u.task_failed.error, want->u.task_failed.error);
        break;
    case CPW_EV_SWITCHED_TO_UNALIGNED:
        CPT_EQ_INT(got->u.switched.elapsed_us, want->u.switched.elapsed_us);
        CPT_EQ_INT(got->u.switched.timeout_us, want->u.switched.timeout_us);
        break;
    default:
        break;
    }
    CPT_ASSERTF(memcmp(got, want, sizeof *got) == 0, "event %s: structs differ beyond the fields",
                cpw_event_type_name(want->type));
}

static void event_roundtrip(const cpw_event *want, uint64_t seq)
{
    cpw_buf b;
    cpw_buf_init(&b);
    encode_ev(&b, seq, want);
    CPT_ASSERT(b.len > 0 && b.data[0] == '{' && b.data[b.len - 1] == '}');
    CPT_ASSERT(!memchr(b.data, '\n', b.len)); /* compact: one line */
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.v, 1);
    CPT_EQ_INT(m.kind, CPW_K_EVENT);
    CPT_EQ_STR(m.job, JOB);
    CPT_ASSERT(m.seq == seq);
    CPT_EQ_INT(m.ts_us, want->ts_us);
    CPT_ASSERT(!m.hello && !m.cmd && !m.reply && !m.heartbeat.subtasks);
    check_event_eq(&m.ev, want);
    cpw_msg_clear(&m);
    cpw_buf_free(&b);
}

/* ------------------------------------------------------- event round trips */

CPT_TEST(event_roundtrip_every_type)
{
    cpw_event evs[32];
    int n = sample_events(evs);
    CPT_EQ_INT(n, CPW_EV__COUNT - 1);
    bool seen[CPW_EV__COUNT] = {false};
    for (int i = 0; i < n; i++) {
        CPT_ASSERT(!seen[evs[i].type]);
        seen[evs[i].type] = true;
        event_roundtrip(&evs[i], 1000 + (uint64_t)i);
    }
}

CPT_TEST(event_roundtrip_every_enum_value)
{
    for (int k = CPW_TRIGGER_PERIODIC; k <= CPW_TRIGGER_MANUAL; k++) {
        cpw_event e = mkev(CPW_EV_CP_TRIGGERED, 1, -1, -1, 5);
        e.u.triggered.kind = (cpw_trigger_kind)k;
        event_roundtrip(&e, 1);
    }
    for (int r = 0; r < CPW_FAIL__COUNT; r++) {
        cpw_event e = mkev(CPW_EV_CP_FAILED, 100 + r, -1, -1, T0);
        e.u.failed.reason = (cpw_failure_reason)r;
        snprintf(e.u.failed.message, sizeof e.u.failed.message, "reason %d", r);
        event_roundtrip(&e, (uint64_t)r);
    }
    for (int s = 0; s < CPW_JOB__COUNT; s++) {
        cpw_event e = mkev(CPW_EV_JOB_STATUS, 0, -1, -1, T0);
        e.u.job_status.status = (cpw_job_status)s;
        event_roundtrip(&e, (uint64_t)s);
    }
}

CPT_TEST(event_roundtrip_boundaries)
{
    /* extremes of every range the decoder accepts */
    cpw_event e = mkev(CPW_EV_BARRIER_RECEIVED, INT64_MAX, 0, 0, 0);
    e.u.barrier.channel = CPW_MAX_PARALLELISM * 4;
    event_roundtrip(&e, UINT64_MAX);
    e = mkev(CPW_EV_ALIGNMENT_END, 1, 0, 0, INT64_MAX);
    e.u.alignment.buffered_bytes = INT64_MAX;
    e.u.alignment.duration_us = 0;
    event_roundtrip(&e, 0);
    e = mkev(CPW_EV_RESTORED, 0, -1, -1, T0); /* started without a checkpoint */
    e.u.restored.attempt = INT32_MAX;
    event_roundtrip(&e, 1);
    e = mkev(CPW_EV_FAILURE_INJECTED, 0, -1, -1, T0); /* job-wide target */
    snprintf(e.u.failure.kind, sizeof e.u.failure.kind, "crash_process");
    event_roundtrip(&e, 2);
    e = mkev(CPW_EV_ACK, 1, 0, 0, T0); /* all-zero figures, aligned */
    event_roundtrip(&e, 3);

    /* strings of the maximum length (CPW_TEXT_MAX - 1 bytes), with escapes
     * near the end and a multi-byte character as the last one */
    e = mkev(CPW_EV_DECLINE, 3, 1, 1, T0);
    memset(e.u.decline.reason, 'r', CPW_TEXT_MAX - 1);
    e.u.decline.reason[0] = '\n';
    e.u.decline.reason[1] = '"';
    memcpy(e.u.decline.reason + CPW_TEXT_MAX - 1 - 4, "😀", 4);
    e.u.decline.reason[CPW_TEXT_MAX - 1] = '\0';
    CPT_EQ_INT(strlen(e.u.decline.reason), CPW_TEXT_MAX - 1);
    event_roundtrip(&e, 4);
    e = mkev(CPW_EV_TASK_FAILED, 0, 0, 0, T0);
    for (int i = 0; i < CPW_TEXT_MAX - 1; i++)
        e.u.task_failed.error[i] = (char)(1 + i % 0x7e); /* every ASCII byte incl. controls */
    event_roundtrip(&e, 5);
    e = mkev(CPW_EV_FAILURE_INJECTED, 0, 0, 0, T0);
    memset(e.u.failure.kind, '\\', CPW_KIND_MAX - 1);
    event_roundtrip(&e, 6);
}

/* The encoder never emits invalid JSON, whatever bytes the job hands it. */
CPT_TEST(event_encoder_replaces_invalid_utf8)
{
    cpw_event e = mkev(CPW_EV_TASK_FAILED, 0, 0, 0, T0);
    snprintf(e.u.task_failed.error, sizeof e.u.task_failed.error, "a\xff" "b\xc0\xaf" "c\xed\xa0\x80");
    cpw_buf b;
    cpw_buf_init(&b);
    encode_ev(&b, 1, &e);
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    CPT_EQ_STR(m.ev.u.task_failed.error,
               "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    cpw_msg_clear(&m);
    cpw_buf_free(&b);
}

CPT_TEST(event_encode_exact_bytes)
{
    /* the shape PROTOCOL.md documents, byte for byte */
    cpw_event e = mkev(CPW_EV_BARRIER_RECEIVED, 12, 2, 1, 1700000000123456);
    e.u.barrier.channel = 3;
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {"payments", 42, e.ts_us};
    cpw_encode_event(&b, &env, &e);
    CPT_EQ_STR(b.data, "{\"v\":1,\"type\":\"barrier_received\",\"job\":\"payments\",\"seq\":42,"
                       "\"ts_us\":1700000000123456,\"id\":12,\"op\":2,\"subtask\":1,\"channel\":3}");
    cpw_buf_reset(&b);
    e = mkev(CPW_EV_CP_FAILED, 9, -1, -1, 7);
    e.u.failed.reason = CPW_FAIL_EXPIRED;
    snprintf(e.u.failed.message, sizeof e.u.failed.message, "Checkpoint expired before completing.");
    env.seq = 43;
    env.ts_us = 7;
    cpw_encode_event(&b, &env, &e);
    CPT_EQ_STR(b.data, "{\"v\":1,\"type\":\"cp_failed\",\"job\":\"payments\",\"seq\":43,\"ts_us\":7,"
                       "\"id\":9,\"reason\":\"CHECKPOINT_EXPIRED\","
                       "\"message\":\"Checkpoint expired before completing.\"}");
    cpw_buf_free(&b);
}

/* ------------------------------------------------------------------ hello */

static void fill_hello(cpw_hello *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "payments \"agg\"\\ é😀\n\x01");
    h->pid = 4242;
    h->start_ts_us = 1700000000123456;
    snprintf(h->agent_version, sizeof h->agent_version, "0.1.0");
    static const char *const names[] = {"source", "parse\t\"json\"", "keyBy/aggregate 日本", "sink"};
    static const int par[] = {4, 4, 8, 1};
    h->n_ops = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(h->ops[i].name, sizeof h->ops[i].name, "%s", names[i]);
        h->ops[i].parallelism = par[i];
    }
    static const int ef[] = {0, 1, 2}, et[] = {1, 2, 3};
    static const char *const ek[] = {"forward", "hash", "rebalance"};
    h->n_edges = 3;
    for (int i = 0; i < 3; i++) {
        h->edges[i].from = ef[i];
        h->edges[i].to = et[i];
        snprintf(h->edges[i].kind, sizeof h->edges[i].kind, "%s", ek[i]);
    }
    static const char *const ck[] = {
        "execution.checkpointing.interval", "execution.checkpointing.mode",
        "execution.checkpointing.storage", "execution.checkpointing.timeout",
        "execution.checkpointing.tolerable-failed-checkpoints", "sink \"url\"\n"};
    static const char *const cv[] = {"30s", "EXACTLY_ONCE", "s3://my-flink-checkpoints/my-job",
                                     "10m", "1", "sqlite://var/x.db?q=\"b\"\\\n\x02é"};
    h->n_config = 6;
    for (int i = 0; i < 6; i++) {
        snprintf(h->config_keys[i], sizeof h->config_keys[i], "%s", ck[i]);
        snprintf(h->config_values[i], sizeof h->config_values[i], "%s", cv[i]);
    }
}

static void check_hello_eq(const cpw_hello *got, const cpw_hello *want)
{
    CPT_EQ_STR(got->name, want->name);
    CPT_EQ_INT(got->pid, want->pid);
    CPT_EQ_INT(got->start_ts_us, want->start_ts_us);
    CPT_EQ_STR(got->agent_version, want->agent_version);
    CPT_EQ_INT(got->n_ops, want->n_ops);
    for (int i = 0; i < want->n_ops; i++) {
        CPT_EQ_STR(got->ops[i].name, want->ops[i].name);
        CPT_EQ_INT(got->ops[i].parallelism, want->ops[i].parallelism);
    }
    CPT_EQ_INT(got->n_edges, want->n_edges);
    for (int i = 0; i < want->n_edges; i++) {
        CPT_EQ_INT(got->edges[i].from, want->edges[i].from);
        CPT_EQ_INT(got->edges[i].to, want->edges[i].to);
        CPT_EQ_STR(got->edges[i].kind, want->edges[i].kind);
    }
    CPT_EQ_INT(got->n_config, want->n_config);
    for (int i = 0; i < want->n_config; i++) {
        CPT_EQ_STR(got->config_keys[i], want->config_keys[i]);
        CPT_EQ_STR(got->config_values[i], want->config_values[i]);
    }
}

static void hello_roundtrip(const cpw_hello *h)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, 77, T0};
    cpw_encode_hello(&b, &env, h);
    CPT_ASSERT(!b.failed);
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.kind, CPW_K_HELLO);
    CPT_EQ_STR(m.job, JOB);
    CPT_EQ_INT(m.seq, 77);
    CPT_EQ_INT(m.ts_us, T0);
    CPT_ASSERT(m.hello != NULL);
    check_hello_eq(m.hello, h);
    cpw_msg_clear(&m);
    CPT_ASSERT(m.hello == NULL);
    cpw_buf_free(&b);
}

CPT_TEST(hello_roundtrip)
{
    cpw_hello *h = malloc(sizeof *h);
    fill_hello(h);
    hello_roundtrip(h);
    /* an empty topology is still a hello */
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "empty");
    hello_roundtrip(h);
    free(h);
}

CPT_TEST(hello_roundtrip_at_limits)
{
    cpw_hello *h = calloc(1, sizeof *h);
    memset(h->name, 'n', CPW_NAME_MAX - 1);
    h->pid = INT32_MAX;
    memset(h->agent_version, 'v', sizeof h->agent_version - 1);
    h->n_ops = CPW_MAX_OPERATORS;
    for (int i = 0; i < CPW_MAX_OPERATORS; i++) {
        memset(h->ops[i].name, 'a' + i % 26, CPW_NAME_MAX - 1);
        h->ops[i].name[0] = (char)('0' + i % 10);
        h->ops[i].parallelism = CPW_MAX_SUBTASKS / CPW_MAX_OPERATORS; /* exactly 8192 in all */
    }
    h->n_edges = CPW_MAX_EDGES;
    for (int i = 0; i < CPW_MAX_EDGES; i++) {
        h->edges[i].from = i % CPW_MAX_OPERATORS;
        h->edges[i].to = (i * 7) % CPW_MAX_OPERATORS;
        memset(h->edges[i].kind, 'k', sizeof h->edges[i].kind - 1);
    }
    h->n_config = CPW_MAX_CONFIG;
    for (int i = 0; i < CPW_MAX_CONFIG; i++) {
        memset(h->config_keys[i], 'k', CPW_NAME_MAX - 1);
        snprintf(h->config_keys[i], 8, "key%03d", i);
        h->config_keys[i][6] = '.';
        memset(h->config_values[i], '"', CPW_VALUE_MAX - 1);
    }
    hello_roundtrip(h);
    free(h);
}

/* -------------------------------------------------------------- heartbeat */

CPT_TEST(heartbeat_roundtrip)
{
    cpw_subtask_metrics rows[3] = {
        {0, 0, 0, 0, 0, 0},
        {CPW_MAX_OPERATORS - 1, CPW_MAX_PARALLELISM - 1, INT64_MAX, INT64_MAX - 1, 1000, 1},
        {2, 5, 123456789012, 98765, 437, 0},
    };
    cpw_heartbeat hb = {.emitted = INT64_MAX, .sent = 1234567, .dropped = 89, .n = 3,
                        .subtasks = rows};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, 5, T0 + 5};
    cpw_encode_heartbeat(&b, &env, &hb);
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.kind, CPW_K_HEARTBEAT);
    CPT_EQ_INT(m.seq, 5);
    CPT_EQ_INT(m.ts_us, T0 + 5);
    CPT_ASSERT(m.heartbeat.emitted == (uint64_t)INT64_MAX);
    CPT_ASSERT(m.heartbeat.sent == 1234567);
    CPT_ASSERT(m.heartbeat.dropped == 89);
    CPT_EQ_INT(m.heartbeat.n, 3);
    for (int i = 0; i < 3; i++) {
        const cpw_subtask_metrics *g = &m.heartbeat.subtasks[i], *w = &rows[i];
        CPT_EQ_INT(g->op, w->op);
        CPT_EQ_INT(g->subtask, w->subtask);
        CPT_EQ_INT(g->records_in, w->records_in);
        CPT_EQ_INT(g->records_out, w->records_out);
        CPT_EQ_INT(g->queue_fill_permille, w->queue_fill_permille);
        CPT_EQ_INT(g->backpressured, w->backpressured);
    }
    cpw_msg_clear(&m);

    /* no subtasks yet */
    cpw_heartbeat empty = {0};
    cpw_buf_reset(&b);
    cpw_encode_heartbeat(&b, &env, &empty);
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.kind, CPW_K_HEARTBEAT);
    CPT_EQ_INT(m.heartbeat.n, 0);
    CPT_ASSERT(m.heartbeat.subtasks == NULL);
    cpw_msg_clear(&m);
    cpw_buf_free(&b);
}

/* ---------------------------------------------------------------- commands */

static cpw_command mkcmd(cpw_cmd_type t, uint64_t req)
{
    cpw_command c;
    memset(&c, 0, sizeof c);
    c.req = req;
    c.c.type = t;
    c.c.op = c.c.subtask = -1;
    c.history = -1;
    return c;
}

static void check_cmd_eq(const cpw_command *g, const cpw_command *w)
{
    CPT_ASSERT(g->req == w->req);
    CPT_EQ_INT(g->c.type, w->c.type);
    CPT_EQ_INT(g->c.cp_id, w->c.cp_id);
    CPT_EQ_STR(g->c.kind, w->c.kind);
    CPT_EQ_INT(g->c.op, w->c.op);
    CPT_EQ_INT(g->c.subtask, w->c.subtask);
    CPT_EQ_INT(g->c.n_params, w->c.n_params);
    for (int i = 0; i < w->c.n_params; i++) {
        CPT_EQ_STR(g->c.keys[i], w->c.keys[i]);
        CPT_EQ_STR(g->c.values[i], w->c.values[i]);
    }
    CPT_EQ_INT(g->history, w->history);
}

/* Encodes (with secret when non-NULL), decodes, compares; returns the bytes. */
static char *cmd_roundtrip(const cpw_command *want, const unsigned char *secret, size_t slen,
                           size_t *len_out)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, 0, T0 + 99};
    cpw_encode_command(&b, &env, want, secret, slen);
    CPT_ASSERT(!b.failed);
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.kind, CPW_K_COMMAND);
    CPT_EQ_STR(m.job, JOB);
    CPT_EQ_INT(m.ts_us, T0 + 99);
    CPT_ASSERT(m.cmd != NULL);
    check_cmd_eq(m.cmd, want);
    CPT_EQ_INT(m.cmd->has_mac, secret != NULL);
    if (secret) {
        CPT_EQ_INT(strlen(m.cmd->nonce), CPW_NONCE_HEX);
        CPT_ASSERT(strspn(m.cmd->nonce, "0123456789abcdef") == CPW_NONCE_HEX);
        if (want->nonce[0])
            CPT_EQ_STR(m.cmd->nonce, want->nonce);
    } else {
        CPT_EQ_STR(m.cmd->nonce, "");
    }
    cpw_msg_clear(&m);
    *len_out = b.len;
    return b.data; /* caller frees */
}

CPT_TEST(command_roundtrip_every_type)
{
    size_t len;
    cpw_command c = mkcmd(CPW_CMD_GET_STATE, 1);
    free(cmd_roundtrip(&c, NULL, 0, &len)); /* no "history": -1, all */
    c.history = 5;
    free(cmd_roundtrip(&c, NULL, 0, &len));
    c.history = 0;
    free(cmd_roundtrip(&c, NULL, 0, &len));
    c.history = CPW_MAX_HISTORY;
    free(cmd_roundtrip(&c, NULL, 0, &len));

    c = mkcmd(CPW_CMD_TRIGGER, 2);
    char *s = cmd_roundtrip(&c, NULL, 0, &len);
    CPT_EQ_STR(s, "{\"v\":1,\"type\":\"cmd\",\"job\":\"" JOB "\",\"seq\":0,\"ts_us\":1700000000000099,"
                  "\"req\":2,\"cmd\":\"trigger\",\"args\":{}}");
    free(s);

    c = mkcmd(CPW_CMD_ABORT, 3);
    c.c.cp_id = 42;
    free(cmd_roundtrip(&c, NULL, 0, &len));
    c.c.cp_id = INT64_MAX;
    free(cmd_roundtrip(&c, NULL, 0, &len));

    c = mkcmd(CPW_CMD_INJECT_FAILURE, 4);
    snprintf(c.c.kind, sizeof c.c.kind, "%s", WEIRD_KIND);
    c.c.op = 2;
    c.c.subtask = 3;
    c.c.n_params = 3;
    snprintf(c.c.keys[0], sizeof c.c.keys[0], "duration_ms");
    snprintf(c.c.values[0], sizeof c.c.values[0], "5000");
    snprintf(c.c.keys[1], sizeof c.c.keys[1], "message \"x\"\n");
    snprintf(c.c.values[1], sizeof c.c.values[1], "%s", WEIRD);
    snprintf(c.c.keys[2], sizeof c.c.keys[2], "empty");
    free(cmd_roundtrip(&c, NULL, 0, &len));
    /* job-wide target, no params */
    c = mkcmd(CPW_CMD_INJECT_FAILURE, 5);
    snprintf(c.c.kind, sizeof c.c.kind, "crash_process");
    free(cmd_roundtrip(&c, NULL, 0, &len));
    /* all CPW_CMD_MAX_PARAMS params, values of the maximum length */
    c = mkcmd(CPW_CMD_INJECT_FAILURE, 6);
    snprintf(c.c.kind, sizeof c.c.kind, "slow_storage");
    c.c.op = 0;
    c.c.subtask = 0;
    c.c.n_params = CPW_CMD_MAX_PARAMS;
    for (int i = 0; i < CPW_CMD_MAX_PARAMS; i++) {
        memset(c.c.keys[i], 'k', CPW_NAME_MAX - 1);
        c.c.keys[i][0] = (char)('a' + i);
        memset(c.c.values[i], 'v', CPW_VALUE_MAX - 1);
    }
    free(cmd_roundtrip(&c, NULL, 0, &len));

    c = mkcmd(CPW_CMD_SET_CONFIG, 7);
    c.c.n_params = 2;
    snprintf(c.c.keys[0], sizeof c.c.keys[0], "execution.checkpointing.interval");
    snprintf(c.c.values[0], sizeof c.c.values[0], "10 s");
    snprintf(c.c.keys[1], sizeof c.c.keys[1], "execution.checkpointing.timeout");
    snprintf(c.c.values[1], sizeof c.c.values[1], "1 min \"é\"");
    free(cmd_roundtrip(&c, NULL, 0, &len));
}

CPT_TEST(command_scalar_values_become_strings)
{
    const char *in = "{\"v\":1,\"type\":\"cmd\",\"job\":\"j\",\"seq\":0,\"ts_us\":1,\"req\":9,"
                     "\"cmd\":\"set_config\",\"args\":{\"settings\":{\"a\":5,\"b\":true,"
                     "\"c\":false,\"d\":-7,\"e\":\"x\"}}}";
    cpw_msg m;
    decode_ok(in, strlen(in), &m);
    CPT_EQ_INT(m.cmd->c.type, CPW_CMD_SET_CONFIG);
    CPT_EQ_INT(m.cmd->c.n_params, 5);
    static const char *const k[] = {"a", "b", "c", "d", "e"}, *const v[] = {"5", "true", "false", "-7", "x"};
    for (int i = 0; i < 5; i++) {
        CPT_EQ_STR(m.cmd->c.keys[i], k[i]);
        CPT_EQ_STR(m.cmd->c.values[i], v[i]);
    }
    CPT_ASSERT(!m.cmd->has_mac);
    cpw_msg_clear(&m);
    /* args may be absent for commands without arguments */
    in = "{\"v\":1,\"type\":\"cmd\",\"job\":\"j\",\"seq\":0,\"ts_us\":1,\"req\":1,\"cmd\":\"trigger\"}";
    decode_ok(in, strlen(in), &m);
    CPT_EQ_INT(m.cmd->c.type, CPW_CMD_TRIGGER);
    CPT_EQ_INT(m.cmd->history, -1);
    cpw_msg_clear(&m);
}

CPT_TEST(command_mac)
{
    static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
    const size_t slen = sizeof secret - 1;
    size_t len;
    cpw_command c = mkcmd(CPW_CMD_INJECT_FAILURE, 11);
    snprintf(c.c.kind, sizeof c.c.kind, "kill");
    c.c.op = 1;
    c.c.subtask = 0;
    c.c.n_params = 1;
    snprintf(c.c.keys[0], sizeof c.c.keys[0], "note");
    snprintf(c.c.values[0], sizeof c.c.values[0], "%s", WEIRD);
    char *s = cmd_roundtrip(&c, secret, slen, &len);
    CPT_ASSERT(cpw_verify_mac(s, len, secret, slen));

    /* the message ends with ,"mac":"<64 hex>"} and carries a nonce */
    const char *mac = strstr(s, ",\"mac\":\"");
    CPT_ASSERT(mac != NULL);
    CPT_EQ_INT((size_t)(s + len - mac), strlen(",\"mac\":\"") + CPW_MAC_HEX + 2);
    CPT_ASSERT(strstr(s, ",\"nonce\":\"") != NULL && strstr(s, ",\"nonce\":\"") < mac);

    /* every single-byte change in the authenticated part is refused */
    size_t body = (size_t)(mac - s);
    for (size_t i = 0; i < body; i++) {
        char *t = malloc(len);
        memcpy(t, s, len);
        t[i] ^= 0x01;
        CPT_ASSERTF(!cpw_verify_mac(t, len, secret, slen), "byte %zu flipped, still accepted", i);
        free(t);
    }
    /* a changed mac, a wrong or shorter secret, a truncated message */
    char *t = malloc(len + 3);
    memcpy(t, s, len);
    t[len - 3] = t[len - 3] == '0' ? '1' : '0';
    CPT_ASSERT(!cpw_verify_mac(t, len, secret, slen));
    memcpy(t, s, len);
    t[len - 3] = (char)(t[len - 3] >= 'a' ? t[len - 3] - 'a' + 'A' : t[len - 3]); /* case matters */
    if (t[len - 3] != s[len - 3])
        CPT_ASSERT(!cpw_verify_mac(t, len, secret, slen));
    CPT_ASSERT(!cpw_verify_mac(s, len, secret, slen - 1));
    CPT_ASSERT(!cpw_verify_mac(s, len - 1, secret, slen));
    CPT_ASSERT(!cpw_verify_mac(s, 10, secret, slen));
    CPT_ASSERT(!cpw_verify_mac(s, 0, secret, slen));
    /* trailing whitespace is allowed */
    memcpy(t, s, len);
    memcpy(t + len, " \r\n", 3);
    CPT_ASSERT(cpw_verify_mac(t, len + 3, secret, slen));
    free(t);
    free(s);

    /* a fixed nonce is used verbatim; a command without secret has no mac */
    c = mkcmd(CPW_CMD_ABORT, 12);
    c.c.cp_id = 5;
    snprintf(c.nonce, sizeof c.nonce, "00112233445566778899aabbccddeeff");
    s = cmd_roundtrip(&c, secret, slen, &len);
    CPT_ASSERT(cpw_verify_mac(s, len, secret, slen));
    free(s);
    c.nonce[0] = '\0';
    s = cmd_roundtrip(&c, NULL, 0, &len);
    CPT_ASSERT(!cpw_verify_mac(s, len, secret, slen));
    free(s);

    /* two encodings of the same command get different nonces */
    cpw_buf b1, b2;
    cpw_buf_init(&b1);
    cpw_buf_init(&b2);
    cpw_envelope env = {JOB, 0, 1};
    cpw_encode_command(&b1, &env, &c, secret, slen);
    cpw_encode_command(&b2, &env, &c, secret, slen);
    CPT_ASSERT(strcmp(b1.data, b2.data) != 0);
    CPT_ASSERT(cpw_verify_mac(b1.data, b1.len, secret, slen));
    CPT_ASSERT(cpw_verify_mac(b2.data, b2.len, secret, slen));
    cpw_buf_free(&b1);
    cpw_buf_free(&b2);
}

/* ------------------------------------------------------------------ replies */

CPT_TEST(reply_roundtrip_ok_and_error)
{
    cpw_reply r;
    memset(&r, 0, sizeof r);
    r.req = UINT64_C(1) << 62;
    r.ok = true;
    snprintf(r.message, sizeof r.message, "%s", WEIRD);
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, 3, T0};
    cpw_encode_reply(&b, &env, &r, NULL, -1);
    CPT_ASSERT(!strstr(b.data, "\"error\"")); /* only when !ok */
    CPT_ASSERT(!strstr(b.data, "\"result\""));
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.kind, CPW_K_REPLY);
    CPT_ASSERT(m.reply->req == r.req);
    CPT_ASSERT(m.reply->ok);
    CPT_EQ_STR(m.reply->error, "");
    CPT_EQ_STR(m.reply->message, WEIRD);
    CPT_ASSERT(m.reply->state == NULL);
    cpw_msg_clear(&m);

    static const char *const tokens[] = {"invalid_arg", "unknown_key", "nomem", "state",
                                         "queue_full", "transport", "io", "insecure", "auth",
                                         "limit", "bad_command", "unsupported", "handler"};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        memset(&r, 0, sizeof r);
        r.req = i;
        r.ok = false;
        snprintf(r.error, sizeof r.error, "%s", tokens[i]);
        snprintf(r.message, sizeof r.message, "no handler for \"%s\"\n", tokens[i]);
        cpw_buf_reset(&b);
        cpw_encode_reply(&b, &env, &r, NULL, -1);
        decode_ok(b.data, b.len, &m);
        CPT_ASSERT(m.reply->req == i);
        CPT_ASSERT(!m.reply->ok);
        CPT_EQ_STR(m.reply->error, tokens[i]);
        CPT_EQ_STR(m.reply->message, r.message);
        cpw_msg_clear(&m);
    }
    cpw_buf_free(&b);
}

/* ------------------------------------------------------------ state replies */

static uint64_t g_seq;

static void ap(cpw_state *s, cpw_event e) { cpw_state_apply(s, &e, ++g_seq); }

static void ap_ack(cpw_state *s, int64_t id, int op, int sub, int64_t ts, int64_t size)
{
    cpw_event e = mkev(CPW_EV_ACK, id, op, sub, ts);
    e.u.ack.state_size = size;
    e.u.ack.checkpointed_size = size / 2;
    e.u.ack.processed_data = 10 * op + sub;
    e.u.ack.persisted_data = op == 2 ? 77 : 0;
    e.u.ack.start_delay_us = 100 + op * 100;
    e.u.ack.alignment_us = op >= 2 ? 50 : 0;
    e.u.ack.sync_us = 40 + sub;
    e.u.ack.async_us = 250 + sub;
    e.u.ack.unaligned = op == 2 && sub == 1;
    ap(s, e);
}

/* One subtask goes through every phase of checkpoint id from `t` on. */
static void subtask_full(cpw_state *s, int64_t id, int op, int sub, int inputs, int64_t t)
{
    if (op == 0) {
        ap(s, mkev(CPW_EV_BARRIER_INJECTED, id, op, sub, t));
    } else {
        for (int ch = 0; ch < inputs; ch++) {
            cpw_event e = mkev(CPW_EV_BARRIER_RECEIVED, id, op, sub, t + ch * 50);
            e.u.barrier.channel = ch;
            ap(s, e);
            if (inputs > 1 && ch == 0)
                ap(s, mkev(CPW_EV_ALIGNMENT_START, id, op, sub, t));
        }
        if (inputs > 1) {
            cpw_event e = mkev(CPW_EV_ALIGNMENT_END, id, op, sub, t + (inputs - 1) * 50);
            e.u.alignment.buffered_bytes = 4096 * (sub + 1);
            e.u.alignment.duration_us = (inputs - 1) * 50;
            ap(s, e);
        }
        t += (inputs - 1) * 50;
    }
    ap(s, mkev(CPW_EV_SNAPSHOT_START, id, op, sub, t + 10));
    cpw_event e = mkev(CPW_EV_SNAPSHOT_SYNC_DONE, id, op, sub, t + 50);
    e.u.sync.duration_us = 40 + sub;
    ap(s, e);
    e = mkev(CPW_EV_SNAPSHOT_ASYNC_DONE, id, op, sub, t + 300);
    e.u.async.bytes = 1000 * (op + 1);
    e.u.async.duration_us = 250 + sub;
    ap(s, e);
    ap_ack(s, id, op, sub, t + 310, 2000 * (op + 1) + sub);
}

/* source(2) -forward-> parse(2) -hash-> aggregate(2) -rebalance-> sink(1) */
static cpw_state *build_state(void)
{
    cpw_state *s = cpw_state_new(16, 4);
    CPT_ASSERT(s != NULL);
    snprintf(s->job, sizeof s->job, JOB);
    cpw_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "payments \"é\"");
    h.pid = 31337;
    snprintf(h.agent_version, sizeof h.agent_version, "0.1.0");
    static const char *const names[] = {"source", "parse", "aggregate", "sink"};
    static const int par[] = {2, 2, 2, 1};
    h.n_ops = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(h.ops[i].name, sizeof h.ops[i].name, "%s", names[i]);
        h.ops[i].parallelism = par[i];
    }
    h.n_edges = 3;
    static const char *const ek[] = {"forward", "hash", "rebalance"};
    for (int i = 0; i < 3; i++) {
        h.edges[i].from = i;
        h.edges[i].to = i + 1;
        snprintf(h.edges[i].kind, sizeof h.edges[i].kind, "%s", ek[i]);
    }
    h.n_config = 2;
    snprintf(h.config_keys[0], sizeof h.config_keys[0], "execution.checkpointing.interval");
    snprintf(h.config_values[0], sizeof h.config_values[0], "30s");
    snprintf(h.config_keys[1], sizeof h.config_keys[1], "execution.checkpointing.mode");
    snprintf(h.config_values[1], sizeof h.config_values[1], "EXACTLY_ONCE");
    cpw_state_set_hello(s, &h);
    CPT_EQ_INT(s->n_subtasks, 7);

    cpw_event e = mkev(CPW_EV_RESTORED, 0, -1, -1, T0 - 1000);
    e.u.restored.attempt = 1;
    ap(s, e);
    e = mkev(CPW_EV_JOB_STATUS, 0, -1, -1, T0 - 500);
    e.u.job_status.status = CPW_JOB_RUNNING;
    snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "all \"7\" subtasks up\n");
    ap(s, e);

    /* checkpoint 1: periodic, every subtask through every phase; completes
     * and is committed */
    e = mkev(CPW_EV_CP_TRIGGERED, 1, -1, -1, T0);
    e.u.triggered.kind = CPW_TRIGGER_PERIODIC;
    ap(s, e);
    for (int sub = 0; sub < 2; sub++)
        subtask_full(s, 1, 0, sub, 1, T0 + 100 + sub);
    for (int sub = 0; sub < 2; sub++)
        subtask_full(s, 1, 1, sub, 1, T0 + 200 + sub);
    for (int sub = 0; sub < 2; sub++)
        subtask_full(s, 1, 2, sub, 2, T0 + 300 + sub);
    subtask_full(s, 1, 3, 0, 2, T0 + 700);
    e = mkev(CPW_EV_CP_COMPLETED, 1, -1, -1, T0 + 1100);
    e.u.completed.duration_us = 1100;
    e.u.completed.state_size = 123456;
    e.u.completed.checkpointed_size = 65432;
    ap(s, e);
    ap(s, mkev(CPW_EV_CP_COMMITTED, 1, -1, -1, T0 + 1200));

    /* checkpoint 2: manual; sources ack, parse 0 declines; fails */
    int64_t t2 = T0 + 30000000;
    e = mkev(CPW_EV_CP_TRIGGERED, 2, -1, -1, t2);
    e.u.triggered.kind = CPW_TRIGGER_MANUAL;
    ap(s, e);
    for (int sub = 0; sub < 2; sub++)
        subtask_full(s, 2, 0, sub, 1, t2 + 100);
    cpw_event br = mkev(CPW_EV_BARRIER_RECEIVED, 2, 1, 0, t2 + 200);
    ap(s, br);
    e = mkev(CPW_EV_DECLINE, 2, 1, 0, t2 + 250);
    snprintf(e.u.decline.reason, sizeof e.u.decline.reason, "disk \"full\"\n é");
    ap(s, e);
    e = mkev(CPW_EV_CP_FAILED, 2, -1, -1, t2 + 260);
    e.u.failed.reason = CPW_FAIL_DECLINED;
    snprintf(e.u.failed.message, sizeof e.u.failed.message, "declined by parse[0]: disk \"full\"");
    ap(s, e);

    /* checkpoint 3: still in flight, subtasks at different phases */
    int64_t t3 = T0 + 60000000;
    ap(s, mkev(CPW_EV_CP_TRIGGERED, 3, -1, -1, t3));
    subtask_full(s, 3, 0, 0, 1, t3 + 100);                       /* source 0: acked */
    ap(s, mkev(CPW_EV_BARRIER_INJECTED, 3, 0, 1, t3 + 120));     /* source 1: in async */
    ap(s, mkev(CPW_EV_SNAPSHOT_START, 3, 0, 1, t3 + 130));
    e = mkev(CPW_EV_SNAPSHOT_SYNC_DONE, 3, 0, 1, t3 + 170);
    e.u.sync.duration_us = 40;
    ap(s, e);
    br = mkev(CPW_EV_BARRIER_RECEIVED, 3, 1, 0, t3 + 500);       /* parse 0: in sync */
    ap(s, br);
    ap(s, mkev(CPW_EV_SNAPSHOT_START, 3, 1, 0, t3 + 510));
    br = mkev(CPW_EV_BARRIER_RECEIVED, 3, 2, 0, t3 + 800);       /* aggregate 0: aligning */
    br.u.barrier.channel = 1;
    ap(s, br);
    ap(s, mkev(CPW_EV_ALIGNMENT_START, 3, 2, 0, t3 + 800));

    s->agent_emitted = 1000;
    s->agent_sent = 990;
    s->agent_dropped = 10;
    return s;
}

static void check_sub_eq(const cpw_sub *g, const cpw_sub *w, int i)
{
    CPT_ASSERTF(g->phase == w->phase, "sub %d phase %d, want %d", i, g->phase, w->phase);
    CPT_EQ_INT(g->unaligned, w->unaligned);
    CPT_EQ_INT(g->barriers, w->barriers);
    CPT_EQ_INT(g->barrier_ts, w->barrier_ts);
    CPT_EQ_INT(g->align_start_ts, w->align_start_ts);
    CPT_EQ_INT(g->align_end_ts, w->align_end_ts);
    CPT_EQ_INT(g->snap_start_ts, w->snap_start_ts);
    CPT_EQ_INT(g->sync_done_ts, w->sync_done_ts);
    CPT_EQ_INT(g->async_done_ts, w->async_done_ts);
    CPT_EQ_INT(g->ack_ts, w->ack_ts);
    CPT_EQ_INT(g->switch_ts, w->switch_ts);
    CPT_EQ_INT(g->buffered_bytes, w->buffered_bytes);
    CPT_EQ_INT(g->state_size, w->state_size);
    CPT_EQ_INT(g->checkpointed_size, w->checkpointed_size);
    CPT_EQ_INT(g->processed_data, w->processed_data);
    CPT_EQ_INT(g->persisted_data, w->persisted_data);
    CPT_EQ_INT(g->start_delay_us, w->start_delay_us);
    CPT_EQ_INT(g->alignment_us, w->alignment_us);
    CPT_EQ_INT(g->sync_us, w->sync_us);
    CPT_EQ_INT(g->async_us, w->async_us);
    CPT_EQ_STR(g->reason, w->reason);
}

static void check_cp_eq(const cpw_cp *g, const cpw_cp *w, int n_subtasks)
{
    CPT_EQ_INT(g->id, w->id);
    CPT_EQ_INT(g->status, w->status);
    CPT_EQ_INT(g->kind, w->kind);
    CPT_EQ_INT(g->committed, w->committed);
    CPT_EQ_INT(g->reason, w->reason);
    CPT_EQ_INT(g->trigger_ts, w->trigger_ts);
    CPT_EQ_INT(g->end_ts, w->end_ts);
    CPT_EQ_INT(g->latest_ack_ts, w->latest_ack_ts);
    CPT_EQ_INT(g->duration_us, w->duration_us);
    CPT_EQ_INT(g->state_size, w->state_size);
    CPT_EQ_INT(g->checkpointed_size, w->checkpointed_size);
    CPT_EQ_INT(g->alignment_us, w->alignment_us);
    CPT_EQ_INT(g->alignment, w->alignment);
    CPT_EQ_INT(g->type, w->type);
    CPT_EQ_INT(g->persisted_data, w->persisted_data);
    CPT_EQ_INT(g->acks, w->acks);
    CPT_EQ_INT(g->declines, w->declines);
    CPT_EQ_INT(g->total, w->total);
    CPT_EQ_STR(g->message, w->message);
    CPT_EQ_INT(g->subs != NULL, w->subs != NULL);
    for (int i = 0; w->subs && i < n_subtasks; i++)
        check_sub_eq(&g->subs[i], &w->subs[i], i);
}

static void check_state_eq(const cpw_state *g, const cpw_state *w, int history)
{
    CPT_EQ_STR(g->job, w->job);
    CPT_ASSERT(g->seq == w->seq);
    check_hello_eq(&g->hello, &w->hello);
    CPT_EQ_INT(g->n_subtasks, w->n_subtasks);
    for (int i = 0; i <= w->hello.n_ops; i++)
        CPT_EQ_INT(g->op_base[i], w->op_base[i]);
    CPT_EQ_INT(g->status, w->status);
    CPT_EQ_STR(g->status_message, w->status_message);
    CPT_EQ_INT(g->restored_from, w->restored_from);
    CPT_EQ_INT(g->restore_attempt, w->restore_attempt);
    CPT_EQ_INT(g->last_restore_ts, w->last_restore_ts);
    CPT_EQ_INT(g->counts.total, w->counts.total);
    CPT_EQ_INT(g->counts.in_progress, w->counts.in_progress);
    CPT_EQ_INT(g->counts.completed, w->counts.completed);
    CPT_EQ_INT(g->counts.failed, w->counts.failed);
    CPT_EQ_INT(g->counts.restored, w->counts.restored);
    CPT_EQ_INT(g->consecutive_failures, w->consecutive_failures);
    CPT_EQ_INT(g->latest_completed_id, w->latest_completed_id);
    CPT_EQ_INT(g->latest_completed_ts, w->latest_completed_ts);
    CPT_EQ_INT(g->last_trigger_ts, w->last_trigger_ts);
    CPT_EQ_INT(g->ignored, w->ignored);
    CPT_ASSERT(g->agent_emitted == w->agent_emitted);
    CPT_ASSERT(g->agent_sent == w->agent_sent);
    CPT_ASSERT(g->agent_dropped == w->agent_dropped);
    CPT_EQ_INT(g->n_inflight, w->n_inflight);
    for (int i = 0; i < w->n_inflight; i++)
        check_cp_eq(&g->inflight[i], &w->inflight[i], w->n_subtasks);
    int nh = history < 0 || history > w->n_history ? w->n_history : history;
    CPT_EQ_INT(g->n_history, nh);
    for (int i = 0; i < nh; i++)
        check_cp_eq(cpw_state_history(g, i), cpw_state_history(w, i), w->n_subtasks);
}

static cpw_state *state_roundtrip(const cpw_state *s, int history)
{
    cpw_reply r;
    memset(&r, 0, sizeof r);
    r.req = 77;
    r.ok = true;
    snprintf(r.message, sizeof r.message, "state");
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, s->seq, T0 + 99000000};
    cpw_encode_reply(&b, &env, &r, s, history);
    CPT_ASSERT(!b.failed);
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    cpw_buf_free(&b);
    CPT_EQ_INT(m.kind, CPW_K_REPLY);
    CPT_EQ_INT(m.reply->req, 77);
    CPT_ASSERT(m.reply->ok);
    CPT_ASSERT(m.reply->state != NULL);
    cpw_state *got = m.reply->state;
    m.reply->state = NULL; /* steal it */
    cpw_msg_clear(&m);
    check_state_eq(got, s, history);
    return got;
}

CPT_TEST(reply_with_state_roundtrip)
{
    cpw_state *s = build_state();
    /* what the fold produced, stated outright */
    CPT_EQ_INT(s->counts.total, 3);
    CPT_EQ_INT(s->counts.completed, 1);
    CPT_EQ_INT(s->counts.failed, 1);
    CPT_EQ_INT(s->counts.in_progress, 1);
    CPT_EQ_INT(s->n_history, 2);
    CPT_EQ_INT(s->ignored, 0);

    cpw_state *g = state_roundtrip(s, -1);
    CPT_EQ_STR(g->job, JOB);
    CPT_ASSERT(g->seq == g_seq);
    CPT_EQ_INT(g->status, CPW_JOB_RUNNING);
    CPT_EQ_INT(g->restored_from, 0);
    CPT_EQ_INT(g->restore_attempt, 1);
    CPT_EQ_INT(g->consecutive_failures, 1);
    CPT_EQ_INT(g->latest_completed_id, 1);
    CPT_EQ_INT(g->latest_completed_ts, T0 + 1100);
    CPT_EQ_INT(g->last_trigger_ts, T0 + 60000000);
    CPT_EQ_INT(g->agent_dropped, 10);

    const cpw_cp *h0 = cpw_state_history(g, 0), *h1 = cpw_state_history(g, 1);
    CPT_EQ_INT(h0->id, 2); /* newest first */
    CPT_EQ_INT(h0->status, CPW_CP_FAILED);
    CPT_EQ_INT(h0->kind, CPW_TRIGGER_MANUAL);
    CPT_EQ_INT(h0->reason, CPW_FAIL_DECLINED);
    CPT_EQ_INT(h0->acks, 2);
    CPT_EQ_INT(h0->declines, 1);
    CPT_EQ_INT(h0->duration_us, 260);
    CPT_EQ_STR(h0->message, "declined by parse[0]: disk \"full\"");
    CPT_ASSERT(h0->subs != NULL);
    CPT_EQ_INT(h0->subs[2].phase, CPW_PH_DECLINED);
    CPT_EQ_STR(h0->subs[2].reason, "disk \"full\"\n é");
    CPT_EQ_INT(h0->subs[3].phase, CPW_PH_PENDING);
    CPT_EQ_INT(h0->subs[3].barrier_ts, 0); /* never reached: -1 on the wire */
    CPT_EQ_INT(h1->id, 1);
    CPT_EQ_INT(h1->status, CPW_CP_COMPLETED);
    CPT_EQ_INT(h1->committed, 1);
    CPT_EQ_INT(h1->reason, -1);
    CPT_EQ_INT(h1->acks, 7);
    CPT_EQ_INT(h1->total, 7);
    CPT_EQ_INT(h1->duration_us, 1100);
    CPT_EQ_INT(h1->state_size, 123456);
    const cpw_sub *agg1 = &h1->subs[5]; /* aggregate[1]: two inputs, aligned */
    CPT_EQ_INT(agg1->phase, CPW_PH_ACKED);
    CPT_EQ_INT(agg1->barriers, 2);
    CPT_EQ_INT(agg1->barrier_ts, T0 + 301);
    CPT_EQ_INT(agg1->align_start_ts, T0 + 301);
    CPT_EQ_INT(agg1->align_end_ts, T0 + 351);
    CPT_EQ_INT(agg1->buffered_bytes, 8192);
    CPT_EQ_INT(agg1->ack_ts, T0 + 351 + 310);
    CPT_EQ_INT(agg1->unaligned, 1);
    CPT_EQ_INT(agg1->persisted_data, 77);

    CPT_EQ_INT(g->n_inflight, 1);
    const cpw_cp *c3 = &g->inflight[0];
    CPT_EQ_INT(c3->id, 3);
    CPT_EQ_INT(c3->status, CPW_CP_IN_PROGRESS);
    CPT_EQ_INT(c3->acks, 1);
    CPT_EQ_INT(c3->subs[0].phase, CPW_PH_ACKED);
    CPT_EQ_INT(c3->subs[1].phase, CPW_PH_ASYNC);
    CPT_EQ_INT(c3->subs[1].sync_done_ts, T0 + 60000000 + 170);
    CPT_EQ_INT(c3->subs[1].ack_ts, 0);
    CPT_EQ_INT(c3->subs[2].phase, CPW_PH_SYNC);
    CPT_EQ_INT(c3->subs[4].phase, CPW_PH_ALIGNING);
    CPT_EQ_INT(c3->subs[4].barriers, 1);
    CPT_EQ_INT(c3->subs[6].phase, CPW_PH_PENDING);
    cpw_state_free(g);

    /* a bounded history: newest first */
    g = state_roundtrip(s, 1);
    CPT_EQ_INT(g->n_history, 1);
    CPT_EQ_INT(cpw_state_history(g, 0)->id, 2);
    cpw_state_free(g);
    g = state_roundtrip(s, 0);
    CPT_EQ_INT(g->n_history, 0);
    cpw_state_free(g);
    cpw_state_free(s);
}

CPT_TEST(state_roundtrip_without_detail_and_skewed_clocks)
{
    /* no per-subtask detail kept for history; and a subtask event stamped
     * before its checkpoint's trigger (another thread's clock) must not make
     * the state undecodable */
    cpw_state *s = cpw_state_new(4, 0);
    cpw_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "skew");
    h.n_ops = 1;
    snprintf(h.ops[0].name, sizeof h.ops[0].name, "src");
    h.ops[0].parallelism = 2;
    cpw_state_set_hello(s, &h);
    g_seq = 0;
    ap(s, mkev(CPW_EV_CP_TRIGGERED, 1, -1, -1, 1000));
    ap(s, mkev(CPW_EV_BARRIER_INJECTED, 1, 0, 0, 990));
    ap_ack(s, 1, 0, 0, 1010, 5);
    ap_ack(s, 1, 0, 1, 1020, 5);
    cpw_event e = mkev(CPW_EV_CP_COMPLETED, 1, -1, -1, 1100);
    ap(s, e);
    ap(s, mkev(CPW_EV_CP_TRIGGERED, 2, -1, -1, 2000));
    ap(s, mkev(CPW_EV_BARRIER_INJECTED, 2, 0, 1, 1999));
    cpw_reply r;
    memset(&r, 0, sizeof r);
    r.ok = true;
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, 1, 1};
    cpw_encode_reply(&b, &env, &r, s, -1);
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    cpw_state *g = m.reply->state;
    CPT_EQ_INT(g->n_history, 1);
    CPT_ASSERT(cpw_state_history(g, 0)->subs == NULL);
    CPT_EQ_INT(g->n_inflight, 1);
    CPT_ASSERT(g->inflight[0].subs != NULL);
    /* a timestamp before the trigger is clamped to the trigger */
    CPT_EQ_INT(g->inflight[0].subs[1].barrier_ts, 2000);
    CPT_EQ_INT(g->inflight[0].subs[0].barrier_ts, 0);
    cpw_msg_clear(&m);
    cpw_buf_free(&b);
    cpw_state_free(s);
}

/* ---------------------------------------------------------------- batching */

typedef struct collect {
    int n, stop_at;
    cpw_kind kind[64];
    uint64_t seq[64];
    cpw_event ev[64];
    cpw_hello *stolen;
} collect;

static int collect_cb(void *opaque, cpw_msg *m)
{
    collect *c = opaque;
    CPT_ASSERT(c->n < 64);
    c->kind[c->n] = m->kind;
    c->seq[c->n] = m->seq;
    memcpy(&c->ev[c->n], &m->ev, sizeof m->ev);
    if (m->kind == CPW_K_HELLO && !c->stolen) { /* steal an owned pointer */
        c->stolen = m->hello;
        m->hello = NULL;
    }
    c->n++;
    return c->stop_at && c->n == c->stop_at;
}

static cpw_err frame(const char *buf, size_t len, collect *c, size_t *count, cpw_error *e)
{
    memset(c, 0, sizeof *c);
    memset(e, 0, sizeof *e);
    return cpw_decode_frame(buf, len, collect_cb, c, count, e);
}

static void build_batches(cpw_buf *arr, cpw_buf *nd, cpw_buf *crlf, cpw_event *evs, int n)
{
    cpw_buf_init(arr);
    cpw_buf_init(nd);
    cpw_buf_init(crlf);
    cpw_buf one;
    cpw_buf_init(&one);
    for (int i = 0; i < n; i++) {
        cpw_buf_reset(&one);
        encode_ev(&one, 100 + (uint64_t)i, &evs[i]);
        /* array: "[ a ,\n b ]" with some whitespace */
        cpw_buf_reserve(arr, one.len + 4);
        memcpy(arr->data + arr->len, i ? ",\n " : "[ ", i ? 3 : 2);
        arr->len += i ? 3 : 2;
        memcpy(arr->data + arr->len, one.data, one.len);
        arr->len += one.len;
        cpw_buf_reserve(nd, one.len + 1);
        memcpy(nd->data + nd->len, one.data, one.len);
        nd->len += one.len;
        nd->data[nd->len++] = '\n';
        cpw_buf_reserve(crlf, one.len + 3);
        memcpy(crlf->data + crlf->len, one.data, one.len);
        crlf->len += one.len;
        memcpy(crlf->data + crlf->len, " \r\n", 3);
        crlf->len += 3;
    }
    cpw_buf_reserve(arr, 2);
    arr->data[arr->len++] = ']';
    arr->data[arr->len] = '\0';
    nd->data[nd->len] = '\0';
    crlf->data[crlf->len] = '\0';
    cpw_buf_free(&one);
}

CPT_TEST(batch_array_and_ndjson)
{
    cpw_event evs[32];
    int n = sample_events(evs);
    cpw_buf arr, nd, crlf;
    build_batches(&arr, &nd, &crlf, evs, n);
    cpw_buf *frames[] = {&arr, &nd, &crlf};
    collect *c = malloc(sizeof *c);
    for (int f = 0; f < 3; f++) {
        size_t count = 99;
        cpw_error e;
        cpw_err r = frame(frames[f]->data, frames[f]->len, c, &count, &e);
        CPT_ASSERTF(r == CPW_OK, "frame %d: %s: %s", f, cpw_err_name(r), e.text);
        CPT_EQ_INT(count, n);
        CPT_EQ_INT(c->n, n);
        for (int i = 0; i < n; i++) {
            CPT_EQ_INT(c->kind[i], CPW_K_EVENT);
            CPT_EQ_INT(c->seq[i], 100 + i);
            check_event_eq(&c->ev[i], &evs[i]);
        }
        /* the NDJSON frame without its final newline is the same */
        if (frames[f] == &nd) {
            r = frame(nd.data, nd.len - 1, c, &count, &e);
            CPT_EQ_INT(r, CPW_OK);
            CPT_EQ_INT(count, n);
        }
        /* a callback that says stop ends decoding, successfully */
        memset(c, 0, sizeof *c);
        c->stop_at = 3;
        r = cpw_decode_frame(frames[f]->data, frames[f]->len, collect_cb, c, &count, &e);
        CPT_EQ_INT(r, CPW_OK);
        CPT_EQ_INT(count, 3);
        CPT_EQ_INT(c->n, 3);
    }
    /* a single message is a frame of one */
    cpw_buf one;
    cpw_buf_init(&one);
    encode_ev(&one, 5, &evs[0]);
    size_t count;
    cpw_error e;
    CPT_EQ_INT(frame(one.data, one.len, c, &count, &e), CPW_OK);
    CPT_EQ_INT(count, 1);
    check_event_eq(&c->ev[0], &evs[0]);
    /* a NULL callback just counts */
    CPT_EQ_INT(cpw_decode_frame(arr.data, arr.len, NULL, NULL, &count, &e), CPW_OK);
    CPT_EQ_INT(count, n);
    cpw_buf_free(&one);
    cpw_buf_free(&arr);
    cpw_buf_free(&nd);
    cpw_buf_free(&crlf);
    free(c);
}

CPT_TEST(batch_mixed_kinds_and_stealing)
{
    cpw_hello *h = malloc(sizeof *h);
    fill_hello(h);
    cpw_buf b, one;
    cpw_buf_init(&b);
    cpw_buf_init(&one);
    cpw_envelope env = {JOB, 1, T0};
    cpw_encode_hello(&b, &env, h);
    b.data[b.len++] = '\n';
    env.seq = 2;
    cpw_subtask_metrics row = {1, 1, 10, 20, 300, 1};
    cpw_heartbeat hb = {.emitted = 3, .sent = 2, .dropped = 1, .n = 1, .subtasks = &row};
    cpw_encode_heartbeat(&b, &env, &hb);
    b.data[b.len++] = '\n';
    cpw_event ev = mkev(CPW_EV_CP_TRIGGERED, 1, -1, -1, T0);
    encode_ev(&b, 3, &ev);
    b.data[b.len] = '\0';
    collect *c = malloc(sizeof *c);
    size_t count;
    cpw_error e;
    CPT_EQ_INT(frame(b.data, b.len, c, &count, &e), CPW_OK);
    CPT_EQ_INT(count, 3);
    CPT_EQ_INT(c->kind[0], CPW_K_HELLO);
    CPT_EQ_INT(c->kind[1], CPW_K_HEARTBEAT);
    CPT_EQ_INT(c->kind[2], CPW_K_EVENT);
    CPT_ASSERT(c->stolen != NULL);
    check_hello_eq(c->stolen, h);
    free(c->stolen);
    free(c);
    free(h);
    cpw_buf_free(&b);
    cpw_buf_free(&one);
}

CPT_TEST(batch_empty_and_bad)
{
    collect *c = malloc(sizeof *c);
    size_t count = 99;
    cpw_error e;
    CPT_EQ_INT(frame("[]", 2, c, &count, &e), CPW_OK);
    CPT_EQ_INT(count, 0);
    CPT_EQ_INT(c->n, 0);
    CPT_EQ_INT(frame(" [ \n\t ] \n", 9, c, &count, &e), CPW_OK);
    CPT_EQ_INT(count, 0);

    cpw_event evs[32];
    int n = sample_events(evs);
    cpw_buf arr, nd, crlf;
    build_batches(&arr, &nd, &crlf, evs, n);

    /* a syntax error in the last element: nothing is delivered */
    char *bad = strdup(arr.data);
    size_t len = strlen(bad);
    CPT_ASSERT(bad[len - 2] == '}');
    bad[len - 2] = ','; /* {...,] */
    CPT_EQ_INT(frame(bad, len, c, &count, &e), CPW_ERR_SYNTAX);
    CPT_EQ_INT(count, 0);
    CPT_EQ_INT(c->n, 0);
    CPT_ASSERT(e.offset > 0 && e.offset < len);
    free(bad);
    bad = strdup(nd.data);
    len = strlen(bad);
    CPT_ASSERT(bad[len - 2] == '}');
    bad[len - 2] = ']'; /* last line: {...] */
    CPT_EQ_INT(frame(bad, len, c, &count, &e), CPW_ERR_SYNTAX);
    CPT_EQ_INT(c->n, 0);
    free(bad);
    /* truncated: the array never closes */
    CPT_EQ_INT(frame(arr.data, arr.len - 1, c, &count, &e), CPW_ERR_TRUNCATED);
    CPT_EQ_INT(c->n, 0);
    /* invalid UTF-8 or a NUL anywhere: nothing delivered */
    bad = malloc(arr.len + 1);
    memcpy(bad, arr.data, arr.len + 1);
    bad[arr.len - 5] = (char)0xff;
    CPT_EQ_INT(frame(bad, arr.len, c, &count, &e), CPW_ERR_BAD_UTF8);
    CPT_EQ_INT(c->n, 0);
    bad[arr.len - 5] = '\0';
    CPT_EQ_INT(frame(bad, arr.len, c, &count, &e), CPW_ERR_NUL_BYTE);
    CPT_EQ_INT(c->n, 0);
    free(bad);

    /* A message of a type this build does not know (a newer agent's) is
     * delivered with its envelope only, so seq tracking sees no gap. */
    cpw_buf x;
    cpw_buf_init(&x);
    for (int i = 0; i < 3; i++) {
        encode_ev(&x, (uint64_t)i, &evs[i]);
        x.data[x.len++] = '\n';
        if (i == 1) {
            const char *unk = "{\"v\":1,\"type\":\"no_such_event\",\"job\":\"j\",\"seq\":9,\"ts_us\":1}\n";
            cpw_buf_reserve(&x, strlen(unk));
            memcpy(x.data + x.len, unk, strlen(unk) + 1);
            x.len += strlen(unk);
        }
    }
    CPT_EQ_INT(frame(x.data, x.len, c, &count, &e), CPW_OK);
    CPT_EQ_INT(count, 4);
    CPT_EQ_INT(c->n, 4);
    CPT_EQ_INT(c->kind[2], CPW_K_UNKNOWN);
    CPT_EQ_INT(c->seq[2], 9);
    CPT_EQ_INT(c->kind[3], CPW_K_EVENT);
    /* A last element that is well-formed JSON but not a valid message (op
     * out of range): the whole frame is refused and nothing is delivered. */
    const char *last = "{\"v\":1,\"type\":\"snapshot_start\",\"job\":\"j\",\"seq\":3,\"ts_us\":1,\"id\":1,\"op\":99999,\"subtask\":0}\n";
    cpw_buf_reserve(&x, strlen(last));
    memcpy(x.data + x.len, last, strlen(last) + 1);
    x.len += strlen(last);
    CPT_EQ_INT(frame(x.data, x.len, c, &count, &e), CPW_ERR_BAD_VALUE);
    CPT_EQ_INT(count, 0);
    CPT_EQ_INT(c->n, 0);
    CPT_EQ_STR(e.field, "op");
    cpw_buf_free(&x);
    cpw_buf_free(&arr);
    cpw_buf_free(&nd);
    cpw_buf_free(&crlf);
    free(c);
}

/* ----------------------------------------------------------- malformed input */

#define SAME (-1) /* cpw_decode_frame gives the same code */
#define SKIP (-2) /* not checked through cpw_decode_frame */
#define IGNORED (-3) /* cpw_decode_frame: CPW_OK, delivered as CPW_K_UNKNOWN */

typedef struct bad_row {
    const char *name;
    const char *buf;          /* NULL: built by gen */
    size_t len;
    char *(*gen)(size_t *len);
    cpw_err code;             /* from cpw_decode_one */
    const char *field;        /* expected err.field; NULL: not checked */
    int frame;                /* from cpw_decode_frame: SAME, SKIP or a code */
} bad_row;

#define L(s) s, sizeof(s) - 1, NULL
#define G(fn) NULL, 0, fn
#define ENV(t) "{\"v\":1,\"type\":\"" t "\",\"job\":\"j\",\"seq\":1,\"ts_us\":1"
#define OPSUB ",\"op\":0,\"subtask\":0"
#define ACKF ",\"state_size\":1,\"checkpointed_size\":1,\"processed_data\":0,\"persisted_data\":0," \
             "\"start_delay_us\":0,\"alignment_us\":0,\"sync_us\":0,\"async_us\":0,\"unaligned\":false"
#define HELLO(extra) ENV("hello") ",\"name\":\"n\",\"pid\":1,\"operators\":[{\"name\":\"a\"," \
             "\"parallelism\":2},{\"name\":\"b\",\"parallelism\":1}]" extra "}"
#define CMD(extra) ENV("cmd") ",\"req\":1" extra "}"
#define REPLY(extra) ENV("reply") ",\"req\":1" extra "}"
#define R200 "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"

static char *mkbuf(size_t n)
{
    char *p = malloc(n + 1);
    CPT_ASSERT(p != NULL);
    p[n] = '\0';
    return p;
}

static char *cat3(const char *a, const char *mid, size_t mid_len, const char *z, size_t *len)
{
    size_t la = strlen(a), lz = strlen(z);
    char *p = mkbuf(la + mid_len + lz);
    memcpy(p, a, la);
    memcpy(p + la, mid, mid_len);
    memcpy(p + la + mid_len, z, lz);
    *len = la + mid_len + lz;
    return p;
}

static char *gen_huge_string(size_t *len)
{
    char *mid = mkbuf(CPW_MAX_STRING + 1);
    memset(mid, 'a', CPW_MAX_STRING + 1);
    char *p = cat3(ENV("cp_committed") ",\"id\":1,\"x\":\"", mid, CPW_MAX_STRING + 1, "\"}", len);
    free(mid);
    return p;
}

static char *gen_long_key(size_t *len)
{
    char mid[300];
    memset(mid, 'k', sizeof mid);
    return cat3(ENV("cp_committed") ",\"id\":1,\"", mid, sizeof mid, "\":1}", len);
}

static char *nest(int depth, size_t *len)
{
    char *mid = mkbuf((size_t)depth * 2);
    memset(mid, '[', (size_t)depth);
    memset(mid + depth, ']', (size_t)depth);
    char *p = cat3(ENV("cp_committed") ",\"id\":1,\"x\":", mid, (size_t)depth * 2, "}", len);
    free(mid);
    return p;
}
static char *gen_deep_100(size_t *len) { return nest(100, len); }
static char *gen_deep_16(size_t *len) { return nest(CPW_MAX_DEPTH, len); }

static char *gen_deep_objects(size_t *len)
{
    /* {"a":{"a":{…}}} 20 deep inside a hello (the jansson path) */
    char mid[20 * 6 + 20 + 1];
    size_t k = 0;
    for (int i = 0; i < 20; i++) {
        memcpy(mid + k, "{\"a\":", 5);
        k += 5;
    }
    mid[k++] = '1';
    for (int i = 0; i < 20; i++)
        mid[k++] = '}';
    return cat3(ENV("hello") ",\"name\":\"n\",\"pid\":1,\"operators\":[],\"x\":", mid, k, "}", len);
}

static char *gen_too_many_members(size_t *len)
{
    char mid[CPW_MAX_FIELDS * 12];
    size_t k = 0;
    for (int i = 0; i < CPW_MAX_FIELDS; i++) /* 6 envelope + 1 id + 64 = 71 members */
        k += (size_t)sprintf(mid + k, ",\"x%d\":%d", i, i);
    return cat3(ENV("cp_committed") ",\"id\":1", mid, k, "}", len);
}

static char *gen_too_large(size_t *len)
{
    size_t n = CPW_MAX_FRAME + 1;
    char *p = mkbuf(n);
    memset(p, ' ', n);
    memcpy(p, "{}", 2);
    *len = n;
    return p;
}

static char *gen_batch_too_many(size_t *len)
{
    size_t n = 1 + (size_t)(CPW_MAX_BATCH + 1) * 3;
    char *p = mkbuf(n);
    p[0] = '[';
    for (size_t i = 0; i <= CPW_MAX_BATCH; i++)
        memcpy(p + 1 + i * 3, "{},", 3);
    p[n - 1] = ']';
    *len = n;
    return p;
}

static char *gen_ndjson_too_many(size_t *len)
{
    size_t n = (size_t)(CPW_MAX_BATCH + 1) * 3;
    char *p = mkbuf(n);
    for (size_t i = 0; i <= CPW_MAX_BATCH; i++)
        memcpy(p + i * 3, "{}\n", 3);
    *len = n;
    return p;
}

static char *gen_too_many_ops(size_t *len)
{
    char mid[(CPW_MAX_OPERATORS + 1) * 40];
    size_t k = 0;
    for (int i = 0; i <= CPW_MAX_OPERATORS; i++)
        k += (size_t)sprintf(mid + k, "%s{\"name\":\"o%d\",\"parallelism\":1}", i ? "," : "", i);
    return cat3(ENV("hello") ",\"name\":\"n\",\"pid\":1,\"operators\":[", mid, k, "]}", len);
}

static char *gen_too_many_params(size_t *len)
{
    char mid[(CPW_CMD_MAX_PARAMS + 1) * 16];
    size_t k = 0;
    for (int i = 0; i <= CPW_CMD_MAX_PARAMS; i++)
        k += (size_t)sprintf(mid + k, "%s\"p%d\":\"v\"", i ? "," : "", i);
    return cat3(ENV("cmd") ",\"req\":1,\"cmd\":\"inject_failure\",\"args\":{\"kind\":\"kill\","
                "\"params\":{", mid, k, "}}}", len);
}

static char *gen_too_many_subtasks(size_t *len)
{
    size_t rows = CPW_MAX_SUBTASKS + 1;
    char *mid = mkbuf(rows * 14);
    size_t k = 0;
    for (size_t i = 0; i < rows; i++)
        k += (size_t)sprintf(mid + k, "%s[0,0,0,0,0,0]", i ? "," : "");
    char *p = cat3(ENV("heartbeat") ",\"subtasks\":[", mid, k, "]}", len);
    free(mid);
    return p;
}

static char *gen_too_many_hello_subtasks(size_t *len)
{
    /* 9 operators of 1024: 9216 subtasks */
    char mid[9 * 48];
    size_t k = 0;
    for (int i = 0; i < 9; i++)
        k += (size_t)sprintf(mid + k, "%s{\"name\":\"o%d\",\"parallelism\":1024}", i ? "," : "", i);
    return cat3(ENV("hello") ",\"name\":\"n\",\"pid\":1,\"operators\":[", mid, k, "]}", len);
}

static const bad_row bad_rows[] = {
    /* empty */
    {"empty", L(""), CPW_ERR_EMPTY, "", SAME},
    {"whitespace only", L(" \t\r\n  \n"), CPW_ERR_EMPTY, "", SAME},
    /* truncated */
    {"truncated: lone brace", L("{"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: inside a key", L("{\"v"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: after a colon", L("{\"v\":"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: after a value", L("{\"v\":1"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: inside a string", L("{\"v\":1,\"type\":\"ac"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: inside a number", L("{\"v\":1,\"seq\":-"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: inside an exponent", L("{\"v\":1,\"seq\":1e"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: inside a literal", L("{\"v\":1,\"x\":tru"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: inside a \\u escape", L("{\"v\":1,\"x\":\"\\u00"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: inside nesting", L("{\"v\":1,\"x\":[1,{\"a\":"), CPW_ERR_TRUNCATED, "", SAME},
    {"truncated: last brace missing", L(ENV("cp_committed") ",\"id\":3"), CPW_ERR_TRUNCATED, "", SAME},
    /* syntax */
    {"syntax: single quotes", L("{'v':1}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: trailing comma", L("{\"v\":1,}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: missing colon", L("{\"v\" 1}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: missing comma", L("{\"v\":1 \"x\":2}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: bare word", L("{\"v\":nope}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: NaN", L("{\"v\":NaN}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: plus sign", L("{\"v\":+1}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: leading zero", L("{\"v\":01}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: fraction without digits", L("{\"v\":1.}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: raw control char in a string", L("{\"v\":1,\"x\":\"a\x01z\"}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: raw newline in a string", L("{\"v\":1,\"x\":\"a\nz\"}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: bad escape", L("{\"v\":1,\"x\":\"\\q\"}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: bad \\u escape", L("{\"v\":1,\"x\":\"\\u12g4\"}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: unquoted key", L("{v:1}"), CPW_ERR_SYNTAX, "", SAME},
    {"syntax: mismatched bracket", L("{\"v\":1,\"x\":[1}"), CPW_ERR_SYNTAX, "", SAME},
    /* not an object */
    {"top level: array", L("[1,2]"), CPW_ERR_NOT_OBJECT, "", SAME},
    {"top level: string", L("\"hello\""), CPW_ERR_NOT_OBJECT, "", SAME},
    {"top level: number", L("42"), CPW_ERR_NOT_OBJECT, "", SAME},
    {"top level: null", L("null"), CPW_ERR_NOT_OBJECT, "", SAME},
    {"top level: array of arrays", L("[[{}]]"), CPW_ERR_NOT_OBJECT, "", SAME},
    /* wrong types */
    {"wrong type: v string", L("{\"v\":\"1\",\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"id\":1}"),
     CPW_ERR_WRONG_TYPE, "v", SAME},
    {"wrong type: v true", L("{\"v\":true}"), CPW_ERR_WRONG_TYPE, "v", SAME},
    {"wrong type: type number", L("{\"v\":1,\"type\":7,\"job\":\"j\",\"seq\":1,\"ts_us\":1}"), CPW_ERR_WRONG_TYPE, "type", SAME},
    {"wrong type: job object", L("{\"v\":1,\"type\":\"trigger\",\"job\":{},\"seq\":1,\"ts_us\":1}"), CPW_ERR_WRONG_TYPE, "job", SAME},
    {"wrong type: seq string", L("{\"v\":1,\"type\":\"ack\",\"job\":\"j\",\"seq\":\"1\",\"ts_us\":1}"), CPW_ERR_WRONG_TYPE, "seq", SAME},
    {"wrong type: ts_us array", L("{\"v\":1,\"type\":\"ack\",\"job\":\"j\",\"seq\":1,\"ts_us\":[1]}"), CPW_ERR_WRONG_TYPE, "ts_us", SAME},
    {"wrong type: id string", L(ENV("ack") ",\"id\":\"7\"" OPSUB ACKF "}"), CPW_ERR_WRONG_TYPE, "id", SAME},
    {"wrong type: op null", L(ENV("ack") ",\"id\":7,\"op\":null,\"subtask\":0" ACKF "}"), CPW_ERR_WRONG_TYPE, "op", SAME},
    {"wrong type: unaligned number", L(ENV("ack") ",\"id\":7" OPSUB ",\"state_size\":1,\"checkpointed_size\":1,"
     "\"processed_data\":0,\"persisted_data\":0,\"start_delay_us\":0,\"alignment_us\":0,\"sync_us\":0,"
     "\"async_us\":0,\"unaligned\":1}"), CPW_ERR_WRONG_TYPE, "unaligned", SAME},
    {"wrong type: reason number", L(ENV("decline") ",\"id\":7" OPSUB ",\"reason\":5}"), CPW_ERR_WRONG_TYPE, "reason", SAME},
    {"wrong type: hello operators object", L(ENV("hello") ",\"name\":\"n\",\"pid\":1,\"operators\":{}}"),
     CPW_ERR_WRONG_TYPE, "operators", SAME},
    {"wrong type: hello pid float", L(ENV("hello") ",\"name\":\"n\",\"pid\":1.5,\"operators\":[]}"),
     CPW_ERR_WRONG_TYPE, "pid", SAME},
    /* missing fields */
    {"missing v", L("{\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"id\":1}"), CPW_ERR_MISSING_FIELD, "v", SAME},
    {"missing everything", L("{}"), CPW_ERR_MISSING_FIELD, "v", SAME},
    {"missing type", L("{\"v\":1,\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"id\":1}"), CPW_ERR_MISSING_FIELD, "type", SAME},
    {"missing job", L("{\"v\":1,\"type\":\"cp_committed\",\"seq\":1,\"ts_us\":1,\"id\":1}"), CPW_ERR_MISSING_FIELD, "job", SAME},
    {"missing seq", L("{\"v\":1,\"type\":\"cp_committed\",\"job\":\"j\",\"ts_us\":1,\"id\":1}"), CPW_ERR_MISSING_FIELD, "seq", SAME},
    {"missing ts_us", L("{\"v\":1,\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":1,\"id\":1}"), CPW_ERR_MISSING_FIELD, "ts_us", SAME},
    {"missing id", L(ENV("cp_completed") ",\"duration_us\":1,\"state_size\":1,\"checkpointed_size\":1}"), CPW_ERR_MISSING_FIELD, "id", SAME},
    {"missing op", L(ENV("barrier_received") ",\"id\":1,\"subtask\":0,\"channel\":0}"), CPW_ERR_MISSING_FIELD, "op", SAME},
    {"missing channel", L(ENV("barrier_received") ",\"id\":1" OPSUB "}"), CPW_ERR_MISSING_FIELD, "channel", SAME},
    {"missing kind", L(ENV("cp_triggered") ",\"id\":1}"), CPW_ERR_MISSING_FIELD, "kind", SAME},
    {"missing decline reason", L(ENV("decline") ",\"id\":1" OPSUB "}"), CPW_ERR_MISSING_FIELD, "reason", SAME},
    {"missing cp_failed message", L(ENV("cp_failed") ",\"id\":1,\"reason\":\"IO_EXCEPTION\"}"), CPW_ERR_MISSING_FIELD, "message", SAME},
    {"missing ack figure", L(ENV("ack") ",\"id\":1" OPSUB ",\"state_size\":1}"), CPW_ERR_MISSING_FIELD, "checkpointed_size", SAME},
    {"missing hello name", L(ENV("hello") ",\"pid\":1,\"operators\":[]}"), CPW_ERR_MISSING_FIELD, "name", SAME},
    {"missing hello operators", L(ENV("hello") ",\"name\":\"n\",\"pid\":1}"), CPW_ERR_MISSING_FIELD, "operators", SAME},
    /* type and version */
    {"unknown type", L(ENV("bogus") "}"), CPW_ERR_UNKNOWN_TYPE, "type", IGNORED},
    {"unknown type: wrong case", L(ENV("ACK") "}"), CPW_ERR_UNKNOWN_TYPE, "type", IGNORED},
    {"unknown type: empty", L(ENV("") "}"), CPW_ERR_UNKNOWN_TYPE, "type", IGNORED},
    {"newer version", L("{\"v\":2,\"type\":\"something_new\",\"job\":\"j\",\"seq\":1,\"ts_us\":1}"), CPW_ERR_VERSION, "v", SAME},
    {"much newer version", L("{\"v\":99999,\"type\":\"ack\"}"), CPW_ERR_VERSION, "v", SAME},
    {"version 0", L("{\"v\":0,\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"id\":1}"), CPW_ERR_BAD_VALUE, "v", SAME},
    {"version negative", L("{\"v\":-1}"), CPW_ERR_BAD_VALUE, "v", SAME},
    {"version 1.0", L("{\"v\":1.0}"), CPW_ERR_BAD_VALUE, "v", SAME},
    /* sizes */
    {"string beyond CPW_MAX_STRING", G(gen_huge_string), CPW_ERR_STRING_TOO_LONG, "", SAME},
    {"member name beyond 256 bytes", G(gen_long_key), CPW_ERR_STRING_TOO_LONG, "", SAME},
    {"decline reason of 200 bytes", L(ENV("decline") ",\"id\":1" OPSUB ",\"reason\":\"" R200 R200 R200 R200 "\"}"),
     CPW_ERR_STRING_TOO_LONG, "reason", SAME},
    {"job id of 64 bytes", L("{\"v\":1,\"type\":\"cp_committed\",\"job\":\"0123456789012345678901234567890123456789012345678901234567890123\",\"seq\":1,\"ts_us\":1,\"id\":1}"),
     CPW_ERR_STRING_TOO_LONG, "job", SAME},
    {"failure kind of 32 bytes", L(ENV("failure_injected") ",\"kind\":\"0123456789abcdef0123456789abcdef\"" OPSUB ",\"params\":\"\"}"),
     CPW_ERR_STRING_TOO_LONG, "kind", SAME},
    {"hello name of 64 bytes", L(ENV("hello") ",\"name\":\"0123456789012345678901234567890123456789012345678901234567890123\",\"pid\":1,\"operators\":[]}"),
     CPW_ERR_STRING_TOO_LONG, "name", SAME},
    {"nesting: 100 arrays in an unknown field", G(gen_deep_100), CPW_ERR_TOO_DEEP, "", SAME},
    {"nesting: CPW_MAX_DEPTH arrays inside the message", G(gen_deep_16), CPW_ERR_TOO_DEEP, "", SAME},
    {"nesting: 20 objects inside a hello", G(gen_deep_objects), CPW_ERR_TOO_DEEP, "", SAME},
    {"too many members", G(gen_too_many_members), CPW_ERR_TOO_MANY, "", SAME},
    {"frame beyond CPW_MAX_FRAME", G(gen_too_large), CPW_ERR_TOO_LARGE, "", SAME},
    {"batch array beyond CPW_MAX_BATCH", G(gen_batch_too_many), CPW_ERR_NOT_OBJECT, "", CPW_ERR_TOO_MANY},
    {"NDJSON beyond CPW_MAX_BATCH", G(gen_ndjson_too_many), CPW_ERR_TRAILING, "", CPW_ERR_TOO_MANY},
    {"hello with 65 operators", G(gen_too_many_ops), CPW_ERR_TOO_MANY, "operators", SAME},
    {"hello with more than 8192 subtasks", G(gen_too_many_hello_subtasks), CPW_ERR_TOO_MANY, "operators", SAME},
    {"heartbeat with 8193 rows", G(gen_too_many_subtasks), CPW_ERR_TOO_MANY, "subtasks", SAME},
    {"inject_failure with 17 params", G(gen_too_many_params), CPW_ERR_TOO_MANY, "params", SAME},
    /* NUL and UTF-8 */
    {"raw NUL inside a string", L("{\"v\":1,\"x\":\"a\0b\"}"), CPW_ERR_NUL_BYTE, "", SAME},
    {"raw NUL after the message", L(ENV("cp_committed") ",\"id\":1}\0"), CPW_ERR_NUL_BYTE, "", SAME},
    {"\\u0000 in decline reason", L(ENV("decline") ",\"id\":1" OPSUB ",\"reason\":\"a\\u0000b\"}"), CPW_ERR_NUL_BYTE, "reason", SAME},
    {"\\u0000 in hello name", L(ENV("hello") ",\"name\":\"\\u0000\",\"pid\":1,\"operators\":[]}"), CPW_ERR_NUL_BYTE, NULL, SAME},
    {"\\u0000 in a command key", L(CMD(",\"cmd\":\"set_config\",\"args\":{\"settings\":{\"a\\u0000\":\"1\"}}")), CPW_ERR_NUL_BYTE, NULL, SAME},
    {"UTF-8: overlong slash", L("{\"v\":1,\"x\":\"\xC0\xAF\"}"), CPW_ERR_BAD_UTF8, "", SAME},
    {"UTF-8: overlong 3-byte", L("{\"v\":1,\"x\":\"\xE0\x80\xAF\"}"), CPW_ERR_BAD_UTF8, "", SAME},
    {"UTF-8: lone continuation", L("{\"v\":1,\"x\":\"\x80\"}"), CPW_ERR_BAD_UTF8, "", SAME},
    {"UTF-8: surrogate encoded", L("{\"v\":1,\"x\":\"\xED\xA0\x80\"}"), CPW_ERR_BAD_UTF8, "", SAME},
    {"UTF-8: truncated sequence", L("{\"v\":1,\"x\":\"\xE6\x97\"}"), CPW_ERR_BAD_UTF8, "", SAME},
    {"UTF-8: beyond U+10FFFF", L("{\"v\":1,\"x\":\"\xF4\x90\x80\x80\"}"), CPW_ERR_BAD_UTF8, "", SAME},
    {"UTF-8: byte 0xFF", L("{\"v\":1,\"x\":\"\xFF\"}"), CPW_ERR_BAD_UTF8, "", SAME},
    {"UTF-8: outside any string", L("{\"v\":1}\xC3"), CPW_ERR_BAD_UTF8, "", SAME},
    {"lone \\ud800 in decline reason", L(ENV("decline") ",\"id\":1" OPSUB ",\"reason\":\"a\\ud800b\"}"), CPW_ERR_BAD_UTF8, "reason", SAME},
    {"lone \\udc00 in job status message", L(ENV("job_status") ",\"status\":\"running\",\"message\":\"\\udc00\"}"), CPW_ERR_BAD_UTF8, "message", SAME},
    {"\\ud800 then not a low surrogate", L(ENV("task_failed") OPSUB ",\"error\":\"\\ud800\\u0041\"}"), CPW_ERR_BAD_UTF8, "error", SAME},
    {"\\ud800 at the end of a string", L(ENV("task_failed") OPSUB ",\"error\":\"x\\ud800\"}"), CPW_ERR_BAD_UTF8, "error", SAME},
    {"lone \\ud800 in hello name", L(ENV("hello") ",\"name\":\"\\ud800\",\"pid\":1,\"operators\":[]}"), CPW_ERR_BAD_UTF8, NULL, SAME},
    /* duplicates */
    {"duplicate key", L(ENV("cp_committed") ",\"id\":1,\"id\":2}"), CPW_ERR_DUPLICATE_KEY, "id", SAME},
    {"duplicate envelope key", L("{\"v\":1,\"v\":1}"), CPW_ERR_DUPLICATE_KEY, "v", SAME},
    {"duplicate key in hello config", L(HELLO(",\"config\":{\"a\":\"1\",\"a\":\"2\"}")), CPW_ERR_DUPLICATE_KEY, NULL, SAME},
    {"duplicate key via escape in hello", L(ENV("hello") ",\"name\":\"n\",\"na\\u006de\":\"m\",\"pid\":1,\"operators\":[]}"),
     CPW_ERR_DUPLICATE_KEY, NULL, SAME},
    /* trailing bytes */
    {"trailing garbage", L(ENV("cp_committed") ",\"id\":1} x"), CPW_ERR_TRAILING, "", SAME},
    {"two objects on one line", L(ENV("cp_committed") ",\"id\":1} " ENV("cp_committed") ",\"id\":2}"), CPW_ERR_TRAILING, "", SAME},
    {"two objects on two lines", L(ENV("cp_committed") ",\"id\":1}\n" ENV("cp_committed") ",\"id\":2}"), CPW_ERR_TRAILING, "", CPW_OK},
    {"batch: garbage after ]", L("[] x"), CPW_ERR_NOT_OBJECT, "", CPW_ERR_TRAILING},
    {"batch: missing ]", L("[{}"), CPW_ERR_NOT_OBJECT, "", CPW_ERR_TRUNCATED},
    {"batch: missing comma", L("[{} {}]"), CPW_ERR_NOT_OBJECT, "", CPW_ERR_SYNTAX},
    {"batch: trailing comma", L("[{},]"), CPW_ERR_NOT_OBJECT, "", CPW_ERR_NOT_OBJECT},
    /* numbers out of range */
    {"op 99999", L(ENV("snapshot_start") ",\"id\":1,\"op\":99999,\"subtask\":0}"), CPW_ERR_BAD_VALUE, "op", SAME},
    {"op -1 where a subtask is required", L(ENV("snapshot_start") ",\"id\":1,\"op\":-1,\"subtask\":0}"), CPW_ERR_BAD_VALUE, "op", SAME},
    {"subtask 1024", L(ENV("snapshot_start") ",\"id\":1,\"op\":0,\"subtask\":1024}"), CPW_ERR_BAD_VALUE, "subtask", SAME},
    {"negative id", L(ENV("cp_committed") ",\"id\":-5}"), CPW_ERR_BAD_VALUE, "id", SAME},
    {"id 0", L(ENV("cp_committed") ",\"id\":0}"), CPW_ERR_BAD_VALUE, "id", SAME},
    {"id 1e3", L(ENV("cp_committed") ",\"id\":1e3}"), CPW_ERR_BAD_VALUE, "id", SAME},
    {"id 2^63", L(ENV("cp_committed") ",\"id\":9223372036854775808}"), CPW_ERR_BAD_VALUE, "id", SAME},
    {"seq with a fraction", L("{\"v\":1,\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":1.5,\"ts_us\":1,\"id\":1}"), CPW_ERR_BAD_VALUE, "seq", SAME},
    {"seq 99999999999999999999", L("{\"v\":1,\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":99999999999999999999,\"ts_us\":1,\"id\":1}"),
     CPW_ERR_BAD_VALUE, "seq", SAME},
    {"seq negative", L("{\"v\":1,\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":-1,\"ts_us\":1,\"id\":1}"), CPW_ERR_BAD_VALUE, "seq", SAME},
    {"ts_us negative", L("{\"v\":1,\"type\":\"cp_committed\",\"job\":\"j\",\"seq\":1,\"ts_us\":-1,\"id\":1}"), CPW_ERR_BAD_VALUE, "ts_us", SAME},
    {"channel beyond 4096", L(ENV("barrier_received") ",\"id\":1" OPSUB ",\"channel\":4097}"), CPW_ERR_BAD_VALUE, "channel", SAME},
    {"negative duration", L(ENV("snapshot_sync_done") ",\"id\":1" OPSUB ",\"duration_us\":-1}"), CPW_ERR_BAD_VALUE, "duration_us", SAME},
    {"restored with negative id", L(ENV("restored") ",\"id\":-1,\"attempt\":0}"), CPW_ERR_BAD_VALUE, "id", SAME},
    {"number of 65 characters", L("{\"v\":1,\"x\":12345678901234567890123456789012345678901234567890123456789012345}"),
     CPW_ERR_BAD_VALUE, "", SAME},
    {"command req beyond int64", L(ENV("cmd") ",\"req\":99999999999999999999,\"cmd\":\"trigger\"}"), CPW_ERR_BAD_VALUE, NULL, SAME},
    {"hello pid negative", L(ENV("hello") ",\"name\":\"n\",\"pid\":-1,\"operators\":[]}"), CPW_ERR_BAD_VALUE, "pid", SAME},
    {"hello parallelism 0", L(ENV("hello") ",\"name\":\"n\",\"pid\":1,\"operators\":[{\"name\":\"a\",\"parallelism\":0}]}"),
     CPW_ERR_BAD_VALUE, "parallelism", SAME},
    {"hello edge to an unknown operator", L(HELLO(",\"edges\":[{\"from\":0,\"to\":2,\"kind\":\"hash\"}]")), CPW_ERR_BAD_VALUE, "to", SAME},
    {"hello config value not a string", L(HELLO(",\"config\":{\"a\":1}")), CPW_ERR_WRONG_TYPE, "a", SAME},
    /* bad enum names */
    {"trigger kind \"sometimes\"", L(ENV("cp_triggered") ",\"id\":1,\"kind\":\"sometimes\"}"), CPW_ERR_BAD_VALUE, "kind", SAME},
    {"failure reason \"NOPE\"", L(ENV("cp_failed") ",\"id\":1,\"reason\":\"NOPE\",\"message\":\"\"}"), CPW_ERR_BAD_VALUE, "reason", SAME},
    {"failure reason lower case", L(ENV("cp_failed") ",\"id\":1,\"reason\":\"checkpoint_expired\",\"message\":\"\"}"), CPW_ERR_BAD_VALUE, "reason", SAME},
    {"job status \"sleeping\"", L(ENV("job_status") ",\"status\":\"sleeping\",\"message\":\"\"}"), CPW_ERR_BAD_VALUE, "status", SAME},
    /* heartbeat */
    {"heartbeat row of 5 values", L(ENV("heartbeat") ",\"subtasks\":[[0,0,1,2,3,0],[0,1,1,2,3]]}"), CPW_ERR_WRONG_TYPE, "subtasks", SAME},
    {"heartbeat row with a string", L(ENV("heartbeat") ",\"subtasks\":[[0,0,\"1\",2,3,0]]}"), CPW_ERR_WRONG_TYPE, "subtasks", SAME},
    {"heartbeat row not an array", L(ENV("heartbeat") ",\"subtasks\":[{}]}"), CPW_ERR_WRONG_TYPE, "subtasks", SAME},
    {"heartbeat queue fill 1001", L(ENV("heartbeat") ",\"subtasks\":[[0,0,1,2,1001,0]]}"), CPW_ERR_BAD_VALUE, "subtasks", SAME},
    {"heartbeat backpressured 2", L(ENV("heartbeat") ",\"subtasks\":[[0,0,1,2,3,2]]}"), CPW_ERR_BAD_VALUE, "subtasks", SAME},
    {"heartbeat without subtasks", L(ENV("heartbeat") ",\"agent\":{\"emitted\":1,\"sent\":1,\"dropped\":0}}"), CPW_ERR_MISSING_FIELD, "subtasks", SAME},
    {"heartbeat agent not an object", L(ENV("heartbeat") ",\"agent\":[],\"subtasks\":[]}"), CPW_ERR_WRONG_TYPE, "agent", SAME},
    /* commands */
    {"command with unknown cmd", L(CMD(",\"cmd\":\"reboot\"")), CPW_ERR_BAD_VALUE, "cmd", SAME},
    {"command without cmd", L(CMD("")), CPW_ERR_MISSING_FIELD, "cmd", SAME},
    {"command without req", L(ENV("cmd") ",\"cmd\":\"trigger\"}"), CPW_ERR_MISSING_FIELD, "req", SAME},
    {"command req negative", L(ENV("cmd") ",\"req\":-1,\"cmd\":\"trigger\"}"), CPW_ERR_BAD_VALUE, "req", SAME},
    {"command args not an object", L(CMD(",\"cmd\":\"trigger\",\"args\":[]")), CPW_ERR_WRONG_TYPE, "args", SAME},
    {"command mac not a string", L(CMD(",\"cmd\":\"trigger\",\"mac\":1")), CPW_ERR_WRONG_TYPE, "mac", SAME},
    {"command nonce too long", L(CMD(",\"cmd\":\"trigger\",\"nonce\":\"00112233445566778899aabbccddeeff0\"")),
     CPW_ERR_STRING_TOO_LONG, "nonce", SAME},
    {"set_config with empty settings", L(CMD(",\"cmd\":\"set_config\",\"args\":{\"settings\":{}}")), CPW_ERR_BAD_VALUE, "settings", SAME},
    {"set_config without settings", L(CMD(",\"cmd\":\"set_config\",\"args\":{}")), CPW_ERR_MISSING_FIELD, "settings", SAME},
    {"set_config settings not an object", L(CMD(",\"cmd\":\"set_config\",\"args\":{\"settings\":\"a=1\"}")), CPW_ERR_WRONG_TYPE, "settings", SAME},
    {"set_config value an array", L(CMD(",\"cmd\":\"set_config\",\"args\":{\"settings\":{\"a\":[]}}")), CPW_ERR_WRONG_TYPE, "a", SAME},
    {"abort without id", L(CMD(",\"cmd\":\"abort\",\"args\":{}")), CPW_ERR_MISSING_FIELD, "id", SAME},
    {"abort without args", L(CMD(",\"cmd\":\"abort\"")), CPW_ERR_MISSING_FIELD, "id", SAME},
    {"abort id 0", L(CMD(",\"cmd\":\"abort\",\"args\":{\"id\":0}")), CPW_ERR_BAD_VALUE, "id", SAME},
    {"abort id a string", L(CMD(",\"cmd\":\"abort\",\"args\":{\"id\":\"3\"}")), CPW_ERR_WRONG_TYPE, "id", SAME},
    {"inject_failure without kind", L(CMD(",\"cmd\":\"inject_failure\",\"args\":{\"op\":1}")), CPW_ERR_MISSING_FIELD, "kind", SAME},
    {"inject_failure op 64", L(CMD(",\"cmd\":\"inject_failure\",\"args\":{\"kind\":\"kill\",\"op\":64}")), CPW_ERR_BAD_VALUE, "op", SAME},
    {"get_state history beyond CPW_MAX_HISTORY", L(CMD(",\"cmd\":\"get_state\",\"args\":{\"history\":100001}")), CPW_ERR_BAD_VALUE, "history", SAME},
    /* replies */
    {"reply without ok", L(REPLY(",\"message\":\"\"")), CPW_ERR_MISSING_FIELD, "ok", SAME},
    {"reply ok a string", L(REPLY(",\"ok\":\"yes\"")), CPW_ERR_WRONG_TYPE, "ok", SAME},
    {"reply not ok without error", L(REPLY(",\"ok\":false,\"message\":\"m\"")), CPW_ERR_MISSING_FIELD, "error", SAME},
    {"reply error token too long", L(REPLY(",\"ok\":false,\"error\":\"0123456789012345678901234567890123\"")), CPW_ERR_STRING_TOO_LONG, "error", SAME},
    {"reply result an array", L(REPLY(",\"ok\":true,\"result\":[]")), CPW_ERR_WRONG_TYPE, "result", SAME},
    {"reply result without its fields", L(REPLY(",\"ok\":true,\"result\":{}")), CPW_ERR_MISSING_FIELD, "job", SAME},
};

CPT_TEST(malformed_table)
{
    const int n = (int)(sizeof bad_rows / sizeof bad_rows[0]);
    CPT_ASSERT(n >= 35);
    int failures = 0;
    for (int i = 0; i < n; i++) {
        const bad_row *r = &bad_rows[i];
        size_t len = r->len;
        cpw_err want = r->code;
        const char *want_field = r->field;
        char *owned = r->gen ? r->gen(&len) : NULL;
        const char *buf = owned ? owned : r->buf;

        cpw_msg m;
        memset(&m, 0x5a, sizeof m);
        cpw_error e;
        memset(&e, 0, sizeof e);
        cpw_err got = cpw_decode_one(buf, len, &m, &e);
        static const cpw_msg zero;
        bool ok = got == want && e.code == want && memcmp(&m, &zero, sizeof m) == 0 &&
                  (!want_field || !strcmp(e.field, want_field)) && e.text[0] && e.offset <= len;
        if (!ok) {
            fprintf(stderr, "    row %d \"%s\": decode_one gave %s (field '%s', offset %zu: %s),"
                    " want %s field '%s'%s\n", i, r->name, cpw_err_name(got), e.field, e.offset,
                    e.text, cpw_err_name(want), want_field ? want_field : "*",
                    memcmp(&m, &zero, sizeof m) ? " [message not cleared]" : "");
            failures++;
        }
        if (r->frame != SKIP) {
            cpw_err fwant = r->frame == SAME ? want : r->frame == IGNORED ? CPW_OK
                          : (cpw_err)r->frame;
            collect *c = malloc(sizeof *c);
            size_t count = 99;
            cpw_error fe;
            cpw_err fgot = frame(buf, len, c, &count, &fe);
            bool fok = fgot == fwant &&
                       (r->frame == IGNORED ? count == 1 && c->n == 1 &&
                                                  c->kind[0] == CPW_K_UNKNOWN && c->seq[0] == 1
                        : fwant != CPW_OK ? count == 0 && c->n == 0
                                          : count > 0) &&
                       (fwant == CPW_OK || fe.code == fwant);
            if (!fok) {
                fprintf(stderr, "    row %d \"%s\": decode_frame gave %s (%s), %zu delivered, want %s\n",
                        i, r->name, cpw_err_name(fgot), fe.text, count, cpw_err_name(fwant));
                failures++;
            }
            free(c);
        }
        free(owned);
    }
    printf("    %d malformed inputs checked\n", n);
    CPT_ASSERTF(failures == 0, "%d malformed-input rows failed", failures);
}

CPT_TEST(decode_null_and_error_names)
{
    cpw_msg m;
    cpw_error e;
    CPT_EQ_INT(cpw_decode_one(NULL, 0, &m, &e), CPW_ERR_EMPTY);
    size_t count = 5;
    CPT_EQ_INT(cpw_decode_frame(NULL, 0, NULL, NULL, &count, &e), CPW_ERR_EMPTY);
    CPT_EQ_INT(count, 0);
    /* a NULL error pointer is fine */
    CPT_EQ_INT(cpw_decode_one("{", 1, &m, NULL), CPW_ERR_TRUNCATED);
    CPT_EQ_INT(cpw_decode_one("{\"v\":2}", 7, &m, NULL), CPW_ERR_VERSION);
    /* the version error says what to do */
    CPT_EQ_INT(cpw_decode_one("{\"v\":2}", 7, &m, &e), CPW_ERR_VERSION);
    CPT_ASSERT(strstr(e.text, "newer") != NULL);
    /* every code has a distinct token and a text */
    for (int i = 0; i < CPW_ERR__COUNT; i++) {
        CPT_ASSERT(cpw_err_name((cpw_err)i) && *cpw_err_name((cpw_err)i));
        CPT_ASSERT(cpw_strerror((cpw_err)i) && *cpw_strerror((cpw_err)i));
        for (int j = 0; j < i; j++)
            CPT_ASSERT(strcmp(cpw_err_name((cpw_err)i), cpw_err_name((cpw_err)j)) != 0);
    }
    CPT_EQ_STR(cpw_err_name(CPW_ERR__COUNT), "unknown");
    CPT_EQ_STR(cpw_err_name(CPW_ERR_TRUNCATED), "truncated");
    CPT_EQ_STR(cpw_err_name(CPW_ERR_BAD_UTF8), "bad_utf8");
}

CPT_TEST(name_tables)
{
    for (int t = 1; t < CPW_EV__COUNT; t++) {
        const char *s = cpw_event_type_name((cpw_event_type)t);
        CPT_ASSERT(s != NULL);
        CPT_EQ_INT(cpw_event_type_from_name(s, strlen(s)), t);
    }
    CPT_ASSERT(cpw_event_type_name(CPW_EV_NONE) == NULL);
    CPT_ASSERT(cpw_event_type_name(CPW_EV__COUNT) == NULL);
    for (int r = 0; r < CPW_FAIL__COUNT; r++) {
        const char *s = cpw_failure_reason_name((cpw_failure_reason)r);
        CPT_ASSERT(s != NULL);
        CPT_EQ_INT(cpw_failure_reason_from_name(s, strlen(s)), r);
    }
    CPT_EQ_STR(cpw_failure_reason_name(CPW_FAIL_EXPIRED), "CHECKPOINT_EXPIRED");
    CPT_EQ_STR(cpw_failure_reason_name(CPW_FAIL_ABORTED), "CHECKPOINT_ABORTED_BY_USER");
    CPT_ASSERT(cpw_failure_reason_name(CPW_FAIL__COUNT) == NULL);
    for (int s = 0; s < CPW_JOB__COUNT; s++) {
        const char *n = cpw_job_status_name((cpw_job_status)s);
        CPT_ASSERT(n != NULL);
        CPT_EQ_INT(cpw_job_status_from_name(n, strlen(n)), s);
    }
    for (int c = 0; c < CPW_CMD__COUNT; c++) {
        const char *n = cpw_command_name((cpw_cmd_type)c);
        CPT_ASSERT(n != NULL);
        CPT_EQ_INT(cpw_command_from_name(n, strlen(n)), c);
    }
    CPT_EQ_INT(cpw_event_type_from_name("ack", 2), -1); /* length counts */
    CPT_EQ_INT(cpw_command_from_name("", 0), -1);
    char a[CPW_NONCE_HEX + 1], b[CPW_NONCE_HEX + 1];
    CPT_ASSERT(cpw_random_hex(a, CPW_NONCE_HEX));
    CPT_ASSERT(cpw_random_hex(b, CPW_NONCE_HEX));
    CPT_EQ_INT(strlen(a), CPW_NONCE_HEX);
    CPT_ASSERT(strspn(a, "0123456789abcdef") == CPW_NONCE_HEX);
    CPT_ASSERT(strcmp(a, b) != 0);
}

/* ------------------------------------------------------------ unknown fields */

CPT_TEST(unknown_fields_are_ignored)
{
    cpw_event want = mkev(CPW_EV_ACK, 9, 1, 2, 123);
    want.u.ack.state_size = 10;
    want.u.ack.checkpointed_size = 5;
    want.u.ack.unaligned = 1;
    /* unknown scalars, objects, arrays, nesting up to the limit (15 arrays
     * inside the message's own object), a string of exactly CPW_MAX_STRING
     * bytes, an escaped member name that looks like a known one */
    char deep[2 * (CPW_MAX_DEPTH - 1) + 1];
    memset(deep, '[', CPW_MAX_DEPTH - 1);
    memset(deep + CPW_MAX_DEPTH - 1, ']', CPW_MAX_DEPTH - 1);
    deep[2 * (CPW_MAX_DEPTH - 1)] = '\0';
    char *big = mkbuf(CPW_MAX_STRING);
    memset(big, 'b', CPW_MAX_STRING);
    char *in = malloc(16384);
    int n = snprintf(in, 16384,
        "{\"minor\":3,\"v\":1,\"type\":\"ack\",\"job\":\"" JOB "\",\"seq\":4,\"ts_us\":123,"
        "\"future\":{\"a\":[1,{\"b\":null,\"c\":[true,false,-1.5e10]}],\"d\":\"\\u00e9\\ud83d\\ude00\"},"
        "\"list\":[[],{},\"x\",0],\"deep\":%s,\"big\":\"%s\",\"i\\u0064\":99,"
        "\"id\":9,\"op\":1,\"subtask\":2,\"state_size\":10,\"checkpointed_size\":5,"
        "\"processed_data\":0,\"persisted_data\":0,\"start_delay_us\":0,\"alignment_us\":0,"
        "\"sync_us\":0,\"async_us\":0,\"unaligned\":true,\"zzz\":null}",
        deep, big);
    cpw_msg m;
    decode_ok(in, (size_t)n, &m);
    CPT_EQ_INT(m.seq, 4);
    check_event_eq(&m.ev, &want);
    cpw_msg_clear(&m);

    /* hello, heartbeat, command and reply (the jansson path) too */
    const char *more[] = {
        HELLO(",\"future\":{\"x\":[1,2,{\"y\":\"z\"}]},\"edges\":[{\"from\":0,\"to\":1,\"weight\":3}],"
              "\"config\":{},\"labels\":[\"a\"]"),
        ENV("heartbeat") ",\"agent\":{\"emitted\":1,\"sent\":1,\"dropped\":0,\"queued\":7},"
              "\"subtasks\":[[0,0,1,2,3,0]],\"gc\":{\"pauses\":[1,2]}}",
        CMD(",\"cmd\":\"abort\",\"args\":{\"id\":3,\"why\":{\"a\":[]}},\"client\":{\"name\":\"cptop\"}"),
        REPLY(",\"ok\":true,\"message\":\"m\",\"trace\":[{\"span\":1}],\"result\":null"),
    };
    const cpw_kind kinds[] = {CPW_K_HELLO, CPW_K_HEARTBEAT, CPW_K_COMMAND, CPW_K_REPLY};
    for (int i = 0; i < 4; i++) {
        decode_ok(more[i], strlen(more[i]), &m);
        CPT_EQ_INT(m.kind, kinds[i]);
        if (m.kind == CPW_K_HELLO) {
            CPT_EQ_INT(m.hello->n_ops, 2);
            CPT_EQ_INT(m.hello->n_edges, 1);
            CPT_EQ_STR(m.hello->edges[0].kind, "");
        } else if (m.kind == CPW_K_COMMAND) {
            CPT_EQ_INT(m.cmd->c.cp_id, 3);
        } else if (m.kind == CPW_K_REPLY) {
            CPT_ASSERT(m.reply->state == NULL);
        } else {
            CPT_EQ_INT(m.heartbeat.n, 1);
        }
        cpw_msg_clear(&m);
    }

    /* unknown members inside a state result and its checkpoints */
    cpw_state *s = build_state();
    cpw_reply r = {.req = 1, .ok = true};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, 1, 1};
    cpw_encode_reply(&b, &env, &r, s, -1);
    cpw_state_free(s);
    /* insert "x":{...} after every "id": of a checkpoint and at the result's start */
    cpw_buf o;
    cpw_buf_init(&o);
    cpw_buf_reserve(&o, b.len * 2);
    for (size_t i = 0; i < b.len; i++) {
        if (!strncmp(b.data + i, "{\"id\":", 6) || !strncmp(b.data + i, "{\"job\":", 7)) {
            const char *ins = "{\"x_unknown\":{\"n\":[1,[2]]},";
            memcpy(o.data + o.len, ins, strlen(ins));
            o.len += strlen(ins);
            continue;
        }
        o.data[o.len++] = b.data[i];
    }
    o.data[o.len] = '\0';
    CPT_ASSERT(o.len > b.len);
    decode_ok(o.data, o.len, &m);
    CPT_ASSERT(m.reply->state != NULL);
    CPT_EQ_INT(m.reply->state->n_history, 2);
    cpw_msg_clear(&m);
    cpw_buf_free(&o);
    cpw_buf_free(&b);
    free(big);
    free(in);
}

/* ---------------------------------------------------------------- sanitize */

static void check_clean(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i]; i++) {
        CPT_ASSERTF(p[i] >= 0x20 && p[i] != 0x7f, "control byte 0x%02x at %zu", p[i], i);
        if (p[i] == 0xC2)
            CPT_ASSERTF(p[i + 1] >= 0xA0, "C1 control U+00%02X at %zu", p[i + 1] - 0x40, i);
    }
    /* and it is valid UTF-8: the strict frame check accepts it */
    CPT_EQ_INT(cpw_decode_one(s, strlen(s), &(cpw_msg){0}, NULL) != CPW_ERR_BAD_UTF8, 1);
}

CPT_TEST(sanitize_strips_terminal_controls)
{
    const char *in = "op\x1b[2Jname\x07 bell \xc2\x9b" "31m csi \xc2\x85 nel \x7f del "
                     "\xff\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80 bad \xe6\x97 cut \x80 "
                     "ok: é 日本 😀 \xc2\xa0nbsp\r\n\t\x01" "end";
    char out[256];
    cpw_sanitize(in, out, sizeof out);
    check_clean(out);
    CPT_ASSERT(strstr(out, "\x1b") == NULL);
    CPT_ASSERT(strstr(out, "[2Jname") != NULL); /* the text stays, the ESC goes */
    CPT_ASSERT(strstr(out, "é 日本 😀") != NULL);  /* valid multi-byte text is kept */
    CPT_ASSERT(strstr(out, "\xc2\xa0nbsp") != NULL);
    CPT_ASSERT(strstr(out, "end") != NULL);

    /* every byte value, alone and after a lead byte */
    for (int a = 1; a < 256; a++) {
        for (int z = 0; z < 256; z += 1) {
            char s[4] = {(char)a, (char)z, 'x', 0};
            cpw_sanitize(s, out, sizeof out);
            check_clean(out);
        }
    }
    /* truncation never splits a character and always terminates */
    for (size_t size = 1; size < 24; size++) {
        char small[24];
        memset(small, 'Z', sizeof small);
        cpw_sanitize("ab😀日本\x1b", small, size);
        CPT_ASSERT(strlen(small) < size);
        check_clean(small);
    }
    cpw_sanitize(NULL, out, sizeof out);
    CPT_EQ_STR(out, "");
    cpw_sanitize("x", out, 0); /* no room: writes nothing */
}

/* ------------------------------------------------- hostile values in the fold */

CPT_TEST(state_fold_of_hostile_values)
{
    /* figures at the top of their range from the wire: sums saturate (no
     * signed overflow) and the state still encodes to a decodable reply */
    const char *frame_text =
        "{\"v\":1,\"type\":\"hello\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"name\":\"n\",\"pid\":1,"
        "\"operators\":[{\"name\":\"a\",\"parallelism\":2}]}\n"
        "{\"v\":1,\"type\":\"cp_triggered\",\"job\":\"j\",\"seq\":2,\"ts_us\":9223372036854775000,"
        "\"id\":1,\"kind\":\"periodic\"}\n"
        "{\"v\":1,\"type\":\"ack\",\"job\":\"j\",\"seq\":3,\"ts_us\":9223372036854775807,\"id\":1,"
        "\"op\":0,\"subtask\":0,\"state_size\":9223372036854775807,\"checkpointed_size\":9000000000000000000,"
        "\"processed_data\":0,\"persisted_data\":0,\"start_delay_us\":9223372036854775807,"
        "\"alignment_us\":0,\"sync_us\":0,\"async_us\":0,\"unaligned\":false}\n"
        "{\"v\":1,\"type\":\"ack\",\"job\":\"j\",\"seq\":4,\"ts_us\":9223372036854775807,\"id\":1,"
        "\"op\":0,\"subtask\":1,\"state_size\":9223372036854775807,\"checkpointed_size\":9000000000000000000,"
        "\"processed_data\":0,\"persisted_data\":0,\"start_delay_us\":5,"
        "\"alignment_us\":0,\"sync_us\":0,\"async_us\":0,\"unaligned\":false}\n";
    cpw_state *s = cpw_state_new(4, 4);
    snprintf(s->job, sizeof s->job, "j");
    cpw_msg *ms = calloc(8, sizeof *ms);
    int n = 0;
    const char *p = frame_text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        decode_ok(p, (size_t)(nl - p), &ms[n]);
        if (ms[n].kind == CPW_K_HELLO)
            cpw_state_set_hello(s, ms[n].hello);
        else
            cpw_state_apply(s, &ms[n].ev, ms[n].seq);
        cpw_msg_clear(&ms[n]);
        n++;
        p = nl + 1;
    }
    free(ms);
    CPT_EQ_INT(s->n_inflight, 1);
    CPT_EQ_INT(s->inflight[0].state_size, INT64_MAX);
    CPT_EQ_INT(s->inflight[0].checkpointed_size, INT64_MAX);
    CPT_EQ_INT(s->inflight[0].acks, 2);
    cpw_state *g = state_roundtrip(s, -1);
    CPT_EQ_INT(g->inflight[0].subs[0].barrier_ts, INT64_MAX);
    cpw_state_free(g);
    cpw_state_free(s);
}

CPT_TEST(decode_code_does_not_depend_on_err_pointer)
{
    /* a reply whose state is bad: the same code with and without err */
    const char *in = "{\"v\":1,\"type\":\"reply\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"req\":1,"
                     "\"ok\":true,\"result\":{\"job\":\"j\",\"seq\":1}}";
    cpw_msg m;
    cpw_error e;
    cpw_err with = cpw_decode_one(in, strlen(in), &m, &e);
    CPT_EQ_INT(with, CPW_ERR_MISSING_FIELD);
    CPT_EQ_STR(e.field, "name");
    CPT_EQ_INT(cpw_decode_one(in, strlen(in), &m, NULL), with);
    size_t count;
    CPT_EQ_INT(cpw_decode_frame(in, strlen(in), NULL, NULL, &count, NULL), with);
}

CPT_TEST(state_with_out_of_range_reason_stays_decodable)
{
    /* the agent folds what the job emits without checking its enums: a
     * cp_failed with a reason beyond the table must not make every later
     * get_state reply undecodable */
    cpw_state *s = cpw_state_new(4, 4);
    snprintf(s->job, sizeof s->job, "j");
    g_seq = 0;
    ap(s, mkev(CPW_EV_CP_TRIGGERED, 1, -1, -1, 100));
    cpw_event e = mkev(CPW_EV_CP_FAILED, 1, -1, -1, 200);
    e.u.failed.reason = (cpw_failure_reason)99;
    ap(s, e);
    cpw_reply r = {.req = 1, .ok = true};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {"j", 2, 300};
    cpw_encode_reply(&b, &env, &r, s, -1);
    cpw_msg m;
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.reply->state->n_history, 1);
    CPT_EQ_INT(cpw_state_history(m.reply->state, 0)->reason, -1);
    CPT_EQ_INT(cpw_state_history(m.reply->state, 0)->status, CPW_CP_FAILED);
    cpw_msg_clear(&m);
    /* the event itself is sent with a reason the decoder knows */
    cpw_buf_reset(&b);
    encode_ev(&b, 3, &e);
    decode_ok(b.data, b.len, &m);
    CPT_EQ_INT(m.ev.u.failed.reason, CPW_FAIL_DECLINED);
    cpw_msg_clear(&m);
    cpw_buf_free(&b);
    cpw_state_free(s);
}
