/*
 * cpt_model.h — what cptop knows about one job: its checkpoint state (a
 * cpw_state folded from the event stream), the link to its agent, its
 * configuration as the job last announced it, throughput from heartbeats,
 * a bounded log of raw events, and summary statistics over the history.
 *
 * No curses and no sockets here: the event loop feeds decoded messages and
 * get_state replies in, the view reads the model out. That is what lets
 * tests replay recorded streams and assert the result (ARCHITECTURE.md,
 * "The dashboard").
 *
 * Resync (see protocol/PROTOCOL.md §5): the model asks for a get_state at
 * start, after a seq gap and when the job's process changed; until the
 * reply arrives it buffers what it receives, then installs the reply and
 * replays only messages newer than the reply's seq. History older than the
 * agent's own is kept (merged), so a dashboard never forgets what it saw.
 *
 * Not thread-safe: one owner (the event loop).
 */
#ifndef CPT_MODEL_H
#define CPT_MODEL_H

#include "cpw.h"
#include "cpw_state.h"

typedef enum cpt_link_state {
    CPT_LINK_CONNECTING = 0, /* nothing received yet */
    CPT_LINK_UP,             /* messages arriving */
    CPT_LINK_DOWN,           /* silent for CPT_SILENCE_US: the job went away */
} cpt_link_state;

#define CPT_SILENCE_US 3500000 /* heartbeats come every second */

typedef enum cpt_log_kind {
    CPT_LOG_EVENT = 0,       /* a raw event */
    CPT_LOG_NOTE,            /* something cptop itself noticed or did */
} cpt_log_kind;

typedef struct cpt_log_entry {
    int64_t ts_us;           /* event time, or when the note was made */
    uint64_t seq;            /* 0 for notes */
    uint8_t kind;            /* cpt_log_kind */
    uint8_t bad;             /* a note about something wrong */
    uint8_t filter_match;    /* cached: matches the filter of filter_gen */
    uint32_t filter_gen;
    union {
        cpw_event ev;
        char note[CPW_TEXT_MAX];
    } u;
} cpt_log_entry;

/* min / percentiles / max of one figure over the completed checkpoints in
 * the history (nearest rank). n = 0: no data. */
typedef struct cpt_stat {
    int n;
    int64_t min, p50, p90, p99, p999, max;
} cpt_stat;

typedef struct cpt_summary {
    cpt_stat duration_us, size, alignment_us;
    cpt_stat persisted;                  /* in-flight bytes, of completed unaligned/switched ones */
    int64_t persisted_total;             /* summed over every completed checkpoint */
    int completed, failed;               /* in the retained history */
    int by_type[CPW_CPT__COUNT];         /* finished ones per cpw_cp_type */
    int by_reason[CPW_FAIL__COUNT + 1];  /* failed ones per reason; last: unknown */
} cpt_summary;

/* One job of the cluster a source watches (a source with CPT_CAP_JOBS
 * lists them; the overview screen shows them). Text as the cluster sent
 * it, cut to its field: whoever shows it sanitises it. */
#define CPT_JOBS_MAX 64

/* A job's checkpoints as its overview row shows them (a source that polls
 * them fills it; known false: not heard of yet). Built from zeroed memory:
 * rows are compared bytewise. */
typedef struct cpt_job_cp {
    bool known;
    char note[24];              /* why there are no figures ("checkpointing off",
                                 * "HTTP 500", …), "" when there are */
    int64_t last_id;            /* the newest completed checkpoint, 0: none yet */
    int64_t last_end_us;        /* its last acknowledgement (wall clock) */
    int64_t last_dur_us;        /* its end-to-end duration */
    int64_t failed;             /* failed checkpoints, as the cluster counts them */
    int inflight;               /* checkpoints in flight now */
    int64_t inflight_since_us;  /* trigger of the oldest in flight, 0: none */
} cpt_job_cp;

typedef struct cpt_job_row {
    char id[CPW_MAX_JOB_ID];
    char name[128];
    char state[16];           /* the cluster's word: RUNNING, FINISHED, … */
    int64_t start_us, end_us; /* wall clock; start 0: unknown; end 0: still running */
    int tasks;                /* its subtasks, 0: unknown */
    bool watched;             /* the job this model shows */
    cpt_job_cp cp;            /* its checkpoints (not the watched one's: the model has those) */
} cpt_job_row;

typedef struct cpt_model_conf {
    int history_cap;   /* finished checkpoints kept (default 1000) */
    int detail_cap;    /* newest of them keeping per-subtask detail (default 50) */
    int log_cap;       /* event log lines kept (default 5000) */
} cpt_model_conf;

typedef struct cpt_model {
    cpt_model_conf conf;
    cpw_state *st;            /* never NULL */
    uint64_t version;         /* bumped on every visible change */

    /* link */
    char endpoint[300];
    int link;                 /* cpt_link_state */
    int64_t last_msg_us;      /* wall clock of the last message */
    int64_t link_since_us;    /* when link last changed */
    uint64_t last_seq;        /* seq of the last message received */
    uint64_t messages, events, gaps, missed, resyncs, restarts, bad_frames;
    double events_per_s;
    int64_t rate_t0;
    uint64_t rate_n0;
    bool want_state;          /* the loop should send get_state */
    bool state_pending;       /* sent, no reply yet */
    bool sent_blind;          /* sent before any message arrived */
    uint64_t dup_from, dup_to;/* seqs (dup_from, dup_to] were folded into the last state */
    int pid;                  /* the job process seen last (hello) */
    char instance[CPW_INSTANCE_HEX + 1]; /* its agent run ("": not said) */

    /* configuration, parsed from the job's announced config */
    int64_t interval_us, timeout_us, min_pause_us;  /* -1: unknown */
    int tolerable;                                  /* -1: unknown */
    char mode[24];

    /* throughput, from heartbeats */
    double records_per_s;     /* into the first operator (the sources) */
    int backpressured;        /* subtasks reporting backpressure */
    int max_queue_permille;
    int64_t hb_prev_ts, hb_prev_in;

    /* event log ring */
    cpt_log_entry *log;
    int log_n, log_head;      /* head: index of the newest */
    uint64_t log_total;       /* entries ever added (dropped = total - n) */
    char filter[64];          /* the filter the cached matches are for */
    uint32_t filter_gen;

    /* buffered during a resync */
    struct cpt_pend *pend;
    int pend_n, pend_cap;
    bool pend_overflow;

    /* the cluster's jobs, as the source last listed them (cpt_model_set_jobs) */
    cpt_job_row *jobs;        /* CPT_JOBS_MAX rows once listed, else NULL */
    int n_jobs, jobs_total;   /* shown, and how many the cluster has */
    char jobs_note[200];      /* why there is no list ("": there is one) */

    /* what the source says of a checkpoint's per-subtask figures (shown
     * on its detail screen; cpt_model_detail_note) */
    int64_t detail_note_id;
    char detail_note[200];

    /* summary cache */
    uint64_t hist_version, summary_version;
    cpt_summary summary;
} cpt_model;

/* Creates a model; conf may be NULL for defaults. NULL when out of memory. */
cpt_model *cpt_model_new(const cpt_model_conf *conf);
void cpt_model_free(cpt_model *m);

/* The loop started (or restarted) connecting to endpoint. */
void cpt_model_connecting(cpt_model *m, const char *endpoint, int64_t now_us);

/* Folds one decoded message from the event socket (event, hello, heartbeat). */
void cpt_model_on_msg(cpt_model *m, const cpw_msg *msg, int64_t now_us);

/* A frame that failed to decode (counted, and noted in the log). */
void cpt_model_on_bad_frame(cpt_model *m, const char *why, int64_t now_us);

/* The get_state request was sent / its reply arrived (the model takes
 * ownership of st) / it failed (st NULL; asked again on the next tick). */
void cpt_model_state_sent(cpt_model *m);
void cpt_model_on_state(cpt_model *m, cpw_state *st, int64_t now_us);
void cpt_model_state_failed(cpt_model *m, const char *why, int64_t now_us);

/* Time passes: link silence, event rate. Call at least once a second. */
void cpt_model_tick(cpt_model *m, int64_t now_us);

/* Adds a note to the event log (bad: shown as a problem). */
void cpt_model_note(cpt_model *m, int64_t now_us, bool bad, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Log access: i = 0 is the newest entry; NULL past the end. */
const cpt_log_entry *cpt_model_log(const cpt_model *m, int i);

/* Whether log entry i (0: newest) contains filter (always true for "");
 * cached per entry, so a frame costs a text match only for new entries. */
bool cpt_model_log_matches(cpt_model *m, int i, const char *filter);

/* One log entry as a line of text (sanitised), without the time. */
void cpt_model_log_text(const cpt_model *m, const cpt_log_entry *e, char *out, size_t size);

/* Summary over the retained history (cached until the history changes). */
const cpt_summary *cpt_model_summary(cpt_model *m);

/* The cluster's jobs as the source lists them now: the first
 * CPT_JOBS_MAX of n are kept (jobs_total says n). note: why there is no
 * list when the source cannot give one ("" or NULL otherwise). The version
 * is bumped only when something changed. 0, or -1 when out of memory. */
int cpt_model_set_jobs(cpt_model *m, const cpt_job_row *rows, int n, const char *note);

/* The source's note on checkpoint id's per-subtask figures ("" none);
 * sanitised here. The version is bumped when it changed. */
void cpt_model_detail_note(cpt_model *m, int64_t id, const char *text);
/* Per-subtask detail a source got after checkpoint from ended (the fold
 * takes no ack after an end): copied into the history entry with its id
 * and trigger time. false when there is none, or the shapes differ. */
bool cpt_model_fill_detail(cpt_model *m, const cpw_cp *from);

/* Operator name of op (sanitised), or "op<N>". */
void cpt_model_op_name(const cpt_model *m, int op, char *out, size_t size);

/* Parses a duration as Flink writes them ("500 ms", "30s", "10 min", "1h",
 * a bare number is ms) into µs; false when it is not one. */
bool cpt_parse_duration_us(const char *s, int64_t *us);

#endif /* CPT_MODEL_H */
