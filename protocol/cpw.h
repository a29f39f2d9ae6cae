/*
 * cpw.h — cptop's wire protocol: message types, encoders and a hostile-input
 * decoder. See protocol/PROTOCOL.md for the format itself.
 *
 * This is libcpwire: internal to cptop (linked into libcpagent, where it is
 * hidden, into cptop and into the tests), not installed. It is the bottom
 * layer: it includes nothing of agent/, tui/ or demo-job/ (ARCHITECTURE.md,
 * "Layers, and which may use which").
 *
 * Encoding uses a small JSON writer (cpw_buf) tuned for the agent's hot
 * path; decoding of events uses a strict streaming parser (cpw_json.c) and
 * everything structured (hello, heartbeat, commands, replies, state) is
 * decoded with jansson. Thread-safety: all functions are reentrant; a
 * cpw_buf or cpw_msg must not be shared between threads without a lock.
 */
#ifndef CPW_H
#define CPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPW_VERSION 1

/* ---------------------------------------------------------------------------
 * The event vocabulary: what a job reports and a dashboard folds.
 *
 * The agent's public header (cpagent.h) has its own copy of these types for
 * jobs (a stable ABI); the agent converts at its edge (agent/cpa_wire.c) and
 * checks at compile time that both copies agree. The protocol knows nothing
 * of the agent.
 * ------------------------------------------------------------------------ */

/* Limits of the vocabulary (bytes include the NUL). */
#define CPW_TEXT_MAX        160   /* reason, message, error text */
#define CPW_NAME_MAX        64    /* operator names, job name, config keys */
#define CPW_KIND_MAX        32    /* failure kinds */
#define CPW_MAX_OPERATORS   64
#define CPW_MAX_PARALLELISM 1024  /* subtasks of one operator */
#define CPW_MAX_SUBTASKS    8192  /* subtasks of all operators together */
#define CPW_MAX_EDGES       256
#define CPW_MAX_CONFIG      64    /* job configuration entries */
#define CPW_VALUE_MAX       256   /* config value bytes */

typedef enum cpw_event_type {
    CPW_EV_NONE = 0,
    CPW_EV_CP_TRIGGERED,        /* coordinator started checkpoint cp_id */
    CPW_EV_BARRIER_INJECTED,    /* a source subtask put barrier cp_id in its output */
    CPW_EV_BARRIER_RECEIVED,    /* barrier cp_id reached op/subtask on an input channel */
    CPW_EV_ALIGNMENT_START,     /* first barrier in, channel blocked (EXACTLY_ONCE) */
    CPW_EV_ALIGNMENT_END,       /* last barrier in, channels released */
    CPW_EV_SNAPSHOT_START,      /* subtask begins its snapshot */
    CPW_EV_SNAPSHOT_SYNC_DONE,  /* synchronous part (state copy) finished */
    CPW_EV_SNAPSHOT_ASYNC_DONE, /* asynchronous part (upload) finished */
    CPW_EV_ACK,                 /* subtask acknowledged cp_id */
    CPW_EV_DECLINE,             /* subtask declined cp_id */
    CPW_EV_CP_COMPLETED,        /* all subtasks acked, _metadata written */
    CPW_EV_CP_FAILED,           /* expired, declined, aborted, storage, task failure */
    CPW_EV_CP_COMMITTED,        /* the sink committed cp_id's transaction */
    CPW_EV_JOB_STATUS,          /* job running / failing / restarting / failed */
    CPW_EV_RESTORED,            /* job (re)started from checkpoint cp_id (0: none) */
    CPW_EV_FAILURE_INJECTED,    /* a failure was injected at op/subtask */
    CPW_EV_TASK_FAILED,         /* a subtask failed */
    CPW_EV_SWITCHED_TO_UNALIGNED, /* an aligned checkpoint went unaligned at op/subtask */
    CPW_EV__COUNT
} cpw_event_type;

typedef enum cpw_trigger_kind {
    CPW_TRIGGER_PERIODIC = 0,
    CPW_TRIGGER_MANUAL = 1,
} cpw_trigger_kind;

/* How a checkpoint's barriers travel, chosen when it is triggered (Flink's
 * CheckpointOptions.AlignmentType, with the aligned-checkpoint-timeout). */
typedef enum cpw_alignment {
    CPW_ALIGN_ALIGNED = 0,      /* barriers wait behind records; subtasks align */
    CPW_ALIGN_UNALIGNED = 1,    /* barriers overtake records, which become channel state */
    CPW_ALIGN_TIMEOUT = 2,      /* aligned; a subtask goes unaligned after the timeout */
    CPW_ALIGN__COUNT
} cpw_alignment;

/* Why a checkpoint failed; names follow Flink's CheckpointFailureReason. */
typedef enum cpw_failure_reason {
    CPW_FAIL_EXPIRED = 0,          /* CHECKPOINT_EXPIRED */
    CPW_FAIL_DECLINED,             /* CHECKPOINT_DECLINED */
    CPW_FAIL_ABORTED,              /* aborted by the user (cptop / command) */
    CPW_FAIL_ASYNC_EXCEPTION,      /* CHECKPOINT_ASYNC_EXCEPTION */
    CPW_FAIL_IO,                   /* IO_EXCEPTION: storage write or metadata failed */
    CPW_FAIL_TASK_FAILURE,         /* a task failed while it was in flight */
    CPW_FAIL_NOT_ALL_RUNNING,      /* NOT_ALL_REQUIRED_TASKS_RUNNING */
    CPW_FAIL_TOO_MANY_REQUESTS,    /* TOO_MANY_CHECKPOINT_REQUESTS */
    CPW_FAIL_SUBSUMED,             /* CHECKPOINT_SUBSUMED */
    CPW_FAIL__COUNT
} cpw_failure_reason;

typedef enum cpw_job_status {
    CPW_JOB_CREATED = 0,
    CPW_JOB_RUNNING,
    CPW_JOB_FAILING,
    CPW_JOB_RESTARTING,
    CPW_JOB_FAILED,
    CPW_JOB_FINISHED,
    CPW_JOB__COUNT
} cpw_job_status;

/* Wire names of the enums above; static strings, NULL when out of range. */
const char *cpw_event_type_name(cpw_event_type t);
const char *cpw_failure_reason_name(cpw_failure_reason r);
const char *cpw_job_status_name(cpw_job_status s);
const char *cpw_alignment_name(cpw_alignment a);

/* Per-subtask acknowledgement figures; names and units as Flink's REST API. */
typedef struct cpw_ack_info {
    int64_t state_size;         /* bytes of full state */
    int64_t checkpointed_size;  /* bytes written for this checkpoint */
    int64_t processed_data;     /* bytes processed during alignment */
    int64_t persisted_data;     /* in-flight bytes persisted (unaligned) */
    int64_t start_delay_us;     /* trigger → first barrier at this subtask */
    int64_t alignment_us;       /* first → last barrier */
    int64_t sync_us;            /* checkpoint.sync */
    int64_t async_us;           /* checkpoint.async */
    int32_t unaligned;          /* 1 if taken as an unaligned checkpoint */
} cpw_ack_info;

/* One event. op/subtask are -1 for job-wide events; ts_us is wall-clock µs. */
typedef struct cpw_event {
    cpw_event_type type;
    int32_t op;
    int32_t subtask;
    int64_t cp_id;
    int64_t ts_us;
    union {
        struct { cpw_trigger_kind kind;
                 cpw_alignment alignment; } triggered;               /* CP_TRIGGERED */
        struct { int32_t channel; } barrier;                         /* BARRIER_RECEIVED */
        struct { int64_t buffered_bytes; int64_t duration_us; } alignment; /* ALIGNMENT_END */
        struct { int64_t duration_us; } sync;                        /* SNAPSHOT_SYNC_DONE */
        struct { int64_t bytes; int64_t duration_us; } async;        /* SNAPSHOT_ASYNC_DONE */
        cpw_ack_info ack;                                            /* ACK */
        struct { char reason[CPW_TEXT_MAX]; } decline;               /* DECLINE */
        struct { int64_t duration_us; int64_t state_size;
                 int64_t checkpointed_size; } completed;             /* CP_COMPLETED */
        struct { cpw_failure_reason reason;
                 char message[CPW_TEXT_MAX]; } failed;               /* CP_FAILED */
        struct { cpw_job_status status;
                 char message[CPW_TEXT_MAX]; } job_status;           /* JOB_STATUS */
        struct { int32_t attempt; } restored;                        /* RESTORED */
        struct { char kind[CPW_KIND_MAX];
                 char params[CPW_TEXT_MAX]; } failure;               /* FAILURE_INJECTED */
        struct { char error[CPW_TEXT_MAX]; } task_failed;            /* TASK_FAILED */
        struct { int64_t elapsed_us; int64_t timeout_us; } switched; /* SWITCHED_TO_UNALIGNED */
    } u;
} cpw_event;

/* Commands a dashboard may send. */
typedef enum cpw_cmd_type {
    CPW_CMD_GET_STATE = 0,
    CPW_CMD_TRIGGER,
    CPW_CMD_ABORT,
    CPW_CMD_INJECT_FAILURE,
    CPW_CMD_SET_CONFIG,
    CPW_CMD_CANCEL,             /* cancel the job (Flink's PATCH /jobs/:jid?mode=cancel) */
    CPW_CMD__COUNT
} cpw_cmd_type;

#define CPW_CMD_MAX_PARAMS 16

/* A command proper (what the job's handler gets). */
typedef struct cpw_cmd {
    cpw_cmd_type type;
    int64_t cp_id;                           /* ABORT: the checkpoint */
    char kind[CPW_KIND_MAX];                 /* INJECT_FAILURE: e.g. "kill" */
    int32_t op, subtask;                     /* INJECT_FAILURE target, -1 if none */
    int n_params;                            /* INJECT_FAILURE params / SET_CONFIG pairs */
    char keys[CPW_CMD_MAX_PARAMS][CPW_NAME_MAX];
    char values[CPW_CMD_MAX_PARAMS][CPW_VALUE_MAX];
} cpw_cmd;

/* Limits. A decoder refuses anything beyond them with a specific error. */
#define CPW_MAX_FRAME      (16u * 1024 * 1024) /* bytes in one SP message */
#define CPW_MAX_STRING     4096                /* bytes in any one JSON string */
#define CPW_MAX_DEPTH      16                  /* nesting of arrays/objects */
#define CPW_MAX_BATCH      4096                /* messages in one frame */
#define CPW_MAX_FIELDS     64                  /* members of one object */
#define CPW_MAX_JOB_ID     64                  /* job id bytes incl. NUL */
#define CPW_MAX_INFLIGHT   32                  /* in-flight checkpoints tracked */
#define CPW_MAX_HISTORY    100000              /* history entries in a state */
#define CPW_NONCE_HEX      32                  /* hex chars of a command nonce */
#define CPW_INSTANCE_HEX   32                  /* hex chars of an agent instance id */
#define CPW_MAC_HEX        64                  /* hex chars of an HMAC-SHA256 */

/* ---------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */
typedef enum cpw_err {
    CPW_OK = 0,
    CPW_ERR_EMPTY,          /* no bytes, or only whitespace */
    CPW_ERR_TOO_LARGE,      /* frame longer than CPW_MAX_FRAME */
    CPW_ERR_NUL_BYTE,       /* raw NUL byte, or \u0000 in a string */
    CPW_ERR_BAD_UTF8,       /* invalid UTF-8 (bytes or escaped surrogates) */
    CPW_ERR_TOO_DEEP,       /* nesting deeper than CPW_MAX_DEPTH */
    CPW_ERR_TRUNCATED,      /* input ended inside a value */
    CPW_ERR_SYNTAX,         /* not JSON */
    CPW_ERR_TRAILING,       /* bytes after the message (not a batch separator) */
    CPW_ERR_NOT_OBJECT,     /* a message that is not a JSON object */
    CPW_ERR_DUPLICATE_KEY,  /* an object names a member twice */
    CPW_ERR_TOO_MANY,       /* too many members, batch entries, operators, … */
    CPW_ERR_STRING_TOO_LONG,/* a string beyond its limit */
    CPW_ERR_MISSING_FIELD,  /* a required field is absent */
    CPW_ERR_WRONG_TYPE,     /* a field has the wrong JSON type */
    CPW_ERR_BAD_VALUE,      /* right type, value out of range or not allowed */
    CPW_ERR_VERSION,        /* "v" newer (major) than this build speaks */
    CPW_ERR_UNKNOWN_TYPE,   /* "type" names no message we know */
    CPW_ERR_NOMEM,
    CPW_ERR__COUNT
} cpw_err;

/* Static description of an error code; never NULL. */
const char *cpw_strerror(cpw_err e);
/* Short stable token of an error code ("truncated", "bad_utf8", …). */
const char *cpw_err_name(cpw_err e);

/* Where and why a decode failed. `field` names the member (or is empty),
 * `offset` is the byte offset in the frame, `text` a one-line explanation. */
typedef struct cpw_error {
    cpw_err code;
    size_t offset;
    char field[48];
    char text[160];
} cpw_error;

/* ---------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */
typedef enum cpw_kind {
    CPW_K_EVENT = 1,   /* one of cpw_event_type; in msg.ev */
    CPW_K_HELLO,       /* msg.hello */
    CPW_K_HEARTBEAT,   /* msg.heartbeat */
    CPW_K_COMMAND,     /* msg.cmd */
    CPW_K_REPLY,       /* msg.reply */
    CPW_K_UNKNOWN,     /* a type this build does not know (frames only):
                          envelope fields only, so seq tracking stays whole */
} cpw_kind;

typedef struct cpw_op {
    char name[CPW_NAME_MAX];
    int parallelism;
} cpw_op;

typedef struct cpw_edge {
    int from, to;
    char kind[16];
} cpw_edge;

/* The failure kinds a job offers (its failure table, announced in hello):
 * what a dashboard's menu shows and what inject_failure accepts. */
#define CPW_MAX_FAILURE_KINDS  32
#define CPW_FAILURE_MAX_PARAMS 4
#define CPW_PARAM_NAME_MAX     32
#define CPW_UNIT_MAX           16

typedef struct cpw_param {
    char name[CPW_PARAM_NAME_MAX];  /* the KEY of KEY=VALUE: [a-z0-9_-] */
    char unit[CPW_UNIT_MAX];        /* "ms", "s", "us", "count" or "" */
    int64_t min, max, def;          /* inclusive range, min <= def <= max */
    char help[CPW_TEXT_MAX];        /* one line */
} cpw_param;

typedef struct cpw_failure_kind {
    char kind[CPW_KIND_MAX];        /* [a-z0-9-], e.g. "stall" */
    char label[CPW_TEXT_MAX];       /* one line for menus */
    bool subtask;                   /* needs an operator and a subtask */
    int n_params;
    cpw_param params[CPW_FAILURE_MAX_PARAMS];
} cpw_failure_kind;

/* hello: who the job is and its shape. */
typedef struct cpw_hello {
    char name[CPW_NAME_MAX];
    int pid;
    int64_t start_ts_us;        /* when the agent started (wall µs); 0: unknown */
    char agent_version[16];
    /* this run of the agent: random at every cpa_start() (PROTOCOL.md §7);
     * "" when the agent did not say (before 0.2) */
    char instance[CPW_INSTANCE_HEX + 1];
    int n_ops;
    cpw_op ops[CPW_MAX_OPERATORS];
    int n_edges;
    cpw_edge edges[CPW_MAX_EDGES];
    int n_config;
    char config_keys[CPW_MAX_CONFIG][CPW_NAME_MAX];
    char config_values[CPW_MAX_CONFIG][CPW_VALUE_MAX];
    bool has_failures;          /* the job announced a failure table (maybe empty) */
    int n_failures;
    cpw_failure_kind failures[CPW_MAX_FAILURE_KINDS];
} cpw_hello;

typedef struct cpw_subtask_metrics {
    int32_t op, subtask;
    int64_t records_in, records_out;
    int32_t queue_fill_permille;  /* 0..1000 */
    int32_t backpressured;        /* 0/1 */
} cpw_subtask_metrics;

/* heartbeat: per-subtask counters and the agent's own counters. */
typedef struct cpw_heartbeat {
    uint64_t emitted, sent, dropped;
    int n;
    cpw_subtask_metrics *subtasks;  /* n entries, owned by the message */
} cpw_heartbeat;

/* A command request (dashboard → agent). */
typedef struct cpw_command {
    uint64_t req;                 /* request id chosen by the client */
    cpw_cmd c;                /* the command proper */
    int history;                  /* get_state: history entries wanted (-1: default) */
    /* the agent run it is for (its hello's instance), signed with the
     * envelope's job id: a command for another job, or one replayed after
     * a restart, is refused (PROTOCOL.md §12); "" when absent */
    char instance[CPW_INSTANCE_HEX + 1];
    char nonce[CPW_NONCE_HEX + 1];/* tcp auth: random hex, "" when absent */
    bool has_mac;                 /* a "mac" member is present */
} cpw_command;

struct cpw_state;

/* A reply (agent → dashboard). */
typedef struct cpw_reply {
    uint64_t req;
    bool ok;
    char error[32];               /* error token when !ok ("auth", "unsupported", …; PROTOCOL.md §9) */
    char message[CPW_TEXT_MAX];
    struct cpw_state *state;      /* get_state only; owned by the message */
} cpw_reply;

/* One decoded message. Free with cpw_msg_clear(). */
typedef struct cpw_msg {
    int v;
    cpw_kind kind;
    char job[CPW_MAX_JOB_ID];
    uint64_t seq;
    int64_t ts_us;
    cpw_event ev;                 /* CPW_K_EVENT */
    cpw_hello *hello;             /* CPW_K_HELLO, owned */
    cpw_heartbeat heartbeat;      /* CPW_K_HEARTBEAT */
    cpw_command *cmd;             /* CPW_K_COMMAND, owned */
    cpw_reply *reply;             /* CPW_K_REPLY, owned */
    /* Set by cpw_decode_frame: the message's object is bytes [at, at+span)
     * of its frame; whole when it is an event with no member this build
     * does not read (a recorder may then keep its fields, cpw_pack.h). */
    size_t at, span;
    bool whole;
} cpw_msg;

/* Releases what a decoded message owns and zeroes it. NULL is fine. */
void cpw_msg_clear(cpw_msg *m);

/* ---------------------------------------------------------------------------
 * Encoding: a growable output buffer
 * ------------------------------------------------------------------------ */
typedef struct cpw_buf {
    char *data;
    size_t len, cap;
    bool failed;    /* an allocation failed; contents are incomplete */
} cpw_buf;

void cpw_buf_init(cpw_buf *b);
void cpw_buf_free(cpw_buf *b);
void cpw_buf_reset(cpw_buf *b);               /* len = 0, keeps memory */
bool cpw_buf_reserve(cpw_buf *b, size_t extra);

/* Envelope fields shared by every encoded message. */
typedef struct cpw_envelope {
    const char *job;
    uint64_t seq;
    int64_t ts_us;
} cpw_envelope;

/* Each appends one compact JSON object (no newline) to b. */
void cpw_encode_event(cpw_buf *b, const cpw_envelope *env, const cpw_event *ev);
void cpw_encode_hello(cpw_buf *b, const cpw_envelope *env, const cpw_hello *h);
void cpw_encode_heartbeat(cpw_buf *b, const cpw_envelope *env, const cpw_heartbeat *hb);
/* A command; cmd->instance is written when set. When secret is non-NULL the
 * message gets a nonce (generated if cmd->nonce is empty) and ends with an
 * HMAC-SHA256 "mac" over everything before it, the envelope's job and the
 * instance included (see PROTOCOL.md §12). */
void cpw_encode_command(cpw_buf *b, const cpw_envelope *env, const cpw_command *cmd,
                        const unsigned char *secret, size_t secret_len);
/* A reply; state (may be NULL) is written as "result" for get_state. */
void cpw_encode_reply(cpw_buf *b, const cpw_envelope *env, const cpw_reply *r,
                      const struct cpw_state *state, int history);

/* ---------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------ */

/* Decodes exactly one message (one JSON object, optional surrounding
 * whitespace). On error returns the code, fills err (if non-NULL) and leaves
 * out cleared. */
cpw_err cpw_decode_one(const char *buf, size_t len, cpw_msg *out, cpw_error *err);

/*
 * Decodes a frame: one message, a JSON array of messages, or messages one
 * per line (NDJSON). Calls cb for each message in order; the message is
 * cleared after cb returns, so cb must copy what it keeps (or steal owned
 * pointers, setting them to NULL). A non-zero return from cb stops decoding
 * (cpw_decode_frame then returns CPW_OK). The whole frame is decoded before
 * the first callback, so a frame with any bad message delivers nothing. A
 * message of a type this build does not know is delivered as CPW_K_UNKNOWN
 * with its envelope only. Returns the number delivered via *count.
 */
typedef int (*cpw_msg_cb)(void *opaque, cpw_msg *m);
cpw_err cpw_decode_frame(const char *buf, size_t len, cpw_msg_cb cb, void *opaque,
                         size_t *count, cpw_error *err);

/* ---------------------------------------------------------------------------
 * Command authentication (HMAC-SHA256 over the bytes before the mac member)
 * ------------------------------------------------------------------------ */

/* Checks that buf ends with `,"mac":"<64 hex>"}` (whitespace allowed after)
 * and that the mac matches HMAC-SHA256(secret, bytes before `,"mac"`).
 * Constant-time compare. Returns true when valid. */
bool cpw_verify_mac(const char *buf, size_t len, const unsigned char *secret,
                    size_t secret_len);

/* Fills out (CPW_NONCE_HEX+1 bytes) with a random hex nonce. */
bool cpw_random_hex(char *out, size_t hex_chars);

/* ---------------------------------------------------------------------------
 * Name tables
 * ------------------------------------------------------------------------ */
const char *cpw_command_name(cpw_cmd_type t);
/* Reverse lookups; return -1 when the name is unknown. */
int cpw_event_type_from_name(const char *s, size_t n);
int cpw_failure_reason_from_name(const char *s, size_t n);
int cpw_job_status_from_name(const char *s, size_t n);
int cpw_alignment_from_name(const char *s, size_t n);
int cpw_command_from_name(const char *s, size_t n);

/* Whether a checkpoint failure counts against tolerable-failed-checkpoints.
 * As Flink's failure manager: not a subsumed checkpoint or a refused request;
 * and not a user's abort or a task failure (the job restarts for that one
 * anyway), so the job and every dashboard count alike. */
bool cpw_failure_counts(cpw_failure_reason r);

/*
 * Sanitising: every string from a job or from disk goes through one of these
 * two before a terminal or a script sees it (PROTOCOL.md §2).
 *
 * cpw_sanitize(), for text shown to people: copies in (NULL is "") to out
 * with each hidden character (cpw_char_hidden) and each byte that is not
 * valid UTF-8 replaced by '?'; writes at most out_size-1 bytes plus a NUL,
 * never cutting a character. Pure, reentrant.
 */
void cpw_sanitize(const char *in, char *out, size_t out_size);

/* cpw_json_sanitize(), for JSON text sent to scripts: appends json (len
 * bytes, e.g. one encoded message) to out with every hidden character inside
 * a string written as a \u escape (a surrogate pair above U+FFFF) and any
 * byte that is not UTF-8 as \ufffd. A valid JSON text keeps its meaning.
 * An allocation failure sets out->failed. Pure, reentrant. */
void cpw_json_sanitize(cpw_buf *out, const char *json, size_t len);

/* Whether code point cp must never reach a terminal as it is: C0 controls,
 * DEL, C1 controls, bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/F,
 * U+061C), the other invisible format characters (Unicode Cf, e.g. U+200B,
 * U+FEFF, tags) and U+2028/U+2029. */
bool cpw_char_hidden(uint32_t cp);

/* Decodes the UTF-8 sequence at s (avail bytes readable): its length (1–4)
 * and code point, or 0 when it is not valid UTF-8 (overlong, surrogate,
 * beyond U+10FFFF, truncated). */
size_t cpw_utf8_next(const char *s, size_t avail, uint32_t *cp);

/* Wall-clock microseconds since the epoch. */
int64_t cpw_now_us(void);
/* Monotonic microseconds. */
int64_t cpw_mono_us(void);

#endif /* CPW_H */
