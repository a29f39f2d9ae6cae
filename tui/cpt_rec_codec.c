/*
 * cpt_rec_codec.c — the chunk codecs: a chunk is compressed as its records
 * arrive (a zstd or zlib stream per chunk), so the writer holds only the
 * compressed bytes and never a chunk's raw bytes, and decompressed whole
 * by the reader into a buffer of the header's raw size.
 */
#include "cpt_rec_int.h"

#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

/* Room for at least `more` bytes of output. */
static bool out_room(rec_stream *s, size_t more)
{
    if (s->len + more <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 65536;
    while (cap < s->len + more)
        cap *= 2;
    uint8_t *p = realloc(s->out, cap);
    if (!p)
        return false;
    s->out = p;
    s->cap = cap;
    return true;
}

static cpt_rec_err begin(rec_stream *s)
{
    if (s->codec == CPT_REC_CODEC_ZSTD) {
        if (!s->zs && !(s->zs = ZSTD_createCCtx()))
            return CPT_REC_ERR_NOMEM;
        ZSTD_CCtx_reset(s->zs, ZSTD_reset_session_only);
        if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zs, ZSTD_c_compressionLevel,
                                                s->level ? s->level : 1)))
            return CPT_REC_ERR_CODEC;
    } else if (s->codec == CPT_REC_CODEC_ZLIB) {
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

/* Runs the codec over n bytes at p (none with end: the frame's end). */
static cpt_rec_err run(rec_stream *s, const void *p, size_t n, bool end)
{
    if (s->codec == CPT_REC_CODEC_ZSTD) {
        ZSTD_inBuffer in = {p, n, 0};
        for (;;) {
            if (!out_room(s, ZSTD_CStreamOutSize()))
                return CPT_REC_ERR_NOMEM;
            ZSTD_outBuffer out = {s->out + s->len, s->cap - s->len, 0};
            size_t left = ZSTD_compressStream2(s->zs, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
            s->len += out.pos;
            if (ZSTD_isError(left))
                return CPT_REC_ERR_CODEC;
            if (end ? left == 0 : in.pos == in.size)
                return CPT_REC_OK;
        }
    }
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
    if (!s->open && (e = begin(s)))
        return e;
    return run(s, NULL, 0, true);
}

void rec_stream_reset(rec_stream *s)
{
    s->len = s->raw_len = 0;
    s->open = false;
}

void rec_stream_free(rec_stream *s)
{
    ZSTD_freeCCtx(s->zs);
    if (s->z) {
        deflateEnd(s->z);
        free(s->z);
    }
    free(s->out);
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
