/*
 * cpt_replay.h — a recording played back into a cpt_model: the same model
 * the live dashboard folds, fed the recorded inputs at their recorded
 * times, so every screen shows the state *at* the replay position.
 *
 * Seeking installs the nearest keyframe at or before the target into a
 * fresh model and replays forward from it (at most one chunk, a few
 * seconds). The playback clock (speed, pause) is here too, as plain
 * arithmetic on a monotonic time the caller passes in.
 *
 * No curses, no sockets; file I/O through the reader (cpt_rec.h). Not
 * thread-safe: one owner.
 */
#ifndef CPT_REPLAY_H
#define CPT_REPLAY_H

#include "cpt_model.h"
#include "cpt_rec.h"

typedef struct cpt_replay cpt_replay;

/* What the replay header shows. */
typedef struct cpt_replay_info {
    int64_t first_us, last_us;  /* the recording's time range */
    int64_t pos_us;             /* the replay position (recorded time) */
    int speed;                  /* 1, 2, 10, 100, or 0: as fast as possible */
    bool paused, at_end;
    int skipped;                /* chunks skipped as corrupt */
    char file[256];             /* the recording's name, sanitised */
} cpt_replay_info;

/* Sees every message played (not those replayed silently to reach a seek
 * target), with its receive time. Non-zero: stop the current run. */
typedef int (*cpt_replay_msg_fn)(void *ud, const cpw_msg *m, int64_t recv_us);

/* Turns a recorded Flink REST body into messages for the model (the Flink
 * source's translator); where is "STATUS PATH" as recorded. Called with
 * where and body NULL when the model was reset (a seek): start over. */
typedef void (*cpt_replay_flink_fn)(void *ud, cpt_model *m, const char *where, size_t where_len,
                                    const char *body, size_t len, int64_t recv_us);

/* Opens a recording (or a HistoryServer archive) for replay of job (NULL:
 * the first job it meets). notes gets what the reader skipped. NULL with
 * why in err. Blocking (file I/O). */
cpt_replay *cpt_replay_open(const char *path, const char *job, cpt_rec_note_fn notes, void *ud,
                            char *err, size_t errsz);
void cpt_replay_free(cpt_replay *rp);

void cpt_replay_set_observer(cpt_replay *rp, cpt_replay_msg_fn fn, void *ud);

/* Sees, in a played (observed) stretch, the state of a new process of the
 * job as the recording got it (a get_state reply from another instance),
 * just after the model installed it: --json prints it as live --json does.
 * restarted: another process came before it (else it is the first one the
 * replay meets). st is the model's; valid during the call. */
typedef void (*cpt_replay_state_fn)(void *ud, const cpw_state *st, bool restarted,
                                    int64_t recv_us);
void cpt_replay_set_restart_observer(cpt_replay *rp, cpt_replay_state_fn fn, void *ud);
void cpt_replay_set_flink(cpt_replay *rp, cpt_replay_flink_fn fn, void *ud);
/* The job replayed ("" until the first one met, when none was named) and,
 * for a Flink translator that resolved a name to its id or met the first
 * job itself, the job from now on (so that keyframes and bodies agree). */
const char *cpt_replay_job(const cpt_replay *rp);
void cpt_replay_set_job(cpt_replay *rp, const char *job);
/* For the Flink callback: a message it derived from the body being fed,
 * folded into the model as a decoded agent frame's messages are, and seen
 * first by the observer when the record is played (not when it is replayed
 * silently to reach a seek target), so --json and --advise see Flink's
 * derived events as they see an agent's. Non-zero: the observer asked to
 * stop (the run ends after this record). */
int cpt_replay_derived(cpt_replay *rp, const cpw_msg *msg);

/* The header's figures. */
void cpt_replay_get_info(const cpt_replay *rp, cpt_replay_info *out);

/* Resets m (keeping its conf) to the state at ts_us: the nearest keyframe
 * at or before it, then every record up to ts_us. Returns the records
 * replayed. */
int cpt_replay_seek(cpt_replay *rp, cpt_model *m, int64_t ts_us);

/* Plays the records up to until_us (at most max of them, 0: no limit) into
 * m, each through the observer first; the position becomes until_us (or the
 * last record's time when max stopped it). Returns the records played. */
int cpt_replay_run(cpt_replay *rp, cpt_model *m, int64_t until_us, int max);

/* The time of a checkpoint starting or ending nearest after (dir > 0) or
 * before (dir < 0) the position, the position moved there (m replayed to
 * it). Returns false (nothing moved) when there is none. */
bool cpt_replay_find_cp(cpt_replay *rp, cpt_model *m, int dir);

/* The playback clock. cpt_replay_play advances the position by the
 * monotonic time since its last call times the speed (every record left,
 * a bounded batch per call, at speed 0) unless paused; the first call, and
 * the first after a pause or resume, only sets the clock. Returns the
 * records played. */
int cpt_replay_play(cpt_replay *rp, cpt_model *m, int64_t mono_us);
void cpt_replay_pause(cpt_replay *rp, bool paused);
/* Steps the speed up (+1) or down (-1) through 1×, 2×, 10×, 100×, max. */
void cpt_replay_speed(cpt_replay *rp, int step);

/* ------------------------------------------------------------ the keys */

/* What a replay key asks for (cpt_ui fills one, cpt_replay_do does it). */
typedef enum cpt_replay_op {
    CPT_RP_NONE = 0,
    CPT_RP_PAUSE,       /* pause, or resume */
    CPT_RP_NEXT_CP,     /* to the next checkpoint event (one started or ended) */
    CPT_RP_PREV_CP,     /* to the previous one */
    CPT_RP_STEP,        /* step_us forward (negative: back) */
    CPT_RP_JUMP,        /* to the time typed in text */
    CPT_RP_START,       /* rewind to the start */
    CPT_RP_END,         /* to the end */
    CPT_RP_FASTER,      /* the next speed up */
    CPT_RP_SLOWER,      /* the next speed down */
} cpt_replay_op;

typedef struct cpt_replay_req {
    int op;             /* cpt_replay_op */
    int64_t step_us;    /* CPT_RP_STEP */
    char text[64];      /* CPT_RP_JUMP: HH:MM[:SS], -5m (before the end), +30s (after
                           the start), @EPOCH, YYYY-MM-DDTHH:MM[:SS] */
} cpt_replay_req;

/* Does what req asks to rp and m (m is replayed to the new position). msg
 * (size bytes) gets a line for the status bar: where it went, or why not
 * (a time that is not one, or outside the recording, names itself).
 * Returns true when it moved or changed the clock, false when refused. */
bool cpt_replay_do(cpt_replay *rp, cpt_model *m, const cpt_replay_req *req, char *msg,
                   size_t size);

#endif /* CPT_REPLAY_H */
