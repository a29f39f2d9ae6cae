/* test_auth.c — commands over TCP (PROTOCOL.md §12): the HMAC token, its
 * window and nonces, its binding to the job and to the agent's run (a
 * command for another job, or replayed after a restart, is refused), the
 * secret file's checks, loopback by default. */
#include "../agent/cpa_internal.h" /* cpa_replay_check: the window's edges */
#include "cpagent.h"
#include "cpt_sub.h"
#include "cpt_target.h"
#include "cpt_test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char rtdir[300];

static cpa_conf *base_conf(const char *job_id)
{
    snprintf(rtdir, sizeof rtdir, "%s/rt", cpt_tmpdir());
    cpa_conf *c = cpa_conf_new();
    char err[200];
    CPT_ASSERT(c);
    CPT_EQ_INT(cpa_conf_set(c, "runtime.dir", rtdir, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "job.id", job_id, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "job.name", "test job", err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "heartbeat.ms", "3600000", err, sizeof err), CPA_OK);
    return c;
}

static cpa_agent *new_agent(cpa_conf *c)
{
    char err[200];
    cpa_agent *a = cpa_new(c, err, sizeof err);
    CPT_ASSERTF(a, "cpa_new: %s", err);
    return a;
}

static cpa_event ev_of(cpa_event_type t, int64_t id, int op, int sub)
{
    cpa_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.cp_id = id;
    e.op = op;
    e.subtask = sub;
    return e;
}

static int handler_calls;

static cpa_err on_cmd(void *opaque, const cpa_command *cmd, char *msg, size_t size)
{
    (void)cmd;
    handler_calls++;
    snprintf(msg, size, "done %s", (const char *)opaque);
    return CPA_OK;
}

CPT_TEST(tcp_commands_need_a_valid_fresh_token)
{
    int port = cpt_free_port_pair();
    CPT_ASSERT(port > 0);
    cpa_conf *c = base_conf("tcpjob");
    char listen[64], err[200], secret_path[300];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", port);
    snprintf(secret_path, sizeof secret_path, "%s/secret", cpt_tmpdir());
    CPT_EQ_INT(cpa_conf_set(c, "listen", listen, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "secret.file", secret_path, err, sizeof err), CPA_OK);
    cpa_conf_set_command_cb(c, CPA_CMD_TRIGGER, on_cmd, "trigger");
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port + 1);
    CPT_EQ_STR(cpa_commands_url(a), url);

    /* the agent created the secret, private to us */
    struct stat st;
    CPT_EQ_INT(stat(secret_path, &st), 0);
    CPT_EQ_INT(st.st_mode & 0777, 0600);
    unsigned char secret[256];
    int fd = open(secret_path, O_RDONLY);
    ssize_t sl = read(fd, secret, sizeof secret);
    close(fd);
    CPT_ASSERT(sl > 16);
    while (sl > 0 && secret[sl - 1] == '\n')
        sl--;

    /* read-only use needs no token: events flow to a subscriber */
    cpt_sub sub;
    CPT_EQ_INT(cpt_sub_open(&sub, cpa_events_url(a)), 0);
    usleep(200 * 1000);
    cpa_event e = ev_of(CPA_EV_CP_TRIGGERED, 5, -1, -1);
    int got = 0;
    /* a heartbeat also arrives on this socket: wait for the event itself
     * (re-emitted until the subscription is live; same id, one checkpoint) */
    for (int i = 0; i < 50 && !got; i++) {
        CPT_EQ_INT(cpa_emit(a, &e), CPA_OK);
        cpt_sub_poll(&sub, 100);
        got = sub.events > 0;
    }
    CPT_ASSERT(got);
    cpt_sub_close(&sub);

    /* get_state only reads: it needs no token, but a bad one is refused */
    cpw_command gs = {.req = 1, .history = -1};
    gs.c.type = CPW_CMD_GET_STATE;
    cpw_msg r;
    CPT_EQ_INT(cpt_command(url, &gs, NULL, 0, &r, 5000), 0);
    CPT_ASSERTF(r.reply->ok && r.reply->state, "tokenless get_state: %s", r.reply->message);
    CPT_EQ_INT(r.reply->state->counts.total, 1);
    /* what a signed command is bound to: the job and this run of its agent */
    CPT_EQ_STR(r.reply->state->job, "tcpjob");
    char inst[CPW_INSTANCE_HEX + 1];
    snprintf(inst, sizeof inst, "%s", r.reply->state->hello.instance);
    CPT_EQ_INT(strlen(inst), CPW_INSTANCE_HEX);
    cpw_msg_clear(&r);
    CPT_EQ_INT(cpt_command(url, &gs, (const unsigned char *)"not-the-secret-at-all", 21, &r,
                           5000), 0);
    CPT_ASSERT(!r.reply->ok);
    CPT_EQ_STR(r.reply->error, "auth");
    cpw_msg_clear(&r);

    cpw_command cmd = {.req = 1};
    cmd.c.type = CPW_CMD_TRIGGER;
    snprintf(cmd.instance, sizeof cmd.instance, "%s", inst);
    /* no token */
    CPT_EQ_INT(cpt_command(url, &cmd, NULL, 0, &r, 5000), 0);
    CPT_ASSERT(!r.reply->ok);
    CPT_EQ_STR(r.reply->error, "auth");
    cpw_msg_clear(&r);
    /* wrong secret */
    CPT_EQ_INT(cpt_command(url, &cmd, (const unsigned char *)"not-the-secret-at-all", 21, &r,
                           5000), 0);
    CPT_ASSERT(!r.reply->ok);
    CPT_EQ_STR(r.reply->error, "auth");
    CPT_ASSERT(strstr(r.reply->message, "HMAC"));
    cpw_msg_clear(&r);
    CPT_EQ_INT(handler_calls, 0);
    /* right secret */
    CPT_EQ_INT(cpt_command_as(url, "tcpjob", &cmd, secret, (size_t)sl, &r, 5000), 0);
    CPT_ASSERTF(r.reply->ok, "refused: %s", r.reply->message);
    cpw_msg_clear(&r);
    CPT_EQ_INT(handler_calls, 1);

    /* a captured command replayed byte for byte */
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = "tcpjob", .seq = 2, .ts_us = cpw_now_us()};
    cmd.req = 2;
    cpw_encode_command(&b, &env, &cmd, secret, (size_t)sl);
    char *out = NULL;
    int n = cpt_request_raw(url, b.data, b.len, &out, 5000);
    CPT_ASSERT(n > 0 && strstr(out, "\"ok\":true"));
    free(out);
    n = cpt_request_raw(url, b.data, b.len, &out, 5000);
    CPT_ASSERT(n > 0);
    CPT_ASSERTF(strstr(out, "\"ok\":false") && strstr(out, "replayed"), "replay: %s", out);
    free(out);
    /* a stale (but correctly signed) command */
    cpw_buf_reset(&b);
    env.ts_us = cpw_now_us() - 120 * 1000000LL;
    cpw_encode_command(&b, &env, &cmd, secret, (size_t)sl);
    n = cpt_request_raw(url, b.data, b.len, &out, 5000);
    CPT_ASSERT(n > 0);
    CPT_ASSERTF(strstr(out, "\"ok\":false") && strstr(out, "window"), "stale: %s", out);
    free(out);
    /* correctly signed, but with a nonce that is not 32 hex characters */
    cpw_buf_reset(&b);
    env.ts_us = cpw_now_us();
    cpw_command odd = cmd;
    snprintf(odd.nonce, sizeof odd.nonce, "not-hex");
    cpw_encode_command(&b, &env, &odd, secret, (size_t)sl);
    n = cpt_request_raw(url, b.data, b.len, &out, 5000);
    CPT_ASSERTF(n > 0 && strstr(out, "\"error\":\"auth\"") && strstr(out, "nonce"), "nonce: %s",
                out ? out : "");
    free(out);
    /* tampered after signing: change "req":2 into "req":3 */
    cpw_buf_reset(&b);
    env.ts_us = cpw_now_us();
    cpw_encode_command(&b, &env, &cmd, secret, (size_t)sl);
    char *p = strstr(b.data, "\"req\":2");
    CPT_ASSERT(p);
    p[6] = '3';
    n = cpt_request_raw(url, b.data, b.len, &out, 5000);
    CPT_ASSERTF(n > 0 && strstr(out, "\"error\":\"auth\""), "tampered: %s", out ? out : "");
    free(out);
    cpw_buf_free(&b);
    CPT_EQ_INT(handler_calls, 2);
    cpa_destroy(a);
}

CPT_TEST(tcp_binds_loopback_and_refuses_open_secret)
{
    int port = cpt_free_port_pair();
    cpa_conf *c = base_conf("tcpsecret");
    char listen[64], err[200], secret_path[300];
    snprintf(listen, sizeof listen, "tcp://:%d", port);
    snprintf(secret_path, sizeof secret_path, "%s/open-secret", cpt_tmpdir());
    int fd = open(secret_path, O_WRONLY | O_CREAT, 0644);
    CPT_ASSERT(write(fd, "0123456789abcdef0123456789abcdef\n", 33) == 33);
    close(fd);
    chmod(secret_path, 0644);
    CPT_EQ_INT(cpa_conf_set(c, "listen", listen, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "secret.file", secret_path, err, sizeof err), CPA_OK);
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_start(a), CPA_ERR_INSECURE);
    cpa_destroy(a);
    /* fixed permissions: it starts, on 127.0.0.1 by default */
    chmod(secret_path, 0600);
    c = base_conf("tcpsecret");
    CPT_EQ_INT(cpa_conf_set(c, "listen", listen, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "secret.file", secret_path, err, sizeof err), CPA_OK);
    a = new_agent(c);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    char want[64];
    snprintf(want, sizeof want, "tcp://127.0.0.1:%d", port);
    CPT_EQ_STR(cpa_events_url(a), want);
    /* and the kernel agrees: both ports listen on 127.0.0.1 only */
    for (int k = 0; k < 2; k++) {
        char line[512], local[32];
        snprintf(local, sizeof local, "0100007F:%04X", port + k);
        FILE *f = fopen("/proc/net/tcp", "r");
        CPT_ASSERT(f);
        int listening = 0, elsewhere = 0;
        while (fgets(line, sizeof line, f)) {
            char addr[64], st[8];
            if (sscanf(line, " %*d: %63s %*s %7s", addr, st) != 2 || strcmp(st, "0A"))
                continue; /* 0A: LISTEN */
            char *colon = strchr(addr, ':');
            if (!colon || strtol(colon + 1, NULL, 16) != port + k)
                continue;
            if (!strcmp(addr, local))
                listening++;
            else
                elsewhere++;
        }
        fclose(f);
        CPT_EQ_INT(listening, 1);
        CPT_EQ_INT(elsewhere, 0);
    }
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- binding */

/* A tcp agent for job `job` on port (commands on port + 1), its secret at
 * secret_path (created by the first agent that needs it). */
static cpa_agent *tcp_agent(const char *job, int port, const char *secret_path)
{
    cpa_conf *c = base_conf(job);
    char listen[64], err[200];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", port);
    CPT_EQ_INT(cpa_conf_set(c, "listen", listen, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "secret.file", secret_path, err, sizeof err), CPA_OK);
    cpa_conf_set_command_cb(c, CPA_CMD_TRIGGER, on_cmd, (void *)job);
    cpa_agent *a = new_agent(c);
    CPT_EQ_INT(cpa_start(a), CPA_OK);
    return a;
}

static size_t read_secret(const char *path, unsigned char *out, size_t max)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, out, max) : -1;
    if (fd >= 0)
        close(fd);
    CPT_ASSERT(n > 16);
    while (n > 0 && out[n - 1] == '\n')
        n--;
    return (size_t)n;
}

/* The instance a running agent announces (a tokenless get_state). */
static void instance_of(const char *url, char inst[CPW_INSTANCE_HEX + 1])
{
    cpw_command gs = {.req = 1, .history = 0};
    gs.c.type = CPW_CMD_GET_STATE;
    cpw_msg r;
    CPT_EQ_INT(cpt_command(url, &gs, NULL, 0, &r, 5000), 0);
    CPT_ASSERT(r.reply->ok && r.reply->state);
    snprintf(inst, CPW_INSTANCE_HEX + 1, "%s", r.reply->state->hello.instance);
    CPT_EQ_INT(strlen(inst), CPW_INSTANCE_HEX);
    cpw_msg_clear(&r);
}

/* A trigger signed for job and inst, sent to url; the reply's error token
 * ("" when accepted) and message. */
static void trigger_as(const char *url, const char *job, const char *inst,
                       const unsigned char *secret, size_t sl, char *error, char *message)
{
    cpw_command cmd = {.req = 9};
    cmd.c.type = CPW_CMD_TRIGGER;
    snprintf(cmd.instance, sizeof cmd.instance, "%s", inst);
    cpw_msg r;
    CPT_EQ_INT(cpt_command_as(url, job, &cmd, secret, sl, &r, 5000), 0);
    snprintf(error, 32, "%s", r.reply->ok ? "" : r.reply->error);
    snprintf(message, CPW_TEXT_MAX, "%s", r.reply->message);
    cpw_msg_clear(&r);
}

static const char *cmd_url(int port)
{
    static char url[2][64];
    static int k;
    k ^= 1;
    snprintf(url[k], sizeof url[k], "tcp://127.0.0.1:%d", port + 1);
    return url[k];
}

CPT_TEST(a_command_signed_for_another_job_is_refused)
{
    char secret_path[300], error[32], msg[CPW_TEXT_MAX];
    snprintf(secret_path, sizeof secret_path, "%s/shared-secret", cpt_tmpdir());
    int pa = cpt_free_port_pair();
    cpa_agent *a = tcp_agent("job-a", pa, secret_path);
    int pb = cpt_free_port_pair();
    cpa_agent *b = tcp_agent("job-b", pb, secret_path); /* the same secret */
    unsigned char secret[256];
    size_t sl = read_secret(secret_path, secret, sizeof secret);
    char ia[CPW_INSTANCE_HEX + 1], ib[CPW_INSTANCE_HEX + 1];
    instance_of(cmd_url(pa), ia);
    instance_of(cmd_url(pb), ib);

    trigger_as(cmd_url(pa), "job-a", ia, secret, sl, error, msg);
    CPT_EQ_STR(error, "");
    /* signed for A, sent to B: the secret is right, the job is not */
    trigger_as(cmd_url(pb), "job-a", ia, secret, sl, error, msg);
    CPT_EQ_STR(error, "auth");
    CPT_ASSERTF(strstr(msg, "signed for another job"), "%s", msg);
    /* B's job id with A's instance: not B's run either */
    trigger_as(cmd_url(pb), "job-b", ia, secret, sl, error, msg);
    CPT_EQ_STR(error, "auth");
    CPT_ASSERTF(strstr(msg, "earlier run"), "%s", msg);
    trigger_as(cmd_url(pb), "job-b", ib, secret, sl, error, msg);
    CPT_EQ_STR(error, "");
    CPT_EQ_INT(handler_calls, 2);
    cpa_destroy(b);
    cpa_destroy(a);
}

CPT_TEST(a_command_replayed_after_a_restart_is_refused)
{
    char secret_path[300], error[32], msg[CPW_TEXT_MAX];
    snprintf(secret_path, sizeof secret_path, "%s/secret", cpt_tmpdir());
    int port = cpt_free_port_pair();
    cpa_agent *a = tcp_agent("job-r", port, secret_path);
    unsigned char secret[256];
    size_t sl = read_secret(secret_path, secret, sizeof secret);
    char first[CPW_INSTANCE_HEX + 1], second[CPW_INSTANCE_HEX + 1];
    instance_of(cmd_url(port), first);
    /* a command captured on its way to the first run, never delivered */
    cpw_command cmd = {.req = 4};
    cmd.c.type = CPW_CMD_TRIGGER;
    snprintf(cmd.instance, sizeof cmd.instance, "%s", first);
    cpw_buf captured;
    cpw_buf_init(&captured);
    cpw_envelope env = {.job = "job-r", .seq = 4, .ts_us = cpw_now_us()};
    cpw_encode_command(&captured, &env, &cmd, secret, sl);
    trigger_as(cmd_url(port), "job-r", first, secret, sl, error, msg);
    CPT_EQ_STR(error, ""); /* what the first run accepted */
    cpa_destroy(a);

    /* the job restarts: same id, same port, same secret, a new run */
    a = tcp_agent("job-r", port, secret_path);
    instance_of(cmd_url(port), second);
    CPT_ASSERT(strcmp(first, second) != 0);
    char *out = NULL;
    int n = cpt_request_raw(cmd_url(port), captured.data, captured.len, &out, 5000);
    CPT_ASSERTF(n > 0 && strstr(out, "\"error\":\"auth\"") && strstr(out, "earlier run"),
                "replayed after the restart: %s", out ? out : "(no reply)");
    free(out);
    cpw_buf_free(&captured);
    /* ... within the 30 s window and with a nonce the new run never saw:
     * only the binding refuses it. The new run's own commands go through. */
    trigger_as(cmd_url(port), "job-r", second, secret, sl, error, msg);
    CPT_EQ_STR(error, "");
    CPT_EQ_INT(handler_calls, 2);
    cpa_destroy(a);
}

CPT_TEST(a_signed_command_names_its_instance)
{
    char secret_path[300], error[32], msg[CPW_TEXT_MAX];
    snprintf(secret_path, sizeof secret_path, "%s/secret", cpt_tmpdir());
    int port = cpt_free_port_pair();
    cpa_agent *a = tcp_agent("job-i", port, secret_path);
    unsigned char secret[256];
    size_t sl = read_secret(secret_path, secret, sizeof secret);
    trigger_as(cmd_url(port), "job-i", "", secret, sl, error, msg);
    CPT_EQ_STR(error, "auth");
    CPT_ASSERTF(strstr(msg, "instance"), "%s", msg);
    /* an instance that is not 32 lowercase hex is not a command at all */
    const char *bad = "{\"v\":1,\"type\":\"cmd\",\"job\":\"job-i\",\"seq\":1,\"ts_us\":1,\"req\":1,"
                      "\"cmd\":\"trigger\",\"instance\":\"NOT-HEX\"}";
    char *out = NULL;
    int n = cpt_request_raw(cmd_url(port), bad, strlen(bad), &out, 5000);
    CPT_ASSERTF(n > 0 && strstr(out, "bad_command") && strstr(out, "instance"), "%s",
                out ? out : "(no reply)");
    free(out);
    CPT_EQ_INT(handler_calls, 0);
    cpa_destroy(a);
}

/* seq and req at the top of their range (PROTOCOL.md §5, §9): signed,
 * accepted, and the reply carries the request id back. */
CPT_TEST(a_signed_command_may_use_the_whole_seq_range)
{
    char secret_path[300];
    snprintf(secret_path, sizeof secret_path, "%s/secret", cpt_tmpdir());
    int port = cpt_free_port_pair();
    cpa_agent *a = tcp_agent("job-s", port, secret_path);
    unsigned char secret[256];
    size_t sl = read_secret(secret_path, secret, sizeof secret);
    const uint64_t ids[] = {(uint64_t)INT64_MAX + 1, UINT64_MAX};
    for (int i = 0; i < 2; i++) {
        cpw_command cmd = {.req = ids[i]}; /* the envelope's seq too */
        cmd.c.type = CPW_CMD_TRIGGER;
        instance_of(cmd_url(port), cmd.instance);
        cpw_msg r;
        CPT_EQ_INT(cpt_command_as(cmd_url(port), "job-s", &cmd, secret, sl, &r, 5000), 0);
        CPT_ASSERTF(r.reply->ok, "refused: %s", r.reply->message);
        CPT_ASSERTF(r.reply->req == ids[i], "req %" PRIu64 " came back as %" PRIu64, ids[i],
                    r.reply->req);
        cpw_msg_clear(&r);
    }
    CPT_EQ_INT(handler_calls, 2);
    cpa_destroy(a);
}

/* ---------------------------------------------------------------- the replay window */

static const char *check_at(cpa_replay *r, int nonce, int64_t ts, int64_t now)
{
    char hex[CPW_NONCE_HEX + 1];
    snprintf(hex, sizeof hex, "%032x", nonce);
    return cpa_replay_check(r, hex, ts, now);
}

/* Each nonce once while its timestamp can pass; ±30 s inclusive; any
 * timestamp the wire can carry compared without overflow. */
CPT_TEST(the_replay_window_takes_each_nonce_once)
{
    cpa_replay *r = calloc(1, sizeof *r);
    CPT_ASSERT(r);
    const int64_t now = 1700000000000000LL, w = CPA_REPLAY_WINDOW_US;
    CPT_ASSERT(check_at(r, 1, now, now) == NULL);
    CPT_ASSERTF(strstr(check_at(r, 1, now, now) ?: "", "already used"), "a second use");
    CPT_ASSERT(check_at(r, 2, now - w, now) == NULL);
    CPT_ASSERT(check_at(r, 3, now + w, now) == NULL);
    const int64_t outside[] = {now - w - 1, now + w + 1, INT64_MIN, INT64_MAX, 0, -1};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++)
        CPT_ASSERTF(strstr(check_at(r, 10 + (int)i, outside[i], now) ?: "", "window"),
                    "ts %" PRId64 " accepted", outside[i]);
    /* nonce 3 came from the window's far edge: still remembered while its
     * timestamp is in the window, whatever the clock says since */
    CPT_ASSERT(check_at(r, 3, now + w, now + 2 * w) != NULL);
    CPT_ASSERT(check_at(r, 3, now + w, now + w) != NULL);
    /* a malformed nonce */
    CPT_ASSERT(strstr(cpa_replay_check(r, "ABC", now, now) ?: "", "nonce"));
    cpa_replay_check(r, NULL, now, now);
    free(r);
}

/* 4096 nonces within 60 s fill the memory: the next is refused (never
 * accepted unremembered), and room comes back as they age out. */
CPT_TEST(the_replay_memory_refuses_when_full_and_recovers)
{
    cpa_replay *r = calloc(1, sizeof *r);
    CPT_ASSERT(r);
    const int64_t now = 1700000000000000LL, w = CPA_REPLAY_WINDOW_US;
    for (int i = 0; i < CPA_NONCE_SLOTS; i++)
        CPT_ASSERT(check_at(r, i, now, now) == NULL);
    CPT_ASSERTF(strstr(check_at(r, CPA_NONCE_SLOTS, now, now) ?: "", "too many"), "full");
    /* every earlier one is still refused */
    CPT_ASSERT(check_at(r, 0, now, now) != NULL);
    CPT_ASSERT(check_at(r, CPA_NONCE_SLOTS - 1, now, now + w) != NULL);
    /* past twice the window the old ones go; new ones fit again */
    const int64_t later = now + 2 * w + 1;
    CPT_ASSERT(check_at(r, CPA_NONCE_SLOTS, later, later) == NULL);
    CPT_ASSERT(check_at(r, 0, later, later) == NULL);
    CPT_ASSERT(check_at(r, 0, later, later) != NULL);
    free(r);
}

/* ---------------------------------------------------------------- secret file */

static char logged[4096];
static void on_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", msg);
}

/* Starting with secret.file at path: refused at once, saying why. */
static void refused(const char *path, const char *why)
{
    cpa_conf *c = base_conf("secretkind");
    char listen[64], err[200];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", cpt_free_port_pair());
    CPT_EQ_INT(cpa_conf_set(c, "listen", listen, err, sizeof err), CPA_OK);
    CPT_EQ_INT(cpa_conf_set(c, "secret.file", path, err, sizeof err), CPA_OK);
    cpa_conf_set_log_cb(c, on_log, NULL);
    cpa_agent *a = new_agent(c);
    logged[0] = '\0';
    int64_t t0 = cpt_now_ms();
    CPT_EQ_INT(cpa_start(a), CPA_ERR_INSECURE);
    CPT_ASSERTF(cpt_now_ms() - t0 < 2000, "cpa_start waited on %s", path);
    CPT_ASSERTF(strstr(logged, path) && strstr(logged, why) &&
                    strstr(logged, "not a regular file"),
                "log: %s", logged);
    cpa_destroy(a);
}

CPT_TEST(the_secret_file_must_be_a_regular_file)
{
    char path[300];
    /* a FIFO: opening it used to wait forever for a writer */
    snprintf(path, sizeof path, "%s/fifo-secret", cpt_tmpdir());
    CPT_EQ_INT(mkfifo(path, 0600), 0);
    refused(path, "a FIFO");
    snprintf(path, sizeof path, "%s/dir-secret", cpt_tmpdir());
    CPT_EQ_INT(mkdir(path, 0700), 0);
    refused(path, "a directory");
    refused("/dev/null", "a character device");
}

/* cptop reads the secret under the agent's rules: a FIFO, a directory or a
 * file others may read is refused at once, naming the path and the fix. */
CPT_TEST(cptop_refuses_a_secret_file_that_is_not_private_and_regular)
{
    char fifo[300], dir[300], open_file[300], good[300], msg[1024];
    snprintf(fifo, sizeof fifo, "%s/fifo", cpt_tmpdir());
    snprintf(dir, sizeof dir, "%s/dir", cpt_tmpdir());
    snprintf(open_file, sizeof open_file, "%s/open", cpt_tmpdir());
    snprintf(good, sizeof good, "%s/good", cpt_tmpdir());
    CPT_EQ_INT(mkfifo(fifo, 0600), 0);
    CPT_EQ_INT(mkdir(dir, 0700), 0);
    static const char key[] = "0123456789abcdef0123456789abcdef\n";
    for (int i = 0; i < 2; i++) {
        const char *p = i ? good : open_file;
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CPT_ASSERT(fd >= 0 && write(fd, key, sizeof key - 1) == (ssize_t)sizeof key - 1);
        close(fd);
    }
    CPT_EQ_INT(chmod(open_file, 0640), 0);
    const struct {
        const char *path, *why;
    } bad[] = {{fifo, "not a regular file"}, {dir, "not a regular file"},
               {open_file, "chmod 600"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cpt_where w = {.secret_file = bad[i].path, .runtime_dir = cpt_tmpdir()};
        cpt_target t;
        memset(&t, 0, sizeof t);
        msg[0] = '\0';
        int64_t t0 = cpt_now_ms();
        CPT_EQ_INT(cpt_target_secret(&w, &t, msg, sizeof msg), -1);
        CPT_ASSERTF(cpt_now_ms() - t0 < 2000, "waited on %s", bad[i].path);
        CPT_ASSERTF(strstr(msg, bad[i].path) && strstr(msg, bad[i].why), "%s", msg);
        CPT_EQ_INT(t.secret_len, 0);
    }
    cpt_where w = {.secret_file = good, .runtime_dir = cpt_tmpdir()};
    cpt_target t;
    memset(&t, 0, sizeof t);
    CPT_EQ_INT(cpt_target_secret(&w, &t, msg, sizeof msg), 0);
    CPT_EQ_INT(t.secret_len, sizeof key - 2); /* the newline dropped */
}
