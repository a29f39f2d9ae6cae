/* cpt_view_main.c — the main screen's panes: checkpoints in flight with
 * their subtask grids, the history, the event log (see cpt_view_int.h). */
#include "cpt_view_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ in flight */

/* A progress bar of elapsed against the timeout. */
static void draw_bar(ctx *c, int x, int y, int width, int64_t elapsed, int64_t timeout)
{
    double frac = timeout > 0 ? (double)elapsed / (double)timeout : 0;
    if (frac > 1)
        frac = 1;
    int fill = (int)(frac * width + 0.5);
    if (timeout > 0 && elapsed > 0 && fill == 0)
        fill = 1;
    cpt_role r = frac >= 0.75 ? CPT_R_BAR_WARN : CPT_R_BAR;
    cpt_frame_fill(c->f, x, y, fill, c->g->bar, r);
    cpt_frame_fill(c->f, x + fill, y, width - fill, c->g->bar_empty, CPT_R_BAR_EMPTY);
}

static int inflight_line(ctx *c, int y, const cpw_cp *cp, bool selected)
{
    cpt_model *m = c->m;
    char buf[256], a[32], b[32];
    bool narrow = c->w < 100;
    if (selected)
        cpt_frame_fill(c->f, 0, y, 1, c->g->sel, CPT_R_SELECT);
    if (narrow)
        snprintf(buf, sizeof buf, "#%-5lld", (long long)cp->id);
    else
        snprintf(buf, sizeof buf, "#%-5lld %-8s", (long long)cp->id,
                 cp->kind == CPW_TRIGGER_MANUAL ? "manual" : "periodic");
    int x = put(c, 2, y, selected ? CPT_R_SELECT : CPT_R_NORMAL, buf) + 1;
    int64_t el = c->lnow - cp->trigger_ts;
    int bw = c->w >= 120 ? 30 : c->w >= 100 ? 24 : 12;
    draw_bar(c, x, y, bw, el, m->timeout_us);
    x += bw + 1;
    cpt_fmt_dur(a, sizeof a, el);
    cpt_fmt_limit(b, sizeof b, m->timeout_us);
    snprintf(buf, sizeof buf, "%s/%s", a, b);
    int tx = x;
    put(c, x, y, m->timeout_us > 0 && el * 4 >= m->timeout_us * 3 ? CPT_R_WARN : CPT_R_NORMAL, buf);
    x = tx + (narrow ? 11 : 14);
    snprintf(buf, sizeof buf, narrow ? "%d/%d" : "%d/%d acked", cp->acks, cp->total);
    x = put(c, x, y, cp->declines ? CPT_R_BAD : CPT_R_NORMAL, buf) + 2;
    if (!narrow && cp->type != CPW_CPT_ALIGNED)
        x = put(c, x, y, cpt_view_type_role(cp), cpw_cp_type_name((cpw_cp_type)cp->type)) + 2;
    straggler s = cpt_view_slowest(m, cp);
    if (s.op >= 0) {
        char on[CPW_NAME_MAX];
        cpt_model_op_name(m, s.op, on, sizeof on);
        cpt_fmt_dur(a, sizeof a, c->lnow - s.since);
        snprintf(buf, sizeof buf, "%s %s#%d (%s %s)", narrow ? "on" : "waiting on", on, s.subtask,
                 cpt_view_phase_short[s.phase], a);
        x = put(c, x, y, cpt_view_phase_role[s.phase], buf);
        if (s.pending > 1) {
            snprintf(buf, sizeof buf, narrow ? " +%d" : " +%d more", s.pending - 1);
            put(c, x, y, CPT_R_DIM, buf);
        }
    } else if (cp->declines) {
        put(c, x, y, CPT_R_BAD, "declined");
    } else if (cp->total && cp->acks == cp->total) {
        put(c, x, y, CPT_R_GOOD, "all acked, finalizing");
    }
    return y + 1;
}

/* Operator rows of subtask cells for one checkpoint; returns the next row. */
static int draw_grid(ctx *c, int y, int y_max, const cpw_cp *cp)
{
    const cpw_state *st = c->m->st;
    int name_w = 6;
    for (int op = 0; op < st->hello.n_ops; op++) {
        char on[CPW_NAME_MAX];
        cpt_model_op_name(c->m, op, on, sizeof on);
        int l = cpt_text_width(on);
        if (l > name_w)
            name_w = l;
    }
    if (name_w > 16)
        name_w = 16;
    int cells = c->w - 4 - name_w - 1 - 8;
    if (cells < 8)
        cells = 8;
    for (int op = 0; op < st->hello.n_ops && y < y_max; op++, y++) {
        char on[CPW_NAME_MAX], buf[32];
        cpt_model_op_name(c->m, op, on, sizeof on);
        putn(c, 4, y, CPT_R_LABEL, name_w, on);
        int par = st->hello.ops[op].parallelism;
        int group = (par + cells - 1) / cells;
        int acked = 0;
        int x = 4 + name_w + 1;
        for (int k = 0; k < par; k += group) {
            int ph = CPW_PH_ACKED;
            bool unal = false;
            for (int j = k; j < k + group && j < par; j++) {
                const cpw_sub *u = cp->subs ? &cp->subs[st->op_base[op] + j] : NULL;
                int p = u ? cpt_view_shown_phase(u) : CPW_PH_PENDING;
                /* a group shows its least advanced member; a decline wins */
                if (p == CPW_PH_DECLINED || (ph != CPW_PH_DECLINED && cpt_view_phase_rank[p] < cpt_view_phase_rank[ph])) {
                    ph = p;
                    unal = u && cpt_view_sub_unaligned(cp, u);
                }
            }
            /* one that went unaligned and is still at it: its own glyph, its phase's colour */
            bool mark = unal && ph != CPW_PH_ACKED && ph != CPW_PH_DECLINED;
            cpt_frame_fill(c->f, x++, y, 1, mark ? c->g->unaligned : c->g->phase[ph], cpt_view_phase_role[ph]);
        }
        for (int k = 0; cp->subs && k < par; k++)
            acked += cp->subs[st->op_base[op] + k].phase == CPW_PH_ACKED;
        if (group > 1)
            snprintf(buf, sizeof buf, " %d/%d  (%d per cell)", acked, par, group);
        else
            snprintf(buf, sizeof buf, " %d/%d", acked, par);
        put(c, x, y, CPT_R_DIM, buf);
    }
    return y;
}

int cpt_view_inflight(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    cpt_ui *ui = c->ui;
    char buf[160];
    snprintf(buf, sizeof buf, "In flight (%d)", st->n_inflight);
    int x = cpt_view_rule(c, y, buf, ui->pane == CPT_PANE_INFLIGHT);
    /* legend */
    static const char *const short_word[PH__SHOWN] = {"barrier", "align", "sync", "upload",
                                                      "ack", "decline", "held"};
    static const int legend[PH__SHOWN] = {CPW_PH_PENDING, CPW_PH_ALIGNING, PH_HELD, CPW_PH_SYNC,
                                          CPW_PH_ASYNC, CPW_PH_ACKED, CPW_PH_DECLINED};
    x += 1;
    for (int i = 0; i < PH__SHOWN && x + 10 < c->w; i++) {
        int p = legend[i];
        cpt_frame_fill(c->f, x, y, 1, ' ', CPT_R_NORMAL);
        cpt_frame_fill(c->f, x + 1, y, 1, c->g->phase[p], cpt_view_phase_role[p]);
        x = put(c, x + 2, y, CPT_R_DIM, short_word[p]);
    }
    bool any_unaligned = false;
    for (int i = 0; i < st->n_inflight; i++)
        any_unaligned |= st->inflight[i].type != CPW_CPT_ALIGNED || st->inflight[i].alignment != CPW_ALIGN_ALIGNED;
    if (any_unaligned && x + 12 < c->w) { /* only where it can appear */
        cpt_frame_fill(c->f, x, y, 1, ' ', CPT_R_NORMAL);
        cpt_frame_fill(c->f, x + 1, y, 1, c->g->unaligned, CPT_R_NORMAL);
        x = put(c, x + 2, y, CPT_R_DIM, "unaligned");
    }
    if (x < c->w)
        cpt_frame_fill(c->f, x, y, 1, ' ', CPT_R_NORMAL);
    y++;
    if (st->n_inflight == 0) {
        const char *msg = m->link == CPT_LINK_DOWN ? "none (job disconnected)"
                        : m->link == CPT_LINK_CONNECTING ? "waiting for the job's state"
                        : "no checkpoint in flight";
        put(c, 2, y, CPT_R_DIM, msg);
        return y + 1;
    }
    int sel = ui->sel_inflight < st->n_inflight ? ui->sel_inflight : 0;
    for (int i = 0; i < st->n_inflight && y < y_max; i++) {
        const cpw_cp *cp = &st->inflight[i];
        y = inflight_line(c, y, cp, i == sel && ui->pane == CPT_PANE_INFLIGHT);
        if (i == sel) {
            int rest = st->n_inflight - i - 1; /* keep a row for each other one */
            y = draw_grid(c, y, y_max - (rest < 3 ? rest : 3), cp);
        }
    }
    return y;
}

/* ------------------------------------------------------------------ history */

static void sparkline(ctx *c, int x, int y, int width)
{
    const cpw_state *st = c->m->st;
    int64_t v[256];
    int n = 0;
    for (int i = 0; i < st->n_history && n < width && n < 256; i++) {
        const cpw_cp *cp = cpw_state_history(st, i);
        if (cp->status == CPW_CP_COMPLETED)
            v[n++] = cp->duration_us;
    }
    if (n == 0)
        return;
    int64_t lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    char a[32], b[32], buf[80];
    int xs = put(c, x, y, CPT_R_DIM, " durations ");
    /* oldest at the left */
    for (int i = 0; i < n; i++) {
        int lvl = hi > lo ? (int)((v[n - 1 - i] - lo) * 7 / (hi - lo)) : 3;
        cpt_frame_fill(c->f, xs + i, y, 1, c->g->spark[lvl], CPT_R_ASYNC);
    }
    cpt_fmt_dur(a, sizeof a, lo);
    cpt_fmt_dur(b, sizeof b, hi);
    snprintf(buf, sizeof buf, " %s..%s ", a, b);
    put(c, xs + n, y, CPT_R_DIM, buf);
}

/* The history's columns, left to right. A column shows from screen width
 * min_w on: narrow screens leave out the trigger kind (the detail header
 * says it) and the persisted bytes (the detail lists them per subtask). */
typedef enum hist_col {
    HC_ID, HC_STATUS, HC_TRIGGER, HC_TYPE, HC_TIME, HC_DURATION, HC_SIZE, HC_PERSISTED, HC_ACKS,
    HC__COUNT
} hist_col;

static const struct {
    const char *head;
    int width, min_w;
    bool left;
} hist_cols[HC__COUNT] = {
    [HC_ID] = {"ID", 6, 0, false},
    [HC_STATUS] = {"STATUS", 9, 0, true},
    [HC_TRIGGER] = {"TRIGGER", 8, 100, true},
    [HC_TYPE] = {"TYPE", 9, 0, true},
    [HC_TIME] = {"TIME", 8, 0, true},
    [HC_DURATION] = {"DURATION", 9, 0, false},
    [HC_SIZE] = {"SIZE", 9, 0, false},
    [HC_PERSISTED] = {"PERSISTED", 9, 140, false},
    [HC_ACKS] = {"ACKS", 7, 0, false},
};

/* Puts one row of cells (roles[i] < 0: the row's role) and returns the
 * column where the reason goes. */
static int hist_cells(ctx *c, int y, char cells[HC__COUNT][32], const int roles[HC__COUNT], cpt_role r)
{
    char buf[48];
    int x = 0;
    for (int i = 0; i < HC__COUNT; i++) {
        if (c->w < hist_cols[i].min_w)
            continue;
        int w = hist_cols[i].width;
        snprintf(buf, sizeof buf, hist_cols[i].left ? "%-*s" : "%*s", w, cells[i]);
        put(c, x, y, roles[i] >= 0 ? (cpt_role)roles[i] : r, buf);
        x += w + 1;
    }
    return x;
}

static void history_row(ctx *c, int y, const cpw_cp *cp, bool selected)
{
    char buf[512], cells[HC__COUNT][32], msg[CPW_TEXT_MAX];
    int roles[HC__COUNT];
    for (int i = 0; i < HC__COUNT; i++)
        roles[i] = -1;
    snprintf(cells[HC_ID], sizeof cells[0], "%lld", (long long)cp->id);
    snprintf(cells[HC_STATUS], sizeof cells[0], "%s", cpw_cp_status_name(cp->status));
    roles[HC_STATUS] = cp->status == CPW_CP_COMPLETED ? CPT_R_GOOD
                     : cp->status == CPW_CP_FAILED ? CPT_R_BAD : CPT_R_ASYNC;
    snprintf(cells[HC_TRIGGER], sizeof cells[0], "%s", cp->kind == CPW_TRIGGER_MANUAL ? "manual" : "periodic");
    snprintf(cells[HC_TYPE], sizeof cells[0], "%s", cpw_cp_type_name((cpw_cp_type)cp->type));
    roles[HC_TYPE] = cpt_view_type_role(cp);
    cpt_fmt_clock(cells[HC_TIME], sizeof cells[0], cp->trigger_ts, false);
    if (cp->status == CPW_CP_IN_PROGRESS)
        snprintf(cells[HC_DURATION], sizeof cells[0], "-");
    else
        cpt_fmt_dur(cells[HC_DURATION], sizeof cells[0], cp->duration_us);
    cpt_fmt_bytes(cells[HC_SIZE], sizeof cells[0], cp->checkpointed_size);
    if (cp->type == CPW_CPT_ALIGNED && !cp->persisted_data) {
        snprintf(cells[HC_PERSISTED], sizeof cells[0], "-");
        roles[HC_PERSISTED] = CPT_R_DIM;
    } else {
        cpt_fmt_bytes(cells[HC_PERSISTED], sizeof cells[0], cp->persisted_data);
    }
    snprintf(cells[HC_ACKS], sizeof cells[0], "%d/%d", cp->acks, cp->total);
    if (cp->acks < cp->total)
        roles[HC_ACKS] = CPT_R_WARN;
    int rx = hist_cells(c, y, cells, roles, CPT_R_NORMAL);
    if (cp->status == CPW_CP_FAILED) {
        const char *rn = cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : NULL;
        if (!rn)
            rn = "unknown";
        if (c->w < 140 && !strncmp(rn, "CHECKPOINT_", 11))
            rn += 11; /* narrow: the prefix says nothing */
        cpw_sanitize(cp->message, msg, sizeof msg);
        if (c->w < 120)
            msg[0] = 0; /* narrow: the reason alone (Enter shows the message) */
        snprintf(buf, sizeof buf, "%s%s%s", rn, msg[0] ? ": " : "", msg);
        put(c, rx, y, CPT_R_BAD, buf);
    } else if (cp->committed) {
        put(c, rx, y, CPT_R_DIM, "committed");
    }
    if (selected)
        cpt_frame_role(c->f, 0, y, c->w, CPT_R_SELECT);
}

int cpt_view_history(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    cpt_ui *ui = c->ui;
    char buf[64];
    if (ui->top_history > 0)
        snprintf(buf, sizeof buf, "History (%d, %d newer above: g)", st->n_history, ui->top_history);
    else
        snprintf(buf, sizeof buf, "History (%d)", st->n_history);
    int x = cpt_view_rule(c, y, buf, ui->pane == CPT_PANE_HISTORY);
    sparkline(c, x + 1, y, c->w - x - 24 > 60 ? 60 : c->w - x - 24);
    y++;
    if (y >= y_max)
        return y;
    char cells[HC__COUNT][32];
    int roles[HC__COUNT];
    for (int i = 0; i < HC__COUNT; i++) {
        snprintf(cells[i], sizeof cells[i], "%s", hist_cols[i].head);
        roles[i] = -1;
    }
    put(c, hist_cells(c, y, cells, roles, CPT_R_LABEL), y, CPT_R_LABEL, "REASON");
    y++;
    int rows = y_max - y;
    if (rows < 1)
        return y;
    if (ui->pane == CPT_PANE_HISTORY)
        ui->page = rows;
    /* keep the selection visible */
    if (ui->sel_history < ui->top_history)
        ui->top_history = ui->sel_history;
    if (ui->sel_history >= ui->top_history + rows)
        ui->top_history = ui->sel_history - rows + 1;
    if (st->n_history == 0) {
        put(c, 2, y, CPT_R_DIM, "no finished checkpoint yet");
        return y + 1;
    }
    for (int i = ui->top_history; i < st->n_history && y < y_max; i++, y++)
        history_row(c, y, cpw_state_history(st, i), ui->pane == CPT_PANE_HISTORY && i == ui->sel_history);
    return y;
}

/* ------------------------------------------------------------------ events */

/* How an event's line reads; unlisted ones are NORMAL. */
static const cpt_role event_role[CPW_EV__COUNT] = {
    [CPW_EV_CP_FAILED] = CPT_R_BAD,
    [CPW_EV_DECLINE] = CPT_R_BAD,
    [CPW_EV_TASK_FAILED] = CPT_R_BAD,
    [CPW_EV_CP_COMPLETED] = CPT_R_GOOD,
    [CPW_EV_FAILURE_INJECTED] = CPT_R_WARN,
    [CPW_EV_RESTORED] = CPT_R_WARN,
    [CPW_EV_JOB_STATUS] = CPT_R_WARN,
    [CPW_EV_SWITCHED_TO_UNALIGNED] = CPT_R_WARN, /* alignment ran past its timeout */
};

void cpt_view_events(ctx *c, int y, int y_max, bool focused)
{
    cpt_model *m = c->m;
    cpt_ui *ui = c->ui;
    char buf[200];
    uint64_t dropped = m->log_total - (uint64_t)m->log_n;
    if (ui->filter[0])
        snprintf(buf, sizeof buf, "Events (%d kept, %llu dropped)  filter \"%s\"", m->log_n,
                 (unsigned long long)dropped, ui->filter);
    else
        snprintf(buf, sizeof buf, "Events (%d kept, %llu dropped)", m->log_n, (unsigned long long)dropped);
    cpt_view_rule(c, y, buf, focused);
    y++;
    int rows = y_max - y;
    if (rows <= 0)
        return;
    if (focused)
        ui->page = rows;
    /* newest at the bottom: collect the matching lines from the newest back,
     * skipping events_scroll of them */
    int skip = ui->events_scroll, row = y_max - 1;
    for (int i = 0; i < m->log_n && row >= y; i++) {
        if (!cpt_model_log_matches(m, i, ui->filter))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        const cpt_log_entry *e = cpt_model_log(m, i);
        char line[400], tm[32];
        cpt_model_log_text(m, e, line, sizeof line);
        cpt_fmt_clock(tm, sizeof tm, e->ts_us, true);
        int x = put(c, 0, row, CPT_R_DIM, tm);
        cpt_role r = CPT_R_NORMAL;
        if (e->kind == CPT_LOG_NOTE)
            r = e->bad ? CPT_R_BAD : CPT_R_WARN;
        else if ((unsigned)e->u.ev.type < CPW_EV__COUNT)
            r = event_role[e->u.ev.type];
        put(c, x + 1, row, r, line);
        row--;
    }
    if (row >= y && m->log_n == 0)
        put(c, 2, y, CPT_R_DIM, "no events yet");
}

