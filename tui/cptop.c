/*
 * cptop.c — the cptop command: finds running jobs, runs the interactive
 * dashboard (one poll() loop over the keyboard, the job's sockets and a
 * tick), and the non-interactive modes scripts use (--list, --json, --once,
 * ctl).
 *
 * The dashboard's parts: cpt_model (what we know, no curses), cpt_view (a
 * pure render into a cpt_frame), cpt_ui (keys -> state and commands),
 * cpt_link (sockets), cpt_term (the only curses file).
 */
#include "cpt_link.h"
#include "cpt_model.h"
#include "cpt_term.h"
#include "cpt_ui.h"
#include "cpt_view.h"
#include "cpw.h"
#include "cpw_discovery.h"
#include "cpw_sock.h"
#include "cpw_state.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 64

static volatile sig_atomic_t quit;
static void on_signal(int sig) { (void)sig; quit = 1; }

typedef struct opts {
    bool read_only;           /* --read-only */
    bool no_color, ascii;     /* --no-color, --ascii */
    int history, detail, log_lines;
    const char *job;          /* --job ID */
    const char *connect;      /* --connect URL (events URL; commands on PORT+1) */
    const char *secret_file;  /* --secret-file PATH */
    const char *runtime_dir;  /* --runtime-dir DIR */
    int timeout_ms;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: cptop [OPTIONS] [MODE]\n"
        "Live view of a streaming job's checkpoints, from the agent it embeds.\n"
        "Without a mode: the interactive dashboard (press ? in it for every key).\n"
        "\n"
        "Modes:\n"
        "  --list                 running jobs found in the runtime directory\n"
        "  --json                 the live event stream, one JSON object per line\n"
        "  --once                 the current state as text, then exit\n"
        "  ctl trigger            trigger a checkpoint now\n"
        "  ctl abort ID           abort in-flight checkpoint ID\n"
        "  ctl fail KIND [OP SUBTASK] [KEY=VALUE...]\n"
        "                         inject a failure (kinds depend on the job)\n"
        "  ctl set KEY VALUE      change a setting at run time\n"
        "\n"
        "Options:\n"
        "  --job ID               which job (needed when several run)\n"
        "  --connect URL          tcp://HOST:PORT of an agent's events (commands on PORT+1)\n"
        "  --secret-file PATH     shared secret for commands over TCP\n"
        "  --runtime-dir DIR      where agents announce themselves\n"
        "                         (default $XDG_RUNTIME_DIR/cptop, else /tmp/cptop-$UID)\n"
        "  --timeout MS           command reply timeout (default 5000)\n"
        "\n"
        "Dashboard options:\n"
        "  --read-only            watch only: trigger, abort, fail and config are disabled\n"
        "  --history N            finished checkpoints kept (default 1000, max 100000)\n"
        "  --detail N             newest of them keeping per-subtask detail (default 50)\n"
        "  --log-lines N          event log lines kept (default 5000)\n"
        "  --no-color             monochrome (NO_COLOR in the environment does the same)\n"
        "  --ascii                ASCII glyphs only (the default when the locale is not UTF-8)\n"
        "  -h, --help             this text\n"
        "\n"
        "Exit status: 0 ok, 1 the job refused or is unreachable, 2 bad usage.\n");
}

/* ------------------------------------------------------------ job lookup */

typedef cpt_target target;

static int load_secret(const char *path, target *t)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cptop: cannot read secret file %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fread(t->secret, 1, sizeof t->secret, f);
    fclose(f);
    while (n && (t->secret[n - 1] == '\n' || t->secret[n - 1] == '\r' || t->secret[n - 1] == ' '))
        n--;
    t->secret_len = n;
    return 0;
}

/* Reads the discovery files of the chosen runtime directory (named in dir). */
static int discover(const opts *o, char *dir, size_t size, cpw_job_entry *jobs)
{
    if (o->runtime_dir)
        snprintf(dir, size, "%s", o->runtime_dir);
    else if (!cpw_runtime_dir(dir, size))
        fprintf(stderr, "cptop: $XDG_RUNTIME_DIR is too long; use --runtime-dir\n");
    return cpw_discover(dir, jobs, MAX_JOBS);
}

static int find_target(const opts *o, target *t)
{
    memset(t, 0, sizeof *t);
    if (o->connect) {
        const char *colon = strrchr(o->connect, ':');
        int port = colon ? atoi(colon + 1) : 0;
        if (strncmp(o->connect, "tcp://", 6) || port <= 0 || port >= 65535) {
            fprintf(stderr, "cptop: --connect '%s' must be tcp://HOST:PORT\n", o->connect);
            return 2;
        }
        snprintf(t->events, sizeof t->events, "%s", o->connect);
        snprintf(t->commands, sizeof t->commands, "%.*s:%d", (int)(colon - o->connect),
                 o->connect, port + 1);
        snprintf(t->job, sizeof t->job, "%s", o->job ? o->job : "");
        t->tcp = true;
        if (o->secret_file && load_secret(o->secret_file, t))
            return 1;
        return 0;
    }
    char dir[256];
    static cpw_job_entry jobs[MAX_JOBS];
    int n = discover(o, dir, sizeof dir, jobs);
    int alive = 0, pick = -1;
    for (int i = 0; i < n; i++) {
        if (!jobs[i].alive)
            continue;
        if (o->job && strcmp(o->job, jobs[i].job) && strcmp(o->job, jobs[i].name))
            continue;
        alive++;
        if (pick < 0)
            pick = i;
    }
    if (alive == 0) {
        if (o->job)
            fprintf(stderr, "cptop: no running job '%s' in %s (see cptop --list)\n", o->job, dir);
        else
            fprintf(stderr, "cptop: no running job found in %s\n", dir);
        return 1;
    }
    if (alive > 1 && !o->job) {
        fprintf(stderr, "cptop: %d jobs are running; choose one with --job ID:\n", alive);
        for (int i = 0; i < n; i++)
            if (jobs[i].alive)
                fprintf(stderr, "  %s  %s (pid %d)\n", jobs[i].job, jobs[i].name, jobs[i].pid);
        return 2;
    }
    cpw_job_entry *j = &jobs[pick];
    t->discovered = true;
    t->pid = j->pid;
    snprintf(t->name, sizeof t->name, "%s", j->name);
    snprintf(t->job, sizeof t->job, "%s", j->job);
    snprintf(t->events, sizeof t->events, "%s", j->events);
    snprintf(t->commands, sizeof t->commands, "%s", j->commands);
    snprintf(t->instance, sizeof t->instance, "%s", j->instance);
    t->tcp = strncmp(j->commands, "tcp://", 6) == 0;
    if (t->tcp) {
        const char *sf = o->secret_file ? o->secret_file : j->secret_file;
        if (sf[0] && load_secret(sf, t))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ modes */

static int mode_list(const opts *o)
{
    char dir[256];
    static cpw_job_entry jobs[MAX_JOBS];
    int n = discover(o, dir, sizeof dir, jobs);
    if (n < 0) {
        printf("no jobs (%s does not exist yet)\n", dir);
        return 0;
    }
    printf("%-18s %-20s %8s %-7s %s\n", "JOB", "NAME", "PID", "STATE", "EVENTS");
    for (int i = 0; i < n; i++) {
        char name[CPW_NAME_MAX];
        cpw_sanitize(jobs[i].name, name, sizeof name);
        printf("%-18s %-20s %8d %-7s %s\n", jobs[i].job, name, jobs[i].pid,
               jobs[i].alive ? "running" : "stale", jobs[i].events);
    }
    return 0;
}

static int print_msg(void *opaque, cpw_msg *m)
{
    (void)opaque;
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = m->job, .seq = m->seq, .ts_us = m->ts_us};
    if (m->kind == CPW_K_EVENT)
        cpw_encode_event(&b, &env, &m->ev);
    else if (m->kind == CPW_K_HELLO)
        cpw_encode_hello(&b, &env, m->hello);
    else if (m->kind == CPW_K_HEARTBEAT)
        cpw_encode_heartbeat(&b, &env, &m->heartbeat);
    if (b.len && !b.failed) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
    }
    cpw_buf_free(&b);
    return quit;
}

static int mode_json(const opts *o)
{
    target t;
    int rc = find_target(o, &t);
    if (rc)
        return rc;
    const cpw_sock_conf conf = {.rcvbuf = 4 * 1024 * 1024};
    char err[400];
    cpw_sock *s = cpw_sock_new(CPW_SOCK_SUB, &conf, err, sizeof err);
    if (!s || cpw_sock_dial(s, t.events, err, sizeof err) != CPW_SOCK_OK) {
        fprintf(stderr, "cptop: %s\n", err);
        cpw_sock_destroy(s);
        return 1;
    }
    while (!quit) {
        cpw_sock_msg msg;
        if (cpw_sock_recv(s, &msg, 200) != CPW_SOCK_OK)
            continue;
        /* Decoded and re-encoded: the output is one valid JSON object per
         * line whatever shape (object, array, NDJSON) or bytes came in. */
        cpw_error derr;
        size_t count;
        if (cpw_decode_frame(msg.data, msg.len, print_msg, NULL, &count, &derr) != CPW_OK)
            fprintf(stderr, "cptop: dropped a bad frame: %s\n", derr.text);
        cpw_sock_msg_free(&msg);
        if (fflush(stdout) != 0 || ferror(stdout))
            break; /* the reader went away (| head): done, not an error */
    }
    cpw_sock_destroy(s);
    return 0;
}

static int request(const target *t, const cpw_command *cmd, int timeout_ms, cpw_msg *reply);

/* A signed command is bound to the job and to this run of its agent
 * (PROTOCOL.md §12): what the discovery file did not say (--connect), a
 * tokenless get_state does. */
static int learn_identity(target *t, int timeout_ms)
{
    if (t->instance[0] && t->job[0])
        return 0;
    target plain = *t;
    plain.secret_len = 0;
    cpw_command gs = {.req = 1, .history = 0};
    gs.c.type = CPW_CMD_GET_STATE;
    cpw_msg r;
    if (request(&plain, &gs, timeout_ms, &r))
        return 1;
    if (r.reply->ok && r.reply->state) {
        snprintf(t->job, sizeof t->job, "%s", r.reply->state->job);
        snprintf(t->instance, sizeof t->instance, "%s", r.reply->state->hello.instance);
    }
    cpw_msg_clear(&r);
    return 0;
}

static int request(const target *t, const cpw_command *cmd, int timeout_ms, cpw_msg *reply)
{
    target id; /* a copy with what a signature needs filled in */
    cpw_command bound = *cmd;
    if (t->secret_len && cmd->c.type == CPW_CMD_GET_STATE) {
        id = *t; /* get_state needs no token (PROTOCOL.md §12) */
        id.secret_len = 0;
        t = &id;
    } else if (t->secret_len) {
        id = *t;
        if (learn_identity(&id, timeout_ms))
            return 1;
        snprintf(bound.instance, sizeof bound.instance, "%s", id.instance);
        t = &id;
    }
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = t->job, .seq = cmd->req, .ts_us = cpw_now_us()};
    cpw_encode_command(&b, &env, &bound, t->secret_len ? t->secret : NULL, t->secret_len);
    char serr[400];
    cpw_sock *s = cpw_sock_new(CPW_SOCK_REQ, NULL, serr, sizeof serr);
    int rc = 1;
    cpw_sock_err se;
    cpw_sock_msg msg;
    if (!s || cpw_sock_dial(s, t->commands, serr, sizeof serr) != CPW_SOCK_OK) {
        fprintf(stderr, "cptop: %s\n", serr);
    } else if ((se = cpw_sock_send(s, b.data, b.len, timeout_ms)) != CPW_SOCK_OK) {
        fprintf(stderr, "cptop: cannot send to %s: %s\n", t->commands,
                se == CPW_SOCK_TIMEOUT ? "no connection (is the job running?)"
                                       : cpw_sock_strerror(se));
    } else if ((se = cpw_sock_recv(s, &msg, timeout_ms)) != CPW_SOCK_OK) {
        if (se == CPW_SOCK_CLOSED)
            fprintf(stderr, "cptop: %s closed the connection before replying\n", t->commands);
        else
            fprintf(stderr, "cptop: no reply from %s within %d ms\n", t->commands, timeout_ms);
    } else {
        cpw_error err = {0};
        if (cpw_decode_one(msg.data, msg.len, reply, &err) != CPW_OK ||
            reply->kind != CPW_K_REPLY) {
            fprintf(stderr, "cptop: bad reply: %s\n", err.text);
            cpw_msg_clear(reply);
        } else {
            rc = 0;
        }
        cpw_sock_msg_free(&msg);
    }
    cpw_sock_destroy(s);
    cpw_buf_free(&b);
    return rc;
}

static void fmt_dur(char *out, size_t n, int64_t us)
{
    if (us < 1000)
        snprintf(out, n, "%lldus", (long long)us);
    else if (us < 10000000)
        snprintf(out, n, "%.1fms", us / 1000.0);
    else
        snprintf(out, n, "%.1fs", us / 1e6);
}

static int mode_once(const opts *o)
{
    target t;
    int rc = find_target(o, &t);
    if (rc)
        return rc;
    cpw_command cmd = {.req = 1, .history = 10};
    cmd.c.type = CPW_CMD_GET_STATE;
    cpw_msg r;
    if (request(&t, &cmd, o->timeout_ms, &r))
        return 1;
    if (!r.reply->ok || !r.reply->state) {
        char m[CPW_TEXT_MAX];
        cpw_sanitize(r.reply->message, m, sizeof m);
        fprintf(stderr, "cptop: get_state refused: %s\n", m);
        cpw_msg_clear(&r);
        return 1;
    }
    const cpw_state *s = r.reply->state;
    char name[CPW_NAME_MAX], msg[CPW_TEXT_MAX], d[32];
    cpw_sanitize(s->hello.name, name, sizeof name);
    char jobid[CPW_MAX_JOB_ID];
    cpw_sanitize(s->job, jobid, sizeof jobid);
    printf("job %s (%s), pid %d, status %s\n", jobid, name, s->hello.pid,
           cpw_job_status_name((cpw_job_status)s->status));
    printf("checkpoints: total %lld, in progress %lld, completed %lld, failed %lld, restored %lld;"
           " consecutive failures %d\n",
           (long long)s->counts.total, (long long)s->counts.in_progress,
           (long long)s->counts.completed, (long long)s->counts.failed,
           (long long)s->counts.restored, s->consecutive_failures);
    printf("topology:");
    for (int i = 0; i < s->hello.n_ops; i++) {
        cpw_sanitize(s->hello.ops[i].name, name, sizeof name);
        printf("%s %s x%d", i ? " ->" : "", name, s->hello.ops[i].parallelism);
    }
    printf("\n");
    for (int i = 0; i < s->n_inflight; i++) {
        const cpw_cp *cp = &s->inflight[i];
        fmt_dur(d, sizeof d, cpw_now_us() - cp->trigger_ts);
        printf("in flight %lld: %d/%d acknowledged, %s elapsed\n", (long long)cp->id, cp->acks,
               cp->total, d);
    }
    for (int i = 0; i < s->n_history; i++) {
        const cpw_cp *cp = cpw_state_history(s, i);
        fmt_dur(d, sizeof d, cp->duration_us);
        cpw_sanitize(cp->message, msg, sizeof msg);
        printf("%6lld %-9s %-8s %9s %10lld B  %d/%d acks  %s%s%s\n", (long long)cp->id,
               cpw_cp_status_name(cp->status), cp->kind ? "manual" : "periodic", d,
               (long long)cp->state_size, cp->acks, cp->total,
               cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : "",
               msg[0] ? " " : "", msg);
    }
    cpw_msg_clear(&r);
    return 0;
}

static int mode_ctl(const opts *o, int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "cptop: ctl needs a command (trigger, abort, fail, set)\n");
        return 2;
    }
    cpw_command cmd = {.req = (uint64_t)getpid(), .history = -1};
    cmd.c.op = cmd.c.subtask = -1;
    const char *what = argv[0];
    if (!strcmp(what, "trigger") && argc == 1) {
        cmd.c.type = CPW_CMD_TRIGGER;
    } else if (!strcmp(what, "abort") && argc == 2) {
        char *end;
        long long id = strtoll(argv[1], &end, 10);
        if (*end || id <= 0) {
            fprintf(stderr, "cptop: abort: '%s' is not a checkpoint id\n", argv[1]);
            return 2;
        }
        cmd.c.type = CPW_CMD_ABORT;
        cmd.c.cp_id = id;
    } else if (!strcmp(what, "fail") && argc >= 2) {
        cmd.c.type = CPW_CMD_INJECT_FAILURE;
        snprintf(cmd.c.kind, sizeof cmd.c.kind, "%s", argv[1]);
        int i = 2;
        if (argc >= 4 && !strchr(argv[2], '=') && !strchr(argv[3], '=')) {
            cmd.c.op = atoi(argv[2]);
            cmd.c.subtask = atoi(argv[3]);
            i = 4;
        }
        for (; i < argc; i++) {
            const char *eq = strchr(argv[i], '=');
            if (!eq || eq == argv[i] || cmd.c.n_params == CPW_CMD_MAX_PARAMS) {
                fprintf(stderr, "cptop: fail: '%s' is not KEY=VALUE\n", argv[i]);
                return 2;
            }
            snprintf(cmd.c.keys[cmd.c.n_params], CPW_NAME_MAX, "%.*s", (int)(eq - argv[i]), argv[i]);
            snprintf(cmd.c.values[cmd.c.n_params], CPW_VALUE_MAX, "%s", eq + 1);
            cmd.c.n_params++;
        }
    } else if (!strcmp(what, "set") && argc == 3) {
        cmd.c.type = CPW_CMD_SET_CONFIG;
        cmd.c.n_params = 1;
        snprintf(cmd.c.keys[0], CPW_NAME_MAX, "%s", argv[1]);
        snprintf(cmd.c.values[0], CPW_VALUE_MAX, "%s", argv[2]);
    } else {
        fprintf(stderr, "cptop: ctl: unknown or incomplete command '%s' (see cptop --help)\n", what);
        return 2;
    }
    target t;
    int rc = find_target(o, &t);
    if (rc)
        return rc;
    cpw_msg r;
    if (request(&t, &cmd, o->timeout_ms, &r))
        return 1;
    char m[CPW_TEXT_MAX];
    cpw_sanitize(r.reply->message, m, sizeof m);
    char e[sizeof r.reply->error];
    cpw_sanitize(r.reply->error, e, sizeof e);
    if (r.reply->ok)
        printf("ok: %s\n", m);
    else
        fprintf(stderr, "refused (%s): %s\n", e, m);
    rc = r.reply->ok ? 0 : 1;
    cpw_msg_clear(&r);
    return rc;
}

/* ------------------------------------------------------------ dashboard */

/* Every running job (matching --job), quietly: curses owns the screen. */
static int list_targets(const opts *o, target *out, int max, char *dir, size_t dirsz)
{
    static cpw_job_entry jobs[MAX_JOBS];
    int n = discover(o, dir, dirsz, jobs);
    int k = 0;
    for (int i = 0; i < n && k < max; i++) {
        if (!jobs[i].alive)
            continue;
        if (o->job && strcmp(o->job, jobs[i].job) && strcmp(o->job, jobs[i].name))
            continue;
        target *t = &out[k];
        memset(t, 0, sizeof *t);
        t->discovered = true;
        t->pid = jobs[i].pid;
        snprintf(t->job, sizeof t->job, "%s", jobs[i].job);
        snprintf(t->name, sizeof t->name, "%s", jobs[i].name);
        snprintf(t->events, sizeof t->events, "%s", jobs[i].events);
        snprintf(t->commands, sizeof t->commands, "%s", jobs[i].commands);
        snprintf(t->instance, sizeof t->instance, "%s", jobs[i].instance);
        t->tcp = strncmp(jobs[i].commands, "tcp://", 6) == 0;
        const char *sf = o->secret_file ? o->secret_file : jobs[i].secret_file;
        if (t->tcp && sf[0]) {
            FILE *f = fopen(sf, "r");
            if (f) {
                size_t len = fread(t->secret, 1, sizeof t->secret, f);
                fclose(f);
                while (len && (t->secret[len - 1] == '\n' || t->secret[len - 1] == '\r'))
                    len--;
                t->secret_len = len;
            }
        }
        k++;
    }
    return k;
}

typedef struct dash {
    const opts *o;
    cpt_model *m;
    cpt_ui ui;
    cpt_link link;
    bool linked;
    target cur;
} dash;

static int attach(dash *d, const target *t, int64_t now)
{
    cpt_model_conf mc = {.history_cap = d->o->history, .detail_cap = d->o->detail,
                         .log_cap = d->o->log_lines};
    if (d->linked)
        cpt_link_close(&d->link);
    d->linked = false;
    bool same_job = d->cur.job[0] && !strcmp(d->cur.job, t->job);
    if (!same_job) {
        /* another job: a fresh model (the same job keeps its history) */
        cpt_model *m = cpt_model_new(&mc);
        if (!m)
            return -1;
        cpt_model_free(d->m);
        d->m = m;
    }
    d->cur = *t;
    char err[400];
    if (cpt_link_open(&d->link, t, err, sizeof err)) {
        cpt_ui_status(&d->ui, true, now, "%s", err);
        return -1;
    }
    d->linked = true;
    d->ui.cmd_pending = false;
    cpt_model_connecting(d->m, t->events, now);
    cpt_model_note(d->m, now, false, "watching %s at %s", t->job[0] ? t->job : t->events, t->events);
    return 0;
}

static void fill_picker(cpt_ui *ui, const target *c, int n)
{
    ui->pick_n = n < CPT_PICK_MAX ? n : CPT_PICK_MAX;
    for (int i = 0; i < ui->pick_n; i++) {
        char name[CPW_NAME_MAX];
        cpw_sanitize(c[i].name, name, sizeof name);
        snprintf(ui->pick_label[i], sizeof ui->pick_label[i], "%-24s %-20s pid %d", c[i].job, name,
                 c[i].pid);
    }
    if (ui->pick_sel >= ui->pick_n)
        ui->pick_sel = ui->pick_n ? ui->pick_n - 1 : 0;
}

static int dashboard(const opts *o)
{
    char err[300], dir[256] = "";
    dash d = {.o = o};
    cpt_model_conf mc = {.history_cap = o->history, .detail_cap = o->detail, .log_cap = o->log_lines};
    d.m = cpt_model_new(&mc);
    if (!d.m) {
        fprintf(stderr, "cptop: out of memory\n");
        return 1;
    }
    if (o->connect) {
        int rc = find_target(o, &d.cur);
        if (rc) {
            cpt_model_free(d.m);
            return rc;
        }
    }
    if (cpt_term_open(!o->no_color, err, sizeof err)) {
        fprintf(stderr, "cptop: %s\n", err);
        cpt_model_free(d.m);
        return 2;
    }
    cpt_ui_init(&d.ui, o->read_only, !o->ascii && cpt_term_unicode());
    cpt_frame f = {0};
    static target cands[MAX_JOBS];
    int ncand = 0;
    bool picked = false;
    int64_t now = cpw_now_us(), last_discover = 0, last_draw = 0;
    uint64_t drawn_version = UINT64_MAX;
    bool dirty = true;
    if (o->connect) {
        target t = d.cur;
        d.cur.job[0] = 0;
        attach(&d, &t, now);
    }
    while (!quit) {
        now = cpw_now_us();
        /* discovery: find the job, the picker's list, a job that came back */
        if (!o->connect && now - last_discover >= 1000000) {
            last_discover = now;
            ncand = list_targets(o, cands, MAX_JOBS, dir, sizeof dir);
            fill_picker(&d.ui, cands, ncand);
            if (!d.linked) {
                if (ncand == 1 || (ncand > 1 && picked)) {
                    attach(&d, &cands[ncand == 1 ? 0 : d.ui.pick_sel], now);
                    d.ui.status[0] = 0;
                } else if (ncand > 1 && d.ui.overlay != CPT_OV_PICKER) {
                    d.ui.overlay = CPT_OV_PICKER;
                } else if (ncand == 0) {
                    cpt_ui_status(&d.ui, false, now, "no running job%s%s%s in %s yet; waiting for one",
                                  o->job ? " '" : "", o->job ? o->job : "", o->job ? "'" : "", dir);
                }
                dirty = true;
            } else if (d.m->link != CPT_LINK_UP && d.cur.discovered) {
                /* the job restarted: same id, new process (new pid or endpoint) */
                for (int i = 0; i < ncand; i++)
                    if (!strcmp(cands[i].job, d.cur.job) &&
                        (cands[i].pid != d.cur.pid || strcmp(cands[i].events, d.cur.events))) {
                        attach(&d, &cands[i], now);
                        dirty = true;
                        break;
                    }
            }
        }
        if (d.linked && d.m->want_state && !d.m->state_pending && !d.link.req_state &&
            cpt_link_send_state(&d.link) == 0)
            cpt_model_state_sent(d.m);

        bool live = d.m->st->n_inflight || d.ui.screen == CPT_SCR_DETAIL;
        int64_t period = live ? 250000 : 1000000;
        int64_t wait = period - (now - last_draw);
        if (d.m->version != drawn_version && wait > 50000)
            wait = 50000 - (now - last_draw); /* changes show within 50 ms */
        int lw = d.linked ? cpt_link_wait_ms(&d.link) : -1;
        if (lw >= 0 && (int64_t)lw * 1000 < wait)
            wait = (int64_t)lw * 1000; /* a reconnection is due */
        if (wait < 0)
            wait = 0;
        struct pollfd pfd[4] = {{.fd = 0, .events = POLLIN}};
        int n = 1 + (d.linked ? cpt_link_pollfds(&d.link, pfd + 1, 3) : 0);
        int pr = poll(pfd, (nfds_t)n, (int)(wait / 1000) + (wait % 1000 ? 1 : 0));
        if (pr > 0 && (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)))
            break; /* the terminal went away */
        now = cpw_now_us();

        int k;
        while ((k = cpt_term_key()) != CPT_KEY_NONE) {
            cpw_cmd cmd;
            cpt_action a = cpt_ui_key(&d.ui, d.m, k, &cmd, now);
            if (k == CPT_KEY_RESIZE)
                dirty = true;
            if (a == CPT_ACT_QUIT) {
                quit = 1;
            } else if (a == CPT_ACT_COMMAND) {
                if (!d.linked) {
                    cpt_ui_status(&d.ui, true, now, "not connected to a job");
                } else if (cpt_link_send_cmd(&d.link, &cmd, err, sizeof err)) {
                    cpt_ui_status(&d.ui, true, now, "%s", err);
                } else {
                    d.ui.cmd_pending = true;
                    cpt_ui_status(&d.ui, false, now, "%s: sent, waiting for the reply", d.link.cmd_name);
                }
            } else if (a == CPT_ACT_PICK && d.ui.pick_sel < ncand) {
                picked = true;
                attach(&d, &cands[d.ui.pick_sel], now);
            }
            if (a != CPT_ACT_NONE)
                dirty = true;
        }
        if (d.linked) {
            cpt_link_read_events(&d.link, d.m, now);
            cpt_link_poll_state(&d.link, d.m, now, o->timeout_ms);
            bool ok;
            char text[300];
            if (cpt_link_poll_cmd(&d.link, now, o->timeout_ms, &ok, text, sizeof text)) {
                d.ui.cmd_pending = false;
                cpt_ui_status(&d.ui, !ok, now, "%s", text);
                cpt_model_note(d.m, now, !ok, "%s", text);
                dirty = true;
            }
        }
        cpt_model_tick(d.m, now);

        live = d.m->st->n_inflight || d.ui.screen == CPT_SCR_DETAIL;
        period = live ? 250000 : 1000000;
        if (dirty || now - last_draw >= period ||
            (d.m->version != drawn_version && now - last_draw >= 50000)) {
            int w, h;
            cpt_term_size(&w, &h);
            if (w != f.w || h != f.h || !f.cells)
                cpt_frame_resize(&f, w, h);
            cpt_view_render(d.m, &d.ui, &f, now);
            cpt_term_draw(&f);
            last_draw = now;
            drawn_version = d.m->version;
            dirty = false;
        }
    }
    cpt_term_close();
    if (d.linked)
        cpt_link_close(&d.link);
    cpt_frame_free(&f);
    cpt_model_free(d.m);
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.timeout_ms = 5000, .history = 1000, .detail = 50, .log_lines = 5000};
    const char *mode = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--read-only")) {
            o.read_only = true;
        } else if (!strcmp(a, "--no-color")) {
            o.no_color = true;
        } else if (!strcmp(a, "--ascii")) {
            o.ascii = true;
        } else if ((!strcmp(a, "--history") || !strcmp(a, "--detail") || !strcmp(a, "--log-lines")) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            char *end;
            long x = strtol(v, &end, 10);
            long lo = !strcmp(a, "--detail") ? 0 : 1;
            long hi = !strcmp(a, "--history") ? CPW_MAX_HISTORY : !strcmp(a, "--detail") ? 10000 : 1000000;
            if (!*v || *end || x < lo || x > hi) {
                fprintf(stderr, "cptop: %s '%s' must be a number from %ld to %ld\n", a, v, lo, hi);
                return 2;
            }
            if (!strcmp(a, "--history")) o.history = (int)x;
            else if (!strcmp(a, "--detail")) o.detail = x ? (int)x : -1;
            else o.log_lines = (int)x;
        } else if (!strcmp(a, "--list") || !strcmp(a, "--json") || !strcmp(a, "--once")) {
            mode = a + 2;
        } else if (!strcmp(a, "ctl")) {
            mode = "ctl";
            /* `cptop ctl [--job ID] [--timeout MS] ... COMMAND`: options may follow ctl */
            while (i + 2 < argc && (!strcmp(argv[i + 1], "--job") || !strcmp(argv[i + 1], "--connect") ||
                                    !strcmp(argv[i + 1], "--secret-file") ||
                                    !strcmp(argv[i + 1], "--runtime-dir") ||
                                    !strcmp(argv[i + 1], "--timeout"))) {
                const char *k = argv[i + 1], *v = argv[i + 2];
                if (!strcmp(k, "--job")) o.job = v;
                else if (!strcmp(k, "--connect")) o.connect = v;
                else if (!strcmp(k, "--secret-file")) o.secret_file = v;
                else if (!strcmp(k, "--runtime-dir")) o.runtime_dir = v;
                else if ((o.timeout_ms = atoi(v)) <= 0) {
                    fprintf(stderr, "cptop: --timeout '%s' must be a positive number of ms\n", v);
                    return 2;
                }
                i += 2;
            }
            i++;
            break;
        } else if ((!strcmp(a, "--job") || !strcmp(a, "--connect") || !strcmp(a, "--secret-file") ||
                    !strcmp(a, "--runtime-dir") || !strcmp(a, "--timeout")) && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--job")) o.job = v;
            else if (!strcmp(a, "--connect")) o.connect = v;
            else if (!strcmp(a, "--secret-file")) o.secret_file = v;
            else if (!strcmp(a, "--runtime-dir")) o.runtime_dir = v;
            else if ((o.timeout_ms = atoi(v)) <= 0) {
                fprintf(stderr, "cptop: --timeout '%s' must be a positive number of ms\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "cptop: unknown argument '%s' (see cptop --help)\n", a);
            return 2;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (!mode)
        return dashboard(&o);
    if (!strcmp(mode, "list"))
        return mode_list(&o);
    if (!strcmp(mode, "json"))
        return mode_json(&o);
    if (!strcmp(mode, "once"))
        return mode_once(&o);
    return mode_ctl(&o, argc - i, argv + i);
}
