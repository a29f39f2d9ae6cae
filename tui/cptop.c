/*
 * cptop.c — the cptop command: its options, the table of its modes, and
 * what the modes share (finding the job, one request and its reply). Each
 * mode lives in a file of its own (see cptop.h).
 */
#include "cptop.h"
#include "cpw_sock.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t cptop_quit;
static void on_signal(int sig) { (void)sig; cptop_quit = 1; }

/* ------------------------------------------------------------ modes */

typedef struct mode {
    const char *name;         /* on the command line; NULL: the default */
    bool takes_words;         /* the words after it are its own (ctl) */
    cptop_mode_fn run;
    const char *usage;        /* its lines in --help */
} mode;

static const mode modes[] = {
    {NULL, false, cptop_dashboard, ""},
    {"--list", false, cptop_list, "  --list                 running jobs found in the runtime directory\n"},
    {"--json", false, cptop_json,
     "  --json                 the live event stream, one JSON object per line\n"
     "                         (first, and after each restart of the job, its state)\n"},
    {"--once", false, cptop_once, "  --once                 the current state as text, then exit\n"},
    {"ctl", true, cptop_ctl,
     "  ctl trigger            trigger a checkpoint now\n"
     "  ctl abort ID           abort in-flight checkpoint ID\n"
     "  ctl fail KIND [OP SUBTASK] [KEY=VALUE...]\n"
     "                         inject a failure the job offers (checked first)\n"
     "  ctl set KEY VALUE      change a setting at run time\n"},
};

/* ------------------------------------------------------------ options */

typedef enum { O_FLAG, O_STR, O_INT } opt_kind;

typedef struct opt_spec {
    const char *name;
    opt_kind kind;
    size_t off;               /* of the field in cptop_opts */
    long lo, hi;              /* O_INT: the accepted range */
    bool everywhere;          /* also accepted after ctl */
    const char *usage;
} opt_spec;

#define F(field) offsetof(cptop_opts, field)
static const opt_spec options[] = {
    {"--job", O_STR, F(job), 0, 0, true, "  --job ID               which job (needed when several run; a name works when\n"
                                         "                         it is unique)\n"},
    {"--connect", O_STR, F(connect), 0, 0, true,
     "  --connect URL          tcp://HOST:PORT of a job's events (commands on PORT+1)\n"},
    {"--secret-file", O_STR, F(secret_file), 0, 0, true,
     "  --secret-file PATH     shared secret for commands over TCP (default: the\n"
     "                         runtime directory's; never one a discovery file names)\n"},
    {"--runtime-dir", O_STR, F(runtime_dir), 0, 0, true,
     "  --runtime-dir DIR      where agents announce themselves, yours and mode 0700\n"
     "                         (default $XDG_RUNTIME_DIR/cptop, else /tmp/cptop-$UID)\n"},
    {"--timeout", O_INT, F(timeout_ms), 1, 3600000, true,
     "  --timeout MS           command reply timeout (default 5000)\n"},
    {"--read-only", O_FLAG, F(read_only), 0, 0, false,
     "  --read-only            watch only: trigger, abort, fail and config disabled\n"},
    {"--history", O_INT, F(history), 1, CPW_MAX_HISTORY, false,
     "  --history N            finished checkpoints kept (default 1000, max 100000)\n"},
    {"--detail", O_INT, F(detail), 0, 10000, false,
     "  --detail N             newest of them keeping per-subtask detail (default 50)\n"},
    {"--log-lines", O_INT, F(log_lines), 1, 1000000, false,
     "  --log-lines N          event log lines kept (default 5000)\n"},
    {"--no-color", O_FLAG, F(no_color), 0, 0, false,
     "  --no-color             monochrome (NO_COLOR in the environment does the same)\n"},
    {"--ascii", O_FLAG, F(ascii), 0, 0, false,
     "  --ascii                ASCII glyphs only (the default in a non-UTF-8 locale)\n"},
    {"--replay", O_STR, F(replay), 0, 0, false,
     "  --replay FILE          a recording (or a Flink HistoryServer archive) instead of a\n"
     "                         live job, with --once [--at T] or --json [--from T] [--to T];\n"
     "                         T: HH:MM[:SS], -5m (before its end), +30s (after its start),\n"
     "                         @EPOCH, YYYY-MM-DDTHH:MM[:SS] (protocol/RECORDING.md)\n"},
    {"--at", O_STR, F(at), 0, 0, false, ""},
    {"--from", O_STR, F(from), 0, 0, false, ""},
    {"--to", O_STR, F(to), 0, 0, false, ""},
};
#undef F

static void usage(FILE *f)
{
    fprintf(f, "usage: cptop [OPTIONS] [MODE]\n"
               "Live view of a streaming job's checkpoints, from the agent it embeds.\n"
               "Without a mode: the interactive dashboard (press ? in it for every key).\n\nModes:\n");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        fputs(modes[i].usage, f);
    fprintf(f, "\nOptions:\n");
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        if (!strcmp(options[i].name, "--read-only"))
            fprintf(f, "\nDashboard options:\n");
        fputs(options[i].usage, f);
    }
    fprintf(f, "  -h, --help             this text\n\n"
               "Exit status: 0 ok, 1 the job refused or is unreachable, 2 bad usage.\n");
}

static const opt_spec *find_option(const char *a)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (!strcmp(options[i].name, a))
            return &options[i];
    return NULL;
}

/* Applies option s (its value in v for O_STR and O_INT). 0, or 2 after complaining. */
static int set_option(cptop_opts *o, const opt_spec *s, const char *v)
{
    char *field = (char *)o + s->off;
    if (s->kind == O_FLAG) {
        *(bool *)field = true;
    } else if (s->kind == O_STR) {
        *(const char **)field = v;
    } else {
        char *end;
        long x = strtol(v, &end, 10);
        if (!*v || *end || x < s->lo || x > s->hi) {
            fprintf(stderr, "cptop: %s '%s' must be a number from %ld to %ld\n", s->name, v, s->lo,
                    s->hi);
            return 2;
        }
        *(int *)field = (int)x;
    }
    return 0;
}

/* Parses argv into o and the mode; *words is where the mode's own words
 * start. 0, -1 for --help, or 2 after complaining. */
static int parse(int argc, char **argv, cptop_opts *o, const mode **m, int *words)
{
    *m = &modes[0];
    *words = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return -1;
        const opt_spec *s = find_option(a);
        if (s && ((*m)->takes_words ? s->everywhere : true)) {
            if (s->kind != O_FLAG && i + 1 >= argc) {
                fprintf(stderr, "cptop: %s needs a value (see cptop --help)\n", a);
                return 2;
            }
            if (set_option(o, s, s->kind == O_FLAG ? NULL : argv[++i]))
                return 2;
            continue;
        }
        if ((*m)->takes_words) { /* the mode's command starts here */
            *words = i;
            return 0;
        }
        const mode *found = NULL;
        for (size_t k = 1; k < sizeof modes / sizeof modes[0]; k++)
            if (!strcmp(modes[k].name, a))
                found = &modes[k];
        if (!found) {
            fprintf(stderr, "cptop: unknown argument '%s' (see cptop --help)\n", a);
            return 2;
        }
        *m = found;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cptop_opts o = {.timeout_ms = 5000, .history = 1000, .detail = 50, .log_lines = 5000};
    const mode *m;
    int words;
    int rc = parse(argc, argv, &o, &m, &words);
    if (rc < 0) {
        usage(stdout);
        return 0;
    }
    if (rc)
        return rc;
    if (o.detail == 0)
        o.detail = -1; /* the model's "none" */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (o.replay)
        return cptop_replay(&o, argc - words, argv + words, m->run == cptop_json,
                            m->run == cptop_once);
    return m->run(&o, argc - words, argv + words);
}

/* ------------------------------------------------------------ shared */

void cptop_complain(const char *text)
{
    const char *s = text;
    bool first = true;
    do {
        size_t n = strcspn(s, "\n");
        char line[1024], clean[1024];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), s);
        cpw_sanitize(line, clean, sizeof clean);
        fprintf(stderr, "%s%s\n", first ? "cptop: " : "", clean);
        first = false;
        s += n + (s[n] == '\n');
    } while (*s);
}

cpt_where cptop_where(const cptop_opts *o)
{
    return (cpt_where){.job = o->job, .connect = o->connect, .secret_file = o->secret_file,
                       .runtime_dir = o->runtime_dir};
}

int cptop_find(const cptop_opts *o, cpt_target *t)
{
    char msg[4096];
    cpt_where w = cptop_where(o);
    int rc = cpt_target_resolve(&w, t, msg, sizeof msg);
    if (rc)
        cptop_complain(msg);
    return rc;
}

int cptop_request(const cpt_target *t, const cpw_command *cmd, int timeout_ms, cpw_msg *reply)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = t->job, .seq = cmd->req, .ts_us = cpw_now_us()};
    cpw_encode_command(&b, &env, cmd, t->secret_len ? t->secret : NULL, t->secret_len);
    char serr[400], text[600];
    cpw_sock *s = cpw_sock_new(CPW_SOCK_REQ, NULL, serr, sizeof serr);
    int rc = 1;
    cpw_sock_err se;
    cpw_sock_msg msg;
    if (!s || cpw_sock_dial(s, t->commands, serr, sizeof serr) != CPW_SOCK_OK) {
        cptop_complain(serr);
    } else if ((se = cpw_sock_send(s, b.data, b.len, timeout_ms)) != CPW_SOCK_OK) {
        snprintf(text, sizeof text, "cannot send to %s: %s", t->commands,
                 se == CPW_SOCK_TIMEOUT ? "no connection (is the job running?)"
                                        : cpw_sock_strerror(se));
        cptop_complain(text);
    } else if (cpw_sock_recv(s, &msg, timeout_ms) != CPW_SOCK_OK) {
        snprintf(text, sizeof text, "no reply from %s within %d ms", t->commands, timeout_ms);
        cptop_complain(text);
    } else {
        cpw_error err = {0};
        if (cpw_decode_one(msg.data, msg.len, reply, &err) != CPW_OK ||
            reply->kind != CPW_K_REPLY) {
            /* the decoder's text may quote the bad input */
            snprintf(text, sizeof text, "bad reply: %s", err.text[0] ? err.text : "not a reply");
            cptop_complain(text);
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

int cptop_get_state(const cpt_target *t, int history, int timeout_ms, cpw_msg *r)
{
    cpw_command cmd = {.req = 1, .history = history};
    cmd.c.type = CPW_CMD_GET_STATE;
    cmd.c.op = cmd.c.subtask = -1;
    if (cptop_request(t, &cmd, timeout_ms, r))
        return 1;
    if (r->reply->ok && r->reply->state)
        return 0;
    char m[CPW_TEXT_MAX + 40];
    snprintf(m, sizeof m, "get_state refused: %s", r->reply->message);
    cptop_complain(m);
    cpw_msg_clear(r);
    return 1;
}
