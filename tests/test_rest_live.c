/*
 * test_rest_live.c — a live agent answering Flink's REST API over HTTP:
 * every endpoint read back with the Flink reader, checkpoints in flight in
 * the history and details at once, a POST trigger that completes with its
 * checkpoint id, cancel with and without a handler, the secret beyond
 * loopback, hostile and slow clients (the server keeps answering, the job
 * never waits).
 */
#include "cpagent.h"
#include "cpt_test.h"
#include "cpw_flink.h"
#include "cpt_sub.h"
#include "../agent/cpa_rest_int.h" /* its bounds */

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ HTTP */

typedef struct http_resp {
    int status;
    char head[4096];
    char *body;                 /* NUL-terminated, owned */
    size_t len;
} http_resp;

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CPT_ASSERT(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Sends raw bytes, reads until the server closes (or 5 s pass). */
static http_resp http_raw(int port, const char *req, size_t len)
{
    http_resp r = {0};
    int fd = connect_to(port);
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early on a request it refused */
        off += (size_t)w;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + n, cap - n - 1, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1 || !sep) {
        r.status = -1;
        r.body = buf;
        return r;
    }
    snprintf(r.head, sizeof r.head, "%.*s", (int)(sep - buf), buf);
    r.len = n - (size_t)(sep + 4 - buf);
    r.body = malloc(r.len + 1);
    memcpy(r.body, sep + 4, r.len + 1);
    free(buf);
    return r;
}

static http_resp http(int port, const char *method, const char *path, const char *extra,
                      const char *body)
{
    char req[8192];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n%s", method, path, extra ? extra : "", bl,
                     body ? body : "");
    return http_raw(port, req, (size_t)n);
}

static void resp_free(http_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* The first error message of a Flink error body. */
static void error_of(const http_resp *r, char *out, size_t size)
{
    cpw_error e = {0};
    CPT_ASSERTF(cpw_flink_read_error(r->body, r->len, out, size, &e) == CPW_OK,
                "not an error body: %s", r->body);
}

/* ------------------------------------------------------------------ the job */

static atomic_int triggers, cancels;
static atomic_int refuse_trigger;
static atomic_int cancel_answer; /* what on_cancel returns (CPA_OK by default) */

static cpa_err on_trigger(void *opaque, const cpa_command *cmd, char *msg, size_t size)
{
    (void)opaque, (void)cmd;
    if (atomic_load(&refuse_trigger)) {
        snprintf(msg, size, "a manual checkpoint is already waiting");
        return CPA_ERR_HANDLER;
    }
    atomic_fetch_add(&triggers, 1);
    snprintf(msg, size, "will trigger");
    return CPA_OK;
}

static cpa_err on_cancel(void *opaque, const cpa_command *cmd, char *msg, size_t size)
{
    (void)opaque, (void)cmd;
    atomic_fetch_add(&cancels, 1);
    cpa_err e = (cpa_err)atomic_load(&cancel_answer);
    snprintf(msg, size, e ? "not now" : "cancelling");
    return e;
}

static cpa_agent *start(const char *job, const char *listen, const char *history, bool cancel)
{
    char rt[300], err[300];
    snprintf(rt, sizeof rt, "%s/rt", cpt_tmpdir());
    cpa_conf *c = cpa_conf_new();
    CPT_EQ_INT(cpa_conf_set(c, "runtime.dir", rt, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "job.id", job, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "job.name", "rest job", err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "heartbeat.ms", "3600000", err, sizeof err), CPA_OK);
    CPT_ASSERTF(cpa_conf_set(c, "rest.listen", listen, err, sizeof err) == CPA_OK, "%s", err);
    if (history)
        CPT_EQ_INT(cpa_conf_set(c, "web.checkpoints.history", history, err, sizeof err), CPA_OK);
    cpa_conf_set_command_cb(c, CPA_CMD_TRIGGER, on_trigger, NULL);
    if (cancel)
        cpa_conf_set_command_cb(c, CPA_CMD_CANCEL, on_cancel, NULL);
    cpa_agent *a = cpa_new(c, err, sizeof err);
    CPT_ASSERTF(a, "%s", err);
    const cpa_operator ops[] = {{"source", 2}, {"sum", 1}};
    const cpa_edge edges[] = {{0, 1, "hash"}};
    CPT_EQ_INT(cpa_set_topology(a, ops, 2, edges, 1), CPA_OK);
    const char *keys[] = {"execution.checkpointing.interval", "execution.checkpointing.mode",
                          "execution.checkpointing.storage"};
    const char *vals[] = {"2 s", "AT_LEAST_ONCE", "/data/cp"};
    CPT_EQ_INT(cpa_set_job_config(a, keys, vals, 3), CPA_OK);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    CPT_ASSERT(cpa_rest_port(a) > 0);
    return a;
}

static void emit(cpa_agent *a, cpa_event_type t, int64_t id, int op, int sub, int64_t ts)
{
    cpa_event e = {.type = t, .cp_id = id, .op = op, .subtask = sub, .ts_us = ts};
    if (t == CPA_EV_ACK) {
        e.u.ack.state_size = 100 * (op + 1);
        e.u.ack.checkpointed_size = 10 * (op + 1);
        e.u.ack.start_delay_us = 3000;
        e.u.ack.sync_us = 2000;
        e.u.ack.async_us = 9000;
    }
    if (t == CPA_EV_CP_COMPLETED) {
        e.u.completed.duration_us = 40000;
        e.u.completed.state_size = 400;
        e.u.completed.checkpointed_size = 40;
    }
    if (t == CPA_EV_CP_FAILED) {
        e.u.failed.reason = CPA_FAIL_EXPIRED;
        snprintf(e.u.failed.message, sizeof e.u.failed.message, "after 10 s");
    }
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
}

/* A checkpoint through to the end (completed or failed), or left in flight. */
static void checkpoint(cpa_agent *a, int64_t id, int64_t t0, int how, cpa_trigger_kind kind)
{
    cpa_event e = {.type = CPA_EV_CP_TRIGGERED, .cp_id = id, .op = -1, .subtask = -1, .ts_us = t0};
    e.u.triggered.kind = kind;
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    emit(a, CPA_EV_ACK, id, 0, 0, t0 + 5000);
    if (how == 0)
        return; /* in flight: one ack of three */
    if (how == 2) {
        emit(a, CPA_EV_CP_FAILED, id, -1, -1, t0 + 600000);
        return;
    }
    emit(a, CPA_EV_ACK, id, 0, 1, t0 + 6000);
    emit(a, CPA_EV_ACK, id, 1, 0, t0 + 30000);
    emit(a, CPA_EV_CP_COMPLETED, id, -1, -1, t0 + 40000);
}

static char jid[CPW_FLINK_ID_HEX + 1];

static http_resp get(int port, const char *fmt_path_after_jid)
{
    char path[300];
    snprintf(path, sizeof path, "/jobs/%s%s", jid, fmt_path_after_jid);
    return http(port, "GET", path, NULL, NULL);
}

/* ------------------------------------------------------------------ tests */

/* An agent with checkpoint 1 completed, 2 failed, 3 in flight. */
static cpa_agent *three_checkpoints(int64_t *t0_out)
{
    cpa_agent *a = start("rest-1", "127.0.0.1:0", NULL, false);
    int64_t t0 = cpw_now_us() - 60000000;
    checkpoint(a, 1, t0, 1, CPA_TRIGGER_PERIODIC);
    checkpoint(a, 2, t0 + 1000000, 2, CPA_TRIGGER_PERIODIC);
    checkpoint(a, 3, t0 + 2000000, 0, CPA_TRIGGER_PERIODIC);
    /* no wait: what was emitted before a request is in its answer */
    cpw_flink_derive_id(jid, "job", "rest-1", 0);
    *t0_out = t0;
    return a;
}

CPT_TEST(job_endpoints_answer_as_flink_does)
{
    int64_t t0;
    cpa_agent *a = three_checkpoints(&t0);
    int port = cpa_rest_port(a);
    cpw_error e = {0};

    http_resp r = http(port, "GET", "/v1/config", NULL, NULL);
    CPT_EQ_INT(r.status, 200);
    CPT_ASSERT(strstr(r.head, "Content-Type: application/json"));
    cpw_flink_dashboard d;
    CPT_EQ_INT(cpw_flink_read_dashboard(r.body, r.len, &d, &e), CPW_OK);
    CPT_ASSERT(strstr(d.flink_version, "libcpagent") && d.version_major == 1 &&
               d.version_minor == 19);
    resp_free(&r);

    r = http(port, "GET", "/jobs/overview", NULL, NULL);
    cpw_flink_jobs js;
    CPT_EQ_INT(cpw_flink_read_jobs(r.body, r.len, &js, &e), CPW_OK);
    CPT_EQ_INT(js.n, 1);
    CPT_EQ_STR(js.jobs[0].jid, jid);
    CPT_EQ_STR(js.jobs[0].name, "rest job");
    CPT_EQ_INT(js.jobs[0].tasks_total, 3);
    cpw_flink_jobs_clear(&js);
    resp_free(&r);

    r = get(port, "");
    cpw_flink_job_details jd;
    CPT_EQ_INT(cpw_flink_read_job_details(r.body, r.len, &jd, &e), CPW_OK);
    CPT_EQ_INT(jd.n_vertices, 2);
    CPT_EQ_STR(jd.vertices[1].name, "sum");
    CPT_EQ_INT(jd.vertices[0].parallelism, 2);
    CPT_EQ_INT(jd.n_edges, 1);
    CPT_ASSERT(jd.edges[0].from == 0 && jd.edges[0].to == 1);
    CPT_EQ_STR(jd.edges[0].ship_strategy, "HASH");
    char vid0[CPW_FLINK_ID_HEX + 1];
    cpw_flink_derive_id(vid0, "vertex", "rest-1", 0);
    CPT_EQ_STR(jd.vertices[0].id, vid0);
    cpw_flink_job_details_clear(&jd);
    resp_free(&r);
    cpa_destroy(a);
}

CPT_TEST(checkpoint_endpoints_answer_as_flink_does)
{
    int64_t t0;
    cpa_agent *a = three_checkpoints(&t0);
    int port = cpa_rest_port(a);
    cpw_error e = {0};
    char vid0[CPW_FLINK_ID_HEX + 1];
    cpw_flink_derive_id(vid0, "vertex", "rest-1", 0);
    http_resp r = get(port, "/checkpoints");
    CPT_EQ_INT(r.status, 200);
    cpw_flink_stats s;
    cpw_err rc = cpw_flink_read_stats(r.body, r.len, &s, &e);
    CPT_ASSERTF(rc == CPW_OK, "%s (%s): %s", e.text, e.field, r.body);
    CPT_EQ_INT(s.counts.total, 3);
    CPT_EQ_INT(s.counts.in_progress, 1);
    CPT_EQ_INT(s.counts.completed, 1);
    CPT_EQ_INT(s.counts.failed, 1);
    CPT_EQ_INT(s.n_history, 3);
    CPT_EQ_INT(s.history[0].id, 3); /* in flight, newest first */
    CPT_EQ_INT(s.history[0].cls, CPW_FLINK_IN_PROGRESS);
    CPT_EQ_INT(s.history[0].num_acked, 1);
    CPT_EQ_INT(s.history[0].num_subtasks, 3);
    CPT_EQ_INT(s.history[0].e2e, 5);
    CPT_EQ_INT(s.history[1].cls, CPW_FLINK_FAILED);
    CPT_EQ_STR(s.history[1].failure_message, "Checkpoint expired before completing. after 10 s");
    CPT_EQ_INT(s.history[1].failure_ts, (t0 + 1000000 + 600000) / 1000);
    CPT_EQ_INT(s.history[2].e2e, 40);
    CPT_EQ_INT(s.history[2].state_size, 400);
    CPT_EQ_INT(s.history[2].trigger_ts, t0 / 1000);
    CPT_EQ_INT(s.history[2].latest_ack_ts, (t0 + 30000) / 1000);
    CPT_EQ_STR(s.history[2].external_path, "/data/cp/rest-1/chk-1");
    CPT_ASSERT(s.latest_completed && s.latest_completed->id == 1);
    CPT_ASSERT(s.latest_failed && s.latest_failed->id == 2);
    CPT_ASSERT(!s.latest_restored && !s.latest_savepoint);
    CPT_EQ_INT(s.e2e.min, 40);
    CPT_ASSERT(s.e2e.p99 == 40 && isnan(s.processed.p50) == 0);
    cpw_flink_stats_clear(&s);
    resp_free(&r);

    r = get(port, "/checkpoints/config");
    cpw_flink_cp_config cc;
    CPT_EQ_INT(cpw_flink_read_cp_config(r.body, r.len, &cc, &e), CPW_OK);
    CPT_EQ_STR(cc.mode, "at_least_once");
    CPT_EQ_INT(cc.interval, 2000);
    CPT_EQ_STR(cc.checkpoint_storage, "FileSystemCheckpointStorage");
    resp_free(&r);

    r = get(port, "/checkpoints/details/3"); /* in flight: details at once */
    cpw_flink_cp cp;
    CPT_EQ_INT(cpw_flink_read_cp(r.body, r.len, &cp, &e), CPW_OK);
    CPT_EQ_INT(cp.status, CPW_FLINK_IN_PROGRESS);
    CPT_EQ_INT(cp.n_tasks, 2);
    for (int i = 0; i < 2; i++)
        if (!strcmp(cp.tasks[i].vertex, vid0)) {
            CPT_EQ_INT(cp.tasks[i].num_acked, 1);
            CPT_EQ_INT(cp.tasks[i].num_subtasks, 2);
            CPT_EQ_INT(cp.tasks[i].state_size, 100);
        }
    cpw_flink_cp_clear(&cp);
    resp_free(&r);

    char path[200];
    snprintf(path, sizeof path, "/checkpoints/details/3/subtasks/%s", vid0);
    r = get(port, path);
    cpw_flink_task_detail td;
    CPT_EQ_INT(cpw_flink_read_task_detail(r.body, r.len, &td, &e), CPW_OK);
    CPT_EQ_INT(td.n_subtasks, 2);
    CPT_ASSERT(td.subtasks[0].completed && !td.subtasks[1].completed); /* pending_or_failed */
    CPT_EQ_INT(td.subtasks[0].sync, 2);
    CPT_EQ_INT(td.subtasks[0].async, 9);
    CPT_EQ_INT(td.subtasks[0].start_delay, 3);
    CPT_EQ_INT(td.subtasks[0].e2e, 5);
    CPT_EQ_INT(td.start_delay.max, 3);
    cpw_flink_task_detail_clear(&td);
    resp_free(&r);

    /* finished ones still have details; unknown ones are Flink's 404 */
    r = get(port, "/checkpoints/details/1");
    CPT_EQ_INT(cpw_flink_read_cp(r.body, r.len, &cp, &e), CPW_OK);
    CPT_EQ_INT(cp.n_tasks, 2);
    cpw_flink_cp_clear(&cp);
    resp_free(&r);
    char msg[200];
    r = get(port, "/checkpoints/details/77");
    CPT_EQ_INT(r.status, 404);
    error_of(&r, msg, sizeof msg);
    CPT_EQ_STR(msg, "Could not find checkpointing statistics for checkpoint 77.");
    resp_free(&r);
    r = http(port, "GET", "/jobs/00000000000000000000000000000000/checkpoints", NULL, NULL);
    CPT_EQ_INT(r.status, 404);
    resp_free(&r);
    cpa_destroy(a);
}

CPT_TEST(history_is_bounded_and_includes_checkpoints_in_flight)
{
    cpa_agent *a = start("rest-2", "127.0.0.1:0", "3", false);
    int port = cpa_rest_port(a);
    cpw_flink_derive_id(jid, "job", "rest-2", 0);
    int64_t t0 = cpw_now_us() - 60000000;
    for (int i = 1; i <= 6; i++)
        checkpoint(a, i, t0 + i * 1000000, 1, CPA_TRIGGER_PERIODIC);
    checkpoint(a, 7, t0 + 7 * 1000000, 0, CPA_TRIGGER_PERIODIC);
    http_resp r = get(port, "/checkpoints");
    cpw_flink_stats s;
    cpw_error e = {0};
    CPT_EQ_INT(cpw_flink_read_stats(r.body, r.len, &s, &e), CPW_OK);
    CPT_EQ_INT(s.n_history, 3);
    CPT_EQ_INT(s.history[0].id, 7);
    CPT_EQ_INT(s.history[1].id, 6);
    CPT_EQ_INT(s.history[2].id, 5);
    CPT_EQ_INT(s.counts.completed, 6); /* the summary keeps every one */
    CPT_EQ_INT(s.e2e.min, 40);
    cpw_flink_stats_clear(&s);
    resp_free(&r);
    cpa_destroy(a);
}

static int poll_op(int port, const char *id, cpw_flink_op *op, int want_done)
{
    char path[200];
    for (int i = 0; i < 500; i++) {
        snprintf(path, sizeof path, "/checkpoints/%s", id);
        http_resp r = get(port, path);
        cpw_error e = {0};
        CPT_EQ_INT(r.status, 200);
        CPT_EQ_INT(cpw_flink_read_op(r.body, r.len, op, &e), CPW_OK);
        resp_free(&r);
        if (op->completed == want_done)
            return 0;
        cpw_flink_op_clear(op);
        usleep(10000);
    }
    return -1;
}

CPT_TEST(post_trigger_completes_with_its_checkpoint_id)
{
    cpa_agent *a = start("rest-3", "127.0.0.1:0", NULL, false);
    int port = cpa_rest_port(a);
    cpw_flink_derive_id(jid, "job", "rest-3", 0);
    char path[200], id[CPW_FLINK_ID_HEX + 1];
    snprintf(path, sizeof path, "/jobs/%s/checkpoints", jid);
    cpw_error e = {0};
    /* a dashboard's trigger comes first: it takes the first manual checkpoint */
    char cmd_url[300];
    snprintf(cmd_url, sizeof cmd_url, "%s", cpa_commands_url(a));
    cpw_command c = {.req = 1, .c = {.type = CPW_CMD_TRIGGER, .op = -1, .subtask = -1},
                     .history = -1};
    cpw_msg reply;
    CPT_EQ_INT(cpt_command(cmd_url, &c, NULL, 0, &reply, 5000), 0);
    CPT_ASSERT(reply.reply->ok);
    cpw_msg_clear(&reply);
    http_resp r = http(port, "POST", path, NULL, "{\"checkpointType\":\"CONFIGURED\"}");
    CPT_EQ_INT(r.status, 202);
    CPT_EQ_INT(cpw_flink_read_trigger(r.body, r.len, id, &e), CPW_OK);
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&triggers), 2);
    cpw_flink_op op;
    CPT_EQ_INT(poll_op(port, id, &op, 0), 0); /* IN_PROGRESS until its checkpoint ends */
    int64_t t0 = cpw_now_us();
    checkpoint(a, 1, t0, 1, CPA_TRIGGER_MANUAL); /* the dashboard's */
    checkpoint(a, 2, t0 + 100000, 0, CPA_TRIGGER_MANUAL);
    CPT_EQ_INT(poll_op(port, id, &op, 0), 0);
    emit(a, CPA_EV_ACK, 2, 0, 1, t0 + 200000);
    emit(a, CPA_EV_ACK, 2, 1, 0, t0 + 300000);
    emit(a, CPA_EV_CP_COMPLETED, 2, -1, -1, t0 + 400000);
    CPT_EQ_INT(poll_op(port, id, &op, 1), 0);
    CPT_ASSERT(!op.failed);
    CPT_EQ_INT(op.checkpoint_id, 2);
    cpw_flink_op_clear(&op);

    /* the same triggerId is the same operation: not triggered again */
    const char *body = "{\"triggerId\":\"7d273f5a62eb4730b9dea8e833733c1e\"}";
    r = http(port, "POST", path, NULL, body);
    CPT_EQ_INT(r.status, 202);
    CPT_EQ_INT(cpw_flink_read_trigger(r.body, r.len, id, &e), CPW_OK);
    CPT_EQ_STR(id, "7d273f5a62eb4730b9dea8e833733c1e");
    resp_free(&r);
    r = http(port, "POST", path, NULL, body);
    CPT_EQ_INT(r.status, 202);
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&triggers), 3);
    checkpoint(a, 3, t0 + 500000, 2, CPA_TRIGGER_MANUAL);
    CPT_EQ_INT(poll_op(port, id, &op, 1), 0);
    CPT_ASSERT(op.failed && strstr(op.failure_stack, "Checkpoint expired before completing."));
    cpw_flink_op_clear(&op);

    /* a refusal by the job: 202, and the operation ends with the reason */
    atomic_store(&refuse_trigger, 1);
    r = http(port, "POST", path, NULL, NULL);
    CPT_EQ_INT(r.status, 202);
    CPT_EQ_INT(cpw_flink_read_trigger(r.body, r.len, id, &e), CPW_OK);
    resp_free(&r);
    CPT_EQ_INT(poll_op(port, id, &op, 1), 0);
    CPT_ASSERT(op.failed && strstr(op.failure_stack, "a manual checkpoint is already waiting"));
    CPT_EQ_STR(op.failure_class, "org.apache.flink.runtime.checkpoint.CheckpointException");
    cpw_flink_op_clear(&op);
    snprintf(path, sizeof path, "/checkpoints/%s", "0123456789abcdef0123456789abcdef");
    r = get(port, path);
    CPT_EQ_INT(r.status, 404);
    resp_free(&r);
    cpa_destroy(a);
}

CPT_TEST(cancel_needs_a_handler)
{
    char path[200], msg[300];
    cpa_agent *a = start("rest-4", "127.0.0.1:0", NULL, false);
    cpw_flink_derive_id(jid, "job", "rest-4", 0);
    snprintf(path, sizeof path, "/jobs/%s?mode=cancel", jid);
    http_resp r = http(cpa_rest_port(a), "PATCH", path, NULL, NULL);
    CPT_EQ_INT(r.status, 501);
    error_of(&r, msg, sizeof msg);
    CPT_ASSERT(strstr(msg, "registered no handler for cancel"));
    resp_free(&r);
    cpa_destroy(a);
    a = start("rest-5", "127.0.0.1:0", NULL, true);
    cpw_flink_derive_id(jid, "job", "rest-5", 0);
    snprintf(path, sizeof path, "/jobs/%s?mode=cancel", jid);
    r = http(cpa_rest_port(a), "PATCH", path, NULL, NULL);
    CPT_EQ_INT(r.status, 202);
    CPT_EQ_STR(r.body, "{}");
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&cancels), 1);
    snprintf(path, sizeof path, "/jobs/%s?mode=stop", jid);
    r = http(cpa_rest_port(a), "PATCH", path, NULL, NULL);
    CPT_EQ_INT(r.status, 400);
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&cancels), 1);
    /* the handler's refusal, and its "unsupported" */
    snprintf(path, sizeof path, "/jobs/%s", jid);
    atomic_store(&cancel_answer, CPA_ERR_HANDLER);
    r = http(cpa_rest_port(a), "PATCH", path, NULL, NULL);
    CPT_EQ_INT(r.status, 409);
    error_of(&r, msg, sizeof msg);
    CPT_EQ_STR(msg, "The job refused to cancel: not now");
    resp_free(&r);
    atomic_store(&cancel_answer, CPA_ERR_UNSUPPORTED);
    r = http(cpa_rest_port(a), "PATCH", path, NULL, NULL);
    CPT_EQ_INT(r.status, 501);
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&cancels), 3);
    cpa_destroy(a);
}

CPT_TEST(beyond_loopback_acting_needs_the_secret)
{
    cpa_agent *a = start("rest-6", "0.0.0.0:0", NULL, true);
    int port = cpa_rest_port(a);
    cpw_flink_derive_id(jid, "job", "rest-6", 0);
    char secret_path[400], secret[200] = "", path[200], hdr[300];
    snprintf(secret_path, sizeof secret_path, "%s/rt/secret", cpt_tmpdir());
    FILE *f = fopen(secret_path, "r");
    CPT_ASSERT(f && fgets(secret, sizeof secret, f));
    fclose(f);
    secret[strcspn(secret, "\r\n")] = '\0';
    snprintf(path, sizeof path, "/jobs/%s/checkpoints", jid);
    http_resp r = get(port, "/checkpoints"); /* reading needs nothing */
    CPT_EQ_INT(r.status, 200);
    resp_free(&r);
    r = http(port, "POST", path, NULL, NULL);
    CPT_EQ_INT(r.status, 401);
    CPT_ASSERT(strstr(r.head, "WWW-Authenticate: Bearer"));
    resp_free(&r);
    r = http(port, "POST", path, "Authorization: Bearer wrong\r\n", NULL);
    CPT_EQ_INT(r.status, 401);
    resp_free(&r);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %.*sX\r\n", (int)strlen(secret) - 1, secret);
    r = http(port, "POST", path, hdr, NULL); /* same length, last byte differs */
    CPT_EQ_INT(r.status, 401);
    resp_free(&r);
    int before = atomic_load(&triggers);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", secret);
    r = http(port, "POST", path, hdr, NULL);
    CPT_EQ_INT(r.status, 202);
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&triggers), before + 1);
    snprintf(path, sizeof path, "/jobs/%s?mode=cancel", jid);
    r = http(port, "PATCH", path, NULL, NULL);
    CPT_EQ_INT(r.status, 401);
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&cancels), 0);
    cpa_destroy(a);
}

/* n connections of random bytes, or of a good request with a byte changed
 * and cut anywhere, each closed after at most 200 ms. */
static void send_junk(int port, int n)
{
    const char good[] = "POST /jobs/0123456789abcdef0123456789abcdef/checkpoints HTTP/1.1\r\n"
                        "Host: x\r\nContent-Length: 20\r\n\r\n{\"triggerId\":null}  ";
    unsigned seed = 42;
    for (int i = 0; i < n; i++) {
        char junk[200];
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof junk);
        if (i % 2) {
            for (size_t k = 0; k < len; k++)
                junk[k] = (char)rand_r(&seed);
        } else {
            len = len % sizeof good;
            memcpy(junk, good, len);
            if (len)
                junk[rand_r(&seed) % (int)len] ^= (char)(1 + rand_r(&seed) % 255);
        }
        int fd = connect_to(port);
        send(fd, junk, len, MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        char sink[512];
        struct timeval tv = {0, 200000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (recv(fd, sink, sizeof sink, 0) > 0)
            ;
        close(fd);
    }
}

CPT_TEST(hostile_and_slow_clients_never_stop_the_endpoint)
{
    cpa_agent *a = start("rest-7", "127.0.0.1:0", NULL, false);
    int port = cpa_rest_port(a);
    cpw_flink_derive_id(jid, "job", "rest-7", 0);
    /* a client that sends half a request and waits holds one connection only */
    int slow = connect_to(port);
    CPT_ASSERT(send(slow, "GET /jobs HTTP/1.1\r\nHo", 22, 0) == 22);
    static char big[200000];
    /* HTTP-level errors are libmicrohttpd's own answers (-1: it closed a
     * line that is not HTTP at all without one) */
    static const struct {
        const char *what;
        int status;
    } cases[] = {
        {"GARBAGE\r\n\r\n", -1},
        {"GET /jobs\r\n\r\n", 400},
        {"GET /jobs HTTP/1.1\r\nHost x\r\n\r\n", 400},
        {"GET /jobs HTTP/9.9\r\n\r\n", 505},
        {"G@T /jobs HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"POST /jobs/0123456789abcdef0123456789abcdef/checkpoints HTTP/1.1\r\nHost: x\r\n"
         "Content-Length: 99999999\r\nConnection: close\r\n\r\n", 413},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_resp r = http_raw(port, cases[i].what, strlen(cases[i].what));
        CPT_ASSERTF(r.status == cases[i].status, "%s: %d", cases[i].what, r.status);
        resp_free(&r);
    }
    /* a URL past the bound, too many headers, headers past the memory bound */
    int n = snprintf(big, sizeof big, "GET /");
    memset(big + n, 'a', 3000);
    n += 3000;
    n += snprintf(big + n, sizeof big - (size_t)n, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    http_resp r = http_raw(port, big, (size_t)n);
    CPT_EQ_INT(r.status, 414);
    char msg[300];
    error_of(&r, msg, sizeof msg);
    resp_free(&r);
    n = snprintf(big, sizeof big, "GET /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (int i = 0; i < 80; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "X-H%d: v\r\n", i);
    n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
    r = http_raw(port, big, (size_t)n);
    CPT_EQ_INT(r.status, 431);
    resp_free(&r);
    n = snprintf(big, sizeof big, "GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + n, 'b', 40000);
    n += 40000;
    n += snprintf(big + n, sizeof big - (size_t)n, "\r\n\r\n");
    r = http_raw(port, big, (size_t)n);
    CPT_ASSERTF(r.status == 431 || r.status == 413 || r.status == 400, "%d", r.status);
    resp_free(&r);
    /* a chunked body past 64 KiB loses its connection, nothing else */
    n = snprintf(big, sizeof big, "POST /jobs/%s/checkpoints HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n", jid);
    for (int i = 0; i < 3; i++) {
        n += snprintf(big + n, sizeof big - (size_t)n, "8000\r\n");
        memset(big + n, ' ', 0x8000);
        n += 0x8000;
        n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
    }
    n += snprintf(big + n, sizeof big - (size_t)n, "0\r\n\r\n");
    r = http_raw(port, big, (size_t)n);
    CPT_ASSERTF(r.status != 202, "an oversized body was accepted");
    resp_free(&r);
    CPT_EQ_INT(atomic_load(&triggers), 0);
    send_junk(port, 150);
    /* Still answering, with the half request still open. A client that
     * closes in the middle of a request can keep its slot until the idle
     * timeout (libmicrohttpd does not always see that close), and the burst
     * above came from one address, as this request does: it may have to
     * wait that long, and no longer. */
    int64_t t_burst = cpt_now_ms();
    do {
        r = get(port, "/checkpoints");
        if (r.status != 200) {
            resp_free(&r);
            usleep(100000);
        }
    } while (r.status != 200 && cpt_now_ms() - t_burst < (CPA_REST_TIMEOUT_S + 3) * 1000);
    CPT_EQ_INT(r.status, 200);
    resp_free(&r);
    close(slow);
    /* the job's emits were never in question: the agent is still draining */
    int64_t t0 = cpw_now_us();
    checkpoint(a, 1, t0, 1, CPA_TRIGGER_PERIODIC);
    r = get(port, "/checkpoints");
    cpw_flink_stats s;
    cpw_error e = {0};
    CPT_EQ_INT(cpw_flink_read_stats(r.body, r.len, &s, &e), CPW_OK);
    CPT_EQ_INT(s.counts.completed, 1);
    cpw_flink_stats_clear(&s);
    resp_free(&r);
    cpa_destroy(a);
}

CPT_TEST(port_discovery_and_configuration)
{
    char err[300];
    cpa_conf *c = cpa_conf_new();
    static const char *const bad[] = {"8081", ":8081", "127.0.0.1:", "127.0.0.1:65536",
                                      "127.0.0.1:-1", "example.com:80", "[::1:80", "1.2.3:80",
                                      "127.0.0.1:80x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CPT_ASSERTF(cpa_conf_set(c, "rest.listen", bad[i], err, sizeof err) == CPA_ERR_INVALID_ARG,
                    "accepted %s", bad[i]);
        CPT_ASSERT(strstr(err, "rest.listen"));
    }
    static const char *const good[] = {"127.0.0.1:0", "localhost:8081", "[::1]:0", "0.0.0.0:1",
                                       "off", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CPT_ASSERTF(cpa_conf_set(c, "rest.listen", good[i], err, sizeof err) == CPA_OK, "%s: %s",
                    good[i], err);
    CPT_EQ_INT(cpa_conf_set(c, "web.checkpoints.history", "0", err, sizeof err),
               CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_conf_set(c, "web.checkpoints.history", "1000", err, sizeof err), CPA_OK);
    cpa_conf_destroy(c);

    cpa_agent *a = start("rest-8", "[::1]:0", NULL, false);
    int port = cpa_rest_port(a);
    char disc[400], buf[2048], want[64];
    snprintf(disc, sizeof disc, "%s/rt/rest-8.json", cpt_tmpdir());
    FILE *f = fopen(disc, "r");
    CPT_ASSERT(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    snprintf(want, sizeof want, "\"rest\":\"http://[::1]:%d\"", port);
    CPT_ASSERTF(strstr(buf, want), "%s", buf);
    cpa_destroy(a);
    /* off by default: no port, no member */
    snprintf(disc, sizeof disc, "%s/rt", cpt_tmpdir());
    c = cpa_conf_new();
    cpa_conf_set(c, "runtime.dir", disc, err, sizeof err);
    cpa_conf_set(c, "job.id", "rest-9", err, sizeof err);
    a = cpa_new(c, err, sizeof err);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    CPT_EQ_INT(cpa_rest_port(a), 0);
    snprintf(disc, sizeof disc, "%s/rt/rest-9.json", cpt_tmpdir());
    f = fopen(disc, "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    CPT_ASSERT(!strstr(buf, "\"rest\""));
    cpa_destroy(a);
    /* a port in use is an error of cpa_start() */
    a = start("rest-10", "127.0.0.1:0", NULL, false);
    snprintf(want, sizeof want, "127.0.0.1:%d", cpa_rest_port(a));
    c = cpa_conf_new();
    snprintf(disc, sizeof disc, "%s/rt", cpt_tmpdir());
    cpa_conf_set(c, "runtime.dir", disc, err, sizeof err);
    cpa_conf_set(c, "job.id", "rest-11", err, sizeof err);
    cpa_conf_set(c, "rest.listen", want, err, sizeof err);
    cpa_agent *b = cpa_new(c, err, sizeof err);
    CPT_EQ_INT(cpa_start(b), CPA_ERR_TRANSPORT);
    cpa_destroy(b);
    cpa_destroy(a);
}
