/* cpt_advice_whatif.c — the history replayed with one setting changed (and,
 * from a recording, what it saw of expired checkpoints after they expired). */
#include "cpt_advice_int.h"
#include "cpt_fmt.h"
#include "cpt_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { WI_TIMEOUT, WI_TOLERABLE, WI_ALIGNED_TIMEOUT } wi_key;

static const struct {
    const char *name;  /* without execution.checkpointing. */
    wi_key key;
    bool duration;
} keys[] = {
    {"timeout", WI_TIMEOUT, true},
    {"tolerable-failed-checkpoints", WI_TOLERABLE, false},
    {"aligned-checkpoint-timeout", WI_ALIGNED_TIMEOUT, true},
    {"alignment-timeout", WI_ALIGNED_TIMEOUT, true},
};

static void line(cpt_whatif *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(cpt_whatif *w, const char *fmt, ...)
{
    if (w->n_lines >= CPT_ADV_MAX_EVIDENCE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->lines[w->n_lines++], CPT_ADV_TEXT, fmt, ap);
    va_end(ap);
}

static void changed(cpt_whatif *w, int64_t id)
{
    if (w->n_ids < CPT_WHATIF_IDS)
        w->ids[w->n_ids++] = id;
    w->changed++;
}

/* "#12 (6.2s), #19 (5.4s), …" of the first few changed ones. */
static void id_list(const cpt_whatif *w, const cpw_state *st, bool with_dur, char *out, size_t size)
{
    out[0] = 0;
    size_t len = 0;
    for (int i = 0; i < w->n_ids && i < 8 && len + 1 < size; i++) {
        char d[32] = "";
        for (int h = 0; with_dur && h < st->n_history && !d[0]; h++) {
            const cpw_cp *cp = cpw_state_history(st, h);
            if (cp->id == w->ids[i])
                cpt_fmt_dur(d, sizeof d, cp->duration_us);
        }
        int k = snprintf(out + len, size - len, "%s#%lld%s%s%s", i ? ", " : "", (long long)w->ids[i],
                         d[0] ? " (" : "", d, d[0] ? ")" : "");
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (w->n_ids > 8 && len + 1 < size)
        snprintf(out + len, size - len, ", ...");
}

int64_t cpt_adv_seen_busy(const cpw_cp *cp, const cpt_adv_seen *seen, int n_seen)
{
    for (int i = 0; i < n_seen; i++) {
        const cpt_adv_seen *s = &seen[i];
        if (s->id != cp->id || s->first_us < cp->trigger_ts - 1000000 ||
            s->first_us > cp->trigger_ts + cp->duration_us)
            continue;
        int64_t busy = s->last_us - cp->trigger_ts;
        return busy > cp->duration_us ? busy : 0;
    }
    return 0;
}

/* Appends "#ID (TEXT)" to a list of at most 4 (then ", ..."). */
static void list_add(char *out, size_t size, int *n, int64_t id, const char *text)
{
    size_t len = strlen(out);
    if (*n == 4 && len + 6 < size)
        snprintf(out + len, size - len, ", ...");
    else if (*n < 4 && len < size)
        snprintf(out + len, size - len, "%s#%lld (%s)", *n ? ", " : "", (long long)id, text);
    ++*n;
}

static void what_if_timeout(const cpw_state *st, int64_t t, const cpt_adv_seen *seen, int n_seen,
                            cpt_whatif *w)
{
    int done = 0, n_maybe = 0, n_still = 0;
    char maybe[160] = "", still[160] = "";
    for (int i = 0; i < st->n_history; i++) { /* newest first */
        const cpw_cp *cp = cpw_state_history(st, i);
        if (cp->status == CPW_CP_IN_PROGRESS)
            continue;
        w->considered++;
        if (cp->status == CPW_CP_COMPLETED) {
            done++;
            if (cp->duration_us > t)
                changed(w, cp->id);
        } else if (cp->reason == CPW_FAIL_EXPIRED && cp->duration_us < t) {
            char a[32], b[32], text[80];
            int64_t busy = cpt_adv_seen_busy(cp, seen, n_seen);
            cpt_fmt_dur(a, sizeof a, cp->duration_us);
            cpt_fmt_dur(b, sizeof b, busy);
            if (busy >= t) {
                snprintf(text, sizeof text, "at %s", b);
                list_add(still, sizeof still, &n_still, cp->id, text);
                continue;
            }
            if (w->n_maybe < CPT_WHATIF_IDS)
                w->maybe[w->n_maybe++] = cp->id;
            snprintf(text, sizeof text, "expired at %s%s%s", a, busy ? ", in progress at " : "",
                     busy ? b : "");
            list_add(maybe, sizeof maybe, &n_maybe, cp->id, text);
        }
    }
    char ids[400], v[32];
    cpt_fmt_limit(v, sizeof v, t);
    id_list(w, st, true, ids, sizeof ids);
    line(w, "with a timeout of %s, %d of the %d completed would have expired%s%s", v, w->changed,
         done, w->changed ? ": " : "", ids);
    if (n_maybe)
        line(w, "%d that expired might have completed with %s: %s; how long %s needed is unknown",
             n_maybe, v, maybe, n_maybe == 1 ? "it" : "they");
    if (n_still)
        line(w, "%d that expired would have expired with %s too: the recording saw %s still in "
             "progress past it: %s", n_still, v, n_still == 1 ? "it" : "them", still);
}

static void what_if_tolerable(const cpw_state *st, int t, cpt_whatif *w)
{
    int run = 0;
    for (int i = st->n_history - 1; i >= 0; i--) { /* oldest first */
        const cpw_cp *cp = cpw_state_history(st, i);
        if (cp->status == CPW_CP_IN_PROGRESS)
            continue;
        w->considered++;
        if (cp->status == CPW_CP_COMPLETED)
            run = 0;
        else if (cp->reason >= 0 && cp->reason < CPW_FAIL__COUNT &&
                 cpw_failure_counts((cpw_failure_reason)cp->reason) && ++run > t) {
            changed(w, cp->id);
            run = 0;
        }
    }
    char ids[400];
    id_list(w, st, false, ids, sizeof ids);
    line(w, "with %d tolerated, the job would have restarted %d time%s over the last %d%s%s", t,
         w->changed, w->changed == 1 ? "" : "s", w->considered, w->changed ? ", at " : "", ids);
}

static void what_if_aligned(const cpw_state *st, int64_t t, cpt_whatif *w)
{
    int aligned = 0;
    for (int i = 0; i < st->n_history; i++) {
        const cpw_cp *cp = cpw_state_history(st, i);
        if (cp->status != CPW_CP_COMPLETED)
            continue;
        w->considered++;
        if (cp->type != CPW_CPT_UNALIGNED)
            aligned++;
        if (cp->type != CPW_CPT_UNALIGNED && cp->alignment_us > t)
            changed(w, cp->id);
    }
    char ids[400], v[32];
    cpt_fmt_limit(v, sizeof v, t);
    id_list(w, st, false, ids, sizeof ids);
    line(w, "with an aligned-checkpoint-timeout of %s, %d of the %d that aligned would have gone "
         "unaligned%s%s", v, w->changed, aligned, w->changed ? ": " : "", ids);
    line(w, "(this assumes unaligned checkpoints are enabled; the alignment after the switch is "
         "not waited for)");
}

cpt_adv_err cpt_advice_what_if(const cpw_state *st, const char *key, const char *value,
                               cpt_whatif *w, char *err, size_t err_size)
{
    return cpt_advice_what_if_seen(st, NULL, 0, key, value, w, err, err_size);
}

cpt_adv_err cpt_advice_what_if_seen(const cpw_state *st, const cpt_adv_seen *seen, int n_seen,
                                    const char *key, const char *value, cpt_whatif *w,
                                    char *err, size_t err_size)
{
    memset(w, 0, sizeof *w);
    static const char pre[] = "execution.checkpointing.";
    const char *k = !strncmp(key, pre, sizeof pre - 1) ? key + sizeof pre - 1 : key;
    int found = -1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keys[i].name, k))
            found = (int)i;
    char clean[80];
    cpw_sanitize(key, clean, sizeof clean);
    if (found < 0) {
        snprintf(err, err_size, "what-if: cannot replay '%s'; it can replay %stimeout, "
                 "%stolerable-failed-checkpoints, %saligned-checkpoint-timeout", clean, pre, pre, pre);
        return CPT_ADV_ERR_KEY;
    }
    int64_t us = 0;
    char *end = NULL;
    long n = 0;
    bool ok = keys[found].duration ? cpt_parse_duration_us(value, &us)
                                   : ((n = strtol(value, &end, 10)) >= 0 && *value && !*end);
    if (!ok) {
        char v[80];
        cpw_sanitize(value, v, sizeof v);
        snprintf(err, err_size, "what-if: '%s' is not a %s for %s", v,
                 keys[found].duration ? "duration (e.g. 5s, 500 ms, 2 min)" : "whole number >= 0",
                 clean);
        return CPT_ADV_ERR_VALUE;
    }
    snprintf(w->key, sizeof w->key, "%s%s", pre, keys[found].name);
    cpw_sanitize(value, w->value, sizeof w->value);
    if (keys[found].key == WI_TIMEOUT)
        what_if_timeout(st, us, seen, n_seen, w);
    else if (keys[found].key == WI_TOLERABLE)
        what_if_tolerable(st, (int)(n > 1000000 ? 1000000 : n), w);
    else
        what_if_aligned(st, us, w);
    return CPT_ADV_OK;
}
