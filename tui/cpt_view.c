/* cpt_view.c — see cpt_view.h. */
#include "cpt_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ glyphs */

/* Phases as shown: the folded ones plus "held", a barrier in (or all of
 * them, aligned) but no snapshot started: where a stalled subtask sits. */
enum { PH_HELD = CPW_PH__COUNT, PH__SHOWN };

typedef struct glyphs {
    uint32_t phase[PH__SHOWN];
    uint32_t bar, bar_empty, hline, vline, spark[8];
    uint32_t tl_delay, tl_align, tl_held, tl_sync, tl_async, tl_ack;
    uint32_t live, dead, sel, corner_tl, corner_tr, corner_bl, corner_br;
} glyphs;

static const glyphs UNI = {
    .phase = {0x00B7, 0x25D4, 0x25D1, 0x25D5, 0x2713, 0x2717, 0x25D3}, /* · ◔ ◑ ◕ ✓ ✗ ◓ */
    .bar = 0x2588, .bar_empty = 0x2591, .hline = 0x2500, .vline = 0x2502,
    .spark = {0x2581, 0x2582, 0x2583, 0x2584, 0x2585, 0x2586, 0x2587, 0x2588},
    .tl_delay = 0x2500, .tl_align = 0x2592, .tl_held = 0x2505, .tl_sync = 0x2593, .tl_async = 0x2588,
    .tl_ack = 0x2502,
    .live = 0x25CF, .dead = 0x2717, .sel = 0x25B6,
    .corner_tl = 0x250C, .corner_tr = 0x2510, .corner_bl = 0x2514, .corner_br = 0x2518,
};

static const glyphs ASC = {
    .phase = {'.', 'a', 's', 'u', '+', 'x', 'h'},
    .bar = '#', .bar_empty = '-', .hline = '-', .vline = '|',
    .spark = {'_', '.', ':', '-', '=', '+', '*', '#'},
    .tl_delay = '-', .tl_align = 'a', .tl_held = 'h', .tl_sync = 's', .tl_async = 'u', .tl_ack = '|',
    .live = '*', .dead = 'x', .sel = '>',
    .corner_tl = '+', .corner_tr = '+', .corner_bl = '+', .corner_br = '+',
};

static const cpt_role phase_role[PH__SHOWN] = {
    CPT_R_PENDING, CPT_R_ALIGNING, CPT_R_SYNC, CPT_R_ASYNC, CPT_R_ACKED, CPT_R_DECLINED, CPT_R_WARN,
};

static const char *const phase_short[PH__SHOWN] = {
    "barrier", "aligning", "sync", "upload", "acked", "declined", "barrier held",
};

static const char *const phase_word[PH__SHOWN] = {
    "waiting for barrier", "aligning", "sync snapshot", "uploading", "acknowledged", "declined",
    "barrier in, no snapshot yet",
};

/* Progress order of shown phases (declined apart). */
static const int phase_rank[PH__SHOWN] = {0, 1, 3, 4, 5, 6, 2};

static int shown_phase(const cpw_sub *u)
{
    if (u->phase == CPW_PH_PENDING && u->barrier_ts)
        return PH_HELD;
    if (u->phase == CPW_PH_ALIGNING && u->align_end_ts)
        return PH_HELD;
    return u->phase;
}

/* ------------------------------------------------------------------ formatting */

void cpt_fmt_dur(char *out, size_t n, int64_t us)
{
    if (us < 0)
        us = 0;
    if (us < 1000)
        snprintf(out, n, "%lldus", (long long)us);
    else if (us < 10000)
        snprintf(out, n, "%.2fms", us / 1e3);
    else if (us < 1000000)
        snprintf(out, n, "%.0fms", us / 1e3);
    else if (us < 60000000)
        snprintf(out, n, "%.1fs", us / 1e6);
    else if (us < 3600000000LL)
        snprintf(out, n, "%lldm%02llds", (long long)(us / 60000000), (long long)(us / 1000000 % 60));
    else
        snprintf(out, n, "%lldh%02lldm", (long long)(us / 3600000000LL),
                 (long long)(us / 60000000 % 60));
}

void cpt_fmt_bytes(char *out, size_t n, int64_t b)
{
    if (b < 0)
        b = 0;
    if (b < 1024)
        snprintf(out, n, "%lld B", (long long)b);
    else if (b < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", b / 1024.0);
    else if (b < 1024LL * 1024 * 1024)
        snprintf(out, n, "%.1f MiB", b / (1024.0 * 1024));
    else
        snprintf(out, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

/* A compact duration for limits ("10m", "30s", "500ms"). */
static void fmt_limit(char *out, size_t n, int64_t us)
{
    if (us < 0)
        snprintf(out, n, "?");
    else if (us % 3600000000LL == 0 && us)
        snprintf(out, n, "%lldh", (long long)(us / 3600000000LL));
    else if (us % 60000000 == 0 && us)
        snprintf(out, n, "%lldm", (long long)(us / 60000000));
    else if (us % 1000000 == 0 && us)
        snprintf(out, n, "%llds", (long long)(us / 1000000));
    else
        cpt_fmt_dur(out, n, us);
}

static void fmt_clock(char *out, size_t n, int64_t ts_us, bool millis)
{
    if (ts_us <= 0) {
        snprintf(out, n, "-");
        return;
    }
    time_t t = (time_t)(ts_us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (millis)
        snprintf(out, n, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ts_us / 1000 % 1000));
    else
        snprintf(out, n, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 32);
}

/* ------------------------------------------------------------------ helpers */

typedef struct ctx {
    cpt_model *m;
    cpt_ui *ui;
    cpt_frame *f;
    const glyphs *g;
    int64_t now;
    int64_t lnow;   /* "now" for what is in flight: frozen while the job is silent */
    int w, h;
} ctx;

/* Puts text at x and returns the column after it. */
static int put(ctx *c, int x, int y, cpt_role r, const char *s)
{
    return x + cpt_frame_put(c->f, x, y, r, s, -1);
}

static int putn(ctx *c, int x, int y, cpt_role r, int maxw, const char *s)
{
    return x + cpt_frame_put(c->f, x, y, r, s, maxw);
}

/* Puts text word-wrapped between x and the right edge, from row y up to
 * y_max (exclusive); returns the row after it. */
static int put_wrapped(ctx *c, int x, int y, int y_max, cpt_role r, const char *s)
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
static int title_rule(ctx *c, int y, const char *title, bool focused)
{
    cpt_frame_fill(c->f, 0, y, c->w, c->g->hline, CPT_R_DIM);
    int x = put(c, 1, y, CPT_R_DIM, " ");
    x = put(c, x, y, focused ? CPT_R_SELECT : CPT_R_TITLE, title);
    return put(c, x, y, CPT_R_DIM, " ");
}

static void sanitized(const char *in, char *out, size_t n) { cpw_sanitize(in, out, n); }

/* The least advanced subtask still pending, for "waiting on …". */
typedef struct straggler {
    int op, subtask, phase, pending;
    int64_t since;
} straggler;

static int64_t phase_since(const cpw_cp *cp, const cpw_sub *u)
{
    if (shown_phase(u) == PH_HELD)
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
static straggler slowest_pending(const cpt_model *m, const cpw_cp *cp)
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
                    s.op = op, s.subtask = k, s.phase = shown_phase(u), s.since = since;
            }
        }
    /* the count covers every operator, not just those scanned before the break */
    s.pending = 0;
    for (int i = 0; i < cp->total; i++)
        s.pending += cp->subs[i].phase != CPW_PH_ACKED && cp->subs[i].phase != CPW_PH_DECLINED;
    return s;
}

/* ------------------------------------------------------------------ header */

static void draw_header(ctx *c)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    char name[CPW_NAME_MAX], job[CPW_MAX_JOB_ID], buf[128], a[32], b[32];
    sanitized(st->hello.name[0] ? st->hello.name : "?", name, sizeof name);
    sanitized(st->job[0] ? st->job : "?", job, sizeof job);
    cpt_frame_fill(c->f, 0, 0, c->w, ' ', CPT_R_NORMAL);
    int x = put(c, 0, 0, CPT_R_TITLE, "cptop ");
    if (!st->hello.name[0] && !st->hello.pid) {
        /* nothing heard yet: say where we are looking */
        put(c, x, 0, CPT_R_DIM, m->endpoint[0] ? m->endpoint : "looking for a job");
        put(c, 0, 1, CPT_R_DIM, m->link == CPT_LINK_CONNECTING ? "connecting..." : "");
        return;
    }
    x = put(c, x, 0, CPT_R_NORMAL, name);
    if (strcmp(name, job)) {
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
    }
    /* link, right-aligned */
    cpt_role lr;
    if (m->link == CPT_LINK_UP) {
        snprintf(buf, sizeof buf, "live %.0f ev/s", m->events_per_s);
        lr = CPT_R_GOOD;
    } else if (m->link == CPT_LINK_DOWN) {
        cpt_fmt_dur(a, sizeof a, c->now - (m->last_msg_us ? m->last_msg_us : m->link_since_us));
        snprintf(buf, sizeof buf, "DISCONNECTED %s", a);
        lr = CPT_R_BAD;
    } else {
        snprintf(buf, sizeof buf, "connecting");
        lr = CPT_R_WARN;
    }
    if (m->gaps) {
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "  gaps %llu", (unsigned long long)m->gaps);
    }
    int lw = cpt_text_width(buf) + 2;
    if (c->w - lw > x) {
        int lx = c->w - lw;
        cpt_frame_fill(c->f, lx, 0, 1, m->link == CPT_LINK_DOWN ? c->g->dead : c->g->live, lr);
        put(c, lx + 2, 0, lr, buf);
    }

    /* row 1: settings */
    x = 0;
    x = put(c, x, 1, CPT_R_NORMAL, m->mode[0] ? m->mode : "mode ?");
    fmt_limit(a, sizeof a, m->interval_us);
    fmt_limit(b, sizeof b, m->timeout_us);
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

    /* row 2: counts (single spaces when narrow, so that "ago" still fits) */
    const char *sep = c->w < 100 ? " " : "  ";
    x = 0;
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
    fmt_limit(b, sizeof b, m->timeout_us);
    snprintf(buf, sizeof buf, "%s/%s", a, b);
    int tx = x;
    put(c, x, y, m->timeout_us > 0 && el * 4 >= m->timeout_us * 3 ? CPT_R_WARN : CPT_R_NORMAL, buf);
    x = tx + (narrow ? 11 : 14);
    snprintf(buf, sizeof buf, narrow ? "%d/%d" : "%d/%d acked", cp->acks, cp->total);
    x = put(c, x, y, cp->declines ? CPT_R_BAD : CPT_R_NORMAL, buf) + 2;
    straggler s = slowest_pending(m, cp);
    if (s.op >= 0) {
        char on[CPW_NAME_MAX];
        cpt_model_op_name(m, s.op, on, sizeof on);
        cpt_fmt_dur(a, sizeof a, c->lnow - s.since);
        snprintf(buf, sizeof buf, "%s %s#%d (%s %s)", narrow ? "on" : "waiting on", on, s.subtask,
                 phase_short[s.phase], a);
        x = put(c, x, y, phase_role[s.phase], buf);
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
            for (int j = k; j < k + group && j < par; j++) {
                const cpw_sub *u = cp->subs ? &cp->subs[st->op_base[op] + j] : NULL;
                int p = u ? shown_phase(u) : CPW_PH_PENDING;
                /* a group shows its least advanced member; a decline wins */
                if (p == CPW_PH_DECLINED || (ph != CPW_PH_DECLINED && phase_rank[p] < phase_rank[ph]))
                    ph = p;
            }
            cpt_frame_fill(c->f, x++, y, 1, c->g->phase[ph], phase_role[ph]);
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

static int draw_inflight(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    cpt_ui *ui = c->ui;
    char buf[160];
    snprintf(buf, sizeof buf, "In flight (%d)", st->n_inflight);
    int x = title_rule(c, y, buf, ui->pane == CPT_PANE_INFLIGHT);
    /* legend */
    static const char *const short_word[PH__SHOWN] = {"barrier", "align", "sync", "upload",
                                                      "ack", "decline", "held"};
    static const int legend[PH__SHOWN] = {CPW_PH_PENDING, CPW_PH_ALIGNING, PH_HELD, CPW_PH_SYNC,
                                          CPW_PH_ASYNC, CPW_PH_ACKED, CPW_PH_DECLINED};
    x += 1;
    for (int i = 0; i < PH__SHOWN && x + 10 < c->w; i++) {
        int p = legend[i];
        cpt_frame_fill(c->f, x, y, 1, ' ', CPT_R_NORMAL);
        cpt_frame_fill(c->f, x + 1, y, 1, c->g->phase[p], phase_role[p]);
        x = put(c, x + 2, y, CPT_R_DIM, short_word[p]);
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

#define HIST_FMT "%6s %-9s %-8s %-8s %9s %9s %9s "
#define HIST_REASON_X 65

static void history_row(ctx *c, int y, const cpw_cp *cp, bool selected)
{
    char buf[512], id[24], d[32], sz[32], tm[32], acks[24], msg[CPW_TEXT_MAX];
    snprintf(id, sizeof id, "%lld", (long long)cp->id);
    cpt_fmt_dur(d, sizeof d, cp->duration_us);
    cpt_fmt_bytes(sz, sizeof sz, cp->checkpointed_size);
    fmt_clock(tm, sizeof tm, cp->trigger_ts, false);
    snprintf(acks, sizeof acks, "%d/%d", cp->acks, cp->total);
    snprintf(buf, sizeof buf, HIST_FMT, id, cpw_cp_status_name(cp->status),
             cp->kind == CPW_TRIGGER_MANUAL ? "manual" : "periodic", tm,
             cp->status == CPW_CP_IN_PROGRESS ? "-" : d, sz, acks);
    put(c, 0, y, CPT_R_NORMAL, buf);
    cpt_frame_role(c->f, 7, y, 9, cp->status == CPW_CP_COMPLETED ? CPT_R_GOOD
                                   : cp->status == CPW_CP_FAILED ? CPT_R_BAD : CPT_R_ASYNC);
    if (cp->acks < cp->total)
        cpt_frame_role(c->f, 55, y, 9, CPT_R_WARN);
    if (cp->status == CPW_CP_FAILED) {
        const char *rn = cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : NULL;
        if (!rn)
            rn = "unknown";
        if (c->w < 140 && !strncmp(rn, "CHECKPOINT_", 11))
            rn += 11; /* narrow: the prefix says nothing */
        sanitized(cp->message, msg, sizeof msg);
        if (c->w < 120)
            msg[0] = 0; /* narrow: the reason alone (Enter shows the message) */
        snprintf(buf, sizeof buf, "%s%s%s", rn, msg[0] ? ": " : "", msg);
        put(c, HIST_REASON_X, y, CPT_R_BAD, buf);
    } else if (cp->committed) {
        put(c, HIST_REASON_X, y, CPT_R_DIM, "committed");
    }
    if (selected)
        cpt_frame_role(c->f, 0, y, c->w, CPT_R_SELECT);
}

static int draw_history(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    cpt_ui *ui = c->ui;
    char buf[64];
    if (ui->top_history > 0)
        snprintf(buf, sizeof buf, "History (%d, %d newer above: g)", st->n_history, ui->top_history);
    else
        snprintf(buf, sizeof buf, "History (%d)", st->n_history);
    int x = title_rule(c, y, buf, ui->pane == CPT_PANE_HISTORY);
    sparkline(c, x + 1, y, c->w - x - 24 > 60 ? 60 : c->w - x - 24);
    y++;
    if (y >= y_max)
        return y;
    char hdr[128];
    snprintf(hdr, sizeof hdr, HIST_FMT "%s", "ID", "STATUS", "TRIGGER", "TIME", "DURATION", "SIZE",
             "ACKS", "REASON");
    put(c, 0, y, CPT_R_LABEL, hdr);
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

static void draw_events(ctx *c, int y, int y_max, bool focused)
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
    title_rule(c, y, buf, focused);
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
        fmt_clock(tm, sizeof tm, e->ts_us, true);
        int x = put(c, 0, row, CPT_R_DIM, tm);
        cpt_role r = CPT_R_NORMAL;
        if (e->kind == CPT_LOG_NOTE)
            r = e->bad ? CPT_R_BAD : CPT_R_WARN;
        else if (e->u.ev.type == CPW_EV_CP_FAILED || e->u.ev.type == CPW_EV_DECLINE ||
                 e->u.ev.type == CPW_EV_TASK_FAILED)
            r = CPT_R_BAD;
        else if (e->u.ev.type == CPW_EV_CP_COMPLETED)
            r = CPT_R_GOOD;
        else if (e->u.ev.type == CPW_EV_FAILURE_INJECTED || e->u.ev.type == CPW_EV_RESTORED ||
                 e->u.ev.type == CPW_EV_JOB_STATUS)
            r = CPT_R_WARN;
        put(c, x + 1, row, r, line);
        row--;
    }
    if (row >= y && m->log_n == 0)
        put(c, 2, y, CPT_R_DIM, "no events yet");
}

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

static void draw_detail(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpw_state *st = m->st;
    cpt_ui *ui = c->ui;
    const cpw_cp *cp = cpt_ui_detail_cp(ui, m);
    char buf[400], a[32], b[32], d[32], e[32], s[32], tm[32], on[CPW_NAME_MAX];
    if (!cp) {
        snprintf(buf, sizeof buf, "Checkpoint #%lld", (long long)ui->detail_id);
        title_rule(c, y, buf, true);
        put(c, 2, y + 1, CPT_R_DIM, "no longer retained (see --history)");
        return;
    }
    bool live = cp->status == CPW_CP_IN_PROGRESS;
    int64_t span = live ? c->lnow - cp->trigger_ts
                 : (cp->latest_ack_ts > cp->end_ts ? cp->latest_ack_ts : cp->end_ts) - cp->trigger_ts;
    if (span <= 0)
        span = cp->duration_us > 0 ? cp->duration_us : 1;
    snprintf(buf, sizeof buf, "Checkpoint #%lld", (long long)cp->id);
    int x = title_rule(c, y, buf, true);
    fmt_clock(tm, sizeof tm, cp->trigger_ts, true);
    cpt_fmt_dur(a, sizeof a, live ? span : cp->duration_us);
    cpt_fmt_bytes(b, sizeof b, cp->checkpointed_size);
    snprintf(buf, sizeof buf, "%s %s %s, %s%s, %s, %d/%d acked ",
             live ? "in progress" : cpw_cp_status_name(cp->status),
             cp->kind == CPW_TRIGGER_MANUAL ? "manual" : "periodic", tm, a, live ? " so far" : "", b,
             cp->acks, cp->total);
    put(c, x, y, cp->status == CPW_CP_FAILED ? CPT_R_BAD : cp->status == CPW_CP_COMPLETED ? CPT_R_GOOD
                 : CPT_R_ASYNC, buf);
    y++;
    if (cp->status == CPW_CP_FAILED) {
        char msg[CPW_TEXT_MAX];
        const char *rn = cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : NULL;
        sanitized(cp->message, msg, sizeof msg);
        snprintf(buf, sizeof buf, "failed: %s%s%s", rn ? rn : "unknown", msg[0] ? ": " : "", msg);
        put(c, 2, y++, CPT_R_BAD, buf);
    }
    if (!cp->subs || cp->total != st->n_subtasks) {
        put(c, 2, y, CPT_R_DIM, "per-subtask detail is kept for the newest checkpoints only (see --detail)");
        return;
    }
    /* the critical path: who acknowledged last, and what dominated it */
    int last = -1;
    for (int i = 0; i < cp->total; i++)
        if (cp->subs[i].phase == CPW_PH_ACKED && (last < 0 || cp->subs[i].ack_ts > cp->subs[last].ack_ts))
            last = i;
    if (live) {
        straggler sg = slowest_pending(m, cp);
        if (sg.op >= 0) {
            cpt_model_op_name(m, sg.op, on, sizeof on);
            cpt_fmt_dur(a, sizeof a, c->lnow - sg.since);
            snprintf(buf, sizeof buf, "still waiting on %d subtask%s; the furthest behind: %s#%d, %s for %s",
                     sg.pending, sg.pending == 1 ? "" : "s", on, sg.subtask, phase_word[sg.phase], a);
            y = put_wrapped(c, 2, y, y_max, phase_role[sg.phase], buf);
        }
    } else if (last >= 0) {
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
        y = put_wrapped(c, 2, y, y_max, CPT_R_WARN, buf);
    }
    /* table + timeline; narrow terminals drop ACK and SIZE for the timeline */
    /* the timeline's glyphs, once */
    if (y < y_max - 2) {
        x = put(c, 2, y, CPT_R_DIM, "timeline: ");
        static const char *const words[] = {" barrier travel  ", " aligning  ", " barrier held  ",
                                            " sync  ", " upload"};
        const uint32_t gl[] = {c->g->tl_delay, c->g->tl_align, c->g->tl_held, c->g->tl_sync,
                               c->g->tl_async};
        const cpt_role rl[] = {CPT_R_PENDING, CPT_R_ALIGNING, CPT_R_WARN, CPT_R_SYNC, CPT_R_ASYNC};
        for (int k = 0; k < 5; k++) {
            cpt_frame_fill(c->f, x, y, 1, gl[k], rl[k]);
            x = put(c, x + 1, y, CPT_R_DIM, words[k]);
        }
        put(c, x, y, CPT_R_DIM, "   * acked last  ! straggler");
        y++;
    }
    /* narrow terminals drop SIZE (and shorten columns) to keep the timeline */
    int name_w = 10;
    bool wide = c->w >= 120;
    int tl_x = name_w + 5 + 5 * 9 + (wide ? 10 : 0) + 2;
    int tl_w = c->w - tl_x - 1;
    x = put(c, 0, y, CPT_R_LABEL, "OPERATOR");
    if (wide)
        snprintf(buf, sizeof buf, "%*s %4s %8s %8s %8s %8s %8s %9s", name_w - 8, "", "SUB", "DELAY",
                 "ALIGN", "SYNC", "ASYNC", "ACK", "SIZE");
    else
        snprintf(buf, sizeof buf, "%*s %4s %8s %8s %8s %8s %8s", name_w - 8, "", "SUB", "DELAY",
                 "ALIGN", "SYNC", "ASYNC", "ACK");
    put(c, x, y, CPT_R_LABEL, buf);
    if (tl_w >= 12) {
        cpt_fmt_dur(a, sizeof a, span);
        int lx = put(c, tl_x, y, CPT_R_LABEL, "0 timeline ");
        int ax = tl_x + tl_w - (int)strlen(a);
        cpt_frame_fill(c->f, lx, y, ax - lx - 1, c->g->hline, CPT_R_DIM);
        put(c, ax, y, CPT_R_LABEL, a);
    }
    y++;
    int rows = y_max - y;
    if (rows <= 0)
        return;
    ui->page = rows;
    int max_scroll = cp->total - rows;
    if (ui->detail_scroll > max_scroll)
        ui->detail_scroll = max_scroll > 0 ? max_scroll : 0;
    int row = 0, op = 0;
    int64_t thr = INT64_MAX;
    int thr_op = -1;
    for (int i = 0; i < cp->total && y < y_max; i++) {
        while (op + 1 < st->hello.n_ops && st->op_base[op + 1] <= i)
            op++;
        if (row++ < ui->detail_scroll)
            continue;
        if (thr_op != op) {
            thr = straggler_threshold(m, cp, op);
            thr_op = op;
        }
        const cpw_sub *u = &cp->subs[i];
        int k = i - st->op_base[op];
        cpt_model_op_name(m, op, on, sizeof on);
        putn(c, 0, y, k == 0 ? CPT_R_LABEL : CPT_R_DIM, name_w, on);
        bool done = u->phase == CPW_PH_ACKED;
        bool strag = done && sub_duration(cp, u) >= thr;
        if (done) {
            cpt_fmt_dur(a, sizeof a, u->start_delay_us);
            cpt_fmt_dur(b, sizeof b, u->alignment_us);
            cpt_fmt_dur(d, sizeof d, u->sync_us);
            cpt_fmt_dur(e, sizeof e, u->async_us);
            cpt_fmt_dur(tm, sizeof tm, u->ack_ts - cp->trigger_ts);
            cpt_fmt_bytes(s, sizeof s, u->checkpointed_size);
            if (wide)
                snprintf(buf, sizeof buf, " %4d %8s %8s %8s %8s %8s %9s", k, a, b, d, e, tm, s);
            else
                snprintf(buf, sizeof buf, " %4d %8s %8s %8s %8s %8s", k, a, b, d, e, tm);
        } else {
            int cw = wide ? 54 : 44;
            snprintf(buf, sizeof buf, " %4d %-*s", k, cw, phase_word[shown_phase(u)]);
            if (u->phase == CPW_PH_DECLINED && u->reason[0]) {
                char r[CPW_TEXT_MAX];
                sanitized(u->reason, r, sizeof r);
                snprintf(buf, sizeof buf, " %4d declined: %-*.*s", k, cw - 10, cw - 10, r);
            }
        }
        put(c, name_w, y, done ? (strag ? CPT_R_WARN : CPT_R_NORMAL) : phase_role[shown_phase(u)], buf);
        if (strag)
            put(c, name_w + 2, y, CPT_R_WARN, "!");
        if (i == last)
            put(c, name_w + 1, y, CPT_R_WARN, "*");
        if (tl_w >= 12)
            timeline(c, tl_x, y, tl_w, cp, u, span);
        y++;
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

static void draw_summary(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    const cpt_summary *s = cpt_model_summary(m);
    char buf[400], a[32], b[32], d[32];
    snprintf(buf, sizeof buf, "Summary of the %d retained checkpoints (%d completed, %d failed)",
             m->st->n_history, s->completed, s->failed);
    title_rule(c, y++, buf, true);
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
    y++;
    /* timeout advice: the configured timeout against the observed p99 */
    put(c, 2, y, CPT_R_LABEL, "timeout advice");
    fmt_limit(a, sizeof a, m->timeout_us);
    cpt_fmt_dur(b, sizeof b, s->duration_us.p99);
    cpt_role r = CPT_R_GOOD;
    if (m->timeout_us <= 0 || s->duration_us.n == 0) {
        snprintf(buf, sizeof buf, "not enough data yet (timeout %s, %d completed)", a, s->duration_us.n);
        r = CPT_R_DIM;
    } else {
        double ratio = (double)m->timeout_us / (double)(s->duration_us.p99 > 0 ? s->duration_us.p99 : 1);
        cpt_fmt_dur(d, sizeof d, s->duration_us.p99 * 3);
        if (ratio <= 1.0) {
            snprintf(buf, sizeof buf, "timeout %s is below the p99 %s: checkpoints expire. Raise it "
                     "above %s, or find the slow phase (Enter on one)", a, b, d);
            r = CPT_R_BAD;
        } else if (ratio < 3.0) {
            snprintf(buf, sizeof buf, "timeout %s is only %.1fx the p99 %s: little headroom; %s (3x p99) "
                     "would absorb a slow upload", a, ratio, b, d);
            r = CPT_R_WARN;
        } else {
            snprintf(buf, sizeof buf, "timeout %s is %.0fx the p99 %s: ample headroom", a, ratio, b);
        }
    }
    y = put_wrapped(c, 22, y, y_max, r, buf);
    if (m->interval_us > 0 && s->duration_us.n && s->duration_us.p99 > m->interval_us) {
        fmt_limit(a, sizeof a, m->interval_us);
        snprintf(buf, sizeof buf, "p99 %s exceeds the interval %s: checkpoints run back to back", b, a);
        y = put_wrapped(c, 22, y, y_max, CPT_R_WARN, buf);
    }
    if (m->tolerable >= 0) {
        snprintf(buf, sizeof buf, "%d consecutive failure%s now, %d tolerated: %d more and the job restarts",
                 m->st->consecutive_failures, m->st->consecutive_failures == 1 ? "" : "s", m->tolerable,
                 m->tolerable - m->st->consecutive_failures + 1);
        y = put_wrapped(c, 22, y, y_max, m->st->consecutive_failures ? CPT_R_WARN : CPT_R_NORMAL, buf);
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
        y = put_wrapped(c, 2, y, y_max, CPT_R_DIM, buf);
    }
    if (y < y_max && m->st->agent_emitted) {
        snprintf(buf, sizeof buf, "agent (at the last resync): %llu emitted, %llu sent, %llu dropped",
                 (unsigned long long)m->st->agent_emitted, (unsigned long long)m->st->agent_sent,
                 (unsigned long long)m->st->agent_dropped);
        put_wrapped(c, 2, y, y_max, CPT_R_DIM, buf);
    }
}

/* ------------------------------------------------------------------ overlays */

static void box(ctx *c, int x, int y, int w, int h, const char *title)
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

static void box_line(ctx *c, int x, int y, int w, bool sel, const char *text)
{
    cpt_frame_put(c->f, x + 2, y, sel ? CPT_R_SELECT : CPT_R_OVERLAY, text, w - 4);
    if (sel)
        cpt_frame_role(c->f, x + 1, y, w - 2, CPT_R_SELECT);
}

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

static void draw_overlay(ctx *c)
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
        box(c, x, y, w, h, ui->read_only ? "Keys (read-only: actions disabled)" : "Keys");
        for (int i = 0; i < n && i < h - 3; i++)
            box_line(c, x, y + 1 + i, w, false, help_lines[i]);
        box_line(c, x, y + h - 2, w, false, "any key closes this");
        break;
    }
    case CPT_OV_CONFIRM_ABORT: {
        int y = c->h / 2 - 2;
        box(c, x, y, w, 4, "Abort");
        snprintf(buf, sizeof buf, "Abort checkpoint #%lld?  y: abort   any other key: keep it",
                 (long long)ui->abort_id);
        box_line(c, x, y + 1, w, false, buf);
        box_line(c, x, y + 2, w, false, "It fails as aborted by the user; the job keeps running.");
        break;
    }
    case CPT_OV_FAIL: {
        const cpt_fail_kind *k = &cpt_fail_kinds[ui->fail_kind];
        if (ui->fail_step == 0) {
            int h = cpt_n_fail_kinds + 4;
            int y = (c->h - h) / 2;
            box(c, x, y, w, h, "Inject a failure");
            for (int i = 0; i < cpt_n_fail_kinds; i++) {
                snprintf(buf, sizeof buf, "%d  %s", i + 1, cpt_fail_kinds[i].label);
                box_line(c, x, y + 1 + i, w, i == ui->menu_sel, buf);
            }
            box_line(c, x, y + h - 2, w, false, "Enter: choose   Esc: cancel");
        } else if (ui->fail_step == 1) {
            int n = m->st->hello.n_ops;
            int h = n + 4 < c->h ? n + 4 : c->h;
            int y = (c->h - h) / 2;
            snprintf(buf, sizeof buf, "%s: which operator?", k->kind);
            box(c, x, y, w, h, buf);
            for (int i = 0; i < n && i < h - 3; i++) {
                char on[CPW_NAME_MAX];
                cpt_model_op_name(m, i, on, sizeof on);
                snprintf(buf, sizeof buf, "%-20s %d subtasks", on, m->st->hello.ops[i].parallelism);
                box_line(c, x, y + 1 + i, w, i == ui->menu_sel, buf);
            }
            box_line(c, x, y + h - 2, w, false, "Enter: choose   Esc: cancel");
        } else {
            int y = c->h / 2 - 2;
            char on[CPW_NAME_MAX];
            cpt_model_op_name(m, ui->fail_op, on, sizeof on);
            if (ui->fail_step == 2) {
                snprintf(buf, sizeof buf, "%s: which subtask of %s?", k->kind, on);
                box(c, x, y, w, 4, buf);
                snprintf(buf, sizeof buf, "subtask (0..%d): %s_", m->st->hello.ops[ui->fail_op].parallelism - 1,
                         ui->input);
            } else {
                box(c, x, y, w, 4, k->kind);
                snprintf(buf, sizeof buf, "%s: %s_", k->param_label, ui->input);
            }
            box_line(c, x, y + 1, w, false, buf);
            box_line(c, x, y + 2, w, false, "Enter: send   Esc: cancel");
        }
        break;
    }
    case CPT_OV_CONFIG: {
        static const char *const labels[] = {"interval", "timeout", "tolerable failed checkpoints"};
        static const char *const keys[] = {"execution.checkpointing.interval",
                                           "execution.checkpointing.timeout",
                                           "execution.checkpointing.tolerable-failed-checkpoints"};
        int y = c->h / 2 - 3;
        box(c, x, y, w, 7, "Checkpoint settings (changed at run time)");
        for (int i = 0; i < 3; i++) {
            const char *v = "?";
            for (int j = 0; j < m->st->hello.n_config; j++)
                if (!strcmp(m->st->hello.config_keys[j], keys[i]))
                    v = m->st->hello.config_values[j];
            char vs[CPW_VALUE_MAX];
            sanitized(v, vs, sizeof vs);
            if (ui->fail_step == 1 && i == ui->menu_sel)
                snprintf(buf, sizeof buf, "%-30s %s_", labels[i], ui->input);
            else
                snprintf(buf, sizeof buf, "%-30s %s", labels[i], vs);
            box_line(c, x, y + 1 + i, w, i == ui->menu_sel, buf);
        }
        box_line(c, x, y + 5, w, false, ui->fail_step ? "type a value (30s, 10 min, 3)  Enter: send  Esc: back"
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
        box(c, x, y, w, h, "Several jobs are running: choose one");
        for (int i = 0; i < ui->pick_n && i < h - 3; i++)
            box_line(c, x, y + 1 + i, w, i == ui->pick_sel, ui->pick_label[i]);
        box_line(c, x, y + h - 2, w, false, "Enter: watch it   q: quit");
        break;
    }
    default:
        break;
    }
}

/* ------------------------------------------------------------------ footer */

static void draw_footer(ctx *c)
{
    cpt_ui *ui = c->ui;
    int y = c->h - 1;
    static const char *const keys[][2] = {
        {"?", "help"}, {"q", "quit"}, {"t", "trigger"}, {"a", "abort"}, {"f", "fail"},
        {"c", "config"}, {"Enter", "detail"}, {"s", "summary"}, {"e", "events"}, {"/", "filter"},
        {"Tab", "pane"},
    };
    int x = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (ui->read_only && i >= 2 && i < 5)
            continue;
        int need = (int)strlen(keys[i][0]) + 1 + (int)strlen(keys[i][1]) + 2;
        if (x + need > c->w)
            break;
        x = put(c, x, y, CPT_R_KEY, keys[i][0]);
        x = put(c, x + 1, y, CPT_R_DIM, keys[i][1]) + 2;
    }
    if (ui->read_only && x + 10 <= c->w)
        put(c, c->w - 9, y, CPT_R_WARN, "read-only");
    /* the status line: a reply stays 15 s; a long one takes a second row */
    if (ui->status[0] && c->now - ui->status_ts < 15000000) {
        int rows = cpt_text_width(ui->status) > c->w ? 2 : 1;
        for (int r = 0; r < rows; r++)
            cpt_frame_fill(c->f, 0, y - 1 - r, c->w, ' ', CPT_R_NORMAL);
        put_wrapped(c, 0, y - rows, y, ui->status_bad ? CPT_R_BAD : CPT_R_STATUS, ui->status);
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
    int y = 3;
    ui->events_pane = false;
    switch (ui->screen) {
    case CPT_SCR_DETAIL:
        draw_detail(&c, y, body_end);
        break;
    case CPT_SCR_SUMMARY:
        draw_summary(&c, y, body_end);
        break;
    case CPT_SCR_EVENTS:
        ui->page = body_end - y - 1;
        draw_events(&c, y, body_end, true);
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
            y = draw_inflight(&c, y, inflight_max);
            draw_events(&c, y, body_end, true);
            break;
        }
        y = draw_inflight(&c, y, inflight_max);
        draw_history(&c, y, body_end - ev_rows);
        if (ev)
            draw_events(&c, body_end - ev_rows, body_end, ui->pane == CPT_PANE_EVENTS);
        break;
    }
    }
    draw_footer(&c);
    draw_overlay(&c);
}
