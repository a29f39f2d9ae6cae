/* test_agent.c — libcpagent against live sockets: lifecycle,
 * get_state, commands, hostile input, permissions, seq gaps. (TCP
 * authentication: test_auth.c.) */
#include "cpagent.h"
#include "cpt_sub.h"
#include "cpt_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char rtdir[300];

static cpa_conf *base_conf(const char *job_id)
{
    snprintf(rtdir, sizeof rtdir, "%s/rt", cpt_tmpdir());
    cpa_conf *c = cpa_conf_new();
    char err[200];
    CPT_ASSERT(c);
    CPT_EQ_INT(cpa_conf_set(c, "runtime.dir", rtdir, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "job.id", job_id, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "job.name", "test job", err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "heartbeat.ms", "3600000", err, sizeof err), CPA_OK);
    return c;
}

static cpa_agent *new_agent(cpa_conf *c)
{
    char err[200];
    cpa_agent *a = cpa_new(c, err, sizeof err);
    CPT_ASSERTF(a, "cpa_new: %s", err);
    return a;
}

static void wait_drained(cpa_agent *a)
{
    cpa_stats st;
    int64_t t0 = cpt_now_ms();
    do {
        cpa_get_stats(a, &st);
        if (st.sent + st.dropped == st.emitted)
            return;
        usleep(1000);
    } while (cpt_now_ms() - t0 < 10000);
    CPT_ASSERTF(0, "agent did not drain: emitted %llu sent %llu dropped %llu",
                (unsigned long long)st.emitted, (unsigned long long)st.sent,
                (unsigned long long)st.dropped);
}

static cpa_event ev_of(cpa_event_type t, int64_t id, int op, int sub)
{
    cpa_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.cp_id = id;
    e.op = op;
    e.subtask = sub;
    return e;
}

/* ------------------------------------------------------------------------ */

CPT_TEST(conf_errors_name_the_key)
{
    cpa_conf *c = cpa_conf_new();
    char err[200] = "";
    CPT_EQ_INT(cpa_conf_set(c, "no.such.key", "1", err, sizeof err), CPA_ERR_UNKNOWN_KEY);
    CPT_ASSERT(strstr(err, "no.such.key"));
    CPT_EQ_INT(cpa_conf_set(c, "queue.size", "1000", err, sizeof err), CPA_ERR_INVALID_ARG);
    CPT_ASSERT(strstr(err, "queue.size"));
    CPT_EQ_INT(cpa_conf_set(c, "job.id", "bad id!", err, sizeof err), CPA_ERR_INVALID_ARG);
    CPT_ASSERT(strstr(err, "job.id"));
    CPT_EQ_INT(cpa_conf_set(c, "listen", "udp://x", err, sizeof err), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_conf_set(c, "listen", "tcp://127.0.0.1:99999", err, sizeof err),
               CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_conf_set(c, "runtime.dir", "relative/dir", err, sizeof err),
               CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_conf_set(c, "flush.us", "abc", err, sizeof err), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_conf_set(c, "queue.size", "1024", err, sizeof err), CPA_OK);
    cpa_conf_destroy(c);
    CPT_ASSERT(strcmp(cpa_strerror(CPA_ERR_AUTH), cpa_strerror(CPA_ERR_IO)) != 0);
    CPT_ASSERT(cpa_strerror((cpa_err)999) != NULL);
}

CPT_TEST(emit_never_blocks_when_full)
{
    cpa_conf *c = base_conf("full");
    char err[200];
    CPT_EQ_INT(cpa_conf_set(c, "queue.size", "16", err, sizeof err), CPA_OK);
    cpa_agent *a = new_agent(c);
    /* not started: nothing drains the queue, so the 17th emit must be refused,
     * immediately, rather than wait for room */
    cpa_event e = ev_of(CPA_EV_CP_TRIGGERED, 1, -1, -1);
    for (int i = 0; i < 16; i++)
        CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_ERR_QUEUE_FULL);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_ERR_QUEUE_FULL);
    cpa_stats st;
    cpa_get_stats(a, &st);
    CPT_EQ_INT(st.emitted, 18);
    CPT_EQ_INT(st.dropped, 2);
    CPT_EQ_INT(st.sent, 0);
    /* an untyped event is an argument error, not an emit */
    cpa_event bad = ev_of(CPA_EV_NONE, 0, -1, -1);
    CPT_EQ_INT(cpa_emit(a, &bad), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_emit(a, NULL), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    wait_drained(a);
    CPT_EQ_INT(cpa_stop(a), CPA_OK);
    cpa_get_stats(a, &st);
    CPT_EQ_INT(st.sent, 16);
    CPT_EQ_INT(st.emitted, st.sent + st.dropped);
    /* after stop: refused and counted */
    CPT_EQ_INT(cpa_emit(a, &e), CPA_ERR_STATE);
    cpa_get_stats(a, &st);
    CPT_EQ_INT(st.emitted, 19);
    CPT_EQ_INT(st.dropped, 3);
    CPT_EQ_INT(cpa_stop(a), CPA_ERR_STATE);
    CPT_EQ_INT(cpa_start(a), CPA_ERR_STATE);
    cpa_destroy(a);
}

/* A realistic sequence over a 3-operator topology: cp 1 completes, cp 2 is
 * declined, cp 3 is in flight with subtasks in every phase. */
static int script(cpa_event *out)
{
    int n = 0;
    int par[3] = {2, 3, 1};
    out[n++] = (cpa_event){.type = CPA_EV_CP_TRIGGERED, .op = -1, .subtask = -1, .cp_id = 1,
                           .ts_us = 1000000, .u.triggered.kind = CPA_TRIGGER_PERIODIC};
    for (int op = 0; op < 3; op++)
        for (int s = 0; s < par[op]; s++) {
            out[n++] = (cpa_event){.type = op ? CPA_EV_BARRIER_RECEIVED : CPA_EV_BARRIER_INJECTED,
                                   .op = op, .subtask = s, .cp_id = 1, .ts_us = 1000100 + op * 10,
                                   .u.barrier.channel = 0};
            out[n++] = (cpa_event){.type = CPA_EV_SNAPSHOT_START, .op = op, .subtask = s,
                                   .cp_id = 1, .ts_us = 1000200};
            out[n++] = (cpa_event){.type = CPA_EV_SNAPSHOT_SYNC_DONE, .op = op, .subtask = s,
                                   .cp_id = 1, .ts_us = 1000300, .u.sync.duration_us = 100};
            out[n++] = (cpa_event){.type = CPA_EV_SNAPSHOT_ASYNC_DONE, .op = op, .subtask = s,
                                   .cp_id = 1, .ts_us = 1000900,
                                   .u.async = {.bytes = 1000 + s, .duration_us = 600}};
            out[n++] = (cpa_event){.type = CPA_EV_ACK, .op = op, .subtask = s, .cp_id = 1,
                                   .ts_us = 1001000 + s,
                                   .u.ack = {.state_size = 1000 + s, .checkpointed_size = 1000 + s,
                                             .start_delay_us = 100, .sync_us = 100,
                                             .async_us = 600}};
        }
    out[n++] = (cpa_event){.type = CPA_EV_CP_COMPLETED, .op = -1, .subtask = -1, .cp_id = 1,
                           .ts_us = 1002000,
                           .u.completed = {.duration_us = 2000, .state_size = 6006,
                                           .checkpointed_size = 6006}};
    out[n++] = (cpa_event){.type = CPA_EV_CP_COMMITTED, .op = -1, .subtask = -1, .cp_id = 1,
                           .ts_us = 1002100};
    /* cp 2: declined at op 1 subtask 2 */
    out[n++] = (cpa_event){.type = CPA_EV_CP_TRIGGERED, .op = -1, .subtask = -1, .cp_id = 2,
                           .ts_us = 2000000, .u.triggered.kind = CPA_TRIGGER_MANUAL};
    cpa_event d = {.type = CPA_EV_DECLINE, .op = 1, .subtask = 2, .cp_id = 2, .ts_us = 2000500};
    snprintf(d.u.decline.reason, sizeof d.u.decline.reason, "injected decline");
    out[n++] = d;
    cpa_event f = {.type = CPA_EV_CP_FAILED, .op = -1, .subtask = -1, .cp_id = 2,
                   .ts_us = 2000600, .u.failed.reason = CPA_FAIL_DECLINED};
    snprintf(f.u.failed.message, sizeof f.u.failed.message, "declined by parse#2");
    out[n++] = f;
    /* cp 3: in flight */
    out[n++] = (cpa_event){.type = CPA_EV_CP_TRIGGERED, .op = -1, .subtask = -1, .cp_id = 3,
                           .ts_us = 3000000, .u.triggered.kind = CPA_TRIGGER_PERIODIC};
    out[n++] = (cpa_event){.type = CPA_EV_BARRIER_INJECTED, .op = 0, .subtask = 0, .cp_id = 3,
                           .ts_us = 3000050};
    out[n++] = (cpa_event){.type = CPA_EV_ACK, .op = 0, .subtask = 0, .cp_id = 3,
                           .ts_us = 3000400, .u.ack = {.state_size = 77, .checkpointed_size = 7}};
    out[n++] = (cpa_event){.type = CPA_EV_BARRIER_RECEIVED, .op = 1, .subtask = 0, .cp_id = 3,
                           .ts_us = 3000500, .u.barrier.channel = 1};
    out[n++] = (cpa_event){.type = CPA_EV_ALIGNMENT_START, .op = 1, .subtask = 0, .cp_id = 3,
                           .ts_us = 3000510};
    out[n++] = (cpa_event){.type = CPA_EV_SNAPSHOT_START, .op = 1, .subtask = 1, .cp_id = 3,
                           .ts_us = 3000600};
    out[n++] = (cpa_event){.type = CPA_EV_SNAPSHOT_SYNC_DONE, .op = 1, .subtask = 2,
                           .cp_id = 3, .ts_us = 3000700, .u.sync.duration_us = 50};
    return n;
}

static const cpa_operator topo_ops[] = {{"source", 2}, {"parse", 3}, {"sink", 1}};
static const cpa_edge topo_edges[] = {{0, 1, "forward"}, {1, 2, "hash"}};

static cpw_msg get_state(const char *url, int history)
{
    cpw_command cmd = {.req = 7, .history = history};
    cmd.c.type = CPW_CMD_GET_STATE;
    cpw_msg r;
    CPT_EQ_INT(cpt_command(url, &cmd, NULL, 0, &r, 5000), 0);
    CPT_ASSERTF(r.reply->ok, "get_state refused: %s", r.reply->message);
    CPT_ASSERT(r.reply->state);
    CPT_EQ_INT(r.reply->req, 7);
    return r;
}

CPT_TEST(late_subscriber_gets_full_state)
{
    cpa_agent *a = new_agent(base_conf("state"));
    CPT_EQ_INT(cpa_set_topology(a, topo_ops, 3, topo_edges, 2), CPA_OK);
    const char *k[] = {"execution.checkpointing.interval"}, *v[] = {"30s"};
    CPT_EQ_INT(cpa_set_job_config(a, k, v, 1), CPA_OK);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    cpa_event evs[128];
    int n = script(evs);
    for (int i = 0; i < n; i++)
        CPT_EQ_INT(cpa_emit(a, &evs[i]), CPA_OK);
    wait_drained(a);

    /* the same events folded locally, with the agent's seq numbering:
     * hello took seq 1 (topology and config were set before start) */
    cpw_state *want = cpw_state_new(64, 8);
    cpw_hello h = {0};
    snprintf(h.name, sizeof h.name, "test job");
    h.n_ops = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(h.ops[i].name, sizeof h.ops[i].name, "%s", topo_ops[i].name);
        h.ops[i].parallelism = topo_ops[i].parallelism;
    }
    cpw_state_set_hello(want, &h);
    for (int i = 0; i < n; i++) {
        /* the job's events as the wire has them (the agent converts the
         * same way; cpa_wire.c checks the vocabularies agree) */
        _Static_assert(sizeof(cpa_event) == sizeof(cpw_event), "same event layout");
        cpw_event w;
        memcpy(&w, &evs[i], sizeof w);
        cpw_state_apply(want, &w, (uint64_t)i + 2);
    }

    cpw_msg r = get_state(cpa_commands_url(a), -1);
    cpw_state *got = r.reply->state;
    CPT_EQ_STR(got->job, "state");
    CPT_EQ_STR(got->hello.name, "test job");
    CPT_EQ_INT(got->hello.pid, getpid());
    CPT_EQ_INT(got->hello.n_ops, 3);
    CPT_EQ_STR(got->hello.ops[1].name, "parse");
    CPT_EQ_INT(got->hello.ops[1].parallelism, 3);
    CPT_EQ_INT(got->hello.n_edges, 2);
    CPT_EQ_STR(got->hello.edges[1].kind, "hash");
    CPT_EQ_INT(got->hello.n_config, 1);
    CPT_EQ_STR(got->hello.config_values[0], "30s");
    CPT_EQ_INT(got->seq, (uint64_t)n + 1);
    CPT_EQ_INT(got->counts.total, 3);
    CPT_EQ_INT(got->counts.completed, 1);
    CPT_EQ_INT(got->counts.failed, 1);
    CPT_EQ_INT(got->counts.in_progress, 1);
    CPT_EQ_INT(got->consecutive_failures, 1);
    CPT_EQ_INT(got->latest_completed_id, 1);
    CPT_EQ_INT(got->n_history, 2);
    const cpw_cp *h0 = cpw_state_history(got, 0), *h1 = cpw_state_history(got, 1);
    CPT_EQ_INT(h0->id, 2);
    CPT_EQ_INT(h0->status, CPW_CP_FAILED);
    CPT_EQ_INT(h0->reason, CPA_FAIL_DECLINED);
    CPT_EQ_STR(h0->message, "declined by parse#2");
    CPT_EQ_INT(h0->kind, CPA_TRIGGER_MANUAL);
    CPT_EQ_STR(h0->subs[cpw_state_sub_index(got, 1, 2)].reason, "injected decline");
    CPT_EQ_INT(h1->id, 1);
    CPT_EQ_INT(h1->status, CPW_CP_COMPLETED);
    CPT_EQ_INT(h1->acks, 6);
    CPT_EQ_INT(h1->state_size, 6006);
    CPT_EQ_INT(h1->duration_us, 2000);
    CPT_EQ_INT(h1->committed, 1);
    CPT_EQ_INT(h1->subs[cpw_state_sub_index(got, 1, 1)].checkpointed_size, 1001);
    CPT_EQ_INT(h1->subs[cpw_state_sub_index(got, 2, 0)].ack_ts, 1001000);
    CPT_EQ_INT(got->n_inflight, 1);
    const cpw_cp *c3 = &got->inflight[0];
    CPT_EQ_INT(c3->id, 3);
    CPT_EQ_INT(c3->acks, 1);
    CPT_EQ_INT(c3->total, 6);
    CPT_EQ_INT(c3->subs[cpw_state_sub_index(got, 0, 0)].phase, CPW_PH_ACKED);
    CPT_EQ_INT(c3->subs[cpw_state_sub_index(got, 0, 1)].phase, CPW_PH_PENDING);
    CPT_EQ_INT(c3->subs[cpw_state_sub_index(got, 1, 0)].phase, CPW_PH_ALIGNING);
    CPT_EQ_INT(c3->subs[cpw_state_sub_index(got, 1, 0)].barrier_ts, 3000500);
    CPT_EQ_INT(c3->subs[cpw_state_sub_index(got, 1, 1)].phase, CPW_PH_SYNC);
    CPT_EQ_INT(c3->subs[cpw_state_sub_index(got, 1, 2)].phase, CPW_PH_ASYNC);
    CPT_EQ_INT(c3->subs[cpw_state_sub_index(got, 2, 0)].phase, CPW_PH_PENDING);

    /* and everything else equals the locally folded state: compare the two
     * encodings with the agent's own counters aligned */
    want->seq = got->seq;
    snprintf(want->job, sizeof want->job, "%s", got->job);
    want->hello.pid = got->hello.pid;
    snprintf(want->hello.agent_version, sizeof want->hello.agent_version, "%s",
             got->hello.agent_version);
    want->hello.n_edges = got->hello.n_edges;
    memcpy(want->hello.edges, got->hello.edges, sizeof want->hello.edges);
    want->hello.n_config = got->hello.n_config;
    memcpy(want->hello.config_keys, got->hello.config_keys, sizeof want->hello.config_keys);
    memcpy(want->hello.config_values, got->hello.config_values, sizeof want->hello.config_values);
    /* the agent's start time, for uptime: taken at cpa_start(), just now */
    CPT_ASSERT(got->hello.start_ts_us > cpw_now_us() - 60 * 1000000LL &&
               got->hello.start_ts_us <= cpw_now_us());
    want->hello.start_ts_us = got->hello.start_ts_us;
    CPT_EQ_INT(strlen(got->hello.instance), CPW_INSTANCE_HEX); /* random per start */
    memcpy(want->hello.instance, got->hello.instance, sizeof want->hello.instance);
    want->agent_emitted = got->agent_emitted;
    want->agent_sent = got->agent_sent;
    want->agent_dropped = got->agent_dropped;
    cpw_buf b1, b2;
    cpw_buf_init(&b1);
    cpw_buf_init(&b2);
    cpw_state_encode(&b1, want, -1);
    cpw_state_encode(&b2, got, -1);
    CPT_EQ_STR(b2.data, b1.data);
    cpw_buf_free(&b1);
    cpw_buf_free(&b2);
    cpw_state_free(want);
    cpw_msg_clear(&r);

    /* history limit honoured */
    r = get_state(cpa_commands_url(a), 1);
    CPT_EQ_INT(r.reply->state->n_history, 1);
    CPT_EQ_INT(cpw_state_history(r.reply->state, 0)->id, 2);
    cpw_msg_clear(&r);
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- commands */

static cpa_command last_cmd;
static int handler_calls;

static cpa_err on_cmd(void *opaque, const cpa_command *cmd, char *msg, size_t size)
{
    last_cmd = *cmd;
    handler_calls++;
    if (cmd->type == CPA_CMD_ABORT && cmd->cp_id == 404) {
        snprintf(msg, size, "no checkpoint 404 in flight");
        return CPA_ERR_HANDLER;
    }
    snprintf(msg, size, "done %s", (const char *)opaque);
    return CPA_OK;
}

static cpw_msg send_cmd(const char *url, cpw_command *cmd)
{
    cpw_msg r;
    CPT_EQ_INT(cpt_command(url, cmd, NULL, 0, &r, 5000), 0);
    return r;
}

static cpw_msg inject(const char *url, uint64_t req, const char *kind, int op, int sub,
                      const char *key, const char *value)
{
    cpw_command cmd = {.req = req, .history = -1};
    cmd.c.type = CPW_CMD_INJECT_FAILURE;
    snprintf(cmd.c.kind, sizeof cmd.c.kind, "%s", kind);
    cmd.c.op = op;
    cmd.c.subtask = sub;
    if (key) {
        cmd.c.n_params = 1;
        snprintf(cmd.c.keys[0], sizeof cmd.c.keys[0], "%s", key);
        snprintf(cmd.c.values[0], sizeof cmd.c.values[0], "%s", value);
    }
    return send_cmd(url, &cmd);
}

/* The job's failure table: published in hello and get_state, enforced by
 * the agent before the handler runs, defaults filled in. */
CPT_TEST(failure_table_is_published_and_enforced)
{
    cpa_conf *c = base_conf("table");
    cpa_conf_set_command_cb(c, CPA_CMD_INJECT_FAILURE, on_cmd, "inject");
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_set_topology(a, topo_ops, 3, topo_edges, 2), CPA_OK);
    const cpa_failure_desc kinds[] = {
        {.kind = "stall", .label = "stall a barrier", .target = CPA_TARGET_SUBTASK,
         .n_params = 1, .params = {{.name = "ms", .unit = "ms", .min = 1, .max = 60000,
                                    .def = 7000, .help = "how long"}}},
        {.kind = "crash", .label = "crash the process", .target = CPA_TARGET_JOB},
    };
    CPT_EQ_INT(cpa_set_failure_kinds(a, kinds, 2), CPA_OK);
    /* a table the protocol cannot carry is refused whole */
    cpa_failure_desc bad = kinds[0];
    bad.params[0].def = 0;
    CPT_EQ_INT(cpa_set_failure_kinds(a, &bad, 1), CPA_ERR_INVALID_ARG);
    bad = kinds[0];
    bad.kind = "Stall It";
    CPT_EQ_INT(cpa_set_failure_kinds(a, &bad, 1), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_set_failure_kinds(a, kinds, CPA_FAILURE_MAX_KINDS + 1), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    const char *url = cpa_commands_url(a);

    cpw_msg r = get_state(url, -1);
    const cpw_hello *h = &r.reply->state->hello;
    CPT_ASSERT(h->has_failures);
    CPT_EQ_INT(h->n_failures, 2);
    CPT_EQ_STR(h->failures[0].kind, "stall");
    CPT_EQ_INT(h->failures[0].params[0].def, 7000);
    CPT_EQ_INT(h->failures[1].subtask, 0);
    cpw_msg_clear(&r);

    handler_calls = 0;
    r = inject(url, 1, "stall", 1, 2, NULL, NULL);
    CPT_ASSERTF(r.reply->ok, "%s", r.reply->message);
    CPT_EQ_INT(last_cmd.n_params, 1);
    CPT_EQ_STR(last_cmd.keys[0], "ms");
    CPT_EQ_STR(last_cmd.values[0], "7000");
    cpw_msg_clear(&r);
    r = inject(url, 2, "stall", 0, 1, "ms", "250ms");
    CPT_ASSERT(r.reply->ok);
    CPT_EQ_STR(last_cmd.values[0], "250");
    cpw_msg_clear(&r);
    CPT_EQ_INT(handler_calls, 2);

    struct { const char *kind; int op, sub; const char *k, *v, *want; } no[] = {
        {"stall", 1, 3, NULL, NULL, "operator 1 (parse) has subtasks 0..2, not 3"},
        {"stall", 0, 0, "ms", "1e18", "ms=1e18: not a whole number of ms (1..60000 ms)"},
        {"stall", 0, 0, "ms", "60001", "ms=60001: out of range 1..60000 ms"},
        {"crash", 0, 0, NULL, NULL, "crash acts on the whole job"},
        {"drop-table", -1, -1, NULL, NULL, "this job offers: stall, crash"},
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        r = inject(url, 10 + i, no[i].kind, no[i].op, no[i].sub, no[i].k, no[i].v);
        CPT_ASSERT(!r.reply->ok);
        CPT_EQ_STR(r.reply->error, "bad_command");
        CPT_ASSERTF(strstr(r.reply->message, no[i].want), "\"%s\" lacks \"%s\"",
                    r.reply->message, no[i].want);
        cpw_msg_clear(&r);
    }
    CPT_EQ_INT(handler_calls, 2); /* the handler never saw a refused one */

    /* a new table (a changed default) applies from the next command */
    cpa_failure_desc more = kinds[0];
    more.params[0].def = 9000;
    CPT_EQ_INT(cpa_set_failure_kinds(a, &more, 1), CPA_OK);
    r = inject(url, 30, "stall", 0, 0, NULL, NULL);
    CPT_ASSERT(r.reply->ok);
    CPT_EQ_STR(last_cmd.values[0], "9000");
    cpw_msg_clear(&r);
    r = inject(url, 31, "crash", -1, -1, NULL, NULL);
    CPT_ASSERT(!r.reply->ok);
    cpw_msg_clear(&r);
    cpa_destroy(a);
}

CPT_TEST(command_round_trips)
{
    cpa_conf *c = base_conf("cmds");
    cpa_conf_set_command_cb(c, CPA_CMD_TRIGGER, on_cmd, "trigger");
    cpa_conf_set_command_cb(c, CPA_CMD_ABORT, on_cmd, "abort");
    cpa_conf_set_command_cb(c, CPA_CMD_INJECT_FAILURE, on_cmd, "inject");
    cpa_conf_set_command_cb(c, CPA_CMD_SET_CONFIG, on_cmd, "set");
    CPT_EQ_INT(cpa_conf_set_command_cb(c, CPA_CMD_GET_STATE, on_cmd, NULL), CPA_ERR_INVALID_ARG);
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    const char *url = cpa_commands_url(a);

    cpw_command cmd = {.req = 1, .history = -1};
    cmd.c.type = CPW_CMD_TRIGGER;
    cpw_msg r = send_cmd(url, &cmd);
    CPT_ASSERT(r.reply->ok);
    CPT_EQ_INT(r.reply->req, 1);
    CPT_EQ_STR(r.reply->message, "done trigger");
    CPT_EQ_INT(last_cmd.type, CPA_CMD_TRIGGER);
    cpw_msg_clear(&r);

    memset(&cmd, 0, sizeof cmd);
    cmd.req = 2;
    cmd.c.type = CPW_CMD_ABORT;
    cmd.c.cp_id = 17;
    r = send_cmd(url, &cmd);
    CPT_ASSERT(r.reply->ok);
    CPT_EQ_INT(last_cmd.cp_id, 17);
    cpw_msg_clear(&r);

    cmd.req = 3;
    cmd.c.cp_id = 404; /* the handler refuses this one */
    r = send_cmd(url, &cmd);
    CPT_ASSERT(!r.reply->ok);
    CPT_EQ_STR(r.reply->error, "handler");
    CPT_EQ_STR(r.reply->message, "no checkpoint 404 in flight");
    cpw_msg_clear(&r);

    memset(&cmd, 0, sizeof cmd);
    cmd.req = 4;
    cmd.c.type = CPW_CMD_INJECT_FAILURE;
    snprintf(cmd.c.kind, sizeof cmd.c.kind, "stall");
    cmd.c.op = 1;
    cmd.c.subtask = 2;
    cmd.c.n_params = 1;
    snprintf(cmd.c.keys[0], sizeof cmd.c.keys[0], "ms");
    snprintf(cmd.c.values[0], sizeof cmd.c.values[0], "5000");
    r = send_cmd(url, &cmd);
    CPT_ASSERT(r.reply->ok);
    CPT_EQ_STR(last_cmd.kind, "stall");
    CPT_EQ_INT(last_cmd.op, 1);
    CPT_EQ_INT(last_cmd.subtask, 2);
    CPT_EQ_INT(last_cmd.n_params, 1);
    CPT_EQ_STR(last_cmd.keys[0], "ms");
    CPT_EQ_STR(last_cmd.values[0], "5000");
    cpw_msg_clear(&r);

    memset(&cmd, 0, sizeof cmd);
    cmd.req = 5;
    cmd.c.type = CPW_CMD_SET_CONFIG;
    cmd.c.n_params = 2;
    snprintf(cmd.c.keys[0], sizeof cmd.c.keys[0], "execution.checkpointing.interval");
    snprintf(cmd.c.values[0], sizeof cmd.c.values[0], "5s");
    snprintf(cmd.c.keys[1], sizeof cmd.c.keys[1], "execution.checkpointing.timeout");
    snprintf(cmd.c.values[1], sizeof cmd.c.values[1], "1 min");
    r = send_cmd(url, &cmd);
    CPT_ASSERT(r.reply->ok);
    CPT_EQ_STR(r.reply->message, "done set");
    CPT_EQ_INT(last_cmd.n_params, 2);
    CPT_EQ_STR(last_cmd.values[1], "1 min");
    cpw_msg_clear(&r);
    CPT_EQ_INT(handler_calls, 5);

    cpa_stats st;
    cpa_get_stats(a, &st);
    CPT_EQ_INT(st.commands_served, 4);
    CPT_EQ_INT(st.commands_refused, 1);
    cpa_destroy(a);
}

CPT_TEST(command_without_handler_is_unsupported)
{
    cpa_agent *a = new_agent(base_conf("nohandler"));
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    cpw_command cmd = {.req = 9};
    cmd.c.type = CPW_CMD_TRIGGER;
    cpw_msg r = send_cmd(cpa_commands_url(a), &cmd);
    CPT_ASSERT(!r.reply->ok);
    CPT_EQ_STR(r.reply->error, "unsupported");
    CPT_ASSERT(strstr(r.reply->message, "trigger"));
    cpw_msg_clear(&r);
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- hostile */

static void expect_refusal(const char *url, const void *data, size_t len, const char *error)
{
    char *out = NULL;
    int n = cpt_request_raw(url, data, len, &out, 5000);
    CPT_ASSERTF(n > 0, "no reply to a hostile command of %zu bytes", len);
    cpw_msg m;
    cpw_error err;
    CPT_EQ_INT(cpw_decode_one(out, (size_t)n, &m, &err), CPW_OK);
    CPT_EQ_INT(m.kind, CPW_K_REPLY);
    CPT_ASSERTF(!m.reply->ok, "hostile command accepted: %.*s", (int)(len > 80 ? 80 : len),
                (const char *)data);
    CPT_EQ_STR(m.reply->error, error);
    CPT_ASSERT(m.reply->message[0]);
    cpw_msg_clear(&m);
    free(out);
}

CPT_TEST(hostile_commands_get_error_replies)
{
    cpa_conf *c = base_conf("hostile");
    cpa_conf_set_command_cb(c, CPA_CMD_TRIGGER, on_cmd, "trigger");
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    const char *url = cpa_commands_url(a);
    static const struct { const char *data; size_t len; } cases[] = {
#define S(x) {x, sizeof(x) - 1}
        S(""),
        S("\xff\xfe\xfd garbage"),
        S("{"),
        S("[1,2,3]"),
        S("null"),
        S("{\"v\":1}"),
        S("{\"v\":2,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"trigger\"}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"rm -rf\"}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":\"x\",\"cmd\":\"trigger\"}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"abort\",\"args\":{\"id\":\"7\"}}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"abort\",\"args\":[]}"),
        S("{\"v\":1,\"type\":\"ack\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"id\":1,\"op\":0,\"subtask\":0}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"trig\0ger\"}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\xc0\xaf\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"trigger\"}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"trigger\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
        S("{\"v\":1,\"type\":\"cmd\",\"job\":\"\",\"seq\":1,\"ts_us\":1,\"req\":1,\"cmd\":\"set_config\",\"args\":{\"settings\":{}}}"),
#undef S
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++)
        expect_refusal(url, cases[i].data, cases[i].len, "bad_command");
    /* oversized: 100 KiB of valid-looking JSON */
    size_t big = 100 * 1024;
    char *buf = malloc(big);
    memset(buf, ' ', big);
    memcpy(buf, "{\"v\":1", 6);
    buf[big - 1] = '}';
    expect_refusal(url, buf, big, "limit");
    free(buf);
    /* still serving, and the job's handler never saw any of it */
    cpw_command cmd = {.req = 1};
    cmd.c.type = CPW_CMD_TRIGGER;
    cpw_msg r = send_cmd(url, &cmd);
    CPT_ASSERT(r.reply->ok);
    cpw_msg_clear(&r);
    CPT_EQ_INT(handler_calls, 1);
    cpa_stats st;
    cpa_get_stats(a, &st);
    CPT_EQ_INT(st.commands_refused, n + 1);
    CPT_EQ_INT(st.commands_served, 1);
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- files */

/* Each run of an agent has its own instance id, in hello, get_state and
 * the discovery file: what commands and discovery entries bind to. */
CPT_TEST(every_start_has_a_new_instance_id)
{
    char seen[2][CPW_INSTANCE_HEX + 1];
    for (int run = 0; run < 2; run++) {
        cpa_agent *a = new_agent(base_conf("inst"));
        CPT_EQ_INT(cpa_start(a), CPA_OK);
        cpw_msg r = get_state(cpa_commands_url(a), 0);
        const char *id = r.reply->state->hello.instance;
        CPT_EQ_INT(strlen(id), CPW_INSTANCE_HEX);
        CPT_EQ_INT(strspn(id, "0123456789abcdef"), CPW_INSTANCE_HEX);
        snprintf(seen[run], sizeof seen[run], "%s", id);
        char path[400], buf[2048] = "", want[64];
        snprintf(path, sizeof path, "%s/inst.json", rtdir);
        int fd = open(path, O_RDONLY);
        CPT_ASSERT(fd >= 0 && read(fd, buf, sizeof buf - 1) > 0);
        close(fd);
        snprintf(want, sizeof want, "\"instance\":\"%s\"", id);
        CPT_ASSERTF(strstr(buf, want), "discovery file %s lacks %s", buf, want);
        cpw_msg_clear(&r);
        cpa_destroy(a);
    }
    CPT_ASSERT(strcmp(seen[0], seen[1]) != 0);
}

CPT_TEST(runtime_dir_and_discovery_file_are_private)
{
    cpa_agent *a = new_agent(base_conf("disc"));
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    struct stat st;
    CPT_EQ_INT(stat(rtdir, &st), 0);
    CPT_EQ_INT(st.st_mode & 0777, 0700);
    char path[400];
    snprintf(path, sizeof path, "%s/disc.json", rtdir);
    CPT_EQ_INT(stat(path, &st), 0);
    CPT_EQ_INT(st.st_mode & 0777, 0600);
    char buf[1024] = "";
    int fd = open(path, O_RDONLY);
    CPT_ASSERT(read(fd, buf, sizeof buf - 1) > 0);
    close(fd);
    char pid[32];
    snprintf(pid, sizeof pid, "\"pid\":%d", (int)getpid());
    CPT_ASSERTF(strstr(buf, pid) && strstr(buf, cpa_events_url(a)) &&
                    strstr(buf, cpa_commands_url(a)) && strstr(buf, "\"job\":\"disc\""),
                "discovery file: %s", buf);
    /* the ipc sockets themselves are private too */
    CPT_EQ_INT(stat(cpa_commands_url(a) + 6, &st), 0);
    CPT_EQ_INT(st.st_mode & 0077, 0);
    CPT_EQ_INT(cpa_stop(a), CPA_OK);
    CPT_ASSERTF(stat(path, &st) != 0, "discovery file left behind after a clean stop");
    cpa_destroy(a);

    /* a runtime dir open to others is refused, not silently used */
    chmod(rtdir, 0755);
    a = new_agent(base_conf("disc2"));
    CPT_EQ_INT(cpa_start(a), CPA_ERR_INSECURE);
    cpa_destroy(a);
    chmod(rtdir, 0700);
    /* so is a symlink in its place */
    char real[400];
    snprintf(real, sizeof real, "%s/real", cpt_tmpdir());
    CPT_EQ_INT(mkdir(real, 0700), 0);
    char cmd[900];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && ln -s '%s' '%s'", rtdir, real, rtdir);
    CPT_EQ_INT(system(cmd), 0);
    a = new_agent(base_conf("disc3"));
    CPT_EQ_INT(cpa_start(a), CPA_ERR_INSECURE);
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- log, silence */

static int log_lines;
static void count_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    if (msg && *msg)
        log_lines++;
}

CPT_TEST(agent_never_prints_to_the_host)
{
    /* fd 1 and 2 go to a file; after a full life cycle with errors it is empty */
    char path[400];
    snprintf(path, sizeof path, "%s/out.txt", cpt_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int save1 = dup(1), save2 = dup(2);
    fflush(stdout);
    fflush(stderr);
    dup2(fd, 1);
    dup2(fd, 2);
    cpa_conf *c = base_conf("quiet");
    cpa_conf_set_log_cb(c, count_log, NULL);
    cpa_agent *a = new_agent(c);
    cpa_start(a);
    expect_refusal(cpa_commands_url(a), "garbage", 7, "bad_command");
    cpa_event e = ev_of(CPA_EV_ACK, 99, 50, 50); /* unknown op: ignored, not printed */
    cpa_emit(a, &e);
    wait_drained(a);
    cpa_destroy(a);
    fflush(stdout);
    fflush(stderr);
    dup2(save1, 1);
    dup2(save2, 2);
    struct stat st;
    CPT_EQ_INT(fstat(fd, &st), 0);
    close(fd);
    CPT_EQ_INT(st.st_size, 0);
    CPT_ASSERT(log_lines >= 1); /* it reported through the callback instead */
}

/* ---------------------------------------------------------------- heartbeat */

static int hb_seen;
static cpw_subtask_metrics hb_row;
static int on_hb(void *opaque, cpw_msg *m)
{
    (void)opaque;
    if (m->kind == CPW_K_HEARTBEAT && m->heartbeat.n == 1) {
        hb_row = m->heartbeat.subtasks[0];
        hb_seen++;
    }
    return 0;
}

CPT_TEST(heartbeat_carries_subtask_metrics)
{
    cpa_conf *c = base_conf("hb");
    char err[100];
    CPT_EQ_INT(cpa_conf_set(c, "heartbeat.ms", "50", err, sizeof err), CPA_OK);
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_set_topology(a, topo_ops, 3, topo_edges, 2), CPA_OK);
    CPT_EQ_INT(cpa_subtask_metrics(a, 1, 2, 1234, 1200, 750, 1), CPA_OK);
    CPT_EQ_INT(cpa_subtask_metrics(a, 1, 3, 1, 1, 1, 1), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_subtask_metrics(a, 3, 0, 1, 1, 1, 1), CPA_ERR_INVALID_ARG);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    cpt_sub sub;
    CPT_EQ_INT(cpt_sub_open(&sub, cpa_events_url(a)), 0);
    sub.cb = on_hb;
    for (int i = 0; i < 100 && !hb_seen; i++)
        cpt_sub_poll(&sub, 100);
    CPT_ASSERT(hb_seen);
    CPT_EQ_INT(hb_row.op, 1);
    CPT_EQ_INT(hb_row.subtask, 2);
    CPT_EQ_INT(hb_row.records_in, 1234);
    CPT_EQ_INT(hb_row.records_out, 1200);
    CPT_EQ_INT(hb_row.queue_fill_permille, 750);
    CPT_EQ_INT(hb_row.backpressured, 1);
    cpt_sub_close(&sub);
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- seq gaps */

CPT_TEST(slow_subscriber_detects_gaps_and_resyncs)
{
    /* heartbeats reveal a lost tail: a gap shows only when a later message arrives */
    cpa_conf *c = base_conf("gaps");
    char err[100];
    CPT_EQ_INT(cpa_conf_set(c, "heartbeat.ms", "100", err, sizeof err), CPA_OK);
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_set_topology(a, topo_ops, 3, topo_edges, 2), CPA_OK);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    cpt_sub sub;
    /* a small receive buffer: it misses messages while it does not read */
    CPT_EQ_INT(cpt_sub_open_rcvbuf(&sub, cpa_events_url(a), 4096), 0);
    /* wait until connected: the first trigger we see */
    cpa_event e = ev_of(CPA_EV_CP_TRIGGERED, 1, -1, -1);
    for (int i = 0; i < 100 && !sub.events; i++) {
        cpa_emit(a, &e);
        cpt_sub_poll(&sub, 50);
    }
    CPT_ASSERT(sub.events);
    /* flood while not reading: the publisher drops for this subscriber */
    cpa_event r = ev_of(CPA_EV_BARRIER_RECEIVED, 1, 1, 1);
    uint64_t refused = 0;
    for (int i = 0; i < 200000; i++) {
        while (cpa_emit(a, &r) == CPA_ERR_QUEUE_FULL) {
            refused++; /* the job's choice here: retry later */
            usleep(100);
        }
    }
    wait_drained(a);
    cpw_msg st = get_state(cpa_commands_url(a), 0);
    uint64_t final_seq = st.reply->state->seq;
    cpw_msg_clear(&st);
    /* drain what reached us; the resync rule: after a gap, get_state */
    int64_t t0 = cpt_now_ms();
    while (sub.last_seq < final_seq && cpt_now_ms() - t0 < 10000)
        cpt_sub_poll(&sub, 200);
    CPT_ASSERTF(sub.gaps > 0, "no gap seen: %llu messages", (unsigned long long)sub.messages);
    CPT_ASSERT(sub.missed > 0);
    CPT_EQ_INT(sub.errors, 0);
    /* every seq between the first and the last was either seen or counted missing */
    CPT_EQ_INT(sub.messages + sub.missed, sub.last_seq - sub.first_seq + 1);
    cpa_stats s;
    cpa_get_stats(a, &s);
    /* the agent lost nothing beyond the emits it refused; the subscriber did */
    CPT_EQ_INT(s.dropped, refused);
    CPT_EQ_INT(s.emitted, s.sent + s.dropped);
    cpw_msg again = get_state(cpa_commands_url(a), 0);
    CPT_ASSERT(again.reply->state->seq >= sub.last_seq);
    cpw_msg_clear(&again);
    cpt_sub_close(&sub);
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- bad values */

CPT_TEST(event_values_are_checked_and_normalised)
{
    cpa_agent *a = new_agent(base_conf("values"));
    CPT_EQ_INT(cpa_set_topology(a, topo_ops, 3, topo_edges, 2), CPA_OK);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    /* identifiers the wire cannot carry are refused, and not counted */
    cpa_event e = ev_of(CPA_EV_ACK, 0, 0, 0);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_ERR_INVALID_ARG);     /* cp_id 0 */
    e = ev_of(CPA_EV_ACK, 1, CPA_MAX_OPERATORS, 0);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_ERR_INVALID_ARG);     /* op too large */
    e = ev_of(CPA_EV_BARRIER_RECEIVED, 1, 0, -1);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_ERR_INVALID_ARG);     /* no subtask */
    e = ev_of(CPA_EV_RESTORED, -1, -1, -1);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_ERR_INVALID_ARG);
    e = ev_of(CPA_EV_FAILURE_INJECTED, 0, -1, -1);        /* whole job: fine */
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    cpa_stats st;
    cpa_get_stats(a, &st);
    CPT_EQ_INT(st.emitted, 1);

    /* values out of range are normalised, so state and wire agree and every
     * dashboard can decode both */
    cpt_sub sub;
    CPT_EQ_INT(cpt_sub_open(&sub, cpa_events_url(a)), 0);
    usleep(200 * 1000);
    e = ev_of(CPA_EV_CP_TRIGGERED, 1, -1, -1);
    e.u.triggered.kind = (cpa_trigger_kind)7;
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    e = ev_of(CPA_EV_ACK, 1, 1, 1);
    e.u.ack.state_size = -5;
    e.u.ack.sync_us = -1000; /* a clock step */
    e.u.ack.unaligned = 9;
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    e = ev_of(CPA_EV_CP_FAILED, 1, -1, -1);
    e.u.failed.reason = (cpa_failure_reason)99;
    memset(e.u.failed.message, 'x', sizeof e.u.failed.message); /* unterminated */
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    e = ev_of(CPA_EV_JOB_STATUS, 0, -1, -1);
    e.u.job_status.status = (cpa_job_status)-3;
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    wait_drained(a);
    int64_t t0 = cpt_now_ms();
    while (sub.events < 5 && cpt_now_ms() - t0 < 5000)
        cpt_sub_poll(&sub, 100);
    CPT_EQ_INT(sub.errors, 0);
    CPT_ASSERTF(sub.events >= 4, "subscriber decoded %llu events", (unsigned long long)sub.events);
    cpt_sub_close(&sub);

    cpw_msg r = get_state(cpa_commands_url(a), -1);
    cpw_state *got = r.reply->state;
    CPT_EQ_INT(got->status, CPA_JOB_RUNNING);
    CPT_EQ_INT(got->n_history, 1);
    const cpw_cp *cp = cpw_state_history(got, 0);
    CPT_EQ_INT(cp->kind, CPA_TRIGGER_PERIODIC);
    CPT_EQ_INT(cp->reason, CPA_FAIL_ASYNC_EXCEPTION);
    CPT_EQ_INT(strlen(cp->message), CPA_TEXT_MAX - 1);
    const cpw_sub *u = &cp->subs[cpw_state_sub_index(got, 1, 1)];
    CPT_EQ_INT(u->phase, CPW_PH_ACKED);
    CPT_EQ_INT(u->state_size, 0);
    CPT_EQ_INT(u->sync_us, 0);
    CPT_EQ_INT(u->unaligned, 1);
    cpw_msg_clear(&r);
    cpa_destroy(a);
}

CPT_TEST(long_idle_poll_does_not_spin)
{
    /* idle.ms=1000 with a slow heartbeat once made the sleep invalid (1e9 ns)
     * and the agent thread spun; its CPU time over a quiet second says */
    cpa_conf *c = base_conf("idle");
    char err[100];
    CPT_EQ_INT(cpa_conf_set(c, "idle.ms", "1000", err, sizeof err), CPA_OK);
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    usleep(1500 * 1000);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double cpu = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* a spinning thread burns ~1.5 s here; a sleeping one, milliseconds */
    CPT_ASSERTF(cpu < 0.5, "agent used %.2f s of CPU in 1.5 s of idling", cpu);
    cpa_destroy(a);
}

/* The resync rule end to end: a subscriber that lost messages takes
 * get_state, drops what it already holds (seq <= state.seq), folds the rest,
 * and ends with exactly the agent's own state. */
static cpw_state *model;
static int fold(void *opaque, cpw_msg *m)
{
    (void)opaque;
    if (!model || m->seq <= model->seq)
        return 0;
    if (m->kind == CPW_K_EVENT) {
        cpw_state_apply(model, &m->ev, m->seq);
    } else if (m->kind == CPW_K_HELLO) {
        cpw_state_set_hello(model, m->hello);
        model->seq = m->seq;
    } else {
        model->seq = m->seq;
    }
    return 0;
}

CPT_TEST(resync_after_gap_matches_agent_state)
{
    cpa_conf *c = base_conf("resync");
    char err[100];
    CPT_EQ_INT(cpa_conf_set(c, "heartbeat.ms", "100", err, sizeof err), CPA_OK);
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_set_topology(a, topo_ops, 3, topo_edges, 2), CPA_OK);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    cpt_sub sub;
    CPT_EQ_INT(cpt_sub_open_rcvbuf(&sub, cpa_events_url(a), 4096), 0);
    sub.cb = fold;
    cpa_event e = ev_of(CPA_EV_CP_TRIGGERED, 1, -1, -1);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    for (int i = 0; i < 100 && !sub.messages; i++)
        cpt_sub_poll(&sub, 50);
    CPT_ASSERT(sub.messages);
    /* flood while not reading */
    cpa_event r = ev_of(CPA_EV_BARRIER_RECEIVED, 1, 1, 1);
    for (int i = 0; i < 100000; i++)
        while (cpa_emit(a, &r) == CPA_ERR_QUEUE_FULL)
            usleep(100);
    wait_drained(a);
    /* what the flood left in flight reaches the reader (or is dropped for
     * it) before it resyncs: the loss after the resync must be none */
    cpw_msg fl = get_state(cpa_commands_url(a), 0);
    uint64_t flood_seq = fl.reply->state->seq;
    cpw_msg_clear(&fl);
    int64_t tg = cpt_now_ms();
    while (sub.last_seq < flood_seq && cpt_now_ms() - tg < 10000)
        cpt_sub_poll(&sub, 50);
    uint64_t gaps = sub.gaps;
    CPT_ASSERTF(gaps, "no gap after the flood");
    /* resync */
    cpw_msg st = get_state(cpa_commands_url(a), -1);
    model = st.reply->state;
    st.reply->state = NULL;
    cpw_msg_clear(&st);
    /* life goes on: cp 1 completes, cp 2 starts */
    for (int op = 0; op < 3; op++)
        for (int s = 0; s < topo_ops[op].parallelism; s++) {
            e = ev_of(CPA_EV_ACK, 1, op, s);
            e.u.ack.state_size = 100 * op + s;
            CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
        }
    e = ev_of(CPA_EV_CP_COMPLETED, 1, -1, -1);
    e.u.completed.duration_us = 777;
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    e = ev_of(CPA_EV_CP_TRIGGERED, 2, -1, -1);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    e = ev_of(CPA_EV_ALIGNMENT_START, 2, 1, 0);
    CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
    wait_drained(a);
    usleep(250 * 1000); /* a heartbeat or two */
    cpw_msg fin = get_state(cpa_commands_url(a), -1);
    cpw_state *want = fin.reply->state;
    int64_t t0 = cpt_now_ms();
    while (model->seq < want->seq && cpt_now_ms() - t0 < 5000)
        cpt_sub_poll(&sub, 100);
    CPT_EQ_INT(sub.gaps, gaps); /* no further loss */
    CPT_ASSERT(model->seq >= want->seq);
    CPT_EQ_INT(model->counts.completed, 1);
    CPT_EQ_INT(model->n_inflight, 1);
    /* heartbeats after the final get_state may have moved the model on;
     * counters that only heartbeats carry aside, the states are the same */
    model->seq = want->seq;
    model->agent_emitted = want->agent_emitted;
    model->agent_sent = want->agent_sent;
    model->agent_dropped = want->agent_dropped;
    cpw_buf b1, b2;
    cpw_buf_init(&b1);
    cpw_buf_init(&b2);
    cpw_state_encode(&b1, model, -1);
    cpw_state_encode(&b2, want, -1);
    CPT_EQ_STR(b1.data, b2.data);
    cpw_buf_free(&b1);
    cpw_buf_free(&b2);
    cpw_msg_clear(&fin);
    cpw_state_free(model);
    model = NULL;
    cpt_sub_close(&sub);
    cpa_destroy(a);
}
