/* cpt_target.c — see cpt_target.h. */
#include "cpt_target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int say(char *msg, size_t size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t size, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return rc;
}

/* Appends one formatted line to msg (what does not fit is dropped). */
static void add_line(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_line(char *msg, size_t size, const char *fmt, ...)
{
    size_t n = strlen(msg);
    if (n + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, size - n, fmt, ap);
    va_end(ap);
}

bool cpt_where_dir(const cpt_where *w, char *dir, size_t size, char *msg, size_t msgsz)
{
    if (w->runtime_dir) {
        if ((size_t)snprintf(dir, size, "%s", w->runtime_dir) < size)
            return true;
        say(msg, msgsz, 0, "--runtime-dir is too long");
        return false;
    }
    if (cpw_runtime_dir(dir, size))
        return true;
    say(msg, msgsz, 0, "$XDG_RUNTIME_DIR is too long; use --runtime-dir");
    return false;
}

static void from_entry(cpt_target *t, const cpw_job_entry *j)
{
    memset(t, 0, sizeof *t);
    t->discovered = true;
    t->pid = j->pid;
    t->tcp = j->tcp;
    memcpy(t->job, j->job, sizeof t->job);
    memcpy(t->name, j->name, sizeof t->name);
    memcpy(t->instance, j->instance, sizeof t->instance);
    snprintf(t->events, sizeof t->events, "%s", j->events);
    snprintf(t->commands, sizeof t->commands, "%s", j->commands);
}

/* "  ID  NAME (pid N)" for each match, sanitised. */
static void list_jobs(const cpw_job_list *l, const int *idx, int n, char *msg, size_t size)
{
    for (int i = 0; i < n; i++) {
        const cpw_job_entry *j = &l->jobs[idx[i]];
        char id[CPW_MAX_JOB_ID], name[CPW_NAME_MAX];
        cpw_sanitize(j->job, id, sizeof id);
        cpw_sanitize(j->name, name, sizeof name);
        add_line(msg, size, "\n  %-24s %-20s pid %d", id, name, j->pid);
    }
}

static int resolve_connect(const cpt_where *w, cpt_target *t, char *msg, size_t msgsz)
{
    const char *colon = strrchr(w->connect, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (strncmp(w->connect, "tcp://", 6) || colon - w->connect <= 6 || !end || *end ||
        port <= 0 || port >= 65535 || strlen(w->connect) >= sizeof t->events - 8) {
        char c[120];
        cpw_sanitize(w->connect, c, sizeof c);
        return say(msg, msgsz, CPT_CHOOSE, "--connect '%s' must be tcp://HOST:PORT", c);
    }
    snprintf(t->events, sizeof t->events, "%s", w->connect);
    snprintf(t->commands, sizeof t->commands, "%.*s:%ld", (int)(colon - w->connect), w->connect,
             port + 1);
    snprintf(t->job, sizeof t->job, "%s", w->job ? w->job : "");
    t->tcp = true;
    return cpt_target_secret(w, t, msg, msgsz) ? CPT_NOT_FOUND : CPT_FOUND;
}

/* The directory's announcements; CPT_NOT_FOUND with msg when refused. */
static int read_dir(const cpt_where *w, char *dir, size_t dirsz, cpw_job_list *l, char *msg,
                    size_t msgsz)
{
    if (!cpt_where_dir(w, dir, dirsz, msg, msgsz))
        return CPT_NOT_FOUND;
    char err[600];
    cpw_disc_err e = cpw_discover(dir, l, err, sizeof err);
    if (e == CPW_DISC_NOT_FOUND)
        return say(msg, msgsz, CPT_NOT_FOUND, "no running job found (%s does not exist)", dir);
    if (e)
        return say(msg, msgsz, CPT_NOT_FOUND, "%s", err);
    return CPT_FOUND;
}

int cpt_target_resolve(const cpt_where *w, cpt_target *t, char *msg, size_t msgsz)
{
    memset(t, 0, sizeof *t);
    msg[0] = '\0';
    if (w->connect)
        return resolve_connect(w, t, msg, msgsz);
    char dir[CPW_PATH_MAX];
    cpw_job_list l;
    int rc = read_dir(w, dir, sizeof dir, &l, msg, msgsz);
    if (rc)
        return rc;
    int idx[16], n = 0;
    /* an id names one job; a name may name several */
    for (int i = 0; w->job && i < l.n && !n; i++)
        if (l.jobs[i].alive && !strcmp(l.jobs[i].job, w->job))
            idx[n++] = i;
    if (!n)
        n = cpw_job_match(&l, w->job, idx, 16);
    if (n == 0) {
        char which[CPW_NAME_MAX];
        cpw_sanitize(w->job ? w->job : "", which, sizeof which);
        rc = say(msg, msgsz, CPT_NOT_FOUND, w->job ? "no running job '%s' in %s (see cptop --list)"
                                                   : "no running job found in %s%s",
                 w->job ? which : dir, w->job ? dir : "");
    } else if (n > 1) {
        char which[CPW_NAME_MAX];
        cpw_sanitize(w->job ? w->job : "", which, sizeof which);
        if (w->job)
            say(msg, msgsz, 0, "%d running jobs are named '%s'; choose one with --job ID:", n,
                which);
        else
            say(msg, msgsz, 0, "%d jobs are running; choose one with --job ID:", n);
        list_jobs(&l, idx, n < 16 ? n : 16, msg, msgsz);
        rc = CPT_CHOOSE;
    } else {
        from_entry(t, &l.jobs[idx[0]]);
        rc = t->tcp && cpt_target_secret(w, t, msg, msgsz) ? CPT_NOT_FOUND : CPT_FOUND;
    }
    cpw_job_list_free(&l);
    return rc;
}

int cpt_target_candidates(const cpt_where *w, cpt_target *out, int max, char *dir,
                          size_t dirsz, char *msg, size_t msgsz)
{
    cpw_job_list l;
    msg[0] = '\0';
    if (read_dir(w, dir, dirsz, &l, msg, msgsz))
        return 0;
    int k = 0;
    for (int i = 0; i < l.n && k < max; i++) {
        const cpw_job_entry *j = &l.jobs[i];
        if (!j->alive || (w->job && strcmp(w->job, j->job) && strcmp(w->job, j->name)))
            continue;
        from_entry(&out[k], j);
        /* a job whose secret cannot be read is still watched (no token needed) */
        if (out[k].tcp)
            cpt_target_secret(w, &out[k], msg, msgsz);
        k++;
    }
    cpw_job_list_free(&l);
    if (!k && !msg[0]) {
        char which[CPW_NAME_MAX];
        cpw_sanitize(w->job ? w->job : "", which, sizeof which);
        say(msg, msgsz, 0, "no running job%s%s%s in %s yet; waiting for one", w->job ? " '" : "",
            which, w->job ? "'" : "", dir);
    }
    return k;
}

int cpt_target_secret(const cpt_where *w, cpt_target *t, char *msg, size_t msgsz)
{
    char path[CPW_PATH_MAX], dir[CPW_PATH_MAX];
    t->secret_len = 0;
    if (w->secret_file) {
        snprintf(path, sizeof path, "%s", w->secret_file);
    } else {
        if (!cpt_where_dir(w, dir, sizeof dir, msg, msgsz))
            return -1;
        if (snprintf(path, sizeof path, "%s/secret", dir) >= (int)sizeof path)
            return say(msg, msgsz, -1, "secret file path in %s is too long", dir);
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && !w->secret_file)
        return 0; /* no default secret: commands go unsigned, and the agent says so */
    if (fd < 0)
        return say(msg, msgsz, -1, "cannot read secret file %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = say(msg, msgsz, -1, "secret file %s is not a regular file: name the secret's "
                 "own file (mode 0600) with --secret-file", path);
    else if (st.st_uid != getuid() || (st.st_mode & 077))
        rc = say(msg, msgsz, -1, "secret file %s has mode %04o and owner uid %u: it must be "
                 "yours and private (chmod 600 %s)", path, (unsigned)(st.st_mode & 07777),
                 (unsigned)st.st_uid, path);
    ssize_t n = rc ? 0 : read(fd, t->secret, sizeof t->secret);
    close(fd);
    if (rc)
        return rc;
    while (n > 0 && (t->secret[n - 1] == '\n' || t->secret[n - 1] == '\r' || t->secret[n - 1] == ' '))
        n--;
    if (n < 16)
        return say(msg, msgsz, -1, "secret file %s holds %zd bytes; at least 16 are needed", path,
                   n < 0 ? (ssize_t)0 : n);
    t->secret_len = (size_t)n;
    return 0;
}
