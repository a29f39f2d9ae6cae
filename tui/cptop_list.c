/* cptop_list.c — `cptop --list`: every announcement of the runtime
 * directory, live or stale; with --flink, the cluster's jobs. Every field
 * sanitised. */
#include "cptop.h"

#include <stdio.h>

/* A row's checkpoint cells: the last one's age and duration, failed, in
 * flight; or why there are none. */
static void cp_cells(const cpt_job_cp *cp, int64_t now_us, char *out, size_t size)
{
    char note[32];
    if (!cp->known || cp->note[0]) {
        cpw_sanitize(cp->known ? cp->note : "no answer in time", note, sizeof note);
        snprintf(out, size, "%s", note);
        return;
    }
    char age[24] = "-", took[24] = "-";
    if (cp->last_id > 0) {
        snprintf(age, sizeof age, "%llds",
                 (long long)(now_us > cp->last_end_us ? (now_us - cp->last_end_us) / 1000000 : 0));
        snprintf(took, sizeof took, "%lldms", (long long)(cp->last_dur_us / 1000));
    }
    snprintf(out, size, "%-8s %-9s %6lld %9d", age, took, (long long)cp->failed, cp->inflight);
}

static int list_flink(const cptop_opts *o)
{
    cpt_source *src;
    int rc = cptop_open_source(o, &src);
    if (rc)
        return rc;
    char err[600];
    static cpt_job_row rows[CPT_JOBS_MAX];
    int n = cpt_src_flink_job_rows(src, o->timeout_ms, rows, CPT_JOBS_MAX, err, sizeof err);
    if (n < 0) {
        cptop_complain(err);
        cpt_source_destroy(src);
        return 1;
    }
    printf("%-32s %-24s %-11s %-8s %-8s %-9s %6s %9s\n", "JOB", "NAME", "STATE", "UPTIME",
           "LAST_CP", "TOOK", "FAILED", "IN_FLIGHT");
    int64_t now = cpw_now_us();
    for (int i = 0; i < n && i < CPT_JOBS_MAX; i++) {
        const cpt_job_row *x = &rows[i];
        char id[CPW_MAX_JOB_ID], name[128], state[16], up[24], cells[96];
        cpw_sanitize(x->id, id, sizeof id);
        cpw_sanitize(x->name, name, sizeof name);
        cpw_sanitize(x->state, state, sizeof state);
        int64_t end = x->end_us > 0 ? x->end_us : now;
        snprintf(up, sizeof up, "%llds",
                 (long long)(x->start_us > 0 && end > x->start_us ? (end - x->start_us) / 1000000
                                                                   : 0));
        cp_cells(&x->cp, now, cells, sizeof cells);
        printf("%-32s %-24s %-11s %-8s %s\n", id, name, state, up, cells);
    }
    if (n > CPT_JOBS_MAX)
        printf("... and %d more\n", n - CPT_JOBS_MAX);
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
