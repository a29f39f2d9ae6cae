/*
 * cptop.h — internal to the cptop program: its options, its modes and what
 * they share. The program is a table of modes (cptop.c): each is a name on
 * the command line, its usage lines and one function in a file of its own.
 * A new mode is a new file and a row in that table.
 *
 *   cptop.c         main: options, the mode table, usage; shared helpers
 *   cptop_dash.c    the interactive dashboard (its event loop)
 *   cptop_list.c    --list
 *   cptop_json.c    --json
 *   cptop_once.c    --once
 *   cptop_ctl.c     ctl trigger | abort | fail | set
 *   cptop_replay.c  --replay FILE (--once, --json)
 *
 * The modes print (they are the program's edge); every string that came
 * from a job or from disk goes through cpw_sanitize() on its way to a
 * terminal and cpw_json_sanitize() on its way into --json. Single-threaded.
 */
#ifndef CPTOP_H
#define CPTOP_H

#include <signal.h>

#include "cpt_link.h"
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
    const char *replay;       /* --replay FILE (cptop_replay.c) */
    const char *at, *from, *to; /* --at / --from / --to TIME in a replay */
} cptop_opts;

/* A mode: argv[0 … argc) are the words after it (ctl's command). Returns
 * the exit status: 0 ok, 1 the job refused or is unreachable, 2 bad usage. */
typedef int (*cptop_mode_fn)(const cptop_opts *o, int argc, char **argv);

int cptop_dashboard(const cptop_opts *o, int argc, char **argv);
int cptop_list(const cptop_opts *o, int argc, char **argv);
int cptop_json(const cptop_opts *o, int argc, char **argv);
int cptop_once(const cptop_opts *o, int argc, char **argv);
int cptop_ctl(const cptop_opts *o, int argc, char **argv);
/* --replay FILE with --json or --once (cptop_replay.c). */
int cptop_replay(const cptop_opts *o, int argc, char **argv, bool json, bool once);

/* Set by SIGINT/SIGTERM: every loop ends soon after. */
extern volatile sig_atomic_t cptop_quit;

/* Prints text for the user on stderr, "cptop: " first, each line sanitised. */
void cptop_complain(const char *text);

/* The options as a cpt_where. */
cpt_where cptop_where(const cptop_opts *o);

/* The one job the options name (cpt_target_resolve), complaining when there
 * is none or several. Returns the exit status to give (0: found). */
int cptop_find(const cptop_opts *o, cpt_target *t);

/* One request and its reply, blocking up to timeout_ms for each step.
 * 0 with reply filled (cpw_msg_clear() it), or 1 after complaining. */
int cptop_request(const cpt_target *t, const cpw_command *cmd, int timeout_ms, cpw_msg *reply);

/* get_state with `history` entries (-1: the agent's default): 0 with *r
 * holding the reply and its state, or 1 after complaining. */
int cptop_get_state(const cpt_target *t, int history, int timeout_ms, cpw_msg *r);

#endif /* CPTOP_H */
