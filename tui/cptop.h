/*
 * cptop.h — internal to the cptop program: its options, its modes and what
 * they share. The program is a table of modes (cptop.c): each is a name on
 * the command line, its usage lines and one function in a file of its own.
 * A new mode is a new file and a row in that table.
 *
 *   cptop.c         main: options, the mode table, usage; shared helpers
 *   cptop_dash.c    the interactive dashboard (its event loop), live or --replay
 *   cptop_list.c    --list
 *   cptop_json.c    --json
 *   cptop_once.c    --once
 *   cptop_ctl.c     ctl trigger | abort | fail | set
 *   cptop_advise.c  --advise (tuning advice, --what-if)
 *   cptop_replay.c  --replay FILE (--once, --json; the state --advise reads)
 *   cptop_record.c  --record FILE [--headless]
 *
 * The modes print (they are the program's edge); every string that came
 * from a job or from disk goes through cpw_sanitize() on its way to a
 * terminal and cpw_json_sanitize() on its way into --json. Single-threaded.
 */
#ifndef CPTOP_H
#define CPTOP_H

#include <signal.h>

#include "cpt_link.h"
#include "cpt_replay.h"
#include "cpt_source.h"
#include "cpt_target.h"
#include "cpw.h"

typedef struct cptop_opts {
    bool read_only;           /* --read-only */
    bool no_color, ascii;     /* --no-color, --ascii */
    int history, detail, log_lines;
    const char *job;          /* --job ID or NAME */
    const char *connect;      /* --connect URL (events URL; commands on PORT+1) */
    const char *secret_file;  /* --secret-file PATH */
    const char *runtime_dir;  /* --runtime-dir DIR */
    int timeout_ms;           /* --timeout MS: each request's reply */
    bool verbose;             /* --verbose: ctl says how long the answer took */
    /* watching Apache Flink instead of an agent */
    const char *flink;        /* --flink URL of a JobManager's REST API */
    int poll_ms;              /* --poll MS: /checkpoints every MS (default 1000) */
    const char *headers[CPT_HTTP_MAX_HEADERS]; /* --header 'Name: value' (repeatable) */
    int n_headers;
    const char *user;         /* --user USER:PASSWORD */
    const char *cacert;       /* --cacert FILE */
    bool insecure;            /* --insecure */
    bool json;                /* --advise --json: one JSON object */
    int max_overhead;         /* --max-overhead P: % of time checkpointing (0: 10) */
    const char *max_replay;   /* --max-replay D: input a restart may replay */
    const char *what_if;      /* --what-if KEY=VALUE */
    const char *replay;       /* --replay FILE (cptop_replay.c) */
    const char *record;       /* --record FILE (cptop_record.c) */
    const char *record_max;   /* --record-max SIZE */
    bool headless;            /* --headless: record without a terminal */
    const char *at, *from, *to; /* --at / --from / --to TIME in a replay */
} cptop_opts;

/* A mode: argv[0 … argc) are the words after it (ctl's command). Returns
 * the exit status: 0 ok, 1 the job refused or is unreachable, 2 bad usage. */
typedef int (*cptop_mode_fn)(const cptop_opts *o, int argc, char **argv);

int cptop_dashboard(const cptop_opts *o, int argc, char **argv);
int cptop_list(const cptop_opts *o, int argc, char **argv);
int cptop_json(const cptop_opts *o, int argc, char **argv);
int cptop_once(const cptop_opts *o, int argc, char **argv);
/* --once's text for state s at now_us (elapsed times of checkpoints in
 * flight), its newest max_history history entries (-1: all); the live
 * --once and --replay FILE --once both print through it. */
#define CPTOP_ONCE_HISTORY 10
void cptop_once_print(const cpw_state *s, int64_t now_us, int max_history);
int cptop_ctl(const cptop_opts *o, int argc, char **argv);
int cptop_advise(const cptop_opts *o, int argc, char **argv);
/* --replay FILE with --json or --once (cptop_replay.c); without them the
 * dashboard replays (cptop_dash.c). */
int cptop_replay(const cptop_opts *o, int argc, char **argv, bool json, bool once);
/* --advise --replay FILE [--at T]: the model as it stood at T (default:
 * the recording's end; *at gets it), played from --from, else from
 * look_back_us before T (0: from the recording's start), so that obs (NULL:
 * none) sees every recorded message of that stretch. 0, or an exit status after complaining; *m is
 * then the caller's to cpt_model_free. */
int cptop_replay_state(const cptop_opts *o, int64_t look_back_us, cpt_replay_msg_fn obs, void *ud,
                       cpt_model **m, int64_t *at);

/* --record (cptop_record.c): opens the recording the options name (0, or
 * an exit status after complaining); attaches a source's tap and follows
 * its model; ticks; closes (0, or 1 after complaining). Single-threaded. */
struct cpt_source;
int cptop_record_open(const cptop_opts *o);
void cptop_record_attach(struct cpt_source *src, const cpt_model *m);
void cptop_record_detach(const cpt_model *m);
void cptop_record_tick(int64_t now_us);
int cptop_record_close(void);
/* --record FILE --headless: the recording service's loop. */
int cptop_record_headless(const cptop_opts *o);

/* Set by SIGINT/SIGTERM: every loop ends soon after. */
extern volatile sig_atomic_t cptop_quit;

/* Prints text for the user on stderr, "cptop: " first, each line sanitised. */
void cptop_complain(const char *text);

/* The options as a cpt_where. */
cpt_where cptop_where(const cptop_opts *o);

/* The one job the options name (cpt_target_resolve), complaining when there
 * is none or several. Returns the exit status to give (0: found). */
int cptop_find(const cptop_opts *o, cpt_target *t);

/* The source the options name (a Flink cluster with --flink, else the one
 * job's agent, cptop_find),
 * complaining when there is none. Returns the exit status to give (0:
 * *src is open; cpt_source_destroy it). */
int cptop_open_source(const cptop_opts *o, cpt_source **src);
/* The --flink options as a source's configuration (pointing into o). */
cpt_src_flink_conf cptop_flink_conf(const cptop_opts *o);

#endif /* CPTOP_H */
