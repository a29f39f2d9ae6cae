/*
 * cpt_advice.h — tuning advice from what a job's checkpoints actually did.
 *
 * A pure engine over a cpw_state (the history cptop holds, live or from a
 * get_state): no curses, no I/O, no clock (the caller passes "now"). It is a
 * table of rules, one per kind of advice (timeout, interval, tolerable
 * failures, trends, alignment, straggler skew, storage, start delay); each
 * rule that has something to say fills one item: a title, the settings it
 * recommends (Flink key names, values as Flink durations), the rule it
 * applied stated in words, and the evidence it read from the history.
 *
 * The dashboard's Advice screen, its summary's timeout line and
 * `cptop --advise` all read their advice from here: one source of truth.
 *
 * Every string from the job (operator names) is sanitised before it goes
 * into an item. Reentrant; nothing is shared between calls.
 */
#ifndef CPT_ADVICE_H
#define CPT_ADVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpw_state.h"

typedef enum cpt_adv_err {
    CPT_ADV_OK = 0,
    CPT_ADV_ERR_NOMEM,       /* out of memory */
    CPT_ADV_ERR_KEY,         /* what-if: a key the engine cannot replay */
    CPT_ADV_ERR_VALUE,       /* what-if or a budget: a value that does not parse */
    CPT_ADV_ERR__COUNT
} cpt_adv_err;

/* Static text of an error; never NULL. */
const char *cpt_adv_strerror(cpt_adv_err e);

/* The kinds of advice, in the order they are shown. */
typedef enum cpt_adv_kind {
    CPT_ADV_TIMEOUT = 0,
    CPT_ADV_INTERVAL,
    CPT_ADV_TOLERABLE,
    CPT_ADV_TREND,
    CPT_ADV_ALIGNMENT,
    CPT_ADV_SKEW,
    CPT_ADV_STORAGE,
    CPT_ADV_BACKPRESSURE,
    CPT_ADV__COUNT
} cpt_adv_kind;

/* Short stable name of a kind ("timeout", "alignment", …); never NULL. */
const char *cpt_adv_kind_name(cpt_adv_kind k);

typedef enum cpt_adv_level {
    CPT_ADV_FINE = 0,        /* the setting fits what was seen */
    CPT_ADV_INFO,            /* could be better */
    CPT_ADV_WARN,            /* close to a limit, or a cause worth acting on */
    CPT_ADV_BAD,             /* checkpoints fail (or would) because of it */
} cpt_adv_level;

const char *cpt_adv_level_name(cpt_adv_level l);

#define CPT_ADV_MAX_SETTINGS 4
#define CPT_ADV_MAX_EVIDENCE 8
#define CPT_ADV_TEXT 200
#define CPT_ADV_VALUE 32

/* One recommended setting. value is what to set, current what the job
 * announced ("" when it did not say). */
typedef struct cpt_adv_setting {
    char key[64];
    char value[CPT_ADV_VALUE];
    char current[CPT_ADV_VALUE];
} cpt_adv_setting;

typedef struct cpt_adv_item {
    cpt_adv_kind kind;
    cpt_adv_level level;
    char title[CPT_ADV_TEXT];        /* one line: what was found */
    char rule[CPT_ADV_TEXT];         /* the rule applied, in words */
    int n_settings;                  /* 0: no setting fixes it (the title says what does) */
    cpt_adv_setting settings[CPT_ADV_MAX_SETTINGS];
    int n_evidence;
    char evidence[CPT_ADV_MAX_EVIDENCE][CPT_ADV_TEXT];
} cpt_adv_item;

/* What a recording saw of checkpoint id: the wall times of the first and
 * the last of its subtasks' events (barriers, snapshots, acknowledgements)
 * within one process of the job. Events after a checkpoint expired (a
 * stalled barrier that moved on, a late snapshot) say it was still in
 * progress then: it needed at least that long. A live history keeps none
 * of this; a replay sees it (cptop --advise --replay). */
typedef struct cpt_adv_seen {
    int64_t id;
    int64_t first_us, last_us;
} cpt_adv_seen;

/* What the caller knows beyond the state, and the user's budgets. */
typedef struct cpt_adv_opts {
    int64_t now_us;              /* wall clock µs (for "a restart now replays …") */
    double records_per_s;        /* into the sources, from heartbeats; 0: unknown */
    int max_overhead_pct;        /* --max-overhead: share of time checkpointing (0: 10 %) */
    int64_t max_replay_us;       /* --max-replay: input a restart may replay (0: no budget) */
    const cpt_adv_seen *seen;    /* what a recording saw of checkpoints (NULL: nothing): */
    int n_seen;                  /* the timeout advice uses it on expired ones */
} cpt_adv_opts;

/* The job's checkpoint configuration as its hello announced it. */
typedef struct cpt_adv_conf {
    int64_t interval_us, timeout_us, min_pause_us, aligned_timeout_us; /* -1: not said */
    int max_concurrent, tolerable;                                      /* -1: not said */
    bool unaligned;
} cpt_adv_conf;

typedef struct cpt_advice {
    cpt_adv_conf conf;
    int completed, failed;           /* in the history read */
    int n;                           /* items, in cpt_adv_kind order */
    cpt_adv_item items[CPT_ADV__COUNT];
    /* the timeout line of the summary screen, with its level */
    char headline[CPT_ADV_TEXT];
    cpt_adv_level headline_level;
} cpt_advice;

/* Reads the checkpointing keys of a hello's configuration. */
void cpt_advice_conf(const cpw_hello *h, cpt_adv_conf *out);

/* Runs every rule over st's history. Allocates only temporaries. OK or
 * NOMEM (out then holds no items). */
cpt_adv_err cpt_advice_compute(const cpw_state *st, const cpt_adv_opts *o, cpt_advice *out);

/* The item of kind k in a, or NULL when that rule had nothing to say. */
const cpt_adv_item *cpt_advice_find(const cpt_advice *a, cpt_adv_kind k);

/* Rounds a duration up to the next value a person would write in a
 * flink-conf ("200 ms", "15 s", "2 min", "1 h"); fills out and returns
 * the rounded µs. down: to the one at or below instead. */
int64_t cpt_advice_round_dur(int64_t us, bool down, char *out, size_t size);

/* ------------------------------------------------------------ what-if */

#define CPT_WHATIF_IDS 64

/* What the history would have looked like with KEY=VALUE. */
typedef struct cpt_whatif {
    char key[64], value[CPT_ADV_VALUE];
    int considered;                  /* finished checkpoints replayed */
    int changed;                     /* of them: the outcome differs */
    int n_ids;                       /* the first CPT_WHATIF_IDS of those ids, newest first */
    int64_t ids[CPT_WHATIF_IDS];
    /* timeout: the expired ones that might have completed with it (they
     * expired before it), newest first; not counted in changed */
    int n_maybe;
    int64_t maybe[CPT_WHATIF_IDS];
    int n_lines;
    char lines[CPT_ADV_MAX_EVIDENCE][CPT_ADV_TEXT];
} cpt_whatif;

/* Replays the history with one setting changed. Keys (Flink names; the
 * "execution.checkpointing." prefix may be left out): timeout (which
 * completed checkpoints would have expired, which expired ones might have
 * completed), tolerable-failed-checkpoints (where the job would have been
 * restarted), aligned-checkpoint-timeout (which would have gone unaligned).
 * KEY, VALUE or a NOMEM error; err names the bad input. */
cpt_adv_err cpt_advice_what_if(const cpw_state *st, const char *key, const char *value,
                               cpt_whatif *out, char *err, size_t err_size);

/* cpt_advice_what_if with what a recording saw (seen[0 … n_seen), in any
 * order; NULL, 0: nothing): a timeout what-if then tells an expired
 * checkpoint that was still in progress past the value (it would have
 * expired anyway) from one that might have completed. */
cpt_adv_err cpt_advice_what_if_seen(const cpw_state *st, const cpt_adv_seen *seen, int n_seen,
                                    const char *key, const char *value, cpt_whatif *out,
                                    char *err, size_t err_size);

#endif /* CPT_ADVICE_H */
