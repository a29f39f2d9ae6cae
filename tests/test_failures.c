/* test_failures.c — the job's failure catalogue: the README shows exactly
 * the table, commands are checked against it, each kind does what it says. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpd_failures.h"
#include "cpd_job.h"
#include "cpt_test.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    fclose(f);
    return buf;
}

/* The README's section between the markers is `cpdemo failures --markdown`
 * exactly: regenerate it with that command when the table changes. */
CPT_TEST(the_readme_table_is_the_catalogue)
{
    char *readme = slurp("demo-job/README.md");
    CPT_ASSERTF(readme, "demo-job/README.md: run the tests from the repository's top");
    const char *begin = strstr(readme, "<!-- failures:begin");
    const char *end = strstr(readme, "<!-- failures:end -->");
    CPT_ASSERTF(begin && end && end > begin, "the README has no failures:begin/end markers");
    begin = strchr(begin, '\n') + 1;
    char *gen = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&gen, &len);
    cpd_failures_markdown(m);
    fclose(m);
    size_t have = (size_t)(end - begin);
    CPT_ASSERTF(have == len && !memcmp(begin, gen, len),
                "demo-job/README.md's failure table differs from `cpdemo failures --markdown`:"
                "\n--- README\n%.*s--- table\n%s", (int)have, begin, gen);
    /* and it names every kind, its target and its parameters with their ranges */
    int n;
    const cpd_failure_kind *k = cpd_failures(&n);
    for (int i = 0; i < n; i++) {
        char row[128];
        snprintf(row, sizeof row, "| `%s` | %s |", k[i].desc.kind,
                 k[i].desc.target == CPA_TARGET_SUBTASK ? "`OP SUBTASK`" : "the job");
        CPT_ASSERTF(strstr(gen, row), "no row %s", row);
        for (int p = 0; p < k[i].desc.n_params; p++) {
            char range[96];
            snprintf(range, sizeof range, "`%s=` %lld–%lld", k[i].desc.params[p].name,
                     (long long)k[i].desc.params[p].min, (long long)k[i].desc.params[p].max);
            CPT_ASSERTF(strstr(gen, range), "no %s", range);
        }
    }
    free(gen);
    free(readme);
}

CPT_TEST(the_catalogue_has_the_ten_kinds)
{
    const char *names[] = {"kill",        "stall",       "decline", "fail-storage",
                           "slow-storage", "fail-commit", "crash",   "broker-down",
                           "kafka-latency", "throttle"};
    int n;
    const cpd_failure_kind *k = cpd_failures(&n);
    CPT_EQ_INT(n, 10);
    for (int i = 0; i < n; i++) {
        CPT_EQ_STR(k[i].desc.kind, names[i]);
        CPT_ASSERT(cpd_failures_find(names[i]) == &k[i]);
        CPT_ASSERT(k[i].apply && k[i].desc.label && k[i].recovery);
        for (int p = 0; p < k[i].desc.n_params; p++) {
            const cpa_param_desc *pd = &k[i].desc.params[p];
            CPT_ASSERT(pd->min <= pd->max && pd->help && pd->unit);
        }
    }
    CPT_ASSERT(!cpd_failures_find("explode"));
    CPT_EQ_INT(cpd_failures_find("kill")->desc.target, CPA_TARGET_SUBTASK);
    CPT_EQ_INT(cpd_failures_find("crash")->desc.target, CPA_TARGET_JOB);
}

static cpa_command cmd(const char *kind, int op, int sub)
{
    cpa_command c;
    memset(&c, 0, sizeof c);
    c.type = CPA_CMD_INJECT_FAILURE;
    snprintf(c.kind, sizeof c.kind, "%s", kind);
    c.op = op;
    c.subtask = sub;
    return c;
}

static void param(cpa_command *c, const char *k, const char *v)
{
    snprintf(c->keys[c->n_params], sizeof c->keys[0], "%s", k);
    snprintf(c->values[c->n_params], sizeof c->values[0], "%s", v);
    c->n_params++;
}

CPT_TEST(commands_are_checked_against_the_table)
{
    int64_t v[CPA_FAILURE_MAX_PARAMS];
    char msg[CPA_TEXT_MAX];
    const cpd_failure_kind *stall = cpd_failures_find("stall");
    cpa_command c = cmd("stall", -1, -1);
    CPT_ASSERT(!cpd_failures_check(stall, &c, 4, 2, 10000, v, msg, sizeof msg));
    CPT_ASSERTF(strstr(msg, "operators 0..3, subtasks 0..1"), "%s", msg);
    c = cmd("stall", 3, 2);
    CPT_ASSERT(!cpd_failures_check(stall, &c, 4, 2, 10000, v, msg, sizeof msg));
    /* absent: the default, which follows the timeout (the checkpoint expires) */
    c = cmd("stall", 3, 1);
    CPT_ASSERT(cpd_failures_check(stall, &c, 4, 2, 10000, v, msg, sizeof msg));
    CPT_EQ_INT(v[0], 12000);
    CPT_ASSERT(cpd_failures_check(stall, &c, 4, 2, 7200000, v, msg, sizeof msg));
    CPT_EQ_INT(v[0], 3600000);
    cpa_failure_desc d[16];
    CPT_EQ_INT(cpd_failures_descs(30000, d, 16), 10);
    CPT_EQ_INT(d[1].params[0].def, 32000);
    /* the unit may follow the value */
    const char *good[] = {"700", "700ms", "700 ms"};
    for (int i = 0; i < 3; i++) {
        c = cmd("stall", 0, 0);
        param(&c, "ms", good[i]);
        CPT_ASSERTF(cpd_failures_check(stall, &c, 4, 2, 10000, v, msg, sizeof msg), "%s: %s",
                    good[i], msg);
        CPT_EQ_INT(v[0], 700);
    }
    const char *bad[] = {"", "soon", "5s", "700 ms ms", "1.5", "0", "3600001", " 700",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = cmd("stall", 0, 0);
        param(&c, "ms", bad[i]);
        CPT_ASSERTF(!cpd_failures_check(stall, &c, 4, 2, 10000, v, msg, sizeof msg), "'%s' taken",
                    bad[i]);
        CPT_ASSERTF(strstr(msg, "1..3600000 ms"), "%s", msg); /* names the range */
    }
    c = cmd("stall", 0, 0);
    param(&c, "secs", "5");
    CPT_ASSERT(!cpd_failures_check(stall, &c, 4, 2, 10000, v, msg, sizeof msg));
    CPT_ASSERTF(strstr(msg, "unknown parameter \"secs\" (it takes ms)"), "%s", msg);
    c = cmd("crash", -1, -1);
    param(&c, "ms", "5");
    CPT_ASSERT(!cpd_failures_check(cpd_failures_find("crash"), &c, 4, 2, 10000, v, msg, sizeof msg));
    CPT_ASSERTF(strstr(msg, "no parameters"), "%s", msg);
    /* a job-wide kind ignores a target */
    c = cmd("broker-down", 2, 1);
    CPT_ASSERT(cpd_failures_check(cpd_failures_find("broker-down"), &c, 4, 2, 10000, v, msg,
                                  sizeof msg));
    CPT_EQ_INT(v[0], 5);
    param(&c, "secs", "0");
    CPT_ASSERT(!cpd_failures_check(cpd_failures_find("broker-down"), &c, 4, 2, 10000, v, msg,
                                   sizeof msg));
    CPT_ASSERTF(strstr(msg, "secs=0: an integer 1..3600 s"), "%s", msg);
}

/* A job with two subtasks per operator and file storage, no agent. */
static cpd_job *job(void)
{
    cpd_job *j = calloc(1, sizeof *j);
    CPT_ASSERT(j);
    j->P = 2;
    pthread_mutex_init(&j->fail_mu, NULL);
    char err[256];
    j->st = cpd_storage_open(cpt_tmpdir(), "t", err, sizeof err);
    CPT_ASSERTF(j->st, "%s", err);
    atomic_store(&j->running, 1);
    return j;
}

static cpa_err inject(cpd_job *j, cpa_command c, char *msg)
{
    return cpd_failures_inject(j, &c, 10000, msg, CPA_TEXT_MAX);
}

CPT_TEST(each_kind_does_what_it_says)
{
    cpd_job *j = job();
    char msg[CPA_TEXT_MAX];
    CPT_EQ_INT(inject(j, cmd("kill", 2, 1), msg), CPA_OK);
    CPT_EQ_STR(msg, "killing aggregate#1");
    CPT_EQ_INT(atomic_load(&j->tasks[2][1].kill), 1);
    CPT_EQ_INT(atomic_load(&j->tasks[2][0].kill), 0);
    cpa_command c = cmd("stall", 1, 0);
    param(&c, "ms", "700");
    CPT_EQ_INT(inject(j, c, msg), CPA_OK);
    CPT_EQ_INT(atomic_load(&j->tasks[1][0].stall_ms), 700);
    CPT_EQ_INT(inject(j, cmd("stall", 1, 1), msg), CPA_OK); /* the default */
    CPT_EQ_INT(atomic_load(&j->tasks[1][1].stall_ms), 12000);
    CPT_EQ_INT(inject(j, cmd("decline", 3, 0), msg), CPA_OK);
    CPT_EQ_INT(atomic_load(&j->tasks[3][0].decline_next), 1);
    c = cmd("fail-storage", -1, -1);
    param(&c, "count", "3");
    CPT_EQ_INT(inject(j, c, msg), CPA_OK);
    CPT_EQ_INT(cpd_storage_failures_pending(j->st), 3);
    CPT_EQ_INT(inject(j, cmd("fail-commit", -1, -1), msg), CPA_OK);
    CPT_EQ_INT(inject(j, cmd("fail-commit", -1, -1), msg), CPA_OK);
    CPT_EQ_INT(atomic_load(&j->fail_commits), 2);
    c = cmd("slow-storage", -1, -1);
    param(&c, "ms", "0");
    CPT_EQ_INT(inject(j, c, msg), CPA_OK);
    CPT_EQ_STR(msg, "storage writes at full speed again");
    /* refused: no embedded Kafka to take down, an unknown kind, a bad target */
    CPT_EQ_INT(inject(j, cmd("broker-down", -1, -1), msg), CPA_ERR_HANDLER);
    CPT_ASSERTF(strstr(msg, "needs the embedded Kafka"), "%s", msg);
    CPT_EQ_INT(inject(j, cmd("explode", -1, -1), msg), CPA_ERR_HANDLER);
    CPT_ASSERTF(strstr(msg, "unknown failure \"explode\" (kill, stall, decline, fail-storage, "
                            "slow-storage, fail-commit, crash, broker-down, kafka-latency, "
                            "throttle)"),
                "%s", msg);
    /* throttle: per record, at one subtask, 0 ends it; kept within its range */
    c = cmd("throttle", 3, 1);
    param(&c, "per-record-us", "2500");
    CPT_EQ_INT(inject(j, c, msg), CPA_OK);
    CPT_EQ_STR(msg, "sink#1 takes 2500 us more per record");
    CPT_EQ_INT(atomic_load(&j->tasks[3][1].throttle_us), 2500);
    CPT_EQ_INT(atomic_load(&j->tasks[3][0].throttle_us), 0);
    c = cmd("throttle", 3, 1);
    param(&c, "per-record-us", "0us");
    CPT_EQ_INT(inject(j, c, msg), CPA_OK);
    CPT_EQ_STR(msg, "sink#1 at full speed again");
    CPT_EQ_INT(atomic_load(&j->tasks[3][1].throttle_us), 0);
    c = cmd("throttle", 3, 1);
    param(&c, "per-record-us", "1000001");
    CPT_EQ_INT(inject(j, c, msg), CPA_ERR_HANDLER);
    CPT_ASSERTF(strstr(msg, "per-record-us=1000001: an integer 0..1000000 us"), "%s", msg);
    CPT_EQ_INT(inject(j, cmd("throttle", -1, -1), msg), CPA_ERR_HANDLER);
    CPT_ASSERTF(strstr(msg, "throttle needs OP SUBTASK"), "%s", msg);
    CPT_EQ_INT(inject(j, cmd("kill", 4, 0), msg), CPA_ERR_HANDLER);
    cpd_storage_close(j->st);
    free(j);
}

CPT_TEST(crash_kills_the_process_after_its_reply)
{
    pid_t pid = fork();
    CPT_ASSERT(pid >= 0);
    if (pid == 0) {
        cpd_job *j = job();
        char msg[CPA_TEXT_MAX];
        if (inject(j, cmd("crash", -1, -1), msg) != CPA_OK || !strstr(msg, "crashes now"))
            _exit(3);
        for (;;)
            pause();
    }
    int status = 0;
    CPT_EQ_INT(waitpid(pid, &status, 0), pid);
    CPT_ASSERTF(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
}
