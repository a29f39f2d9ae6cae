/*
 * cpt_rec_session.h — recording what cptop receives: raw inputs in (from a
 * source's tap), records out, with keyframes of the models the session
 * follows at the start of every chunk (so a seek replays at most a chunk).
 *
 * The caller owns the models and tells the session which to follow; a
 * keyframe is the model's state as get_state encodes it (PROTOCOL.md §11),
 * taken before the input that opens a chunk, so the input continues it.
 *
 * Not thread-safe: one owner (the event loop). I/O: cpt_rec_session_input
 * and _tick write a chunk when one is due (one write(2)).
 */
#ifndef CPT_REC_SESSION_H
#define CPT_REC_SESSION_H

#include "cpt_model.h"
#include "cpt_rec.h"

#define CPT_REC_FOLLOW_MAX 64  /* models (jobs) one session follows */

typedef struct cpt_rec_session cpt_rec_session;

/* Opens (or continues) the recording at path. NULL with why in err. */
cpt_rec_session *cpt_rec_session_new(const char *path, const cpt_rec_conf *conf, char *err,
                                     size_t errsz);

/* Follows / stops following m (borrowed until unfollowed). false when
 * CPT_REC_FOLLOW_MAX are followed already. */
bool cpt_rec_session_follow(cpt_rec_session *s, const cpt_model *m);
void cpt_rec_session_unfollow(cpt_rec_session *s, const cpt_model *m);

/* One raw input: kind CPT_REC_AGENT (a frame or a reply) or CPT_REC_FLINK
 * (where: "STATUS PATH"); copied. */
void cpt_rec_session_input(cpt_rec_session *s, int kind, const char *where, const void *bytes,
                           size_t len, int64_t recv_us);

/* An agent's frame, as the source taps it (cpt_source.h): begins it
 * (keyframes first, when a chunk is due, so that they hold the state
 * before it), adds each message the source decoded from it, ends it:
 * written as one CPT_REC_EVENTS record when it held events, else as it
 * came (CPT_REC_AGENT). bytes stay valid until the end; recorded once. */
void cpt_rec_session_frame_begin(cpt_rec_session *s, const void *bytes, size_t len,
                                 int64_t recv_us);
void cpt_rec_session_frame_msg(cpt_rec_session *s, const cpw_msg *m);
void cpt_rec_session_frame_end(cpt_rec_session *s);

/* A note of cptop's own in the recording (a marker record). */
void cpt_rec_session_marker(cpt_rec_session *s, int64_t now_us, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Once a second: writes a chunk that is old enough. */
void cpt_rec_session_tick(cpt_rec_session *s, int64_t now_us);

/* A Flink body (already recorded through cpt_rec_session_input) that a
 * translator made at a seek needs to go on from a keyframe: the cluster's
 * /config, a job's /jobs/:jid, its checkpoint config and its newest
 * /checkpoints. The newest per "STATUS PATH" is kept (copied; bounded in
 * count and bytes) and recorded again after each chunk's keyframes. */
void cpt_rec_session_scene(cpt_rec_session *s, const char *where, const void *bytes,
                           size_t len);

/* "REC 12.4 MB" or the last error ("REC: cannot write to …: No space
 * left on device"), for a header or a log; *bad when it is an error. */
void cpt_rec_session_status(const cpt_rec_session *s, char *out, size_t size, bool *bad);

/* Records written and bytes on disk so far. */
void cpt_rec_session_stats(const cpt_rec_session *s, uint64_t *records, int64_t *bytes);

/* Writes what is buffered and the index, closes and frees (NULL is fine).
 * 0, or -1 with why in err. */
int cpt_rec_session_close(cpt_rec_session *s, char *err, size_t errsz);

#endif /* CPT_REC_SESSION_H */
