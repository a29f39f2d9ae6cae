/*
 * cpt_flink_feed.h — Apache Flink's checkpoint REST answers turned into the
 * messages a job's agent would have sent: a hello with the topology of
 * /jobs/:jid (one operator per vertex) and the checkpoint config, then
 * cp_triggered, per-subtask acks (from details/subtasks), cp_completed,
 * cp_failed, restored and job_status as successive snapshots show them.
 * Those go to an emit callback (a source feeds them to the unchanged
 * cpt_model; --json prints them), so every screen works for Flink too.
 *
 * Pure and I/O-free: it is given one response at a time (the request path,
 * the HTTP status, the body) and what time it is, so tests replay recorded
 * and constructed sequences, a fuzzer feeds it garbage, and a recording
 * replays through it. It keeps the state its messages built (a cpw_state,
 * with the cluster's counts), which is what a snapshot or a resync gets,
 * and it says which detail requests are worth making next (only for
 * checkpoints in flight, only for vertices whose acks rose, and for the
 * newest checkpoints that ended between two polls, or one the user opens).
 *
 * Hostile input: bodies go through the bounded cpw_flink readers; counts
 * and sizes are clamped to the protocol's limits; times saturate. Text is
 * copied as is (cut to its field): whoever shows it sanitises it.
 * Not thread-safe: one owner.
 */
#ifndef CPT_FLINK_FEED_H
#define CPT_FLINK_FEED_H

#include "cpw.h"
#include "cpw_flink.h"
#include "cpw_state.h"

typedef struct cpt_flink_feed cpt_flink_feed;

/* Receives each derived message (valid for the call). Non-zero: the
 * receiver is going away (the feed still folds the rest). */
typedef int (*cpt_ff_emit_fn)(void *ud, const cpw_msg *m);

/* What one response was, for a caller that schedules requests. */
typedef enum cpt_ff_kind {
    CPT_FF_UNKNOWN = 0,   /* a path the feed does not read (ignored) */
    CPT_FF_CONFIG,        /* /config */
    CPT_FF_OVERVIEW,      /* /jobs/overview */
    CPT_FF_JOB,           /* /jobs/:jid */
    CPT_FF_STATS,         /* /jobs/:jid/checkpoints */
    CPT_FF_CP_CONFIG,     /* /jobs/:jid/checkpoints/config */
    CPT_FF_DETAILS,       /* /jobs/:jid/checkpoints/details/:id */
    CPT_FF_SUBTASKS,      /* /jobs/:jid/checkpoints/details/:id/subtasks/:vid */
    CPT_FF_TRIGGER,       /* /jobs/:jid/checkpoints/:triggerid */
} cpt_ff_kind;

/* What the feed knows about the cluster and the watched job (for headers). */
typedef struct cpt_ff_info {
    bool have_config;
    char version[64];            /* Flink's, "" until /config */
    int version_major, version_minor;
    int64_t refresh_ms;          /* the web refresh interval (/config) */
    bool checkpointing_off;      /* /checkpoints said it is not enabled */
    char job_state[16];          /* Flink's JobStatus name, "" unknown */
    char job_name[CPW_NAME_MAX];
    int64_t stats_us;            /* when a /checkpoints body last arrived (0: never) */
    int64_t stats_changed_us;    /* when its content last changed */
    uint64_t responses, errors, unchanged;
    cpw_flink_counts counts;     /* Flink's own counts */
} cpt_ff_info;

/* A feed for job jid (32 hex; "" takes the first job a path names).
 * history_cap/detail_cap size its state as cpw_state_new's. NULL when out
 * of memory or jid is not an id. */
cpt_flink_feed *cpt_flink_feed_new(const char *jid, int history_cap, int detail_cap,
                                   cpt_ff_emit_fn emit, void *ud);
void cpt_flink_feed_destroy(cpt_flink_feed *f);

/* What path asks for (an optional /v1 prefix and ?query ignored); *id and
 * vid (33 bytes, may be NULL) get a checkpoint id and vertex id it names. */
cpt_ff_kind cpt_flink_feed_route(const char *path, char *jid, int64_t *id, char *vid);

/*
 * Folds one response: status is the HTTP status (0: no response at all,
 * body then says why). Emits what changed. Returns the kind of response
 * it was; a body that could not be read is counted and explained in err
 * (err[0] 0 when all was well). Never fails otherwise.
 */
cpt_ff_kind cpt_flink_feed_body(cpt_flink_feed *f, const char *path, int status,
                               const char *body, size_t len, int64_t now_us, char *err,
                               size_t errsz);

/* Numbers the messages from seq + 1: a feed that takes over from a state
 * of that seq (a replay's keyframe, after a seek) continues its numbering,
 * so a model holding the state folds them rather than taking them for
 * messages the state already covers. Call before the first body. */
void cpt_flink_feed_continue(cpt_flink_feed *f, uint64_t seq);

/* The bodies come from a recording: no end is held for answers (nobody
 * asks them, and after a seek every finished checkpoint is new to this
 * feed while the recording holds no answer for it). */
void cpt_flink_feed_replaying(cpt_flink_feed *f);

/* Emits a heartbeat (a poll round that reached the cluster), so a
 * receiver knows the source is alive while nothing else changes. */
void cpt_flink_feed_alive(cpt_flink_feed *f, int64_t now_us);

/* Ends the checkpoints whose end waits for their subtasks' figures
 * (cpt_flink_feed_wanted: held) with Flink's own figures: those held 2 s
 * or more, or every one when `all`. An answer also ends them; call this
 * from the loop too, so that a JobManager that stopped answering leaves no
 * ended checkpoint in flight, and with `all` before a snapshot that will
 * not wait longer (--once at its timeout). */
void cpt_flink_feed_release(cpt_flink_feed *f, bool all, int64_t now_us);

/* The detail requests worth making now, as paths (each < 160 bytes):
 * details of every checkpoint in flight whose acknowledged count rose,
 * subtasks of every vertex whose count rose past what the feed has per
 * subtask (acks carry the subtasks' figures, never a share of the
 * vertex's); subtasks of the vertices still missing acks of a checkpoint
 * Flink showed finished while acks were missing here (it ended between
 * two polls: of those first seen finished only the newest two of a
 * /checkpoints body, at most four at once, each vertex asked once; its
 * end is emitted after their acks, or after 2 s without an answer, and
 * never before an older checkpoint's held end); and
 * those of the checkpoint cpt_flink_feed_want_detail named. An answer
 * staler than what was known is not asked again until the count rises.
 * Returns how many were written (at most max). */
int cpt_flink_feed_wanted(const cpt_flink_feed *f, char (*paths)[160], int max);

/* The user looks at finished checkpoint id's detail. When its acks were
 * placed without Flink's figures (more ended between two polls than are
 * held, or a hold was not answered), its subtasks are asked for once
 * (cpt_flink_feed_wanted) and fill the state's entry after its end: no
 * event (the fold takes no ack after an end), cpt_flink_feed_filled's
 * count moves instead. Returns whether they are being asked for. */
bool cpt_flink_feed_want_detail(cpt_flink_feed *f, int64_t id);
/* Bumped whenever a finished checkpoint's detail was filled; *id (may be
 * NULL) gets the checkpoint asked for last. */
uint64_t cpt_flink_feed_filled(const cpt_flink_feed *f, int64_t *id);
/* What a detail screen says of checkpoint id's per-subtask figures: being
 * asked for, gone from Flink's history (a 404), not given; "" nothing. */
void cpt_flink_feed_detail_note(const cpt_flink_feed *f, int64_t id, char *out, size_t size);

/* The job id ("" until known), the info, and the state built so far
 * (owned by the feed; valid until the next call). */
const char *cpt_flink_feed_jid(const cpt_flink_feed *f);
const cpt_ff_info *cpt_flink_feed_info(const cpt_flink_feed *f);
const cpw_state *cpt_flink_feed_state(const cpt_flink_feed *f);
/* A copy of that state (for a model's resync or --once), with at most
 * `history` entries (-1: all). NULL when out of memory. */
cpw_state *cpt_flink_feed_copy(const cpt_flink_feed *f, int history);
/* The jobs /jobs/overview listed last (owned by the feed). */
const cpw_flink_jobs *cpt_flink_feed_jobs(const cpt_flink_feed *f);
/* The same as the overview screen's rows (cpt_model.h): up to max into
 * out, the feed's job marked watched; returns how many jobs there are. */
typedef struct cpt_job_row cpt_job_row;
int cpt_flink_feed_job_rows(const cpt_flink_feed *f, cpt_job_row *out, int max);

/* The header's source line for this feed at now_us: Flink's version, the
 * data's age ("stale" past three polls of poll_ms and 2 s), problem (the
 * last error, "" none; a job id in its path elided), Flink's cache,
 * checkpointing off and base (the cluster's URL), in that order (a narrow
 * header cuts from the end). Pure; every piece sanitised. */
void cpt_flink_feed_describe(const cpt_flink_feed *f, const char *base, int poll_ms,
                             const char *problem, int64_t now_us, char *out, size_t size);

/* Flink's failure message as one of our reasons (a table of its texts). */
cpw_failure_reason cpt_flink_failure_reason(const char *message);

#endif /* CPT_FLINK_FEED_H */
