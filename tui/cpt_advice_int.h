/*
 * cpt_advice_int.h — internal to the advice engine's files: what every rule
 * reads (the history sorted and summed once), and the helpers that fill an
 * item.
 *
 *   cpt_advice.c         the figures, the rule table, timeout, interval
 *   cpt_advice_cause.c   tolerable failures, trends and causes
 *   cpt_advice_whatif.c  replaying the history with one setting changed
 */
#ifndef CPT_ADVICE_INT_H
#define CPT_ADVICE_INT_H

#include "cpt_advice.h"

/* The phases of a checkpoint's critical path: the subtask that
 * acknowledged last, as its ack reported them. */
enum { PATH_DELAY = 0, PATH_ALIGN, PATH_SYNC, PATH_ASYNC, PATH__COUNT };

typedef struct adv_ctx {
    const cpw_state *st;
    const cpt_adv_opts *o;
    const cpt_adv_conf *conf;
    const cpw_cp **fin;           /* finished checkpoints, oldest first */
    int n_fin;
    const cpw_cp **done;          /* of them the completed ones, oldest first */
    int n_done;
    int64_t *sorted;              /* their durations, ascending */
    int64_t p50, p90, p99, p999, max;
    int64_t mean;
    int64_t jump;                 /* largest rise between consecutive completed ones */
    int64_t jump_from, jump_to;   /* its ids */
    /* the critical paths of the completed ones that kept per-subtask detail */
    int n_path;
    int64_t path_dur;             /* their durations summed */
    int64_t path[PATH__COUNT];    /* each phase summed */
    int *last_sub;                /* per completed (n_done): the last acker, -1 unknown */
} adv_ctx;

/* Nearest rank of ascending v[0..n). */
int64_t cpt_adv_rank(const int64_t *v, int n, double q);

/* Sorts v[0..n) ascending (a copy's worth of temporaries, no allocation). */
void cpt_adv_sort(int64_t *v, int n);

/* Fills an item's fields (printf-style, truncated to fit). */
void cpt_adv_title(cpt_adv_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cpt_adv_rule(cpt_adv_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cpt_adv_evidence(cpt_adv_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cpt_adv_set(cpt_adv_item *it, const char *key, const char *value, const char *current);

/* How long after its trigger a recording saw failed checkpoint cp still in
 * progress, when that was after it ended; else 0. An entry whose first
 * event is outside cp's life is another process's checkpoint of that id. */
int64_t cpt_adv_seen_busy(const cpw_cp *cp, const cpt_adv_seen *seen, int n_seen);

/* "source#2" (sanitised) for a global subtask index. */
void cpt_adv_sub_name(const cpw_state *st, int global, char *out, size_t size);

/* The rules of cpt_advice_cause.c; each fills it and returns true when it
 * has something to say. */
bool cpt_adv_rule_tolerable(const adv_ctx *c, cpt_adv_item *it);
bool cpt_adv_rule_trend(const adv_ctx *c, cpt_adv_item *it);
bool cpt_adv_rule_alignment(const adv_ctx *c, cpt_adv_item *it);
bool cpt_adv_rule_skew(const adv_ctx *c, cpt_adv_item *it);
bool cpt_adv_rule_storage(const adv_ctx *c, cpt_adv_item *it);
bool cpt_adv_rule_backpressure(const adv_ctx *c, cpt_adv_item *it);

#endif /* CPT_ADVICE_INT_H */
