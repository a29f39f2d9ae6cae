/* cpt_flink_feed_job.c — the Flink feed's job side: /config, the job's
 * status (/jobs/overview, /jobs/:jid) and its shape (vertices, plan and
 * /checkpoints/config) announced as one hello, again whenever it changes. */
#include "cpt_flink_feed_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Flink's JobStatus names onto ours (the message keeps Flink's word). */
static const struct {
    const char *flink;
    cpw_job_status status;
} job_states[] = {
    {"INITIALIZING", CPW_JOB_CREATED}, {"CREATED", CPW_JOB_CREATED},
    {"RUNNING", CPW_JOB_RUNNING},      {"FAILING", CPW_JOB_FAILING},
    {"CANCELLING", CPW_JOB_FAILING},   {"RESTARTING", CPW_JOB_RESTARTING},
    {"RECONCILING", CPW_JOB_RESTARTING}, {"FAILED", CPW_JOB_FAILED},
    {"CANCELED", CPW_JOB_FINISHED},    {"FINISHED", CPW_JOB_FINISHED},
    {"SUSPENDED", CPW_JOB_FAILED},
};

static void job_state(cpt_flink_feed *f, const char *state, int64_t now_us)
{
    if (!state[0] || !strcmp(state, f->info.job_state))
        return;
    snprintf(f->info.job_state, sizeof f->info.job_state, "%s", state);
    cpw_event ev = {.type = CPW_EV_JOB_STATUS, .op = -1, .subtask = -1, .ts_us = now_us};
    ev.u.job_status.status = CPW_JOB_FAILING;
    for (size_t i = 0; i < sizeof job_states / sizeof job_states[0]; i++)
        if (!strcmp(job_states[i].flink, state))
            ev.u.job_status.status = job_states[i].status;
    snprintf(ev.u.job_status.message, sizeof ev.u.job_status.message, "Flink: %s", state);
    cpt_ff_event(f, &ev, now_us);
}

int cpt_ff_op_of(const cpt_flink_feed *f, const char *vid)
{
    for (int i = 0; i < f->n_vertex; i++)
        if (!strcmp(f->vertex[i], vid))
            return i;
    return -1;
}

cpw_err cpt_ff_read_config(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                           const char *vid, int64_t now_us, cpw_error *err)
{
    (void)id, (void)vid, (void)now_us;
    cpw_flink_dashboard d;
    cpw_err rc = cpw_flink_read_dashboard(b, n, &d, err);
    if (rc)
        return rc;
    f->info.have_config = true;
    snprintf(f->info.version, sizeof f->info.version, "%s", d.flink_version);
    f->info.version_major = d.version_major;
    f->info.version_minor = d.version_minor;
    f->info.refresh_ms = d.refresh_interval;
    return CPW_OK;
}

cpw_err cpt_ff_read_overview(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                             const char *vid, int64_t now_us, cpw_error *err)
{
    (void)id, (void)vid;
    cpw_flink_jobs j;
    cpw_err rc = cpw_flink_read_jobs(b, n, &j, err);
    if (rc)
        return rc;
    cpw_flink_jobs_clear(&f->jobs);
    f->jobs = j;
    for (int i = 0; f->jid[0] && i < j.n; i++)
        if (!strcmp(j.jobs[i].jid, f->jid))
            job_state(f, j.jobs[i].state, now_us);
    return CPW_OK;
}

static void put_config(cpw_hello *h, const char *key, long long v, const char *unit)
{
    if (h->n_config >= CPW_MAX_CONFIG)
        return;
    snprintf(h->config_keys[h->n_config], CPW_NAME_MAX, "execution.checkpointing.%s", key);
    snprintf(h->config_values[h->n_config], CPW_VALUE_MAX, "%lld%s", v, unit);
    h->n_config++;
}

/* The checkpoint config as the agent's keys (what cpt_model reads). */
static void build_config(cpt_flink_feed *f, cpw_hello *h)
{
    const cpw_flink_cp_config *c = &f->cp_config;
    if (!f->have_cp_config)
        return;
    if (h->n_config < CPW_MAX_CONFIG) {
        char *v = h->config_values[h->n_config];
        size_t i = 0;
        for (; c->mode[i] && i < CPW_VALUE_MAX - 1; i++)
            v[i] = (char)toupper((unsigned char)c->mode[i]); /* Flink sends it lowercase */
        v[i] = 0;
        snprintf(h->config_keys[h->n_config++], CPW_NAME_MAX, "execution.checkpointing.mode");
    }
    /* Long.MAX: periodic checkpoints are off; the interval stays unknown */
    if (c->interval > 0 && c->interval < INT64_MAX)
        put_config(h, "interval", (long long)c->interval, " ms");
    if (c->timeout > 0)
        put_config(h, "timeout", (long long)c->timeout, " ms");
    put_config(h, "min-pause", (long long)c->min_pause, " ms");
    put_config(h, "tolerable-failed-checkpoints", (long long)c->tolerable_failed, "");
    put_config(h, "max-concurrent-checkpoints", (long long)c->max_concurrent, "");
    if (h->n_config < CPW_MAX_CONFIG) {
        snprintf(h->config_keys[h->n_config], CPW_NAME_MAX, "execution.checkpointing.unaligned");
        snprintf(h->config_values[h->n_config++], CPW_VALUE_MAX, "%s",
                 c->unaligned ? "true" : "false");
    }
}

/* Announces the shape when it changed (or for the first time). */
static void announce(cpt_flink_feed *f, const cpw_flink_job_details *d, int64_t now_us)
{
    cpw_hello *h = f->built;
    memset(h, 0, sizeof *h);
    if (d) {
        snprintf(h->name, sizeof h->name, "%s", d->job.name);
        h->start_ts_us = cpt_ff_us(d->job.start_time);
        int subtasks = 0;
        f->n_vertex = 0;
        for (int i = 0; i < d->n_vertices && h->n_ops < CPW_MAX_OPERATORS; i++) {
            const cpw_flink_vertex *v = &d->vertices[i];
            int p = v->parallelism < 1 ? 1 : v->parallelism;
            if (p > CPW_MAX_PARALLELISM || subtasks + p > CPW_MAX_SUBTASKS)
                break; /* beyond what the protocol carries: the rest is not shown */
            subtasks += p;
            snprintf(h->ops[h->n_ops].name, CPW_NAME_MAX, "%s", v->name);
            h->ops[h->n_ops++].parallelism = p;
            memcpy(f->vertex[f->n_vertex++], v->id, sizeof f->vertex[0]);
        }
        for (int i = 0; i < d->n_edges && h->n_edges < CPW_MAX_EDGES; i++) {
            const cpw_flink_edge *e = &d->edges[i];
            if (e->from < 0 || e->to < 0 || e->from >= h->n_ops || e->to >= h->n_ops)
                continue;
            cpw_edge *o = &h->edges[h->n_edges++];
            o->from = e->from;
            o->to = e->to;
            snprintf(o->kind, sizeof o->kind, "%s", e->ship_strategy);
        }
        snprintf(f->info.job_name, sizeof f->info.job_name, "%s", h->name);
    } else {
        /* the config changed: the topology stays as announced */
        memcpy(h->name, f->hello->name, sizeof h->name);
        h->start_ts_us = f->hello->start_ts_us;
        h->n_ops = f->hello->n_ops;
        memcpy(h->ops, f->hello->ops, sizeof h->ops);
        h->n_edges = f->hello->n_edges;
        memcpy(h->edges, f->hello->edges, sizeof h->edges);
    }
    snprintf(h->agent_version, sizeof h->agent_version, "flink");
    build_config(f, h);
    if (f->hello_sent && !memcmp(h, f->hello, sizeof *h))
        return;
    memcpy(f->hello, h, sizeof *h);
    f->hello_sent = true;
    cpt_ff_hello(f, now_us);
}

cpw_err cpt_ff_read_job(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                        const char *vid, int64_t now_us, cpw_error *err)
{
    (void)id, (void)vid;
    cpw_flink_job_details d;
    cpw_err rc = cpw_flink_read_job_details(b, n, &d, err);
    if (rc)
        return rc;
    f->have_job = true;
    announce(f, &d, now_us);
    job_state(f, d.job.state, now_us);
    cpw_flink_job_details_clear(&d);
    return CPW_OK;
}

cpw_err cpt_ff_read_cp_config(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                              const char *vid, int64_t now_us, cpw_error *err)
{
    (void)id, (void)vid;
    cpw_flink_cp_config c;
    cpw_err rc = cpw_flink_read_cp_config(b, n, &c, err);
    if (rc)
        return rc;
    f->cp_config = c;
    f->have_cp_config = true;
    if (f->have_job)
        announce(f, NULL, now_us);
    return CPW_OK;
}
