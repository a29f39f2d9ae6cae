/* cpt_view_overlay.c — the boxes drawn over a screen: help, the abort
 * confirmation, the failure menu, the settings, the job picker, the event
 * filter prompt (see cpt_view_int.h). */
#include "cpt_view_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ overlays */

static const char *const help_lines[] = {
    "t          trigger a checkpoint now",
    "a          abort the selected in-flight checkpoint (asks first)",
    "f          inject a failure (kill, stall, storage, crash, Kafka...)",
    "c          show and change interval, timeout, tolerable failures",
    "Enter      details of the selected checkpoint (per subtask, timeline)",
    "s 2        summary: percentiles, failures, timeout advice",
    "e 3        event log, full screen;  /  filter it",
    "Tab S-Tab  next / previous pane (in flight, history, events)",
    "Up/Down j/k  move;  PgUp/PgDn  page;  g/G Home/End  first/last",
    "Esc Left m 1  back to the main screen",
    "J          choose another job (when several run)",
    "? h F1     this help;  q  quit",
    "",
    "cells: barrier awaited, aligning, sync, upload, acked, declined",
    "detail: * acked last;  ! straggler: >= max(p95, 1.5x median) of its op",
};

void cpt_view_overlay(ctx *c)
{
    cpt_ui *ui = c->ui;
    cpt_model *m = c->m;
    char buf[300];
    int w = c->w - 4 < 76 ? c->w - 4 : 76;
    int x = (c->w - w) / 2;
    switch (ui->overlay) {
    case CPT_OV_HELP: {
        int n = (int)(sizeof help_lines / sizeof help_lines[0]);
        int h = n + 4 < c->h ? n + 4 : c->h;
        int y = (c->h - h) / 2;
        cpt_view_box(c, x, y, w, h, ui->read_only ? "Keys (read-only: actions disabled)" : "Keys");
        for (int i = 0; i < n && i < h - 3; i++)
            cpt_view_box_line(c, x, y + 1 + i, w, false, help_lines[i]);
        cpt_view_box_line(c, x, y + h - 2, w, false, "any key closes this");
        break;
    }
    case CPT_OV_CONFIRM_ABORT: {
        int y = c->h / 2 - 2;
        cpt_view_box(c, x, y, w, 4, "Abort");
        snprintf(buf, sizeof buf, "Abort checkpoint #%lld?  y: abort   any other key: keep it",
                 (long long)ui->abort_id);
        cpt_view_box_line(c, x, y + 1, w, false, buf);
        cpt_view_box_line(c, x, y + 2, w, false, "It fails as aborted by the user; the job keeps running.");
        break;
    }
    case CPT_OV_FAIL: {
        const cpt_fail_kind *k = &cpt_fail_kinds[ui->fail_kind];
        if (ui->fail_step == 0) {
            int h = cpt_n_fail_kinds + 4;
            int y = (c->h - h) / 2;
            cpt_view_box(c, x, y, w, h, "Inject a failure");
            for (int i = 0; i < cpt_n_fail_kinds; i++) {
                snprintf(buf, sizeof buf, "%d  %s", i + 1, cpt_fail_kinds[i].label);
                cpt_view_box_line(c, x, y + 1 + i, w, i == ui->menu_sel, buf);
            }
            cpt_view_box_line(c, x, y + h - 2, w, false, "Enter: choose   Esc: cancel");
        } else if (ui->fail_step == 1) {
            int n = m->st->hello.n_ops;
            int h = n + 4 < c->h ? n + 4 : c->h;
            int y = (c->h - h) / 2;
            snprintf(buf, sizeof buf, "%s: which operator?", k->kind);
            cpt_view_box(c, x, y, w, h, buf);
            for (int i = 0; i < n && i < h - 3; i++) {
                char on[CPW_NAME_MAX];
                cpt_model_op_name(m, i, on, sizeof on);
                snprintf(buf, sizeof buf, "%-20s %d subtasks", on, m->st->hello.ops[i].parallelism);
                cpt_view_box_line(c, x, y + 1 + i, w, i == ui->menu_sel, buf);
            }
            cpt_view_box_line(c, x, y + h - 2, w, false, "Enter: choose   Esc: cancel");
        } else {
            int y = c->h / 2 - 2;
            char on[CPW_NAME_MAX];
            cpt_model_op_name(m, ui->fail_op, on, sizeof on);
            if (ui->fail_step == 2) {
                snprintf(buf, sizeof buf, "%s: which subtask of %s?", k->kind, on);
                cpt_view_box(c, x, y, w, 4, buf);
                snprintf(buf, sizeof buf, "subtask (0..%d): %s_", m->st->hello.ops[ui->fail_op].parallelism - 1,
                         ui->input);
            } else {
                cpt_view_box(c, x, y, w, 4, k->kind);
                snprintf(buf, sizeof buf, "%s: %s_", k->param_label, ui->input);
            }
            cpt_view_box_line(c, x, y + 1, w, false, buf);
            cpt_view_box_line(c, x, y + 2, w, false, "Enter: send   Esc: cancel");
        }
        break;
    }
    case CPT_OV_CONFIG: {
        static const char *const labels[] = {"interval", "timeout", "tolerable failed checkpoints"};
        static const char *const keys[] = {"execution.checkpointing.interval",
                                           "execution.checkpointing.timeout",
                                           "execution.checkpointing.tolerable-failed-checkpoints"};
        int y = c->h / 2 - 3;
        cpt_view_box(c, x, y, w, 7, "Checkpoint settings (changed at run time)");
        for (int i = 0; i < 3; i++) {
            const char *v = "?";
            for (int j = 0; j < m->st->hello.n_config; j++)
                if (!strcmp(m->st->hello.config_keys[j], keys[i]))
                    v = m->st->hello.config_values[j];
            char vs[CPW_VALUE_MAX];
            cpw_sanitize(v, vs, sizeof vs);
            if (ui->fail_step == 1 && i == ui->menu_sel)
                snprintf(buf, sizeof buf, "%-30s %s_", labels[i], ui->input);
            else
                snprintf(buf, sizeof buf, "%-30s %s", labels[i], vs);
            cpt_view_box_line(c, x, y + 1 + i, w, i == ui->menu_sel, buf);
        }
        cpt_view_box_line(c, x, y + 5, w, false, ui->fail_step ? "type a value (30s, 10 min, 3)  Enter: send  Esc: back"
                 : ui->read_only ? "read-only: shown, not changed   Esc: close"
                 : "Enter: change   Esc: close");
        break;
    }
    case CPT_OV_FILTER:
        cpt_frame_fill(c->f, 0, c->h - 1, c->w, ' ', CPT_R_STATUS);
        snprintf(buf, sizeof buf, "filter events: %s_   (Enter: keep, Esc: clear)", ui->filter);
        cpt_frame_put(c->f, 0, c->h - 1, CPT_R_STATUS, buf, -1);
        break;
    case CPT_OV_PICKER: {
        int h = ui->pick_n + 4 < c->h ? ui->pick_n + 4 : c->h;
        int y = (c->h - h) / 2;
        cpt_view_box(c, x, y, w, h, "Several jobs are running: choose one");
        for (int i = 0; i < ui->pick_n && i < h - 3; i++)
            cpt_view_box_line(c, x, y + 1 + i, w, i == ui->pick_sel, ui->pick_label[i]);
        cpt_view_box_line(c, x, y + h - 2, w, false, "Enter: watch it   q: quit");
        break;
    }
    default:
        break;
    }
}

