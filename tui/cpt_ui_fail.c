/* cpt_ui_fail.c — the `f` menu's keys: a failure from the job's own table
 * (cpw_hello.failures), its operator and subtask when it targets one, each
 * parameter prefilled with the table's default, and the same check the
 * agent runs (cpw_failure_check) before anything is sent. See cpt_ui.h. */
#include "cpt_ui.h"
#include "cpw_failure.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STEP_KIND = 0, STEP_OP, STEP_SUB, STEP_PARAM };

static const cpw_failure_kind *chosen(const cpt_ui *ui, const cpt_model *m)
{
    const cpw_hello *h = &m->st->hello;
    return ui->fail_kind >= 0 && ui->fail_kind < h->n_failures ? &h->failures[ui->fail_kind] : NULL;
}

void cpt_ui_fail_open(cpt_ui *ui)
{
    ui->overlay = CPT_OV_FAIL;
    ui->step = STEP_KIND;
    ui->menu_sel = 0;
    ui->fail_kind = -1;
    ui->fail_op = ui->fail_sub = -1;
}

/* Prefills the input for parameter p of k with its default. */
static cpt_action ask_param(cpt_ui *ui, const cpw_failure_kind *k, int p)
{
    ui->step = STEP_PARAM + p;
    snprintf(ui->input, sizeof ui->input, "%lld", (long long)k->params[p].def);
    ui->input_fresh = true;
    return CPT_ACT_REDRAW;
}

/* Everything chosen: the command, checked as the agent will check it. */
static cpt_action finish(cpt_ui *ui, const cpt_model *m, const cpw_failure_kind *k, cpw_cmd *cmd,
                         int64_t now)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->type = CPW_CMD_INJECT_FAILURE;
    snprintf(cmd->kind, sizeof cmd->kind, "%s", k->kind);
    cmd->op = k->subtask ? ui->fail_op : -1;
    cmd->subtask = k->subtask ? ui->fail_sub : -1;
    cmd->n_params = k->n_params;
    for (int i = 0; i < k->n_params; i++) {
        snprintf(cmd->keys[i], sizeof cmd->keys[i], "%s", k->params[i].name);
        snprintf(cmd->values[i], sizeof cmd->values[i], "%s", ui->fail_vals[i]);
    }
    ui->overlay = CPT_OV_NONE;
    char msg[CPW_TEXT_MAX], clean[CPW_TEXT_MAX];
    if (!cpw_failure_check(&m->st->hello, cmd, msg, sizeof msg)) {
        cpw_sanitize(msg, clean, sizeof clean);
        cpt_ui_status(ui, true, now, "not sent: %s", clean);
        return CPT_ACT_REDRAW;
    }
    return CPT_ACT_COMMAND;
}

/* After the target: the first parameter, or the command. */
static cpt_action after_target(cpt_ui *ui, const cpt_model *m, const cpw_failure_kind *k,
                               cpw_cmd *cmd, int64_t now)
{
    return k->n_params ? ask_param(ui, k, 0) : finish(ui, m, k, cmd, now);
}

static void move(cpt_ui *ui, int key, int n)
{
    if (key == CPT_KEY_UP || key == 'k')
        ui->menu_sel = ui->menu_sel > 0 ? ui->menu_sel - 1 : 0;
    else if (key == CPT_KEY_DOWN || key == 'j')
        ui->menu_sel = ui->menu_sel + 1 < n ? ui->menu_sel + 1 : ui->menu_sel;
}

static cpt_action kind_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    const cpw_hello *h = &m->st->hello;
    int n = h->n_failures;
    if (n == 0) { /* nothing to choose: the menu only explains */
        ui->overlay = CPT_OV_NONE;
        return CPT_ACT_REDRAW;
    }
    move(ui, key, n);
    if (key >= '1' && key <= '9' && key - '1' < n)
        ui->menu_sel = key - '1', key = CPT_KEY_ENTER;
    if (key != CPT_KEY_ENTER)
        return CPT_ACT_REDRAW;
    ui->fail_kind = ui->menu_sel;
    const cpw_failure_kind *k = chosen(ui, m);
    if (!k->subtask)
        return after_target(ui, m, k, cmd, now);
    if (h->n_ops == 0) {
        ui->overlay = CPT_OV_NONE;
        cpt_ui_status(ui, true, now, "the job has not told its topology yet");
        return CPT_ACT_REDRAW;
    }
    ui->step = STEP_OP;
    ui->menu_sel = 0;
    return CPT_ACT_REDRAW;
}

static cpt_action op_key(cpt_ui *ui, const cpt_model *m, int key)
{
    int n = m->st->hello.n_ops;
    move(ui, key, n);
    if (key != CPT_KEY_ENTER)
        return CPT_ACT_REDRAW;
    ui->fail_op = ui->menu_sel < n ? ui->menu_sel : 0;
    ui->step = STEP_SUB;
    snprintf(ui->input, sizeof ui->input, "0");
    ui->input_fresh = true;
    return CPT_ACT_REDRAW;
}

static cpt_action sub_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    if (key != CPT_KEY_ENTER) {
        if (key == CPT_KEY_BACKSPACE || key == 8 || key == 263 || (key < 128 && isdigit(key)))
            cpt_ui_edit(ui->input, 8, key, &ui->input_fresh);
        return CPT_ACT_REDRAW;
    }
    if (ui->fail_op >= m->st->hello.n_ops) {
        ui->overlay = CPT_OV_NONE;
        return CPT_ACT_REDRAW;
    }
    int par = m->st->hello.ops[ui->fail_op].parallelism;
    char *end;
    long sub = strtol(ui->input, &end, 10);
    if (!ui->input[0] || *end || sub < 0 || sub >= par) {
        cpt_ui_status(ui, true, now, "subtask must be 0..%d", par - 1);
        return CPT_ACT_REDRAW;
    }
    ui->fail_sub = (int)sub;
    return after_target(ui, m, chosen(ui, m), cmd, now);
}

static cpt_action param_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    const cpw_failure_kind *k = chosen(ui, m);
    int p = ui->step - STEP_PARAM;
    if (key != CPT_KEY_ENTER) {
        cpt_ui_edit(ui->input, sizeof ui->fail_vals[0], key, &ui->input_fresh);
        return CPT_ACT_REDRAW;
    }
    int64_t v;
    char msg[CPW_TEXT_MAX], clean[CPW_TEXT_MAX];
    if (!cpw_param_parse(&k->params[p], ui->input, &v, msg, sizeof msg)) {
        cpw_sanitize(msg, clean, sizeof clean);
        cpt_ui_status(ui, true, now, "%s", clean);
        return CPT_ACT_REDRAW; /* stays on this parameter */
    }
    snprintf(ui->fail_vals[p], sizeof ui->fail_vals[p], "%s", ui->input);
    return p + 1 < k->n_params ? ask_param(ui, k, p + 1) : finish(ui, m, k, cmd, now);
}

cpt_action cpt_ui_fail_key(cpt_ui *ui, const cpt_model *m, int key, cpw_cmd *cmd, int64_t now)
{
    if (key == CPT_KEY_ESC) {
        ui->overlay = CPT_OV_NONE;
        return CPT_ACT_REDRAW;
    }
    /* the job may have announced another table meanwhile (a restart) */
    if (ui->step != STEP_KIND && !chosen(ui, m)) {
        ui->overlay = CPT_OV_NONE;
        cpt_ui_status(ui, true, now, "the job's failure table changed; press f again");
        return CPT_ACT_REDRAW;
    }
    switch (ui->step) {
    case STEP_KIND:
        return kind_key(ui, m, key, cmd, now);
    case STEP_OP:
        return op_key(ui, m, key);
    case STEP_SUB:
        return sub_key(ui, m, key, cmd, now);
    default:
        return param_key(ui, m, key, cmd, now);
    }
}
