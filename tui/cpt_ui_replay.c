/* cpt_ui_replay.c — the replay's keys (see cpt_ui.h): a table from keys to
 * what they ask the player, as in atop and below, and the jump prompt. They
 * exist only in a replay, so they never shadow a live key (t triggers a
 * checkpoint live, and goes to the next checkpoint event in a replay). */
#include "cpt_ui.h"

#include <stdio.h>
#include <string.h>

#define STEP_US 10000000LL /* ] and [ */

static const struct {
    int key;
    int op;                /* cpt_replay_op; CPT_RP_JUMP opens the prompt */
    int64_t step_us;
} replay_keys[] = {
    {' ', CPT_RP_PAUSE, 0},
    {'t', CPT_RP_NEXT_CP, 0},    {'T', CPT_RP_PREV_CP, 0},
    {']', CPT_RP_STEP, STEP_US}, {'[', CPT_RP_STEP, -STEP_US},
    {'b', CPT_RP_JUMP, 0},
    {'r', CPT_RP_START, 0},      {'Z', CPT_RP_END, 0},
    {'+', CPT_RP_FASTER, 0},     {'=', CPT_RP_FASTER, 0}, /* = is + unshifted */
    {'-', CPT_RP_SLOWER, 0},
};

static int find(int key)
{
    for (size_t i = 0; i < sizeof replay_keys / sizeof replay_keys[0]; i++)
        if (replay_keys[i].key == key)
            return (int)i;
    return -1;
}

bool cpt_ui_replay_takes(const cpt_ui *ui, int key)
{
    return ui->replay && ui->overlay == CPT_OV_NONE && find(key) >= 0;
}

cpt_action cpt_ui_replay_key(cpt_ui *ui, int key, int64_t now_us)
{
    (void)now_us;
    int i = ui->replay ? find(key) : -1;
    if (i < 0)
        return CPT_ACT_NONE;
    memset(&ui->rp_req, 0, sizeof ui->rp_req);
    if (replay_keys[i].op == CPT_RP_JUMP) {
        ui->overlay = CPT_OV_JUMP;
        ui->input[0] = 0;
        ui->input_fresh = false;
        return CPT_ACT_REDRAW;
    }
    ui->rp_req.op = replay_keys[i].op;
    ui->rp_req.step_us = replay_keys[i].step_us;
    return CPT_ACT_REPLAY;
}

cpt_action cpt_ui_jump_key(cpt_ui *ui, int key, int64_t now_us)
{
    (void)now_us;
    if (key == CPT_KEY_ESC) {
        ui->overlay = CPT_OV_NONE;
        return CPT_ACT_REDRAW;
    }
    if (key != CPT_KEY_ENTER) {
        cpt_ui_edit(ui->input, sizeof ui->input, key, &ui->input_fresh);
        return CPT_ACT_REDRAW;
    }
    ui->overlay = CPT_OV_NONE;
    memset(&ui->rp_req, 0, sizeof ui->rp_req);
    ui->rp_req.op = CPT_RP_JUMP;
    snprintf(ui->rp_req.text, sizeof ui->rp_req.text, "%s", ui->input);
    return CPT_ACT_REPLAY;
}
