/*
 * agent_hello.c — the smallest complete program that embeds libcpagent.
 *
 * A pretend job with two source subtasks feeding one "sum" subtask runs a
 * checkpoint every --interval-ms: it emits what a real job would (trigger,
 * barriers, alignment at the two-input operator, sync and async snapshot
 * parts, acks, completion) and answers `trigger` and `abort` commands from
 * cptop. It also declares a failure kind of its own, "slow-upload", which
 * cptop's `f` menu and `cptop ctl fail` offer from the job's table.
 * Build: make; run: build/bin/agent_hello --help
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <cpagent.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t quit;
static atomic_int manual_requested;
/* "slow-upload": extra ms for the next upload at source#0, source#1, sum#0 */
static atomic_int slow_upload_ms[3];

/* The failures this job can inject: the agent publishes the table, checks
 * every inject_failure against it and fills in defaults, so the handler
 * below gets a known kind, a valid target and a value in range. */
static const cpa_failure_desc failure_kinds[] = {
    {.kind = "slow-upload", .label = "slow the next snapshot upload at one subtask",
     .target = CPA_TARGET_SUBTASK, .n_params = 1,
     .params = {{.name = "ms", .unit = "ms", .min = 1, .max = 10000, .def = 800,
                 .help = "how much longer the upload takes"}}},
};

static void on_signal(int sig) { (void)sig; quit = 1; }

static void log_to_stderr(void *opaque, int level, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "agent_hello: [%d] %s\n", level, msg);
}

/* Runs on the agent thread: only note the request; the job loop acts on it. */
static cpa_err on_trigger(void *opaque, const cpa_command *cmd, char *msg, size_t size)
{
    (void)opaque;
    (void)cmd;
    atomic_store(&manual_requested, 1);
    snprintf(msg, size, "checkpoint will be triggered now");
    return CPA_OK;
}

static cpa_err on_abort(void *opaque, const cpa_command *cmd, char *msg, size_t size)
{
    (void)opaque;
    snprintf(msg, size, "checkpoint %lld completes too fast to abort in this example",
             (long long)cmd->cp_id);
    return CPA_ERR_HANDLER;
}

/* Runs on the agent thread, after the agent checked the command against
 * failure_kinds: params[0] is "ms", in range. */
static cpa_err on_inject(void *opaque, const cpa_command *cmd, char *msg, size_t size)
{
    (void)opaque;
    int slot = cmd->op == 0 ? cmd->subtask : 2;
    int ms = atoi(cmd->values[0]);
    atomic_store(&slow_upload_ms[slot], ms);
    snprintf(msg, size, "the next upload at %s#%d takes %d ms longer", cmd->op ? "sum" : "source",
             cmd->subtask, ms);
    return CPA_OK;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(cpa_agent *a, cpa_event ev)
{
    /* Never blocks; a full queue drops the event and counts it. */
    cpa_emit(a, &ev);
}

static void one_checkpoint(cpa_agent *a, int64_t id, cpa_trigger_kind kind)
{
    int64_t t0 = mono_ms();
    emit(a, (cpa_event){.type = CPA_EV_CP_TRIGGERED, .op = -1, .subtask = -1, .cp_id = id,
                        .u.triggered.kind = kind});
    /* sources (operator 0): inject the barrier, snapshot offsets, ack */
    for (int s = 0; s < 2; s++) {
        int slow = atomic_exchange(&slow_upload_ms[s], 0);
        emit(a, (cpa_event){.type = CPA_EV_BARRIER_INJECTED, .op = 0, .subtask = s, .cp_id = id});
        emit(a, (cpa_event){.type = CPA_EV_SNAPSHOT_START, .op = 0, .subtask = s, .cp_id = id});
        emit(a, (cpa_event){.type = CPA_EV_SNAPSHOT_SYNC_DONE, .op = 0, .subtask = s,
                            .cp_id = id, .u.sync.duration_us = 40});
        sleep_ms(slow);
        int64_t up = 300 + (int64_t)slow * 1000;
        emit(a, (cpa_event){.type = CPA_EV_SNAPSHOT_ASYNC_DONE, .op = 0, .subtask = s,
                            .cp_id = id, .u.async = {.bytes = 64, .duration_us = up}});
        emit(a, (cpa_event){.type = CPA_EV_ACK, .op = 0, .subtask = s, .cp_id = id,
                            .u.ack = {.state_size = 64, .checkpointed_size = 64,
                                      .start_delay_us = 50, .sync_us = 40, .async_us = up}});
    }
    /* the two-input operator aligns: barrier on channel 0, later channel 1 */
    emit(a, (cpa_event){.type = CPA_EV_BARRIER_RECEIVED, .op = 1, .subtask = 0, .cp_id = id,
                        .u.barrier.channel = 0});
    emit(a, (cpa_event){.type = CPA_EV_ALIGNMENT_START, .op = 1, .subtask = 0, .cp_id = id});
    sleep_ms(20);
    emit(a, (cpa_event){.type = CPA_EV_BARRIER_RECEIVED, .op = 1, .subtask = 0, .cp_id = id,
                        .u.barrier.channel = 1});
    emit(a, (cpa_event){.type = CPA_EV_ALIGNMENT_END, .op = 1, .subtask = 0, .cp_id = id,
                        .u.alignment = {.buffered_bytes = 4096, .duration_us = 20000}});
    emit(a, (cpa_event){.type = CPA_EV_SNAPSHOT_START, .op = 1, .subtask = 0, .cp_id = id});
    emit(a, (cpa_event){.type = CPA_EV_SNAPSHOT_SYNC_DONE, .op = 1, .subtask = 0, .cp_id = id,
                        .u.sync.duration_us = 900});
    int slow = atomic_exchange(&slow_upload_ms[2], 0);
    sleep_ms(30 + slow);
    int64_t up = 30000 + (int64_t)slow * 1000;
    emit(a, (cpa_event){.type = CPA_EV_SNAPSHOT_ASYNC_DONE, .op = 1, .subtask = 0, .cp_id = id,
                        .u.async = {.bytes = 1 << 20, .duration_us = up}});
    emit(a, (cpa_event){.type = CPA_EV_ACK, .op = 1, .subtask = 0, .cp_id = id,
                        .u.ack = {.state_size = 1 << 20, .checkpointed_size = 1 << 20,
                                  .processed_data = 4096, .start_delay_us = 200,
                                  .alignment_us = 20000, .sync_us = 900, .async_us = up}});
    emit(a, (cpa_event){.type = CPA_EV_CP_COMPLETED, .op = -1, .subtask = -1, .cp_id = id,
                        .u.completed = {.duration_us = (mono_ms() - t0) * 1000,
                                        .state_size = (1 << 20) + 128,
                                        .checkpointed_size = (1 << 20) + 128}});
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: agent_hello [--seconds N] [--interval-ms MS] [--job-id ID] [--name NAME]\n"
            "                   [--listen L] [--rest HOST:PORT]\n"
            "Embeds libcpagent in a pretend job and runs a checkpoint every interval\n"
            "(default 1000 ms) for N seconds (default 0: until Ctrl-C). Watch it with cptop.\n"
            "  --listen ipc | tcp://127.0.0.1:PORT   where dashboards connect (default ipc)\n"
            "  --rest 127.0.0.1:8081   also answer Flink's REST API there (port 0: any free\n"
            "                          port, printed); try curl http://127.0.0.1:8081/jobs/overview\n");
}

int main(int argc, char **argv)
{
    int seconds = 0, interval_ms = 1000;
    const char *job_id = NULL, *listen = NULL, *rest = NULL, *name = "hello";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc) {
            interval_ms = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--job-id") && i + 1 < argc) {
            job_id = argv[++i];
        } else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
            name = argv[++i];
        } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen = argv[++i];
        } else if (!strcmp(argv[i], "--rest") && i + 1 < argc) {
            rest = argv[++i];
        } else {
            fprintf(stderr, "agent_hello: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (interval_ms < 60) {
        fprintf(stderr, "agent_hello: --interval-ms must be at least 60\n");
        return 2;
    }

    char err[256];
    cpa_conf *conf = cpa_conf_new();
    if (cpa_conf_set(conf, "job.name", name, err, sizeof err) ||
        (job_id && cpa_conf_set(conf, "job.id", job_id, err, sizeof err)) ||
        (listen && cpa_conf_set(conf, "listen", listen, err, sizeof err)) ||
        (rest && cpa_conf_set(conf, "rest.listen", rest, err, sizeof err))) {
        fprintf(stderr, "agent_hello: %s\n", err);
        cpa_conf_destroy(conf);
        return 2;
    }
    cpa_conf_set_log_cb(conf, log_to_stderr, NULL);
    cpa_conf_set_command_cb(conf, CPA_CMD_TRIGGER, on_trigger, NULL);
    cpa_conf_set_command_cb(conf, CPA_CMD_ABORT, on_abort, NULL);
    cpa_conf_set_command_cb(conf, CPA_CMD_INJECT_FAILURE, on_inject, NULL);
    cpa_agent *a = cpa_new(conf, err, sizeof err); /* takes conf */
    if (!a) {
        fprintf(stderr, "agent_hello: %s\n", err);
        return 1;
    }
    const cpa_operator ops[] = {{"source", 2}, {"sum", 1}};
    const cpa_edge edges[] = {{0, 1, "hash"}};
    cpa_set_topology(a, ops, 2, edges, 1);
    const char *keys[] = {"execution.checkpointing.interval", "execution.checkpointing.mode"};
    char interval[32];
    snprintf(interval, sizeof interval, "%d ms", interval_ms);
    const char *values[] = {interval, "EXACTLY_ONCE"};
    cpa_set_job_config(a, keys, values, 2);
    cpa_set_failure_kinds(a, failure_kinds, 1);
    cpa_err e = cpa_start(a);
    if (e) {
        fprintf(stderr, "agent_hello: cannot start the agent: %s\n", cpa_strerror(e));
        cpa_destroy(a);
        return 1;
    }
    printf("job %s: events %s, commands %s\n", cpa_job_id(a), cpa_events_url(a),
           cpa_commands_url(a));
    if (cpa_rest_port(a))
        printf("Flink REST API on port %d\n", cpa_rest_port(a));
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    emit(a, (cpa_event){.type = CPA_EV_JOB_STATUS, .op = -1, .subtask = -1,
                        .u.job_status = {.status = CPA_JOB_RUNNING, .message = "started"}});

    int64_t id = 0;
    int elapsed = 0;
    while (!quit && (seconds == 0 || elapsed < seconds * 1000)) {
        one_checkpoint(a, ++id, atomic_exchange(&manual_requested, 0) ? CPA_TRIGGER_MANUAL
                                                                      : CPA_TRIGGER_PERIODIC);
        for (int waited = 50; waited < interval_ms && !quit; waited += 10) {
            if (atomic_load(&manual_requested))
                break;
            sleep_ms(10);
        }
        elapsed += interval_ms;
        for (int op = 0; op < 2; op++)
            for (int s = 0; s < ops[op].parallelism; s++)
                cpa_subtask_metrics(a, op, s, id * 1000, id * 1000, 100, 0);
    }
    cpa_stats st;
    cpa_stop(a);
    cpa_get_stats(a, &st);
    printf("emitted %llu, sent %llu, dropped %llu\n", (unsigned long long)st.emitted,
           (unsigned long long)st.sent, (unsigned long long)st.dropped);
    cpa_destroy(a);
    return 0;
}
