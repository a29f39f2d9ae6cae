/*
 * cpt_rec.c — the recording format's common parts (chunk header, varints,
 * codecs) and the writer. The reader is cpt_rec_read.c, the HistoryServer
 * importer and the time parser cpt_rec_import.c.
 *
 * The writer keeps the chunk being filled in memory (records encoded as
 * they come: a kind byte, the time since the previous record, the bytes),
 * and writes it as one write(2) of header + compressed payload; an index of
 * the chunks it wrote this file is kept for the trailer written at close.
 */
#include "cpt_rec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------ names */

static const char *const kind_names[CPT_REC__COUNT] = {
    [CPT_REC_AGENT] = "agent", [CPT_REC_FLINK] = "flink", [CPT_REC_KEYFRAME] = "keyframe",
    [CPT_REC_MARKER] = "marker", [CPT_REC_EVENTS] = "events",
};

const char *cpt_rec_kind_name(int kind)
{
    return kind > 0 && kind < CPT_REC__COUNT ? kind_names[kind] : "?";
}

static const char *const err_text[CPT_REC_ERR__COUNT] = {
    [CPT_REC_OK] = "ok",
    [CPT_REC_ERR_IO] = "input/output error",
    [CPT_REC_ERR_NOMEM] = "out of memory",
    [CPT_REC_ERR_TOO_LARGE] = "beyond the format's bounds",
    [CPT_REC_ERR_FORMAT] = "not a cptop recording, or a malformed one",
    [CPT_REC_ERR_CHECKSUM] = "checksum mismatch",
    [CPT_REC_ERR_VERSION] = "a format version this cptop does not read",
    [CPT_REC_ERR_CODEC] = "compression error",
    [CPT_REC_ERR_ARG] = "bad argument",
};

const char *cpt_rec_strerror(cpt_rec_err e)
{
    return (unsigned)e < CPT_REC_ERR__COUNT ? err_text[e] : "unknown error";
}

/* ------------------------------------------------------------------ format */

uint32_t rec_crc(const void *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const Bytef *b = p;
    while (n > 0) { /* zlib takes uInt lengths */
        uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, step);
        b += step;
        n -= step;
    }
    return (uint32_t)c;
}

void rec_header_put(uint8_t *p, const rec_header *h)
{
    memcpy(p, REC_MAGIC, 4);
    p[4] = h->version;
    p[5] = h->flags;
    p[6] = p[7] = 0;
    rec_put64(p + 8, (uint64_t)h->t_first);
    rec_put64(p + 16, (uint64_t)h->t_last);
    rec_put32(p + 24, h->n_records);
    rec_put32(p + 28, h->raw_len);
    rec_put32(p + 32, h->comp_len);
    rec_put32(p + 36, h->payload_crc);
    rec_put32(p + 40, h->seqno);
    rec_put32(p + 44, rec_crc(p, 44));
}

cpt_rec_err rec_header_get(const uint8_t *p, rec_header *h)
{
    if (memcmp(p, REC_MAGIC, 4) || rec_get32(p + 44) != rec_crc(p, 44))
        return CPT_REC_ERR_FORMAT;
    h->version = p[4];
    h->flags = p[5];
    if (h->version < REC_VERSION_MIN || h->version > REC_VERSION)
        return CPT_REC_ERR_VERSION;
    h->t_first = (int64_t)rec_get64(p + 8);
    h->t_last = (int64_t)rec_get64(p + 16);
    h->n_records = rec_get32(p + 24);
    h->raw_len = rec_get32(p + 28);
    h->comp_len = rec_get32(p + 32);
    h->payload_crc = rec_get32(p + 36);
    h->seqno = rec_get32(p + 40);
    if ((h->flags & REC_F_CODEC_MASK) >= CPT_REC_CODEC__COUNT || h->raw_len > CPT_REC_MAX_RAW ||
        h->comp_len > CPT_REC_MAX_RAW + (CPT_REC_MAX_RAW >> 4) || h->t_last < h->t_first)
        return CPT_REC_ERR_FORMAT;
    return CPT_REC_OK;
}
bool rec_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 256;
    if (c > CPT_REC_MAX_CHUNKS)
        return false;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}


size_t rec_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

bool rec_varint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

size_t rec_record_put(uint8_t *p, const cpt_rec_record *r, uint64_t dt, bool head_only)
{
    size_t k = 0;
    p[k++] = (uint8_t)r->kind;
    k += rec_varint_put(p + k, dt);
    if (r->kind == CPT_REC_FLINK) {
        k += rec_varint_put(p + k, r->path_len);
        memcpy(p + k, r->path, r->path_len);
        k += r->path_len;
    }
    k += rec_varint_put(p + k, r->len);
    if (head_only)
        return k;
    if (r->len)
        memcpy(p + k, r->data, r->len);
    return k + r->len;
}

/* ------------------------------------------------------------------ writer */

typedef struct rec_index_entry {
    uint64_t off;
    int64_t t_first, t_last;
    uint32_t n, flags;
} rec_index_entry;

struct cpt_rec_writer {
    cpt_rec_conf conf;
    char path[4096];
    int fd;
    uint64_t off;              /* end of the last complete chunk in this file */
    uint64_t prev_bytes;       /* size of path.1 */
    uint32_t seqno;
    /* the chunk being filled, compressed as it comes */
    rec_stream st;
    int64_t t_first, t_last;
    uint32_t n;
    uint8_t first_kind;
    /* this file's chunks, for the trailing index */
    rec_index_entry *index;
    size_t n_index, index_cap;
    uint64_t records, chunks;
    char err[300];
};

static cpt_rec_err fail(cpt_rec_writer *w, cpt_rec_err e, const char *what)
{
    if (e == CPT_REC_ERR_IO)
        snprintf(w->err, sizeof w->err, "%s %s: %s", what, w->path, strerror(errno));
    else
        snprintf(w->err, sizeof w->err, "%s %s: %s", what, w->path, cpt_rec_strerror(e));
    return e;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = ENOSPC;
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

bool rec_read_at(int fd, void *p, size_t n, uint64_t off)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return true;
}

static bool index_add(cpt_rec_writer *w, const rec_index_entry *e)
{
    void *p = w->index;
    if (!rec_grow(&p, &w->index_cap, w->n_index, sizeof *w->index))
        return false;
    w->index = p;
    w->index[w->n_index++] = *e;
    return true;
}

/* Ends the stream and writes it as one chunk at w->off; on failure the
 * file is cut back to w->off. The stream is reset either way. */
static cpt_rec_err put_chunk(cpt_rec_writer *w, rec_header *h)
{
    cpt_rec_err e = rec_stream_end(&w->st);
    if (e) {
        rec_stream_reset(&w->st);
        return fail(w, e, "cannot compress a chunk for");
    }
    uint8_t head[REC_HEADER];
    h->version = REC_VERSION;
    h->flags = (uint8_t)(h->flags | w->conf.codec);
    h->raw_len = (uint32_t)w->st.raw_len;
    h->comp_len = (uint32_t)w->st.len;
    h->payload_crc = rec_crc(w->st.out, w->st.len);
    h->seqno = w->seqno;
    rec_header_put(head, h);
    bool ok = write_all(w->fd, head, sizeof head) && write_all(w->fd, w->st.out, w->st.len);
    size_t clen = w->st.len;
    rec_stream_reset(&w->st);
    if (!ok) {
        int saved = errno;
        if (ftruncate(w->fd, (off_t)w->off) == 0)
            lseek(w->fd, (off_t)w->off, SEEK_SET);
        errno = saved;
        return fail(w, CPT_REC_ERR_IO, "cannot write to");
    }
    w->off += REC_HEADER + clen;
    w->seqno++;
    w->chunks++;
    return CPT_REC_OK;
}

/* The trailing index: an index chunk and the trailer naming it. */
static cpt_rec_err put_index(cpt_rec_writer *w)
{
    size_t len = w->n_index * REC_INDEX_ENTRY;
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return fail(w, CPT_REC_ERR_NOMEM, "cannot index");
    rec_header h = {.flags = REC_F_INDEX, .n_records = (uint32_t)w->n_index};
    for (size_t i = 0; i < w->n_index; i++) {
        const rec_index_entry *e = &w->index[i];
        uint8_t *q = p + i * REC_INDEX_ENTRY;
        rec_put64(q, e->off);
        rec_put64(q + 8, (uint64_t)e->t_first);
        rec_put64(q + 16, (uint64_t)e->t_last);
        rec_put32(q + 24, e->n);
        rec_put32(q + 28, e->flags);
        if (i == 0 || e->t_first < h.t_first)
            h.t_first = e->t_first;
        if (e->t_last > h.t_last)
            h.t_last = e->t_last;
    }
    uint64_t at = w->off;
    cpt_rec_err e = rec_stream_feed(&w->st, p, len);
    free(p);
    if (e) {
        rec_stream_reset(&w->st);
        return fail(w, e, "cannot index");
    }
    e = put_chunk(w, &h);
    if (e)
        return e;
    w->chunks--; /* not a chunk of records */
    uint8_t t[REC_TRAILER_LEN];
    memcpy(t, REC_TRAILER, 4);
    rec_put64(t + 4, at);
    rec_put32(t + 12, rec_crc(t, 12));
    if (!write_all(w->fd, t, sizeof t))
        return fail(w, CPT_REC_ERR_IO, "cannot write to");
    return CPT_REC_OK;
}

cpt_rec_err cpt_rec_writer_flush(cpt_rec_writer *w)
{
    if (!w->n)
        return CPT_REC_OK;
    rec_header h = {.flags = w->first_kind == CPT_REC_KEYFRAME ? REC_F_KEYFRAME : 0,
                    .t_first = w->t_first, .t_last = w->t_last, .n_records = w->n};
    rec_index_entry ie = {.off = w->off, .t_first = w->t_first, .t_last = w->t_last, .n = w->n};
    cpt_rec_err e = put_chunk(w, &h);
    w->n = 0;
    if (e)
        return e; /* this chunk is lost; the next one is tried afresh */
    ie.flags = h.flags;
    if (!index_add(w, &ie))
        return fail(w, CPT_REC_ERR_NOMEM, "cannot index");
    /* --record-max: half the budget per file, the older half as path.1 */
    if (w->conf.max_bytes && w->off >= (uint64_t)w->conf.max_bytes / 2) {
        char old[sizeof w->path + 2];
        snprintf(old, sizeof old, "%s.1", w->path);
        if ((e = put_index(w)))
            return e;
        close(w->fd);
        w->prev_bytes = w->off + REC_TRAILER_LEN;
        w->fd = -1;
        if (rename(w->path, old))
            return fail(w, CPT_REC_ERR_IO, "cannot rotate");
        w->fd = open(w->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (w->fd < 0)
            return fail(w, CPT_REC_ERR_IO, "cannot open");
        w->off = 0;
        w->n_index = 0;
    }
    return CPT_REC_OK;
}

/* Finds where the recording in w->fd (size bytes) can be continued: after
 * its last complete chunk, its index and anything after it dropped; the
 * index entries of what is kept are loaded. */
static cpt_rec_err find_end(cpt_rec_writer *w, uint64_t size)
{
    uint64_t off = 0;
    uint8_t hb[REC_HEADER];
    rec_header h;
    while (off + REC_HEADER <= size && rec_read_at(w->fd, hb, sizeof hb, off) &&
           rec_header_get(hb, &h) == CPT_REC_OK && off + REC_HEADER + h.comp_len <= size) {
        if (h.flags & REC_F_INDEX)
            break;
        rec_index_entry e = {.off = off, .t_first = h.t_first, .t_last = h.t_last,
                             .n = h.n_records, .flags = h.flags};
        if (!index_add(w, &e))
            return fail(w, CPT_REC_ERR_NOMEM, "cannot index");
        off += REC_HEADER + h.comp_len;
        w->seqno = h.seqno + 1;
        if (h.t_last > w->t_last)
            w->t_last = h.t_last;
    }
    if (off == 0 && size > 0)
        return fail(w, CPT_REC_ERR_FORMAT, "will not overwrite");
    if (ftruncate(w->fd, (off_t)off) || lseek(w->fd, (off_t)off, SEEK_SET) < 0)
        return fail(w, CPT_REC_ERR_IO, "cannot continue");
    w->off = off;
    return CPT_REC_OK;
}

cpt_rec_writer *cpt_rec_writer_new(const char *path, const cpt_rec_conf *conf, char *err,
                                   size_t errsz)
{
    cpt_rec_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (conf)
        w->conf = *conf;
    if (!w->conf.chunk_us)
        w->conf.chunk_us = 5000000;
    if (!w->conf.chunk_bytes || w->conf.chunk_bytes > CPT_REC_MAX_RAW / 2)
        w->conf.chunk_bytes = 8u * 1024 * 1024;
    if (!w->conf.codec)
        w->conf.codec = CPT_REC_CODEC_ZSTD;
    else if (w->conf.codec == -1) /* -1 is how a caller asks for none */
        w->conf.codec = CPT_REC_CODEC_NONE;
    if (w->conf.codec < 0 || w->conf.codec >= CPT_REC_CODEC__COUNT ||
        (w->conf.max_bytes && w->conf.max_bytes < CPT_REC_MIN_MAX) ||
        strlen(path) >= sizeof w->path) {
        snprintf(err, errsz, "%s: %s (codec, size or path)", path,
                 cpt_rec_strerror(CPT_REC_ERR_ARG));
        free(w);
        return NULL;
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    w->st.codec = w->conf.codec;
    w->st.level = w->conf.level;
    w->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (w->fd < 0 || fstat(w->fd, &st)) {
        fail(w, CPT_REC_ERR_IO, "cannot open");
    } else if (find_end(w, (uint64_t)st.st_size) == CPT_REC_OK) {
        char old[sizeof w->path + 2];
        snprintf(old, sizeof old, "%s.1", path);
        if (stat(old, &st) == 0)
            w->prev_bytes = (uint64_t)st.st_size;
        return w;
    }
    snprintf(err, errsz, "%s", w->err);
    if (w->fd >= 0)
        close(w->fd);
    free(w->index);
    free(w);
    return NULL;
}

bool cpt_rec_writer_wants_keyframe(cpt_rec_writer *w, int64_t now_us)
{
    if (w->n && (now_us - w->t_first >= w->conf.chunk_us || w->st.raw_len >= w->conf.chunk_bytes))
        cpt_rec_writer_flush(w);
    return w->n == 0;
}

cpt_rec_err cpt_rec_write(cpt_rec_writer *w, const cpt_rec_record *r)
{
    if (r->kind <= 0 || r->kind >= CPT_REC__COUNT || (r->len && !r->data) ||
        (r->kind == CPT_REC_FLINK) != (r->path != NULL))
        return fail(w, CPT_REC_ERR_ARG, "a bad record for");
    if (r->len > CPT_REC_MAX_RECORD || r->path_len > CPT_REC_MAX_PATH)
        return fail(w, CPT_REC_ERR_TOO_LARGE, "a record too large for");
    size_t need = REC_RECORD_OVERHEAD + r->path_len + r->len;
    cpt_rec_err e;
    if (w->n && w->st.raw_len + need > CPT_REC_MAX_RAW && (e = cpt_rec_writer_flush(w)))
        return e;
    int64_t ts = r->ts_us < w->t_last ? w->t_last : r->ts_us;
    if (w->n == 0) {
        w->t_first = ts;
        w->first_kind = (uint8_t)r->kind;
    }
    uint8_t head[REC_RECORD_OVERHEAD + CPT_REC_MAX_PATH];
    size_t hl = rec_record_put(head, r, (uint64_t)(ts - (w->n ? w->t_last : w->t_first)), true);
    if ((e = rec_stream_feed(&w->st, head, hl)) || (e = rec_stream_feed(&w->st, r->data, r->len))) {
        /* the stream is broken mid-record: this chunk is lost */
        rec_stream_reset(&w->st);
        w->n = 0;
        return fail(w, e, "cannot compress for");
    }
    w->t_last = ts;
    w->n++;
    w->records++;
    return CPT_REC_OK;
}

cpt_rec_err cpt_rec_writer_tick(cpt_rec_writer *w, int64_t now_us)
{
    return w->n && now_us - w->t_first >= w->conf.chunk_us ? cpt_rec_writer_flush(w) : CPT_REC_OK;
}

const char *cpt_rec_writer_error(const cpt_rec_writer *w) { return w->err; }

void cpt_rec_writer_stats(const cpt_rec_writer *w, int64_t *bytes, uint64_t *records,
                          uint64_t *chunks)
{
    if (bytes)
        *bytes = (int64_t)(w->off + w->prev_bytes);
    if (records)
        *records = w->records;
    if (chunks)
        *chunks = w->chunks;
}

cpt_rec_err cpt_rec_writer_close(cpt_rec_writer *w)
{
    if (!w)
        return CPT_REC_OK;
    cpt_rec_err e = w->fd >= 0 ? cpt_rec_writer_flush(w) : CPT_REC_ERR_IO;
    cpt_rec_err e2 = w->fd >= 0 ? put_index(w) : CPT_REC_OK;
    if (w->fd >= 0 && close(w->fd) && !e && !e2)
        e2 = CPT_REC_ERR_IO;
    rec_stream_free(&w->st);
    free(w->index);
    free(w);
    return e ? e : e2;
}
