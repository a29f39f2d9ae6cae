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
    {"--advise", false, cptop_advise,
     "  --advise               tuning advice from the job's checkpoint history: timeout,\n"
     "                         interval, tolerable failures, trends, causes (--json: one\n"
     "                         JSON object; --max-overhead, --max-replay, --what-if;\n"
     "                         --replay FILE [--at T]: a recording's history at T)\n"},
    {"ctl", true, cptop_ctl,
     "  ctl trigger [--full]   trigger a checkpoint now (--full: not incremental;\n"
     "                         Flink 1.17+)\n"
     "  ctl savepoint [--dir DIR]\n"
     "                         take a savepoint (Flink, any version; the job keeps\n"
     "                         running; DIR, else the cluster's state.savepoints.dir)\n"
     "  ctl abort ID           abort in-flight checkpoint ID\n"
     "  ctl fail KIND [OP SUBTASK] [KEY=VALUE...]\n"
     "                         inject a failure the job offers (checked first)\n"
     "  ctl set KEY VALUE      change a setting at run time\n"},
};

/* ------------------------------------------------------------ options */

typedef enum { O_FLAG, O_STR, O_INT, O_HEADER } opt_kind;

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
    {"--verbose", O_FLAG, F(verbose), 0, 0, true,
     "  --verbose              ctl: also say on stderr how long the answer took\n"},
    {"--flink", O_STR, F(flink), 0, 0, true,
     "  --flink URL            watch a job on an Apache Flink cluster through its\n"
     "                         JobManager's REST API (http://HOST:8081)\n"},
    {"--poll", O_INT, F(poll_ms), 250, 3000, true,
     "  --poll MS              --flink: read its checkpoints every MS (default 1000)\n"},
    {"--header", O_HEADER, 0, 0, 0, true,
     "  --header 'NAME: VALUE' --flink: send with every request (repeatable)\n"},
    {"--user", O_STR, F(user), 0, 0, true,
     "  --user USER:PASSWORD   --flink: basic authentication (a proxy's)\n"},
    {"--cacert", O_STR, F(cacert), 0, 0, true,
     "  --cacert FILE          --flink: CA certificates to verify https:// with\n"},
    {"--insecure", O_FLAG, F(insecure), 0, 0, true,
     "  --insecure             --flink: do not verify the server's certificate\n"},
    {"--max-overhead", O_INT, F(max_overhead), 1, 100, false,
     "  --max-overhead P       --advise: at most P % of the time checkpointing (default 10)\n"},
    {"--max-replay", O_STR, F(max_replay), 0, 0, false,
     "  --max-replay D         --advise: a restart replays at most D of input (e.g. 1 min)\n"},
    {"--what-if", O_STR, F(what_if), 0, 0, false,
     "  --what-if KEY=VALUE    --advise: which past checkpoints would have failed with it\n"
     "                         (timeout, tolerable-failed-checkpoints,\n"
     "                         aligned-checkpoint-timeout)\n"},
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
     "                         live job: the dashboard, playing from its start or paused at\n"
     "                         --at T (Space, t/T, [/], b, r, Z, +/- move through it: ? in\n"
     "                         it), or --once [--at T], or --json [--from T] [--to T], or\n"
     "                         --advise [--at T] [--from T] (--at: by default its end;\n"
     "                         --from: an hour before --at);\n"
     "                         T: HH:MM[:SS], -5m (before its end), +30s (after its start),\n"
     "                         @EPOCH[.FRACTION], YYYY-MM-DDTHH:MM[:SS]\n"
     "                         (protocol/RECORDING.md)\n"},
    {"--record", O_STR, F(record), 0, 0, false,
     "  --record FILE          record what the dashboard receives (continued if FILE is a\n"
     "                         recording); with --headless no terminal, every job found\n"
     "                         (or --job / --connect / --flink), until SIGTERM\n"},
    {"--record-max", O_STR, F(record_max), 0, 0, false,
     "  --record-max SIZE      keep the newest SIZE (512M, 2G): FILE and FILE.1\n"},
    {"--headless", O_FLAG, F(headless), 0, 0, false, ""},
    {"--at", O_STR, F(at), 0, 0, false, ""},
    {"--from", O_STR, F(from), 0, 0, false, ""},
    {"--to", O_STR, F(to), 0, 0, false, ""},
};
#undef F

static void usage(FILE *f)
{
    fprintf(f, "usage: cptop [OPTIONS] [MODE]\n"
               "Live view of a streaming job's checkpoints, from the agent it embeds or\n"
               "from an Apache Flink cluster's REST API (--flink URL).\n"
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
    if (s->kind == O_HEADER) {
        if (o->n_headers == CPT_HTTP_MAX_HEADERS) {
            fprintf(stderr, "cptop: at most %d --header\n", CPT_HTTP_MAX_HEADERS);
            return 2;
        }
        o->headers[o->n_headers++] = v;
    } else if (s->kind == O_FLAG) {
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
        /* --json after (or before) --advise asks for its JSON form */
        if (!strcmp(a, "--json") && (*m)->run == cptop_advise) {
            o->json = true;
            continue;
        }
        const mode *found = NULL;
        for (size_t k = 1; k < sizeof modes / sizeof modes[0]; k++)
            if (!strcmp(modes[k].name, a))
                found = &modes[k];
        if (!found) {
            fprintf(stderr, "cptop: unknown argument '%s' (see cptop --help)\n", a);
            return 2;
        }
        if (found->run == cptop_advise && (*m)->run == cptop_json)
            o->json = true;
        *m = found;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cptop_opts o = {.timeout_ms = 5000, .history = 1000, .detail = 50, .log_lines = 5000,
                    .poll_ms = 1000};
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
    /* the dashboard and --advise read a replay themselves */
    if (o.replay && m->run != cptop_dashboard && m->run != cptop_advise)
        return cptop_replay(&o, argc - words, argv + words, m->run == cptop_json,
                            m->run == cptop_once);
    if (o.replay && (o.record || o.headless)) {
        fprintf(stderr, "cptop: --replay shows a recording: --record and --headless are for a "
                        "live job\n");
        return 2;
    }
    if (o.headless)
        return cptop_record_headless(&o);
    if (o.record && m->run != cptop_dashboard) {
        fprintf(stderr, "cptop: --record goes with the dashboard or --headless\n");
        return 2;
    }
    if ((rc = cptop_record_open(&o)))
        return rc;
    rc = m->run(&o, argc - words, argv + words);
    return o.record && cptop_record_close() && !rc ? 1 : rc;
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

cpt_src_flink_conf cptop_flink_conf(const cptop_opts *o)
{
    cpt_src_flink_conf c = {.job = o->job, .poll_ms = o->poll_ms, .history = o->history,
                            .detail = o->detail};
    c.http.base = o->flink;
    for (int i = 0; i < o->n_headers; i++)
        c.http.headers[i] = o->headers[i];
    c.http.n_headers = o->n_headers;
    c.http.user = o->user;
    c.http.cacert = o->cacert;
    c.http.insecure = o->insecure;
    c.http.timeout_ms = o->timeout_ms;
    return c;
}

int cptop_open_source(const cptop_opts *o, cpt_source **src)
{
    char err[400];
    if (o->flink) {
        cpt_src_flink_conf c = cptop_flink_conf(o);
        if (!(*src = cpt_src_flink_new(&c, err, sizeof err))) {
            cptop_complain(err);
            return 2;
        }
        return 0;
    }
    cpt_target t;
    int rc = cptop_find(o, &t);
    if (rc)
        return rc;
    if (!(*src = cpt_src_agent_new(&t, o->timeout_ms, err, sizeof err))) {
        cptop_complain(err);
        return 1;
    }
    return 0;
}
