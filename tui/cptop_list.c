/* cptop_list.c — `cptop --list`: every announcement of the runtime
 * directory, live or stale; with --flink, the cluster's jobs. Every field
 * sanitised. */
#include "cptop.h"

#include <stdio.h>

static int list_flink(const cptop_opts *o)
{
    cpt_source *src;
    int rc = cptop_open_source(o, &src);
    if (rc)
        return rc;
    char err[600];
    const cpw_flink_jobs *j = cpt_src_flink_jobs(src, o->timeout_ms, err, sizeof err);
    if (!j) {
        cptop_complain(err);
        cpt_source_destroy(src);
        return 1;
    }
    printf("%-32s %-24s %-11s %s\n", "JOB", "NAME", "STATE", "UPTIME");
    int64_t now_ms = cpw_now_us() / 1000;
    for (int i = 0; i < j->n; i++) {
        const cpw_flink_job *x = &j->jobs[i];
        char id[CPW_FLINK_ID_HEX + 1], name[256], state[16];
        cpw_sanitize(x->jid, id, sizeof id);
        cpw_sanitize(x->name, name, sizeof name);
        cpw_sanitize(x->state, state, sizeof state);
        int64_t up = x->end_time > 0 ? x->duration : now_ms - x->start_time;
        printf("%-32s %-24s %-11s %llds\n", id, name, state, (long long)(up > 0 ? up / 1000 : 0));
    }
    cpt_source_destroy(src);
    return 0;
}

int cptop_list(const cptop_opts *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    if (o->flink)
        return list_flink(o);
    char dir[CPW_PATH_MAX], msg[600];
    cpt_where w = cptop_where(o);
    if (!cpt_where_dir(&w, dir, sizeof dir, msg, sizeof msg)) {
        cptop_complain(msg);
        return 1;
    }
    cpw_job_list l;
    cpw_disc_err e = cpw_discover(dir, &l, msg, sizeof msg);
    if (e == CPW_DISC_NOT_FOUND) {
        char d[CPW_PATH_MAX];
        cpw_sanitize(dir, d, sizeof d);
        printf("no jobs (%s does not exist yet)\n", d);
        return 0;
    }
    if (e) {
        cptop_complain(msg);
        return 1;
    }
    printf("%-18s %-20s %8s %-7s %s\n", "JOB", "NAME", "PID", "STATE", "EVENTS");
    for (int i = 0; i < l.n; i++) {
        const cpw_job_entry *j = &l.jobs[i];
        char id[CPW_MAX_JOB_ID], name[CPW_NAME_MAX], ev[CPW_URL_MAX];
        cpw_sanitize(j->job, id, sizeof id);
        cpw_sanitize(j->name, name, sizeof name);
        cpw_sanitize(j->events, ev, sizeof ev);
        printf("%-18s %-20s %8d %-7s %s\n", id, name, j->pid, j->alive ? "running" : "stale", ev);
    }
    cpw_job_list_free(&l);
    return 0;
}
