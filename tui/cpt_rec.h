/*
 * cpt_rec.h — cptop's recordings: what a source received (agent frames,
 * Flink REST bodies with their request paths), each with its receive time,
 * plus periodic keyframes of the folded state, in compressed self-contained
 * chunks. The format is documented in protocol/RECORDING.md.
 *
 * The writer is append-only and does its I/O only in cpt_rec_write (when a
 * chunk fills), cpt_rec_writer_tick (when a chunk is old enough) and
 * cpt_rec_writer_close; the reader treats the file as hostile: a file cut at
 * any byte replays up to its last complete chunk, a corrupt chunk is skipped
 * with a note naming its offset, and every size is bounded.
 *
 * Nothing here prints. Not thread-safe: one owner per handle; distinct
 * handles may be used from distinct threads.
 */
#ifndef CPT_REC_H
#define CPT_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds a reader enforces and a writer respects. */
#define CPT_REC_MAX_RECORD  (32u * 1024 * 1024)  /* bytes of one record's data */
#define CPT_REC_MAX_PATH    1024                 /* bytes of a Flink request path */
#define CPT_REC_MAX_RAW     (64u * 1024 * 1024)  /* uncompressed bytes of one chunk */
#define CPT_REC_MAX_CHUNKS  (1 << 20)            /* chunks in one file */
#define CPT_REC_MIN_MAX     (1024 * 1024)        /* smallest --record-max */

typedef enum cpt_rec_kind {
    CPT_REC_AGENT = 1,     /* one frame as the agent's event socket delivered it,
                              or a reply (get_state) to one of cptop's requests */
    CPT_REC_FLINK = 2,     /* one Flink REST response body, with its request path */
    CPT_REC_KEYFRAME = 3,  /* the folded state (get_state "result" JSON, PROTOCOL.md §11) */
    CPT_REC_MARKER = 4,    /* a note of cptop's own (text): started, rotated, … */
    CPT_REC_EVENTS = 5,    /* an agent frame of events, packed (cpw_pack.h): the same
                              messages in about a tenth of the bytes */
    CPT_REC__COUNT
} cpt_rec_kind;

/* Name of a kind ("agent", "flink", "keyframe", "marker", "events"), "?" out of range. */
const char *cpt_rec_kind_name(int kind);

/* One record. Pointers are borrowed: a writer copies them, a reader's stay
 * valid until its next call. */
typedef struct cpt_rec_record {
    int kind;              /* cpt_rec_kind */
    int64_t ts_us;         /* receive time, wall-clock µs */
    const char *path;      /* CPT_REC_FLINK only: the request path, else NULL */
    size_t path_len;
    const char *data;
    size_t len;
} cpt_rec_record;

typedef enum cpt_rec_err {
    CPT_REC_OK = 0,
    CPT_REC_ERR_IO,        /* a system call failed (errno in the message) */
    CPT_REC_ERR_NOMEM,
    CPT_REC_ERR_TOO_LARGE, /* a record, path or chunk beyond its bound */
    CPT_REC_ERR_FORMAT,    /* not a recording, or a malformed one */
    CPT_REC_ERR_CHECKSUM,  /* a chunk whose CRC does not match */
    CPT_REC_ERR_VERSION,   /* a chunk of a format version this build does not read */
    CPT_REC_ERR_CODEC,     /* compression or decompression failed */
    CPT_REC_ERR_ARG,       /* a bad argument (kind, size, …) */
    CPT_REC_ERR__COUNT
} cpt_rec_err;

/* Static description; never NULL. */
const char *cpt_rec_strerror(cpt_rec_err e);

/* Chunk compression. zstd is the default: see RECORDING.md for the figures. */
typedef enum cpt_rec_codec {
    CPT_REC_CODEC_NONE = 0,
    CPT_REC_CODEC_ZSTD = 1,
    CPT_REC_CODEC_ZLIB = 2,
    CPT_REC_CODEC__COUNT
} cpt_rec_codec;

/* ------------------------------------------------------------------ writer */

typedef struct cpt_rec_conf {
    int64_t max_bytes;     /* --record-max: keep the newest max_bytes (0: no limit);
                              at least CPT_REC_MIN_MAX. When the file reaches half of
                              it, it is renamed FILE.1 (replacing the older one) and
                              a new FILE started: between max/2 and max are kept. */
    int64_t chunk_us;      /* a chunk is closed when it spans this long (default 5 s):
                              a seek replays at most that much, a kill -9 loses it */
    size_t chunk_bytes;    /* … or when it holds this many bytes (default 8 MiB) */
    int codec;             /* 0: zstd (the default), CPT_REC_CODEC_ZLIB, or -1: none */
    int level;             /* compression level (0: the codec's default for us) */
} cpt_rec_conf;

typedef struct cpt_rec_writer cpt_rec_writer;

/* Opens path for appending (created 0600 when absent). An existing
 * recording is continued: its trailing index, and whatever follows its last
 * complete chunk (a cut left by kill -9), is cut off first. conf may be NULL
 * for the defaults. NULL with a message in err. Blocking (file I/O). */
cpt_rec_writer *cpt_rec_writer_new(const char *path, const cpt_rec_conf *conf, char *err,
                                   size_t errsz);

/* Call before each record received at now_us: writes the chunk being
 * filled when it spans chunk_us or holds chunk_bytes, then says whether the
 * chunk is empty. When true the caller writes its keyframe(s) (one per job
 * it follows) before the record, so that a seek into the chunk starts from a
 * state. May block on file I/O (an error is kept for
 * cpt_rec_writer_error). */
bool cpt_rec_writer_wants_keyframe(cpt_rec_writer *w, int64_t now_us);

/* Appends a copy of r. A receive time earlier than the previous record's is
 * taken as the previous one (recordings are in receive order). A chunk
 * that would pass CPT_REC_MAX_RAW is written first. On an I/O error the
 * partial chunk is cut off again, the error returned and recording goes on
 * with the next chunk (a full disk loses chunks, never the file). */
cpt_rec_err cpt_rec_write(cpt_rec_writer *w, const cpt_rec_record *r);

/* Writes the chunk being filled if it is older than chunk_us at now_us
 * (call it once a second so that a quiet stream still reaches the disk). */
cpt_rec_err cpt_rec_writer_tick(cpt_rec_writer *w, int64_t now_us);

/* Writes the chunk being filled, whatever its age. */
cpt_rec_err cpt_rec_writer_flush(cpt_rec_writer *w);

/* What went wrong last, for the caller's status line ("" when nothing). */
const char *cpt_rec_writer_error(const cpt_rec_writer *w);

/* Bytes on disk (this file and its FILE.1), records written, chunks written. */
void cpt_rec_writer_stats(const cpt_rec_writer *w, int64_t *bytes, uint64_t *records,
                          uint64_t *chunks);

/* Flushes, writes the trailing index and closes; frees w (NULL is fine).
 * Returns the first error of these steps. */
cpt_rec_err cpt_rec_writer_close(cpt_rec_writer *w);

/* ------------------------------------------------------------------ reader */

typedef struct cpt_rec_reader cpt_rec_reader;

/* Called for what a reader skipped: offset is the byte offset of the chunk
 * (or of the bytes) in the file named, text says what was wrong. */
typedef void (*cpt_rec_note_fn)(void *opaque, const char *file, uint64_t offset,
                                const char *text);

/*
 * Opens a recording (path, and path.1 before it when that is the older half
 * of a --record-max pair) or a Flink HistoryServer archive (imported into
 * the same records, see cpt_rec_import_archive). Reads the trailing index,
 * or rebuilds it by walking the chunk headers when the file was cut short.
 * notes may be NULL. NULL with a message in err when nothing can be read.
 * Blocking (file I/O).
 */
cpt_rec_reader *cpt_rec_reader_open(const char *path, cpt_rec_note_fn notes, void *opaque,
                                    char *err, size_t errsz);

/* The next record: 1 with *out filled (valid until the next call on r), 0 at
 * the end. A chunk that fails its checksum, decompression or parse is
 * skipped (reported to notes) and reading goes on with the next one. */
int cpt_rec_reader_next(cpt_rec_reader *r, cpt_rec_record *out);

/* The time range of the recording (first and last receive time; 0 and 0
 * when it holds nothing). */
void cpt_rec_reader_range(const cpt_rec_reader *r, int64_t *first_us, int64_t *last_us);

/* Chunks found and chunks skipped so far. */
void cpt_rec_reader_counts(const cpt_rec_reader *r, int *chunks, int *skipped);

/* Positions the reader at the start of the last chunk that starts with a
 * keyframe at or before ts_us (the first chunk when none does); the next
 * record is that chunk's first. Returns the chunk's first time. */
int64_t cpt_rec_reader_seek(cpt_rec_reader *r, int64_t ts_us);

/* Frees r; NULL is fine. */
void cpt_rec_reader_close(cpt_rec_reader *r);

/* ------------------------------------------------------------------ import */

/*
 * Reads a Flink HistoryServer archive ({"archive":[{"path":…,"json":"…"}]},
 * at most CPT_REC_MAX_RAW bytes) from buf and calls emit for one
 * CPT_REC_FLINK record per entry, all at the job's end time (its
 * "end-time", else its "now", else fallback_us): the archive is a job's last
 * word, with no times of its own. CPT_REC_OK, or an error with a message
 * naming the bad entry in err. Pure.
 */
typedef int (*cpt_rec_emit_fn)(void *opaque, const cpt_rec_record *r);
cpt_rec_err cpt_rec_import_archive(const char *buf, size_t len, int64_t fallback_us,
                                   cpt_rec_emit_fn emit, void *opaque, char *err, size_t errsz);

/* ------------------------------------------------------------------ times */

/*
 * Parses a replay time: "HH:MM[:SS]" (local time of the day of ref_us, the
 * recording's start), "-5m"/"+30s"/"-1h" (relative to now_us, the replay
 * position), "@EPOCH_SECONDS", or an ISO "YYYY-MM-DDTHH:MM[:SS]" local time.
 * Units: s, m, h (a bare number is seconds). true with *out filled.
 */
bool cpt_rec_parse_time(const char *s, int64_t ref_us, int64_t now_us, int64_t *out);

#endif /* CPT_REC_H */
