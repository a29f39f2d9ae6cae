/* cpt_advice_ui.c — the Advice screen's state and keys (see cpt_ui.h): the
 * advice cached per history change, the selection, and applying the
 * selected item's settings through set_config after a y. */
#include "cpt_ui.h"

#include <stdio.h>
#include <string.h>

const cpt_advice *cpt_advice_ui_get(cpt_ui *ui, const cpt_model *m, int64_t now)
{
    int64_t sec = now / 1000000;
    if (ui->adv_model == m && ui->adv_hist == m->hist_version && ui->adv_sec == sec)
        return &ui->adv;
    cpt_adv_opts o = {.now_us = now, .records_per_s = m->records_per_s,
                      .max_overhead_pct = ui->adv_max_overhead_pct,
                      .max_replay_us = ui->adv_max_replay_us};
    if (cpt_advice_compute(m->st, &o, &ui->adv) != CPT_ADV_OK) {
        ui->adv_model = NULL; /* nothing this time; tried again next frame */
        return &ui->adv;
    }
    ui->adv_model = m;
    ui->adv_hist = m->hist_version;
    ui->adv_sec = sec;
    if (ui->adv_sel >= ui->adv.n)
        ui->adv_sel = ui->adv.n ? ui->adv.n - 1 : 0;
    return &ui->adv;
}

/* Whether a recommended value differs from what the job runs with:
 * durations compared as durations ("10 s" is "10s"). A key the job did not
 * announce is left out: it cannot be changed at run time anyway. */
bool cpt_advice_ui_sends(const cpt_adv_setting *s)
{
    if (!s->current[0])
        return false;
    int64_t a, b;
    if (cpt_parse_duration_us(s->value, &a) && cpt_parse_duration_us(s->current, &b))
        return a != b;
    return strcmp(s->value, s->current) != 0;
}

static const cpt_adv_item *selected(const cpt_ui *ui)
{
    return ui->adv_sel >= 0 && ui->adv_sel < ui->adv.n ? &ui->adv.items[ui->adv_sel] : NULL;
}

static int changes(const cpt_adv_item *it)
{
    int n = 0;
    for (int i = 0; it && i < it->n_settings; i++)
        n += cpt_advice_ui_sends(&it->settings[i]);
    return n;
}

static cpt_action apply(cpt_ui *ui, int64_t now)
{
    const cpt_adv_item *it = selected(ui);
    if (ui->read_only) {
        cpt_ui_status(ui, true, now, "read-only: actions are disabled (started with --read-only)");
        return CPT_ACT_REDRAW;
    }
    if (ui->adv_no_set) {
        cpt_ui_status(ui, true, now, "this job's settings cannot change at run time: put the "
                      "flink-conf lines shown into its configuration");
        return CPT_ACT_REDRAW;
    }
    if (!it || !changes(it)) {
        cpt_ui_status(ui, false, now, "nothing to change at run time for this advice");
        return CPT_ACT_REDRAW;
    }
    ui->overlay = CPT_OV_CONFIRM_APPLY;
    return CPT_ACT_REDRAW;
}

cpt_action cpt_advice_ui_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    (void)cmd;
    cpt_advice_ui_get(ui, m, now);
    switch (key) {
    case CPT_KEY_UP:
    case 'k':
        ui->adv_sel = ui->adv_sel > 0 ? ui->adv_sel - 1 : 0;
        return CPT_ACT_REDRAW;
    case CPT_KEY_DOWN:
    case 'j':
        ui->adv_sel = ui->adv_sel + 1 < ui->adv.n ? ui->adv_sel + 1 : ui->adv_sel;
        return CPT_ACT_REDRAW;
    case CPT_KEY_HOME:
    case 'g':
        ui->adv_sel = 0;
        return CPT_ACT_REDRAW;
    case CPT_KEY_END:
    case 'G':
        ui->adv_sel = ui->adv.n ? ui->adv.n - 1 : 0;
        return CPT_ACT_REDRAW;
    case CPT_KEY_ENTER:
        return apply(ui, now);
    default:
        return CPT_ACT_NONE;
    }
}

cpt_action cpt_advice_ui_confirm(cpt_ui *ui, int key, cpw_cmd *cmd, int64_t now)
{
    ui->overlay = CPT_OV_NONE;
    const cpt_adv_item *it = selected(ui);
    if ((key != 'y' && key != 'Y') || !it) {
        cpt_ui_status(ui, false, now, "advice not applied");
        return CPT_ACT_REDRAW;
    }
    if (ui->cmd_pending) {
        cpt_ui_status(ui, true, now, "still waiting for the reply to the previous command");
        return CPT_ACT_REDRAW;
    }
    memset(cmd, 0, sizeof *cmd);
    cmd->type = CPW_CMD_SET_CONFIG;
    cmd->op = cmd->subtask = -1;
    for (int i = 0; i < it->n_settings && cmd->n_params < CPW_CMD_MAX_PARAMS; i++) {
        if (!cpt_advice_ui_sends(&it->settings[i]))
            continue;
        snprintf(cmd->keys[cmd->n_params], sizeof cmd->keys[0], "%s", it->settings[i].key);
        snprintf(cmd->values[cmd->n_params], sizeof cmd->values[0], "%s", it->settings[i].value);
        cmd->n_params++;
    }
    return CPT_ACT_COMMAND;
}
