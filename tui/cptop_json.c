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
#include "cpw_sock.h"
#include "cpw_state.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

typedef struct json_run {
    const cptop_opts *o;
    cpt_target t;
    cpw_sock *sub;
    char instance[CPW_INSTANCE_HEX + 1]; /* the process of the last state line */
    bool attached;            /* a state line was printed */
    bool in_sync;             /* a message after the state's seq was seen */
    bool want_state;          /* print one as soon as the job answers */
    const char *want_reason;
    uint64_t last_seq, skip_to;
    int64_t last_msg_us, last_try_us, last_look_us;
    int64_t skipping_since_us; /* messages dropped as covered by the state since */
    bool broken;              /* stdout went away */
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
    cpw_msg m;
    if (cptop_get_state(&r->t, -1, r->o->timeout_ms, &m)) {
        r->want_state = true;
        r->want_reason = reason;
        return false;
    }
    const cpw_state *st = m.reply->state;
    bool new_process = !r->attached || strcmp(st->hello.instance, r->instance) ||
                       !st->hello.instance[0];
    if (new_process || !strcmp(reason, "gap"))
        print_state(r, st, r->attached && new_process ? "restarted" : reason);
    snprintf(r->instance, sizeof r->instance, "%s", st->hello.instance);
    r->attached = true;
    r->in_sync = false;
    r->skip_to = r->last_seq = st->seq;
    r->want_state = false;
    cpw_msg_clear(&m);
    return true;
}

static int print_msg(void *opaque, cpw_msg *m)
{
    json_run *r = opaque;
    r->last_msg_us = cpw_now_us();
    bool other = m->kind == CPW_K_HELLO && m->hello->instance[0] && r->instance[0] &&
                 strcmp(m->hello->instance, r->instance);
    if (other || (r->in_sync && m->seq <= r->last_seq))
        attach(r, "restarted");
    else if (r->in_sync && m->seq > r->last_seq + 1 && m->seq > r->skip_to)
        attach(r, "gap");
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

/* Room in the kernel for a burst the terminal is slow to take. */
static const cpw_sock_conf sub_conf = {.rcvbuf = 4 * 1024 * 1024};

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
    if (strcmp(n.events, r->t.events)) { /* it listens elsewhere now */
        char err[400];
        cpw_sock *s = cpw_sock_new(CPW_SOCK_SUB, &sub_conf, err, sizeof err);
        if (!s || cpw_sock_dial(s, n.events, err, sizeof err) != CPW_SOCK_OK) {
            cpw_sock_destroy(s);
            return;
        }
        cpw_sock_destroy(r->sub);
        r->sub = s;
    }
    n.secret_len = r->t.secret_len;
    memcpy(n.secret, r->t.secret, sizeof n.secret);
    r->t = n;
    attach(r, "restarted");
}

int cptop_json(const cptop_opts *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    static json_run r; /* static: what is left open at exit stays reachable */
    r = (json_run){.o = o};
    int rc = cptop_find(o, &r.t);
    if (rc)
        return rc;
    cpw_buf_init(&r.line);
    char err[400];
    r.sub = cpw_sock_new(CPW_SOCK_SUB, &sub_conf, err, sizeof err);
    if (!r.sub || cpw_sock_dial(r.sub, r.t.events, err, sizeof err) != CPW_SOCK_OK) {
        cptop_complain(err);
        cpw_sock_destroy(r.sub);
        return 1;
    }
    attach(&r, "connected");
    while (!cptop_quit && !r.broken) {
        cpw_sock_msg msg;
        if (cpw_sock_recv(r.sub, &msg, 200) == CPW_SOCK_OK) {
            /* Decoded and re-encoded: one valid JSON object per line
             * whatever shape (object, array, NDJSON) or bytes came in. */
            cpw_error derr;
            size_t count;
            if (cpw_decode_frame(msg.data, msg.len, print_msg, &r, &count, &derr) != CPW_OK) {
                char text[300];
                snprintf(text, sizeof text, "dropped a bad frame: %s", derr.text);
                cptop_complain(text);
            }
            cpw_sock_msg_free(&msg);
        }
        int64_t now = cpw_now_us();
        if (r.want_state && now - r.last_try_us >= 1000000)
            attach(&r, r.want_reason);
        if (r.t.discovered && now - r.last_msg_us > 2000000 && now - r.last_look_us >= 1000000)
            look(&r, now);
    }
    cpw_sock_destroy(r.sub); /* never waits: nothing is left to flush */
    cpw_buf_free(&r.line);
    return 0;
}
