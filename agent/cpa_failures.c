/* cpa_failures.c — the failure kinds a job declares (cpa_set_failure_kinds)
 * and the check of inject_failure commands against them. The table travels
 * in hello; the check itself is the protocol's (cpw_failure.c), the one
 * cptop runs before it sends, so both refuse with the same words. */
#include "cpa_internal.h"
#include "cpw_failure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a job's text into a wire field; false when it does not fit. */
static bool copy_text(char *dst, size_t size, const char *src)
{
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= size)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static bool convert(const cpa_failure_desc *d, cpw_failure_kind *k, char *why, size_t size)
{
    memset(k, 0, sizeof *k);
    if (!d->kind || !copy_text(k->kind, sizeof k->kind, d->kind) ||
        !copy_text(k->label, sizeof k->label, d->label)) {
        snprintf(why, size, "failure kind \"%.31s\": name or label missing or too long",
                 d->kind ? d->kind : "(null)");
        return false;
    }
    if (d->target != CPA_TARGET_JOB && d->target != CPA_TARGET_SUBTASK) {
        snprintf(why, size, "failure kind \"%s\": target must be CPA_TARGET_JOB or _SUBTASK",
                 k->kind);
        return false;
    }
    k->subtask = d->target == CPA_TARGET_SUBTASK;
    if (d->n_params < 0 || d->n_params > CPA_FAILURE_MAX_PARAMS ||
        d->n_params > CPW_FAILURE_MAX_PARAMS) {
        snprintf(why, size, "failure kind \"%s\": 0..%d parameters", k->kind,
                 CPA_FAILURE_MAX_PARAMS);
        return false;
    }
    k->n_params = d->n_params;
    for (int i = 0; i < d->n_params; i++) {
        const cpa_param_desc *p = &d->params[i];
        cpw_param *q = &k->params[i];
        if (!p->name || !copy_text(q->name, sizeof q->name, p->name) ||
            !copy_text(q->unit, sizeof q->unit, p->unit) ||
            !copy_text(q->help, sizeof q->help, p->help)) {
            snprintf(why, size, "failure kind \"%s\", parameter %d: name, unit or help missing "
                     "or too long", k->kind, i);
            return false;
        }
        q->min = p->min;
        q->max = p->max;
        q->def = p->def;
    }
    return true;
}

cpa_err cpa_set_failure_kinds(cpa_agent *a, const cpa_failure_desc *kinds, int n)
{
    if (!a || n < 0 || n > CPA_FAILURE_MAX_KINDS || n > CPW_MAX_FAILURE_KINDS || (n && !kinds))
        return CPA_ERR_INVALID_ARG;
    cpw_failure_kind *table = calloc((size_t)(n ? n : 1), sizeof *table);
    if (!table)
        return CPA_ERR_NOMEM;
    char why[CPW_TEXT_MAX];
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        ok = convert(&kinds[i], &table[i], why, sizeof why);
    if (ok)
        ok = cpw_failure_table_valid(table, n, why, sizeof why);
    if (!ok) {
        cpa_log(a, CPA_LOG_ERROR, "cpa_set_failure_kinds: %s", why);
        free(table);
        return CPA_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&a->lock);
    cpw_hello *h = a->pending_hello;
    memcpy(h->failures, table, (size_t)n * sizeof *table);
    h->n_failures = n;
    h->has_failures = true;
    pthread_mutex_unlock(&a->lock);
    free(table);
    atomic_store(&a->hello_dirty, 1);
    return CPA_OK;
}

bool cpa_failure_check(cpa_agent *a, cpw_cmd *cmd, char *msg, size_t size)
{
    return cpw_failure_check(&a->state->hello, cmd, msg, size);
}
