/* cpt_view_jobs.c — the cluster overview: the jobs the source lists
 * (m->jobs: name, state, uptime, each one's last checkpoint, failed and in
 * flight; tasks and id where there is room), the watched one marked and
 * its figures from the model; or why there is no list (see
 * cpt_view_int.h). */
#include "cpt_view_int.h"

#include <stdio.h>
#include <string.h>

/* A job state's colour (the cluster's words; anything else is dim). */
static cpt_role state_role(const char *state)
{
    static const struct {
        const char *state;
        cpt_role role;
    } roles[] = {
        {"RUNNING", CPT_R_GOOD},    {"FAILED", CPT_R_BAD},       {"FAILING", CPT_R_BAD},
        {"RESTARTING", CPT_R_WARN}, {"CANCELLING", CPT_R_WARN},  {"RECONCILING", CPT_R_WARN},
        {"SUSPENDED", CPT_R_WARN},  {"INITIALIZING", CPT_R_NORMAL}, {"CREATED", CPT_R_NORMAL},
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp(roles[i].state, state))
            return roles[i].role;
    return CPT_R_DIM;
}

/* x of each column; tasks and ids only where there is room */
typedef struct cols {
    int name, state, up, last, took, failed, fly, tasks, id;
    int name_w, id_w;
} cols;

static cols columns(int w)
{
    cols k;
    k.name = 4;
    k.name_w = w >= 160 ? 40 : w >= 120 ? 28 : w >= 80 ? 20 : 12;
    k.state = k.name + k.name_w + 1;
    k.up = k.state + 13;
    k.last = k.up + 9;
    k.took = k.last + 9;
    k.failed = k.took + 8;
    k.fly = k.failed + 7;
    k.tasks = w >= 120 ? k.fly + 11 : w + 1;
    k.id = w >= 120 ? k.tasks + 7 : w + 1;
    k.id_w = w - k.id > 0 ? w - k.id : 0;
    return k;
}

/* The watched job's figures, from the model (fresher than a row's). */
static cpt_job_cp watched_cp(const cpw_state *st)
{
    cpt_job_cp cp;
    memset(&cp, 0, sizeof cp);
    cp.known = st->hello.n_ops > 0;
    for (int i = 0; i < st->n_history && !cp.last_id; i++) {
        const cpw_cp *h = cpw_state_history(st, i);
        if (h->status == CPW_CP_COMPLETED) {
            cp.last_id = h->id;
            cp.last_end_us = h->end_ts;
            cp.last_dur_us = h->duration_us;
        }
    }
    cp.failed = st->counts.failed;
    cp.inflight = st->n_inflight;
    cp.inflight_since_us = st->n_inflight ? st->inflight[0].trigger_ts : 0;
    return cp;
}

/* LAST CP (its age), TOOK, FAILED, IN FLIGHT (how many, the oldest's age). */
static void cp_cells(ctx *c, int y, const cols *k, const cpt_job_cp *cp, bool sel)
{
    char buf[64], a[32];
    cpt_role base = sel ? CPT_R_SELECT : CPT_R_NORMAL;
    if (!cp->known || cp->note[0]) {
        cpw_sanitize(cp->known ? cp->note : "...", buf, sizeof buf);
        putn(c, k->last, y, sel ? CPT_R_SELECT : CPT_R_DIM, k->fly + 10 - k->last, buf);
        return;
    }
    if (cp->last_id > 0) {
        cpt_fmt_dur(a, sizeof a, c->now > cp->last_end_us ? c->now - cp->last_end_us : 0);
        snprintf(buf, sizeof buf, "%8s", a);
        put(c, k->last, y, base, buf);
        cpt_fmt_dur(a, sizeof a, cp->last_dur_us);
        snprintf(buf, sizeof buf, "%7s", a);
        put(c, k->took, y, base, buf);
    } else {
        put(c, k->last, y, sel ? CPT_R_SELECT : CPT_R_DIM, "    none");
    }
    snprintf(buf, sizeof buf, "%6lld", (long long)cp->failed);
    put(c, k->failed, y, sel ? CPT_R_SELECT : cp->failed ? CPT_R_BAD : CPT_R_NORMAL, buf);
    if (cp->inflight > 0) {
        int x = k->fly;
        snprintf(buf, sizeof buf, "%d", cp->inflight);
        x = put(c, x, y, sel ? CPT_R_SELECT : CPT_R_ASYNC, buf);
        if (cp->inflight_since_us > 0 && c->now > cp->inflight_since_us) {
            cpt_fmt_dur(a, sizeof a, c->now - cp->inflight_since_us);
            snprintf(buf, sizeof buf, " %s", a);
            putn(c, x, y, base, k->fly + 10 - x, buf);
        }
    } else {
        put(c, k->fly, y, base, "0");
    }
}

static void job_line(ctx *c, int y, const cols *k, const cpt_job_row *r, bool sel)
{
    char buf[160], a[32];
    cpt_role base = sel ? CPT_R_SELECT : CPT_R_NORMAL;
    if (sel) {
        cpt_frame_fill(c->f, 0, y, 1, c->g->sel, CPT_R_SELECT);
        cpt_frame_role(c->f, 1, y, c->w - 1, CPT_R_SELECT);
    }
    if (r->watched)
        put(c, 2, y, sel ? CPT_R_SELECT : CPT_R_TITLE, "*");
    cpw_sanitize(r->name[0] ? r->name : "?", buf, sizeof buf);
    putn(c, k->name, y, base, k->name_w, buf);
    cpw_sanitize(r->state[0] ? r->state : "?", buf, sizeof buf);
    putn(c, k->state, y, sel ? CPT_R_SELECT : state_role(r->state), 12, buf);
    if (r->start_us > 0) {
        int64_t end = r->end_us > 0 ? r->end_us : c->now;
        cpt_fmt_dur(a, sizeof a, end > r->start_us ? end - r->start_us : 0);
        snprintf(buf, sizeof buf, "%8s", a);
        put(c, k->up, y, r->end_us > 0 && !sel ? CPT_R_DIM : base, buf);
    }
    cpt_job_cp w;
    if (r->watched)
        w = watched_cp(c->m->st);
    cp_cells(c, y, k, r->watched ? &w : &r->cp, sel);
    if (k->id_w <= 0)
        return;
    if (r->tasks > 0) {
        snprintf(buf, sizeof buf, "%5d", r->tasks);
        put(c, k->tasks, y, base, buf);
    }
    cpw_sanitize(r->id, buf, sizeof buf);
    if (k->id_w > 4 && cpt_text_width(buf) > k->id_w) {
        int cut = k->id_w - 2; /* ids are hex: bytes are columns */
        snprintf(buf + cut, sizeof buf - (size_t)cut, "..");
    }
    putn(c, k->id, y, sel ? CPT_R_SELECT : CPT_R_DIM, k->id_w, buf);
}

void cpt_view_jobs(ctx *c, int y, int y_max)
{
    cpt_model *m = c->m;
    cpt_ui *ui = c->ui;
    char buf[160];
    snprintf(buf, sizeof buf, "Jobs on the cluster (%d)", m->jobs_total);
    cpt_view_rule(c, y++, buf, true);
    if (!m->n_jobs) {
        cpw_sanitize(m->jobs_note[0] ? m->jobs_note : "no job list yet", buf, sizeof buf);
        cpt_view_wrapped(c, 2, y + 1, y_max, CPT_R_DIM, buf);
        return;
    }
    cols k = columns(c->w);
    put(c, k.name, y, CPT_R_DIM, "JOB");
    put(c, k.state, y, CPT_R_DIM, "STATE");
    put(c, k.up + 6, y, CPT_R_DIM, "UP");
    put(c, k.last + 1, y, CPT_R_DIM, "LAST CP");
    put(c, k.took + 3, y, CPT_R_DIM, "TOOK");
    put(c, k.failed, y, CPT_R_DIM, "FAILED");
    put(c, k.fly, y, CPT_R_DIM, "IN FLIGHT");
    if (k.id_w > 0) {
        put(c, k.tasks, y, CPT_R_DIM, "TASKS");
        put(c, k.id, y, CPT_R_DIM, "ID");
    }
    y++;
    /* rows, then a blank and what the keys do */
    int rows = y_max - y - 2 - (m->jobs_total > m->n_jobs);
    if (rows < 1)
        rows = 1;
    ui->page = rows;
    int top = ui->jobs_sel >= rows ? ui->jobs_sel - rows + 1 : 0;
    for (int i = top; i < m->n_jobs && i < top + rows && y < y_max; i++)
        job_line(c, y++, &k, &m->jobs[i], i == ui->jobs_sel);
    if (m->jobs_total > m->n_jobs && y < y_max) {
        snprintf(buf, sizeof buf, "  ... and %d more", m->jobs_total - m->n_jobs);
        put(c, 2, y++, CPT_R_DIM, buf);
    }
    y++; /* a blank row */
    if (y < y_max)
        put(c, 2, y, CPT_R_DIM, "* watched  Up/Down choose  Enter watch it  o Esc back");
}
