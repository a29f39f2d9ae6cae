/*
 * cpt_rec_codec.c — the chunk codecs, and the reader's decompression of a
 * chunk whole into a buffer of the header's raw size.
 *
 * zstd, the default, keeps a chunk's raw bytes and compresses them in one
 * call when the chunk ends (every 5 s). Compressed as records arrived (a
 * stream per chunk), a live dashboard paid about twice the CPU per byte
 * that zstd takes alone: a 128 KiB block was compressed now and then,
 * between two of the dashboard's frames, with zstd's code and tables
 * evicted by the decoding and drawing, and once past the stream's 512 KiB
 * window most blocks took zstd's slower two-segment (extDict) path.
 * cprecbench's live dashboards, 8 side by side over 150 s twice: +18.5 %
 * CPU for recording that way, +12.8 % this way. The price is memory, one
 * chunk's raw bytes (5 MiB at cprecbench's rate), kept from chunk to
 * chunk so that only the first chunk pays its page faults. zlib is
 * compressed as records arrive.
 */
#include "cpt_rec_int.h"

#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

/* Room in a byte buffer for `more` past len, doubling from `first`. */
static bool room(uint8_t **buf, size_t *cap, size_t len, size_t more, size_t first)
{
    if (len + more <= *cap)
        return true;
    size_t c = *cap ? *cap : first;
    while (c < len + more)
        c *= 2;
    uint8_t *p = realloc(*buf, c);
    if (!p)
        return false;
    *buf = p;
    *cap = c;
    return true;
}

/* Room for at least `more` bytes of output. */
static bool out_room(rec_stream *s, size_t more)
{
    return room(&s->out, &s->cap, s->len, more, 65536);
}

/* Room for `more` raw bytes (zstd), doubling from 1 MiB. */
static bool raw_room(rec_stream *s, size_t more)
{
    return room(&s->raw, &s->raw_cap, s->raw_len, more, 1u << 20);
}

/* The chunk's raw bytes as one zstd frame (declaring raw_len). */
static cpt_rec_err zstd_chunk(rec_stream *s)
{
    if (!s->zs && !(s->zs = ZSTD_createCCtx()))
        return CPT_REC_ERR_NOMEM;
    ZSTD_CCtx_reset(s->zs, ZSTD_reset_session_only);
    int level = s->level ? s->level : 1;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zs, ZSTD_c_compressionLevel, level)))
        return CPT_REC_ERR_CODEC;
    /* level 1 with a 16 KiB hash table (its own: 64 KiB) stays in the
     * cache, and on this repetitive text finds matches as well
     * (cprecbench's stream: -5 % CPU, and smaller) */
    if (level <= 1 && ZSTD_isError(ZSTD_CCtx_setParameter(s->zs, ZSTD_c_hashLog, 12)))
        return CPT_REC_ERR_CODEC;
    if (!out_room(s, ZSTD_compressBound(s->raw_len)))
        return CPT_REC_ERR_NOMEM;
    size_t n = ZSTD_compress2(s->zs, s->out + s->len, s->cap - s->len, s->raw, s->raw_len);
    if (ZSTD_isError(n))
        return CPT_REC_ERR_CODEC;
    s->len += n;
    return CPT_REC_OK;
}

static cpt_rec_err begin(rec_stream *s)
{
    if (s->codec == CPT_REC_CODEC_ZLIB) {
        if (!s->z) {
            if (!(s->z = calloc(1, sizeof *s->z)))
                return CPT_REC_ERR_NOMEM;
            if (deflateInit(s->z, s->level ? s->level : 1) != Z_OK) {
                free(s->z);
                s->z = NULL;
                return CPT_REC_ERR_NOMEM;
            }
        } else if (deflateReset(s->z) != Z_OK) {
            return CPT_REC_ERR_CODEC;
        }
    }
    s->open = true;
    return CPT_REC_OK;
}

/* Runs zlib, or none, over n bytes at p (none with end: the stream's end). */
static cpt_rec_err run(rec_stream *s, const void *p, size_t n, bool end)
{
    if (s->codec == CPT_REC_CODEC_ZLIB) {
        z_stream *z = s->z;
        z->next_in = (Bytef *)(uintptr_t)p;
        z->avail_in = (uInt)n;
        for (;;) {
            if (!out_room(s, 65536))
                return CPT_REC_ERR_NOMEM;
            z->next_out = s->out + s->len;
            z->avail_out = (uInt)(s->cap - s->len > (1u << 30) ? (1u << 30) : s->cap - s->len);
            uInt before = z->avail_out;
            int rc = deflate(z, end ? Z_FINISH : Z_NO_FLUSH);
            s->len += before - z->avail_out;
            if (rc == Z_STREAM_ERROR)
                return CPT_REC_ERR_CODEC;
            if (end ? rc == Z_STREAM_END : z->avail_in == 0)
                return CPT_REC_OK;
        }
    }
    if (!out_room(s, n))
        return CPT_REC_ERR_NOMEM;
    if (n)
        memcpy(s->out + s->len, p, n);
    s->len += n;
    return CPT_REC_OK;
}

cpt_rec_err rec_stream_feed(rec_stream *s, const void *p, size_t n)
{
    cpt_rec_err e;
    if (s->codec == CPT_REC_CODEC_ZSTD) {
        if (!raw_room(s, n))
            return CPT_REC_ERR_NOMEM;
        if (n)
            memcpy(s->raw + s->raw_len, p, n);
        s->raw_len += n;
        return CPT_REC_OK;
    }
    if (!s->open && (e = begin(s)))
        return e;
    s->raw_len += n;
    /* zlib takes uInt lengths */
    while (n > (1u << 30)) {
        if ((e = run(s, p, 1u << 30, false)))
            return e;
        p = (const uint8_t *)p + (1u << 30);
        n -= 1u << 30;
    }
    return run(s, p, n, false);
}

cpt_rec_err rec_stream_end(rec_stream *s)
{
    cpt_rec_err e;
    if (s->codec == CPT_REC_CODEC_ZSTD)
        return zstd_chunk(s);
    if (!s->open && (e = begin(s)))
        return e;
    return run(s, NULL, 0, true);
}

/* A raw buffer is kept for the next chunk up to this size (one grown past
 * it by a record of many MiB gives its memory back). */
#define RAW_KEEP (16u << 20)

void rec_stream_reset(rec_stream *s)
{
    s->len = s->raw_len = 0;
    s->open = false;
    if (s->raw_cap > RAW_KEEP) {
        free(s->raw);
        s->raw = NULL;
        s->raw_cap = 0;
    }
}

void rec_stream_free(rec_stream *s)
{
    ZSTD_freeCCtx(s->zs);
    if (s->z) {
        deflateEnd(s->z);
        free(s->z);
    }
    free(s->out);
    free(s->raw);
    memset(s, 0, sizeof *s);
}

cpt_rec_err rec_decompress(int codec, const void *src, size_t n, void *dst, size_t raw_len)
{
    if (codec == CPT_REC_CODEC_ZSTD) {
        /* a frame that says its size must say the header's */
        unsigned long long fs = ZSTD_getFrameContentSize(src, n);
        if (fs == ZSTD_CONTENTSIZE_ERROR || (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != raw_len))
            return CPT_REC_ERR_CODEC;
        size_t r = ZSTD_decompress(dst, raw_len, src, n);
        return ZSTD_isError(r) || r != raw_len ? CPT_REC_ERR_CODEC : CPT_REC_OK;
    }
    if (codec == CPT_REC_CODEC_ZLIB) {
        uLongf out = (uLongf)raw_len;
        return uncompress(dst, &out, src, (uLong)n) == Z_OK && out == raw_len ? CPT_REC_OK
                                                                              : CPT_REC_ERR_CODEC;
    }
    if (n != raw_len)
        return CPT_REC_ERR_FORMAT;
    memcpy(dst, src, n);
    return CPT_REC_OK;
}
