/* cptop_list.c — `cptop --list`: every announcement of the runtime
 * directory, live or stale, every field sanitised. */
#include "cptop.h"

#include <stdio.h>

int cptop_list(const cptop_opts *o, int argc, char **argv)
{
    (void)argc, (void)argv;
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
