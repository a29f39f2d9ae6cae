/* cpt_view_detail.c — one checkpoint per subtask with its timeline, and the
 * summary screen (see cpt_view_int.h). */
#include "cpt_view_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ detail */

typedef struct phases {
    int64_t barrier, align_s, align_e, snap, sync, async, ack; /* µs after trigger, -1 unknown */
} phases;

static phases phases_of(const cpw_cp *cp, const cpw_sub *u)
{
    phases p;
    int64_t t0 = cp->trigger_ts;
#define REL(ts) ((ts) ? ((ts) > t0 ? (ts) - t0 : 0) : -1)
    p.barrier = REL(u->barrier_ts);
    if (p.barrier < 0 && u->phase == CPW_PH_ACKED)
        p.barrier = u->start_delay_us;
    p.align_s = REL(u->align_start_ts);
    p.align_e = REL(u->align_end_ts);
    p.snap = REL(u->snap_start_ts);
    p.sync = REL(u->sync_done_ts);
    p.async = REL(u->async_done_ts);
    p.ack = REL(u->ack_ts);
#undef REL
    /* from the ack's durations where an event was missed */
    if (u->phase == CPW_PH_ACKED) {
        if (p.align_s < 0 && u->alignment_us > 0)
            p.align_s = p.barrier;
        if (p.align_e < 0 && p.align_s >= 0)
            p.align_e = p.align_s + u->alignment_us;
        int64_t after_align = p.align_e >= 0 ? p.align_e : p.barrier;
        if (p.snap < 0)
            p.snap = after_align;
        if (p.sync < 0 && p.snap >= 0)
            p.sync = p.snap + u->sync_us;
        if (p.async < 0 && p.sync >= 0)
            p.async = p.sync + u->async_us;
    }
    return p;
}

/* Draws one subtask's phases on the time axis [0, span] µs into width cells. */
static void timeline(ctx *c, int x, int y, int width, const cpw_cp *cp, const cpw_sub *u, int64_t span)
{
    if (width < 4 || span <= 0)
        return;
    phases p = phases_of(cp, u);
    int64_t now_rel = c->lnow - cp->trigger_ts;
    int64_t end = u->phase == CPW_PH_ACKED ? (p.ack >= 0 ? p.ack : p.async)
                : u->phase == CPW_PH_DECLINED ? (p.ack >= 0 ? p.ack : now_rel) : now_rel;
    if (cp->status != CPW_CP_IN_PROGRESS && u->phase != CPW_PH_ACKED)
        end = cp->end_ts > cp->trigger_ts ? cp->end_ts - cp->trigger_ts : span;
    for (int i = 0; i < width; i++) {
        int64_t t = span * i / width; /* the cell's start */
        int64_t t1 = span * (i + 1) / width;
        if (t >= end && !(i == 0 && end == 0))
            break;
        uint32_t g = c->g->tl_delay;
        cpt_role r = CPT_R_PENDING;
        if (p.async >= 0 && t1 > p.sync && p.sync >= 0)
            g = c->g->tl_async, r = CPT_R_ASYNC;
        else if (p.sync >= 0 && t1 > p.snap && p.snap >= 0)
            g = c->g->tl_sync, r = CPT_R_SYNC;
        else if (p.snap >= 0 && t1 > p.snap)
            g = c->g->tl_sync, r = CPT_R_SYNC;
        else if (p.align_s >= 0 && t1 > p.align_s && (p.align_e < 0 || t < p.align_e))
            g = c->g->tl_align, r = CPT_R_ALIGNING;
        else if (p.barrier >= 0 && t1 > p.barrier)
            g = c->g->tl_held, r = CPT_R_WARN; /* barrier in, no snapshot yet: held */
        if (u->phase == CPW_PH_ASYNC && t1 > p.sync && p.sync >= 0)
            g = c->g->tl_async, r = CPT_R_ASYNC;
        cpt_frame_fill(c->f, x + i, y, 1, g, r);
    }
    if (u->phase == CPW_PH_DECLINED)
        cpt_frame_fill(c->f, x, y, 1, c->g->phase[CPW_PH_DECLINED], CPT_R_DECLINED);
    /* where it went unaligned, over whatever phase that cell shows */
    int64_t at = cpt_view_unaligned_at(cp, u);
    if (at >= 0 && at <= end) {
        int i = (int)(at * width / span);
        cpt_frame_fill(c->f, x + (i < width ? i : width - 1), y, 1, c->g->unaligned, CPT_R_WARN);
    }
}

static int64_t sub_duration(const cpw_cp *cp, const cpw_sub *u)
{
    return u->ack_ts > cp->trigger_ts ? u->ack_ts - cp->trigger_ts
         : u->start_delay_us + u->alignment_us + u->sync_us + u->async_us;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Straggler threshold of one operator: max(p95, 1.5 x median) of its
 * acknowledged subtasks' durations; INT64_MAX when too few to judge. */
static int64_t straggler_threshold(const cpt_model *m, const cpw_cp *cp, int op)
{
    const cpw_state *st = m->st;
    int par = st->hello.ops[op].parallelism;
    int64_t *v = malloc((size_t)par * sizeof *v);
    if (!v)
        return INT64_MAX;
    int n = 0;
    for (int k = 0; k < par; k++) {
        const cpw_sub *u = &cp->subs[st->op_base[op] + k];
        if (u->phase == CPW_PH_ACKED)
            v[n++] = sub_duration(cp, u);
    }
    int64_t thr = INT64_MAX;
    if (n >= 4) {
        qsort(v, (size_t)n, sizeof *v, cmp64);
        int64_t med = v[(n - 1) / 2];
        int k95 = (int)(0.95 * n + 0.999999);
        int64_t p95 = v[(k95 < 1 ? 1 : k95 > n ? n : k95) - 1];
        int64_t half = med + med / 2;
        thr = p95 > half ? p95 : half;
        if (thr <= med)
            thr = INT64_MAX; /* all alike: nobody stands out */
    }
    free(v);
    return thr;
}

/* The heading: status, trigger time, duration, size, acks; why it failed. */
static int detail_heading(ctx *c, int y, const cpw_cp *cp, int64_t span)
{
    char buf[400], a[32], b[32], tm[32];
    bool live = cp->status == CPW_CP_IN_PROGRESS;
    snprintf(buf, sizeof buf, "Checkpoint #%lld", (long long)cp->id);
    int x = cpt_view_rule(c, y, buf, true);
    cpt_fmt_clock(tm, sizeof tm, cp->trigger_ts, true);
    cpt_fmt_dur(a, sizeof a, live ? span : cp->duration_us);
    cpt_fmt_bytes(b, sizeof b, cp->checkpointed_size);
    char pe[48] = "";
    if (cp->type != CPW_CPT_ALIGNED || cp->persisted_data) {
        char p[32];
        cpt_fmt_bytes(p, sizeof p, cp->persisted_data);
        snprintf(pe, sizeof pe, ", %s persisted", p);
    }
    snprintf(buf, sizeof buf, "%s %s %s %s, %s%s, %s%s, %d/%d acked ",
             live ? "in progress" : cpw_cp_status_name(cp->status),
             cp->kind == CPW_TRIGGER_MANUAL ? "manual" : "periodic",
             cpw_cp_type_name((cpw_cp_type)cp->type), tm, a, live ? " so far" : "", b, pe,
             cp->acks, cp->total);
    put(c, x, y, cp->status == CPW_CP_FAILED ? CPT_R_BAD : cp->status == CPW_CP_COMPLETED ? CPT_R_GOOD
                 : CPT_R_ASYNC, buf);
    y++;
    if (cp->status == CPW_CP_FAILED) {
        char msg[CPW_TEXT_MAX];
        const char *rn = cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : NULL;
        cpw_sanitize(cp->message, msg, sizeof msg);
        snprintf(buf, sizeof buf, "failed: %s%s%s", rn ? rn : "unknown", msg[0] ? ": " : "", msg);
        put(c, 2, y++, CPT_R_BAD, buf);
    }
    return y;
}

/* The critical path: in flight, who it waits on; finished, who acknowledged
 * last (index `last`, -1 none) and which phase dominated. */
static int critical_path(ctx *c, int y, int y_max, const cpw_cp *cp, int last)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    char buf[400], a[32], b[32], on[CPW_NAME_MAX];
    if (cp->status == CPW_CP_IN_PROGRESS) {
        straggler sg = cpt_view_slowest(m, cp);
        if (sg.op < 0)
            return y;
        cpt_model_op_name(m, sg.op, on, sizeof on);
        cpt_fmt_dur(a, sizeof a, c->lnow - sg.since);
        snprintf(buf, sizeof buf, "still waiting on %d subtask%s; the furthest behind: %s#%d, %s for %s",
                 sg.pending, sg.pending == 1 ? "" : "s", on, sg.subtask,
                 cpt_view_phase_word[sg.phase], a);
        return cpt_view_wrapped(c, 2, y, y_max, cpt_view_phase_role[sg.phase], buf);
    }
    if (last < 0)
        return y;
    int op = 0;
    while (op + 1 < st->hello.n_ops && st->op_base[op + 1] <= last)
        op++;
    const cpw_sub *u = &cp->subs[last];
    static const char *const names[] = {"start delay (barrier travel)", "alignment",
                                        "sync snapshot", "async upload"};
    int64_t v[4] = {u->start_delay_us, u->alignment_us, u->sync_us, u->async_us};
    int dom = 0;
    for (int k = 1; k < 4; k++)
        if (v[k] > v[dom])
            dom = k;
    int64_t tot = v[0] + v[1] + v[2] + v[3];
    cpt_model_op_name(m, op, on, sizeof on);
    cpt_fmt_dur(a, sizeof a, u->ack_ts - cp->trigger_ts);
    cpt_fmt_dur(b, sizeof b, v[dom]);
    snprintf(buf, sizeof buf, "critical path: %s#%d acknowledged last, at +%s; %s dominated it (%s, %d%%)",
             on, last - st->op_base[op], a, names[dom], b, tot > 0 ? (int)(v[dom] * 100 / tot) : 0);
    return cpt_view_wrapped(c, 2, y, y_max, CPT_R_WARN, buf);
}

/* The timeline's glyphs, once. */
static int timeline_legend(ctx *c, int y, int y_max, bool unaligned)
{
    if (y >= y_max - 2)
        return y;
    int x = put(c, 2, y, CPT_R_DIM, "timeline: ");
    static const char *const words[] = {" barrier travel  ", " aligning  ", " barrier held  ",
                                        " sync  ", " upload"};
    const uint32_t gl[] = {c->g->tl_delay, c->g->tl_align, c->g->tl_held, c->g->tl_sync,
                           c->g->tl_async};
    const cpt_role rl[] = {CPT_R_PENDING, CPT_R_ALIGNING, CPT_R_WARN, CPT_R_SYNC, CPT_R_ASYNC};
    for (int k = 0; k < 5; k++) {
        cpt_frame_fill(c->f, x, y, 1, gl[k], rl[k]);
        x = put(c, x + 1, y, CPT_R_DIM, words[k]);
    }
    if (unaligned) {
        x = put(c, x, y, CPT_R_DIM, "  ");
        cpt_frame_fill(c->f, x, y, 1, c->g->unaligned, CPT_R_WARN);
        x = put(c, x + 1, y, CPT_R_DIM, " went unaligned");
    }
    put(c, x, y, CPT_R_DIM, "   * acked last  ! straggler");
    return y + 1;
}

/* The figures of a subtask's row, after OPERATOR and SUB. SIZE needs a
 * wide screen; PERSISTED and UNALIGNED (when it went unaligned, after the
 * trigger) show for a checkpoint that is or may become unaligned, where
 * they take the timeline's place on a narrow screen. */
typedef enum detail_col {
    DC_DELAY, DC_ALIGN, DC_SYNC, DC_ASYNC, DC_ACK, DC_SIZE, DC_PERSISTED, DC_UNALIGNED, DC__COUNT
} detail_col;

static const struct {
    const char *head;
    int width;
} detail_col_def[DC__COUNT] = {
    [DC_DELAY] = {"DELAY", 8}, [DC_ALIGN] = {"ALIGN", 8}, [DC_SYNC] = {"SYNC", 8},
    [DC_ASYNC] = {"ASYNC", 8}, [DC_ACK] = {"ACK", 8}, [DC_SIZE] = {"SIZE", 9},
    [DC_PERSISTED] = {"PERSISTED", 9}, [DC_UNALIGNED] = {"UNALIGNED", 9},
};

typedef struct detail_cols {
    int name_w, tl_x, tl_w;
    int fig_w;              /* columns of the shown figures, each with its leading blank */
    bool show[DC__COUNT];
} detail_cols;

/* Whether cp is, or may still become, unaligned. */
static bool cp_unaligned(const cpw_cp *cp)
{
    return cp->type != CPW_CPT_ALIGNED || cp->alignment != CPW_ALIGN_ALIGNED || cp->persisted_data;
}

static detail_cols detail_header(ctx *c, int y, int64_t span, const cpw_cp *cp)
{
    char buf[160], a[32];
    detail_cols k = {.name_w = 10};
    for (int i = 0; i < DC__COUNT; i++) {
        k.show[i] = i == DC_SIZE ? c->w >= 120 : i >= DC_PERSISTED ? cp_unaligned(cp) : true;
        k.fig_w += k.show[i] ? detail_col_def[i].width + 1 : 0;
    }
    k.tl_x = k.name_w + 5 + k.fig_w + 2;
    k.tl_w = c->w - k.tl_x - 1;
    int x = put(c, 0, y, CPT_R_LABEL, "OPERATOR");
    snprintf(buf, sizeof buf, "%*s %4s", k.name_w - 8, "", "SUB");
    x = put(c, x, y, CPT_R_LABEL, buf);
    for (int i = 0; i < DC__COUNT; i++)
        if (k.show[i]) {
            snprintf(buf, sizeof buf, " %*s", detail_col_def[i].width, detail_col_def[i].head);
            x = put(c, x, y, CPT_R_LABEL, buf);
        }
    if (k.tl_w >= 12) {
        cpt_fmt_dur(a, sizeof a, span);
        int lx = put(c, k.tl_x, y, CPT_R_LABEL, "0 timeline ");
        int ax = k.tl_x + k.tl_w - (int)strlen(a);
        cpt_frame_fill(c->f, lx, y, ax - lx - 1, c->g->hline, CPT_R_DIM);
        put(c, ax, y, CPT_R_LABEL, a);
    }
    return k;
}

/* The UNALIGNED cell (x: its leading blank), right-aligned: the glyph and
 * when, "-" for a subtask still aligned. */
static void unaligned_cell(ctx *c, int x, int y, const cpw_cp *cp, const cpw_sub *u)
{
    char a[32] = "";
    int w = detail_col_def[DC_UNALIGNED].width;
    if (!cpt_view_sub_unaligned(cp, u)) {
        put(c, x + w, y, CPT_R_DIM, "-");
        return;
    }
    int64_t at = cpt_view_unaligned_at(cp, u);
    if (at >= 0) {
        a[0] = '+';
        cpt_fmt_dur(a + 1, sizeof a - 1, at);
    }
    int gx = x + w + 1 - (a[0] ? 2 + cpt_text_width(a) : 1);
    cpt_frame_fill(c->f, gx, y, 1, c->g->unaligned, CPT_R_WARN);
    if (a[0])
        put(c, gx + 2, y, CPT_R_NORMAL, a);
}

/* One subtask's row: its figures (or its phase), its marks, its timeline. */
static void detail_row(ctx *c, int y, const detail_cols *k, const cpw_cp *cp, int i, int op,
                       bool straggler_row, bool last, int64_t span)
{
    char buf[400], cell[40], on[CPW_NAME_MAX];
    const cpw_sub *u = &cp->subs[i];
    int sub = i - c->m->st->op_base[op];
    cpt_model_op_name(c->m, op, on, sizeof on);
    putn(c, 0, y, sub == 0 ? CPT_R_LABEL : CPT_R_DIM, k->name_w, on);
    bool done = u->phase == CPW_PH_ACKED;
    int ph = cpt_view_shown_phase(u);
    cpt_role r = done ? (straggler_row ? CPT_R_WARN : CPT_R_NORMAL) : cpt_view_phase_role[ph];
    snprintf(buf, sizeof buf, " %4d", sub);
    int x = put(c, k->name_w, y, r, buf);
    /* the unaligned cell stays; before it, figures or the phase */
    int uw = k->show[DC_UNALIGNED] ? detail_col_def[DC_UNALIGNED].width + 1 : 0;
    if (done) {
        const int64_t v[DC__COUNT] = {
            [DC_DELAY] = u->start_delay_us, [DC_ALIGN] = u->alignment_us, [DC_SYNC] = u->sync_us,
            [DC_ASYNC] = u->async_us, [DC_ACK] = u->ack_ts - cp->trigger_ts,
            [DC_SIZE] = u->checkpointed_size, [DC_PERSISTED] = u->persisted_data,
        };
        for (int j = 0; j < DC_UNALIGNED; j++) {
            if (!k->show[j])
                continue;
            if (j == DC_SIZE || j == DC_PERSISTED)
                cpt_fmt_bytes(cell, sizeof cell, v[j]);
            else
                cpt_fmt_dur(cell, sizeof cell, v[j]);
            snprintf(buf, sizeof buf, " %*s", detail_col_def[j].width, cell);
            x = put(c, x, y, r, buf);
        }
    } else {
        int cw = k->fig_w - uw - 1;
        snprintf(buf, sizeof buf, " %-*s", cw, cpt_view_phase_word[ph]);
        if (u->phase == CPW_PH_DECLINED && u->reason[0]) {
            char rs[CPW_TEXT_MAX];
            cpw_sanitize(u->reason, rs, sizeof rs);
            snprintf(buf, sizeof buf, " declined: %-*.*s", cw - 10, cw - 10, rs);
        }
        x = put(c, x, y, r, buf);
    }
    if (uw)
        unaligned_cell(c, k->name_w + 5 + k->fig_w - uw, y, cp, u);
    if (straggler_row)
        put(c, k->name_w + 2, y, CPT_R_WARN, "!");
    if (last)
        put(c, k->name_w + 1, y, CPT_R_WARN, "*");
    if (k->tl_w >= 12)
        timeline(c, k->tl_x, y, k->tl_w, cp, u, span);
}

void cpt_view_detail(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    cpt_ui *ui = c->ui;
    const cpw_cp *cp = cpt_ui_detail_cp(ui, m);
    if (!cp) {
        char buf[64];
        snprintf(buf, sizeof buf, "Checkpoint #%lld", (long long)ui->detail_id);
        cpt_view_rule(c, y, buf, true);
        put(c, 2, y + 1, CPT_R_DIM, "no longer retained (see --history)");
        return;
    }
    bool live = cp->status == CPW_CP_IN_PROGRESS;
    int64_t span = live ? c->lnow - cp->trigger_ts
                 : (cp->latest_ack_ts > cp->end_ts ? cp->latest_ack_ts : cp->end_ts) - cp->trigger_ts;
    if (span <= 0)
        span = cp->duration_us > 0 ? cp->duration_us : 1;
    y = detail_heading(c, y, cp, span);
    if (m->detail_note_id == cp->id && m->detail_note[0] && y < y_max)
        put(c, 2, y++, CPT_R_DIM, m->detail_note); /* the source's word on its figures */
    if (!cp->subs || cp->total != st->n_subtasks) {
        put(c, 2, y, CPT_R_DIM, "per-subtask detail is kept for the newest checkpoints only (see --detail)");
        return;
    }
    int last = -1;
    for (int i = 0; i < cp->total; i++)
        if (cp->subs[i].phase == CPW_PH_ACKED && (last < 0 || cp->subs[i].ack_ts > cp->subs[last].ack_ts))
            last = i;
    y = critical_path(c, y, y_max, cp, last);
    y = timeline_legend(c, y, y_max, cp_unaligned(cp));
    detail_cols k = detail_header(c, y++, span, cp);
    int rows = y_max - y;
    if (rows <= 0)
        return;
    ui->page = rows;
    int max_scroll = cp->total - rows;
    if (ui->detail_scroll > max_scroll)
        ui->detail_scroll = max_scroll > 0 ? max_scroll : 0;
    int op = 0, thr_op = -1;
    int64_t thr = INT64_MAX;
    for (int i = ui->detail_scroll; i < cp->total && y < y_max; i++, y++) {
        while (op + 1 < st->hello.n_ops && st->op_base[op + 1] <= i)
            op++;
        if (thr_op != op) {
            thr = straggler_threshold(m, cp, op);
            thr_op = op;
        }
        bool strag = cp->subs[i].phase == CPW_PH_ACKED && sub_duration(cp, &cp->subs[i]) >= thr;
        detail_row(c, y, &k, cp, i, op, strag, i == last, span);
    }
}

/* ------------------------------------------------------------------ summary */

static void stat_row(ctx *c, int y, const char *label, const cpt_stat *s, bool bytes, int cw)
{
    char buf[32];
    put(c, 2, y, CPT_R_LABEL, label);
    if (!s->n) {
        put(c, 24, y, CPT_R_DIM, "-");
        return;
    }
    const int64_t v[] = {s->min, s->p50, s->p90, s->p99, s->p999, s->max};
    for (int i = 0; i < 6; i++) {
        if (bytes)
            cpt_fmt_bytes(buf, sizeof buf, v[i]);
        else
            cpt_fmt_dur(buf, sizeof buf, v[i]);
        char cell[40];
        snprintf(cell, sizeof cell, "%*s", cw - 1, buf);
        put(c, 22 + i * cw, y, CPT_R_NORMAL, cell);
    }
}

/* How many were aligned, unaligned, switched, and the in-flight bytes the
 * unaligned ones persisted: in all, and on average per checkpoint of them. */
static int summary_types(ctx *c, int y, int y_max, const cpt_summary *s)
{
    char buf[256], a[32], b[32];
    put(c, 2, y, CPT_R_LABEL, "checkpoint types");
    int n = snprintf(buf, sizeof buf, "%d aligned, %d unaligned, %d switched", s->by_type[CPW_CPT_ALIGNED],
                     s->by_type[CPW_CPT_UNALIGNED], s->by_type[CPW_CPT_SWITCHED]);
    if (s->persisted.n) {
        cpt_fmt_bytes(a, sizeof a, s->persisted_total);
        cpt_fmt_bytes(b, sizeof b, s->persisted_total / s->persisted.n);
        snprintf(buf + n, sizeof buf - (size_t)n, "; persisted %s in all, avg %s per completed "
                 "unaligned/switched one", a, b);
    }
    return cpt_view_wrapped(c, 22, y, y_max, s->by_type[CPW_CPT_SWITCHED] ? CPT_R_WARN : CPT_R_NORMAL, buf);
}

void cpt_view_summary(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpt_summary *s = cpt_model_summary(m);
    char buf[400], a[32], b[32];
    snprintf(buf, sizeof buf, "Summary of the %d retained checkpoints (%d completed, %d failed)",
             m->st->n_history, s->completed, s->failed);
    cpt_view_rule(c, y++, buf, true);
    y++;
    int cw = (c->w - 22) / 6;
    cw = cw > 11 ? 11 : cw < 9 ? 9 : cw;
    static const char *const heads[] = {"min", "p50", "p90", "p99", "p99.9", "max"};
    for (int i = 0; i < 6; i++) {
        snprintf(buf, sizeof buf, "%*s", cw - 1, heads[i]);
        put(c, 22 + i * cw, y, CPT_R_LABEL, buf);
    }
    y++;
    stat_row(c, y++, "end-to-end duration", &s->duration_us, false, cw);
    stat_row(c, y++, "checkpointed size", &s->size, true, cw);
    stat_row(c, y++, "alignment (longest)", &s->alignment_us, false, cw);
    if (s->persisted.n)
        stat_row(c, y++, "persisted in flight", &s->persisted, true, cw);
    y = summary_types(c, y, y_max, s);
    y++;
    /* timeout advice: the advice engine's line (the Advice screen has the rest) */
    put(c, 2, y, CPT_R_LABEL, "timeout advice");
    const cpt_advice *adv = cpt_advice_ui_get(c->ui, m, c->now);
    static const cpt_role adv_role[] = {CPT_R_GOOD, CPT_R_DIM, CPT_R_WARN, CPT_R_BAD};
    cpt_role r = adv_role[adv->headline_level];
    snprintf(buf, sizeof buf, "%s", adv->headline);
    cpt_fmt_dur(b, sizeof b, s->duration_us.p99);
    y = cpt_view_wrapped(c, 22, y, y_max, r, buf);
    if (m->interval_us > 0 && s->duration_us.n && s->duration_us.p99 > m->interval_us) {
        cpt_fmt_limit(a, sizeof a, m->interval_us);
        snprintf(buf, sizeof buf, "p99 %s exceeds the interval %s: checkpoints run back to back", b, a);
        y = cpt_view_wrapped(c, 22, y, y_max, CPT_R_WARN, buf);
    }
    if (m->tolerable >= 0) {
        snprintf(buf, sizeof buf, "%d consecutive failure%s now, %d tolerated: %d more and the job restarts",
                 m->st->consecutive_failures, m->st->consecutive_failures == 1 ? "" : "s", m->tolerable,
                 m->tolerable - m->st->consecutive_failures + 1);
        y = cpt_view_wrapped(c, 22, y, y_max, m->st->consecutive_failures ? CPT_R_WARN : CPT_R_NORMAL, buf);
    }
    y++;
    if (y >= y_max)
        return;
    put(c, 2, y++, CPT_R_LABEL, "failures by reason");
    int any = 0;
    for (int i = 0; i <= CPW_FAIL__COUNT && y < y_max; i++) {
        if (!s->by_reason[i])
            continue;
        const char *rn = i < CPW_FAIL__COUNT ? cpw_failure_reason_name((cpw_failure_reason)i) : "unknown";
        snprintf(buf, sizeof buf, "%6d  %s", s->by_reason[i], rn ? rn : "unknown");
        put(c, 22, y++, CPT_R_BAD, buf);
        any++;
    }
    if (!any && y < y_max)
        put(c, 22, y++, CPT_R_DIM, "none");
    y++;
    if (y < y_max) {
        snprintf(buf, sizeof buf, "link: %llu messages, %llu events, %llu gaps (%llu missed), %llu resyncs, "
                 "%llu process restarts, %llu bad frames", (unsigned long long)m->messages,
                 (unsigned long long)m->events, (unsigned long long)m->gaps, (unsigned long long)m->missed,
                 (unsigned long long)m->resyncs, (unsigned long long)m->restarts,
                 (unsigned long long)m->bad_frames);
        y = cpt_view_wrapped(c, 2, y, y_max, CPT_R_DIM, buf);
    }
    if (y < y_max && m->st->agent_emitted) {
        snprintf(buf, sizeof buf, "agent (at the last resync): %llu emitted, %llu sent, %llu dropped",
                 (unsigned long long)m->st->agent_emitted, (unsigned long long)m->st->agent_sent,
                 (unsigned long long)m->st->agent_dropped);
        cpt_view_wrapped(c, 2, y, y_max, CPT_R_DIM, buf);
    }
}

