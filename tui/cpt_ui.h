/*
 * cpt_ui.h — the dashboard's interaction state (screen, focus, selection,
 * dialogs, the status line) and what each key does to it.
 *
 * Pure like the view: keys arrive as cpt_key codes (the terminal layer maps
 * curses' codes onto them), and a key that asks the job for something fills
 * a cpw_cmd for the event loop to send. Tests drive it with key codes
 * and check the resulting state and commands. Not thread-safe.
 */
#ifndef CPT_UI_H
#define CPT_UI_H

#include "cpt_advice.h"
#include "cpt_model.h"
#include "cpt_replay.h"

enum {
    CPT_KEY_NONE = -1,
    CPT_KEY_ESC = 27,
    CPT_KEY_ENTER = '\n',
    CPT_KEY_TAB = '\t',
    CPT_KEY_BACKSPACE = 127,
    CPT_KEY_UP = 0x110000,
    CPT_KEY_DOWN,
    CPT_KEY_LEFT,
    CPT_KEY_RIGHT,
    CPT_KEY_PGUP,
    CPT_KEY_PGDN,
    CPT_KEY_HOME,
    CPT_KEY_END,
    CPT_KEY_F1,
    CPT_KEY_BTAB,     /* shift-tab */
    CPT_KEY_RESIZE,
};

typedef enum cpt_screen {
    CPT_SCR_MAIN = 0,   /* header, in flight, history (and events when tall) */
    CPT_SCR_DETAIL,     /* one checkpoint, per subtask, with a timeline */
    CPT_SCR_SUMMARY,    /* percentiles and timeout advice */
    CPT_SCR_EVENTS,     /* the event log, full screen */
    CPT_SCR_ADVICE,     /* tuning advice from the history (cpt_advice) */
    CPT_SCR_JOBS,       /* the cluster's jobs (a source that lists them); Enter watches one */
} cpt_screen;

typedef enum cpt_pane {
    CPT_PANE_INFLIGHT = 0,
    CPT_PANE_HISTORY,
    CPT_PANE_EVENTS,
    CPT_PANE__COUNT
} cpt_pane;

typedef enum cpt_overlay {
    CPT_OV_NONE = 0,
    CPT_OV_HELP,
    CPT_OV_CONFIRM_ABORT,
    CPT_OV_FAIL,        /* the failure menu, several steps */
    CPT_OV_CONFIG,      /* interval / timeout / tolerable failures */
    CPT_OV_FILTER,      /* typing the event filter */
    CPT_OV_PICKER,      /* choosing one of several jobs */
    CPT_OV_CONFIRM_APPLY, /* applying the selected advice: y sends set_config */
    CPT_OV_JUMP,        /* a replay: typing the time to jump to */
    CPT_OV_CONFIRM_SAVEPOINT, /* t where no checkpoint trigger exists: y takes a savepoint */
} cpt_overlay;

#define CPT_PICK_MAX 32

typedef struct cpt_ui {
    int screen, pane, overlay;
    bool read_only;
    bool unicode;          /* draw with Unicode glyphs, else ASCII only */
    bool events_pane;      /* the view had room for the events pane (set by the view) */
    int page;              /* rows in the focused list (set by the view) */

    int sel_inflight;
    int sel_history, top_history;
    uint64_t hist_seen;    /* finished checkpoints when the selection was last synced */
    bool hist_synced;
    int events_scroll;     /* lines back from the newest; 0 follows */
    int detail_scroll;
    int64_t detail_id, detail_trigger_ts;  /* which checkpoint the detail shows */

    char filter[64];
    char input[64];        /* the text being typed in a dialog */
    bool input_fresh;      /* input holds a default: the first key replaces it */
    int menu_sel;
    int step;              /* which question of a dialog (failure menu, settings) */
    int fail_kind;         /* index into the job's failure table, -1: none yet */
    int fail_op, fail_sub; /* the target chosen, -1: none */
    char fail_vals[CPW_FAILURE_MAX_PARAMS][24]; /* the parameters entered so far */
    int64_t abort_id;

    int pick_n, pick_sel;
    int jobs_sel;          /* the overview's selected row (m->jobs) */
    char pick_label[CPT_PICK_MAX][160];

    /* the Advice screen (cpt_advice_ui.c) */
    int adv_sel;           /* the selected item */
    bool t_savepoint;      /* t offers a savepoint instead (a Flink cluster older than
                            * 1.17: no REST checkpoint trigger; set by the loop) */
    bool adv_no_set;       /* the source cannot change settings at run time (a Flink
                              job): the screen shows flink-conf lines instead */
    int adv_max_overhead_pct;   /* budgets (cptop --max-overhead, --max-replay); 0: none */
    int64_t adv_max_replay_us;
    cpt_advice adv;        /* as last computed; recomputed when the history changes
                              and once a second (the cost of a failure grows) */
    const cpt_model *adv_model;
    uint64_t adv_hist;
    int64_t adv_sec;

    /* a replay (cpt_ui_replay.c): its keys, its header line */
    bool replay;           /* showing a recording, not a live job */
    cpt_replay_info rp;    /* the player's figures, as the loop last read them */
    cpt_replay_req rp_req; /* what CPT_ACT_REPLAY asks the loop to do */

    char status[200];      /* the status line: replies, refusals, hints */
    bool status_bad;
    int64_t status_ts;     /* shown 15 s; in a replay, "now" is recorded time: the loop
                              clears the status itself, the view shows it while set */
    bool cmd_pending;      /* a command is waiting for its reply */
} cpt_ui;

typedef enum cpt_action {
    CPT_ACT_NONE = 0,      /* nothing changed */
    CPT_ACT_REDRAW,        /* the ui changed */
    CPT_ACT_QUIT,
    CPT_ACT_COMMAND,       /* send *cmd */
    CPT_ACT_PICK,          /* switch to job ui->pick_sel */
    CPT_ACT_WATCH,         /* watch the cluster's job m->jobs[ui->jobs_sel] */
    CPT_ACT_REPLAY,        /* a replay: do ui->rp_req (cpt_replay_do) */
} cpt_action;

void cpt_ui_init(cpt_ui *ui, bool read_only, bool unicode);

/* Keeps the history selection on the same checkpoint as new ones arrive,
 * and clamps selections to what exists. Call before rendering. */
void cpt_ui_sync(cpt_ui *ui, const cpt_model *m);

/* Handles one key. On CPT_ACT_COMMAND, *cmd holds the command to send. */
cpt_action cpt_ui_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd,
                      int64_t now_us);

/* Sets the status line (a reply, a refusal, a hint). */
void cpt_ui_status(cpt_ui *ui, bool bad, int64_t now_us, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The failure menu (cpt_ui_fail.c): opens it on the job's table; handles a
 * key while it is open. The menu is the job's announced table, nothing
 * built in: a job without one (or with an empty one) gets an explanation. */
void cpt_ui_fail_open(cpt_ui *ui);
cpt_action cpt_ui_fail_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now_us);

/* A dialog's line editor: printable ASCII and backspace into buf (size
 * bytes); a default still untouched (*fresh) is replaced by the first key.
 * true when the key was consumed. */
bool cpt_ui_edit(char *buf, size_t size, int key, bool *fresh);

/* The Advice screen (cpt_advice_ui.c): the advice for m at now, from the
 * ui's cache (the same for the view and the keys, so what is applied is
 * what was shown); keys on the screen (NONE: not one of its keys); the
 * y/n answer of the confirmation. */
const cpt_advice *cpt_advice_ui_get(cpt_ui *ui, const cpt_model *m, int64_t now_us);
cpt_action cpt_advice_ui_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now_us);
cpt_action cpt_advice_ui_confirm(cpt_ui *ui, int key, cpw_cmd *cmd, int64_t now_us);
/* Whether applying s sends it: the job announced the key and runs with
 * another value (durations compared as durations). */
bool cpt_advice_ui_sends(const cpt_adv_setting *s);

/* The replay's keys (cpt_ui_replay.c), only when ui->replay: Space pause,
 * t/T next/previous checkpoint event, ]/[ ±10 s, b jump to a typed time
 * (opens CPT_OV_JUMP), r rewind, Z end, +/- speed. A key that asks the
 * player for something returns CPT_ACT_REPLAY with ui->rp_req filled;
 * NONE: not a replay key (the live keys take it). */
cpt_action cpt_ui_replay_key(cpt_ui *ui, int key, int64_t now_us);
/* A key while the jump prompt is open: the line editor, Enter asks for the
 * jump, Esc cancels. */
cpt_action cpt_ui_jump_key(cpt_ui *ui, int key, int64_t now_us);
/* Whether key is one of the replay's in this ui's state (the loop lets it
 * through instead of refusing it as a command the source cannot do). */
bool cpt_ui_replay_takes(const cpt_ui *ui, int key);

/* The checkpoint the detail screen shows: in flight or in the history;
 * NULL when it is gone from both. */
const cpw_cp *cpt_ui_detail_cp(const cpt_ui *ui, const cpt_model *m);

#endif /* CPT_UI_H */
