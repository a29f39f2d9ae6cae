/*
 * cpw_pack.h — a compact binary form of the messages of one frame, for
 * recordings (protocol/RECORDING.md, "Packed frames").
 *
 * A recorder hands each message of a decoded frame to cpw_pack_add(). An
 * event the decoder read whole (cpw_msg.whole: no member it does not read)
 * is written as its fields, varint-coded, with the seq, time and checkpoint
 * id as deltas from the message before; any other message (hello,
 * heartbeat, a reply, an event of a newer agent) is kept as the bytes of
 * its JSON object in the frame. Unpacking gives back the same cpw_msg the
 * frame decoder gave, so a replay folds exactly what the live cptop folded
 * — about 12 bytes an event instead of 160, which is what keeps recording
 * cheap (zstd's time grows with its input).
 *
 * Thread-safety: a cpw_pack belongs to one thread; cpw_unpack is reentrant.
 */
#ifndef CPW_PACK_H
#define CPW_PACK_H

#include "cpw.h"

#define CPW_PACK_FORMAT 1

typedef struct cpw_pack {
    cpw_buf out;               /* the packed frame so far (the record's data) */
    size_t events;             /* messages packed as fields */
    size_t raw;                /* messages kept as their JSON bytes */
    bool failed;               /* out of memory, or a message that cannot be
                                  represented (another job, another version):
                                  the caller keeps the frame as it came */
    /* delta state, and what the header says */
    char job[CPW_MAX_JOB_ID];
    int v;
    uint64_t seq;
    int64_t ts, cp;
} cpw_pack;

void cpw_pack_init(cpw_pack *p);
void cpw_pack_free(cpw_pack *p);
/* Starts a new frame (keeps memory). */
void cpw_pack_reset(cpw_pack *p);

/* Adds msg, decoded by cpw_decode_frame from frame (len bytes; msg->at and
 * msg->span locate its object there). Never blocks; sets p->failed instead
 * of failing. */
void cpw_pack_add(cpw_pack *p, const cpw_msg *msg, const char *frame, size_t len);

/* The number of members an event of type t has on the wire, all of them
 * (cp_triggered's optional "alignment" included); 0 for a type that is
 * not an event. The decoder compares it with what an object holds. */
int cpw_pack_members(cpw_event_type t);

/*
 * Unpacks a packed frame (hostile input: every length, value and string is
 * checked as the JSON decoder checks it). Like cpw_decode_frame: the whole
 * of it is checked before the first callback, so a bad one delivers
 * nothing; cb as there (the message is cleared after it returns; non-zero
 * stops). CPW_OK, or an error with err filled (offset: into data).
 */
cpw_err cpw_unpack(const void *data, size_t len, cpw_msg_cb cb, void *opaque, size_t *count,
                   cpw_error *err);

#endif /* CPW_PACK_H */
