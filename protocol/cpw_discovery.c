/* cpw_discovery.c — the runtime directory and its discovery files (see
 * cpw_discovery.h). */
#include "cpw_discovery.h"
#include "cpw_json.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A discovery file is small; anything this long is not one. */
#define FILE_MAX 4096
/* A temporary file older than this was abandoned by a writer that died. */
#define TEMP_ABANDONED_S 60

static const char *const disc_errs[CPW_DISC__COUNT] = {
    [CPW_DISC_OK] = "success",
    [CPW_DISC_NOT_FOUND] = "runtime directory does not exist",
    [CPW_DISC_INSECURE] = "runtime directory or file is not private to this user",
    [CPW_DISC_IO] = "file system error",
    [CPW_DISC_TOO_LONG] = "path too long",
    [CPW_DISC_IN_USE] = "job id announced by another running job",
    [CPW_DISC_BAD_FILE] = "not a discovery file",
    [CPW_DISC_NOMEM] = "out of memory",
};

const char *cpw_disc_strerror(cpw_disc_err e)
{
    return (unsigned)e < CPW_DISC__COUNT ? disc_errs[e] : "unknown error";
}

static cpw_disc_err say(char *err, size_t size, cpw_disc_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cpw_disc_err say(char *err, size_t size, cpw_disc_err code, const char *fmt, ...)
{
    if (err && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
    }
    return code;
}

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

/* ------------------------------------------------------------------ the directory */

cpw_disc_err cpw_secure_dir(const char *dir, bool create, char *err, size_t size)
{
    if (!dir || !dir[0] || strlen(dir) >= CPW_PATH_MAX - 80)
        return say(err, size, CPW_DISC_TOO_LONG, "runtime directory path is empty or too long");
    if (create) {
        if (mkdir(dir, 0700) == 0)
            chmod(dir, 0700); /* whatever the umask took away from us */
        else if (errno != EEXIST)
            return say(err, size, CPW_DISC_IO, "cannot create runtime directory %s: %s", dir,
                       strerror(errno));
    }
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT)
            return say(err, size, CPW_DISC_NOT_FOUND,
                       "runtime directory %s does not exist (no job has run there)", dir);
        return say(err, size, CPW_DISC_IO, "cannot stat runtime directory %s: %s", dir,
                   strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        return say(err, size, CPW_DISC_INSECURE,
                   "runtime directory %s is a symbolic link, which anyone who made it can "
                   "point elsewhere: remove it (rm %s) and let the agent create a private "
                   "directory, or use another runtime directory", dir, dir);
    if (!S_ISDIR(st.st_mode))
        return say(err, size, CPW_DISC_INSECURE,
                   "runtime directory %s is not a directory: remove it, or use another "
                   "runtime directory", dir);
    if (st.st_uid != getuid())
        return say(err, size, CPW_DISC_INSECURE,
                   "runtime directory %s belongs to uid %u, not to you (uid %u): whoever made "
                   "it could plant or read job announcements; have it removed (as its owner "
                   "or root), or use another runtime directory", dir, (unsigned)st.st_uid,
                   (unsigned)getuid());
    if (st.st_mode & 077)
        return say(err, size, CPW_DISC_INSECURE,
                   "runtime directory %s has mode %04o, open to other users who could plant "
                   "or remove job announcements: make it private with chmod 700 %s", dir,
                   (unsigned)(st.st_mode & 07777), dir);
    return CPW_DISC_OK;
}

/* ------------------------------------------------------------------ the file format */

void cpw_discovery_encode(cpw_buf *b, const cpw_job_entry *e)
{
    cpj_lit(b, "{\"v\":1,\"job\":");
    cpj_str(b, e->job);
    cpj_kv_str(b, "name", e->name);
    cpj_kv_i64(b, "pid", e->pid);
    cpj_kv_str(b, "events", e->events);
    cpj_kv_str(b, "commands", e->commands);
    cpj_kv_str(b, "instance", e->instance);
    cpj_kv_str(b, "auth", e->tcp ? "hmac-sha256" : "none");
    if (e->rest[0])
        cpj_kv_str(b, "rest", e->rest);
    cpj_kv_i64(b, "started_us", e->started_us);
    cpj_lit(b, "}\n");
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CPW_MAX_JOB_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return strcmp(s, ".") && strcmp(s, "..");
}

static bool hex_ok(const char *s)
{
    size_t n = strlen(s);
    if (n != 0 && n != CPW_INSTANCE_HEX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A string member into out (size bytes with the NUL); absent is "" unless required. */
static bool get_str(json_t *o, const char *key, char *out, size_t size, bool required)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v)
        return !required;
    if (!json_is_string(v) || json_string_length(v) >= size)
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out,
                    bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return !required;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return false;
    *out = json_integer_value(v);
    return true;
}

static bool url_ok(const char *u)
{
    return (!strncmp(u, "ipc://", 6) && u[6] == '/') || (!strncmp(u, "tcp://", 6) && u[6]);
}

cpw_disc_err cpw_discovery_parse(const char *buf, size_t len, cpw_job_entry *e, char *err,
                                 size_t size)
{
    memset(e, 0, sizeof *e);
    if (len >= FILE_MAX)
        return say(err, size, CPW_DISC_BAD_FILE, "longer than %d bytes", FILE_MAX - 1);
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return say(err, size, CPW_DISC_BAD_FILE, "not JSON (line %d: %.60s)", je.line, je.text);
    const char *bad = NULL;
    int64_t v = 0, pid = 0, started = 0;
    char auth[16];
    if (!json_is_object(j))
        bad = "not a JSON object";
    else if (!get_int(j, "v", 1, 1, &v, true))
        bad = "\"v\" is not 1";
    else if (!get_str(j, "job", e->job, sizeof e->job, true) || !id_ok(e->job))
        bad = "\"job\" is not 1..63 characters of [A-Za-z0-9._-]";
    else if (!get_str(j, "name", e->name, sizeof e->name, false))
        bad = "\"name\" is not a string of at most 63 bytes";
    else if (!get_int(j, "pid", 1, INT32_MAX, &pid, true))
        bad = "\"pid\" is not a process id";
    else if (!get_str(j, "events", e->events, sizeof e->events, true) || !url_ok(e->events))
        bad = "\"events\" is not an ipc:// or tcp:// URL";
    else if (!get_str(j, "commands", e->commands, sizeof e->commands, true) ||
             !url_ok(e->commands))
        bad = "\"commands\" is not an ipc:// or tcp:// URL";
    else if (!get_str(j, "instance", e->instance, sizeof e->instance, false) ||
             !hex_ok(e->instance))
        bad = "\"instance\" is not 32 lowercase hex characters";
    else if (!get_str(j, "auth", auth, sizeof auth, false) ||
             (auth[0] && strcmp(auth, "none") && strcmp(auth, "hmac-sha256")))
        bad = "\"auth\" is not \"none\" or \"hmac-sha256\"";
    else if (!get_str(j, "rest", e->rest, sizeof e->rest, false) ||
             (e->rest[0] && strncmp(e->rest, "http://", 7)))
        bad = "\"rest\" is not an http:// URL";
    else if (!get_int(j, "started_us", 0, INT64_MAX, &started, false))
        bad = "\"started_us\" is not a time";
    json_decref(j);
    if (bad) {
        memset(e, 0, sizeof *e);
        return say(err, size, CPW_DISC_BAD_FILE, "%s", bad);
    }
    e->pid = (int)pid;
    e->started_us = started;
    e->tcp = !strcmp(auth, "hmac-sha256") || !strncmp(e->commands, "tcp://", 6);
    return CPW_DISC_OK;
}

/* ------------------------------------------------------------------ liveness */

/* How long a probe waits for a peer to answer; one that has not by then
 * counts as alive (a loaded machine is no reason to call a job dead). */
#define PROBE_WAIT_MS 1000

/* Waits until fd polls for events, up to ms: 1 ready, 0 not in time. */
static int wait_fd(int fd, short events, int ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    return r > 0;
}

/*
 * Asks whether an SP peer listens at sa: connects without blocking and
 * opens as a REQ socket would (the 8-byte SP header), reading the peer's.
 * Returns 0 when refused, gone, or closed without answering; 1 when a peer
 * answered, and also when it could not tell in time (busy, a full backlog).
 * The whole handshake is done, never a bare connect-and-close: nng 1.5's
 * ipc listener stops accepting after a connection that closes before its
 * handshake, and a probe must never be what silences a job.
 */
static int sp_answers(int fd, const struct sockaddr *sa, socklen_t len)
{
    static const unsigned char req_header[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
    if (connect(fd, sa, len) != 0) {
        if (errno == ECONNREFUSED || errno == ENOENT || errno == ENOTDIR)
            return 0;
        if (errno != EINPROGRESS)
            return 1; /* EAGAIN: a full backlog, someone is there; anything else: unknown */
        if (!wait_fd(fd, POLLOUT, PROBE_WAIT_MS))
            return 1;
        int so = 0;
        socklen_t sl = sizeof so;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
        if (so)
            return so != ECONNREFUSED;
    }
    if (send(fd, req_header, sizeof req_header, MSG_NOSIGNAL) != (ssize_t)sizeof req_header)
        return errno != EPIPE && errno != ECONNRESET;
    unsigned char got[8];
    size_t n = 0;
    while (n < sizeof got) {
        if (!wait_fd(fd, POLLIN, PROBE_WAIT_MS))
            return 1;
        ssize_t r = recv(fd, got + n, sizeof got - n, 0);
        if (r == 0)
            return 0; /* closed without answering */
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return errno != ECONNRESET;
        }
        n += (size_t)r;
    }
    return got[0] == 0 && got[1] == 'S' && got[2] == 'P' && got[3] == 0;
}

static bool socket_answers(const char *url)
{
    if (!strncmp(url, "ipc://", 6)) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(url + 6) >= sizeof sa.sun_path)
            return false; /* no agent can have bound it */
        memcpy(sa.sun_path, url + 6, strlen(url + 6) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return true;
        int r = sp_answers(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        return r;
    }
    /* tcp://A.B.C.D:PORT; a host name is not looked up (that could block) */
    const char *hp = url + 6, *colon = strrchr(hp, ':');
    char host[64];
    if (!colon || (size_t)(colon - hp) >= sizeof host)
        return true;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    int port = atoi(colon + 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return true;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true;
    int r = sp_answers(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    return r;
}

bool cpw_job_alive(const cpw_job_entry *e)
{
    if (e->pid <= 0 || (kill((pid_t)e->pid, 0) != 0 && errno != EPERM))
        return false;
    return socket_answers(e->commands);
}

/* ------------------------------------------------------------------ reading */

/* Reads a file of dir (by name, no symlink followed) that is the user's
 * regular file: its bytes into buf (FILE_MAX), the length into *len. */
static bool read_own(int dfd, const char *name, char *buf, size_t *len)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() &&
              st.st_size < FILE_MAX;
    ssize_t n = ok ? read(fd, buf, FILE_MAX) : -1;
    close(fd);
    if (n < 0 || n >= FILE_MAX)
        return false;
    *len = (size_t)n;
    return true;
}

static bool is_announcement(const char *name)
{
    size_t l = strlen(name);
    return name[0] != '.' && l > 5 && !strcmp(name + l - 5, ".json");
}

static int by_start_desc(const void *a, const void *b)
{
    const cpw_job_entry *x = a, *y = b;
    if (x->started_us != y->started_us)
        return (x->started_us < y->started_us) - (x->started_us > y->started_us);
    return strcmp(x->job, y->job);
}

void cpw_job_list_free(cpw_job_list *l)
{
    if (!l)
        return;
    free(l->jobs);
    memset(l, 0, sizeof *l);
}

cpw_disc_err cpw_discover(const char *dir, cpw_job_list *out, char *err, size_t size)
{
    memset(out, 0, sizeof *out);
    cpw_disc_err e = cpw_secure_dir(dir, false, err, size);
    if (e)
        return e;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return say(err, size, CPW_DISC_IO, "cannot read runtime directory %s: %s", dir,
                   strerror(errno));
    }
    int cap = 0;
    struct dirent *de;
    char *buf = malloc(FILE_MAX);
    e = buf ? CPW_DISC_OK : CPW_DISC_NOMEM;
    while (!e && (de = readdir(d))) {
        if (!is_announcement(de->d_name))
            continue;
        if (out->n == cap) {
            int nc = cap ? cap * 2 : 16;
            cpw_job_entry *j = realloc(out->jobs, (size_t)nc * sizeof *j);
            if (!j) {
                e = CPW_DISC_NOMEM;
                break;
            }
            out->jobs = j;
            cap = nc;
        }
        size_t len;
        cpw_job_entry *j = &out->jobs[out->n];
        if (!read_own(dfd, de->d_name, buf, &len) || cpw_discovery_parse(buf, len, j, NULL, 0)) {
            out->skipped++;
            continue;
        }
        j->alive = cpw_job_alive(j);
        out->alive += j->alive;
        out->n++;
    }
    free(buf);
    closedir(d);
    if (e) {
        cpw_job_list_free(out);
        return say(err, size, e, "reading %s: %s", dir, cpw_disc_strerror(e));
    }
    qsort(out->jobs, (size_t)out->n, sizeof *out->jobs, by_start_desc);
    return CPW_DISC_OK;
}

int cpw_job_match(const cpw_job_list *l, const char *which, int *idx, int max)
{
    int n = 0;
    for (int i = 0; i < l->n; i++) {
        const cpw_job_entry *j = &l->jobs[i];
        if (!j->alive || (which && strcmp(which, j->job) && strcmp(which, j->name)))
            continue;
        if (n < max)
            idx[n] = i;
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------ writing and removing */

/* Reads path whole (the user's regular file, no symlink): false when absent
 * or not readable as such. */
static bool read_path(const char *path, char *buf, size_t *len)
{
    return read_own(AT_FDCWD, path, buf, len);
}

/*
 * Moves the file at path aside (to aside, a name only this instance uses)
 * and removes it if it still has exactly the bytes `want` (want_len); any
 * other file is put back with link(), which never replaces a file written
 * there in between. true when the file with those bytes is gone.
 */
static bool take_if_same(const char *path, const char *aside, const char *want, size_t want_len)
{
    if (rename(path, aside) != 0)
        return errno == ENOENT; /* already gone */
    char buf[FILE_MAX];
    size_t len = 0;
    bool same = read_path(aside, buf, &len) && len == want_len && !memcmp(buf, want, len);
    if (!same && link(aside, path) != 0) {
        /* a third announcement took the place meanwhile; ours to keep it
         * from being lost is this file, which the next sweep clears */
        return false;
    }
    unlink(aside);
    return same;
}

static bool path_of(char *out, const char *dir, const char *prefix, const char *job,
                    const char *suffix)
{
    int n = snprintf(out, CPW_PATH_MAX, "%s/%s%s%s", dir, prefix, job, suffix);
    return n > 0 && n < CPW_PATH_MAX;
}

/* Makes way at path for a new announcement of e: nothing there, or a stale
 * or unreadable file (removed). CPW_DISC_IN_USE for a live other instance. */
static cpw_disc_err make_way(const char *path, const char *aside, const cpw_job_entry *e,
                             char *err, size_t size)
{
    char buf[FILE_MAX];
    size_t len = 0;
    if (!read_path(path, buf, &len)) {
        struct stat st;
        if (lstat(path, &st) != 0)
            return CPW_DISC_OK; /* gone meanwhile */
        if (unlink(path) != 0) /* a link, a directory, someone else's: not an announcement */
            return say(err, size, CPW_DISC_IO, "cannot replace %s: %s", path, strerror(errno));
        return CPW_DISC_OK;
    }
    cpw_job_entry old;
    if (!cpw_discovery_parse(buf, len, &old, NULL, 0) && strcmp(old.instance, e->instance) &&
        cpw_job_alive(&old))
        return say(err, size, CPW_DISC_IN_USE,
                   "job id %s is already announced in %s by a running job (pid %d): give this "
                   "job another job.id", e->job, path, old.pid);
    take_if_same(path, aside, buf, len);
    return CPW_DISC_OK;
}

cpw_disc_err cpw_discovery_write(const char *dir, const cpw_job_entry *e, char *path,
                                 char *err, size_t size)
{
    char tmp[CPW_PATH_MAX], aside[CPW_PATH_MAX], tag[CPW_INSTANCE_HEX + 16];
    path[0] = '\0';
    if (!id_ok(e->job) || strlen(e->instance) != CPW_INSTANCE_HEX || !hex_ok(e->instance))
        return say(err, size, CPW_DISC_BAD_FILE, "an announcement needs a job id and an instance");
    snprintf(tag, sizeof tag, ".%s", e->instance);
    char file[CPW_PATH_MAX];
    if (!path_of(file, dir, "", e->job, ".json") ||
        !path_of(tmp, dir, ".", e->job, ".json") || strlen(tmp) + strlen(tag) + 5 >= CPW_PATH_MAX)
        return say(err, size, CPW_DISC_TOO_LONG, "discovery file path in %s is too long", dir);
    snprintf(aside, sizeof aside, "%s%s.old", tmp, tag);
    strcat(tmp, tag);
    strcat(tmp, ".tmp");
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_discovery_encode(&b, e);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && !b.failed && write(fd, b.data, b.len) == (ssize_t)b.len;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    cpw_buf_free(&b);
    if (!ok) {
        if (fd >= 0)
            unlink(tmp);
        return say(err, size, CPW_DISC_IO, "cannot write discovery file %s: %s", tmp,
                   strerror(saved));
    }
    /* link() never replaces: a file that appears between make_way() and the
     * link is looked at again */
    cpw_disc_err rc = CPW_DISC_IO;
    for (int attempt = 0; attempt < 4; attempt++) {
        if (link(tmp, file) == 0) {
            rc = CPW_DISC_OK;
            break;
        }
        if (errno != EEXIST) {
            say(err, size, CPW_DISC_IO, "cannot install discovery file %s: %s", file,
                strerror(errno));
            break;
        }
        rc = make_way(file, aside, e, err, size);
        if (rc)
            break;
        rc = CPW_DISC_IO;
        say(err, size, CPW_DISC_IO, "discovery file %s keeps being replaced", file);
    }
    unlink(tmp);
    if (rc == CPW_DISC_OK)
        snprintf(path, CPW_PATH_MAX, "%s", file);
    return rc;
}

cpw_disc_err cpw_discovery_remove(const char *path, const char *instance)
{
    char aside[CPW_PATH_MAX + 48];
    if (!path || !path[0] || !instance || !instance[0])
        return CPW_DISC_OK;
    snprintf(aside, sizeof aside, "%s.%s.gone", path, instance);
    /* the name must not end in .json, or a reader would take it for a job */
    char buf[FILE_MAX];
    size_t len = 0;
    if (!read_path(path, buf, &len))
        return CPW_DISC_OK;
    cpw_job_entry e;
    if (cpw_discovery_parse(buf, len, &e, NULL, 0) || strcmp(e.instance, instance))
        return CPW_DISC_OK; /* another instance's */
    if (rename(path, aside) != 0)
        return errno == ENOENT ? CPW_DISC_OK : CPW_DISC_IO;
    if (read_path(aside, buf, &len) && !cpw_discovery_parse(buf, len, &e, NULL, 0) &&
        !strcmp(e.instance, instance)) {
        unlink(aside);
        return CPW_DISC_OK;
    }
    /* replaced between the look and the move: put the other one back */
    if (link(aside, path) == 0)
        unlink(aside);
    return CPW_DISC_OK;
}

/* A writer's temporary or set-aside file: ".<job>.json.<instance>.{tmp,old}"
 * or "<job>.json.<instance>.gone". */
static bool is_leftover(const char *name)
{
    size_t l = strlen(name);
    return l > 5 && (!strcmp(name + l - 4, ".tmp") || !strcmp(name + l - 4, ".old") ||
                     !strcmp(name + l - 5, ".gone")) && strstr(name, ".json.");
}

int cpw_discovery_sweep(const char *dir, const char *keep_instance)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *buf = malloc(FILE_MAX);
    char path[CPW_PATH_MAX], aside[CPW_PATH_MAX + 48];
    int removed = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while (buf && (de = readdir(d))) {
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        if (is_leftover(de->d_name)) {
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                now - st.st_mtime > TEMP_ABANDONED_S && unlink(path) == 0)
                removed++;
            continue;
        }
        size_t len;
        cpw_job_entry e;
        if (!is_announcement(de->d_name) || !read_own(dirfd(d), de->d_name, buf, &len) ||
            cpw_discovery_parse(buf, len, &e, NULL, 0))
            continue; /* what it cannot read it leaves alone */
        if ((keep_instance && !strcmp(e.instance, keep_instance)) || cpw_job_alive(&e))
            continue;
        snprintf(aside, sizeof aside, "%s/.%s.sweep%s%s.old", dir, de->d_name,
                 keep_instance ? "." : "", keep_instance ? keep_instance : "");
        removed += take_if_same(path, aside, buf, len);
    }
    free(buf);
    closedir(d);
    return removed;
}
