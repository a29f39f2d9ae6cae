/* cpt_view_advice.c — the Advice screen (A): one line per piece of advice,
 * and the selected one in full: the settings it recommends, the rule, the
 * evidence; how to apply it (Enter, then y) or, for a job whose settings
 * cannot change at run time, its flink-conf lines. Pure like the rest of
 * the view (see cpt_view_int.h). */
#include "cpt_view_int.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *tag;
    cpt_role role;
} levels[] = {
    [CPT_ADV_FINE] = {"ok", CPT_R_GOOD},
    [CPT_ADV_INFO] = {"info", CPT_R_DIM},
    [CPT_ADV_WARN] = {"warn", CPT_R_WARN},
    [CPT_ADV_BAD] = {"BAD", CPT_R_BAD},
};

/* Short labels of the kinds, for the list. */
static const char *const labels[CPT_ADV__COUNT] = {
    "timeout", "interval", "tolerance", "trend", "alignment", "skew", "storage", "backpressure",
};

/* One row per item: level, kind, title; the selected one highlighted. */
static int item_list(ctx *c, const cpt_advice *a, int y, int y_max)
{
    for (int i = 0; i < a->n && y < y_max; i++, y++) {
        const cpt_adv_item *it = &a->items[i];
        bool sel = i == c->ui->adv_sel;
        cpt_frame_fill(c->f, 0, y, 1, sel ? c->g->sel : ' ', CPT_R_SELECT);
        put(c, 2, y, levels[it->level].role, levels[it->level].tag);
        put(c, 7, y, CPT_R_LABEL, labels[it->kind]);
        putn(c, 20, y, CPT_R_NORMAL, c->w - 20, it->title);
        if (sel)
            cpt_frame_role(c->f, 1, y, c->w - 1, CPT_R_SELECT);
    }
    return y;
}

static int settings(ctx *c, const cpt_adv_item *it, int y, int y_max)
{
    char buf[300];
    if (!it->n_settings && y < y_max) {
        put(c, 2, y, CPT_R_LABEL, "set");
        put(c, 12, y++, CPT_R_DIM, "no checkpoint setting fixes this");
        return y;
    }
    for (int i = 0; i < it->n_settings && y < y_max; i++, y++) {
        const cpt_adv_setting *s = &it->settings[i];
        if (i == 0)
            put(c, 2, y, CPT_R_LABEL, "set");
        snprintf(buf, sizeof buf, "%s = %s", s->key, s->value);
        int x = put(c, 12, y, CPT_R_NORMAL, buf);
        if (s->current[0]) {
            snprintf(buf, sizeof buf, "  (now %s)", s->current);
            put(c, x, y, CPT_R_DIM, buf);
        }
    }
    return y;
}

/* How to apply it: a key for a job with an agent, flink-conf lines when
 * the settings cannot change at run time. */
static int how(ctx *c, const cpt_adv_item *it, int y, int y_max)
{
    char buf[300];
    if (!it->n_settings || y >= y_max)
        return y;
    if (!c->ui->adv_no_set) {
        put(c, 2, y++, CPT_R_DIM, c->ui->read_only ? "read-only: put these into the job's configuration"
                                                   : "Enter: apply at run time (asks y first)");
        return y;
    }
    put(c, 2, y++, CPT_R_LABEL, "flink-conf (no run-time change for this job):");
    for (int i = 0; i < it->n_settings && y < y_max; i++) {
        snprintf(buf, sizeof buf, "%s: %s", it->settings[i].key, it->settings[i].value);
        put(c, 4, y++, CPT_R_NORMAL, buf);
    }
    return y;
}

static void detail(ctx *c, const cpt_adv_item *it, int y, int y_max)
{
    y = cpt_view_wrapped(c, 2, y, y_max, levels[it->level].role, it->title);
    y = settings(c, it, y, y_max);
    if (y < y_max) {
        put(c, 2, y, CPT_R_LABEL, "rule");
        y = cpt_view_wrapped(c, 12, y, y_max, CPT_R_DIM, it->rule);
    }
    for (int i = 0; i < it->n_evidence && y < y_max; i++) {
        if (i == 0)
            put(c, 2, y, CPT_R_LABEL, "evidence");
        y = cpt_view_wrapped(c, 12, y, y_max, CPT_R_NORMAL, it->evidence[i]);
    }
    how(c, it, y, y_max);
}

static void confirm(ctx *c, const cpt_adv_item *it)
{
    char buf[300];
    int w = c->w - 4 < 76 ? c->w - 4 : 76, x = (c->w - w) / 2;
    int n = 0;
    for (int i = 0; it && i < it->n_settings; i++)
        n += cpt_advice_ui_sends(&it->settings[i]);
    int h = n + 4, y = (c->h - h) / 2, k = 0;
    cpt_view_box(c, x, y, w, h, "Apply this advice at run time");
    for (int i = 0; it && i < it->n_settings; i++) {
        const cpt_adv_setting *s = &it->settings[i];
        if (!cpt_advice_ui_sends(s))
            continue;
        snprintf(buf, sizeof buf, "%s = %s  (now %s)", s->key, s->value, s->current);
        cpt_view_box_line(c, x, y + 1 + k++, w, false, buf);
    }
    cpt_view_box_line(c, x, y + h - 2, w, false, "y: send set_config   any other key: keep it");
}

void cpt_view_advice(ctx *c, int y, int y_max)
{
    const cpt_advice *a = cpt_advice_ui_get(c->ui, c->m, c->now);
    char buf[200];
    snprintf(buf, sizeof buf, "Advice from the %d retained checkpoints (%d completed, %d failed)",
             a->completed + a->failed, a->completed, a->failed);
    cpt_view_rule(c, y++, buf, true);
    if (!a->n) {
        put(c, 2, y + 1, CPT_R_DIM, "no history yet");
        return;
    }
    y = item_list(c, a, y, y_max);
    const cpt_adv_item *it = &a->items[c->ui->adv_sel < a->n ? c->ui->adv_sel : 0];
    if (y < y_max)
        cpt_frame_fill(c->f, 0, y++, c->w, c->g->hline, CPT_R_DIM);
    detail(c, it, y, y_max);
    if (c->ui->overlay == CPT_OV_CONFIRM_APPLY)
        confirm(c, it);
}
