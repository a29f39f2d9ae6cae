/* cpd_failures.c — the failure catalogue and what each kind does (see
 * cpd_failures.h). */
#include "cpd_failures.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpd_clock.h"
#include "cpd_job.h"
#include "cpd_kafka.h"

#define STALL_MAX_MS 3600000

/* ------------------------------------------------------------------ what each kind does */

static cpd_task *task_of(cpd_job *j, int op, int sub) { return &j->tasks[op][sub]; }

static cpa_err do_kill(cpd_job *j, int op, int sub, const int64_t *v, char *msg, size_t size)
{
    (void)v;
    atomic_store(&task_of(j, op, sub)->kill, 1);
    snprintf(msg, size, "killing %s#%d", cpd_op_names[op], sub);
    return CPA_OK;
}

static cpa_err do_stall(cpd_job *j, int op, int sub, const int64_t *v, char *msg, size_t size)
{
    atomic_store(&task_of(j, op, sub)->stall_ms, (int)v[0]);
    snprintf(msg, size, "the next barrier stalls %" PRId64 " ms at %s#%d", v[0], cpd_op_names[op],
             sub);
    return CPA_OK;
}

static cpa_err do_decline(cpd_job *j, int op, int sub, const int64_t *v, char *msg, size_t size)
{
    (void)v;
    atomic_store(&task_of(j, op, sub)->decline_next, 1);
    snprintf(msg, size, "%s#%d declines the next checkpoint", cpd_op_names[op], sub);
    return CPA_OK;
}

static cpa_err do_fail_storage(cpd_job *j, int op, int sub, const int64_t *v, char *msg,
                               size_t size)
{
    (void)op, (void)sub;
    cpd_storage_fail_next(j->st, (int)v[0]);
    snprintf(msg, size, "the next %" PRId64 " storage writes fail", v[0]);
    return CPA_OK;
}

static cpa_err do_slow_storage(cpd_job *j, int op, int sub, const int64_t *v, char *msg,
                               size_t size)
{
    (void)op, (void)sub;
    cpd_storage_set_delay_ms(j->st, (int)v[0]);
    if (v[0])
        snprintf(msg, size, "storage writes take %" PRId64 " ms more", v[0]);
    else
        snprintf(msg, size, "storage writes at full speed again");
    return CPA_OK;
}

static cpa_err do_fail_commit(cpd_job *j, int op, int sub, const int64_t *v, char *msg,
                              size_t size)
{
    (void)op, (void)sub, (void)v;
    atomic_fetch_add(&j->fail_commits, 1); /* the completion worker arms its sink with it */
    snprintf(msg, size, "the next sink commit fails");
    return CPA_OK;
}

/* The whole process dies as under kill -9, a moment after the agent has
 * sent the reply (so the dashboard hears it was accepted). */
static void *crash_soon(void *arg)
{
    (void)arg;
    cpd_sleep_ms(200);
    raise(SIGKILL);
    return NULL;
}

static cpa_err do_crash(cpd_job *j, int op, int sub, const int64_t *v, char *msg, size_t size)
{
    (void)j, (void)op, (void)sub, (void)v;
    pthread_t th;
    if (pthread_create(&th, NULL, crash_soon, NULL) != 0) {
        snprintf(msg, size, "cannot start the crash thread");
        return CPA_ERR_HANDLER;
    }
    pthread_detach(th);
    snprintf(msg, size, "the job process (pid %d) crashes now%s", (int)getpid(),
             getenv("CPDEMO_SUPERVISED") ? "; its supervisor restarts it"
                                         : " (not supervised: nothing will restart it)");
    return CPA_OK;
}

static cpa_err do_throttle(cpd_job *j, int op, int sub, const int64_t *v, char *msg,
                           size_t size)
{
    atomic_store(&task_of(j, op, sub)->throttle_us, (int)v[0]);
    if (v[0])
        snprintf(msg, size, "%s#%d takes %" PRId64 " us more per record", cpd_op_names[op], sub,
                 v[0]);
    else
        snprintf(msg, size, "%s#%d at full speed again", cpd_op_names[op], sub);
    return CPA_OK;
}

/* broker-down and kafka-latency talk to `cpdemo kafka` over its control
 * socket, next to its bootstrap file. */
static cpa_err kafka_control(cpd_job *j, const char *kind, const char *line, char *msg,
                             size_t size)
{
    char path[600];
    if (!j->cfg.bootstrap_file[0] || j->cfg.bootstrap[0] ||
        snprintf(path, sizeof path, "%s.ctl", j->cfg.bootstrap_file) >= (int)sizeof path) {
        snprintf(msg, size, "%s needs the embedded Kafka (source.kafka.bootstrap-file): a real "
                            "broker list cannot be taken down from here", kind);
        return CPA_ERR_HANDLER;
    }
    return cpd_kafka_control(path, line, msg, size) == 0 ? CPA_OK : CPA_ERR_HANDLER;
}

static cpa_err do_broker_down(cpd_job *j, int op, int sub, const int64_t *v, char *msg,
                              size_t size)
{
    (void)op, (void)sub;
    char line[48];
    snprintf(line, sizeof line, "down %" PRId64, v[0]);
    return kafka_control(j, "broker-down", line, msg, size);
}

static cpa_err do_kafka_latency(cpd_job *j, int op, int sub, const int64_t *v, char *msg,
                                size_t size)
{
    (void)op, (void)sub;
    char line[48];
    snprintf(line, sizeof line, "rtt %" PRId64, v[0]);
    return kafka_control(j, "kafka-latency", line, msg, size);
}

/* ------------------------------------------------------------------ the table */

#define SUB CPA_TARGET_SUBTASK
#define JOB CPA_TARGET_JOB

/* stall's default is not here: it follows the timeout (stall_default) */
static const cpd_failure_kind kinds[] = {
    {{"kill", "kill the subtask's thread (a task failure)", SUB, 0, {{0}}},
     "the job restarts from the latest completed checkpoint", do_kill},
    {{"stall", "the next barrier waits at the subtask, after it arrived", SUB, 1,
      {{"ms", "ms", 1, STALL_MAX_MS, 0, "how long the barrier waits"}}},
     "the checkpoint completes late, or expires (counted) and the next one runs", do_stall},
    {{"decline", "the subtask declines the next checkpoint", SUB, 0, {{0}}},
     "the checkpoint fails (CHECKPOINT_DECLINED); its rows go with the next one", do_decline},
    {{"fail-storage", "the next storage writes fail", JOB, 1,
      {{"count", "count", 1, 1000, 1, "how many writes fail"}}},
     "those checkpoints fail (IO_EXCEPTION), later ones succeed", do_fail_storage},
    {{"slow-storage", "every storage write takes longer", JOB, 1,
      {{"ms", "ms", 0, 60000, 500, "added to each write (0: back to normal)"}}},
     "uploads (the async phase) take longer", do_slow_storage},
    {{"fail-commit", "the next sink commit fails", JOB, 0, {{0}}},
     "a task failure: restart, the commit is redone from the staged rows", do_fail_commit},
    {{"crash", "the whole process dies as under kill -9", JOB, 0, {{0}}},
     "`cpdemo run --supervise` starts it again; it restores", do_crash},
    {{"broker-down", "the embedded Kafka's brokers go down", JOB, 1,
      {{"secs", "s", 1, 3600, 5, "how long they stay down (they come back by themselves)"}}},
     "sources reconnect and catch up", do_broker_down},
    {{"kafka-latency", "latency added to every broker round trip", JOB, 1,
      {{"ms", "ms", 0, 60000, 500, "added per round trip (0: none)"}}},
     "reads slow down; checkpoints' start delay grows", do_kafka_latency},
    {{"throttle", "every record takes the subtask longer: its inputs back up", SUB, 1,
      {{"per-record-us", "us", 0, 1000000, 1000, "added per record (0: full speed again)"}}},
     "backpressure upstream: aligned barriers queue behind the records (checkpoints slow down "
     "or expire), unaligned ones overtake them", do_throttle},
};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))

const cpd_failure_kind *cpd_failures(int *n)
{
    *n = N_KINDS;
    return kinds;
}

const cpd_failure_kind *cpd_failures_find(const char *name)
{
    for (int i = 0; i < N_KINDS; i++)
        if (!strcmp(kinds[i].desc.kind, name))
            return &kinds[i];
    return NULL;
}

/* stall's default: long enough that the checkpoint expires */
static int64_t stall_default(int64_t timeout_ms)
{
    int64_t d = timeout_ms + 2000;
    return d < 1 ? 1 : d > STALL_MAX_MS ? STALL_MAX_MS : d;
}

static cpa_failure_desc desc_for(const cpd_failure_kind *k, int64_t timeout_ms)
{
    cpa_failure_desc d = k->desc;
    if (k->apply == do_stall)
        d.params[0].def = stall_default(timeout_ms);
    return d;
}

int cpd_failures_descs(int64_t timeout_ms, cpa_failure_desc *out, int max)
{
    int n = 0;
    for (int i = 0; i < N_KINDS && n < max; i++)
        out[n++] = desc_for(&kinds[i], timeout_ms);
    return n;
}

cpa_err cpd_failures_publish(cpa_agent *a, int64_t timeout_ms)
{
    cpa_failure_desc d[N_KINDS];
    int n = cpd_failures_descs(timeout_ms, d, N_KINDS);
    return a ? cpa_set_failure_kinds(a, d, n) : CPA_OK;
}

/* ------------------------------------------------------------------ checking a command */

/* An integer, optionally followed by the unit: "500", "500ms", "500 ms". */
static bool parse_value(const char *s, const char *unit, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || isspace((unsigned char)*s))
        return false;
    while (*end == ' ')
        end++;
    if (*end && (!*unit || strcmp(end, unit)))
        return false;
    *out = v;
    return true;
}

static int param_index(const cpa_failure_desc *d, const char *name)
{
    for (int i = 0; i < d->n_params; i++)
        if (!strcmp(d->params[i].name, name))
            return i;
    return -1;
}

static void names_of(const cpa_failure_desc *d, char *out, size_t size)
{
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < d->n_params && k < size; i++)
        k += (size_t)snprintf(out + k, size - k, "%s%s", i ? ", " : "", d->params[i].name);
    if (!d->n_params)
        snprintf(out, size, "no parameters");
}

bool cpd_failures_check(const cpd_failure_kind *k, const cpa_command *cmd, int n_ops,
                        int parallelism, int64_t timeout_ms, int64_t *vals, char *msg,
                        size_t size)
{
    cpa_failure_desc d = desc_for(k, timeout_ms);
    if (d.target == CPA_TARGET_SUBTASK && (cmd->op < 0 || cmd->op >= n_ops || cmd->subtask < 0 ||
                                           cmd->subtask >= parallelism)) {
        snprintf(msg, size, "%s needs OP SUBTASK: target %d/%d: operators 0..%d, subtasks 0..%d",
                 d.kind, cmd->op, cmd->subtask, n_ops - 1, parallelism - 1);
        return false;
    }
    for (int i = 0; i < d.n_params; i++)
        vals[i] = d.params[i].def;
    for (int i = 0; i < cmd->n_params; i++) {
        int p = param_index(&d, cmd->keys[i]);
        if (p < 0) {
            char takes[128];
            names_of(&d, takes, sizeof takes);
            snprintf(msg, size, "%s: unknown parameter \"%s\" (it takes %s)", d.kind,
                     cmd->keys[i], takes);
            return false;
        }
        const cpa_param_desc *pd = &d.params[p];
        if (!parse_value(cmd->values[i], pd->unit, &vals[p]) || vals[p] < pd->min ||
            vals[p] > pd->max) {
            snprintf(msg, size, "%s=%s: an integer %" PRId64 "..%" PRId64 "%s%s (%s)", pd->name,
                     cmd->values[i], pd->min, pd->max, *pd->unit ? " " : "", pd->unit, pd->help);
            return false;
        }
    }
    return true;
}

static void list_kinds(char *out, size_t size)
{
    size_t k = 0;
    for (int i = 0; i < N_KINDS && k < size; i++)
        k += (size_t)snprintf(out + k, size - k, "%s%s", i ? ", " : "", kinds[i].desc.kind);
}

cpa_err cpd_failures_inject(cpd_job *j, const cpa_command *cmd, int64_t timeout_ms, char *msg,
                            size_t size)
{
    const cpd_failure_kind *k = cpd_failures_find(cmd->kind);
    if (!k) {
        char all[256];
        list_kinds(all, sizeof all);
        snprintf(msg, size, "unknown failure \"%s\" (%s)", cmd->kind, all);
        return CPA_ERR_HANDLER;
    }
    int64_t vals[CPA_FAILURE_MAX_PARAMS];
    if (!cpd_failures_check(k, cmd, CPD_N_OPS, j->P, timeout_ms, vals, msg, size))
        return CPA_ERR_HANDLER;
    bool sub = k->desc.target == CPA_TARGET_SUBTASK;
    cpa_err rc = k->apply(j, sub ? cmd->op : -1, sub ? cmd->subtask : -1, vals, msg, size);
    if (rc == CPA_OK) {
        cpa_event e = cpd_job_ev(CPA_EV_FAILURE_INJECTED, 0, sub ? cmd->op : -1,
                                 sub ? cmd->subtask : -1);
        snprintf(e.u.failure.kind, sizeof e.u.failure.kind, "%s", k->desc.kind);
        snprintf(e.u.failure.params, sizeof e.u.failure.params, "%s", msg);
        cpd_job_emit(j, e);
    }
    return rc;
}

/* ------------------------------------------------------------------ the README table */

void cpd_failures_markdown(FILE *f)
{
    fputs("| kind | target | parameters | what happens | recovery |\n"
          "|---|---|---|---|---|\n", f);
    for (int i = 0; i < N_KINDS; i++) {
        const cpd_failure_kind *k = &kinds[i];
        const cpa_failure_desc *d = &k->desc;
        fprintf(f, "| `%s` | %s | ", d->kind,
                d->target == CPA_TARGET_SUBTASK ? "`OP SUBTASK`" : "the job");
        if (!d->n_params)
            fputs("—", f);
        for (int p = 0; p < d->n_params; p++) {
            const cpa_param_desc *pd = &d->params[p];
            bool unit = *pd->unit && strcmp(pd->unit, "count");
            fprintf(f, "%s`%s=` %" PRId64 "–%" PRId64 "%s%s, default ", p ? "; " : "", pd->name,
                    pd->min, pd->max, unit ? " " : "", unit ? pd->unit : "");
            if (k->apply == do_stall)
                fputs("the timeout + 2 s", f);
            else
                fprintf(f, "%" PRId64, pd->def);
            fprintf(f, ": %s", pd->help);
        }
        fprintf(f, " | %s | %s |\n", d->label, k->recovery);
    }
}

int cpd_cmd_failures(int argc, char **argv)
{
    bool markdown = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown")) {
            markdown = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: cpdemo failures [--markdown]\n"
                   "Lists the failures `cptop ctl fail` can inject into `cpdemo run`: kind,\n"
                   "target, parameters (integer ranges, defaults, units). --markdown prints the\n"
                   "table demo-job/README.md holds (a test checks they agree).\n");
            return 0;
        } else {
            fprintf(stderr, "cpdemo failures: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (markdown) {
        cpd_failures_markdown(stdout);
        return 0;
    }
    for (int i = 0; i < N_KINDS; i++) {
        const cpa_failure_desc *d = &kinds[i].desc;
        printf("%-14s %-12s %s\n", d->kind, d->target == CPA_TARGET_SUBTASK ? "OP SUBTASK" : "",
               d->label);
        for (int p = 0; p < d->n_params; p++) {
            const cpa_param_desc *pd = &d->params[p];
            char def[32];
            if (kinds[i].apply == do_stall)
                snprintf(def, sizeof def, "timeout + 2 s");
            else
                snprintf(def, sizeof def, "%" PRId64, pd->def);
            printf("%-14s   %s=%" PRId64 "..%" PRId64 " %s (default %s): %s\n", "", pd->name,
                   pd->min, pd->max, pd->unit, def, pd->help);
        }
    }
    return 0;
}
