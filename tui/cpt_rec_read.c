/*
 * cpt_rec_read.c — the recording reader: a table of chunks (from the
 * trailing index, or rebuilt by walking chunk headers when the file was cut
 * short), loaded one at a time, each checked whole (checksum, decompression,
 * every record's bounds) before its first record is handed out, so a
 * corrupt chunk is skipped entirely, never delivered in part.
 */
#include "cpt_rec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_MAX  2               /* path.1, path */
#define SEG_MEM  SEG_MAX         /* an imported archive, held in memory */
#define SCAN_WIN 65536           /* bytes searched at a time for the next chunk */

typedef struct rec_chunk {
    uint64_t off;
    int64_t t_first, t_last;
    uint32_t n;
    uint8_t flags, seg;
} rec_chunk;

struct cpt_rec_reader {
    int fd[SEG_MAX];
    char name[SEG_MAX][4096];
    uint64_t size[SEG_MAX];
    cpt_rec_note_fn notes;
    void *opaque;
    rec_chunk *ch;
    size_t n_ch, cap_ch;
    size_t cur;                  /* next chunk to load */
    int skipped;
    /* the loaded chunk */
    uint8_t *raw, *comp;
    size_t raw_cap, comp_cap, raw_len, pos;
    uint32_t left;
    int64_t ts;
    /* an imported archive */
    uint8_t *mem;
    size_t mem_len, mem_cap;
};

static void note(cpt_rec_reader *r, int seg, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void note(cpt_rec_reader *r, int seg, uint64_t off, const char *fmt, ...)
{
    if (!r->notes)
        return;
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->notes(r->opaque, seg < SEG_MAX ? r->name[seg] : "(archive)", off, text);
}

static bool grow(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    uint8_t *q = realloc(*p, need);
    if (!q)
        return false;
    *p = q;
    *cap = need;
    return true;
}

static bool add_chunk(cpt_rec_reader *r, const rec_chunk *c)
{
    void *p = r->ch;
    if (!rec_grow(&p, &r->cap_ch, r->n_ch, sizeof *r->ch))
        return false;
    r->ch = p;
    r->ch[r->n_ch++] = *c;
    return true;
}

/* ------------------------------------------------------------ the table */

/* The offset of the next valid chunk header after off, or size. */
static uint64_t resync(cpt_rec_reader *r, int seg, uint64_t off)
{
    uint64_t size = r->size[seg];
    uint8_t *win = malloc(SCAN_WIN + REC_HEADER);
    if (!win)
        return size;
    for (uint64_t at = off + 1; at + REC_HEADER <= size; at += SCAN_WIN) {
        size_t n = (size_t)(size - at < SCAN_WIN + REC_HEADER ? size - at : SCAN_WIN + REC_HEADER);
        if (!rec_read_at(r->fd[seg], win, n, at))
            break;
        for (size_t i = 0; i + REC_HEADER <= n && i < SCAN_WIN; i++) {
            rec_header h;
            if (win[i] == 'C' && rec_header_get(win + i, &h) == CPT_REC_OK) {
                free(win);
                return at + i;
            }
        }
    }
    free(win);
    return size;
}

/* The trailer that ends segment seg (magic and CRC good): the index's
 * offset in *at. */
static bool trailer(const cpt_rec_reader *r, int seg, uint64_t *at)
{
    uint8_t t[REC_TRAILER_LEN];
    uint64_t size = r->size[seg];
    if (size < REC_TRAILER_LEN || !rec_read_at(r->fd[seg], t, sizeof t, size - REC_TRAILER_LEN) ||
        memcmp(t, REC_TRAILER, 4) || rec_get32(t + 12) != rec_crc(t, 12))
        return false;
    *at = rec_get64(t + 4);
    return true;
}

/* Walks the chunk headers of segment seg from the start. */
static void scan(cpt_rec_reader *r, int seg)
{
    uint64_t off = 0, size = r->size[seg];
    int64_t prev_last = INT64_MIN;
    uint8_t hb[REC_HEADER];
    while (off + REC_HEADER <= size) {
        rec_header h;
        cpt_rec_err e = rec_read_at(r->fd[seg], hb, sizeof hb, off) ? rec_header_get(hb, &h)
                                                                : CPT_REC_ERR_FORMAT;
        if (e) {
            uint64_t next = resync(r, seg, off);
            note(r, seg, off, "%s: %llu bytes skipped", e == CPT_REC_ERR_VERSION
                 ? "a chunk of another format version" : "no valid chunk header",
                 (unsigned long long)(next - off));
            r->skipped++;
            off = next;
            continue;
        }
        if (off + REC_HEADER + h.comp_len > size) {
            note(r, seg, off, "the file ends inside this chunk (cut short): replayed up to it");
            return;
        }
        rec_chunk c = {.off = off, .t_first = h.t_first, .t_last = h.t_last, .n = h.n_records,
                       .flags = h.flags, .seg = (uint8_t)seg};
        uint64_t index_at;
        if (h.flags & REC_F_INDEX) {
            /* an index not trusted is walked past; its trailer ends the file */
            if (size - (off + REC_HEADER + h.comp_len) == REC_TRAILER_LEN &&
                trailer(r, seg, &index_at) && index_at == off)
                return;
        } else if (h.t_first < prev_last) {
            /* the writer clamps time to go forward: this is damage, and a
             * table out of order would break seeking and the range */
            note(r, seg, off, "chunk skipped: it starts earlier than the chunk before it ended");
            r->skipped++;
        } else if (!add_chunk(r, &c)) {
            note(r, seg, off, "too many chunks: the rest is not read");
            return;
        } else {
            prev_last = h.t_last;
        }
        off += REC_HEADER + h.comp_len;
    }
    if (off < size)
        note(r, seg, off, "the file ends inside a chunk header (cut short)");
}

/* Reads the index the trailer names; false (nothing added) when there is
 * none or it does not hold together. */
static bool load_index(cpt_rec_reader *r, int seg)
{
    uint64_t size = r->size[seg], at;
    uint8_t hb[REC_HEADER];
    rec_header h;
    if (size < REC_TRAILER_LEN + REC_HEADER || !trailer(r, seg, &at))
        return false;
    if (at > size - REC_TRAILER_LEN - REC_HEADER || !rec_read_at(r->fd[seg], hb, sizeof hb, at) ||
        rec_header_get(hb, &h) || !(h.flags & REC_F_INDEX) ||
        at + REC_HEADER + h.comp_len != size - REC_TRAILER_LEN ||
        (uint64_t)h.n_records * REC_INDEX_ENTRY != h.raw_len || h.n_records > CPT_REC_MAX_CHUNKS)
        return false;
    if (!grow(&r->comp, &r->comp_cap, h.comp_len ? h.comp_len : 1) ||
        !grow(&r->raw, &r->raw_cap, h.raw_len ? h.raw_len : 1) ||
        !rec_read_at(r->fd[seg], r->comp, h.comp_len, at + REC_HEADER) ||
        rec_crc(r->comp, h.comp_len) != h.payload_crc ||
        rec_decompress(h.flags & REC_F_CODEC_MASK, r->comp, h.comp_len, r->raw, h.raw_len))
        return false;
    size_t first = r->n_ch;
    uint64_t end = 0;
    int64_t prev_last = INT64_MIN;
    for (uint32_t i = 0; i < h.n_records; i++) {
        const uint8_t *q = r->raw + (size_t)i * REC_INDEX_ENTRY;
        rec_chunk c = {.off = rec_get64(q), .t_first = (int64_t)rec_get64(q + 8),
                       .t_last = (int64_t)rec_get64(q + 16), .n = rec_get32(q + 24),
                       .flags = (uint8_t)rec_get32(q + 28), .seg = (uint8_t)seg};
        /* in order on disk and in time, inside the file: else walk the
         * headers (which names the chunk that is out of place) */
        if (c.off < end || c.off + REC_HEADER > at || c.t_last < c.t_first ||
            c.t_first < prev_last || !add_chunk(r, &c)) {
            r->n_ch = first;
            return false;
        }
        end = c.off + REC_HEADER;
        prev_last = c.t_last;
    }
    return true;
}

static int open_seg(cpt_rec_reader *r, int seg, const char *path)
{
    struct stat st;
    snprintf(r->name[seg], sizeof r->name[seg], "%s", path);
    r->fd[seg] = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd[seg] < 0 || fstat(r->fd[seg], &st))
        return -1;
    r->size[seg] = (uint64_t)st.st_size;
    if (!load_index(r, seg))
        scan(r, seg);
    return 0;
}

/* ------------------------------------------------------------ archives */

static int import_one(void *opaque, const cpt_rec_record *rec)
{
    cpt_rec_reader *r = opaque;
    if (!grow(&r->mem, &r->mem_cap, r->mem_len + REC_RECORD_OVERHEAD + rec->path_len + rec->len))
        return -1;
    r->mem_len += rec_record_put(r->mem + r->mem_len, rec, 0, false);
    rec_chunk *c = &r->ch[0];
    if (c->n++ == 0)
        c->t_first = c->t_last = rec->ts_us;
    return 0;
}

/* A HistoryServer archive: one chunk in memory. */
static int open_archive(cpt_rec_reader *r, int fd, uint64_t size, char *err, size_t errsz)
{
    char *buf = size <= CPT_REC_MAX_RAW ? malloc(size ? size : 1) : NULL;
    rec_chunk c = {.seg = SEG_MEM};
    int rc = -1;
    if (!buf) {
        snprintf(err, errsz, "a HistoryServer archive larger than %u bytes", CPT_REC_MAX_RAW);
    } else if (!rec_read_at(fd, buf, size, 0)) {
        snprintf(err, errsz, "cannot read: %s", strerror(errno));
    } else if (add_chunk(r, &c)) {
        struct stat st;
        int64_t mtime = fstat(fd, &st) == 0 ? (int64_t)st.st_mtime * 1000000 : 0;
        if (cpt_rec_import_archive(buf, size, mtime, import_one, r, err, errsz) == CPT_REC_OK)
            rc = 0;
    }
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ open */

/* Whether seg 0 (path.1) is the older half of seg 1's recording. */
static bool older_half(const cpt_rec_reader *r, size_t n0)
{
    if (n0 == 0)
        return false;
    return n0 == r->n_ch || r->ch[n0 - 1].t_last <= r->ch[n0].t_first;
}

cpt_rec_reader *cpt_rec_reader_open(const char *path, cpt_rec_note_fn notes, void *opaque,
                                    char *err, size_t errsz)
{
    cpt_rec_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    r->fd[0] = r->fd[1] = -1;
    r->notes = notes;
    r->opaque = opaque;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char head[1] = {0};
    if (fd < 0 || fstat(fd, &st)) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (st.st_size > 0 && !rec_read_at(fd, head, 1, 0)) {
        snprintf(err, errsz, "%s: cannot read", path);
        goto fail;
    }
    if (st.st_size > 0 && head[0] != '{' && head[0] != REC_MAGIC[0]) {
        snprintf(err, errsz, "%s: neither a cptop recording nor a HistoryServer archive", path);
        goto fail;
    }
    if (head[0] == '{') {
        char e2[300];
        if (open_archive(r, fd, (uint64_t)st.st_size, e2, sizeof e2)) {
            snprintf(err, errsz, "%s: %s", path, e2);
            goto fail;
        }
        close(fd);
        return r;
    }
    close(fd);
    fd = -1;
    char old[4096 + 2];
    snprintf(old, sizeof old, "%s.1", path);
    if (access(old, R_OK) == 0 && open_seg(r, 0, old) == 0) {
        size_t n0 = r->n_ch;
        if (open_seg(r, 1, path)) {
            snprintf(err, errsz, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (!older_half(r, n0)) { /* a stale FILE.1 of another recording */
            memmove(r->ch, r->ch + n0, (r->n_ch - n0) * sizeof *r->ch);
            r->n_ch -= n0;
        }
    } else if (open_seg(r, 1, path)) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (r->n_ch == 0 && r->size[1] > 0 && r->skipped) {
        snprintf(err, errsz, "%s: not a cptop recording (no valid chunk)", path);
        goto fail;
    }
    return r;
fail:
    if (fd >= 0)
        close(fd);
    cpt_rec_reader_close(r);
    return NULL;
}

/* ------------------------------------------------------------ records */

/* Checks every record of the loaded chunk c (raw_len bytes in r->raw). */
static bool check_records(const cpt_rec_reader *r, const rec_chunk *c, const uint8_t *raw,
                          size_t len, const char **why)
{
    size_t pos = 0;
    int64_t ts = c->t_first;
    for (uint32_t i = 0; i < c->n; i++) {
        uint64_t dt, pl = 0, dl;
        if (pos >= len || raw[pos] == 0 || raw[pos] >= CPT_REC__COUNT) {
            *why = "a record of no known kind";
            return false;
        }
        bool flink = raw[pos++] == CPT_REC_FLINK;
        if (!rec_varint_get(raw, len, &pos, &dt) || dt > (uint64_t)(c->t_last - ts)) {
            *why = "a record outside the chunk's time range";
            return false;
        }
        ts += (int64_t)dt;
        if (flink && (!rec_varint_get(raw, len, &pos, &pl) || pl > CPT_REC_MAX_PATH ||
                      pl > len - pos)) {
            *why = "a bad request path";
            return false;
        }
        pos += pl;
        if (!rec_varint_get(raw, len, &pos, &dl) || dl > CPT_REC_MAX_RECORD || dl > len - pos) {
            *why = "a record longer than its chunk";
            return false;
        }
        pos += dl;
    }
    (void)r;
    if (pos != len) {
        *why = "bytes after the chunk's last record";
        return false;
    }
    return true;
}

/* Loads chunk i into r->raw; false (after a note) when it is skipped. */
static bool load_chunk(cpt_rec_reader *r, size_t i)
{
    const rec_chunk *c = &r->ch[i];
    const char *why = NULL;
    if (c->seg == SEG_MEM) {
        r->raw_len = r->mem_len;
        if (!grow(&r->raw, &r->raw_cap, r->mem_len ? r->mem_len : 1))
            return false;
        memcpy(r->raw, r->mem, r->mem_len);
    } else {
        uint8_t hb[REC_HEADER];
        rec_header h;
        int fd = r->fd[c->seg];
        cpt_rec_err he = CPT_REC_ERR_IO;
        if (!rec_read_at(fd, hb, sizeof hb, c->off) || (he = rec_header_get(hb, &h)))
            why = he == CPT_REC_ERR_VERSION ? "a chunk of a format version this cptop does not read"
                                             : "no valid chunk header";
        else if (h.t_first != c->t_first || h.n_records != c->n || (h.flags & REC_F_INDEX))
            why = "the chunk does not match the index";
        else if (c->off + REC_HEADER + h.comp_len > r->size[c->seg])
            why = "the file ends inside this chunk";
        else if (!grow(&r->comp, &r->comp_cap, h.comp_len + 1) ||
                 !grow(&r->raw, &r->raw_cap, h.raw_len + 1))
            why = "out of memory";
        else if (!rec_read_at(fd, r->comp, h.comp_len, c->off + REC_HEADER))
            why = "cannot read the chunk";
        else if (rec_crc(r->comp, h.comp_len) != h.payload_crc)
            why = "checksum mismatch";
        else if (rec_decompress(h.flags & REC_F_CODEC_MASK, r->comp, h.comp_len, r->raw, h.raw_len))
            why = "cannot decompress";
        r->raw_len = h.raw_len;
    }
    if (!why)
        check_records(r, c, r->raw, r->raw_len, &why);
    if (why) {
        note(r, c->seg, c->off, "chunk skipped: %s", why);
        r->skipped++;
        return false;
    }
    r->pos = 0;
    r->left = c->n;
    r->ts = c->t_first;
    return true;
}

int cpt_rec_reader_next(cpt_rec_reader *r, cpt_rec_record *out)
{
    while (r->left == 0) {
        if (r->cur >= r->n_ch)
            return 0;
        load_chunk(r, r->cur++);
    }
    /* checked whole by check_records: no bound can fail here */
    const uint8_t *p = r->raw;
    uint64_t dt, pl = 0, dl;
    out->kind = p[r->pos++];
    rec_varint_get(p, r->raw_len, &r->pos, &dt);
    r->ts += (int64_t)dt;
    out->ts_us = r->ts;
    out->path = NULL;
    out->path_len = 0;
    if (out->kind == CPT_REC_FLINK) {
        rec_varint_get(p, r->raw_len, &r->pos, &pl);
        out->path = (const char *)p + r->pos;
        out->path_len = (size_t)pl;
        r->pos += pl;
    }
    rec_varint_get(p, r->raw_len, &r->pos, &dl);
    out->data = (const char *)p + r->pos;
    out->len = (size_t)dl;
    r->pos += dl;
    r->left--;
    return 1;
}

void cpt_rec_reader_range(const cpt_rec_reader *r, int64_t *first_us, int64_t *last_us)
{
    *first_us = r->n_ch ? r->ch[0].t_first : 0;
    *last_us = r->n_ch ? r->ch[r->n_ch - 1].t_last : 0;
}

void cpt_rec_reader_counts(const cpt_rec_reader *r, int *chunks, int *skipped)
{
    if (chunks)
        *chunks = (int)r->n_ch;
    if (skipped)
        *skipped = r->skipped;
}

int64_t cpt_rec_reader_seek(cpt_rec_reader *r, int64_t ts_us)
{
    size_t lo = 0, hi = r->n_ch; /* the first chunk starting after ts_us */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->ch[mid].t_first <= ts_us)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo ? lo - 1 : 0;
    while (i > 0 && !(r->ch[i].flags & REC_F_KEYFRAME))
        i--;
    r->cur = i;
    r->left = 0;
    return r->n_ch ? r->ch[i].t_first : 0;
}

void cpt_rec_reader_close(cpt_rec_reader *r)
{
    if (!r)
        return;
    for (int i = 0; i < SEG_MAX; i++)
        if (r->fd[i] >= 0)
            close(r->fd[i]);
    free(r->ch);
    free(r->raw);
    free(r->comp);
    free(r->mem);
    free(r);
}
