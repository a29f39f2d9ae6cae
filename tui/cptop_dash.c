/*
 * cptop_dash.c — the interactive dashboard: one poll() loop over the
 * keyboard, the job's sockets and a tick. Each turn: look for jobs (once a
 * second), wait, handle keys, read what the job sent, draw when something
 * changed (or the clock moved what is shown).
 *
 * The parts: cpt_model (what we know, no curses), cpt_view (a pure render
 * into a cpt_frame), cpt_ui (keys -> state and commands), cpt_source
 * (where the data comes from: an agent's sockets, a Flink cluster, or a
 * recording with --replay, whose keys move its player), cpt_term (the only
 * curses file), cpt_target (finding jobs).
 */
#include "cptop.h"
#include "cpt_model.h"
#include "cpt_source.h"
#include "cpt_term.h"
#include "cpt_ui.h"
#include "cpt_view.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#define MAX_JOBS 64           /* the picker shows at most CPT_PICK_MAX of them */

typedef struct dash {
    const cptop_opts *o;
    cpt_model *m;
    cpt_ui ui;
    cpt_source *src;          /* NULL: not watching a job */
    cpt_target cur;
    cpt_target cands[MAX_JOBS];
    int ncand;
    bool picked;              /* the user chose a job in the picker */
    bool overview_shown;      /* the overview opened by itself once (several jobs) */
    bool dirty;               /* draw now */
    int64_t last_discover, last_draw;
    uint64_t drawn_version;
    bool key_ready;           /* the keyboard (or a signal) woke the loop */
    uint64_t jobs_gen;        /* the source's job list last given to the model
                               * (0: not yet; reset with the source or model) */
    cpt_frame f;
    cpt_replay *rp;           /* --replay: the player behind the source */
    cpt_replay_info shown;    /* its figures when last drawn */
} dash;

static int attach(dash *d, const cpt_target *t, int64_t now)
{
    cpt_model_conf mc = {.history_cap = d->o->history, .detail_cap = d->o->detail,
                         .log_cap = d->o->log_lines};
    cpt_source_destroy(d->src);
    d->src = NULL;
    d->jobs_gen = 0; /* a new source (and maybe model): the job list again */
    bool same_job = d->cur.job[0] && !strcmp(d->cur.job, t->job);
    if (!same_job) {
        /* another job: a fresh model (the same job keeps its history) */
        cpt_model *m = cpt_model_new(&mc);
        if (!m)
            return -1;
        cptop_record_detach(d->m);
        cpt_model_free(d->m);
        d->m = m;
    }
    d->cur = *t;
    char err[400];
    if (!(d->src = cpt_src_agent_new(t, d->o->timeout_ms, err, sizeof err)) ||
        (cptop_record_attach(d->src, d->m), 0) ||
        cpt_source_start(d->src, d->m, now, err, sizeof err)) {
        cpt_source_destroy(d->src);
        d->src = NULL;
        cpt_ui_status(&d->ui, true, now, "%s", err);
        return -1;
    }
    d->ui.cmd_pending = false;
    cpt_model_note(d->m, now, false, "watching %s at %s", t->job[0] ? t->job : t->events, t->events);
    d->dirty = true;
    return 0;
}

/* --flink: one source for the whole run (it finds the job itself). */
static int attach_flink(dash *d, int64_t now)
{
    char err[400];
    cpt_src_flink_conf c = cptop_flink_conf(d->o);
    if (!(d->src = cpt_src_flink_new(&c, err, sizeof err)) ||
        (cptop_record_attach(d->src, d->m), 0) ||
        cpt_source_start(d->src, d->m, now, err, sizeof err)) {
        cpt_source_destroy(d->src);
        d->src = NULL;
        cpt_ui_status(&d->ui, true, now, "%s", err);
        return -1;
    }
    cpt_model_note(d->m, now, false, "watching Flink at %s", c.http.base);
    d->dirty = true;
    return 0;
}

/* The cluster's jobs into the model, for the overview screen: what the
 * source lists, or why it lists none. */
static void sync_jobs(dash *d)
{
    static cpt_job_row rows[CPT_JOBS_MAX];
    /* the rows are made again only when the source says they may differ */
    uint64_t gen = d->src ? cpt_source_jobs_gen(d->src) : 0;
    if (gen && gen == d->jobs_gen)
        return;
    d->jobs_gen = gen;
    int n = d->src ? cpt_source_jobs(d->src, rows, CPT_JOBS_MAX) : -1;
    const char *why = !d->src ? "not watching a job yet"
                    : n < 0 ? cpt_source_cannot(d->src, CPT_CAP_JOBS) : "";
    cpt_model_set_jobs(d->m, rows, n, why);
    /* a cluster running several jobs opens on its list (--job: on that job) */
    if (!d->overview_shown && d->m->jobs_total > 1 && !d->o->job) {
        d->overview_shown = true;
        if (d->ui.screen == CPT_SCR_MAIN && d->ui.overlay == CPT_OV_NONE) {
            d->ui.screen = CPT_SCR_JOBS;
            d->dirty = true;
        }
    }
}

/* Enter on the overview: the source watches that job, into a fresh model
 * (the history shown is the new job's). */
static void watch_job(dash *d, int row, int64_t now)
{
    char id[CPW_MAX_JOB_ID], err[400];
    if (!d->src || row >= d->m->n_jobs)
        return;
    snprintf(id, sizeof id, "%s", d->m->jobs[row].id);
    cpt_model_conf mc = {.history_cap = d->o->history, .detail_cap = d->o->detail,
                         .log_cap = d->o->log_lines};
    cpt_model *m = cpt_model_new(&mc);
    if (!m || cpt_source_watch(d->src, id, err, sizeof err)) {
        cpt_model_free(m);
        cpt_ui_status(&d->ui, true, now, "%s", m ? err : "out of memory");
        return;
    }
    cptop_record_detach(d->m);
    cpt_model_free(d->m);
    d->m = m;
    d->jobs_gen = 0; /* a new model: its job list is given again */
    d->overview_shown = true;
    cptop_record_attach(d->src, d->m);
    if (cpt_source_start(d->src, d->m, now, err, sizeof err))
        cpt_ui_status(&d->ui, true, now, "%s", err);
    char clean[CPW_MAX_JOB_ID];
    cpw_sanitize(id, clean, sizeof clean);
    cpt_model_note(d->m, now, false, "watching job %s", clean);
    sync_jobs(d);
    d->ui.cmd_pending = false;
}

/* --replay FILE: the recording as the source (instead of --flink or
 * --connect), playing from its start or paused at --at; before the
 * terminal is taken, so that a bad file or time is complained about
 * normally. 0, or the exit status. */
static int attach_replay(dash *d, int64_t now)
{
    char err[600];
    cpt_src_replay_conf c = {.path = d->o->replay, .job = d->o->job, .history = d->o->history,
                             .detail = d->o->detail};
    if (!(d->src = cpt_src_replay_new(&c, err, sizeof err))) {
        cptop_complain(err);
        return 1;
    }
    d->rp = cpt_src_replay_player(d->src);
    cpt_source_start(d->src, d->m, now, err, sizeof err);
    if (d->o->at) {
        cpt_replay_req jump = {.op = CPT_RP_JUMP};
        snprintf(jump.text, sizeof jump.text, "%s", d->o->at);
        if (!cpt_replay_do(d->rp, d->m, &jump, err, sizeof err)) {
            cptop_complain(err);
            return 2;
        }
        cpt_replay_pause(d->rp, true); /* that moment was asked for: it stays */
    }
    d->ui.replay = true;
    cpt_replay_get_info(d->rp, &d->ui.rp);
    return 0;
}

/* Each turn of a replay: the player's figures for the header (a redraw
 * when what it shows changed), and the status line cleared after 15 s of
 * the wall clock (the screens' clock is the recording's). */
static void replay_turn(dash *d, int64_t now)
{
    cpt_replay_get_info(d->rp, &d->ui.rp);
    const cpt_replay_info *a = &d->ui.rp, *b = &d->shown;
    if (a->pos_us / 1000000 != b->pos_us / 1000000 || a->paused != b->paused ||
        a->speed != b->speed || a->at_end != b->at_end)
        d->dirty = true;
    if (d->ui.status[0] && now - d->ui.status_ts >= 15000000) {
        d->ui.status[0] = 0;
        d->dirty = true;
    }
}

static void fill_picker(cpt_ui *ui, const cpt_target *c, int n)
{
    ui->pick_n = n < CPT_PICK_MAX ? n : CPT_PICK_MAX;
    for (int i = 0; i < ui->pick_n; i++) {
        char name[CPW_NAME_MAX], id[CPW_MAX_JOB_ID];
        cpw_sanitize(c[i].name, name, sizeof name);
        cpw_sanitize(c[i].job, id, sizeof id);
        snprintf(ui->pick_label[i], sizeof ui->pick_label[i], "%-24s %-20s pid %d", id, name,
                 c[i].pid);
    }
    if (ui->pick_sel >= ui->pick_n)
        ui->pick_sel = ui->pick_n ? ui->pick_n - 1 : 0;
}

/* Once a second: the jobs there are; the one to watch, the picker's list,
 * or a new process of the job watched (another instance announced). */
static void discover(dash *d, int64_t now)
{
    char err[600], dir[CPW_PATH_MAX];
    d->last_discover = now;
    cpt_where w = cptop_where(d->o);
    d->ncand = cpt_target_candidates(&w, d->cands, MAX_JOBS, dir, sizeof dir, err, sizeof err);
    fill_picker(&d->ui, d->cands, d->ncand);
    if (!d->src) {
        if (d->ncand == 1 || (d->ncand > 1 && d->picked)) {
            attach(d, &d->cands[d->ncand == 1 ? 0 : d->ui.pick_sel], now);
            d->ui.status[0] = 0;
        } else if (d->ncand > 1 && d->ui.overlay != CPT_OV_PICKER) {
            d->ui.overlay = CPT_OV_PICKER;
        } else if (d->ncand == 0) {
            char clean[sizeof err];
            cpw_sanitize(err, clean, sizeof clean);
            cpt_ui_status(&d->ui, true, now, "%s", clean);
        }
        d->dirty = true;
        return;
    }
    if (d->m->link == CPT_LINK_UP || !d->cur.discovered)
        return;
    /* silent: the job restarted (same id, another process) or moved */
    for (int i = 0; i < d->ncand; i++) {
        const cpt_target *c = &d->cands[i];
        if (strcmp(c->job, d->cur.job))
            continue;
        if (c->pid != d->cur.pid || strcmp(c->events, d->cur.events) ||
            (c->instance[0] && strcmp(c->instance, d->cur.instance))) {
            attach(d, c, now);
            return;
        }
    }
}

/* Keys that ask the job for something its source cannot do: the status
 * line says why, and no dialog opens (the keys are cpt_ui's). */
static const struct {
    int key;
    cpt_src_cap cap, instead; /* instead: the key still works (it offers that) */
} needs[] = {
    {'t', CPT_CAP_TRIGGER, CPT_CAP_SAVEPOINT}, {'a', CPT_CAP_ABORT, 0},
    {'f', CPT_CAP_FAIL, 0}, {'c', CPT_CAP_CONFIG, 0},
};

static bool cannot(dash *d, int k, int64_t now)
{
    if (!d->src || d->ui.overlay != CPT_OV_NONE || d->ui.read_only ||
        cpt_ui_replay_takes(&d->ui, k))
        return false;
    unsigned caps = cpt_source_caps(d->src, d->m);
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
        if (needs[i].key == k && !(caps & needs[i].cap) && !(caps & needs[i].instead) &&
            (needs[i].cap != CPT_CAP_FAIL || strcmp(cpt_source_kind(d->src), "agent"))) {
            cpt_ui_status(&d->ui, true, now, "%s", cpt_source_cannot(d->src, needs[i].cap));
            d->dirty = true;
            return true;
        }
    return false;
}

/* Every key waiting; what it asks for is sent. */
static void keys(dash *d, int64_t now)
{
    int k;
    char err[400];
    while ((k = cpt_term_key()) != CPT_KEY_NONE) {
        cpw_cmd cmd;
        if (cannot(d, k, now))
            continue;
        cpt_action a = cpt_ui_key(&d->ui, d->m, k, &cmd, now);
        if (k == CPT_KEY_RESIZE)
            d->dirty = true;
        if (a == CPT_ACT_QUIT) {
            cptop_quit = 1;
        } else if (a == CPT_ACT_COMMAND) {
            if (!d->src) {
                cpt_ui_status(&d->ui, true, now, "not connected to a job");
            } else if (cpt_source_send_cmd(d->src, &cmd, err, sizeof err)) {
                cpt_ui_status(&d->ui, true, now, "%s", err);
            } else {
                d->ui.cmd_pending = true;
                cpt_ui_status(&d->ui, false, now, "%s: sent, waiting for the reply",
                              cpt_source_cmd_name(d->src));
            }
        } else if (a == CPT_ACT_REPLAY && d->rp) {
            bool went = cpt_replay_do(d->rp, d->m, &d->ui.rp_req, err, sizeof err);
            cpt_ui_status(&d->ui, !went, now, "%s", err);
            cpt_replay_get_info(d->rp, &d->ui.rp);
        } else if (a == CPT_ACT_PICK && d->ui.pick_sel < d->ncand) {
            d->picked = true;
            attach(d, &d->cands[d->ui.pick_sel], now);
        } else if (a == CPT_ACT_WATCH) {
            watch_job(d, d->ui.jobs_sel, now);
        }
        if (a != CPT_ACT_NONE)
            d->dirty = true;
    }
}

/* What the job sent: events, a state reply, a command's reply. */
static void job_input(dash *d, int64_t now)
{
    if (!d->src)
        return;
    cpt_source_on_ready(d->src, d->m, now);
    bool ok;
    char text[300];
    if (cpt_source_poll_cmd(d->src, now, d->o->timeout_ms, &ok, text, sizeof text)) {
        d->ui.cmd_pending = false;
        cpt_ui_status(&d->ui, !ok, now, "%s", text);
        cpt_model_note(d->m, now, !ok, "%s", text);
        d->dirty = true;
    }
}

/* A checkpoint in flight (or the detail screen) redraws four times a
 * second, anything else once; a change shows within 50 ms. */
static int64_t draw_period(const dash *d)
{
    return d->m->st->n_inflight || d->ui.screen == CPT_SCR_DETAIL ? 250000 : 1000000;
}

/* When the next draw is due: at once when asked (a key, a resize), a
 * period after the last, or on a change not yet drawn, but not within
 * DRAW_GAP_US of the last draw. */
#define DRAW_GAP_US 50000
static int64_t draw_due(const dash *d)
{
    if (d->dirty)
        return 0;
    int64_t due = d->last_draw + draw_period(d);
    if (d->m->version != d->drawn_version && d->last_draw + DRAW_GAP_US < due)
        due = d->last_draw + DRAW_GAP_US;
    return due;
}

/* now: the wall clock (when to draw); at: the time shown (the source's). */
static void draw(dash *d, int64_t now, int64_t at)
{
    if (now < draw_due(d))
        return;
    int w, h;
    cpt_term_size(&w, &h);
    if (w != d->f.w || h != d->f.h || !d->f.cells)
        cpt_frame_resize(&d->f, w, h);
    cpt_view_render(d->m, &d->ui, &d->f, at);
    cpt_term_draw(&d->f);
    d->last_draw = now;
    d->drawn_version = d->m->version;
    d->dirty = false;
    d->shown = d->ui.rp;
}

/* Waits for a key, a message or the next draw; false when the terminal went. */
static bool wait_input(dash *d, int64_t now)
{
    int64_t wait = draw_due(d) - now;
    if (wait < 0)
        wait = 0;
    struct pollfd pfd[8] = {{.fd = 0, .events = POLLIN}};
    int64_t next = INT64_MAX;
    int n = 1 + (d->src ? cpt_source_pollfds(d->src, pfd + 1, 7, &next) : 0);
    if (next != INT64_MAX && next - now < wait) /* a poller's next request */
        wait = next > now ? next - now : 0;
    int pr = poll(pfd, (nfds_t)n, (int)(wait / 1000) + (wait % 1000 ? 1 : 0));
    /* keys are read when there are some, or a signal (SIGWINCH: a resize,
     * which curses turns into a key) cut the wait short */
    d->key_ready = pr < 0 || (pr > 0 && pfd[0].revents);
    return !(pr > 0 && (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)));
}

int cptop_dashboard(const cptop_opts *o, int argc, char **argv)
{
    if (argc > 0) {
        cptop_complain("the dashboard takes no words (see cptop --help)");
        return 2;
    }
    static dash d;
    d = (dash){.o = o, .drawn_version = UINT64_MAX, .dirty = true};
    cpt_model_conf mc = {.history_cap = o->history, .detail_cap = o->detail, .log_cap = o->log_lines};
    cpt_target first;
    int64_t replay_us = 0;
    if (o->max_replay && !cpt_parse_duration_us(o->max_replay, &replay_us)) {
        cptop_complain("--max-replay takes a duration (e.g. 30s, 2 min)");
        return 2;
    }
    int rc = o->connect && !o->flink && !o->replay ? cptop_find(o, &first) : 0;
    char err[300];
    if (rc || !(d.m = cpt_model_new(&mc))) {
        if (!rc)
            cptop_complain("out of memory");
        return rc ? rc : 1;
    }
    cpt_ui_init(&d.ui, o->read_only, false);
    if (o->replay && (rc = attach_replay(&d, cpw_now_us()))) {
        cpt_source_destroy(d.src);
        cpt_model_free(d.m);
        return rc;
    }
    if (cpt_term_open(!o->no_color, err, sizeof err)) {
        cptop_complain(err);
        cpt_model_free(d.m);
        return 2;
    }
    d.ui.unicode = !o->ascii && cpt_term_unicode();
    /* the Advice screen's budgets, as --advise takes them (checked before
     * the terminal was taken) */
    d.ui.adv_max_overhead_pct = o->max_overhead;
    d.ui.adv_max_replay_us = replay_us;
    if (o->replay)
        ; /* the recording is the source (attached above) */
    else if (o->flink)
        attach_flink(&d, cpw_now_us());
    else if (o->connect)
        attach(&d, &first, cpw_now_us());
    while (!cptop_quit) {
        int64_t now = cpw_now_us();
        /* looking probes every job's socket: once a second while looking
         * for one, every 5 s (the picker's list) while watching one live */
        int64_t look = d.src && d.m->link == CPT_LINK_UP ? 5000000 : 1000000;
        if (!o->connect && !o->flink && !o->replay && now - d.last_discover >= look)
            discover(&d, now);
        if (d.src)
            cpt_source_tick(d.src, d.m, now);
        if (!wait_input(&d, now))
            break; /* the terminal went away */
        now = cpw_now_us();
        /* a source that cannot change settings: Advice shows flink-conf lines */
        unsigned caps = d.src ? cpt_source_caps(d.src, d.m) : 0;
        d.ui.adv_no_set = d.src && !(caps & CPT_CAP_CONFIG);
        d.ui.t_savepoint = !(caps & CPT_CAP_TRIGGER) && (caps & CPT_CAP_SAVEPOINT);
        if (d.key_ready)
            keys(&d, now);
        job_input(&d, now);
        if (d.src) { /* the other jobs' figures are polled only while shown */
            cpt_source_want_jobs(d.src, d.ui.screen == CPT_SCR_JOBS);
            /* a finished checkpoint opened: its figures, if the source lacks them */
            cpt_source_want_detail(d.src, d.m, d.ui.screen == CPT_SCR_DETAIL ? d.ui.detail_id : 0);
        }
        sync_jobs(&d);
        if (d.rp)
            replay_turn(&d, now);
        int64_t at = d.src ? cpt_source_clock(d.src, now) : now;
        cpt_model_tick(d.m, at);
        cptop_record_tick(now);
        draw(&d, now, at);
    }
    cpt_term_close();
    /* The source is left to the process's exit (d is static, so it stays
     * reachable): nng 1.5's close of a SUB socket that messages keep
     * arriving on can wait forever, and q must end cptop. */
    cpt_frame_free(&d.f);
    cptop_record_detach(d.m);
    cpt_model_free(d.m);
    return 0;
}
