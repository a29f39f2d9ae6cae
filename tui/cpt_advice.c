/* cpt_advice.c — see cpt_advice.h; the files are listed in cpt_advice_int.h. */
#include "cpt_advice_int.h"
#include "cpt_fmt.h"
#include "cpt_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_text[CPT_ADV_ERR__COUNT] = {
    [CPT_ADV_OK] = "ok",
    [CPT_ADV_ERR_NOMEM] = "out of memory",
    [CPT_ADV_ERR_KEY] = "not a setting the history can be replayed with",
    [CPT_ADV_ERR_VALUE] = "not a value for that setting",
};

const char *cpt_adv_strerror(cpt_adv_err e)
{
    return e >= 0 && e < CPT_ADV_ERR__COUNT ? err_text[e] : "unknown error";
}

static const char *const kind_names[CPT_ADV__COUNT] = {
    "timeout", "interval", "tolerable-failures", "trend", "alignment", "skew", "storage",
    "backpressure",
};

const char *cpt_adv_kind_name(cpt_adv_kind k)
{
    return k >= 0 && k < CPT_ADV__COUNT ? kind_names[k] : "?";
}

const char *cpt_adv_level_name(cpt_adv_level l)
{
    static const char *const n[] = {"fine", "info", "warn", "bad"};
    return l >= 0 && l <= CPT_ADV_BAD ? n[l] : "?";
}

/* ------------------------------------------------------------ helpers */

#define VFILL(dst)                                   \
    do {                                             \
        va_list ap;                                  \
        va_start(ap, fmt);                           \
        vsnprintf(dst, sizeof dst, fmt, ap);         \
        va_end(ap);                                  \
    } while (0)

void cpt_adv_title(cpt_adv_item *it, const char *fmt, ...) { VFILL(it->title); }
void cpt_adv_rule(cpt_adv_item *it, const char *fmt, ...) { VFILL(it->rule); }

void cpt_adv_evidence(cpt_adv_item *it, const char *fmt, ...)
{
    if (it->n_evidence >= CPT_ADV_MAX_EVIDENCE)
        return;
    VFILL(it->evidence[it->n_evidence]);
    it->n_evidence++;
}

void cpt_adv_set(cpt_adv_item *it, const char *key, const char *value, const char *current)
{
    if (it->n_settings >= CPT_ADV_MAX_SETTINGS)
        return;
    cpt_adv_setting *s = &it->settings[it->n_settings++];
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->value, sizeof s->value, "%s", value);
    snprintf(s->current, sizeof s->current, "%s", current ? current : "");
}

void cpt_adv_sub_name(const cpw_state *st, int global, char *out, size_t size)
{
    int op = 0;
    while (op + 1 < st->hello.n_ops && st->op_base[op + 1] <= global)
        op++;
    char name[CPW_NAME_MAX];
    if (op < st->hello.n_ops && st->hello.ops[op].name[0])
        cpw_sanitize(st->hello.ops[op].name, name, sizeof name);
    else
        snprintf(name, sizeof name, "op%d", op);
    snprintf(out, size, "%s#%d", name, global - (op < st->hello.n_ops ? st->op_base[op] : 0));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void cpt_adv_sort(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
}

int64_t cpt_adv_rank(const int64_t *v, int n, double q)
{
    if (n <= 0)
        return 0;
    /* nearest rank, as the summary screen computes it */
    int k = (int)(q * n + 0.999999);
    k = k < 1 ? 1 : k > n ? n : k;
    return v[k - 1];
}

/* ------------------------------------------------------------ durations */

/* What people write in a flink-conf, ascending (ms). */
static const int64_t steps_ms[] = {
    10, 20, 50, 100, 200, 500, 1000, 2000, 3000, 5000, 10000, 15000, 20000, 30000, 45000,
    60000, 90000, 120000, 180000, 300000, 600000, 900000, 1200000, 1800000, 2700000, 3600000,
    7200000, 10800000, 21600000, 43200000, 86400000,
};
#define N_STEPS ((int)(sizeof steps_ms / sizeof steps_ms[0]))

static void flink_dur(int64_t ms, char *out, size_t size)
{
    if (ms < 1000 || ms % 1000)
        snprintf(out, size, "%lld ms", (long long)ms);
    else if (ms < 60000 || ms % 60000)
        snprintf(out, size, "%lld s", (long long)(ms / 1000));
    else if (ms < 3600000 || ms % 3600000)
        snprintf(out, size, "%lld min", (long long)(ms / 60000));
    else
        snprintf(out, size, "%lld h", (long long)(ms / 3600000));
}

int64_t cpt_advice_round_dur(int64_t us, bool down, char *out, size_t size)
{
    int64_t ms = us <= 0 ? 0 : (us + (down ? 0 : 999)) / 1000;
    int64_t r;
    if (down) {
        r = 0;
        for (int i = 0; i < N_STEPS && steps_ms[i] <= ms; i++)
            r = steps_ms[i];
        if (ms > steps_ms[N_STEPS - 1])
            r = ms / 3600000 * 3600000;
    } else {
        r = -1;
        for (int i = 0; i < N_STEPS && r < 0; i++)
            if (steps_ms[i] >= ms)
                r = steps_ms[i];
        if (r < 0)
            r = (ms + 3599999) / 3600000 * 3600000;
    }
    flink_dur(r, out, size);
    return r * 1000;
}

/* A configured value as the job wrote it ("" when not said). */
static void current_dur(int64_t us, char *out, size_t size)
{
    if (us < 0)
        out[0] = 0;
    else if (us % 1000)
        snprintf(out, size, "%lld us", (long long)us);
    else
        flink_dur(us / 1000, out, size);
}

/* ------------------------------------------------------------ configuration */

void cpt_advice_conf(const cpw_hello *h, cpt_adv_conf *c)
{
    *c = (cpt_adv_conf){.interval_us = -1, .timeout_us = -1, .min_pause_us = -1,
                        .aligned_timeout_us = -1, .max_concurrent = -1, .tolerable = -1};
    static const char pre[] = "execution.checkpointing.";
    for (int i = 0; i < h->n_config; i++) {
        const char *k = h->config_keys[i], *v = h->config_values[i];
        if (strncmp(k, pre, sizeof pre - 1))
            continue;
        k += sizeof pre - 1;
        int64_t us;
        bool dur = cpt_parse_duration_us(v, &us);
        if (!strcmp(k, "interval") && dur)
            c->interval_us = us;
        else if (!strcmp(k, "timeout") && dur)
            c->timeout_us = us;
        else if (!strcmp(k, "min-pause") && dur)
            c->min_pause_us = us;
        else if ((!strcmp(k, "aligned-checkpoint-timeout") || !strcmp(k, "alignment-timeout")) && dur)
            c->aligned_timeout_us = us;
        else if (!strcmp(k, "max-concurrent-checkpoints"))
            c->max_concurrent = atoi(v);
        else if (!strcmp(k, "tolerable-failed-checkpoints"))
            c->tolerable = atoi(v);
        else if (!strcmp(k, "unaligned.enabled") || !strcmp(k, "unaligned"))
            c->unaligned = !strcmp(v, "true");
    }
}

/* ------------------------------------------------------------ figures */

/* The subtask that acknowledged cp last, or -1 when no detail was kept. */
static int last_acker(const cpw_state *st, const cpw_cp *cp)
{
    if (!cp->subs || cp->total != st->n_subtasks || cp->total <= 0)
        return -1;
    int last = -1;
    for (int i = 0; i < cp->total; i++)
        if (cp->subs[i].phase == CPW_PH_ACKED &&
            (last < 0 || cp->subs[i].ack_ts > cp->subs[last].ack_ts))
            last = i;
    return last;
}

static void ctx_paths(adv_ctx *c)
{
    for (int i = 0; i < c->n_done; i++) {
        const cpw_cp *cp = c->done[i];
        int l = c->last_sub[i] = last_acker(c->st, cp);
        if (l < 0)
            continue;
        const cpw_sub *u = &cp->subs[l];
        c->n_path++;
        c->path_dur += cp->duration_us;
        c->path[PATH_DELAY] += u->start_delay_us;
        c->path[PATH_ALIGN] += u->alignment_us;
        c->path[PATH_SYNC] += u->sync_us;
        c->path[PATH_ASYNC] += u->async_us;
    }
}

static bool ctx_init(adv_ctx *c, const cpw_state *st, const cpt_adv_opts *o,
                     const cpt_adv_conf *conf)
{
    memset(c, 0, sizeof *c);
    c->st = st, c->o = o, c->conf = conf;
    size_t n = (size_t)st->n_history + 1;
    c->fin = malloc(n * sizeof *c->fin);
    c->done = malloc(n * sizeof *c->done);
    c->sorted = malloc(n * sizeof *c->sorted);
    c->last_sub = malloc(n * sizeof *c->last_sub);
    if (!c->fin || !c->done || !c->sorted || !c->last_sub)
        return false;
    int64_t sum = 0;
    for (int i = st->n_history - 1; i >= 0; i--) {
        const cpw_cp *cp = cpw_state_history(st, i);
        if (cp->status == CPW_CP_IN_PROGRESS)
            continue;
        c->fin[c->n_fin++] = cp;
        if (cp->status != CPW_CP_COMPLETED)
            continue;
        if (c->n_done) {
            int64_t d = cp->duration_us - c->done[c->n_done - 1]->duration_us;
            if (d > c->jump) {
                c->jump = d;
                c->jump_from = c->done[c->n_done - 1]->id;
                c->jump_to = cp->id;
            }
        }
        c->sorted[c->n_done] = cp->duration_us > 0 ? cp->duration_us : 0;
        sum += c->sorted[c->n_done];
        c->done[c->n_done++] = cp;
    }
    cpt_adv_sort(c->sorted, c->n_done);
    c->p50 = cpt_adv_rank(c->sorted, c->n_done, 0.50);
    c->p90 = cpt_adv_rank(c->sorted, c->n_done, 0.90);
    c->p99 = cpt_adv_rank(c->sorted, c->n_done, 0.99);
    c->p999 = cpt_adv_rank(c->sorted, c->n_done, 0.999);
    c->max = c->n_done ? c->sorted[c->n_done - 1] : 0;
    c->mean = c->n_done ? sum / c->n_done : 0;
    ctx_paths(c);
    return true;
}

static void ctx_free(adv_ctx *c)
{
    free(c->fin);
    free(c->done);
    free(c->sorted);
    free(c->last_sub);
}

/* How long an expired checkpoint certainly ran without finishing: its
 * duration, or the current timeout when it ran that out. The duration is
 * measured between two events' stamps, which can fall a hair inside the
 * coordinator's own expiry (its trigger event is stamped after it armed
 * the timer): within 2 % of the timeout counts as having run it out. */
static int64_t expired_after(const adv_ctx *c, const cpw_cp *cp)
{
    int64_t t = c->conf->timeout_us;
    if (t > 0 && cp->duration_us < t && cp->duration_us >= t - t / 50)
        return t;
    return cp->duration_us;
}

/* How many finished checkpoints would have expired with timeout t: the
 * completed ones that took longer, and the expired ones that had not
 * finished by t either (they expired at or after it, or a recording saw
 * them in progress then). */
static int would_expire(const adv_ctx *c, int64_t t, int *unknown)
{
    int n = 0;
    *unknown = 0;
    for (int i = 0; i < c->n_fin; i++) {
        const cpw_cp *cp = c->fin[i];
        if (cp->status == CPW_CP_COMPLETED && cp->duration_us > t)
            n++;
        else if (cp->status == CPW_CP_FAILED && cp->reason == CPW_FAIL_EXPIRED) {
            /* a recording may have seen it still in progress past t */
            if (expired_after(c, cp) >= t || cpt_adv_seen_busy(cp, c->o->seen, c->o->n_seen) >= t)
                n++;
            else
                (*unknown)++;
        }
    }
    return n;
}

/* ------------------------------------------------------------ timeout */

/* The summary screen's one line, worded as it always was. */
static void headline(const adv_ctx *c, cpt_advice *a)
{
    char t[32], p[32], d[32];
    cpt_fmt_limit(t, sizeof t, c->conf->timeout_us);
    cpt_fmt_dur(p, sizeof p, c->p99);
    if (c->conf->timeout_us <= 0 || c->n_done == 0) {
        snprintf(a->headline, sizeof a->headline, "not enough data yet (timeout %s, %d completed)", t,
                 c->n_done);
        a->headline_level = CPT_ADV_INFO;
        return;
    }
    double ratio = (double)c->conf->timeout_us / (double)(c->p99 > 0 ? c->p99 : 1);
    cpt_fmt_dur(d, sizeof d, c->p99 * 3);
    if (ratio <= 1.0) {
        snprintf(a->headline, sizeof a->headline, "timeout %s is below the p99 %s: checkpoints "
                 "expire. Raise it above %s, or find the slow phase (Enter on one)", t, p, d);
        a->headline_level = CPT_ADV_BAD;
    } else if (ratio < 3.0) {
        snprintf(a->headline, sizeof a->headline, "timeout %s is only %.1fx the p99 %s: little "
                 "headroom; %s (3x p99) would absorb a slow upload", t, ratio, p, d);
        a->headline_level = CPT_ADV_WARN;
    } else {
        snprintf(a->headline, sizeof a->headline, "timeout %s is %.0fx the p99 %s: ample headroom",
                 t, ratio, p);
        a->headline_level = CPT_ADV_FINE;
    }
}

/* The newest expired checkpoint, and why no timeout is sure to save it. */
static void expired_evidence(const adv_ctx *c, cpt_adv_item *it)
{
    const cpw_cp *x = NULL;
    int n = 0;
    for (int i = 0; i < c->n_fin; i++)
        if (c->fin[i]->status == CPW_CP_FAILED && c->fin[i]->reason == CPW_FAIL_EXPIRED)
            x = c->fin[i], n++;
    if (!x)
        return;
    char d[32], who[CPW_NAME_MAX + 16] = "";
    cpt_fmt_dur(d, sizeof d, x->duration_us);
    if (x->subs && x->total == c->st->n_subtasks)
        for (int i = 0; i < x->total && !who[0]; i++)
            if (x->subs[i].phase != CPW_PH_ACKED) {
                char s[CPW_NAME_MAX + 8];
                cpt_adv_sub_name(c->st, i, s, sizeof s);
                snprintf(who, sizeof who, ", waiting on %s", s);
            }
    int64_t busy = cpt_adv_seen_busy(x, c->o->seen, c->o->n_seen);
    if (busy) {
        char b[32];
        cpt_fmt_dur(b, sizeof b, busy);
        cpt_adv_evidence(it, "%d expired; the newest, #%lld, after %s with %d/%d acks%s: the "
                         "recording saw it still in progress at %s, so it needed more than that, "
                         "how much more is unknown", n, (long long)x->id, d, x->acks, x->total,
                         who, b);
    } else {
        cpt_adv_evidence(it, "%d expired; the newest, #%lld, after %s with %d/%d acks%s: it "
                         "needed more than %s, how much more is unknown", n, (long long)x->id, d,
                         x->acks, x->total, who, d);
    }
    cpt_adv_evidence(it, "so no timeout is sure to let #%lld through: a longer one helps a slow "
                     "checkpoint, not a stuck subtask", (long long)x->id);
}

static cpt_adv_level timeout_level(const adv_ctx *c, int64_t rec, int expired_now)
{
    int64_t t = c->conf->timeout_us;
    if (t <= 0 || c->n_done < 5)
        return CPT_ADV_INFO;
    if (t < c->p99)
        return CPT_ADV_BAD;
    if (t < rec || expired_now)
        return CPT_ADV_WARN;
    return t > 10 * rec ? CPT_ADV_INFO : CPT_ADV_FINE;
}

static bool rule_timeout(const adv_ctx *c, cpt_adv_item *it)
{
    char cur[CPT_ADV_VALUE], val[CPT_ADV_VALUE], a[32], b[32], d[32], e[32];
    current_dur(c->conf->timeout_us, cur, sizeof cur);
    cpt_adv_rule(it, "the larger of 3 x p99.9 and p99.9 + the largest jump seen, rounded up to "
                 "a Flink duration, at least 1 s");
    if (c->n_done == 0) {
        it->level = CPT_ADV_INFO;
        cpt_adv_title(it, "no completed checkpoint yet: nothing to base a timeout on");
        return true;
    }
    int64_t raw = c->p999 * 3 > c->p999 + c->jump ? c->p999 * 3 : c->p999 + c->jump;
    int64_t rec = cpt_advice_round_dur(raw < 1000000 ? 1000000 : raw, false, val, sizeof val);
    cpt_adv_set(it, "execution.checkpointing.timeout", val, cur);
    int unk, now_n = c->conf->timeout_us > 0 ? would_expire(c, c->conf->timeout_us, &unk) : 0;
    it->level = timeout_level(c, rec, now_n);
    cpt_fmt_limit(a, sizeof a, c->conf->timeout_us);
    cpt_fmt_dur(b, sizeof b, c->p99);
    double ratio = (double)c->conf->timeout_us / (double)(c->p99 > 0 ? c->p99 : 1);
    if (c->conf->timeout_us <= 0)
        cpt_adv_title(it, "the job did not say its timeout; %s fits what was seen", val);
    else if (it->level == CPT_ADV_BAD)
        cpt_adv_title(it, "timeout %s is below the p99 %s: checkpoints expire", a, b);
    else if (now_n)
        cpt_adv_title(it, "%d checkpoint%s expired at the timeout %s", now_n, now_n == 1 ? "" : "s", a);
    else if (it->level == CPT_ADV_WARN)
        cpt_adv_title(it, "timeout %s leaves little headroom over the p99 %s", a, b);
    else if (it->level == CPT_ADV_INFO && c->n_done >= 5)
        cpt_adv_title(it, "timeout %s is %.0fx the p99 %s: a stuck checkpoint is noticed late",
                      a, ratio, b);
    else
        cpt_adv_title(it, "timeout %s fits: %.0fx the p99 %s", a, ratio, b);
    cpt_fmt_dur(a, sizeof a, c->p50), cpt_fmt_dur(d, sizeof d, c->p999), cpt_fmt_dur(e, sizeof e, c->max);
    cpt_adv_evidence(it, "%d completed: p50 %s, p99 %s, p99.9 %s, max %s", c->n_done, a, b, d, e);
    if (c->jump > 0) {
        cpt_fmt_dur(a, sizeof a, c->jump);
        cpt_adv_evidence(it, "largest jump between consecutive checkpoints: +%s (#%lld -> #%lld)", a,
                         (long long)c->jump_from, (long long)c->jump_to);
    }
    if (c->conf->timeout_us > 0) {
        cpt_fmt_limit(a, sizeof a, c->conf->timeout_us);
        cpt_adv_evidence(it, "with %s (now), %d of the last %d would have expired", a, now_n, c->n_fin);
    }
    if (c->conf->timeout_us != rec) {
        int n = would_expire(c, rec, &unk);
        cpt_adv_evidence(it, "with %s, %d of the last %d would have expired%s", val, n, c->n_fin,
                         unk ? " (and the expired ones might have completed)" : "");
    }
    expired_evidence(c, it);
    return true;
}

/* ------------------------------------------------------------ interval */

/* The time between periodic triggers the job actually kept (median), or
 * the configured interval when there are too few. */
static int64_t spacing(const adv_ctx *c)
{
    int64_t *g = malloc(((size_t)c->n_fin + 1) * sizeof *g);
    int n = 0;
    const cpw_cp *prev = NULL;
    for (int i = 0; g && i < c->n_fin; i++) {
        if (c->fin[i]->kind != CPW_TRIGGER_PERIODIC)
            continue;
        if (prev && c->fin[i]->trigger_ts > prev->trigger_ts)
            g[n++] = c->fin[i]->trigger_ts - prev->trigger_ts;
        prev = c->fin[i];
    }
    cpt_adv_sort(g, n);
    int64_t s = n >= 3 ? cpt_adv_rank(g, n, 0.5) : c->conf->interval_us;
    free(g);
    return s;
}

/* "a restart now replays ~N records — T of input at R rec/s — plus ~X of
 * restore": from the newest completed checkpoint's barrier to now. */
static void failure_cost(const adv_ctx *c, cpt_adv_item *it)
{
    const cpw_cp *last = c->n_done ? c->done[c->n_done - 1] : NULL;
    if (!last || c->o->now_us <= last->trigger_ts)
        return;
    int64_t back = c->o->now_us - last->trigger_ts;
    char t[32], r[64] = "", s[32];
    cpt_fmt_dur(t, sizeof t, back);
    /* restore reads the full state back at about the rate uploads ran */
    int64_t bytes = 0, sub_state = 0;
    for (int i = 0; i < c->n_done; i++)
        if (c->last_sub[i] >= 0) {
            const cpw_sub *u = &c->done[i]->subs[c->last_sub[i]];
            bytes += u->checkpointed_size;
            sub_state = u->state_size; /* the newest one's */
        }
    /* each subtask reads its own state back, at about the rate the slowest
     * one uploaded */
    if (c->path[PATH_ASYNC] > 0 && bytes > 0 && sub_state > 0) {
        double bps = (double)bytes * 1e6 / (double)c->path[PATH_ASYNC];
        cpt_fmt_dur(s, sizeof s, (int64_t)((double)sub_state * 1e6 / bps));
        snprintf(r, sizeof r, " plus ~%s of restore", s);
    }
    if (c->o->records_per_s > 0)
        cpt_adv_evidence(it, "a restart now replays ~%.0f records (%s of input at %.0f rec/s, "
                         "since #%lld)%s", c->o->records_per_s * (double)back / 1e6, t,
                         c->o->records_per_s, (long long)last->id, r);
    else
        cpt_adv_evidence(it, "a restart now replays %s of input (since #%lld; the record rate is "
                         "not known here)%s", t, (long long)last->id, r);
}

/* Interval bounds from the budgets: at least cost/P for the overhead, at
 * most D - p99 for the replay. */
static void interval_bounds(const adv_ctx *c, int pct, int64_t *lo, int64_t *hi)
{
    *lo = c->mean * 100 / pct;
    *hi = c->o->max_replay_us > 0 ? c->o->max_replay_us - c->p99 : INT64_MAX;
}

static void interval_pause(const adv_ctx *c, cpt_adv_item *it, int64_t rec)
{
    char v[CPT_ADV_VALUE], cur[CPT_ADV_VALUE];
    current_dur(c->conf->min_pause_us, cur, sizeof cur);
    int64_t mp = c->conf->min_pause_us > 0 ? c->conf->min_pause_us : 0;
    /* back to back: a checkpoint often ends after the next one was due */
    if (c->p99 + mp >= rec || mp >= rec)
        cpt_advice_round_dur(rec - c->p50 > 0 ? rec - c->p50 : 0, true, v, sizeof v);
    else
        snprintf(v, sizeof v, "%s", cur[0] ? cur : "0 ms");
    cpt_adv_set(it, "execution.checkpointing.min-pause", v, cur);
    snprintf(cur, sizeof cur, "%d", c->conf->max_concurrent);
    cpt_adv_set(it, "execution.checkpointing.max-concurrent-checkpoints", "1",
                c->conf->max_concurrent >= 0 ? cur : "");
}

static bool rule_interval(const adv_ctx *c, cpt_adv_item *it)
{
    int pct = c->o->max_overhead_pct > 0 ? c->o->max_overhead_pct : 10;
    char cur[CPT_ADV_VALUE], val[CPT_ADV_VALUE], a[32], b[32], d[32];
    cpt_adv_rule(it, "overhead = time in flight / interval <= %d %%; interval + p99 <= the replay "
                 "budget; min-pause = interval - p50 when they run back to back", pct);
    if (c->n_done < 3) {
        it->level = CPT_ADV_INFO;
        cpt_adv_title(it, "too few completed checkpoints to weigh the interval");
        failure_cost(c, it);
        return true;
    }
    int64_t lo, hi, iv = spacing(c);
    interval_bounds(c, pct, &lo, &hi);
    int64_t rec = iv > 0 ? iv : lo;
    bool conflict = lo > hi;
    if (rec < lo)
        rec = lo;
    if (rec > hi)
        rec = hi;
    bool change = rec != iv;
    rec = change ? cpt_advice_round_dur(rec, conflict || rec == hi, val, sizeof val) : iv;
    if (!change)
        current_dur(c->conf->interval_us > 0 ? c->conf->interval_us : iv, val, sizeof val);
    current_dur(c->conf->interval_us, cur, sizeof cur);
    cpt_adv_set(it, "execution.checkpointing.interval", val, cur);
    interval_pause(c, it, rec);
    double ov = iv > 0 ? 100.0 * (double)c->mean / (double)iv : 100;
    cpt_fmt_dur(a, sizeof a, iv);
    cpt_fmt_dur(b, sizeof b, c->mean);
    it->level = conflict || ov > pct || c->p99 >= iv ? CPT_ADV_WARN : change ? CPT_ADV_INFO : CPT_ADV_FINE;
    if (conflict)
        cpt_adv_title(it, "the budgets conflict: %d %% overhead needs >= %s between checkpoints, "
                      "the replay budget allows less; the replay budget wins", pct, val);
    else if (c->p99 >= iv)
        cpt_adv_title(it, "checkpoints run back to back: the p99 is longer than the %s interval", a);
    else
        cpt_adv_title(it, "checkpoints take %.0f %% of the time (%s in flight every %s)%s", ov, b,
                      a, change ? "" : ": within budget");
    cpt_adv_evidence(it, "every %s a checkpoint is in flight for %s on average (%.0f %%)", a, b, ov);
    if (c->n_path && iv > 0) {
        cpt_fmt_dur(d, sizeof d, (c->path[PATH_ALIGN] + c->path[PATH_SYNC]) / c->n_path);
        cpt_adv_evidence(it, "of it, alignment and sync hold records back for %s (%.1f %% of the "
                         "time)", d, 100.0 * (double)(c->path[PATH_ALIGN] + c->path[PATH_SYNC]) /
                         (double)c->n_path / (double)iv);
    }
    if (c->o->max_replay_us > 0) {
        cpt_fmt_dur(d, sizeof d, iv + c->p99);
        cpt_fmt_dur(b, sizeof b, c->o->max_replay_us);
        cpt_adv_evidence(it, "worst replay now: interval + p99 = %s against a budget of %s", d, b);
    }
    failure_cost(c, it);
    return true;
}

/* ------------------------------------------------------------ the table */

typedef bool (*rule_fn)(const adv_ctx *c, cpt_adv_item *it);

static const struct {
    cpt_adv_kind kind;
    rule_fn fn;
} rules[] = {
    {CPT_ADV_TIMEOUT, rule_timeout},
    {CPT_ADV_INTERVAL, rule_interval},
    {CPT_ADV_TOLERABLE, cpt_adv_rule_tolerable},
    {CPT_ADV_TREND, cpt_adv_rule_trend},
    {CPT_ADV_ALIGNMENT, cpt_adv_rule_alignment},
    {CPT_ADV_SKEW, cpt_adv_rule_skew},
    {CPT_ADV_STORAGE, cpt_adv_rule_storage},
    {CPT_ADV_BACKPRESSURE, cpt_adv_rule_backpressure},
};

cpt_adv_err cpt_advice_compute(const cpw_state *st, const cpt_adv_opts *o, cpt_advice *out)
{
    memset(out, 0, sizeof *out);
    cpt_advice_conf(&st->hello, &out->conf);
    cpt_adv_opts dflt = {0};
    adv_ctx c;
    if (!ctx_init(&c, st, o ? o : &dflt, &out->conf)) {
        ctx_free(&c);
        return CPT_ADV_ERR_NOMEM;
    }
    out->completed = c.n_done;
    out->failed = c.n_fin - c.n_done;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        cpt_adv_item *it = &out->items[out->n];
        memset(it, 0, sizeof *it);
        it->kind = rules[i].kind;
        if (rules[i].fn(&c, it))
            out->n++;
    }
    headline(&c, out);
    ctx_free(&c);
    return CPT_ADV_OK;
}

const cpt_adv_item *cpt_advice_find(const cpt_advice *a, cpt_adv_kind k)
{
    for (int i = 0; i < a->n; i++)
        if (a->items[i].kind == k)
            return &a->items[i];
    return NULL;
}
