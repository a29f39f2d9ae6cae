/*
 * cpt_view_int.h — internal to the view's files: the render context, the
 * glyph sets, the shown phases and the drawing helpers they share.
 *
 *   cpt_view.c          glyphs, helpers, header, footer, the render itself
 *   cpt_view_main.c     the main screen's panes: in flight, history, events
 *   cpt_view_detail.c   one checkpoint's detail, and the summary screen
 *   cpt_view_overlay.c  help, confirmations, the failure menu, settings, picker
 *   cpt_view_jobs.c     the cluster overview: the jobs a source lists
 *   cpt_view_replay.c   a replay's header line and jump prompt
 *
 * Everything here is pure like the view: it writes into the frame and
 * reads the model and the ui state; nothing else.
 */
#ifndef CPT_VIEW_INT_H
#define CPT_VIEW_INT_H

#include "cpt_fmt.h"
#include "cpt_view.h"

/* Phases as shown: the folded ones plus "held", a barrier in (or all of
 * them, aligned) but no snapshot started: where a stalled subtask sits. */
enum { PH_HELD = CPW_PH__COUNT, PH__SHOWN };

typedef struct cpt_glyphs {
    uint32_t phase[PH__SHOWN];
    uint32_t bar, bar_empty, hline, vline, spark[8];
    uint32_t tl_delay, tl_align, tl_held, tl_sync, tl_async, tl_ack;
    uint32_t live, dead, sel, corner_tl, corner_tr, corner_bl, corner_br;
    uint32_t unaligned;  /* a subtask whose barrier overtook its records */
} cpt_glyphs;

extern const cpt_role cpt_view_phase_role[PH__SHOWN];
extern const char *const cpt_view_phase_short[PH__SHOWN];  /* "barrier held" */
extern const char *const cpt_view_phase_word[PH__SHOWN];   /* "barrier in, no snapshot yet" */
extern const int cpt_view_phase_rank[PH__SHOWN];           /* progress order (declined apart) */

typedef struct ctx {
    cpt_model *m;
    cpt_ui *ui;
    cpt_frame *f;
    const cpt_glyphs *g;
    int64_t now;
    int64_t lnow;   /* "now" for what is in flight: frozen while the job is silent */
    int w, h;
} ctx;

/* Puts text at x and returns the column after it. */
static inline int put(ctx *c, int x, int y, cpt_role r, const char *s)
{
    return x + cpt_frame_put(c->f, x, y, r, s, -1);
}

static inline int putn(ctx *c, int x, int y, cpt_role r, int maxw, const char *s)
{
    return x + cpt_frame_put(c->f, x, y, r, s, maxw);
}

/* Puts text word-wrapped between x and the right edge, from row y up to
 * y_max (exclusive); returns the row after it. */
int cpt_view_wrapped(ctx *c, int x, int y, int y_max, cpt_role r, const char *s);

/* "── Title ─────" across the row; returns the column after the title. */
int cpt_view_rule(ctx *c, int y, const char *title, bool focused);

/* An overlay box with a title, and one line of text inside it. */
void cpt_view_box(ctx *c, int x, int y, int w, int h, const char *title);
void cpt_view_box_line(ctx *c, int x, int y, int w, bool sel, const char *text);

/* The phase a subtask is shown in (PH_HELD where its barrier waits). */
int cpt_view_shown_phase(const cpw_sub *u);

/* Whether a subtask of cp went unaligned: it switched, its ack says so, or
 * the checkpoint is unaligned from its trigger and its barrier is in. */
bool cpt_view_sub_unaligned(const cpw_cp *cp, const cpw_sub *u);

/* When it did, in µs after the trigger (its switch, else its first
 * barrier); -1 when it did not or that is unknown. */
int64_t cpt_view_unaligned_at(const cpw_cp *cp, const cpw_sub *u);

/* Role of a checkpoint's type: aligned recedes, switched warns (alignment
 * ran past its timeout: backpressure). */
cpt_role cpt_view_type_role(const cpw_cp *cp);

/* The subtask holding a checkpoint up, for "waiting on …". */
typedef struct straggler {
    int op, subtask, phase, pending;
    int64_t since;
} straggler;
straggler cpt_view_slowest(const cpt_model *m, const cpw_cp *cp);

/* The panes and screens (each returns nothing or the row after it). */
int cpt_view_inflight(ctx *c, int y, int y_max);
int cpt_view_history(ctx *c, int y, int y_max);
void cpt_view_events(ctx *c, int y, int y_max, bool focused);
void cpt_view_detail(ctx *c, int y, int y_max);
void cpt_view_summary(ctx *c, int y, int y_max);
void cpt_view_advice(ctx *c, int y, int y_max);   /* cpt_view_advice.c */
void cpt_view_overlay(ctx *c);
void cpt_view_jobs(ctx *c, int y, int y_max);     /* cpt_view_jobs.c */
/* A replay's header line at row y (position, bar, speed, PAUSED); returns
 * the row after it. The jump key's prompt, on the bottom row. */
int cpt_view_replay_bar(ctx *c, int y);
void cpt_view_jump_prompt(ctx *c);

#endif /* CPT_VIEW_INT_H */
