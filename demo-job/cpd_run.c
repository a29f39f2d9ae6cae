/* cpd_run.c — `cpdemo run`: the command line, the agent and its commands,
 * and the attempt loop (see cpd_run.h; the parts are listed in cpd_job.h). */
#include "cpd_run.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_clock.h"
#include "cpd_failures.h"
#include "cpd_job.h"
#include "cpd_kafka.h"
#include "cpd_supervise.h"

/* How long a command waits for the coordinator's answer. The coordinator
 * never waits on storage or the sink, so it answers in microseconds; this
 * only bounds the agent thread if something is badly wrong. */
#define CMD_WAIT_MS 1000

static volatile sig_atomic_t quit;
static void on_signal(int sig) { (void)sig; quit = 1; }

/* ------------------------------------------------------------------ the agent */

/* The job's settings as cptop shows them (again after set_config). */
static void publish_config(cpd_job *j)
{
    char iv[32], to[32], tol[16], par[16], mp[32], at[32], mc[16];
    cpd_format_duration(j->settings.interval_ms, iv, sizeof iv);
    cpd_format_duration(j->settings.timeout_ms, to, sizeof to);
    cpd_format_duration(j->cfg.min_pause_ms, mp, sizeof mp);
    cpd_format_duration(atomic_load(&j->aligned_timeout_ms), at, sizeof at);
    snprintf(mc, sizeof mc, "%d", j->cfg.max_concurrent);
    snprintf(tol, sizeof tol, "%d", j->settings.tolerable_failures);
    snprintf(par, sizeof par, "%d", j->P);
    char sink[sizeof j->cfg.sink];
    cpd_sink_redact(j->cfg.sink, sink, sizeof sink); /* dashboards see no password */
    const char *keys[] = {"execution.checkpointing.interval", "execution.checkpointing.mode",
                          "execution.checkpointing.timeout",
                          "execution.checkpointing.tolerable-failed-checkpoints",
                          "execution.checkpointing.min-pause", "execution.checkpointing.storage",
                          "parallelism.default", "sink.url", "source.kafka.topic",
                          "execution.checkpointing.unaligned.enabled",
                          "execution.checkpointing.aligned-checkpoint-timeout",
                          "execution.checkpointing.max-concurrent-checkpoints"};
    const char *vals[] = {iv, j->cfg.mode == CPD_EXACTLY_ONCE ? "EXACTLY_ONCE" : "AT_LEAST_ONCE",
                          to, tol, mp, j->cfg.storage, par, sink, j->cfg.topic,
                          atomic_load(&j->unaligned) ? "true" : "false", at, mc};
    cpa_set_job_config(j->agent, keys, vals, 12);
}

static bool answer_idle(cpd_job *j, char *msg, size_t size)
{
    if (atomic_load(&j->running))
        return false;
    snprintf(msg, size, "the job is restarting; try again in a moment");
    return true;
}

/* What a request to the coordinator came back with, when it is not a
 * checkpoint answer. */
static cpa_err refused(cpd_ckpt_rc rc, char *msg, size_t size)
{
    if (rc == CPD_CKPT_IDLE)
        snprintf(msg, size, "the job is restarting; try again in a moment");
    else
        snprintf(msg, size, "the checkpoint coordinator did not answer (%s)",
                 cpd_ckpt_rc_name(rc));
    return CPA_ERR_HANDLER;
}

static cpa_err cmd_trigger(cpd_job *j, char *msg, size_t size)
{
    int64_t id = 0;
    int inflight = 0;
    cpd_ckpt_rc rc = cpd_ckpt_trigger(j->ckpt, CMD_WAIT_MS, &id, &inflight);
    if (rc == CPD_CKPT_OK) {
        snprintf(msg, size, "checkpoint %lld triggered", (long long)id);
    } else if (rc == CPD_CKPT_QUEUED) {
        snprintf(msg, size, "queued: starts once %s",
                 inflight ? "a checkpoint in flight ends" : "the minimum pause has passed");
    } else if (rc == CPD_CKPT_BUSY) {
        snprintf(msg, size, "not triggered: a manual checkpoint is already waiting");
        return CPA_ERR_HANDLER;
    } else {
        return refused(rc, msg, size);
    }
    return CPA_OK;
}

static cpa_err cmd_abort(cpd_job *j, const cpa_command *c, char *msg, size_t size)
{
    cpd_ckpt_rc rc = cpd_ckpt_abort(j->ckpt, c->cp_id, CMD_WAIT_MS);
    if (rc == CPD_CKPT_OK) {
        snprintf(msg, size, "checkpoint %lld aborted", (long long)c->cp_id);
        return CPA_OK;
    }
    if (rc == CPD_CKPT_NOT_IN_FLIGHT) {
        snprintf(msg, size, "checkpoint %lld is not in flight", (long long)c->cp_id);
        return CPA_ERR_HANDLER;
    }
    return refused(rc, msg, size);
}

/* One set_config pair onto next, with the configuration file's checks and
 * messages; false with msg when the key cannot change at run time
 * (*unsupported) or the value is bad. */
static bool set_pair(cpd_config *next, const char *k, const char *v, bool *unsupported,
                     char *msg, size_t size)
{
    if (!cpd_config_runtime_key(k)) {
        *unsupported = true;
        if (!cpd_config_key_name(k))
            cpd_config_set(next, k, v, msg, size); /* unknown: it names the closest key */
        else
            snprintf(msg, size, "%s cannot be changed at run time (interval, timeout, "
                                "tolerable-failed-checkpoints, unaligned.enabled, "
                                "aligned-checkpoint-timeout can)", k);
        return false;
    }
    return cpd_config_set(next, k, v, msg, size);
}

/* set_config: the pairs go onto a copy of the configuration as it runs,
 * through the file's checks, then the whole-configuration check; only then
 * does the coordinator take them. */
static cpa_err cmd_set(cpd_job *j, const cpa_command *c, char *msg, size_t size)
{
    cpd_config next = j->cfg;
    next.interval_ms = j->settings.interval_ms;
    next.timeout_ms = j->settings.timeout_ms;
    next.tolerable_failures = j->settings.tolerable_failures;
    next.unaligned = atomic_load(&j->unaligned);
    next.aligned_timeout_ms = atomic_load(&j->aligned_timeout_ms);
    bool unsupported = false;
    for (int i = 0; i < c->n_params; i++)
        if (!set_pair(&next, c->keys[i], c->values[i], &unsupported, msg, size))
            return unsupported ? CPA_ERR_UNSUPPORTED : CPA_ERR_HANDLER;
    char errs[1024] = "";
    if (cpd_config_check(&next, errs, sizeof errs, NULL, 0)) {
        snprintf(msg, size, "%.*s", (int)strcspn(errs, "\n"), errs);
        return CPA_ERR_HANDLER;
    }
    cpd_ckpt_settings s = {next.interval_ms, next.timeout_ms, next.tolerable_failures};
    cpd_ckpt_rc rc = cpd_ckpt_set(j->ckpt, &s, CMD_WAIT_MS);
    if (rc == CPD_CKPT_BAD_VALUE) {
        snprintf(msg, size, "values out of range");
        return CPA_ERR_HANDLER;
    }
    if (rc != CPD_CKPT_OK)
        return refused(rc, msg, size);
    bool timeout_changed = s.timeout_ms != j->settings.timeout_ms;
    j->settings = s;
    /* checkpoints triggered from now on travel as these say */
    atomic_store(&j->aligned_timeout_ms, next.aligned_timeout_ms);
    atomic_store(&j->unaligned, next.unaligned);
    publish_config(j);
    if (timeout_changed) /* stall's default follows it */
        cpd_failures_publish(j->agent, s.timeout_ms);
    char a[32], b[32], at[32];
    cpd_format_duration(s.interval_ms, a, sizeof a);
    cpd_format_duration(s.timeout_ms, b, sizeof b);
    cpd_format_duration(next.aligned_timeout_ms, at, sizeof at);
    int k = snprintf(msg, size, "interval %s, timeout %s, tolerable failures %d, ", a, b,
                     s.tolerable_failures);
    if (k > 0 && (size_t)k < size)
        snprintf(msg + k, size - (size_t)k, next.unaligned ? "unaligned checkpoints%s%s"
                                                           : "aligned checkpoints",
                 next.aligned_timeout_ms ? " after an aligned timeout of " : "",
                 next.aligned_timeout_ms ? at : "");
    return CPA_OK;
}

/* Runs on the agent thread: nothing here waits on storage, the sink or the
 * coordinator's lock (it has none); requests are answered at once. */
static cpa_err on_command(void *opaque, const cpa_command *c, char *msg, size_t size)
{
    cpd_job *j = opaque;
    switch (c->type) {
    case CPA_CMD_TRIGGER:
        return cmd_trigger(j, msg, size);
    case CPA_CMD_ABORT:
        return cmd_abort(j, c, msg, size);
    case CPA_CMD_SET_CONFIG:
        return cmd_set(j, c, msg, size);
    case CPA_CMD_INJECT_FAILURE:
        if (answer_idle(j, msg, size))
            return CPA_ERR_HANDLER;
        return cpd_failures_inject(j, c, j->settings.timeout_ms, msg, size);
    default:
        snprintf(msg, size, "unsupported");
        return CPA_ERR_UNSUPPORTED;
    }
}

static void agent_log(void *o, int level, const char *msg)
{
    (void)o;
    if (level <= CPA_LOG_WARNING)
        cpd_job_say("agent: %s", msg);
}

/* The agent, unless agent.listen is "off" (then events go nowhere). Checks
 * its settings only; nothing is bound until cpa_start. */
static bool make_agent(cpd_job *j)
{
    char err[600];
    if (!strcmp(j->cfg.agent_listen, "off"))
        return true;
    cpa_conf *ac = cpa_conf_new();
    if (!ac) {
        cpd_job_say("agent: out of memory");
        return false;
    }
    cpa_conf_set(ac, "job.name", j->cfg.name, err, sizeof err);
    cpa_conf_set(ac, "job.id", j->job_id, err, sizeof err);
    if (cpa_conf_set(ac, "listen", j->cfg.agent_listen, err, sizeof err)) {
        cpd_job_say("agent.listen: %s", err);
        cpa_conf_destroy(ac);
        return false;
    }
    if (j->cfg.agent_rest_listen[0] &&
        cpa_conf_set(ac, "rest.listen", j->cfg.agent_rest_listen, err, sizeof err)) {
        cpd_job_say("agent.rest.listen: %s", err);
        cpa_conf_destroy(ac);
        return false;
    }
    char hist[16];
    snprintf(hist, sizeof hist, "%d", j->cfg.web_history);
    cpa_conf_set(ac, "web.checkpoints.history", hist, err, sizeof err); /* range checked above */
    cpa_conf_set_log_cb(ac, agent_log, NULL);
    /* the commands this job serves (not cancel: it has no way to stop that
     * a dashboard should trigger, so Flink's tools are told so) */
    static const cpa_command_type served[] = {CPA_CMD_TRIGGER, CPA_CMD_ABORT,
                                              CPA_CMD_INJECT_FAILURE, CPA_CMD_SET_CONFIG};
    for (size_t i = 0; i < sizeof served / sizeof served[0]; i++)
        cpa_conf_set_command_cb(ac, served[i], on_command, j);
    j->agent = cpa_new(ac, err, sizeof err);
    if (!j->agent) {
        cpd_job_say("agent: %s", err);
        return false;
    }
    cpa_operator ops[CPD_N_OPS];
    for (int i = 0; i < CPD_N_OPS; i++)
        ops[i] = (cpa_operator){cpd_op_names[i], j->P};
    const cpa_edge edges[] = {{0, 1, "forward"}, {1, 2, "hash"}, {2, 3, "forward"}};
    cpa_set_topology(j->agent, ops, CPD_N_OPS, edges, 3);
    publish_config(j);
    if (cpd_failures_publish(j->agent, j->settings.timeout_ms) != CPA_OK) {
        cpd_job_say("agent: the failure table was refused");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ one attempt */

/* Stops every thread of the attempt, ends its checkpoints, frees what it
 * opened. */
static void stop_attempt(cpd_job *j)
{
    atomic_store(&j->running, 0);
    atomic_store(&j->stopping, 1);
    for (int op = 0; op < CPD_N_OPS; op++)
        for (int s = 0; s < j->P; s++)
            if (j->tasks[op][s].started)
                pthread_join(j->tasks[op][s].thread, NULL);
    pthread_mutex_lock(&j->iomu);
    pthread_cond_broadcast(&j->iocond);
    pthread_mutex_unlock(&j->iomu);
    if (j->io_started)
        pthread_join(j->io_thread, NULL);
    j->io_started = false;
    for (cpd_snap *r = j->io_head, *nx; r; r = nx) { /* never written */
        nx = r->next;
        cpd_snap_free(r);
    }
    j->io_head = j->io_tail = NULL;
    cpd_ckpt_end(j->ckpt); /* nothing posts any more: fail what is in flight */
    for (int op = 0; op < CPD_N_OPS; op++)
        for (int s = 0; s < j->P; s++) {
            cpd_inbox_free(&j->tasks[op][s].in);
            j->tasks[op][s].started = false;
        }
    cpd_sink_close(j->commit_sink);
    j->commit_sink = NULL;
    cpd_metadata_free(j->restored_md);
    j->restored_md = NULL;
}

/* Reads the checkpoint to restore (or --from-checkpoint N) and recovers the
 * sink to it. 0 ok; 1 retry (restart); 2 cannot run at all. */
static int restore(cpd_job *j, int64_t from_checkpoint, int64_t *restored)
{
    char err[600], note[600] = "";
    cpd_metadata *md = NULL;
    cpd_st_rc rc = from_checkpoint > 0
                       ? cpd_storage_load(j->st, from_checkpoint, &md, err, sizeof err)
                       : cpd_storage_latest(j->st, -1, &md, note, sizeof note, err, sizeof err);
    if (rc != CPD_ST_OK && rc != CPD_ST_NOT_FOUND) {
        cpd_job_say("cannot read checkpoints: %s", err);
        return 1;
    }
    if (from_checkpoint > 0 && rc != CPD_ST_OK) {
        cpd_job_say("--from-checkpoint %lld: %s", (long long)from_checkpoint, err);
        return 2;
    }
    *restored = md ? md->checkpoint_id : 0;
    if (note[0])
        cpd_job_say("%s", note);
    cpd_offset offs[CPD_MAX_PARTS];
    int n_offs = cpd_job_md_offsets(md, offs, CPD_MAX_PARTS);
    for (int i = 0; i < n_offs; i++)
        if (offs[i].partition >= 0 && offs[i].partition < CPD_MAX_PARTS)
            j->start_offsets[offs[i].partition] = offs[i].next;
    j->restored_md = md;
    j->commit_sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!j->commit_sink) {
        cpd_job_say("%s", err);
        /* at start a sink that cannot open is a setup error; on a restart
         * it is the database being away a little longer: restart again */
        if (j->attempt > 0) {
            snprintf(j->fail_reason, sizeof j->fail_reason, "sink: %s", err);
            return 1;
        }
        return 2;
    }
    if (cpd_sink_recover(j->commit_sink, *restored, offs, n_offs, err, sizeof err)) {
        cpd_job_say("sink recovery: %s", err);
        return 1;
    }
    return 0;
}

/* A task's fields for a new attempt. Its atomics are stored, not wiped:
 * the agent thread may be setting a failure on it right now. */
static void reset_task(cpd_job *j, cpd_task *t, int op, int sub)
{
    t->j = j;
    t->op = op;
    t->sub = sub;
    t->started = false;
    t->n_out = 0;
    atomic_store(&t->rec_in, 0);
    atomic_store(&t->rec_out, 0);
    atomic_store(&t->blocked_out, 0);
    atomic_store(&t->kill, 0);
    atomic_store(&t->decline_next, 0);
    atomic_store(&t->stall_ms, 0);
    /* throttle_us stays: a slow subtask stays slow across restarts */
    t->hooks = NULL;
    t->op_state = NULL;
    t->stager = NULL;
    t->batch = NULL;
    t->pend = NULL;
    t->restored = NULL;
    t->scratch = t->in_scratch = NULL;
    memset(&t->al, 0, sizeof t->al);
    memset(&t->outq, 0, sizeof t->outq);
}

/* Channels: source i -> parse i; parse * -> aggregate (by account, one
 * input per parse subtask); aggregate i -> sink i. */
static bool wire(cpd_job *j)
{
    int P = j->P;
    bool ok = true;
    for (int op = 0; op < CPD_N_OPS; op++)
        for (int s = 0; s < P; s++) {
            cpd_task *t = &j->tasks[op][s];
            reset_task(j, t, op, s);
            if (op == CPD_OP_PARSE || op == CPD_OP_SINK)
                ok &= cpd_inbox_init(&t->in, 1, CPD_CHAN_CAP);
            else if (op == CPD_OP_AGG)
                ok &= cpd_inbox_init(&t->in, P, CPD_CHAN_CAP);
        }
    for (int s = 0; ok && s < P; s++) {
        j->tasks[CPD_OP_SOURCE][s].out[0] = &j->tasks[CPD_OP_PARSE][s].in.ch[0];
        j->tasks[CPD_OP_SOURCE][s].n_out = 1;
        for (int a = 0; a < P; a++)
            j->tasks[CPD_OP_PARSE][s].out[a] = &j->tasks[CPD_OP_AGG][a].in.ch[s];
        j->tasks[CPD_OP_PARSE][s].n_out = P;
        j->tasks[CPD_OP_AGG][s].out[0] = &j->tasks[CPD_OP_SINK][s].in.ch[0];
        j->tasks[CPD_OP_AGG][s].n_out = 1;
    }
    return ok;
}

static void start_threads(cpd_job *j)
{
    j->io_started = pthread_create(&j->io_thread, NULL, cpd_job_io_main, j) == 0;
    if (j->io_started)
        pthread_setname_np(j->io_thread, "state-io");
    void *(*mains[CPD_N_OPS])(void *) = {cpd_op_source_main, cpd_op_parse_main,
                                         cpd_op_agg_main, cpd_op_sink_main};
    for (int op = CPD_N_OPS - 1; op >= 0; op--) /* consumers first */
        for (int s = 0; s < j->P; s++) {
            cpd_task *t = &j->tasks[op][s];
            t->started = pthread_create(&t->thread, NULL, mains[op], t) == 0;
            char name[16]; /* what top -H and perf show */
            snprintf(name, sizeof name, "%.9s#%d", cpd_op_names[op], s);
            if (t->started)
                pthread_setname_np(t->thread, name);
            else
                cpd_job_fail(j, "%s: cannot start its thread", name);
        }
}

static void emit_status(cpd_job *j, cpa_job_status status, const char *message)
{
    cpa_event e = cpd_job_ev(CPA_EV_JOB_STATUS, 0, -1, -1);
    e.u.job_status.status = status;
    snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "%s", message);
    cpd_job_emit(j, e);
}

/* --drain: once every source is at its end, a checkpoint covers all of it;
 * done when it is committed. */
static bool drain_done(cpd_job *j, int64_t t_start)
{
    if (atomic_load(&j->sources_done) < j->P)
        return false;
    int64_t fin = atomic_load(&j->final_cp);
    if (!fin && !cpd_ckpt_inflight(j->ckpt))
        cpd_ckpt_trigger(j->ckpt, CMD_WAIT_MS, NULL, NULL);
    if (!fin || cpd_ckpt_latest_committed(j->ckpt) < fin)
        return false;
    double secs = (double)(cpd_mono_ms() - t_start) / 1000.0;
    int64_t recs = 0;
    for (int s = 0; s < j->P; s++)
        recs += atomic_load(&j->tasks[CPD_OP_SOURCE][s].rec_out);
    printf("drained %lld records in %.3f s (%.0f records/s); final checkpoint %lld took "
           "%lld ms for %lld bytes of state\n",
           (long long)recs, secs, secs > 0 ? (double)recs / secs : 0.0, (long long)fin,
           (long long)atomic_load(&j->last_cp_ms), (long long)atomic_load(&j->last_cp_bytes));
    fflush(stdout);
    return true;
}

/* Restores, runs until stopped or failed. 0: stopped by the user;
 * 1: failed (restart); 2: cannot run at all; 3: drained. */
static int run_attempt(cpd_job *j, int64_t from_checkpoint, int64_t deadline_ms)
{
    atomic_store(&j->stopping, 0);
    atomic_store(&j->failed, 0);
    atomic_store(&j->aborted, 0);
    atomic_store(&j->sources_done, 0);
    atomic_store(&j->final_cp, 0);
    j->fail_reason[0] = '\0';
    memset(j->start_offsets, 0, sizeof j->start_offsets);
    for (int s = 0; s < CPD_MAXP; s++)
        atomic_store(&j->pending_barrier[s], 0);
    int64_t restored = 0;
    int rc = restore(j, from_checkpoint, &restored);
    if (!rc && restored >= atomic_load(&j->next_id))
        atomic_store(&j->next_id, restored + 1); /* ids continue after the restored one */
    if (rc || !wire(j) || !cpd_ckpt_begin(j->ckpt, CPD_N_OPS * j->P, atomic_load(&j->next_id))) {
        if (!rc)
            cpd_job_say("out of memory for the channels or the coordinator");
        stop_attempt(j);
        return rc ? rc : 2;
    }
    cpa_event e = cpd_job_ev(CPA_EV_RESTORED, restored, -1, -1);
    e.u.restored.attempt = j->attempt;
    cpd_job_emit(j, e);
    if (restored)
        cpd_job_say("attempt %d: restored from checkpoint %lld", j->attempt, (long long)restored);
    else
        cpd_job_say("attempt %d: starting from scratch", j->attempt);
    start_threads(j);
    atomic_store(&j->running, 1);
    char msg[32];
    snprintf(msg, sizeof msg, "attempt %d", j->attempt);
    emit_status(j, CPA_JOB_RUNNING, msg);
    int64_t t_start = cpd_mono_ms();
    while (!quit && !atomic_load(&j->failed) && cpd_mono_ms() < deadline_ms) {
        cpd_sleep_ms(j->drain ? 5 : 50);
        if (j->drain && drain_done(j, t_start)) {
            stop_attempt(j);
            return 3;
        }
    }
    bool failed = atomic_load(&j->failed);
    if (failed) {
        cpd_job_say("failure: %s", j->fail_reason);
        emit_status(j, CPA_JOB_FAILING, j->fail_reason);
    }
    stop_attempt(j);
    return failed ? 1 : 0;
}

/* Attempts until stopped, drained, or out of restarts. The exit status. */
static int attempts(cpd_job *j, int64_t from, int64_t deadline)
{
    for (;;) {
        int r = run_attempt(j, j->attempt == 0 ? from : 0, deadline);
        if (r == 0 || r == 3 || quit || cpd_mono_ms() >= deadline)
            return 0;
        if (r == 2)
            return 2;
        if (j->attempt >= j->cfg.restart_attempts) {
            cpd_job_say("giving up after %d restarts", j->attempt);
            emit_status(j, CPA_JOB_FAILED, j->fail_reason);
            return 1;
        }
        j->attempt++;
        char msg[64];
        snprintf(msg, sizeof msg, "restart %d in %lld ms", j->attempt,
                 (long long)j->cfg.restart_delay_ms);
        emit_status(j, CPA_JOB_RESTARTING, msg);
        for (int64_t w = 0; w < j->cfg.restart_delay_ms && !quit; w += 50)
            cpd_sleep_ms(50);
        if (quit)
            return 0;
    }
}

/* ------------------------------------------------------------------ cpdemo run */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cpdemo run --config FILE [--from-checkpoint N] [--seconds S] [--drain]\n"
            "                  [--allow-unknown-keys] [--supervise [--max-restarts N]]\n"
            "Runs the job: Kafka source -> parse -> keyBy(account) -> aggregate -> sink,\n"
            "checkpointing as configured (see demo-job/README.md for every key), streaming\n"
            "its checkpoints to cptop. Restores from the latest completed checkpoint (or N).\n"
            "Runs until Ctrl-C / SIGTERM, or for S seconds. --drain: reads what the topic holds\n"
            "now, takes a final checkpoint (committing everything), prints the rate and exits.\n"
            "agent.listen \"off\" runs without the agent. An unknown key in FILE is an error\n"
            "naming the closest known one; --allow-unknown-keys makes it a warning (as Flink).\n"
            "Nothing is created (storage, sink, sockets) before the configuration is valid.\n"
            "Exit: 0 stopped, 1 failed, 2 usage or configuration.\n"
            "--supervise: runs the job as a child process and starts it again (after 1 s)\n"
            "whenever the process dies, e.g. of kill -9 or cptop's \"crash\" failure; it\n"
            "restores from the latest completed checkpoint. --max-restarts N limits that\n"
            "(default: no limit). SIGINT/SIGTERM stop the job and the supervisor.\n");
}

typedef struct run_args {
    const char *config;
    int64_t from, seconds;
    bool drain, allow_unknown;
} run_args;

/* 0 to run, else the exit status (usage printed). */
static int parse_args(int argc, char **argv, run_args *a)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            a->config = argv[++i];
        } else if (!strcmp(argv[i], "--from-checkpoint") && i + 1 < argc) {
            a->from = atoll(argv[++i]);
            if (a->from <= 0) {
                fprintf(stderr, "cpdemo run: --from-checkpoint '%s' is not a checkpoint id\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--drain")) {
            a->drain = true;
        } else if (!strcmp(argv[i], "--allow-unknown-keys")) {
            a->allow_unknown = true;
        } else if (!strcmp(argv[i], "--max-restarts") && i + 1 < argc) {
            fprintf(stderr, "cpdemo run: --max-restarts goes with --supervise\n");
            return 2;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            a->seconds = atoll(argv[++i]);
            if (a->seconds <= 0) {
                fprintf(stderr, "cpdemo run: --seconds '%s' must be positive\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "cpdemo run: unknown argument '%s' (see cpdemo run --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!a->config) {
        fprintf(stderr, "cpdemo run: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* --supervise [--max-restarts N]: 0 when not asked for, else its status. */
static int supervise(int argc, char **argv, bool *asked)
{
    int max_restarts = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--supervise")) {
            *asked = true;
        } else if (!strcmp(argv[i], "--max-restarts") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "cpdemo run: --max-restarts '%s' must be 0..1000000\n", argv[i]);
                return 2;
            }
            max_restarts = (int)v;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            break;
        }
    }
    return *asked ? cpd_supervise(argc, argv, max_restarts, 1000) : 0;
}

static bool read_bootstrap(cpd_job *j, char *err, size_t errsz)
{
    if (j->cfg.bootstrap[0]) {
        snprintf(j->bootstrap, sizeof j->bootstrap, "%s", j->cfg.bootstrap);
        return true;
    }
    if (!j->cfg.bootstrap_file[0]) {
        snprintf(err, errsz, "no Kafka: set source.kafka.bootstrap-servers or "
                             "source.kafka.bootstrap-file");
        return false;
    }
    char why[256];
    if (!cpd_read_first_line(j->cfg.bootstrap_file, j->bootstrap, sizeof j->bootstrap, why,
                             sizeof why)) {
        snprintf(err, errsz, "source.kafka.bootstrap-file %s: %s (is `cpdemo kafka` running?)",
                 j->cfg.bootstrap_file, why);
        return false;
    }
    return true;
}

/* Validation first, then what creates anything (storage, sockets, the
 * sink): a bad configuration leaves nothing behind. false: exit 2. */
static bool setup(cpd_job *j, const run_args *a)
{
    char errs[4096], warns[2048], err[600];
    cpd_config_defaults(&j->cfg);
    if (cpd_config_load(a->config, &j->cfg, errs, sizeof errs, warns, sizeof warns,
                        a->allow_unknown ? CPD_CONFIG_ALLOW_UNKNOWN : 0)) {
        fprintf(stderr, "cpdemo run: bad configuration:\n%s", errs);
        return false;
    }
    if (warns[0])
        fprintf(stderr, "cpdemo run: %s", warns);
    j->P = j->cfg.parallelism;
    atomic_store(&j->unaligned, j->cfg.unaligned);
    atomic_store(&j->aligned_timeout_ms, j->cfg.aligned_timeout_ms);
    j->drain = a->drain;
    j->settings = (cpd_ckpt_settings){j->cfg.interval_ms, j->cfg.timeout_ms,
                                      j->cfg.tolerable_failures};
    if (j->cfg.agent_job_id[0]) {
        snprintf(j->job_id, sizeof j->job_id, "%s", j->cfg.agent_job_id);
    } else {
        size_t k = 0;
        for (const char *p = j->cfg.name; *p && k + 1 < sizeof j->job_id; p++)
            j->job_id[k++] = (isalnum((unsigned char)*p) || *p == '-' || *p == '_') ? *p : '-';
        j->job_id[k] = '\0';
    }
    if (!make_agent(j))
        return false;
    if (!read_bootstrap(j, err, sizeof err) ||
        (j->n_parts = cpd_op_source_partitions(j, err, sizeof err)) < 0) {
        cpd_job_say("%s", err);
        return false;
    }
    cpd_storage_s3_opts s3 = {.endpoint = j->cfg.s3_endpoint, .path_style = j->cfg.s3_path_style,
                              .access_key = j->cfg.s3_access_key,
                              .secret_key = j->cfg.s3_secret_key}; /* unset: from the env */
    j->st = cpd_storage_open_ex(j->cfg.storage, j->job_id, &s3, err, sizeof err);
    if (!j->st) {
        cpd_job_say("execution.checkpointing.storage: %s", err);
        return false;
    }
    return true;
}

/* Starts the checkpoint service, then the agent (whose commands use it).
 * false: exit 2. */
static bool start(cpd_job *j)
{
    char err[600];
    cpd_coord_cfg cc = {j->cfg.interval_ms, j->cfg.timeout_ms, j->cfg.min_pause_ms,
                        j->cfg.max_concurrent, j->cfg.tolerable_failures, 1};
    cpd_ckpt_hooks hooks = cpd_job_ckpt_hooks(j);
    j->ckpt = cpd_ckpt_new(&cc, &hooks, err, sizeof err);
    if (!j->ckpt) {
        cpd_job_say("%s", err);
        return false;
    }
    cpa_err ae = j->agent ? cpa_start(j->agent) : CPA_OK;
    if (ae) {
        cpd_job_say("agent: %s", cpa_strerror(ae));
        return false;
    }
    return true;
}

static void job_free(cpd_job *j)
{
    cpa_stop(j->agent); /* no command reaches the coordinator from here on */
    cpd_ckpt_destroy(j->ckpt);
    cpa_destroy(j->agent);
    cpd_storage_close(j->st);
    pthread_mutex_destroy(&j->fail_mu);
    pthread_mutex_destroy(&j->iomu);
    pthread_cond_destroy(&j->iocond);
    free(j);
}

int cpd_cmd_run(int argc, char **argv)
{
    bool supervised = false;
    int rc = supervise(argc, argv, &supervised);
    if (supervised || rc)
        return rc;
    run_args a = {0};
    rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    cpd_job *j = calloc(1, sizeof *j);
    if (!j)
        return 1;
    j->process_start_ms = cpd_mono_ms();
    atomic_store(&j->next_id, 1);
    pthread_mutex_init(&j->fail_mu, NULL);
    pthread_mutex_init(&j->iomu, NULL);
    pthread_cond_init(&j->iocond, NULL);
    if (!setup(j, &a) || !start(j)) {
        job_free(j);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char iv[32];
    cpd_format_duration(j->cfg.interval_ms, iv, sizeof iv);
    cpd_job_say("job %s: %d partitions of \"%s\" at %s, parallelism %d, %s, checkpoints every %s "
                "to %s", j->job_id, j->n_parts, j->cfg.topic, j->bootstrap, j->P,
                j->cfg.mode == CPD_EXACTLY_ONCE ? "EXACTLY_ONCE" : "AT_LEAST_ONCE", iv,
                cpd_storage_location(j->st));
    int64_t deadline = a.seconds ? cpd_mono_ms() + a.seconds * 1000 : INT64_MAX;
    rc = attempts(j, a.from, deadline);
    emit_status(j, rc == 1 ? CPA_JOB_FAILED : CPA_JOB_FINISHED, "");
    job_free(j);
    return rc;
}
