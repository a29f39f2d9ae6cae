/* cpt_model.c — see cpt_model.h. */
#include "cpt_model.h"
#include "cpt_fmt.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One message received while a get_state is outstanding. Hello and
 * heartbeat take a seq too; they are kept as markers so that the replay can
 * check continuity, and the newest hello is kept whole. */
typedef struct cpt_pend {
    uint64_t seq;
    uint8_t kind;   /* cpw_kind */
    cpw_event ev;
} cpt_pend;

#define PEND_MAX 16384

static void touch(cpt_model *m) { m->version++; }

cpt_model *cpt_model_new(const cpt_model_conf *conf)
{
    cpt_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->conf = conf ? *conf : (cpt_model_conf){0};
    if (m->conf.history_cap <= 0)
        m->conf.history_cap = 1000;
    if (m->conf.history_cap > CPW_MAX_HISTORY)
        m->conf.history_cap = CPW_MAX_HISTORY;
    if (m->conf.detail_cap < 0 || (!conf || conf->detail_cap == 0))
        m->conf.detail_cap = conf && conf->detail_cap < 0 ? 0 : 50;
    if (m->conf.log_cap <= 0)
        m->conf.log_cap = 5000;
    if (m->conf.log_cap > 1000000)
        m->conf.log_cap = 1000000;
    m->st = cpw_state_new(m->conf.history_cap, m->conf.detail_cap);
    m->log = calloc((size_t)m->conf.log_cap, sizeof *m->log);
    if (!m->st || !m->log) {
        cpt_model_free(m);
        return NULL;
    }
    m->log_head = -1;
    m->filter_gen = 1;
    m->interval_us = m->timeout_us = m->min_pause_us = -1;
    m->tolerable = -1;
    m->want_state = true;
    m->hist_version = 1;
    return m;
}

void cpt_model_free(cpt_model *m)
{
    if (!m)
        return;
    cpw_state_free(m->st);
    free(m->log);
    free(m->pend);
    free(m->jobs);
    free(m);
}

/* ------------------------------------------------------------------ jobs */

int cpt_model_set_jobs(cpt_model *m, const cpt_job_row *rows, int n, const char *note)
{
    if (!m->jobs && !(m->jobs = calloc(CPT_JOBS_MAX, sizeof *m->jobs)))
        return -1;
    int keep = n < 0 ? 0 : n < CPT_JOBS_MAX ? n : CPT_JOBS_MAX;
    char nt[sizeof m->jobs_note];
    snprintf(nt, sizeof nt, "%s", note ? note : "");
    if (keep == m->n_jobs && n == m->jobs_total && !strcmp(nt, m->jobs_note) &&
        (!keep || !memcmp(rows, m->jobs, sizeof *rows * (size_t)keep)))
        return 0;
    if (keep)
        memcpy(m->jobs, rows, sizeof *rows * (size_t)keep);
    m->n_jobs = keep;
    m->jobs_total = n < 0 ? 0 : n;
    memcpy(m->jobs_note, nt, sizeof nt);
    m->version++;
    return 0;
}

/* ------------------------------------------------------------------ log */

static cpt_log_entry *log_add(cpt_model *m)
{
    m->log_head = (m->log_head + 1) % m->conf.log_cap;
    if (m->log_n < m->conf.log_cap)
        m->log_n++;
    m->log_total++;
    cpt_log_entry *e = &m->log[m->log_head];
    e->filter_gen = 0; /* not matched against any filter yet */
    return e;
}

bool cpt_model_log_matches(cpt_model *m, int i, const char *filter)
{
    if (!filter[0])
        return true;
    if (strcmp(filter, m->filter)) {
        snprintf(m->filter, sizeof m->filter, "%s", filter);
        m->filter_gen++;
        if (m->filter_gen == 0)
            m->filter_gen = 1;
    }
    cpt_log_entry *e = (cpt_log_entry *)cpt_model_log(m, i);
    if (!e)
        return false;
    if (e->filter_gen != m->filter_gen) {
        char line[400];
        cpt_model_log_text(m, e, line, sizeof line);
        e->filter_match = strstr(line, filter) != NULL;
        e->filter_gen = m->filter_gen;
    }
    return e->filter_match;
}

const cpt_log_entry *cpt_model_log(const cpt_model *m, int i)
{
    if (i < 0 || i >= m->log_n)
        return NULL;
    int k = (m->log_head - i) % m->conf.log_cap;
    return &m->log[k < 0 ? k + m->conf.log_cap : k];
}

void cpt_model_note(cpt_model *m, int64_t now_us, bool bad, const char *fmt, ...)
{
    cpt_log_entry *e = log_add(m);
    e->ts_us = now_us;
    e->seq = 0;
    e->kind = CPT_LOG_NOTE;
    e->bad = bad;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->u.note, sizeof e->u.note, fmt, ap);
    va_end(ap);
    touch(m);
}

void cpt_model_op_name(const cpt_model *m, int op, char *out, size_t size)
{
    if (op >= 0 && op < m->st->hello.n_ops && m->st->hello.ops[op].name[0])
        cpw_sanitize(m->st->hello.ops[op].name, out, size);
    else
        snprintf(out, size, "op%d", op);
}

void cpt_model_log_text(const cpt_model *m, const cpt_log_entry *e, char *out, size_t size)
{
    if (e->kind == CPT_LOG_NOTE) {
        char t[CPW_TEXT_MAX];
        cpw_sanitize(e->u.note, t, sizeof t);
        snprintf(out, size, "cptop: %s", t);
        return;
    }
    const cpw_event *ev = &e->u.ev;
    char who[CPW_NAME_MAX + 16] = "", a[24], b[24], c[24], d[24], txt[CPW_TEXT_MAX];
    if (ev->op >= 0) {
        char on[CPW_NAME_MAX];
        cpt_model_op_name(m, ev->op, on, sizeof on);
        if (ev->subtask >= 0)
            snprintf(who, sizeof who, " %s#%d", on, ev->subtask);
        else
            snprintf(who, sizeof who, " %s", on);
    }
    const char *name = cpw_event_type_name(ev->type);
    int n = snprintf(out, size, "%-19s", name ? name : "?");
    if (n < 0 || (size_t)n >= size)
        return;
    out += n, size -= (size_t)n;
    if (ev->cp_id > 0) {
        n = snprintf(out, size, " cp %lld", (long long)ev->cp_id);
        if (n < 0 || (size_t)n >= size)
            return;
        out += n, size -= (size_t)n;
    }
    switch (ev->type) {
    case CPW_EV_CP_TRIGGERED: {
        const char *al = ev->u.triggered.alignment != CPW_ALIGN_ALIGNED
                       ? cpw_alignment_name(ev->u.triggered.alignment) : NULL;
        snprintf(out, size, " %s%s%s", ev->u.triggered.kind == CPW_TRIGGER_MANUAL ? "manual" : "periodic",
                 al ? ", " : "", al ? al : "");
        break;
    }
    case CPW_EV_BARRIER_RECEIVED:
        snprintf(out, size, "%s channel %d", who, ev->u.barrier.channel);
        break;
    case CPW_EV_ALIGNMENT_END:
        cpt_fmt_dur(a, sizeof a, ev->u.alignment.duration_us);
        snprintf(out, size, "%s %s, %lld B buffered", who, a,
                 (long long)ev->u.alignment.buffered_bytes);
        break;
    case CPW_EV_SNAPSHOT_SYNC_DONE:
        cpt_fmt_dur(a, sizeof a, ev->u.sync.duration_us);
        snprintf(out, size, "%s sync %s", who, a);
        break;
    case CPW_EV_SNAPSHOT_ASYNC_DONE:
        cpt_fmt_dur(a, sizeof a, ev->u.async.duration_us);
        snprintf(out, size, "%s async %s, %lld B", who, a, (long long)ev->u.async.bytes);
        break;
    case CPW_EV_ACK:
        cpt_fmt_dur(a, sizeof a, ev->u.ack.start_delay_us);
        cpt_fmt_dur(b, sizeof b, ev->u.ack.alignment_us);
        cpt_fmt_dur(c, sizeof c, ev->u.ack.sync_us);
        cpt_fmt_dur(d, sizeof d, ev->u.ack.async_us);
        n = snprintf(out, size, "%s delay %s align %s sync %s async %s, %lld B", who, a, b, c, d,
                     (long long)ev->u.ack.checkpointed_size);
        if (ev->u.ack.unaligned && n >= 0 && (size_t)n < size)
            snprintf(out + n, size - (size_t)n, ", unaligned, %lld B persisted",
                     (long long)ev->u.ack.persisted_data);
        break;
    case CPW_EV_SWITCHED_TO_UNALIGNED:
        cpt_fmt_dur(a, sizeof a, ev->u.switched.elapsed_us);
        cpt_fmt_limit(b, sizeof b, ev->u.switched.timeout_us);
        snprintf(out, size, "%s after %s aligning (timeout %s)", who, a, b);
        break;
    case CPW_EV_DECLINE:
        cpw_sanitize(ev->u.decline.reason, txt, sizeof txt);
        snprintf(out, size, "%s: %s", who, txt);
        break;
    case CPW_EV_CP_COMPLETED:
        cpt_fmt_dur(a, sizeof a, ev->u.completed.duration_us);
        snprintf(out, size, " in %s, %lld B", a, (long long)ev->u.completed.checkpointed_size);
        break;
    case CPW_EV_CP_FAILED: {
        cpw_sanitize(ev->u.failed.message, txt, sizeof txt);
        const char *r = cpw_failure_reason_name(ev->u.failed.reason);
        snprintf(out, size, " %s: %s", r ? r : "?", txt);
        break;
    }
    case CPW_EV_JOB_STATUS: {
        cpw_sanitize(ev->u.job_status.message, txt, sizeof txt);
        const char *st = cpw_job_status_name(ev->u.job_status.status);
        snprintf(out, size, " %s%s%s", st ? st : "?", txt[0] ? ": " : "", txt);
        break;
    }
    case CPW_EV_RESTORED:
        snprintf(out, size, " attempt %d", ev->u.restored.attempt);
        break;
    case CPW_EV_FAILURE_INJECTED: {
        char k[CPW_KIND_MAX];
        cpw_sanitize(ev->u.failure.kind, k, sizeof k);
        cpw_sanitize(ev->u.failure.params, txt, sizeof txt);
        snprintf(out, size, " %s: %s", k, txt);
        break;
    }
    case CPW_EV_TASK_FAILED:
        cpw_sanitize(ev->u.task_failed.error, txt, sizeof txt);
        snprintf(out, size, "%s: %s", who, txt);
        break;
    default:
        snprintf(out, size, "%s", who);
        break;
    }
}

/* ------------------------------------------------------------------ config */

bool cpt_parse_duration_us(const char *s, int64_t *us)
{
    int64_t total = 0;
    bool any = false;
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        if (!isdigit((unsigned char)*s))
            return false;
        double v = strtod(s, (char **)&s);
        while (isspace((unsigned char)*s))
            s++;
        char unit[8] = "";
        int n = 0;
        while (isalpha((unsigned char)*s) && n < 7)
            unit[n++] = (char)tolower((unsigned char)*s++);
        unit[n] = 0;
        if (isalpha((unsigned char)*s))
            return false;
        double mult;
        if (!n || !strcmp(unit, "ms") || !strcmp(unit, "milli") || !strcmp(unit, "millis"))
            mult = 1e3;
        else if (!strcmp(unit, "us") || !strcmp(unit, "micros"))
            mult = 1;
        else if (!strcmp(unit, "s") || !strcmp(unit, "sec") || !strcmp(unit, "secs") ||
                 !strcmp(unit, "second") || !strcmp(unit, "seconds"))
            mult = 1e6;
        else if (!strcmp(unit, "m") || !strcmp(unit, "min") || !strcmp(unit, "mins") ||
                 !strcmp(unit, "minute") || !strcmp(unit, "minutes"))
            mult = 60e6;
        else if (!strcmp(unit, "h") || !strcmp(unit, "hour") || !strcmp(unit, "hours"))
            mult = 3600e6;
        else if (!strcmp(unit, "d") || !strcmp(unit, "day") || !strcmp(unit, "days"))
            mult = 86400e6;
        else
            return false;
        if (v * mult > 9e18)
            return false;
        total += (int64_t)(v * mult);
        any = true;
    }
    if (!any)
        return false;
    *us = total;
    return true;
}

static void read_config(cpt_model *m)
{
    const cpw_hello *h = &m->st->hello;
    m->interval_us = m->timeout_us = m->min_pause_us = -1;
    m->tolerable = -1;
    m->mode[0] = 0;
    for (int i = 0; i < h->n_config; i++) {
        const char *k = h->config_keys[i], *v = h->config_values[i];
        if (!strncmp(k, "execution.checkpointing.", 24))
            k += 24;
        else
            continue;
        int64_t us;
        if (!strcmp(k, "interval") && cpt_parse_duration_us(v, &us))
            m->interval_us = us;
        else if (!strcmp(k, "timeout") && cpt_parse_duration_us(v, &us))
            m->timeout_us = us;
        else if (!strcmp(k, "min-pause") && cpt_parse_duration_us(v, &us))
            m->min_pause_us = us;
        else if (!strcmp(k, "tolerable-failed-checkpoints"))
            m->tolerable = atoi(v);
        else if (!strcmp(k, "mode"))
            cpw_sanitize(v, m->mode, sizeof m->mode);
    }
}

/* ------------------------------------------------------------------ messages */

static void set_link(cpt_model *m, int link, int64_t now_us)
{
    if (m->link == link)
        return;
    m->link = link;
    m->link_since_us = now_us;
    touch(m);
}

void cpt_model_connecting(cpt_model *m, const char *endpoint, int64_t now_us)
{
    snprintf(m->endpoint, sizeof m->endpoint, "%s", endpoint);
    set_link(m, CPT_LINK_CONNECTING, now_us);
    m->link_since_us = now_us;
    m->rate_t0 = now_us;
    m->rate_n0 = m->events;
    m->want_state = true;
}

static void install_hello(cpt_model *m, const cpw_hello *h)
{
    cpw_state_set_hello(m->st, h);
    read_config(m);
}

static void pend_push(cpt_model *m, const cpw_msg *msg)
{
    if (m->pend_n == m->pend_cap) {
        if (m->pend_cap >= PEND_MAX) {
            m->pend_overflow = true;
            return;
        }
        int cap = m->pend_cap ? m->pend_cap * 2 : 256;
        cpt_pend *p = realloc(m->pend, (size_t)cap * sizeof *p);
        if (!p) {
            m->pend_overflow = true;
            return;
        }
        m->pend = p;
        m->pend_cap = cap;
    }
    cpt_pend *p = &m->pend[m->pend_n++];
    p->seq = msg->seq;
    p->kind = (uint8_t)msg->kind;
    if (msg->kind == CPW_K_EVENT)
        p->ev = msg->ev;
}

static void on_heartbeat(cpt_model *m, const cpw_heartbeat *hb, int64_t ts)
{
    int64_t in = 0;
    int bp = 0, maxq = 0;
    for (int i = 0; i < hb->n; i++) {
        const cpw_subtask_metrics *x = &hb->subtasks[i];
        if (x->op == 0)
            in += x->records_in > 0 ? x->records_in : x->records_out;
        bp += x->backpressured ? 1 : 0;
        if (x->queue_fill_permille > maxq)
            maxq = x->queue_fill_permille;
    }
    if (m->hb_prev_ts && ts > m->hb_prev_ts && in >= m->hb_prev_in)
        m->records_per_s = (double)(in - m->hb_prev_in) * 1e6 / (double)(ts - m->hb_prev_ts);
    else
        m->records_per_s = 0;
    m->hb_prev_ts = ts;
    m->hb_prev_in = in;
    m->backpressured = bp;
    m->max_queue_permille = maxq;
}

/* What every received message leaves whether or not it is folded now: an
 * event goes into the log, a heartbeat's throughput is taken. */
static void record(cpt_model *m, const cpw_msg *msg, int64_t now_us)
{
    if (msg->kind == CPW_K_EVENT) {
        m->events++;
        cpt_log_entry *e = log_add(m);
        e->ts_us = msg->ev.ts_us ? msg->ev.ts_us : now_us;
        e->seq = msg->seq;
        e->kind = CPT_LOG_EVENT;
        e->bad = 0;
        e->u.ev = msg->ev;
    } else if (msg->kind == CPW_K_HEARTBEAT) {
        on_heartbeat(m, &msg->heartbeat, msg->ts_us ? msg->ts_us : now_us);
    }
}

/* A hello from another process of the job: another agent instance (the
 * reliable sign: a container restarts its job as pid 1 every time), or,
 * from an agent that does not say, another pid. */
static bool new_process(const cpt_model *m, const cpw_hello *h)
{
    if (m->instance[0] && h->instance[0])
        return strcmp(m->instance, h->instance) != 0;
    return m->pid && h->pid != m->pid;
}

void cpt_model_on_msg(cpt_model *m, const cpw_msg *msg, int64_t now_us)
{
    if (msg->kind != CPW_K_EVENT && msg->kind != CPW_K_HELLO && msg->kind != CPW_K_HEARTBEAT &&
        msg->kind != CPW_K_UNKNOWN)
        return;
    m->messages++;
    m->last_msg_us = now_us;
    if (m->link != CPT_LINK_UP) {
        if (m->link == CPT_LINK_DOWN) {
            cpt_model_note(m, now_us, false, "job is back (%s)", m->endpoint);
            m->want_state = true; /* whatever happened meanwhile */
        }
        set_link(m, CPT_LINK_UP, now_us);
    }
    if (msg->job[0] && strcmp(msg->job, m->st->job))
        snprintf(m->st->job, sizeof m->st->job, "%s", msg->job);

    /* Published after the get_state reply was made, but already folded into
     * it: shown in the log, not applied twice. */
    bool restarted = msg->kind == CPW_K_HELLO && new_process(m, msg->hello);
    if (m->dup_to && !restarted && msg->seq > m->dup_from && msg->seq <= m->dup_to) {
        m->dup_from = msg->seq;
        if (msg->seq == m->dup_to)
            m->dup_to = 0;
        record(m, msg, now_us);
        touch(m);
        return;
    }
    m->dup_to = 0;
    /* A new process of the job: its agent counts from 1 again. */
    if (m->last_seq && (msg->seq <= m->last_seq || restarted)) {
        m->restarts++;
        if (restarted)
            cpt_model_note(m, now_us, true, "job process restarted (pid %d -> %d, a new agent "
                           "instance); resyncing", m->pid, msg->hello->pid);
        else
            cpt_model_note(m, now_us, true, "job process restarted (seq went back from %llu to %llu); "
                           "resyncing", (unsigned long long)m->last_seq, (unsigned long long)msg->seq);
        m->want_state = true;
        m->pend_n = 0; /* the old incarnation's buffered messages mean nothing now */
    } else if (m->last_seq && msg->seq != m->last_seq + 1) {
        m->gaps++;
        m->missed += msg->seq - m->last_seq - 1;
        cpt_model_note(m, now_us, true, "missed %llu message(s) (seq %llu -> %llu); resyncing",
                       (unsigned long long)(msg->seq - m->last_seq - 1),
                       (unsigned long long)m->last_seq, (unsigned long long)msg->seq);
        m->want_state = true;
    }
    m->last_seq = msg->seq;
    if (msg->kind == CPW_K_HELLO) {
        m->pid = msg->hello->pid;
        memcpy(m->instance, msg->hello->instance, sizeof m->instance);
    }

    record(m, msg, now_us);

    if (m->want_state || m->state_pending) {
        /* folded after the get_state reply; the newest hello right now (its
         * topology names what the log shows) */
        if (msg->kind == CPW_K_HELLO)
            install_hello(m, msg->hello);
        pend_push(m, msg);
        touch(m);
        return;
    }
    if (msg->kind == CPW_K_EVENT) {
        cpw_state_apply(m->st, &msg->ev, msg->seq);
        if (msg->ev.type == CPW_EV_CP_COMPLETED || msg->ev.type == CPW_EV_CP_FAILED ||
            msg->ev.type == CPW_EV_RESTORED)
            m->hist_version++;
    } else {
        if (msg->kind == CPW_K_HELLO)
            install_hello(m, msg->hello);
        m->st->seq = msg->seq;
    }
    touch(m);
}

void cpt_model_on_bad_frame(cpt_model *m, const char *why, int64_t now_us)
{
    m->bad_frames++;
    cpt_model_note(m, now_us, true, "dropped a bad frame: %s", why);
    /* its messages may have carried events: the state can no longer be trusted */
    m->want_state = true;
}

void cpt_model_state_sent(cpt_model *m)
{
    m->sent_blind = m->link != CPT_LINK_UP;
    m->want_state = false;
    m->state_pending = true;
}

void cpt_model_state_failed(cpt_model *m, const char *why, int64_t now_us)
{
    m->state_pending = false;
    m->want_state = true;
    cpt_model_note(m, now_us, true, "get_state failed: %s", why);
}

void cpt_model_on_state(cpt_model *m, cpw_state *st, int64_t now_us)
{
    m->state_pending = false;
    uint64_t received = m->last_seq; /* the newest message that came over the socket */
    cpw_state *ns = cpw_state_rebase(st, m->st, m->conf.history_cap, m->conf.detail_cap);
    cpw_state_free(st);
    if (!ns) {
        cpt_model_state_failed(m, "out of memory", now_us);
        return;
    }
    cpw_state_free(m->st);
    m->st = ns;
    m->pid = ns->hello.pid;
    memcpy(m->instance, ns->hello.instance, sizeof m->instance);
    read_config(m);
    m->resyncs++;
    m->hist_version++;
    /* replay what came after the state, checking it continues the seq */
    uint64_t expect = ns->seq + 1;
    bool broken = m->pend_overflow;
    for (int i = 0; i < m->pend_n && !broken; i++) {
        const cpt_pend *p = &m->pend[i];
        if (p->seq < expect)
            continue; /* already in the state */
        if (p->seq != expect) {
            broken = true;
            break;
        }
        expect++;
        if (p->kind == CPW_K_EVENT)
            cpw_state_apply(m->st, &p->ev, p->seq);
        else
            m->st->seq = p->seq;
    }
    if (m->last_seq && m->last_seq > ns->seq && m->pend_n == 0)
        broken = true; /* messages arrived that were not buffered */
    m->pend_n = 0;
    m->pend_overflow = false;
    if (broken && m->sent_blind) {
        /* asked before the subscription was up: what it missed in between
         * is no loss, just ask again now that it is */
        m->resyncs--;
        m->want_state = true;
    } else if (broken) {
        m->gaps++;
        m->want_state = true;
        cpt_model_note(m, now_us, true, "resync incomplete; asking again");
    } else if (m->last_seq < m->st->seq) {
        /* the agent folded messages we have not received yet: they are on
         * their way, and must not be taken for a restart or applied twice */
        m->dup_from = received;
        m->dup_to = m->st->seq;
        m->last_seq = m->st->seq;
    }
    touch(m);
}

void cpt_model_detail_note(cpt_model *m, int64_t id, const char *text)
{
    char clean[sizeof m->detail_note];
    cpw_sanitize(text ? text : "", clean, sizeof clean);
    if (m->detail_note_id == id && !strcmp(m->detail_note, clean))
        return;
    m->detail_note_id = id;
    memcpy(m->detail_note, clean, sizeof clean);
    touch(m);
}

bool cpt_model_fill_detail(cpt_model *m, const cpw_cp *from)
{
    cpw_state *s = m->st;
    if (!from->subs || from->total != s->n_subtasks || from->total <= 0)
        return false;
    for (int i = 0; i < s->n_history; i++) {
        cpw_cp *cp = (cpw_cp *)cpw_state_history(s, i);
        if (cp->id != from->id || cp->trigger_ts != from->trigger_ts)
            continue;
        if (cp->total != from->total)
            return false;
        if (!cp->subs && !(cp->subs = malloc((size_t)cp->total * sizeof *cp->subs)))
            return false;
        memcpy(cp->subs, from->subs, (size_t)cp->total * sizeof *cp->subs);
        cp->persisted_data = from->persisted_data;
        cp->alignment_us = from->alignment_us;
        m->hist_version++;
        touch(m);
        return true;
    }
    return false;
}

void cpt_model_tick(cpt_model *m, int64_t now_us)
{
    if (m->link == CPT_LINK_CONNECTING && m->link_since_us &&
        now_us - m->link_since_us > CPT_SILENCE_US) {
        /* never heard from: the job is not there (or not at that address) */
        set_link(m, CPT_LINK_DOWN, now_us);
        cpt_model_note(m, now_us, true, "nothing received from the job for %.1f s: disconnected",
                       (double)(now_us - m->link_since_us) / 1e6);
    } else if (m->link == CPT_LINK_UP && now_us - m->last_msg_us > CPT_SILENCE_US) {
        set_link(m, CPT_LINK_DOWN, now_us);
        cpt_model_note(m, now_us, true, "no message from the job for %.1f s: disconnected",
                       (double)(now_us - m->last_msg_us) / 1e6);
        m->records_per_s = 0;
    }
    if (now_us - m->rate_t0 >= 1000000) {
        /* smoothed over ~5 s: a job checkpointing every few seconds sends its
         * events in bursts, and a per-second figure would flicker to 0 */
        double r = (double)(m->events - m->rate_n0) * 1e6 / (double)(now_us - m->rate_t0);
        /* not a change to draw at once: the next periodic draw (at most a
         * second away) shows it, and a poller's turn need not draw twice */
        m->events_per_s = m->rate_t0 && m->events_per_s > 0 ? 0.8 * m->events_per_s + 0.2 * r : r;
        m->rate_t0 = now_us;
        m->rate_n0 = m->events;
    }
}

/* ------------------------------------------------------------------ summary */

/* LSD radix sort of non-negative values (durations and sizes; anything
 * negative counts as 0), bytes where every value agrees skipped: the
 * summary over 10,000 checkpoints must fit in a frame's budget, and qsort
 * through a comparator took ~0.8 ms per figure. tmp holds n values. */
static void sort_nonneg(int64_t *v, int n, int64_t *tmp)
{
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (int i = 0; i < n; i++) {
        if (v[i] < 0)
            v[i] = 0;
        all_or |= (uint64_t)v[i];
        all_and &= (uint64_t)v[i];
    }
    int64_t *src = v, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xFF) == 0)
            continue; /* every value has the same byte here */
        int count[257] = {0};
        for (int i = 0; i < n; i++)
            count[(((uint64_t)src[i] >> shift) & 0xFF) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (int i = 0; i < n; i++)
            dst[count[((uint64_t)src[i] >> shift) & 0xFF]++] = src[i];
        int64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, (size_t)n * sizeof *v);
}

static int64_t rank(const int64_t *v, int n, double q)
{
    /* nearest rank: the smallest value with at least q of the data at or below it */
    int k = (int)(q * n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static void stat_of(cpt_stat *s, int64_t *v, int n, int64_t *tmp)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    if (!n)
        return;
    sort_nonneg(v, n, tmp);
    s->min = v[0];
    s->max = v[n - 1];
    s->p50 = rank(v, n, 0.50);
    s->p90 = rank(v, n, 0.90);
    s->p99 = rank(v, n, 0.99);
    s->p999 = rank(v, n, 0.999);
}

const cpt_summary *cpt_model_summary(cpt_model *m)
{
    if (m->summary_version == m->hist_version)
        return &m->summary;
    cpt_summary *s = &m->summary;
    memset(s, 0, sizeof *s);
    const cpw_state *st = m->st;
    int64_t *d = malloc(((size_t)st->n_history + 1) * 5 * sizeof *d);
    if (!d)
        return s; /* empty this time; tried again next call */
    int64_t *sz = d + st->n_history + 1, *al = sz + st->n_history + 1, *pe = al + st->n_history + 1,
            *tmp = pe + st->n_history + 1;
    int n = 0, np = 0;
    for (int i = 0; i < st->n_history; i++) {
        const cpw_cp *cp = cpw_state_history(st, i);
        if (cp->type < CPW_CPT__COUNT)
            s->by_type[cp->type]++;
        if (cp->status == CPW_CP_COMPLETED) {
            d[n] = cp->duration_us;
            sz[n] = cp->checkpointed_size;
            al[n] = cp->alignment_us;
            n++;
            s->persisted_total += cp->persisted_data;
            if (cp->type != CPW_CPT_ALIGNED) /* an aligned one persists nothing by definition */
                pe[np++] = cp->persisted_data;
        } else if (cp->status == CPW_CP_FAILED) {
            s->failed++;
            int r = cp->reason >= 0 && cp->reason < CPW_FAIL__COUNT ? cp->reason : CPW_FAIL__COUNT;
            s->by_reason[r]++;
        }
    }
    s->completed = n;
    stat_of(&s->duration_us, d, n, tmp);
    stat_of(&s->size, sz, n, tmp);
    stat_of(&s->alignment_us, al, n, tmp);
    stat_of(&s->persisted, pe, np, tmp);
    free(d);
    m->summary_version = m->hist_version;
    return s;
}
