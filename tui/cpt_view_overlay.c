/* cpt_view_overlay.c — the boxes drawn over a screen: help, the abort
 * confirmation, the failure menu, the settings, the job picker, the event
 * filter prompt (see cpt_view_int.h). */
#include "cpt_view_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ overlays */

/* The keys that act: on the job live, on the player in a replay. */
static const char *const live_lines[] = {
    "t          trigger a checkpoint now",
    "a          abort the selected in-flight checkpoint (asks first)",
    "f          inject a failure (the kinds this job offers)",
    "c          show and change interval, timeout, tolerable failures",
    "o          the cluster's jobs (Enter watches one)",
};

static const char *const replay_lines[] = {
    "Space      pause / resume the replay",
    "t T        next / previous checkpoint event (one starts or ends)",
    "] [        10 s forward / back;  r  rewind to the start;  Z  the end",
    "b          jump to a time: 03:12, 03:12:05, -5m (before the end), +30s",
    "+ -        speed: 1x, 2x, 10x, 100x, as fast as possible",
};

/* The keys that look, the same in both. */
static const char *const help_lines[] = {
    "Enter      details of the selected checkpoint (per subtask, timeline)",
    "s 2        summary: percentiles, failures, timeout advice",
    "e 3        event log, full screen;  /  filter it",
    "A 4        advice: timeout, interval, tolerance, causes (Enter applies)",
    "Tab S-Tab  next / previous pane (in flight, history, events)",
    "Up/Down j/k  move;  PgUp/PgDn  page;  g/G Home/End  first/last",
    "Esc Left m 1  back to the main screen",
    "J          choose another job (when several run)",
    "? h F1     this help;  q  quit",
    "",
    "cells: barrier awaited, aligning, sync, upload, acked, declined",
    "detail: * acked last;  ! straggler: >= max(p95, 1.5x median) of its op",
};

/* Where boxes go: centred, at most 76 columns. */
typedef struct area {
    int x, w;
} area;

static area centred(const ctx *c)
{
    int w = c->w - 4 < 76 ? c->w - 4 : 76;
    return (area){(c->w - w) / 2, w};
}

#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

static void draw_help(ctx *c, area a)
{
    bool rp = c->ui->replay;
    const char *const *act = rp ? replay_lines : live_lines;
    int na = rp ? N_OF(replay_lines) : N_OF(live_lines);
    int n = na + N_OF(help_lines);
    int h = n + 4 < c->h ? n + 4 : c->h;
    int y = (c->h - h) / 2;
    cpt_view_box(c, a.x, y, a.w, h,
                 rp ? "Keys (a replay: the recording, read-only)"
                 : c->ui->read_only ? "Keys (read-only: actions disabled)" : "Keys");
    for (int i = 0; i < n && i < h - 3; i++)
        cpt_view_box_line(c, a.x, y + 1 + i, a.w, false,
                          i < na ? act[i] : help_lines[i - na]);
    cpt_view_box_line(c, a.x, y + h - 2, a.w, false, "any key closes this");
}

static void draw_confirm_abort(ctx *c, area a)
{
    char buf[120];
    int y = c->h / 2 - 2;
    cpt_view_box(c, a.x, y, a.w, 4, "Abort");
    snprintf(buf, sizeof buf, "Abort checkpoint #%lld?  y: abort   any other key: keep it",
             (long long)c->ui->abort_id);
    cpt_view_box_line(c, a.x, y + 1, a.w, false, buf);
    cpt_view_box_line(c, a.x, y + 2, a.w, false, "It fails as aborted by the user; the job keeps running.");
}

static void draw_confirm_savepoint(ctx *c, area a)
{
    int y = c->h / 2 - 3;
    cpt_view_box(c, a.x, y, a.w, 5, "Savepoint");
    cpt_view_box_line(c, a.x, y + 1, a.w, false,
                      "This Flink cluster has no REST checkpoint trigger (Flink 1.17+).");
    cpt_view_box_line(c, a.x, y + 2, a.w, false,
                      "Take a savepoint instead?  y: take it   any other key: no");
    cpt_view_box_line(c, a.x, y + 3, a.w, false,
                      "It goes to the cluster's state.savepoints.dir; the job keeps running.");
}

/* The job's failure table: "N  kind  label", scrolled to keep the selection. */
static void fail_kinds(ctx *c, area a)
{
    const cpw_hello *hl = &c->m->st->hello;
    char buf[300], kind[CPW_KIND_MAX], label[CPW_TEXT_MAX];
    if (!hl->n_failures) {
        int y = c->h / 2 - 3;
        cpt_view_box(c, a.x, y, a.w, 5, "Inject a failure");
        cpt_view_box_line(c, a.x, y + 1, a.w, false,
                          hl->has_failures ? "this job offers no failures"
                                           : "this job declares no failure kinds;");
        cpt_view_box_line(c, a.x, y + 2, a.w, false,
                          hl->has_failures ? "" : "`cptop ctl fail KIND ...` sends one as is");
        cpt_view_box_line(c, a.x, y + 3, a.w, false, "any key closes this");
        return;
    }
    int n = hl->n_failures;
    int rows = n < c->h - 6 ? n : c->h - 6 > 1 ? c->h - 6 : 1;
    int top = c->ui->menu_sel - rows + 1 > 0 ? c->ui->menu_sel - rows + 1 : 0;
    int kw = 4;
    for (int i = 0; i < n; i++)
        kw = (int)strlen(hl->failures[i].kind) > kw ? (int)strlen(hl->failures[i].kind) : kw;
    kw = kw > 16 ? 16 : kw;
    int y = (c->h - rows - 4) / 2;
    cpt_view_box(c, a.x, y, a.w, rows + 4, "Inject a failure");
    for (int r = 0; r < rows; r++) {
        int i = top + r;
        cpw_sanitize(hl->failures[i].kind, kind, sizeof kind);
        cpw_sanitize(hl->failures[i].label, label, sizeof label);
        char key[4] = " ";
        if (i < 9)
            snprintf(key, sizeof key, "%d", i + 1);
        snprintf(buf, sizeof buf, "%s  %-*.*s  %s", key, kw, kw, kind, label);
        cpt_view_box_line(c, a.x, y + 1 + r, a.w, i == c->ui->menu_sel, buf);
    }
    cpt_view_box_line(c, a.x, y + rows + 2, a.w, false, "Enter: choose   Esc: cancel");
}

static void fail_ops(ctx *c, area a, const char *kind)
{
    const cpw_state *st = c->m->st;
    char buf[300], on[CPW_NAME_MAX];
    int n = st->hello.n_ops;
    int h = n + 4 < c->h ? n + 4 : c->h;
    int y = (c->h - h) / 2;
    snprintf(buf, sizeof buf, "%s: which operator?", kind);
    cpt_view_box(c, a.x, y, a.w, h, buf);
    for (int i = 0; i < n && i < h - 3; i++) {
        cpt_model_op_name(c->m, i, on, sizeof on);
        snprintf(buf, sizeof buf, "%-20s %d subtasks", on, st->hello.ops[i].parallelism);
        cpt_view_box_line(c, a.x, y + 1 + i, a.w, i == c->ui->menu_sel, buf);
    }
    cpt_view_box_line(c, a.x, y + h - 2, a.w, false, "Enter: choose   Esc: cancel");
}

/* One question: the subtask, or a parameter with its help, range and unit. */
static void fail_prompt(ctx *c, area a, const cpw_failure_kind *k, const char *kind)
{
    const cpt_ui *ui = c->ui;
    const cpw_state *st = c->m->st;
    char title[200], line[300], on[CPW_NAME_MAX] = "?", help[CPW_TEXT_MAX], name[CPW_PARAM_NAME_MAX];
    int y = c->h / 2 - 2;
    if (ui->fail_op >= 0 && ui->fail_op < st->hello.n_ops)
        cpt_model_op_name(c->m, ui->fail_op, on, sizeof on);
    if (ui->step == 2) {
        snprintf(title, sizeof title, "%s: which subtask of %s?", kind, on);
        snprintf(line, sizeof line, "subtask (0..%d): %s_",
                 st->hello.ops[ui->fail_op].parallelism - 1, ui->input);
    } else {
        const cpw_param *p = &k->params[ui->step - 3];
        if (ui->fail_sub >= 0)
            snprintf(title, sizeof title, "%s at %s#%d", kind, on, ui->fail_sub);
        else
            snprintf(title, sizeof title, "%s", kind);
        cpw_sanitize(p->help[0] ? p->help : p->name, help, sizeof help);
        cpw_sanitize(p->name, name, sizeof name);
        snprintf(line, sizeof line, "%s=%s_  (%lld..%lld%s%s)", name, ui->input, (long long)p->min,
                 (long long)p->max, p->unit[0] ? " " : "", p->unit);
        cpt_view_box(c, a.x, y, a.w, 5, title);
        cpt_view_box_line(c, a.x, y + 1, a.w, false, help);
        cpt_view_box_line(c, a.x, y + 2, a.w, false, line);
        cpt_view_box_line(c, a.x, y + 3, a.w, false, "Enter: next   Esc: cancel");
        return;
    }
    cpt_view_box(c, a.x, y, a.w, 4, title);
    cpt_view_box_line(c, a.x, y + 1, a.w, false, line);
    cpt_view_box_line(c, a.x, y + 2, a.w, false, "Enter: next   Esc: cancel");
}

static void draw_fail(ctx *c, area a)
{
    const cpw_hello *hl = &c->m->st->hello;
    const cpt_ui *ui = c->ui;
    const cpw_failure_kind *k =
        ui->fail_kind >= 0 && ui->fail_kind < hl->n_failures ? &hl->failures[ui->fail_kind] : NULL;
    if (ui->step == 0 || !k) {
        fail_kinds(c, a);
        return;
    }
    char kind[CPW_KIND_MAX];
    cpw_sanitize(k->kind, kind, sizeof kind);
    if (ui->step == 1)
        fail_ops(c, a, kind);
    else
        fail_prompt(c, a, k, kind);
}

static void draw_config(ctx *c, area a)
{
    static const char *const labels[] = {"interval", "timeout", "tolerable failed checkpoints"};
    static const char *const keys[] = {"execution.checkpointing.interval",
                                       "execution.checkpointing.timeout",
                                       "execution.checkpointing.tolerable-failed-checkpoints"};
    const cpt_ui *ui = c->ui;
    const cpw_hello *hl = &c->m->st->hello;
    char buf[300];
    int y = c->h / 2 - 3;
    cpt_view_box(c, a.x, y, a.w, 7, "Checkpoint settings (changed at run time)");
    for (int i = 0; i < 3; i++) {
        const char *v = "?";
        for (int j = 0; j < hl->n_config; j++)
            if (!strcmp(hl->config_keys[j], keys[i]))
                v = hl->config_values[j];
        char vs[CPW_VALUE_MAX];
        cpw_sanitize(v, vs, sizeof vs);
        if (ui->step == 1 && i == ui->menu_sel)
            snprintf(buf, sizeof buf, "%-30s %s_", labels[i], ui->input);
        else
            snprintf(buf, sizeof buf, "%-30s %s", labels[i], vs);
        cpt_view_box_line(c, a.x, y + 1 + i, a.w, i == ui->menu_sel, buf);
    }
    cpt_view_box_line(c, a.x, y + 5, a.w, false,
                      ui->step ? "type a value (30s, 10 min, 3)  Enter: send  Esc: back"
                      : ui->read_only ? "read-only: shown, not changed   Esc: close"
                      : "Enter: change   Esc: close");
}

static void draw_filter(ctx *c, area a)
{
    (void)a;
    char buf[200];
    cpt_frame_fill(c->f, 0, c->h - 1, c->w, ' ', CPT_R_STATUS);
    snprintf(buf, sizeof buf, "filter events: %s_   (Enter: keep, Esc: clear)", c->ui->filter);
    cpt_frame_put(c->f, 0, c->h - 1, CPT_R_STATUS, buf, -1);
}

static void draw_picker(ctx *c, area a)
{
    const cpt_ui *ui = c->ui;
    int h = ui->pick_n + 4 < c->h ? ui->pick_n + 4 : c->h;
    int y = (c->h - h) / 2;
    cpt_view_box(c, a.x, y, a.w, h, "Several jobs are running: choose one");
    for (int i = 0; i < ui->pick_n && i < h - 3; i++)
        cpt_view_box_line(c, a.x, y + 1 + i, a.w, i == ui->pick_sel, ui->pick_label[i]);
    cpt_view_box_line(c, a.x, y + h - 2, a.w, false, "Enter: watch it   q: quit");
}

static void draw_jump(ctx *c, area a)
{
    (void)a;
    cpt_view_jump_prompt(c);
}

static void (*const drawers[])(ctx *, area) = {
    [CPT_OV_HELP] = draw_help,     [CPT_OV_CONFIRM_ABORT] = draw_confirm_abort,
    [CPT_OV_FAIL] = draw_fail,     [CPT_OV_CONFIG] = draw_config,
    [CPT_OV_FILTER] = draw_filter, [CPT_OV_PICKER] = draw_picker,
    [CPT_OV_JUMP] = draw_jump,     [CPT_OV_CONFIRM_SAVEPOINT] = draw_confirm_savepoint,
};

void cpt_view_overlay(ctx *c)
{
    int o = c->ui->overlay;
    if (o > 0 && o < (int)(sizeof drawers / sizeof drawers[0]) && drawers[o])
        drawers[o](c, centred(c));
}
