/*
 * fake_agent.c — a job agent the tests control, for what a real agent never
 * sends: every string it can put on the wire or in its discovery file is
 * hostile (terminal escapes, the one-byte CSI, bidi overrides, DEL, tags),
 * and on request it sends frames and replies that do not decode, whose
 * decoder errors quote hostile bytes. Used by tests/t_hostile.sh.
 *
 *   fake_agent --runtime-dir DIR --job ID [--name NAME] [--listen tcp://HOST:PORT]
 *              [--no-announce] [--log FILE] [--key NAME=PATH]...
 *
 * Listens on ipc://DIR/<hostile>.events and .cmd (or on PORT and PORT+1),
 * announces itself in DIR (unless --no-announce), publishes a hello and a
 * round of hostile events every 200 ms, and answers commands: get_state
 * with a hostile state; set with the key "badreply" with a reply that does
 * not decode; anything else refused with a hostile message. With --log,
 * each command received is a line "CMD mac=NAME" naming the --key whose
 * secret its HMAC verifies with ("none": signed, no key verifies;
 * "absent": unsigned). Runs until SIGTERM or SIGINT; removes its
 * announcement on the way out.
 */
#include "cpw.h"
#include "cpw_discovery.h"
#include "cpw_srv.h"
#include "cpw_state.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ESC sequences, the one-byte CSI (C1), bidi override and isolate, DEL, a tag. */
#define EVIL "\x1b[2J\x1b]0;owned\x07\xc2\x9b" "31m\xe2\x80\xae" "evil\xe2\x81\xa6\x7f\xf3\xa0\x81\x81"

static volatile sig_atomic_t quit;
static void on_signal(int sig) { (void)sig; quit = 1; }

static void hostile_hello(cpw_hello *h, const char *name)
{
    memset(h, 0, sizeof h[0]);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->pid = (int)getpid();
    h->start_ts_us = cpw_now_us();
    cpw_random_hex(h->instance, CPW_INSTANCE_HEX);
    h->n_ops = 2;
    snprintf(h->ops[0].name, sizeof h->ops[0].name, "src" EVIL);
    snprintf(h->ops[1].name, sizeof h->ops[1].name, "sink" EVIL);
    h->ops[0].parallelism = h->ops[1].parallelism = 2;
    h->n_config = 2;
    snprintf(h->config_keys[0], CPW_NAME_MAX, "execution.checkpointing.mode");
    snprintf(h->config_values[0], CPW_VALUE_MAX, "EXACTLY_ONCE" EVIL);
    snprintf(h->config_keys[1], CPW_NAME_MAX, "k" EVIL);
    snprintf(h->config_values[1], CPW_VALUE_MAX, "v" EVIL);
    h->has_failures = true;
    h->n_failures = 1;
    cpw_failure_kind *k = &h->failures[0];
    snprintf(k->kind, sizeof k->kind, "hostile");
    snprintf(k->label, sizeof k->label, "label " EVIL);
    k->n_params = 1;
    snprintf(k->params[0].name, sizeof k->params[0].name, "ms");
    snprintf(k->params[0].unit, sizeof k->params[0].unit, "ms");
    snprintf(k->params[0].help, sizeof k->params[0].help, "help " EVIL);
    k->params[0].min = 1, k->params[0].max = 10, k->params[0].def = 5;
}

#define MAX_KEYS 4

typedef struct fake {
    const char *job;
    FILE *log;
    int n_keys;
    const char *key_name[MAX_KEYS];
    unsigned char key[MAX_KEYS][1024];
    size_t key_len[MAX_KEYS];
    cpw_srv *pub, *rep;
    cpw_state *st;            /* what get_state answers: folded from what was published */
    uint64_t seq;
} fake;

static void publish(fake *f, const cpw_buf *b)
{
    cpw_srv_publish(f->pub, b->data, b->len);
}

static void publish_hello(fake *f)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = f->job, .seq = ++f->seq, .ts_us = cpw_now_us()};
    cpw_encode_hello(&b, &env, &f->st->hello);
    f->st->seq = f->seq;
    publish(f, &b);
    cpw_buf_free(&b);
}

static void publish_event(fake *f, cpw_event e)
{
    cpw_buf b;
    cpw_buf_init(&b);
    e.ts_us = cpw_now_us();
    cpw_envelope env = {.job = f->job, .seq = ++f->seq, .ts_us = e.ts_us};
    cpw_encode_event(&b, &env, &e);
    cpw_state_apply(f->st, &e, f->seq);
    publish(f, &b);
    cpw_buf_free(&b);
}

/* One checkpoint that fails with hostile texts everywhere, and a frame
 * that does not decode (its error quotes a hostile type name). */
static void round_of_events(fake *f, int64_t id)
{
    cpw_event e = {.type = CPW_EV_CP_TRIGGERED, .cp_id = id, .op = -1, .subtask = -1};
    publish_event(f, e);
    e = (cpw_event){.type = CPW_EV_DECLINE, .cp_id = id, .op = 1, .subtask = 0};
    snprintf(e.u.decline.reason, sizeof e.u.decline.reason, "decline " EVIL);
    publish_event(f, e);
    e = (cpw_event){.type = CPW_EV_TASK_FAILED, .op = 0, .subtask = 1};
    snprintf(e.u.task_failed.error, sizeof e.u.task_failed.error, "task " EVIL);
    publish_event(f, e);
    e = (cpw_event){.type = CPW_EV_FAILURE_INJECTED, .op = -1, .subtask = -1};
    snprintf(e.u.failure.kind, sizeof e.u.failure.kind, "k" EVIL);
    snprintf(e.u.failure.params, sizeof e.u.failure.params, "p" EVIL);
    publish_event(f, e);
    e = (cpw_event){.type = CPW_EV_JOB_STATUS, .op = -1, .subtask = -1};
    e.u.job_status.status = CPW_JOB_RUNNING;
    snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "status " EVIL);
    publish_event(f, e);
    e = (cpw_event){.type = CPW_EV_CP_FAILED, .cp_id = id, .op = -1, .subtask = -1};
    e.u.failed.reason = CPW_FAIL_DECLINED;
    snprintf(e.u.failed.message, sizeof e.u.failed.message, "failed " EVIL);
    publish_event(f, e);
    /* a hello whose config value is too long: the decoder's error quotes its key */
    char bad[600], longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    int n = snprintf(bad, sizeof bad, "{\"v\":1,\"type\":\"hello\",\"job\":\"%s\",\"seq\":%llu,"
                     "\"ts_us\":1,\"name\":\"n\",\"pid\":1,\"operators\":[],"
                     "\"config\":{\"k\\u001b[2J\\u202e\\u009b\":\"%s\"}}", f->job,
                     (unsigned long long)++f->seq, longv);
    cpw_srv_publish(f->pub, bad, (size_t)n);
}

/* "trigger mac=NAME": which key the command's HMAC verifies with. */
static void log_command(fake *f, const cpw_msg *m, const char *data, size_t len)
{
    if (!f->log)
        return;
    const char *which = m->cmd->has_mac ? "none" : "absent";
    for (int i = 0; i < f->n_keys && m->cmd->has_mac; i++)
        if (cpw_verify_mac(data, len, f->key[i], f->key_len[i]))
            which = f->key_name[i];
    const char *name = cpw_command_name(m->cmd->c.type);
    fprintf(f->log, "%s mac=%s\n", name ? name : "?", which);
    fflush(f->log);
}

static void answer(fake *f, const cpw_srv_req *req)
{
    const char *data = req->data;
    size_t len = req->len;
    cpw_msg m;
    if (cpw_decode_one(data, len, &m, NULL) != CPW_OK || m.kind != CPW_K_COMMAND)
        return;
    log_command(f, &m, data, len);
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = f->job, .seq = f->seq, .ts_us = cpw_now_us()};
    cpw_reply r = {.req = m.cmd->req};
    const cpw_cmd *c = &m.cmd->c;
    if (c->type == CPW_CMD_GET_STATE) {
        r.ok = true;
        cpw_encode_reply(&b, &env, &r, f->st, -1);
    } else if (c->type == CPW_CMD_SET_CONFIG && !strcmp(c->keys[0], "badreply")) {
        /* a reply that does not decode: its error text quotes the type */
        static const char bad[] = "{\"v\":1,\"type\":\"\\u001b]0;x\\u0007\\u2066\",\"job\":\"j\","
                                  "\"seq\":1,\"ts_us\":1}";
        b.len = 0;
        cpw_buf_reserve(&b, sizeof bad);
        memcpy(b.data, bad, sizeof bad - 1);
        b.len = sizeof bad - 1;
    } else {
        snprintf(r.error, sizeof r.error, "no\x1b[5m");
        snprintf(r.message, sizeof r.message, "refused " EVIL);
        cpw_encode_reply(&b, &env, &r, NULL, 0);
    }
    cpw_srv_reply(f->rep, req, b.data, b.len);
    cpw_buf_free(&b);
    cpw_msg_clear(&m);
}

static int usage(void)
{
    fprintf(stderr, "usage: fake_agent --runtime-dir DIR --job ID [--name NAME] "
                    "[--listen tcp://HOST:PORT] [--no-announce] [--log FILE] [--key NAME=PATH]...\n");
    return 2;
}

/* NAME=PATH: the secret in PATH (trailing newlines and spaces dropped). */
static bool add_key(fake *f, char *spec)
{
    char *eq = strchr(spec, '=');
    FILE *k = eq && f->n_keys < MAX_KEYS ? fopen(eq + 1, "r") : NULL;
    if (!k)
        return false;
    *eq = '\0';
    size_t n = fread(f->key[f->n_keys], 1, sizeof f->key[0], k);
    fclose(k);
    while (n && strchr("\n\r ", f->key[f->n_keys][n - 1]))
        n--;
    f->key_name[f->n_keys] = spec;
    f->key_len[f->n_keys++] = n;
    return true;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *job = NULL, *name = "fake" EVIL, *listen = NULL;
    bool announce = true;
    fake f = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-announce")) {
            announce = false;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--runtime-dir"))
            dir = v;
        else if (!strcmp(a, "--job"))
            job = v;
        else if (!strcmp(a, "--name"))
            name = v;
        else if (!strcmp(a, "--listen"))
            listen = v;
        else if (!strcmp(a, "--log"))
            f.log = fopen(v, "a");
        else if (!strcmp(a, "--key") && add_key(&f, argv[i]))
            continue;
        else
            return usage();
    }
    if (!dir || !job)
        return usage();
    char err[600], path[CPW_PATH_MAX];
    if (cpw_secure_dir(dir, true, err, sizeof err)) {
        fprintf(stderr, "fake_agent: %s\n", err);
        return 1;
    }
    f.job = job;
    f.st = cpw_state_new(16, 4);
    cpw_hello h;
    hostile_hello(&h, name);
    cpw_state_set_hello(f.st, &h);
    snprintf(f.st->job, sizeof f.st->job, "%s", job);
    /* the socket files' names carry escapes too: --list shows the endpoint */
    cpw_job_entry e = {.pid = (int)getpid(), .started_us = cpw_now_us()};
    snprintf(e.job, sizeof e.job, "%s", job);
    snprintf(e.name, sizeof e.name, "%s", name);
    if (listen) {
        const char *colon = strrchr(listen, ':');
        int port = colon ? atoi(colon + 1) : 0;
        snprintf(e.events, sizeof e.events, "%s", listen);
        snprintf(e.commands, sizeof e.commands, "%.*s:%d", (int)(colon ? colon - listen : 0), listen,
                 port + 1);
        e.tcp = true;
    } else {
        snprintf(e.events, sizeof e.events, "ipc://%s/%s\x1b[7m\xe2\x80\xae.events", dir, job);
        snprintf(e.commands, sizeof e.commands, "ipc://%s/%s\x1b[7m.cmd", dir, job);
    }
    memcpy(e.instance, h.instance, sizeof e.instance);
    f.pub = cpw_srv_new(CPW_SRV_PUB, e.events, NULL, err, sizeof err);
    f.rep = f.pub ? cpw_srv_new(CPW_SRV_REP, e.commands, NULL, err, sizeof err) : NULL;
    if (!f.pub || !f.rep ||
        (announce && cpw_discovery_write(dir, &e, path, err, sizeof err))) {
        fprintf(stderr, "fake_agent: %s\n", err);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("fake_agent %s: %s\n", job, announce ? path : e.events);
    fflush(stdout);
    int64_t next = 0, id = 0;
    while (!quit) {
        if (cpw_now_us() >= next) {
            publish_hello(&f);
            round_of_events(&f, ++id);
            next = cpw_now_us() + 200000;
        }
        struct pollfd p[64];
        int np = cpw_srv_pollfds(f.pub, p, 32);
        int nr = cpw_srv_pollfds(f.rep, p + np, 32);
        poll(p, (nfds_t)(np + nr), 50);
        int64_t now_ms = cpw_mono_us() / 1000;
        cpw_srv_service(f.pub, p, np, now_ms);
        cpw_srv_service(f.rep, p + np, nr, now_ms);
        cpw_srv_req req;
        while (cpw_srv_next_request(f.rep, &req))
            answer(&f, &req);
    }
    if (announce)
        cpw_discovery_remove(path, e.instance);
    cpw_srv_destroy(f.pub);
    cpw_srv_destroy(f.rep);
    cpw_state_free(f.st);
    return 0;
}
