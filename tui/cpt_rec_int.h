/*
 * cpt_rec_int.h — internal to the recording modules (cpt_rec*.c): the chunk
 * header's layout, little-endian helpers, varints and the codecs. The
 * layout is protocol/RECORDING.md's; change both together.
 */
#ifndef CPT_REC_INT_H
#define CPT_REC_INT_H

#include "cpt_rec.h"

#include <stdint.h>
#include <string.h>

#define REC_MAGIC       "CPRC"     /* a chunk */
#define REC_TRAILER     "CPRI"     /* the trailer naming the index chunk */
#define REC_VERSION     2          /* written; 2 added packed frames (kind 5) */
#define REC_VERSION_MIN 1          /* the oldest read */
#define REC_HEADER      48         /* bytes of a chunk header */
#define REC_TRAILER_LEN 16         /* "CPRI", u64 index offset, u32 crc */
#define REC_INDEX_ENTRY 32         /* bytes of one index entry */

/* flags of a chunk header: the codec in the low bits, then the kinds */
#define REC_F_CODEC_MASK 0x03
#define REC_F_INDEX      0x04      /* an index chunk, not records */
#define REC_F_KEYFRAME   0x08      /* its first record is a keyframe */

typedef struct rec_header {
    uint8_t version, flags;
    int64_t t_first, t_last;
    uint32_t n_records, raw_len, comp_len, payload_crc, seqno;
} rec_header;

static inline void rec_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void rec_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t rec_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rec_get64(const uint8_t *p)
{
    return (uint64_t)rec_get32(p) | (uint64_t)rec_get32(p + 4) << 32;
}

/* crc32 (IEEE, zlib's) of n bytes. */
uint32_t rec_crc(const void *p, size_t n);

/* Writes / reads a chunk header (h) at p (REC_HEADER bytes). rec_header_get
 * returns CPT_REC_OK, or FORMAT (no magic, bad crc) or VERSION. */
void rec_header_put(uint8_t *p, const rec_header *h);
cpt_rec_err rec_header_get(const uint8_t *p, rec_header *h);

/* Makes room for one more element of size elem in *arr (holding n of
 * *cap): doubles it, from 256, up to CPT_REC_MAX_CHUNKS; false when that
 * limit or memory runs out (*arr is left as it was). */
bool rec_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* Reads n bytes at off of fd (pread, EINTR retried); false on an error
 * or when the file ends first. Blocking. */
bool rec_read_at(int fd, void *p, size_t n, uint64_t off);

/* Appends a LEB128 varint at p (room for 10 bytes); returns bytes written. */
size_t rec_varint_put(uint8_t *p, uint64_t v);
/* Reads one from p[*pos … len); false when it is truncated or too long. */
bool rec_varint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *v);

/* Encodes r at p (room for REC_RECORD_OVERHEAD + path_len + len bytes), dt
 * µs after the previous record; returns the bytes written. With head_only,
 * only what comes before the data (kind, time, path, length). */
size_t rec_record_put(uint8_t *p, const cpt_rec_record *r, uint64_t dt, bool head_only);
#define REC_RECORD_OVERHEAD 31

/* A chunk's payload being compressed: zlib as its records arrive, zstd
 * in one call when the chunk ends (its raw bytes kept until then: see
 * cpt_rec_codec.c). Zeroed to start; codec and level set once. */
typedef struct rec_stream {
    int codec, level;
    void *zs;                  /* ZSTD_CCtx */
    struct z_stream_s *z;      /* zlib's deflate stream */
    bool open;                 /* a frame is started */
    uint8_t *out;              /* the compressed bytes so far */
    size_t cap, len;
    size_t raw_len;            /* the bytes fed */
    uint8_t *raw;              /* zstd: the bytes fed, raw_len of them */
    size_t raw_cap;
} rec_stream;

cpt_rec_err rec_stream_feed(rec_stream *s, const void *p, size_t n);
/* Ends the frame: s->out[0 … s->len) is the payload. */
cpt_rec_err rec_stream_end(rec_stream *s);
/* Ready for the next chunk (keeps the codec's context and buffer). */
void rec_stream_reset(rec_stream *s);
void rec_stream_free(rec_stream *s);

/* Decompresses exactly raw_len bytes into dst (raw_len bytes of room). */
cpt_rec_err rec_decompress(int codec, const void *src, size_t n, void *dst, size_t raw_len);

#endif /* CPT_REC_INT_H */
