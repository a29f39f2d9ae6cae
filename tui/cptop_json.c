/*
 * cptop_json.c — `cptop --json`: the job's message stream, one JSON object
 * per line, for scripts.
 *
 * Before the first message of each process of the job it watches — at
 * start, after every restart of the job's process, and after messages were
 * lost — it prints the agent's state as one line:
 *
 *   {"v":1,"type":"state","job":…,"seq":S,"ts_us":…,"reason":"connected"|
 *    "restarted"|"gap","pid":…,"instance":…,["restored_from":N,]"result":{…}}
 *
 * where result is the get_state result (PROTOCOL.md §11) and S the seq it
 * covers: the messages that follow are those after S, so a script that
 * reads the lines in order never misses a restart, its hello or its
 * restore, even when the new process announced them before this
 * subscription reached it. A new process is told apart by its instance id
 * (a hello naming another, a seq that goes back, or the runtime directory
 * announcing another). Every line goes through cpw_json_sanitize().
 */
#include "cptop.h"
#include "cpt_source.h"
#include "cpw_state.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

typedef struct json_run {
    const cptop_opts *o;
    cpt_target t;
    cpt_source *src;          /* its messages come to print_msg, no model */
    char instance[CPW_INSTANCE_HEX + 1]; /* the process of the last state line */
    bool attached;            /* a state line was printed */
    bool in_sync;             /* a message after the state's seq was seen */
    bool want_state;          /* print one as soon as the job answers */
    const char *want_reason;
    uint64_t last_seq, skip_to;
    int64_t last_msg_us, last_try_us, last_look_us;
    int64_t skipping_since_us; /* messages dropped as covered by the state since */
    bool broken;              /* stdout went away */
    bool in_attach;           /* asking for the state */
    cpw_buf line;
} json_run;

/* Writes one line; false when the reader has gone (| head). */
static bool emit(json_run *r, const char *json, size_t len)
{
    cpw_buf_reset(&r->line);
    cpw_json_sanitize(&r->line, json, len);
    if (r->line.failed)
        return true; /* out of memory: this line is lost, not the stream */
    fwrite(r->line.data, 1, r->line.len, stdout);
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout))
        r->broken = true;
    return !r->broken;
}

/* The state line: an envelope of our own, then the state as get_state gives it. */
static void print_state(json_run *r, const cpw_state *st, const char *reason)
{
    json_t *h = json_object();
    json_object_set_new(h, "v", json_integer(1));
    json_object_set_new(h, "type", json_string("state"));
    json_object_set_new(h, "job", json_string(st->job));
    json_object_set_new(h, "seq", json_integer((json_int_t)st->seq));
    json_object_set_new(h, "ts_us", json_integer(cpw_now_us()));
    json_object_set_new(h, "reason", json_string(reason));
    json_object_set_new(h, "pid", json_integer(st->hello.pid));
    json_object_set_new(h, "instance", json_string(st->hello.instance));
    if (st->restored_from > 0)
        json_object_set_new(h, "restored_from", json_integer(st->restored_from));
    char *head = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    cpw_buf b;
    cpw_buf_init(&b);
    size_t hl = head ? strlen(head) : 0;
    if (hl > 2 && cpw_buf_reserve(&b, hl + 16)) {
        memcpy(b.data, head, hl - 1); /* without its closing brace */
        memcpy(b.data + hl - 1, ",\"result\":", 10);
        b.len = hl + 9;
        cpw_state_encode(&b, st, -1);
        if (cpw_buf_reserve(&b, 1))
            b.data[b.len++] = '}';
        if (!b.failed)
            emit(r, b.data, b.len);
    }
    free(head);
    cpw_buf_free(&b);
}

/*
 * Asks for the state. A process not seen before (or the first) gets a
 * state line; the same process again (a reordering, a resync after a gap
 * that reason "gap" reports) updates what to skip. false when the job did
 * not answer (asked again later).
 */
static bool attach(json_run *r, const char *reason)
{
    r->last_try_us = cpw_now_us();
    cpw_state *st;
    char err[600];
    /* a polled source derives messages while it builds the state: those
     * are in the state line, not printed before it */
    r->in_attach = true;
    int rc = cpt_source_snapshot(r->src, -1, r->o->timeout_ms, &st, err, sizeof err);
    r->in_attach = false;
    if (rc) {
        cptop_complain(err);
        r->want_state = true;
        r->want_reason = reason;
        return false;
    }
    bool new_process = !r->attached || strcmp(st->hello.instance, r->instance) ||
                       !st->hello.instance[0];
    if (new_process || !strcmp(reason, "gap"))
        print_state(r, st, r->attached && new_process ? "restarted" : reason);
    snprintf(r->instance, sizeof r->instance, "%s", st->hello.instance);
    r->attached = true;
    r->in_sync = false;
    r->skip_to = r->last_seq = st->seq;
    r->want_state = false;
    cpw_state_free(st);
    return true;
}

static int print_msg(void *opaque, const cpw_msg *m)
{
    json_run *r = opaque;
    r->last_msg_us = cpw_now_us();
    if (r->in_attach) {
        r->last_seq = m->seq; /* covered by the state about to be printed */
        return 0;
    }
    bool other = m->kind == CPW_K_HELLO && m->hello->instance[0] && r->instance[0] &&
                 strcmp(m->hello->instance, r->instance);
    if (other || (r->in_sync && m->seq <= r->last_seq))
        attach(r, "restarted");
    else if (r->in_sync && m->seq > r->last_seq + 1 && m->seq > r->skip_to)
        attach(r, "gap");
    if (r->attached && m->seq <= r->skip_to && !r->in_sync && m->kind == CPW_K_HELLO &&
        (!m->hello->instance[0] || !r->instance[0])) {
        /* A hello the state cannot be shown to cover: one of the two names
         * no process instance, so this may be a new process whose seqs
         * started again below the state's. Fetch the state again (at most
         * once a second: a publisher that says hello in a loop gets no more). */
        if (r->last_msg_us - r->last_try_us >= 1000000)
            attach(r, "restarted");
        else
            r->want_state = true, r->want_reason = "restarted";
        return cptop_quit || r->broken;
    }
    if (r->attached && m->seq <= r->skip_to && !r->in_sync) {
        /* Already in the state line. Only what was queued before the state
         * was read can be: a stream that stays below a seq the state
         * claimed (a job that lied, or a new one answering on the same
         * endpoints) gets a fresh state rather than silence. */
        if (!r->skipping_since_us)
            r->skipping_since_us = r->last_msg_us;
        else if (r->last_msg_us - r->skipping_since_us > 3000000) {
            r->skipping_since_us = 0;
            attach(r, "gap");
        }
        return cptop_quit || r->broken;
    }
    r->skipping_since_us = 0;
    r->in_sync = r->attached;
    r->last_seq = m->seq;
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = m->job, .seq = m->seq, .ts_us = m->ts_us};
    if (m->kind == CPW_K_EVENT)
        cpw_encode_event(&b, &env, &m->ev);
    else if (m->kind == CPW_K_HELLO)
        cpw_encode_hello(&b, &env, m->hello);
    else if (m->kind == CPW_K_HEARTBEAT)
        cpw_encode_heartbeat(&b, &env, &m->heartbeat);
    if (b.len && !b.failed)
        emit(r, b.data, b.len);
    cpw_buf_free(&b);
    return cptop_quit || r->broken;
}

static void on_bad(void *opaque, const char *why)
{
    (void)opaque;
    char text[300];
    snprintf(text, sizeof text, "dropped a bad frame: %s", why);
    cptop_complain(text);
}

/* Subscribes through s, its messages to print_msg. */
static int start(json_run *r, cpt_source *s, char *err, size_t errsz)
{
    cpt_source_set_observer(s, print_msg, on_bad, r);
    return cpt_source_start(s, NULL, cpw_now_us(), err, errsz);
}

/* A job found in the runtime directory: when its announcement names
 * another process (and this one has gone quiet), follow it there. */
static void look(json_run *r, int64_t now)
{
    r->last_look_us = now;
    cpt_where w = cptop_where(r->o);
    w.job = r->t.job;
    cpt_target n;
    char msg[600];
    if (cpt_target_candidates(&w, &n, 1, (char[CPW_PATH_MAX]){0}, CPW_PATH_MAX, msg, sizeof msg) < 1 ||
        !n.instance[0] || !strcmp(n.instance, r->instance))
        return;
    n.secret_len = r->t.secret_len;
    memcpy(n.secret, r->t.secret, sizeof n.secret);
    if (strcmp(n.events, r->t.events)) { /* it listens elsewhere now */
        char err[400];
        cpt_source *s = cpt_src_agent_new(&n, r->o->timeout_ms, err, sizeof err);
        if (!s || start(r, s, err, sizeof err)) {
            cpt_source_destroy(s);
            return;
        }
        cpt_source_destroy(r->src);
        r->src = s;
    }
    r->t = n;
    attach(r, "restarted");
}

int cptop_json(const cptop_opts *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    static json_run r; /* static: what is left open at exit stays reachable */
    r = (json_run){.o = o};
    int rc = o->flink ? cptop_open_source(o, &r.src) : cptop_find(o, &r.t);
    if (rc)
        return rc;
    cpw_buf_init(&r.line);
    char err[400];
    if ((!r.src && !(r.src = cpt_src_agent_new(&r.t, o->timeout_ms, err, sizeof err))) ||
        start(&r, r.src, err, sizeof err)) {
        cptop_complain(err);
        cpt_source_destroy(r.src);
        return 1;
    }
    attach(&r, "connected");
    while (!cptop_quit && !r.broken) {
        struct pollfd pfd[8];
        int64_t next = INT64_MAX, now = cpw_now_us();
        int n = cpt_source_pollfds(r.src, pfd, 8, &next);
        /* a polled source says when it next wants time; the agent's
         * retries and looks run once a second */
        int64_t wait = next == INT64_MAX ? 200000 : next - now;
        wait = wait < 0 ? 0 : wait > 1000000 ? 1000000 : wait;
        poll(pfd, (nfds_t)n, (int)((wait + 999) / 1000));
        now = cpw_now_us();
        /* Decoded and re-encoded by print_msg: one valid JSON object per
         * line whatever shape (object, array, NDJSON) or bytes came in. */
        cpt_source_on_ready(r.src, NULL, now);
        cpt_source_tick(r.src, NULL, now);
        if (r.want_state && now - r.last_try_us >= 1000000)
            attach(&r, r.want_reason);
        if (r.t.discovered && now - r.last_msg_us > 2000000 && now - r.last_look_us >= 1000000)
            look(&r, now);
    }
    cpt_source_destroy(r.src); /* never waits: nothing is left to flush */
    cpw_buf_free(&r.line);
    return 0;
}
