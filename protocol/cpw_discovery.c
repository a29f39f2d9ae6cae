/* cpw_discovery.c — see cpw_discovery.h. */
#include "cpw_discovery.h"
#include "cpw_jx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool cpw_runtime_dir(char *out, size_t size)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    int n;
    if (x && x[0] == '/')
        n = snprintf(out, size, "%s/cptop", x);
    else
        n = snprintf(out, size, "/tmp/cptop-%u", (unsigned)getuid());
    return n >= 0 && (size_t)n < size;
}

static bool read_entry(const char *path, cpw_job_entry *e)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0 || n == (ssize_t)sizeof buf)
        return false;
    json_error_t je;
    json_t *j = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return false;
    memset(e, 0, sizeof *e);
    int64_t pid = 0, started = 0;
    bool ok = json_is_object(j) &&
              !cpw_jx_str(j, "job", e->job, sizeof e->job, true, NULL) &&
              !cpw_jx_str(j, "name", e->name, sizeof e->name, false, NULL) &&
              !cpw_jx_int(j, "pid", 1, INT32_MAX, &pid, true, NULL) &&
              !cpw_jx_str(j, "events", e->events, sizeof e->events, true, NULL) &&
              !cpw_jx_str(j, "commands", e->commands, sizeof e->commands, true, NULL) &&
              !cpw_jx_str(j, "instance", e->instance, sizeof e->instance, false, NULL) &&
              !cpw_jx_str(j, "auth", e->auth, sizeof e->auth, false, NULL) &&
              !cpw_jx_str(j, "secret_file", e->secret_file, sizeof e->secret_file, false, NULL) &&
              !cpw_jx_str(j, "rest", e->rest, sizeof e->rest, false, NULL) &&
              !cpw_jx_int(j, "started_us", 0, INT64_MAX, &started, false, NULL);
    json_decref(j);
    if (!ok)
        return false;
    e->pid = (int)pid;
    e->started_us = started;
    /* EPERM: it exists but belongs to someone else */
    e->alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
    return true;
}

static int by_start_desc(const void *a, const void *b)
{
    const cpw_job_entry *x = a, *y = b;
    return (x->started_us < y->started_us) - (x->started_us > y->started_us);
}

int cpw_discover(const char *dir, cpw_job_entry *out, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (read_entry(path, &out[n]))
            n++;
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof *out, by_start_desc);
    return n;
}
