/* cpt_ui.c — see cpt_ui.h. */
#include "cpt_ui.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cpt_ui_init(cpt_ui *ui, bool read_only, bool unicode)
{
    memset(ui, 0, sizeof *ui);
    ui->read_only = read_only;
    ui->unicode = unicode;
    ui->page = 10;
}

void cpt_ui_status(cpt_ui *ui, bool bad, int64_t now_us, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->status, sizeof ui->status, fmt, ap);
    va_end(ap);
    ui->status_bad = bad;
    ui->status_ts = now_us;
}

static uint64_t finished(const cpt_model *m)
{
    return (uint64_t)(m->st->counts.completed + m->st->counts.failed);
}

void cpt_ui_sync(cpt_ui *ui, const cpt_model *m)
{
    uint64_t f = finished(m);
    if (!ui->hist_synced || f < ui->hist_seen) {
        ui->hist_seen = f; /* first look, or another job's model */
        ui->hist_synced = true;
    }
    if (ui->sel_history > 0 && f > ui->hist_seen) {
        /* each finished checkpoint pushes the history down one row */
        uint64_t d = f - ui->hist_seen;
        ui->sel_history = d > (uint64_t)m->st->n_history ? m->st->n_history : ui->sel_history + (int)d;
        ui->top_history += (int)(d > 1000000 ? 1000000 : d);
    }
    ui->hist_seen = f;
    int nh = m->st->n_history;
    if (ui->sel_history >= nh)
        ui->sel_history = nh ? nh - 1 : 0;
    if (ui->sel_history < 0)
        ui->sel_history = 0;
    if (ui->top_history > ui->sel_history)
        ui->top_history = ui->sel_history;
    if (ui->top_history < 0)
        ui->top_history = 0;
    int ni = m->st->n_inflight;
    if (ui->sel_inflight >= ni)
        ui->sel_inflight = ni ? ni - 1 : 0;
    if (ui->events_scroll > m->log_n)
        ui->events_scroll = m->log_n;
    if (ui->events_scroll < 0)
        ui->events_scroll = 0;
    if (ui->detail_scroll < 0)
        ui->detail_scroll = 0;
    if (ui->jobs_sel >= m->n_jobs)
        ui->jobs_sel = m->n_jobs ? m->n_jobs - 1 : 0;
    if (ui->jobs_sel < 0)
        ui->jobs_sel = 0;
}

const cpw_cp *cpt_ui_detail_cp(const cpt_ui *ui, const cpt_model *m)
{
    for (int i = 0; i < m->st->n_inflight; i++)
        if (m->st->inflight[i].id == ui->detail_id &&
            m->st->inflight[i].trigger_ts == ui->detail_trigger_ts)
            return &m->st->inflight[i];
    for (int i = 0; i < m->st->n_history; i++) {
        const cpw_cp *cp = cpw_state_history(m->st, i);
        if (cp->id == ui->detail_id && cp->trigger_ts == ui->detail_trigger_ts)
            return cp;
    }
    return NULL;
}

static void open_detail(cpt_ui *ui, const cpw_cp *cp)
{
    ui->detail_id = cp->id;
    ui->detail_trigger_ts = cp->trigger_ts;
    ui->detail_scroll = 0;
    ui->screen = CPT_SCR_DETAIL;
}

static bool refuse_read_only(cpt_ui *ui, int64_t now)
{
    if (!ui->read_only)
        return false;
    cpt_ui_status(ui, true, now, "read-only: actions are disabled (started with --read-only)");
    return true;
}

static bool busy(cpt_ui *ui, int64_t now)
{
    if (!ui->cmd_pending)
        return false;
    cpt_ui_status(ui, true, now, "still waiting for the reply to the previous command");
    return true;
}

static void move_sel(cpt_ui *ui, const cpt_model *m, int delta)
{
    if (ui->screen == CPT_SCR_DETAIL) {
        ui->detail_scroll += delta;
        return;
    }
    if (ui->screen == CPT_SCR_EVENTS || (ui->screen == CPT_SCR_MAIN && ui->pane == CPT_PANE_EVENTS)) {
        ui->events_scroll -= delta; /* down: towards the newest */
        return;
    }
    if (ui->screen != CPT_SCR_MAIN)
        return;
    if (ui->pane == CPT_PANE_INFLIGHT)
        ui->sel_inflight += delta;
    else
        ui->sel_history += delta;
    cpt_ui_sync(ui, m);
}

bool cpt_ui_edit(char *buf, size_t size, int key, bool *fresh)
{
    if (*fresh && ((key >= 0x20 && key < 0x7F) || key == CPT_KEY_BACKSPACE || key == 8 || key == 263))
        buf[0] = 0;
    *fresh = false;
    size_t n = strlen(buf);
    if (key == CPT_KEY_BACKSPACE || key == 8 || key == 263 /* KEY_BACKSPACE */) {
        if (n)
            buf[n - 1] = 0;
        return true;
    }
    if (key >= 0x20 && key < 0x7F) {
        if (n + 1 < size) {
            buf[n] = (char)key;
            buf[n + 1] = 0;
        }
        return true;
    }
    return false;
}

static bool edit(char *buf, size_t size, int key)
{
    bool fresh = false;
    return cpt_ui_edit(buf, size, key, &fresh);
}

static const char *config_value(const cpt_model *m, const char *key)
{
    const cpw_hello *h = &m->st->hello;
    for (int i = 0; i < h->n_config; i++)
        if (!strcmp(h->config_keys[i], key))
            return h->config_values[i];
    return "";
}

static const char *const cfg_keys[] = {"execution.checkpointing.interval",
                                       "execution.checkpointing.timeout",
                                       "execution.checkpointing.tolerable-failed-checkpoints"};

static cpt_action config_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    if (ui->step == 0) { /* choosing a row */
        if (key == CPT_KEY_ESC || key == 'q' || key == 'c') {
            ui->overlay = CPT_OV_NONE;
        } else if (key == CPT_KEY_UP || key == 'k') {
            ui->menu_sel = ui->menu_sel > 0 ? ui->menu_sel - 1 : 0;
        } else if (key == CPT_KEY_DOWN || key == 'j') {
            ui->menu_sel = ui->menu_sel < 2 ? ui->menu_sel + 1 : 2;
        } else if (key == CPT_KEY_ENTER) {
            if (refuse_read_only(ui, now)) {
                ui->overlay = CPT_OV_NONE;
                return CPT_ACT_REDRAW;
            }
            ui->step = 1;
            cpw_sanitize(config_value(m, cfg_keys[ui->menu_sel]), ui->input, sizeof ui->input);
            ui->input_fresh = true;
        }
        return CPT_ACT_REDRAW;
    }
    if (key == CPT_KEY_ESC) {
        ui->step = 0;
        return CPT_ACT_REDRAW;
    }
    if (key != CPT_KEY_ENTER) {
        cpt_ui_edit(ui->input, sizeof ui->input, key, &ui->input_fresh);
        return CPT_ACT_REDRAW;
    }
    if (busy(ui, now))
        return CPT_ACT_REDRAW;
    memset(cmd, 0, sizeof *cmd);
    cmd->type = CPW_CMD_SET_CONFIG;
    cmd->op = cmd->subtask = -1;
    cmd->n_params = 1;
    snprintf(cmd->keys[0], sizeof cmd->keys[0], "%s", cfg_keys[ui->menu_sel]);
    snprintf(cmd->values[0], sizeof cmd->values[0], "%s", ui->input);
    ui->overlay = CPT_OV_NONE;
    return CPT_ACT_COMMAND;
}

static cpt_action overlay_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd,
                              int64_t now)
{
    switch (ui->overlay) {
    case CPT_OV_HELP:
        ui->overlay = CPT_OV_NONE; /* any key closes help */
        return CPT_ACT_REDRAW;
    case CPT_OV_CONFIRM_ABORT:
        ui->overlay = CPT_OV_NONE;
        if (key != 'y' && key != 'Y') {
            cpt_ui_status(ui, false, now, "abort cancelled");
            return CPT_ACT_REDRAW;
        }
        if (busy(ui, now))
            return CPT_ACT_REDRAW;
        memset(cmd, 0, sizeof *cmd);
        cmd->type = CPW_CMD_ABORT;
        cmd->cp_id = ui->abort_id;
        cmd->op = cmd->subtask = -1;
        return CPT_ACT_COMMAND;
    case CPT_OV_CONFIRM_SAVEPOINT:
        ui->overlay = CPT_OV_NONE;
        if (key != 'y' && key != 'Y') {
            cpt_ui_status(ui, false, now, "no savepoint taken");
            return CPT_ACT_REDRAW;
        }
        if (busy(ui, now))
            return CPT_ACT_REDRAW;
        memset(cmd, 0, sizeof *cmd);
        cmd->type = CPW_CMD_TRIGGER;
        cmd->op = cmd->subtask = -1;
        cmd->n_params = 1;
        snprintf(cmd->keys[0], sizeof cmd->keys[0], "type");
        snprintf(cmd->values[0], sizeof cmd->values[0], "savepoint");
        return CPT_ACT_COMMAND;
    case CPT_OV_FAIL: {
        cpt_action a = cpt_ui_fail_key(ui, m, key, cmd, now);
        if (a == CPT_ACT_COMMAND && busy(ui, now))
            return CPT_ACT_REDRAW;
        return a;
    }
    case CPT_OV_CONFIG:
        return config_key(ui, m, key, cmd, now);
    case CPT_OV_CONFIRM_APPLY:
        return cpt_advice_ui_confirm(ui, key, cmd, now);
    case CPT_OV_JUMP:
        return cpt_ui_jump_key(ui, key, now);
    case CPT_OV_FILTER:
        if (key == CPT_KEY_ESC) {
            ui->filter[0] = 0;
            ui->overlay = CPT_OV_NONE;
        } else if (key == CPT_KEY_ENTER) {
            ui->overlay = CPT_OV_NONE;
        } else {
            edit(ui->filter, sizeof ui->filter, key);
        }
        ui->events_scroll = 0;
        return CPT_ACT_REDRAW;
    case CPT_OV_PICKER:
        if (key == CPT_KEY_UP || key == 'k')
            ui->pick_sel = ui->pick_sel > 0 ? ui->pick_sel - 1 : 0;
        else if (key == CPT_KEY_DOWN || key == 'j')
            ui->pick_sel = ui->pick_sel + 1 < ui->pick_n ? ui->pick_sel + 1 : ui->pick_sel;
        else if (key == CPT_KEY_ENTER && ui->pick_n > 0) {
            ui->overlay = CPT_OV_NONE;
            return CPT_ACT_PICK;
        } else if (key == 'q')
            return CPT_ACT_QUIT;
        else if (key == CPT_KEY_ESC && m->st->hello.n_ops)
            ui->overlay = CPT_OV_NONE; /* back to the job already shown */
        return CPT_ACT_REDRAW;
    default:
        ui->overlay = CPT_OV_NONE;
        return CPT_ACT_REDRAW;
    }
}

/* ------------------------------------------------------------------ keys
 * One handler per action, and a table from keys to handlers. */

typedef cpt_action (*key_fn)(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now);

static cpt_action k_quit(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)ui, (void)m, (void)key, (void)cmd, (void)now;
    return CPT_ACT_QUIT;
}

static cpt_action k_help(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd, (void)now;
    ui->overlay = CPT_OV_HELP;
    return CPT_ACT_REDRAW;
}

static cpt_action k_main(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)cmd, (void)now;
    if (ui->screen == CPT_SCR_MAIN && key == CPT_KEY_ESC && ui->filter[0])
        ui->filter[0] = 0;
    ui->screen = CPT_SCR_MAIN;
    return CPT_ACT_REDRAW;
}

static cpt_action k_summary(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd, (void)now;
    ui->screen = ui->screen == CPT_SCR_SUMMARY ? CPT_SCR_MAIN : CPT_SCR_SUMMARY;
    return CPT_ACT_REDRAW;
}

static cpt_action k_advice(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd, (void)now;
    ui->screen = ui->screen == CPT_SCR_ADVICE ? CPT_SCR_MAIN : CPT_SCR_ADVICE;
    return CPT_ACT_REDRAW;
}

static cpt_action k_events(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd, (void)now;
    ui->screen = ui->screen == CPT_SCR_EVENTS ? CPT_SCR_MAIN : CPT_SCR_EVENTS;
    return CPT_ACT_REDRAW;
}

static cpt_action k_pane(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)cmd, (void)now;
    ui->screen = CPT_SCR_MAIN;
    ui->pane = (ui->pane + (key == CPT_KEY_BTAB ? CPT_PANE__COUNT - 1 : 1)) % CPT_PANE__COUNT;
    return CPT_ACT_REDRAW;
}

static cpt_action k_move(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)cmd, (void)now;
    int page = ui->page > 1 ? ui->page - 1 : 1;
    int d = key == CPT_KEY_UP || key == 'k' ? -1
          : key == CPT_KEY_DOWN || key == 'j' ? 1
          : key == CPT_KEY_PGUP ? -page
          : key == CPT_KEY_PGDN ? page
          : key == CPT_KEY_HOME || key == 'g' ? -1000000 : 1000000;
    move_sel(ui, m, d);
    return CPT_ACT_REDRAW;
}

static cpt_action k_filter(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd, (void)now;
    if (ui->screen != CPT_SCR_EVENTS && !(ui->screen == CPT_SCR_MAIN && ui->events_pane))
        ui->screen = CPT_SCR_EVENTS;
    if (ui->screen == CPT_SCR_MAIN)
        ui->pane = CPT_PANE_EVENTS;
    ui->overlay = CPT_OV_FILTER;
    return CPT_ACT_REDRAW;
}

static cpt_action k_detail(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)key, (void)cmd;
    if (ui->screen != CPT_SCR_MAIN)
        return CPT_ACT_NONE;
    const cpw_cp *cp = NULL;
    if (ui->pane == CPT_PANE_INFLIGHT && m->st->n_inflight)
        cp = &m->st->inflight[ui->sel_inflight < m->st->n_inflight ? ui->sel_inflight : 0];
    else if (ui->pane == CPT_PANE_HISTORY)
        cp = cpw_state_history(m->st, ui->sel_history);
    else if (m->st->n_inflight)
        cp = &m->st->inflight[0];
    if (!cp) {
        cpt_ui_status(ui, false, now, "no checkpoint selected");
        return CPT_ACT_REDRAW;
    }
    open_detail(ui, cp);
    return CPT_ACT_REDRAW;
}

static cpt_action k_trigger(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key;
    if (refuse_read_only(ui, now) || busy(ui, now))
        return CPT_ACT_REDRAW;
    if (ui->t_savepoint) { /* asked first: a savepoint is not a checkpoint */
        ui->overlay = CPT_OV_CONFIRM_SAVEPOINT;
        return CPT_ACT_REDRAW;
    }
    memset(cmd, 0, sizeof *cmd);
    cmd->type = CPW_CMD_TRIGGER;
    cmd->op = cmd->subtask = -1;
    return CPT_ACT_COMMAND;
}

static cpt_action k_abort(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)key, (void)cmd;
    if (refuse_read_only(ui, now) || busy(ui, now))
        return CPT_ACT_REDRAW;
    const cpw_cp *cp = NULL;
    if (ui->screen == CPT_SCR_DETAIL) {
        cp = cpt_ui_detail_cp(ui, m);
        if (cp && cp->status != CPW_CP_IN_PROGRESS)
            cp = NULL;
    } else if (m->st->n_inflight) {
        cp = &m->st->inflight[ui->pane == CPT_PANE_INFLIGHT && ui->sel_inflight < m->st->n_inflight
                                  ? ui->sel_inflight : 0];
    }
    if (!cp) {
        cpt_ui_status(ui, true, now, "no checkpoint in flight to abort");
        return CPT_ACT_REDRAW;
    }
    ui->abort_id = cp->id;
    ui->overlay = CPT_OV_CONFIRM_ABORT;
    return CPT_ACT_REDRAW;
}

static cpt_action k_fail(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd;
    if (refuse_read_only(ui, now) || busy(ui, now))
        return CPT_ACT_REDRAW;
    cpt_ui_fail_open(ui);
    return CPT_ACT_REDRAW;
}

static cpt_action k_config(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd, (void)now;
    ui->overlay = CPT_OV_CONFIG;
    ui->step = 0;
    ui->menu_sel = 0;
    return CPT_ACT_REDRAW;
}

static cpt_action k_jobs(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)m, (void)key, (void)cmd;
    if (ui->pick_n > 1) {
        ui->overlay = CPT_OV_PICKER;
        return CPT_ACT_REDRAW;
    }
    cpt_ui_status(ui, false, now, "only one job is running");
    return CPT_ACT_REDRAW;
}

/* o: the cluster's jobs, the watched one selected (again: back). */
static cpt_action k_overview(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)key, (void)cmd, (void)now;
    if (ui->screen == CPT_SCR_JOBS) {
        ui->screen = CPT_SCR_MAIN;
        return CPT_ACT_REDRAW;
    }
    ui->screen = CPT_SCR_JOBS;
    for (int i = 0; i < m->n_jobs; i++)
        if (m->jobs[i].watched)
            ui->jobs_sel = i;
    return CPT_ACT_REDRAW;
}

/* The overview's own keys: moving, Enter watches the selected job (the
 * one already watched: back to its main screen). NONE: not one of them. */
static cpt_action jobs_key(cpt_ui *ui, const cpt_model *m, int key)
{
    static const struct {
        int key, delta;
    } moves[] = {{CPT_KEY_UP, -1}, {'k', -1}, {CPT_KEY_DOWN, 1}, {'j', 1},
                 {CPT_KEY_HOME, -1000000}, {'g', -1000000}, {CPT_KEY_END, 1000000},
                 {'G', 1000000}, {CPT_KEY_PGUP, -10}, {CPT_KEY_PGDN, 10}};
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++)
        if (moves[i].key == key) {
            ui->jobs_sel += moves[i].delta;
            cpt_ui_sync(ui, m);
            return CPT_ACT_REDRAW;
        }
    if (key != CPT_KEY_ENTER && key != CPT_KEY_RIGHT)
        return CPT_ACT_NONE;
    if (ui->jobs_sel >= m->n_jobs)
        return CPT_ACT_REDRAW;
    ui->screen = CPT_SCR_MAIN;
    return m->jobs[ui->jobs_sel].watched ? CPT_ACT_REDRAW : CPT_ACT_WATCH;
}

static const struct {
    int key;
    key_fn fn;
} keymap[] = {
    {'q', k_quit},          {'Q', k_quit},
    {'?', k_help},          {'h', k_help},          {CPT_KEY_F1, k_help},
    {CPT_KEY_ESC, k_main},  {CPT_KEY_BACKSPACE, k_main}, {CPT_KEY_LEFT, k_main},
    {'1', k_main},          {'m', k_main},
    {'s', k_summary},       {'2', k_summary},
    {'e', k_events},        {'3', k_events},
    {'A', k_advice},        {'4', k_advice},
    {CPT_KEY_TAB, k_pane},  {CPT_KEY_BTAB, k_pane},
    {CPT_KEY_UP, k_move},   {'k', k_move},          {CPT_KEY_DOWN, k_move}, {'j', k_move},
    {CPT_KEY_PGUP, k_move}, {CPT_KEY_PGDN, k_move}, {CPT_KEY_HOME, k_move}, {'g', k_move},
    {CPT_KEY_END, k_move},  {'G', k_move},
    {'/', k_filter},
    {CPT_KEY_ENTER, k_detail}, {CPT_KEY_RIGHT, k_detail},
    {'t', k_trigger},       {'a', k_abort},         {'f', k_fail},
    {'c', k_config},        {'J', k_jobs},          {'o', k_overview},
};

cpt_action cpt_ui_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    if (key == CPT_KEY_RESIZE)
        return CPT_ACT_REDRAW;
    if (ui->overlay)
        return overlay_key(ui, m, key, cmd, now);
    if (ui->replay) {
        cpt_action a = cpt_ui_replay_key(ui, key, now);
        if (a != CPT_ACT_NONE)
            return a;
    }
    if (ui->screen == CPT_SCR_ADVICE) {
        cpt_action a = cpt_advice_ui_key(ui, m, key, cmd, now);
        if (a != CPT_ACT_NONE)
            return a;
    }
    if (ui->screen == CPT_SCR_JOBS) {
        cpt_action a = jobs_key(ui, m, key);
        if (a != CPT_ACT_NONE)
            return a;
    }
    for (size_t i = 0; i < sizeof keymap / sizeof keymap[0]; i++)
        if (keymap[i].key == key)
            return keymap[i].fn(ui, m, key, cmd, now);
    return CPT_ACT_NONE;
}
