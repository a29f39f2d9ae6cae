/*
 * cpt_source.h — where cptop's model gets its data from: a job's agent
 * (pushed events over SP sockets, cpt_src_agent.c), a Flink JobManager's
 * REST API (polled, cpt_src_flink.c) or a recording (replayed). Screens and
 * script modes talk to a cpt_source and never know which one it is.
 *
 * A source is an opaque handle over an ops table (nng's transports, tmux's
 * window modes): each kind implements the ops it can, and tells what it can
 * do through capabilities, so a screen says "Flink has no abort request"
 * instead of offering one. Every source turns its input into the protocol's
 * messages (cpw_msg: hello, events, heartbeats) and get_state results and
 * feeds them to the unchanged cpt_model, so the dashboard, --json, --once,
 * recording and advice work the same for all of them.
 *
 * The loop: cpt_source_pollfds() says which descriptors to poll and when
 * the source next wants time (a poller's next request); after poll(),
 * cpt_source_on_ready() reads what arrived and cpt_source_tick() does what
 * is due. Both feed the model passed in (which may be NULL: then only the
 * observer sees the messages, as --json wants).
 *
 * The tap sees every raw input the source received, before it is decoded
 * (an agent's frames and replies, a REST body with its request path), so a
 * recorder can store exactly what came in and a replay source can feed it
 * back through the same decoders.
 *
 * Not thread-safe: one owner (the event loop). The blocking calls
 * (cpt_source_request, cpt_source_snapshot) are for the script modes and
 * wait at most their timeout.
 */
#ifndef CPT_SOURCE_H
#define CPT_SOURCE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpt_http.h"
#include "cpt_link.h"
#include "cpt_model.h"
#include "cpt_replay.h"
#include "cpw.h"
#include "cpw_flink.h"
#include "cpw_state.h"

typedef struct cpt_source cpt_source;

/* What a source can do; cpt_source_caps() gives them for the job as the
 * model knows it now. */
typedef enum cpt_src_cap {
    CPT_CAP_TRIGGER  = 1u << 0, /* start a checkpoint now */
    CPT_CAP_ABORT    = 1u << 1, /* abort one in-flight checkpoint */
    CPT_CAP_FAIL     = 1u << 2, /* inject failures: the job announced a failure table */
    CPT_CAP_CONFIG   = 1u << 3, /* change settings at run time */
    CPT_CAP_PUSH     = 1u << 4, /* live push (else polled: figures have an age) */
    CPT_CAP_FULL     = 1u << 5, /* a trigger may ask for a full (not incremental) checkpoint */
    CPT_CAP_JOBS     = 1u << 6, /* lists the cluster's jobs and watches another on request */
    CPT_CAP_SAVEPOINT = 1u << 7, /* takes a savepoint now (a Flink cluster) */
} cpt_src_cap;

/* What a tap callback receives. */
typedef enum cpt_tap_kind {
    CPT_TAP_AGENT_FRAME = 1,    /* one SP message from the events socket; where: its URL.
                                   Its bytes stay valid until its CPT_TAP_AGENT_END */
    CPT_TAP_AGENT_REPLY,        /* a reply on a request socket; where: the commands URL */
    CPT_TAP_HTTP_BODY,          /* a REST response body; where: "STATUS PATH" ("200 /config") */
    CPT_TAP_HTTP_ERROR,         /* a request that got no response; bytes: why; where: its path */
    CPT_TAP_AGENT_MSG,          /* a message decoded from the frame being tapped, before the
                                   model sees it: bytes is a const cpw_msg *, len its size.
                                   Every message of a frame that decodes comes, in order
                                   (none when it does not decode) */
    CPT_TAP_AGENT_END,          /* the frame being tapped is done; bytes, len: the frame */
} cpt_tap_kind;

/* Called with every raw input, before it is decoded; bytes are valid for
 * the call only (a frame's: until its end). recv_us: wall clock when it
 * arrived. */
typedef void (*cpt_tap_fn)(void *ud, cpt_tap_kind kind, const char *where, const void *bytes,
                           size_t len, int64_t recv_us);

/* Sees every message a source produces, before the model does. Returning
 * non-zero stops the current batch (the caller is going away). */
typedef int (*cpt_src_msg_fn)(void *ud, const cpw_msg *m);
/* An input the source could not decode (the model is told as well). */
typedef void (*cpt_src_bad_fn)(void *ud, const char *why);

/* A command's outcome, as the agent's reply reads (message unsanitised). */
typedef struct cpt_src_reply {
    bool ok;
    char error[32];             /* refusal token when !ok ("unsupported", "auth", …) */
    char message[CPW_TEXT_MAX];
    int64_t cp_id;              /* trigger: the checkpoint it started, 0 when unknown */
} cpt_src_reply;

/* ---------------------------------------------------------------- the API */

/* Closes everything and frees s; NULL is fine. */
void cpt_source_destroy(cpt_source *s);

/* "agent", "flink", "replay": the kind, a static string. */
const char *cpt_source_kind(const cpt_source *s);
/* What the header shows for where the data comes from (an endpoint, a URL
 * and cluster version); sanitised. */
void cpt_source_describe(const cpt_source *s, char *out, size_t size);

/* cpt_src_cap bits for the job the model describes (m may be NULL). */
unsigned cpt_source_caps(const cpt_source *s, const cpt_model *m);
/* Why the source cannot do cap, in a line for the status bar ("Flink has
 * no request that aborts a checkpoint; …"). Static text. */
const char *cpt_source_cannot(const cpt_source *s, cpt_src_cap cap);

/* The time the data the source feeds is at: now_us for a live source, the
 * replay position (recorded time) for a replay. The model's clock and the
 * screens' "now" are this. */
int64_t cpt_source_clock(const cpt_source *s, int64_t now_us);

/* Starts feeding m (which the caller owns and keeps until the next start
 * or destroy; NULL: only the observer sees the messages): connects, notes
 * the endpoint, asks for the state. The blocking calls below need no
 * start. 0, or -1 with why in err. */
int cpt_source_start(cpt_source *s, cpt_model *m, int64_t now_us, char *err, size_t errsz);

/* Fills up to max pollfds; returns how many. *next_us (if not NULL) is
 * lowered to the wall-clock time the source next wants a tick. */
int cpt_source_pollfds(const cpt_source *s, struct pollfd *pfd, int max, int64_t *next_us);
/* After poll(): reads what arrived into m (may be NULL). */
void cpt_source_on_ready(cpt_source *s, cpt_model *m, int64_t now_us);
/* Does what is due (a state request, a poll, a timeout). Call every turn. */
void cpt_source_tick(cpt_source *s, cpt_model *m, int64_t now_us);

/* A trigger asks for a full (not incremental) checkpoint with one
 * parameter "type" = "full" (cpt_source_cmd_full fills it). */
void cpt_source_cmd_full(cpw_cmd *c);
/* A savepoint is asked for as a trigger with "type" = "savepoint" and,
 * when dir is not NULL, "dir" = dir (the target directory; else the
 * cluster's default). Needs CPT_CAP_SAVEPOINT. */
void cpt_source_cmd_savepoint(cpw_cmd *c, const char *dir);

/* Sends a user command without blocking: 0, or -1 with the reason in err
 * (the source cannot do it, one is already out, it could not be sent). */
int cpt_source_send_cmd(cpt_source *s, const cpw_cmd *c, char *err, size_t errsz);
/* Whether a command is waiting for its outcome, and its name ("trigger"). */
bool cpt_source_cmd_pending(const cpt_source *s);
const char *cpt_source_cmd_name(const cpt_source *s);
/* The outcome of the command, or its timeout (timeout_ms): 1 with *ok and
 * text (sanitised, for the status line) filled, 0 while still waiting. */
int cpt_source_poll_cmd(cpt_source *s, int64_t now_us, int timeout_ms, bool *ok, char *text,
                        size_t size);

/* Blocking: one command and its outcome within timeout_ms per step. 0 with
 * *r filled (accepted or refused), or -1 with why in err (unreachable). */
int cpt_source_request(cpt_source *s, const cpw_cmd *c, int timeout_ms, cpt_src_reply *r,
                       char *err, size_t errsz);
/* Blocking: the job's state now, with at most `history` history entries
 * asked for (-1: all the source has). 0 with *out owned by the caller
 * (cpw_state_free), or -1 with why in err. */
int cpt_source_snapshot(cpt_source *s, int history, int timeout_ms, cpw_state **out, char *err,
                        size_t errsz);

/* The cluster's jobs as the source last heard of them (never blocks): up
 * to max rows into out, the watched one marked. Returns how many the
 * cluster has (may exceed max), or -1 when the source cannot list jobs
 * (cpt_source_cannot(s, CPT_CAP_JOBS) says why). */
int cpt_source_jobs(const cpt_source *s, cpt_job_row *out, int max);
/* A number that changes whenever cpt_source_jobs' answer may have; 0 when
 * the source cannot tell (ask each time). */
uint64_t cpt_source_jobs_gen(const cpt_source *s);
/* Whether the jobs' own checkpoint figures (cpt_job_row.cp) are wanted
 * now, e.g. while the overview is on screen: a source that polls them
 * for each job does so only then. Never blocks; cheap to call each turn. */
void cpt_source_want_jobs(cpt_source *s, bool on);
/* The checkpoint whose detail is on screen (0: none), each turn (cheap).
 * A polled source whose figures for a finished one are missing asks for
 * them once, fills them into m's entry when they come, and says on the
 * screen's note (m->detail_note) while it asks or when it cannot. */
void cpt_source_want_detail(cpt_source *s, cpt_model *m, int64_t cp_id);
/* Watches another job of the cluster (an id from cpt_source_jobs) from now
 * on; the caller then starts the source again on a fresh model, since the
 * state is another job's. 0, or -1 with why in err. */
int cpt_source_watch(cpt_source *s, const char *job, char *err, size_t errsz);

/* The raw-input tap and the message observer (NULL fn: none). */
void cpt_source_set_tap(cpt_source *s, cpt_tap_fn fn, void *ud);
void cpt_source_set_observer(cpt_source *s, cpt_src_msg_fn msg, cpt_src_bad_fn bad, void *ud);

/* ------------------------------------------------------ for implementations */

/* The ops of one kind. NULL ops mean "cannot": send_cmd/request refuse
 * with cpt_source_cannot()'s text, snapshot says it has none. */
typedef struct cpt_source_ops {
    const char *kind;
    void (*destroy)(void *impl);
    void (*describe)(const void *impl, char *out, size_t size);
    unsigned (*caps)(const void *impl, const cpt_model *m);
    /* indexed by bit position of a cpt_src_cap, up to a NULL (that cap and
     * later ones: a generic sentence) */
    const char *const *cannot;
    int (*start)(cpt_source *s, cpt_model *m, int64_t now_us, char *err, size_t errsz);
    int (*pollfds)(const void *impl, struct pollfd *pfd, int max, int64_t *next_us);
    void (*on_ready)(cpt_source *s, cpt_model *m, int64_t now_us);
    void (*tick)(cpt_source *s, cpt_model *m, int64_t now_us);
    int (*send_cmd)(cpt_source *s, const cpw_cmd *c, char *err, size_t errsz);
    bool (*cmd_pending)(const void *impl);
    const char *(*cmd_name)(const void *impl);
    int (*poll_cmd)(cpt_source *s, int64_t now_us, int timeout_ms, bool *ok, char *text,
                    size_t size);
    int (*request)(cpt_source *s, const cpw_cmd *c, int timeout_ms, cpt_src_reply *r, char *err,
                   size_t errsz);
    int (*snapshot)(cpt_source *s, int history, int timeout_ms, cpw_state **out, char *err,
                    size_t errsz);
    int (*jobs)(const void *impl, cpt_job_row *out, int max);
    uint64_t (*jobs_gen)(const void *impl); /* NULL: cannot tell (0) */
    void (*want_jobs)(void *impl, bool on); /* NULL: no per-job figures */
    int (*watch)(cpt_source *s, const char *job, char *err, size_t errsz);
    /* NULL: every figure a source has arrives by itself */
    void (*want_detail)(cpt_source *s, cpt_model *m, int64_t cp_id);
    /* NULL: the wall clock (live) */
    int64_t (*clock)(const void *impl, int64_t now_us);
} cpt_source_ops;

/* Wraps impl (owned from now on: ops->destroy frees it, also on failure).
 * NULL when out of memory. */
cpt_source *cpt_source_new(const cpt_source_ops *ops, void *impl);
void *cpt_source_impl(const cpt_source *s);

/* For implementations: hands raw input to the tap, and a message to the
 * observer then the model (m may be NULL). cpt_source_emit returns the
 * observer's verdict (non-zero: stop the batch). */
void cpt_source_tap(cpt_source *s, cpt_tap_kind kind, const char *where, const void *bytes,
                    size_t len, int64_t recv_us);
int cpt_source_emit(cpt_source *s, cpt_model *m, const cpw_msg *msg, int64_t now_us);
void cpt_source_bad(cpt_source *s, cpt_model *m, const char *why, int64_t now_us);

/* ------------------------------------------------------------- the kinds */

/* A job's agent (cpt_link): live push, every command. timeout_ms bounds a
 * get_state request in the loop. Nothing is connected until start (the
 * blocking calls dial for themselves). NULL with why in err. */
cpt_source *cpt_src_agent_new(const cpt_target *t, int timeout_ms, char *err, size_t errsz);

/* A job on an Apache Flink cluster, polled through its REST API. */
typedef struct cpt_src_flink_conf {
    cpt_http_conf http;       /* base URL, headers, auth, TLS, body bound, timeout */
    const char *job;          /* a job id or name; NULL: the one running */
    int poll_ms;              /* /checkpoints every poll_ms (>= 250; default 1000) */
    int history, detail;      /* the state's caps (cpw_state_new) */
    bool one_job;             /* another source lists the cluster: no /jobs/overview of
                               * its own, the job's /jobs/:jid every 5 s instead (a
                               * recorder following every job of a cluster) */
} cpt_src_flink_conf;

/* NULL with why in err (a bad URL, out of memory). Nothing is requested
 * until start or a blocking call. */
cpt_source *cpt_src_flink_new(const cpt_src_flink_conf *c, char *err, size_t errsz);
/* Blocking: the cluster's jobs (/jobs/overview), owned by the source and
 * valid until its next call; NULL with why in err. */
const cpw_flink_jobs *cpt_src_flink_jobs(cpt_source *s, int timeout_ms, char *err, size_t errsz);
/* Blocking: the cluster's jobs with each one's checkpoint figures, asked
 * for every job; waits until every job answered or timeout_ms passed (a
 * job that did not answer by then keeps cp.known false). Up to max rows
 * into out; how many the cluster has, or -1 with why in err. */
int cpt_src_flink_job_rows(cpt_source *s, int timeout_ms, cpt_job_row *out, int max, char *err,
                           size_t errsz);

/* A recording played back (cpt_src_replay.c, over cpt_replay): read-only
 * (no capability at all; every refusal says it is a replay), no
 * descriptors; each tick plays the records due at the replay clock's speed
 * into the model. Agent frames go through the protocol's decoder, recorded
 * Flink REST bodies through the Flink translator (cpt_flink_feed), as they
 * did live. */
typedef struct cpt_src_replay_conf {
    const char *path;         /* a recording, or a Flink HistoryServer archive */
    const char *job;          /* which job; NULL: the first one met */
    int history, detail;      /* the Flink translator's state caps (cpw_state_new) */
    cpt_rec_note_fn notes;    /* what the reader skipped (a damaged chunk); may be NULL */
    void *notes_ud;
} cpt_src_replay_conf;

/* Opens the recording (blocking file I/O); start puts the model at its
 * beginning, playing at 1x. NULL with why in err (it may quote the path:
 * sanitise it on its way to a terminal). */
cpt_source *cpt_src_replay_new(const cpt_src_replay_conf *c, char *err, size_t errsz);
/* The player behind a replay source (borrowed: the source owns it), for
 * the replay keys and the header; NULL when s is not a replay. */
cpt_replay *cpt_src_replay_player(cpt_source *s);

#endif /* CPT_SOURCE_H */
