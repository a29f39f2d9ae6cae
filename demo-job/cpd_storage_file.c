/* cpd_storage_file.c — the checkpoint storage's file backend: file:///abs/path
 * or a plain path; every write a temporary file, fsync, rename, fsync of the
 * directory (see cpd_storage.h, cpd_storage_backend.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpd_storage_backend.h"

#define CPD_ST_ERRLOCAL 512

typedef struct cpd_st_file {
    char *dir;                          /* the job directory */
    atomic_uint seq;                    /* temporary names */
} cpd_st_file;

static char *cpd_st_path(const cpd_st_file *f, const char *key)
{
    char *p = NULL;
    if (asprintf(&p, "%s%s%s", f->dir, key[0] ? "/" : "", key) < 0)
        return NULL;
    return p;
}

static cpd_st_rc cpd_st_errno(char *err, size_t errsz, int e, const char *what,
                              const char *path)
{
    char buf[128];
    return cpd_st_fail(err, errsz, e == ENOMEM ? CPD_ST_NOMEM : CPD_ST_IO, "%s %s: %s", what,
                       path, strerror_r(e, buf, sizeof buf));
}

static cpd_st_rc cpd_st_fsync_dir(const char *path, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cpd_st_errno(err, errsz, errno, "cannot open directory", path);
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r != 0 && e != EINVAL && e != EROFS)    /* some file systems cannot sync dirs */
        return cpd_st_errno(err, errsz, e, "cannot fsync directory", path);
    return CPD_ST_OK;
}

static cpd_st_rc cpd_st_write_all(int fd, const void *data, size_t len, const char *path,
                                  char *err, size_t errsz)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return cpd_st_errno(err, errsz, w < 0 ? errno : EIO, "cannot write", path);
        p += w;
        len -= (size_t)w;
    }
    return CPD_ST_OK;
}

static cpd_st_rc cpd_st_file_put(void *be, const char *key, const void *data, size_t len,
                                 bool inject_failure, char *err, size_t errsz)
{
    cpd_st_file *f = be;
    char *path = cpd_st_path(f, key), *parent = path ? strdup(path) : NULL, *tmp = NULL;
    cpd_st_rc rc = CPD_ST_OK;
    int fd = -1;
    if (!path || !parent) {
        rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory writing %s", key);
        goto out;
    }
    char *slash = strrchr(parent, '/');
    *slash = '\0';
    const char *base = slash + 1;
    if (strcmp(parent, f->dir) != 0) {
        /* chk-<N>/ of the key: create it; its creator makes the entry durable
         * (others seeing EEXIST finish before the commit, which follows) */
        if (mkdir(parent, 0755) == 0)
            rc = cpd_st_fsync_dir(f->dir, err, errsz);
        else if (errno != EEXIST)
            rc = cpd_st_errno(err, errsz, errno, "cannot create directory", parent);
        if (rc != CPD_ST_OK)
            goto out;
    }
    unsigned seq = atomic_fetch_add(&f->seq, 1);
    if (asprintf(&tmp, "%s/.%s.tmp-%ld-%u", parent, base, (long)getpid(), seq) < 0) {
        tmp = NULL;
        rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory writing %s", path);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = cpd_st_errno(err, errsz, errno, "cannot create", tmp);
        free(tmp);
        tmp = NULL;                     /* nothing to clean up */
        goto out;
    }
    rc = cpd_st_write_all(fd, data, len, tmp, err, errsz);
    if (rc == CPD_ST_OK && fsync(fd) != 0)
        rc = cpd_st_errno(err, errsz, errno, "cannot fsync", tmp);
    int cr = close(fd);
    fd = -1;
    if (rc == CPD_ST_OK && cr != 0)
        rc = cpd_st_errno(err, errsz, errno, "cannot close", tmp);
    if (rc == CPD_ST_OK && inject_failure)
        rc = cpd_st_fail(err, errsz, CPD_ST_INJECTED,
                         "injected failure: write of %s failed (fail-next-writes)", path);
    if (rc == CPD_ST_OK && rename(tmp, path) != 0)
        rc = cpd_st_errno(err, errsz, errno, "cannot rename into place", path);
    if (rc != CPD_ST_OK)
        goto out;
    free(tmp);
    tmp = NULL;
    rc = cpd_st_fsync_dir(parent, err, errsz);
out:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(parent);
    free(path);
    return rc;
}

static cpd_st_rc cpd_st_file_get(void *be, const char *key, void **data, size_t *len,
                                 char *err, size_t errsz)
{
    cpd_st_file *f = be;
    *data = NULL;
    *len = 0;
    char *path = cpd_st_path(f, key);
    if (!path)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory reading %s", key);
    cpd_st_rc rc = CPD_ST_OK;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        int e = errno;
        rc = e == ENOENT || e == ENOTDIR
                 ? cpd_st_fail(err, errsz, CPD_ST_NOT_FOUND, "%s does not exist", path)
                 : cpd_st_errno(err, errsz, e, "cannot open", path);
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        rc = cpd_st_errno(err, errsz, errno, "cannot stat", path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT, "%s is not a regular file", path);
        goto out;
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    buf = malloc(cap);
    for (;;) {
        if (!buf) {
            rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory reading %s", path);
            goto out;
        }
        if (n == cap) {                 /* grew while we read */
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cpd_st_errno(err, errsz, errno, "cannot read", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *data = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static cpd_st_rc cpd_st_file_list(void *be, const char *dir, cpd_st_entry **entries,
                                  size_t *n, char *err, size_t errsz)
{
    cpd_st_file *f = be;
    *entries = NULL;
    *n = 0;
    char *path = cpd_st_path(f, dir);
    if (!path)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory listing %s", dir);
    cpd_st_rc rc = CPD_ST_OK;
    cpd_st_entry *v = NULL;
    size_t k = 0, cap = 0;
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        rc = e == ENOENT || e == ENOTDIR
                 ? cpd_st_fail(err, errsz, CPD_ST_NOT_FOUND, "%s does not exist", path)
                 : cpd_st_errno(err, errsz, e, "cannot list", path);
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = cpd_st_errno(err, errsz, errno, "cannot list", path);
            break;
        }
        if (de->d_name[0] == '.' || strlen(de->d_name) >= CPD_ST_NAME_MAX)
            continue;                   /* hidden, temporary, or not ours */
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;                   /* vanished meanwhile */
        if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
            continue;
        if (k == cap) {
            cap = cap ? 2 * cap : 16;
            cpd_st_entry *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory listing %s", path);
                break;
            }
            v = nv;
        }
        cpd_st_entry *e = &v[k++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", de->d_name);
        e->is_dir = S_ISDIR(sb.st_mode);
        e->size = e->is_dir ? 0 : (uint64_t)sb.st_size;
    }
    closedir(d);
out:
    if (rc == CPD_ST_OK) {
        *entries = v;
        *n = k;
    } else {
        free(v);
    }
    free(path);
    return rc;
}

/* rm -r path (no symlinks followed); absent is fine. */
static cpd_st_rc cpd_st_rm_tree(const char *path, char *err, size_t errsz)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? CPD_ST_OK : cpd_st_errno(err, errsz, errno, "cannot stat", path);
    if (!S_ISDIR(sb.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return cpd_st_errno(err, errsz, errno, "cannot remove", path);
        return CPD_ST_OK;
    }
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? CPD_ST_OK : cpd_st_errno(err, errsz, errno, "cannot open", path);
    cpd_st_rc rc = CPD_ST_OK;
    struct dirent *de;
    while (rc == CPD_ST_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
            return closedir(d),
                   cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory removing %s", path);
        rc = cpd_st_rm_tree(sub, err, errsz);
        free(sub);
    }
    closedir(d);
    if (rc == CPD_ST_OK && rmdir(path) != 0 && errno != ENOENT)
        rc = cpd_st_errno(err, errsz, errno, "cannot remove", path);
    return rc;
}

static cpd_st_rc cpd_st_file_remove(void *be, const char *key, char *err, size_t errsz)
{
    char *path = cpd_st_path(be, key);
    if (!path)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory removing %s", key);
    cpd_st_rc rc = cpd_st_rm_tree(path, err, errsz);
    free(path);
    return rc;
}

static void cpd_st_file_close(void *be)
{
    cpd_st_file *f = be;
    if (f)
        free(f->dir);
    free(f);
}

static const cpd_storage_ops cpd_st_file_ops = {
    "file", cpd_st_file_put, cpd_st_file_get, cpd_st_file_list, cpd_st_file_remove,
    cpd_st_file_close,
};

/* ------------------------------------------------------------------------ */
/* opening                                                                  */

/* mkdir -p path, naming the component in the way when it fails. */
static cpd_st_rc cpd_st_mkdir_p(const char *path, char *err, size_t errsz)
{
    char *p = strdup(path);
    if (!p)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory");
    cpd_st_rc rc = CPD_ST_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (s[-1] != '/' && mkdir(p, 0755) != 0) {
            int e = errno;
            struct stat sb;
            if (stat(p, &sb) != 0)
                rc = cpd_st_errno(err, errsz, e, "cannot create", p);
            else if (!S_ISDIR(sb.st_mode))
                rc = cpd_st_fail(err, errsz, CPD_ST_IO, "%s is in the way: not a directory", p);
        }
        *s = c;
        if (c == '\0' || rc != CPD_ST_OK)
            break;
    }
    free(p);
    return rc;
}

static int cpd_st_hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The directory a URI names: "file:///abs/path" (percent-decoded,
 * "file://localhost/..." and "file:/abs" too), or a plain path as it is.
 * *out malloc'd. */
static cpd_st_rc cpd_st_uri_path(const char *uri, char **out, char *err, size_t errsz)
{
    *out = NULL;
    const char *p = uri;
    bool encoded = false;
    if (strncasecmp(uri, "file:", 5) == 0) {
        p = uri + 5;
        if (strncmp(p, "//", 2) == 0) {
            p += 2;
            if (strncasecmp(p, "localhost/", 10) == 0)
                p += 9;
        }
        char shown[256];
        if (p[0] != '/')
            return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                               "storage URI '%s' must be file:///absolute/path",
                               cpd_st_show(uri, strlen(uri), shown, sizeof shown));
        encoded = true;
    }
    char *path = malloc(strlen(p) + 1);
    if (!path)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; p[i]; i++) {
        int hi, lo;
        if (encoded && p[i] == '%' && (hi = cpd_st_hexval(p[i + 1])) >= 0 &&
            (lo = cpd_st_hexval(p[i + 2])) >= 0 && (hi || lo)) {
            path[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            path[k++] = p[i];
        }
    }
    while (k > 1 && path[k - 1] == '/')
        k--;
    path[k] = '\0';
    *out = path;
    return CPD_ST_OK;
}

static cpd_st_rc cpd_st_file_check(const char *uri, const cpd_storage_s3_opts *s3, char *err,
                                   size_t errsz)
{
    (void)s3;
    char *root;
    cpd_st_rc rc = cpd_st_uri_path(uri, &root, err, errsz);
    free(root);
    return rc;
}

/* "<path>/<job_id>/" made (like mkdir -p), then a probe file written and
 * removed in it: a directory that cannot be written fails now, not at the
 * first checkpoint. */
static void *cpd_st_file_open(const char *uri, const char *job_id, const cpd_storage_s3_opts *s3,
                              char *location, size_t locsz, char *err, size_t errsz)
{
    (void)s3;
    char *root;
    if (cpd_st_uri_path(uri, &root, err, errsz) != CPD_ST_OK)
        return NULL;
    cpd_st_file *f = calloc(1, sizeof *f);
    if (!f || asprintf(&f->dir, "%s%s%s", root, strcmp(root, "/") ? "/" : "", job_id) < 0) {
        if (f)
            f->dir = NULL;
        cpd_st_file_close(f);
        free(root);
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
        return NULL;
    }
    free(root);
    atomic_init(&f->seq, 0);
    char why[CPD_ST_ERRLOCAL];
    if (cpd_st_mkdir_p(f->dir, why, sizeof why) != CPD_ST_OK) {
        cpd_st_fail(err, errsz, CPD_ST_IO, "storage directory %s cannot be created: %s",
                    f->dir, why);
        cpd_st_file_close(f);
        return NULL;
    }
    /* a probe: create, write, remove */
    char *probe = NULL;
    if (asprintf(&probe, "%s/.probe-%ld", f->dir, (long)getpid()) < 0) {
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
        cpd_st_file_close(f);
        return NULL;
    }
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1)
            e = errno ? errno : EIO;
        if (close(fd) != 0 && !e)
            e = errno;
        unlink(probe);
    }
    free(probe);
    if (e) {
        char buf[128];
        cpd_st_fail(err, errsz, CPD_ST_IO, "storage directory %s is not writable: %s", f->dir,
                    strerror_r(e, buf, sizeof buf));
        cpd_st_file_close(f);
        return NULL;
    }
    snprintf(location, locsz, "%s", f->dir);
    return f;
}

const cpd_storage_backend cpd_storage_file_backend = {
    .prefix = "file:",
    .plain_paths = true,
    .check = cpd_st_file_check,
    .open = cpd_st_file_open,
    .ops = &cpd_st_file_ops,
};
