/* cpt_ui.c — see cpt_ui.h. */
#include "cpt_ui.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cpt_fail_kind cpt_fail_kinds[] = {
    {"kill", "kill a subtask (task failure, restart from the last checkpoint)", true, NULL, NULL},
    {"stall", "stall the next barrier at a subtask", true, "ms", "stall for how many ms"},
    {"decline", "decline the next checkpoint at a subtask", true, NULL, NULL},
    {"fail-storage", "fail the next storage writes", false, "count", "how many writes fail"},
    {"slow-storage", "slow storage writes down (0 ms: back to normal)", false, "ms",
     "extra ms per write"},
    {"fail-commit", "fail the next sink commit", false, NULL, NULL},
    {"crash", "crash the whole job process (a supervisor restarts it)", false, NULL, NULL},
    {"broker-down", "take the Kafka broker down for a while", false, "secs", "down for how many s"},
    {"kafka-latency", "add Kafka round-trip latency (0 ms: none)", false, "ms",
     "added round trip ms"},
};
const int cpt_n_fail_kinds = (int)(sizeof cpt_fail_kinds / sizeof cpt_fail_kinds[0]);

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

/* A line editor for dialogs: printable ASCII, backspace. True if consumed.
 * A default value still untouched (*fresh) is replaced by the first key. */
static bool edit_fresh(char *buf, size_t size, int key, bool *fresh)
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
    return edit_fresh(buf, size, key, &fresh);
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

static void fail_param(cpt_ui *ui, const cpt_model *m, const cpt_fail_kind *k)
{
    /* sensible defaults: a stall long enough to expire the checkpoint */
    if (!strcmp(k->kind, "stall")) {
        int64_t ms = m->timeout_us > 0 ? m->timeout_us / 1000 + 2000 : 5000;
        snprintf(ui->input, sizeof ui->input, "%lld", (long long)(ms > 3600000 ? 3600000 : ms));
    } else if (!strcmp(k->param, "count")) {
        snprintf(ui->input, sizeof ui->input, "3");
    } else if (!strcmp(k->param, "secs")) {
        snprintf(ui->input, sizeof ui->input, "5");
    } else {
        snprintf(ui->input, sizeof ui->input, "500");
    }
}

static cpt_action fail_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    const cpt_fail_kind *k = &cpt_fail_kinds[ui->fail_kind];
    int n_ops = m->st->hello.n_ops;
    if (key == CPT_KEY_ESC) {
        ui->overlay = CPT_OV_NONE;
        return CPT_ACT_REDRAW;
    }
    switch (ui->fail_step) {
    case 0: /* which failure */
        if (key == CPT_KEY_UP || key == 'k')
            ui->menu_sel = ui->menu_sel > 0 ? ui->menu_sel - 1 : 0;
        else if (key == CPT_KEY_DOWN || key == 'j')
            ui->menu_sel = ui->menu_sel + 1 < cpt_n_fail_kinds ? ui->menu_sel + 1 : ui->menu_sel;
        else if (key >= '1' && key < '1' + cpt_n_fail_kinds)
            ui->menu_sel = key - '1', key = CPT_KEY_ENTER;
        if (key != CPT_KEY_ENTER)
            return CPT_ACT_REDRAW;
        ui->fail_kind = ui->menu_sel;
        k = &cpt_fail_kinds[ui->fail_kind];
        if (k->subtask) {
            if (n_ops == 0) {
                ui->overlay = CPT_OV_NONE;
                cpt_ui_status(ui, true, now, "the job has not told its topology yet");
                return CPT_ACT_REDRAW;
            }
            ui->fail_step = 1;
            ui->menu_sel = 0;
            return CPT_ACT_REDRAW;
        }
        break;
    case 1: /* which operator */
        if (key == CPT_KEY_UP || key == 'k')
            ui->menu_sel = ui->menu_sel > 0 ? ui->menu_sel - 1 : 0;
        else if (key == CPT_KEY_DOWN || key == 'j')
            ui->menu_sel = ui->menu_sel + 1 < n_ops ? ui->menu_sel + 1 : ui->menu_sel;
        if (key != CPT_KEY_ENTER)
            return CPT_ACT_REDRAW;
        ui->fail_op = ui->menu_sel < n_ops ? ui->menu_sel : 0;
        ui->fail_step = 2;
        snprintf(ui->input, sizeof ui->input, "0");
        ui->input_fresh = true;
        return CPT_ACT_REDRAW;
    case 2: { /* which subtask */
        if (key != CPT_KEY_ENTER) {
            if (key == CPT_KEY_BACKSPACE || key == 8 || key == 263 || isdigit(key))
                edit_fresh(ui->input, 8, key, &ui->input_fresh);
            return CPT_ACT_REDRAW;
        }
        int par = m->st->hello.ops[ui->fail_op].parallelism;
        char *end;
        long sub = strtol(ui->input, &end, 10);
        if (!ui->input[0] || *end || sub < 0 || sub >= par) {
            cpt_ui_status(ui, true, now, "subtask must be 0..%d", par - 1);
            return CPT_ACT_REDRAW;
        }
        ui->menu_sel = (int)sub; /* kept for the command */
        break;
    }
    case 3: /* the parameter */
        if (key != CPT_KEY_ENTER) {
            edit_fresh(ui->input, 12, key, &ui->input_fresh);
            return CPT_ACT_REDRAW;
        }
        if (!ui->input[0]) {
            cpt_ui_status(ui, true, now, "%s: a value is needed", k->param);
            return CPT_ACT_REDRAW;
        }
        goto send;
    }
    /* a subtask chosen (or none needed): ask for the parameter, if any */
    if (k->param && ui->fail_step < 3) {
        int sub = k->subtask ? ui->menu_sel : -1;
        ui->fail_step = 3;
        ui->menu_sel = sub;
        fail_param(ui, m, k);
        ui->input_fresh = true;
        return CPT_ACT_REDRAW;
    }
send:
    memset(cmd, 0, sizeof *cmd);
    cmd->type = CPW_CMD_INJECT_FAILURE;
    snprintf(cmd->kind, sizeof cmd->kind, "%s", k->kind);
    cmd->op = k->subtask ? ui->fail_op : -1;
    cmd->subtask = k->subtask ? ui->menu_sel : -1;
    if (k->param) {
        cmd->n_params = 1;
        snprintf(cmd->keys[0], sizeof cmd->keys[0], "%s", k->param);
        snprintf(cmd->values[0], sizeof cmd->values[0], "%s", ui->input);
    }
    ui->overlay = CPT_OV_NONE;
    return CPT_ACT_COMMAND;
}

static cpt_action config_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    if (ui->fail_step == 0) { /* choosing a row */
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
            ui->fail_step = 1;
            cpw_sanitize(config_value(m, cfg_keys[ui->menu_sel]), ui->input, sizeof ui->input);
            ui->input_fresh = true;
        }
        return CPT_ACT_REDRAW;
    }
    if (key == CPT_KEY_ESC) {
        ui->fail_step = 0;
        return CPT_ACT_REDRAW;
    }
    if (key != CPT_KEY_ENTER) {
        edit_fresh(ui->input, sizeof ui->input, key, &ui->input_fresh);
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
    case CPT_OV_FAIL: {
        cpt_action a = fail_key(ui, m, key, cmd, now);
        if (a == CPT_ACT_COMMAND && busy(ui, now))
            return CPT_ACT_REDRAW;
        return a;
    }
    case CPT_OV_CONFIG:
        return config_key(ui, m, key, cmd, now);
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

cpt_action cpt_ui_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    if (key == CPT_KEY_RESIZE)
        return CPT_ACT_REDRAW;
    if (ui->overlay)
        return overlay_key(ui, m, key, cmd, now);
    int page = ui->page > 1 ? ui->page - 1 : 1;
    switch (key) {
    case 'q':
    case 'Q':
        return CPT_ACT_QUIT;
    case '?':
    case 'h':
    case CPT_KEY_F1:
        ui->overlay = CPT_OV_HELP;
        return CPT_ACT_REDRAW;
    case CPT_KEY_ESC:
    case CPT_KEY_BACKSPACE:
    case CPT_KEY_LEFT:
    case '1':
    case 'm':
        if (ui->screen == CPT_SCR_MAIN && key == CPT_KEY_ESC && ui->filter[0])
            ui->filter[0] = 0;
        ui->screen = CPT_SCR_MAIN;
        return CPT_ACT_REDRAW;
    case 's':
    case '2':
        ui->screen = ui->screen == CPT_SCR_SUMMARY ? CPT_SCR_MAIN : CPT_SCR_SUMMARY;
        return CPT_ACT_REDRAW;
    case 'e':
    case '3':
        ui->screen = ui->screen == CPT_SCR_EVENTS ? CPT_SCR_MAIN : CPT_SCR_EVENTS;
        return CPT_ACT_REDRAW;
    case CPT_KEY_TAB:
        ui->screen = CPT_SCR_MAIN;
        ui->pane = (ui->pane + 1) % CPT_PANE__COUNT;
        return CPT_ACT_REDRAW;
    case CPT_KEY_BTAB:
        ui->screen = CPT_SCR_MAIN;
        ui->pane = (ui->pane + CPT_PANE__COUNT - 1) % CPT_PANE__COUNT;
        return CPT_ACT_REDRAW;
    case CPT_KEY_UP:
    case 'k':
        move_sel(ui, m, -1);
        return CPT_ACT_REDRAW;
    case CPT_KEY_DOWN:
    case 'j':
        move_sel(ui, m, 1);
        return CPT_ACT_REDRAW;
    case CPT_KEY_PGUP:
        move_sel(ui, m, -page);
        return CPT_ACT_REDRAW;
    case CPT_KEY_PGDN:
        move_sel(ui, m, page);
        return CPT_ACT_REDRAW;
    case CPT_KEY_HOME:
    case 'g':
        move_sel(ui, m, -1000000);
        return CPT_ACT_REDRAW;
    case CPT_KEY_END:
    case 'G':
        move_sel(ui, m, 1000000);
        return CPT_ACT_REDRAW;
    case '/':
        if (ui->screen != CPT_SCR_EVENTS && !(ui->screen == CPT_SCR_MAIN && ui->events_pane))
            ui->screen = CPT_SCR_EVENTS;
        if (ui->screen == CPT_SCR_MAIN)
            ui->pane = CPT_PANE_EVENTS;
        ui->overlay = CPT_OV_FILTER;
        return CPT_ACT_REDRAW;
    case CPT_KEY_ENTER:
    case CPT_KEY_RIGHT: {
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
    case 't':
        if (refuse_read_only(ui, now) || busy(ui, now))
            return CPT_ACT_REDRAW;
        memset(cmd, 0, sizeof *cmd);
        cmd->type = CPW_CMD_TRIGGER;
        cmd->op = cmd->subtask = -1;
        return CPT_ACT_COMMAND;
    case 'a': {
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
    case 'f':
        if (refuse_read_only(ui, now) || busy(ui, now))
            return CPT_ACT_REDRAW;
        ui->overlay = CPT_OV_FAIL;
        ui->fail_step = 0;
        ui->menu_sel = 0;
        return CPT_ACT_REDRAW;
    case 'c':
        ui->overlay = CPT_OV_CONFIG;
        ui->fail_step = 0;
        ui->menu_sel = 0;
        return CPT_ACT_REDRAW;
    case 'J':
        if (ui->pick_n > 1) {
            ui->overlay = CPT_OV_PICKER;
            return CPT_ACT_REDRAW;
        }
        cpt_ui_status(ui, false, now, "only one job is running");
        return CPT_ACT_REDRAW;
    default:
        return CPT_ACT_NONE;
    }
}
