/* cptop_ctl.c — `cptop ctl COMMAND`: one command to the job, its reply
 * printed. `ctl fail` is checked first against the job's failure table
 * (fetched with get_state) by the same cpw_failure_check the agent runs,
 * so a mistake is refused with the agent's words before anything is sent. */
#include "cptop.h"
#include "cpw_failure.h"
#include "cpw_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A command as parsed from its words. */
typedef struct ctl_req {
    cpw_cmd *cmd;
    const char *op_word;      /* fail's operator as written (a name is looked up later) */
} ctl_req;

/* The words of a command into r: 0, or 2 after complaining. */
typedef int (*ctl_parse_fn)(int argc, char **argv, ctl_req *r);

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cptop_complain(msg);
    return 2;
}

static int parse_trigger(int argc, char **argv, ctl_req *r)
{
    cpw_cmd *cmd = r->cmd;
    bool full = argc == 2 && !strcmp(argv[1], "--full");
    if (argc != 1 && !full)
        return usage_error("ctl trigger takes nothing more than --full");
    cmd->type = CPW_CMD_TRIGGER;
    if (full)
        cpt_source_cmd_full(cmd);
    return 0;
}

static int parse_savepoint(int argc, char **argv, ctl_req *r)
{
    const char *dir = NULL;
    if (argc == 3 && !strcmp(argv[1], "--dir"))
        dir = argv[2];
    else if (argc != 1)
        return usage_error("ctl savepoint takes nothing more than --dir DIR");
    if (dir && (!dir[0] || strlen(dir) >= CPW_VALUE_MAX))
        return usage_error("savepoint: --dir needs a directory of 1 to %d bytes",
                           CPW_VALUE_MAX - 1);
    r->cmd->type = CPW_CMD_TRIGGER;
    cpt_source_cmd_savepoint(r->cmd, dir);
    return 0;
}

static int parse_abort(int argc, char **argv, ctl_req *r)
{
    cpw_cmd *cmd = r->cmd;
    if (argc != 2)
        return usage_error("ctl abort needs a checkpoint id");
    char *end;
    long long id = strtoll(argv[1], &end, 10);
    if (!argv[1][0] || *end || id <= 0)
        return usage_error("abort: '%s' is not a checkpoint id", argv[1]);
    cmd->type = CPW_CMD_ABORT;
    cmd->cp_id = id;
    return 0;
}

/* An operator: its index, or -1 for a word that is not a number (a name,
 * looked up once the job's topology is known). */
static int parse_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 0 && v < CPW_MAX_PARALLELISM ? (int)v : -1;
}

static int parse_fail(int argc, char **argv, ctl_req *r)
{
    cpw_cmd *cmd = r->cmd;
    if (argc < 2)
        return usage_error("ctl fail needs a KIND (cptop --once lists the job's)");
    cmd->type = CPW_CMD_INJECT_FAILURE;
    if (strlen(argv[1]) >= sizeof cmd->kind)
        return usage_error("fail: '%s' is too long to be a kind", argv[1]);
    snprintf(cmd->kind, sizeof cmd->kind, "%s", argv[1]);
    int i = 2;
    if (argc >= 4 && !strchr(argv[2], '=') && !strchr(argv[3], '=')) {
        r->op_word = argv[2];
        cmd->op = parse_int(argv[2]);
        cmd->subtask = parse_int(argv[3]);
        if (cmd->subtask < 0)
            return usage_error("fail: '%s' is not a subtask number", argv[3]);
        i = 4;
    }
    for (; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i] || cmd->n_params == CPW_CMD_MAX_PARAMS)
            return usage_error("fail: '%s' is not KEY=VALUE", argv[i]);
        snprintf(cmd->keys[cmd->n_params], CPW_NAME_MAX, "%.*s", (int)(eq - argv[i]), argv[i]);
        snprintf(cmd->values[cmd->n_params], CPW_VALUE_MAX, "%s", eq + 1);
        cmd->n_params++;
    }
    return 0;
}

static int parse_set(int argc, char **argv, ctl_req *r)
{
    cpw_cmd *cmd = r->cmd;
    if (argc != 3)
        return usage_error("ctl set needs a KEY and a VALUE");
    cmd->type = CPW_CMD_SET_CONFIG;
    cmd->n_params = 1;
    snprintf(cmd->keys[0], CPW_NAME_MAX, "%s", argv[1]);
    snprintf(cmd->values[0], CPW_VALUE_MAX, "%s", argv[2]);
    return 0;
}

static const struct {
    const char *name;
    ctl_parse_fn parse;
} commands[] = {
    {"trigger", parse_trigger},
    {"savepoint", parse_savepoint},
    {"abort", parse_abort},
    {"fail", parse_fail},
    {"set", parse_set},
};

/* Prints a refusal as the agent's reply would read. */
static int refused(const char *error, const char *message)
{
    char e[32], m[CPW_TEXT_MAX];
    cpw_sanitize(error, e, sizeof e);
    cpw_sanitize(message, m, sizeof m);
    fprintf(stderr, "refused (%s): %s\n", e, m);
    return 1;
}

/* Checks an inject_failure against the job's table before it is sent
 * (and makes it canonical, as the agent would). 0 to send, else the exit
 * status after saying why. */
static int check_failure(const cptop_opts *o, cpt_source *src, ctl_req *q)
{
    cpw_cmd *cmd = q->cmd;
    const char *op_word = q->op_word;
    cpw_state *st;
    char err[600];
    if (cpt_source_snapshot(src, 0, o->timeout_ms, &st, err, sizeof err)) {
        cptop_complain(err);
        return 1;
    }
    const cpw_hello *h = &st->hello;
    int rc = 0;
    if (op_word && cmd->op < 0) { /* an operator by name */
        for (int i = 0; i < h->n_ops; i++)
            if (!strcmp(h->ops[i].name, op_word))
                cmd->op = i;
        if (cmd->op < 0) {
            char w[CPW_NAME_MAX + 64];
            snprintf(w, sizeof w, "fail: the job has no operator '%s'", op_word);
            cptop_complain(w);
            rc = 2;
        }
    }
    char msg[CPW_TEXT_MAX];
    if (!rc && !cpw_failure_check(h, cmd, msg, sizeof msg)) {
        rc = refused("bad_command", msg);
        fprintf(stderr, "cptop: checked against the job's failure table; nothing was sent\n");
    }
    cpw_state_free(st);
    return rc;
}

int cptop_ctl(const cptop_opts *o, int argc, char **argv)
{
    if (argc < 1) {
        cptop_complain("ctl needs a command (trigger, savepoint, abort, fail, set)");
        return 2;
    }
    cpw_cmd cmd = {.op = -1, .subtask = -1};
    ctl_req q = {.cmd = &cmd};
    int rc = -1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[0], commands[i].name))
            rc = commands[i].parse(argc, argv, &q);
    if (rc < 0)
        return usage_error("ctl: unknown command '%s' (see cptop --help)", argv[0]);
    if (rc)
        return rc;
    cpt_source *src;
    if ((rc = cptop_open_source(o, &src)))
        return rc;
    if (cmd.type == CPW_CMD_INJECT_FAILURE && (rc = check_failure(o, src, &q))) {
        cpt_source_destroy(src);
        return rc;
    }
    cpt_src_reply r;
    char err[600];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = cpt_source_request(src, &cmd, o->timeout_ms, &r, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cpt_source_destroy(src);
    /* the request's round trip alone: what the job took to answer, without
     * cptop's own start (tens of ms under a sanitizer) */
    if (o->verbose)
        fprintf(stderr, "cptop: answered in %.1f ms\n",
                (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    if (rc) {
        cptop_complain(err);
        return 1;
    }
    if (r.ok) {
        char m[CPW_TEXT_MAX];
        cpw_sanitize(r.message, m, sizeof m);
        printf("ok: %s\n", m);
        return 0;
    }
    return refused(r.error, r.message);
}
