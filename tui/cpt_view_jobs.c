/* cpt_view_jobs.c — the cluster overview: the jobs the source lists
 * (m->jobs: id, name, state, uptime, tasks), the watched one marked with
 * its checkpoint figures from the model; or why there is no list (see
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

typedef struct cols {
    int name, state, up, tasks, id;  /* x of each column */
    int name_w, id_w;
} cols;

static cols columns(int w)
{
    cols k;
    k.name = 4;
    k.name_w = w >= 120 ? 40 : w >= 80 ? 28 : 16;
    k.state = k.name + k.name_w + 1;
    k.up = k.state + 13;
    k.tasks = k.up + 9;
    k.id = k.tasks + 7;
    k.id_w = w - k.id > 0 ? w - k.id : 0;
    return k;
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

/* The watched job's checkpoints, from the model (what the list lacks). */
static void watched_line(ctx *c, int y)
{
    const cpw_state *st = c->m->st;
    char buf[200], a[32], b[32];
    if (!st->hello.n_ops) {
        put(c, 2, y, CPT_R_DIM, "the watched job's checkpoints: none heard of yet");
        return;
    }
    const cpw_cp *last = NULL;
    for (int i = 0; i < st->n_history && !last; i++)
        if (cpw_state_history(st, i)->status == CPW_CP_COMPLETED)
            last = cpw_state_history(st, i);
    int x = put(c, 2, y, CPT_R_NORMAL, "* watched: ");
    if (last) {
        cpt_fmt_dur(a, sizeof a, c->now - last->end_ts);
        cpt_fmt_dur(b, sizeof b, last->duration_us);
        snprintf(buf, sizeof buf, "last checkpoint #%lld %s ago, took %s", (long long)last->id,
                 a, b);
        x = put(c, x, y, CPT_R_NORMAL, buf);
    } else {
        x = put(c, x, y, CPT_R_DIM, "no checkpoint completed");
    }
    snprintf(buf, sizeof buf, "  %lld failed", (long long)st->counts.failed);
    x = put(c, x, y, st->counts.failed ? CPT_R_BAD : CPT_R_NORMAL, buf);
    snprintf(buf, sizeof buf, "  %d in flight", st->n_inflight);
    put(c, x, y, st->n_inflight ? CPT_R_ASYNC : CPT_R_NORMAL, buf);
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
    put(c, k.tasks, y, CPT_R_DIM, "TASKS");
    put(c, k.id, y, CPT_R_DIM, "ID");
    y++;
    /* rows, then a blank, the watched job's figures, what the keys do */
    int rows = y_max - y - 3 - (m->jobs_total > m->n_jobs);
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
        watched_line(c, y++);
    if (y < y_max)
        put(c, 2, y, CPT_R_DIM, "Up/Down choose  Enter watch it  o Esc back");
}
