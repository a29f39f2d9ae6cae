/* cpt_flink_rows.c — every listed job's checkpoint figures for the cluster
 * overview, each from its own /checkpoints on its own pace (see the
 * header). */
#include "cpt_flink_rows.h"
#include "cpt_flink_feed.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOW_US 60000000 /* a job without checkpointing: asked again a minute on */

typedef struct row {
    char jid[CPW_FLINK_ID_HEX + 1];
    char state[16];       /* the job's state when last listed */
    bool finished;        /* it ended: its figures no longer change */
    bool asked_final;     /* ...and they were asked for since it ended */
    int64_t next_us;      /* when it is due */
    cpt_job_cp cp;        /* zeroed first: compared bytewise */
} row;

struct cpt_flink_rows {
    int n;
    row rows[CPT_JOBS_MAX];
    row next[CPT_JOBS_MAX]; /* sync's scratch */
};

/* Epoch milliseconds as microseconds (0 for none; saturating). */
static int64_t ms_us(int64_t ms)
{
    return ms <= 0 ? 0 : ms > INT64_MAX / 1000 ? INT64_MAX : ms * 1000;
}

cpt_flink_rows *cpt_flink_rows_new(void) { return calloc(1, sizeof(cpt_flink_rows)); }

void cpt_flink_rows_destroy(cpt_flink_rows *r) { free(r); }

static row *find(cpt_flink_rows *r, const char *jid)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].jid, jid))
            return &r->rows[i];
    return NULL;
}

void cpt_flink_rows_sync(cpt_flink_rows *r, const cpw_flink_jobs *j, int64_t spread_us,
                         int64_t now_us)
{
    row *next = r->next;
    int n = j->n < CPT_JOBS_MAX ? j->n : CPT_JOBS_MAX, fresh = 0;
    for (int i = 0; i < n; i++) {
        const cpw_flink_job *x = &j->jobs[i];
        row *old = find(r, x->jid), *w = &next[i];
        if (old) {
            memcpy(w, old, sizeof *w);
        } else {
            memset(w, 0, sizeof *w);
            snprintf(w->jid, sizeof w->jid, "%s", x->jid);
            /* new ones spread: not fifty requests at once */
            w->next_us = now_us + spread_us * fresh++ / (n > 1 ? n : 1);
        }
        if (old && strcmp(old->state, x->state))
            w->next_us = now_us; /* restarted, failed, finished: worth a look now */
        snprintf(w->state, sizeof w->state, "%s", x->state);
        bool fin = x->end_time > 0;
        if (fin && !w->finished)
            w->asked_final = false;
        w->finished = fin;
    }
    memcpy(r->rows, next, sizeof *next * (size_t)n);
    r->n = n;
}

static bool wanted(const row *w, const char *skip_jid)
{
    return !(w->finished && w->asked_final) && strcmp(w->jid, skip_jid ? skip_jid : "");
}

int cpt_flink_rows_due(cpt_flink_rows *r, int64_t now_us, int64_t period_us,
                       const char *skip_jid, char (*paths)[160], int max)
{
    int k = 0;
    for (int i = 0; i < r->n && k < max; i++) {
        row *w = &r->rows[i];
        if (!wanted(w, skip_jid) || now_us < w->next_us)
            continue;
        snprintf(paths[k++], 160, "/jobs/%s/checkpoints", w->jid);
        w->next_us = now_us + period_us;
        if (w->finished)
            w->asked_final = true;
    }
    return k;
}

void cpt_flink_rows_resume(cpt_flink_rows *r, int64_t spread_us, int64_t now_us)
{
    int k = 0;
    for (int i = 0; i < r->n; i++)
        if (r->rows[i].next_us <= now_us)
            r->rows[i].next_us = now_us + spread_us * k++ / (r->n > 1 ? r->n : 1);
}

int cpt_flink_rows_unheard(const cpt_flink_rows *r, const char *skip_jid)
{
    int k = 0;
    for (int i = 0; i < r->n; i++)
        k += !r->rows[i].cp.known && strcmp(r->rows[i].jid, skip_jid ? skip_jid : "");
    return k;
}

int64_t cpt_flink_rows_next(const cpt_flink_rows *r, const char *skip_jid)
{
    int64_t due = INT64_MAX;
    for (int i = 0; i < r->n; i++)
        if (wanted(&r->rows[i], skip_jid) && r->rows[i].next_us < due)
            due = r->rows[i].next_us;
    return due;
}

/* The figures a /checkpoints body gives (counts, latest completed, the
 * oldest in flight among the history). */
static void figures(cpt_job_cp *cp, const cpw_flink_stats *s)
{
    cp->failed = s->counts.failed > 0 ? s->counts.failed : 0;
    cp->inflight = s->counts.in_progress > 0 && s->counts.in_progress < 1000000
                       ? (int)s->counts.in_progress : 0;
    const cpw_flink_cp *c = s->latest_completed;
    if (c && c->id > 0) {
        cp->last_id = c->id;
        cp->last_end_us = ms_us(c->latest_ack_ts > 0 ? c->latest_ack_ts : c->trigger_ts);
        cp->last_dur_us = ms_us(c->e2e > 0 ? c->e2e : 0);
    }
    for (int i = 0; i < s->n_history; i++)
        if (s->history[i].status == CPW_FLINK_IN_PROGRESS && s->history[i].trigger_ts > 0)
            cp->inflight_since_us = ms_us(s->history[i].trigger_ts); /* newest first */
}

bool cpt_flink_rows_answer(cpt_flink_rows *r, const char *path, int status, const char *body,
                           size_t len, int64_t now_us)
{
    char jid[CPW_FLINK_ID_HEX + 1] = "";
    int64_t id;
    if (cpt_flink_feed_route(path, jid, &id, NULL) != CPT_FF_STATS)
        return false;
    row *w = find(r, jid);
    if (!w)
        return false; /* no longer listed */
    cpt_job_cp cp;
    memset(&cp, 0, sizeof cp);
    cp.known = true;
    cpw_error e;
    if (status == 200) {
        cpw_flink_stats s;
        if (cpw_flink_read_stats(body, len, &s, &e) == CPW_OK) {
            figures(&cp, &s);
            cpw_flink_stats_clear(&s);
        } else {
            snprintf(cp.note, sizeof cp.note, "bad answer");
        }
    } else if (status) {
        char msg[CPW_TEXT_MAX] = "";
        if (body && len)
            cpw_flink_read_error(body, len, msg, sizeof msg, &e);
        if (strstr(msg, "not enabled")) {
            snprintf(cp.note, sizeof cp.note, "checkpointing off");
            w->next_us = w->next_us > now_us + SLOW_US ? w->next_us : now_us + SLOW_US;
        } else {
            snprintf(cp.note, sizeof cp.note, "HTTP %d", status);
        }
    } else {
        snprintf(cp.note, sizeof cp.note, "no answer");
    }
    if (!memcmp(&cp, &w->cp, sizeof cp))
        return false;
    memcpy(&w->cp, &cp, sizeof cp);
    return true;
}

const cpt_job_cp *cpt_flink_rows_get(const cpt_flink_rows *r, const char *jid)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].jid, jid))
            return r->rows[i].cp.known ? &r->rows[i].cp : NULL;
    return NULL;
}
