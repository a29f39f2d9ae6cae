/* cpa_security.c — shared secret and replay protection (the runtime directory
 * is checked by cpw_secure_dir(), shared with dashboards). */
#include "cpa_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a file that is not a regular file is, for a message. */
static const char *file_kind(mode_t m)
{
    static const struct {
        mode_t type;
        const char *name;
    } kinds[] = {
        {S_IFIFO, "a FIFO"},
        {S_IFDIR, "a directory"},
        {S_IFCHR, "a character device"},
        {S_IFBLK, "a block device"},
        {S_IFSOCK, "a socket"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if ((m & S_IFMT) == kinds[i].type)
            return kinds[i].name;
    return "something else";
}

cpa_err cpa_load_secret(const char *path, unsigned char *out, size_t *out_len, size_t max,
                        char *errbuf, size_t errbuf_size)
{
    /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer;
     * whatever it is, it is refused below before anything is read */
    const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    int fd = open(path, flags);
    if (fd < 0 && errno == ENOENT) {
        /* Written whole to a private temporary file, then linked into place:
         * a second agent starting at the same moment either wins the link
         * or reads the complete file of the one that did. */
        char hex[66];
        if (!cpw_random_hex(hex, 64)) {
            snprintf(errbuf, errbuf_size, "no randomness for a new secret");
            return CPA_ERR_IO;
        }
        hex[64] = '\n';
        char tmp[300];
        if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
            snprintf(errbuf, errbuf_size, "secret file path %s is too long", path);
            return CPA_ERR_INVALID_ARG;
        }
        int w = mkstemp(tmp); /* mode 0600 */
        if (w < 0) {
            snprintf(errbuf, errbuf_size, "cannot create secret file %s: %s", path,
                     strerror(errno));
            return CPA_ERR_IO;
        }
        bool ok = write(w, hex, 65) == 65 && fsync(w) == 0;
        close(w);
        if (!ok || (link(tmp, path) != 0 && errno != EEXIST)) {
            snprintf(errbuf, errbuf_size, "cannot write secret file %s: %s", path,
                     strerror(errno));
            unlink(tmp);
            return CPA_ERR_IO;
        }
        unlink(tmp);
        fd = open(path, flags);
    }
    if (fd < 0) {
        snprintf(errbuf, errbuf_size, "cannot open secret file %s: %s", path, strerror(errno));
        return CPA_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(errbuf, errbuf_size, "cannot stat secret file %s: %s", path, strerror(errno));
        close(fd);
        return CPA_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(errbuf, errbuf_size,
                 "secret file %s is %s, not a regular file: remove it (a new secret is "
                 "made) or put the secret in a file of your own with mode 0600", path,
                 file_kind(st.st_mode));
        return CPA_ERR_INSECURE;
    }
    if (st.st_uid != getuid() || (st.st_mode & 077)) {
        close(fd);
        snprintf(errbuf, errbuf_size,
                 "secret file %s has mode %03o and owner uid %u: it must be yours and "
                 "private (chmod 600 %s)", path, (unsigned)(st.st_mode & 0777),
                 (unsigned)st.st_uid, path);
        return CPA_ERR_INSECURE;
    }
    ssize_t n = read(fd, out, max);
    close(fd);
    if (n < 0) {
        snprintf(errbuf, errbuf_size, "cannot read secret file %s", path);
        return CPA_ERR_IO;
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        n--;
    if (n < 16) {
        snprintf(errbuf, errbuf_size, "secret file %s holds %zd bytes; at least 16 needed", path, n);
        return CPA_ERR_INSECURE;
    }
    *out_len = (size_t)n;
    return CPA_OK;
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

const char *cpa_replay_check(cpa_replay *r, const char *nonce, int64_t ts_us, int64_t now_us)
{
    if (!nonce || !is_hex(nonce, CPW_NONCE_HEX))
        return "missing or malformed nonce (32 lowercase hex characters)";
    if (ts_us < now_us - CPA_REPLAY_WINDOW_US || ts_us > now_us + CPA_REPLAY_WINDOW_US)
        return "timestamp outside the 30 s window (clock skew or a replayed command)";
    /* forget entries that left the window (oldest first) */
    while (r->n) {
        int oldest = (r->head - r->n + 1 + CPA_NONCE_SLOTS) % CPA_NONCE_SLOTS;
        if (r->ts[oldest] >= now_us - 2 * CPA_REPLAY_WINDOW_US)
            break;
        r->n--;
    }
    for (int i = 0; i < r->n; i++) {
        int k = (r->head - i + CPA_NONCE_SLOTS) % CPA_NONCE_SLOTS;
        if (!strcmp(r->nonce[k], nonce))
            return "nonce already used: replayed command";
    }
    if (r->n == CPA_NONCE_SLOTS)
        return "too many commands in the replay window; retry shortly";
    r->head = (r->head + 1) % CPA_NONCE_SLOTS;
    memcpy(r->nonce[r->head], nonce, CPW_NONCE_HEX + 1);
    r->ts[r->head] = ts_us;
    r->n++;
    return NULL;
}
