/* cpt_view_replay.c — what a replay adds to the screens (see
 * cpt_view_int.h): its header line (the recorded time at the position, a
 * position bar over the recording's range, the speed, PAUSED or END) and
 * the prompt of the jump key. Pure, like the rest of the view: it reads the
 * player's figures the loop copied into the ui. */
#include "cpt_view_int.h"

#include <stdio.h>
#include <string.h>

/* The position bar: filled up to the position, over [first, last]. */
static void position_bar(ctx *c, int x, int y, int w, const cpt_replay_info *in)
{
    int64_t span = in->last_us - in->first_us;
    int64_t at = in->pos_us - in->first_us;
    int fill = span <= 0 ? w : (int)((at < 0 ? 0 : at > span ? span : at) * w / span);
    cpt_frame_fill(c->f, x, y, fill, c->g->bar, CPT_R_BAR);
    cpt_frame_fill(c->f, x + fill, y, w - fill, c->g->bar_empty, CPT_R_BAR_EMPTY);
}

int cpt_view_replay_bar(ctx *c, int y)
{
    const cpt_replay_info *in = &c->ui->rp;
    char pos[32], first[32], last[32], speed[16], right[96], buf[64];
    cpt_fmt_clock(pos, sizeof pos, in->pos_us, false);
    cpt_fmt_clock(first, sizeof first, in->first_us, false);
    cpt_fmt_clock(last, sizeof last, in->last_us, false);
    if (in->speed)
        snprintf(speed, sizeof speed, "%dx", in->speed);
    else
        snprintf(speed, sizeof speed, "max");
    /* fixed widths on the right, so that the bar keeps its length when
     * the replay pauses or the speed changes */
    snprintf(right, sizeof right, "%4s  %-6s", speed,
             in->paused ? "PAUSED" : in->at_end ? "END" : "");
    cpt_frame_fill(c->f, 0, y, c->w, ' ', CPT_R_NORMAL);
    int x = put(c, 0, y, CPT_R_TITLE, "REPLAY ");
    x = put(c, x, y, CPT_R_NORMAL, pos);
    if (in->skipped) {
        snprintf(buf, sizeof buf, "  %d bad chunk%s skipped", in->skipped, in->skipped > 1 ? "s" : "");
        x = put(c, x, y, CPT_R_BAD, buf);
    }
    int rx = c->w - cpt_text_width(right);
    int bw = rx - 2 - x - 2 - cpt_text_width(first) - 1 - 1 - cpt_text_width(last);
    if (bw >= 8) {
        x = put(c, x + 2, y, CPT_R_DIM, first) + 1;
        position_bar(c, x, y, bw, in);
        put(c, x + bw + 1, y, CPT_R_DIM, last);
    }
    if (rx > x) {
        put(c, rx, y, CPT_R_NORMAL, right);
        if (in->paused || in->at_end)
            put(c, rx + 6, y, in->paused ? CPT_R_WARN : CPT_R_DIM, in->paused ? "PAUSED" : "END");
    }
    return y + 1;
}

void cpt_view_jump_prompt(ctx *c)
{
    char buf[200];
    cpt_frame_fill(c->f, 0, c->h - 1, c->w, ' ', CPT_R_STATUS);
    snprintf(buf, sizeof buf, "jump to: %s_   (03:12, 03:12:05, -5m, +30s; Enter: go, Esc: cancel)",
             c->ui->input);
    cpt_frame_put(c->f, 0, c->h - 1, CPT_R_STATUS, buf, -1);
}
