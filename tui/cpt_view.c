/* cpt_view.c — see cpt_view.h; the parts are listed in cpt_view_int.h. */
#include "cpt_view_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ glyphs */

static const cpt_glyphs UNI = {
    .phase = {0x00B7, 0x25D4, 0x25D1, 0x25D5, 0x2713, 0x2717, 0x25D3}, /* · ◔ ◑ ◕ ✓ ✗ ◓ */
    .bar = 0x2588, .bar_empty = 0x2591, .hline = 0x2500, .vline = 0x2502,
    .spark = {0x2581, 0x2582, 0x2583, 0x2584, 0x2585, 0x2586, 0x2587, 0x2588},
    .tl_delay = 0x2500, .tl_align = 0x2592, .tl_held = 0x2505, .tl_sync = 0x2593, .tl_async = 0x2588,
    .tl_ack = 0x2502,
    .live = 0x25CF, .dead = 0x2717, .sel = 0x25B6,
    .corner_tl = 0x250C, .corner_tr = 0x2510, .corner_bl = 0x2514, .corner_br = 0x2518,
    .unaligned = 0x00BB, /* » : the barrier overtook */
};

static const cpt_glyphs ASC = {
    .phase = {'.', 'a', 's', 'u', '+', 'x', 'h'},
    .bar = '#', .bar_empty = '-', .hline = '-', .vline = '|',
    .spark = {'_', '.', ':', '-', '=', '+', '*', '#'},
    .tl_delay = '-', .tl_align = 'a', .tl_held = 'h', .tl_sync = 's', .tl_async = 'u', .tl_ack = '|',
    .live = '*', .dead = 'x', .sel = '>',
    .corner_tl = '+', .corner_tr = '+', .corner_bl = '+', .corner_br = '+',
    .unaligned = '>',
};

const cpt_role cpt_view_phase_role[PH__SHOWN] = {
    CPT_R_PENDING, CPT_R_ALIGNING, CPT_R_SYNC, CPT_R_ASYNC, CPT_R_ACKED, CPT_R_DECLINED, CPT_R_WARN,
};

const char *const cpt_view_phase_short[PH__SHOWN] = {
    "barrier", "aligning", "sync", "upload", "acked", "declined", "barrier held",
};

const char *const cpt_view_phase_word[PH__SHOWN] = {
    "waiting for barrier", "aligning", "sync snapshot", "uploading", "acknowledged", "declined",
    "barrier in, no snapshot yet",
};

/* Progress order of shown phases (declined apart). */
const int cpt_view_phase_rank[PH__SHOWN] = {0, 1, 3, 4, 5, 6, 2};

int cpt_view_shown_phase(const cpw_sub *u)
{
    if (u->phase == CPW_PH_PENDING && u->barrier_ts)
        return PH_HELD;
    if (u->phase == CPW_PH_ALIGNING && u->align_end_ts)
        return PH_HELD;
    return u->phase;
}

bool cpt_view_sub_unaligned(const cpw_cp *cp, const cpw_sub *u)
{
    return u->unaligned || u->switch_ts ||
           (cp->alignment == CPW_ALIGN_UNALIGNED && (u->barrier_ts || u->phase == CPW_PH_ACKED));
}

int64_t cpt_view_unaligned_at(const cpw_cp *cp, const cpw_sub *u)
{
    if (!cpt_view_sub_unaligned(cp, u))
        return -1;
    int64_t ts = u->switch_ts ? u->switch_ts : u->barrier_ts;
    if (!ts || !cp->trigger_ts)
        return -1;
    return ts > cp->trigger_ts ? ts - cp->trigger_ts : 0;
}

cpt_role cpt_view_type_role(const cpw_cp *cp)
{
    static const cpt_role role[CPW_CPT__COUNT] = {
        [CPW_CPT_ALIGNED] = CPT_R_DIM, [CPW_CPT_UNALIGNED] = CPT_R_NORMAL, [CPW_CPT_SWITCHED] = CPT_R_WARN,
    };
    return cp->type < CPW_CPT__COUNT ? role[cp->type] : CPT_R_NORMAL;
}

/* ------------------------------------------------------------------ helpers */

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 32);
}

/* Puts text word-wrapped between x and the right edge, from row y up to
 * y_max (exclusive); returns the row after it. */
int cpt_view_wrapped(ctx *c, int x, int y, int y_max, cpt_role r, const char *s)
{
    int w = c->w - x;
    if (w < 10)
        w = 10;
    while (*s && y < y_max) {
        int n = (int)strlen(s);
        if (cpt_text_width(s) <= w) {
            put(c, x, y++, r, s);
            break;
        }
        /* break at the last space that fits (bytes ~ columns for our text) */
        int cut = w < n ? w : n;
        while (cut > 0 && s[cut] != ' ')
            cut--;
        if (cut == 0)
            cut = w;
        char line[512];
        snprintf(line, sizeof line, "%.*s", cut, s);
        put(c, x, y++, r, line);
        s += cut;
        while (*s == ' ')
            s++;
    }
    return y;
}

/* "── Title ─────" across the row; returns the column after the title. */
int cpt_view_rule(ctx *c, int y, const char *title, bool focused)
{
    cpt_frame_fill(c->f, 0, y, c->w, c->g->hline, CPT_R_DIM);
    int x = put(c, 1, y, CPT_R_DIM, " ");
    x = put(c, x, y, focused ? CPT_R_SELECT : CPT_R_TITLE, title);
    return put(c, x, y, CPT_R_DIM, " ");
}

static int64_t phase_since(const cpw_cp *cp, const cpw_sub *u)
{
    if (cpt_view_shown_phase(u) == PH_HELD)
        return u->align_end_ts ? u->align_end_ts : u->barrier_ts;
    switch (u->phase) {
    case CPW_PH_PENDING: return cp->trigger_ts;
    case CPW_PH_ALIGNING: return u->align_start_ts ? u->align_start_ts : u->barrier_ts;
    case CPW_PH_SYNC: return u->snap_start_ts;
    case CPW_PH_ASYNC: return u->sync_done_ts;
    default: return u->ack_ts;
    }
}

/* The subtask holding a checkpoint up. Barriers flow in operator order (the
 * topology lists operators upstream first), so a subtask waiting for its
 * barrier usually waits on someone upstream: the culprit is the most
 * upstream subtask that has not yet forwarded the barrier (still waiting,
 * aligning or in its synchronous snapshot), the one longest in that phase;
 * when every barrier is through, the upload running longest. */
straggler cpt_view_slowest(const cpt_model *m, const cpw_cp *cp)
{
    straggler s = {.op = -1, .subtask = -1};
    if (!cp->subs)
        return s;
    const cpw_state *st = m->st;
    for (int pass = 0; pass < 2 && s.op < 0; pass++)
        for (int op = 0; op < st->hello.n_ops; op++) {
            if (pass == 0 && s.op >= 0)
                break; /* found in the most upstream operator */
            for (int k = 0; k < st->hello.ops[op].parallelism; k++) {
                const cpw_sub *u = &cp->subs[st->op_base[op] + k];
                if (u->phase == CPW_PH_ACKED || u->phase == CPW_PH_DECLINED)
                    continue;
                bool blocking = u->phase != CPW_PH_ASYNC;
                if (blocking != (pass == 0))
                    continue;
                int64_t since = phase_since(cp, u);
                if (s.op < 0 || (s.op == op && since < s.since) || (pass == 1 && since < s.since))
                    s.op = op, s.subtask = k, s.phase = cpt_view_shown_phase(u), s.since = since;
            }
        }
    /* the count covers every operator, not just those scanned before the break */
    s.pending = 0;
    for (int i = 0; i < cp->total; i++)
        s.pending += cp->subs[i].phase != CPW_PH_ACKED && cp->subs[i].phase != CPW_PH_DECLINED;
    return s;
}

void cpt_view_box(ctx *c, int x, int y, int w, int h, const char *title)
{
    for (int r = 0; r < h; r++)
        cpt_frame_fill(c->f, x, y + r, w, ' ', CPT_R_OVERLAY);
    cpt_frame_fill(c->f, x, y, w, c->g->hline, CPT_R_OVERLAY);
    cpt_frame_fill(c->f, x, y + h - 1, w, c->g->hline, CPT_R_OVERLAY);
    for (int r = 1; r < h - 1; r++) {
        cpt_frame_fill(c->f, x, y + r, 1, c->g->vline, CPT_R_OVERLAY);
        cpt_frame_fill(c->f, x + w - 1, y + r, 1, c->g->vline, CPT_R_OVERLAY);
    }
    cpt_frame_fill(c->f, x, y, 1, c->g->corner_tl, CPT_R_OVERLAY);
    cpt_frame_fill(c->f, x + w - 1, y, 1, c->g->corner_tr, CPT_R_OVERLAY);
    cpt_frame_fill(c->f, x, y + h - 1, 1, c->g->corner_bl, CPT_R_OVERLAY);
    cpt_frame_fill(c->f, x + w - 1, y + h - 1, 1, c->g->corner_br, CPT_R_OVERLAY);
    char t[120];
    snprintf(t, sizeof t, " %s ", title);
    cpt_frame_put(c->f, x + 2, y, CPT_R_OVERLAY, t, w - 4);
}

void cpt_view_box_line(ctx *c, int x, int y, int w, bool sel, const char *text)
{
    cpt_frame_put(c->f, x + 2, y, sel ? CPT_R_SELECT : CPT_R_OVERLAY, text, w - 4);
    if (sel)
        cpt_frame_role(c->f, x + 1, y, w - 2, CPT_R_SELECT);
}

/* ------------------------------------------------------------------ header */

/* The link's state, as the header's right end shows it. */
static cpt_role link_text(ctx *c, char *buf, size_t size)
{
    cpt_model *m = c->m;
    char a[32];
    cpt_role lr;
    if (m->link == CPT_LINK_UP) {
        snprintf(buf, size, "%s %.0f ev/s", c->ui->replay ? "replayed" : "live",
                 m->events_per_s);
        lr = CPT_R_GOOD;
    } else if (m->link == CPT_LINK_DOWN) {
        cpt_fmt_dur(a, sizeof a, c->now - (m->last_msg_us ? m->last_msg_us : m->link_since_us));
        snprintf(buf, size, "DISCONNECTED %s", a);
        lr = CPT_R_BAD;
    } else {
        snprintf(buf, size, "connecting");
        lr = CPT_R_WARN;
    }
    if (m->gaps) {
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, "  gaps %llu", (unsigned long long)m->gaps);
    }
    return lr;
}

/* Row 0: the job, its status, uptime, pid; the link right-aligned.
 * false when nothing was heard yet (then it says where it looks). */
static bool header_title(ctx *c)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    char name[CPW_NAME_MAX], job[CPW_MAX_JOB_ID], buf[128], a[32];
    cpw_sanitize(st->hello.name[0] ? st->hello.name : "?", name, sizeof name);
    cpw_sanitize(st->job[0] ? st->job : "?", job, sizeof job);
    cpt_frame_fill(c->f, 0, 0, c->w, ' ', CPT_R_NORMAL);
    int x = put(c, 0, 0, CPT_R_TITLE, "cptop ");
    if (!st->hello.name[0] && !st->hello.pid) {
        /* nothing heard yet: say where we are looking */
        put(c, x, 0, CPT_R_DIM, m->endpoint[0] ? m->endpoint : "looking for a job");
        if (m->link == CPT_LINK_DOWN) {
            /* never heard from, and given up waiting: said as loudly as a
             * link that went down (the endpoint above says why, if it knows) */
            char lt[128];
            cpt_role lr = link_text(c, lt, sizeof lt);
            put(c, 0, 1, lr, lt);
        } else {
            put(c, 0, 1, CPT_R_DIM, m->link == CPT_LINK_CONNECTING ? "connecting..." : "");
        }
        return false;
    }
    x = put(c, x, 0, CPT_R_NORMAL, name);
    /* a job without a process of ours (polled) shows where its data comes
     * from instead of its long id when the row is narrow */
    bool polled = !st->hello.pid && m->endpoint[0];
    if (strcmp(name, job) && (!polled || c->w >= 120)) {
        snprintf(buf, sizeof buf, " (%s)", job);
        x = put(c, x, 0, CPT_R_DIM, buf);
    }
    x = put(c, x, 0, CPT_R_NORMAL, "  ");
    const char *stn = cpw_job_status_name((cpw_job_status)st->status);
    snprintf(buf, sizeof buf, "%s", stn ? stn : "unknown");
    upper(buf);
    cpt_role sr = st->status == CPW_JOB_RUNNING ? CPT_R_GOOD
                : st->status == CPW_JOB_RESTARTING ? CPT_R_WARN
                : st->status == CPW_JOB_FAILED ? CPT_R_BAD : CPT_R_DIM;
    if (m->link == CPT_LINK_DOWN)
        sr = CPT_R_DIM;
    x = put(c, x, 0, sr, buf);
    if (st->hello.start_ts_us > 0 && m->link != CPT_LINK_DOWN) {
        cpt_fmt_dur(a, sizeof a, c->now - st->hello.start_ts_us);
        snprintf(buf, sizeof buf, "  up %s", a);
        x = put(c, x, 0, CPT_R_NORMAL, buf);
    }
    if (st->hello.pid) {
        snprintf(buf, sizeof buf, "  pid %d", st->hello.pid);
        x = put(c, x, 0, CPT_R_DIM, buf);
    } else if (m->endpoint[0]) {
        /* no process of ours (a polled Flink job): where the data comes
         * from and how old it is (the source keeps it sanitised) */
        char ep[sizeof m->endpoint];
        char lt[128];
        link_text(c, lt, sizeof lt);
        /* the link's state keeps its place on the right */
        int room = c->w - x - 2 - (cpt_text_width(lt) + 3);
        snprintf(ep, sizeof ep, "%s", m->endpoint);
        if (room < (int)strlen(ep)) {
            int cut = room > 0 ? room : 0;
            while (cut > 0 && ((unsigned char)ep[cut] & 0xC0) == 0x80)
                cut--; /* not inside a UTF-8 sequence */
            ep[cut] = 0;
            for (int i = cut - 1; i > 0; i--) /* between its pieces, not inside one */
                if (ep[i] == ' ' && ep[i - 1] == ' ') {
                    /* but a problem ("! why") is worth its first words */
                    if (ep[i + 1] == '!' && cut - i > 20) {
                        int e = cut - 3;
                        while (e > i && ((unsigned char)ep[e] & 0xC0) == 0x80)
                            e--;
                        memcpy(ep + e, "\xe2\x80\xa6", 4); /* "…" and the end */
                    } else {
                        ep[i - 1] = 0;
                    }
                    break;
                }
        }
        x = put(c, x, 0, CPT_R_NORMAL, "  ");
        x = put(c, x, 0, CPT_R_DIM, ep);
    }
    cpt_role lr = link_text(c, buf, sizeof buf);
    int lw = cpt_text_width(buf) + 2;
    if (c->w - lw > x) {
        int lx = c->w - lw;
        cpt_frame_fill(c->f, lx, 0, 1, m->link == CPT_LINK_DOWN ? c->g->dead : c->g->live, lr);
        put(c, lx + 2, 0, lr, buf);
    }
    return true;
}

/* Row 1: the settings, the next periodic trigger, throughput. */
static void header_settings(ctx *c)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    char buf[128], a[32], b[32];
    int x = 0;
    x = put(c, x, 1, CPT_R_NORMAL, m->mode[0] ? m->mode : "mode ?");
    cpt_fmt_limit(a, sizeof a, m->interval_us);
    cpt_fmt_limit(b, sizeof b, m->timeout_us);
    snprintf(buf, sizeof buf, "  every %s  timeout %s", m->interval_us > 0 ? a : "-", b);
    x = put(c, x, 1, CPT_R_NORMAL, buf);
    if (m->tolerable >= 0) {
        int left = m->tolerable - st->consecutive_failures;
        snprintf(buf, sizeof buf, "  failures %d/%d tolerated", st->consecutive_failures,
                 m->tolerable);
        x = put(c, x, 1, left <= 0 && st->consecutive_failures ? CPT_R_BAD
                         : st->consecutive_failures ? CPT_R_WARN : CPT_R_NORMAL, buf);
    }
    int64_t last_periodic = 0, last_end = 0;
    for (int i = 0; i < st->n_inflight; i++)
        if (st->inflight[i].kind == CPW_TRIGGER_PERIODIC && st->inflight[i].trigger_ts > last_periodic)
            last_periodic = st->inflight[i].trigger_ts;
    for (int i = 0; i < st->n_history && i < 64; i++) {
        const cpw_cp *h = cpw_state_history(st, i);
        if (h->kind == CPW_TRIGGER_PERIODIC && h->trigger_ts > last_periodic)
            last_periodic = h->trigger_ts;
        if (h->end_ts > last_end)
            last_end = h->end_ts;
    }
    if (m->interval_us > 0 && last_periodic && m->link == CPT_LINK_UP) {
        /* the job's timer runs from the last periodic trigger, and waits
         * min-pause after the last checkpoint ended */
        int64_t due = last_periodic + m->interval_us - c->now;
        if (m->min_pause_us > 0 && last_end && last_end + m->min_pause_us - c->now > due)
            due = last_end + m->min_pause_us - c->now;
        if (st->n_inflight && due <= 0)
            snprintf(buf, sizeof buf, "  next: after #%lld", (long long)st->inflight[st->n_inflight - 1].id);
        else if (due <= 0)
            snprintf(buf, sizeof buf, "  next: due");
        else {
            int64_t sec = (due + 999999) / 1000000;
            if (sec < 60)
                snprintf(buf, sizeof buf, "  next in %llds", (long long)sec);
            else {
                cpt_fmt_dur(a, sizeof a, sec * 1000000);
                snprintf(buf, sizeof buf, "  next in %s", a);
            }
        }
        x = put(c, x, 1, CPT_R_NORMAL, buf);
    }
    if (m->records_per_s > 0 && m->link == CPT_LINK_UP && c->w >= 100) {
        if (m->records_per_s >= 10000)
            snprintf(buf, sizeof buf, "  %.0fk rec/s", m->records_per_s / 1000);
        else
            snprintf(buf, sizeof buf, "  %.0f rec/s", m->records_per_s);
        x = put(c, x, 1, CPT_R_DIM, buf);
        if (m->backpressured) {
            snprintf(buf, sizeof buf, "  backpressure %d", m->backpressured);
            put(c, x, 1, CPT_R_WARN, buf);
        }
    }
}

/* Row 2: the counts (single spaces when narrow, so that "ago" still fits). */
static void header_counts(ctx *c)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    char buf[128], a[32];
    const char *sep = c->w < 100 ? " " : "  ";
    int x = 0;
    if (m->restarts > 0) /* the agent's counts start again with each process */
        x = put(c, x, 2, CPT_R_DIM, c->w < 100 ? "this pid: " : "since the process restarted: ");
    snprintf(buf, sizeof buf, "%lld triggered", (long long)st->counts.total);
    x = put(c, x, 2, CPT_R_NORMAL, buf);
    snprintf(buf, sizeof buf, "%s%lld in progress", sep, (long long)st->counts.in_progress);
    x = put(c, x, 2, st->counts.in_progress ? CPT_R_ASYNC : CPT_R_NORMAL, buf);
    snprintf(buf, sizeof buf, "%s%lld completed", sep, (long long)st->counts.completed);
    x = put(c, x, 2, CPT_R_GOOD, buf);
    snprintf(buf, sizeof buf, "%s%lld failed", sep, (long long)st->counts.failed);
    x = put(c, x, 2, st->counts.failed ? CPT_R_BAD : CPT_R_NORMAL, buf);
    snprintf(buf, sizeof buf, "%s%lld restored", sep, (long long)st->counts.restored);
    x = put(c, x, 2, st->counts.restored ? CPT_R_WARN : CPT_R_NORMAL, buf);
    if (st->restored_from > 0 && c->w >= 100) {
        snprintf(buf, sizeof buf, " (from #%lld)", (long long)st->restored_from);
        x = put(c, x, 2, CPT_R_DIM, buf);
    }
    if (st->latest_completed_id > 0) {
        cpt_fmt_dur(a, sizeof a, c->now - st->latest_completed_ts);
        snprintf(buf, sizeof buf, "%slatest #%lld %s ago", sep, (long long)st->latest_completed_id, a);
        put(c, x, 2, CPT_R_NORMAL, buf);
    }
}

static void draw_header(ctx *c)
{
    if (!header_title(c))
        return;
    header_settings(c);
    header_counts(c);
}

/* ------------------------------------------------------------------ footer */

static const char *const live_keys[][2] = {
    {"?", "help"}, {"q", "quit"}, {"t", "trigger"}, {"a", "abort"}, {"f", "fail"},
    {"c", "config"}, {"Enter", "detail"}, {"s", "summary"}, {"e", "events"}, {"/", "filter"},
    {"Tab", "pane"}, {NULL, NULL},
};

static const char *const replay_keys[][2] = {
    {"?", "help"}, {"q", "quit"}, {"Space", "pause"}, {"t/T", "next/prev"}, {"[/]", "10s"},
    {"b", "jump"}, {"+/-", "speed"}, {"Enter", "detail"}, {"s", "summary"}, {"e", "events"},
    {"/", "filter"}, {"Tab", "pane"}, {NULL, NULL},
};

static void draw_footer(ctx *c)
{
    cpt_ui *ui = c->ui;
    int y = c->h - 1;
    const char *const (*keys)[2] = ui->replay ? replay_keys : live_keys;
    int x = 0;
    for (size_t i = 0; keys[i][0]; i++) {
        if (ui->read_only && !ui->replay && i >= 2 && i < 5)
            continue;
        int need = (int)strlen(keys[i][0]) + 1 + (int)strlen(keys[i][1]) + 2;
        if (x + need > c->w)
            break;
        x = put(c, x, y, CPT_R_KEY, keys[i][0]);
        x = put(c, x + 1, y, CPT_R_DIM, keys[i][1]) + 2;
    }
    if (ui->read_only && !ui->replay && x + 10 <= c->w)
        put(c, c->w - 9, y, CPT_R_WARN, "read-only");
    /* the status line: a reply stays 15 s; a long one takes a second row */
    if (ui->status[0] && (ui->replay || c->now - ui->status_ts < 15000000)) {
        int rows = cpt_text_width(ui->status) > c->w ? 2 : 1;
        for (int r = 0; r < rows; r++)
            cpt_frame_fill(c->f, 0, y - 1 - r, c->w, ' ', CPT_R_NORMAL);
        cpt_view_wrapped(c, 0, y - rows, y, ui->status_bad ? CPT_R_BAD : CPT_R_STATUS, ui->status);
    }
}

/* ------------------------------------------------------------------ render */

void cpt_view_render(cpt_model *m, cpt_ui *ui, cpt_frame *f, int64_t now_us)
{
    ctx c = {.m = m, .ui = ui, .f = f, .g = ui->unicode ? &UNI : &ASC, .now = now_us,
             .lnow = m->link == CPT_LINK_DOWN ? (m->last_msg_us ? m->last_msg_us : m->link_since_us)
                                               : now_us,
             .w = f->w, .h = f->h};
    cpt_frame_clear(f);
    cpt_ui_sync(ui, m);
    draw_header(&c);
    int body_end = c.h - 2; /* status line and footer */
    int y = ui->replay ? cpt_view_replay_bar(&c, 3) : 3;
    if (y > body_end)
        y = body_end; /* a terminal too short for any body */
    ui->events_pane = false;
    switch (ui->screen) {
    case CPT_SCR_DETAIL:
        cpt_view_detail(&c, y, body_end);
        break;
    case CPT_SCR_SUMMARY:
        cpt_view_summary(&c, y, body_end);
        break;
    case CPT_SCR_ADVICE:
        cpt_view_advice(&c, y, body_end);
        break;
    case CPT_SCR_JOBS:
        cpt_view_jobs(&c, y, body_end);
        break;
    case CPT_SCR_EVENTS:
        ui->page = body_end - y - 1;
        cpt_view_events(&c, y, body_end, true);
        break;
    default: {
        /* the in-flight pane takes what it needs up to half the body; the
         * events pane gets the bottom third when the terminal is tall */
        int body = body_end - y;
        bool ev = c.h >= 32;
        ui->events_pane = ev;
        int ev_rows = ev ? body / 3 : 0;
        int inflight_max = y + (body - ev_rows) / 2;
        if (ui->pane == CPT_PANE_EVENTS && !ev) {
            /* short terminal: the events pane takes the history's place */
            y = cpt_view_inflight(&c, y, inflight_max);
            cpt_view_events(&c, y, body_end, true);
            break;
        }
        y = cpt_view_inflight(&c, y, inflight_max);
        cpt_view_history(&c, y, body_end - ev_rows);
        if (ev)
            cpt_view_events(&c, body_end - ev_rows, body_end, ui->pane == CPT_PANE_EVENTS);
        break;
    }
    }
    draw_footer(&c);
    cpt_view_overlay(&c);
}
