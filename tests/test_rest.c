/*
 * test_rest.c — libcpagent's Flink REST endpoint (agent/cpa_rest*.c): the
 * routing table and the trigger body, the history and its all-time summary,
 * trigger operations, and a live agent answering over HTTP (every endpoint,
 * in-flight checkpoints at once, a POST trigger that completes, cancel,
 * authentication beyond loopback, hostile requests).
 *
 * The unit parts link agent/cpa_rest_{route,hist,ops}.o directly (the
 * library hides them); see the Makefile.
 */
#include "../agent/cpa_rest_int.h"
#include "cpt_test.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ routing */

/* fmt with every "%s" replaced by the id j. */
static void expand(const char *fmt, const char *j, char *out, size_t size)
{
    size_t n = 0;
    for (const char *f = fmt; *f && n + 40 < size; f++) {
        if (f[0] == '%' && f[1] == 's') {
            n += (size_t)snprintf(out + n, size - n, "%s", j);
            f++;
        } else {
            out[n++] = *f;
        }
    }
    out[n] = '\0';
}

CPT_TEST(routes_match_flink_paths)
{
    static const char J[] = "0123456789abcdef0123456789ABCDEF";
    char p[300], msg[CPA_REST_MSG_MAX], allow[32];
    cpa_request rq;
    static const struct {
        const char *method, *fmt;
        int status;
        cpa_route route;
    } cases[] = {
        {"GET", "/config", 0, CPA_R_CONFIG},
        {"GET", "/v1/config", 0, CPA_R_CONFIG},
        {"HEAD", "/jobs", 0, CPA_R_JOBS},
        {"GET", "/jobs/overview", 0, CPA_R_OVERVIEW},
        {"GET", "/jobs/%s", 0, CPA_R_JOB},
        {"PATCH", "/jobs/%s", 0, CPA_R_CANCEL},
        {"GET", "/jobs/%s/checkpoints", 0, CPA_R_STATS},
        {"POST", "/v1/jobs/%s/checkpoints", 0, CPA_R_TRIGGER},
        {"GET", "/jobs/%s/checkpoints/config", 0, CPA_R_CP_CONFIG},
        {"GET", "/jobs/%s/checkpoints/details/42", 0, CPA_R_DETAILS},
        {"GET", "/jobs/%s/checkpoints/details/42/subtasks/%s", 0, CPA_R_SUBTASKS},
        {"GET", "/jobs/%s/checkpoints/%s", 0, CPA_R_TRIGGER_STATUS},
        {"GET", "/", 404, 0},
        {"GET", "/v1", 404, 0},
        {"GET", "/jobs/", 404, 0},
        {"GET", "//jobs", 404, 0},
        {"GET", "/jobs/%s/checkpoints/details/42/subtasks", 404, 0},
        {"GET", "/jobs/%s/checkpoints/a/b/c/d/e/f/g", 404, 0},
        {"GET", "jobs", 404, 0},
        {"DELETE", "/jobs", 405, 0},
        {"PATCH", "/jobs/overview", 405, 0},
        {"POST", "/jobs/%s/checkpoints/config", 405, 0},
        {"GET", "/jobs/not-an-id", 400, 0},
        {"GET", "/jobs/%s/checkpoints/details/-1", 400, 0},
        {"GET", "/jobs/%s/checkpoints/details/9999999999999999999", 400, 0},
        {"GET", "/jobs/%s/checkpoints/details/7/subtasks/xyz", 400, 0},
        {"GET", "/jobs/%s/checkpoints/0123", 400, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expand(cases[i].fmt, J, p, sizeof p);
        int st = cpa_rest_route(cases[i].method, p, &rq, msg, sizeof msg, allow, sizeof allow);
        CPT_ASSERTF(st == cases[i].status, "%s %s: %d (%s), expected %d", cases[i].method, p, st,
                    msg, cases[i].status);
        if (!st) {
            CPT_EQ_INT(rq.route, cases[i].route);
            if (strstr(cases[i].fmt, "/jobs/%s"))
                CPT_EQ_STR(rq.jid, "0123456789abcdef0123456789abcdef"); /* lowercased */
        }
    }
    CPT_EQ_INT(cpa_rest_route("GET", "/jobs/x/checkpoints/details/42/subtasks/0123456789abcdef0123456789abcdef",
                              &rq, msg, sizeof msg, allow, sizeof allow), 400);
    CPT_ASSERT(strstr(msg, "(jobid)"));
    snprintf(p, sizeof p, "/jobs/%s/checkpoints/details/42", J);
    CPT_EQ_INT(cpa_rest_route("GET", p, &rq, msg, sizeof msg, allow, sizeof allow), 0);
    CPT_EQ_INT(rq.cpid, 42);
    CPT_EQ_INT(cpa_rest_route("PUT", "/jobs", &rq, msg, sizeof msg, allow, sizeof allow), 405);
    CPT_EQ_STR(allow, "GET");
    snprintf(p, sizeof p, "/jobs/%s", J);
    CPT_EQ_INT(cpa_rest_route("POST", p, &rq, msg, sizeof msg, allow, sizeof allow), 405);
    CPT_EQ_STR(allow, "GET, PATCH");
    CPT_EQ_INT(cpa_rest_route("GET", "/nope\x1b[2J", &rq, msg, sizeof msg, allow, sizeof allow), 404);
    CPT_ASSERT(!strchr(msg, 0x1b)); /* echoed paths are sanitised */
    char longp[CPA_REST_MAX_URL + 100];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    CPT_EQ_INT(cpa_rest_route("GET", longp, &rq, msg, sizeof msg, allow, sizeof allow), 404);
}

CPT_TEST(trigger_body_is_checked)
{
    cpa_trigger_body tb;
    char msg[CPA_REST_MSG_MAX];
    CPT_EQ_INT(cpa_rest_parse_trigger_body("", 0, &tb, msg, sizeof msg), 0);
    CPT_EQ_STR(tb.type, "CONFIGURED");
    CPT_EQ_STR(tb.trigger_id, "");
    const char *ok = "{\"checkpointType\":\"FULL\",\"triggerId\":\"7D273F5A62EB4730B9DEA8E833733C1E\",\"x\":1}";
    CPT_EQ_INT(cpa_rest_parse_trigger_body(ok, strlen(ok), &tb, msg, sizeof msg), 0);
    CPT_EQ_STR(tb.type, "FULL");
    CPT_EQ_STR(tb.trigger_id, "7d273f5a62eb4730b9dea8e833733c1e");
    const char *nul = "{\"checkpointType\":null,\"triggerId\":null}";
    CPT_EQ_INT(cpa_rest_parse_trigger_body(nul, strlen(nul), &tb, msg, sizeof msg), 0);
    static const char *const bad[] = {
        "{", "[]", "1", "{\"triggerId\":\"abc\"}", "{\"triggerId\":7}",
        "{\"checkpointType\":\"SAVEPOINT\"}", "{\"checkpointType\":1}", "{\"a\":1,\"a\":2}",
        "{\"triggerId\":\"7d273f5a62eb4730b9dea8e833733c1e\"} x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CPT_ASSERTF(cpa_rest_parse_trigger_body(bad[i], strlen(bad[i]), &tb, msg, sizeof msg) == 400,
                    "accepted %s", bad[i]);
}

/* ------------------------------------------------------------------ history, summary */

CPT_TEST(percentiles_as_flink_computes_them)
{
    int64_t x[10];
    for (int i = 0; i < 10; i++)
        x[i] = i + 1;
    /* commons-math: position p(n+1)/100, linear between neighbours */
    CPT_ASSERT(cpa_rest_percentile(x, 10, 50) == 5.5);
    CPT_ASSERT(fabs(cpa_rest_percentile(x, 10, 90) - 9.9) < 1e-9);
    CPT_ASSERT(cpa_rest_percentile(x, 10, 99) == 10);
    CPT_ASSERT(cpa_rest_percentile(x, 10, 5) == 1);
    CPT_ASSERT(cpa_rest_percentile(x, 1, 50) == 1);
    CPT_ASSERT(isnan(cpa_rest_percentile(x, 0, 50)));
}

/* A state with topology source x2 -> sum x1 and the given checkpoints
 * finished: id i completes with duration durs[i] ms (and sizes from it). */
static cpw_state *state_with(int n, const int64_t *durs, int64_t t0)
{
    cpw_state *s = cpw_state_new(64, 8);
    cpw_hello h;
    memset(&h, 0, sizeof h);
    h.n_ops = 2;
    snprintf(h.ops[0].name, sizeof h.ops[0].name, "source");
    h.ops[0].parallelism = 2;
    snprintf(h.ops[1].name, sizeof h.ops[1].name, "sum");
    h.ops[1].parallelism = 1;
    cpw_state_set_hello(s, &h);
    uint64_t seq = 0;
    for (int i = 0; i < n; i++) {
        cpw_event e = {.type = CPW_EV_CP_TRIGGERED, .cp_id = i + 1, .op = -1, .subtask = -1,
                       .ts_us = t0 + i * 1000000};
        cpw_state_apply(s, &e, ++seq);
        for (int op = 0; op < 2; op++)
            for (int k = 0; k < h.ops[op].parallelism; k++) {
                cpw_event a = {.type = CPW_EV_ACK, .cp_id = i + 1, .op = op, .subtask = k,
                               .ts_us = t0 + i * 1000000 + 1000 * (op + 1)};
                a.u.ack.state_size = 100;
                a.u.ack.processed_data = 7;
                a.u.ack.unaligned = op;
                cpw_state_apply(s, &a, ++seq);
            }
        cpw_event c = {.type = CPW_EV_CP_COMPLETED, .cp_id = i + 1, .op = -1, .subtask = -1,
                       .ts_us = t0 + i * 1000000 + 5000};
        c.u.completed.duration_us = durs[i] * 1000;
        c.u.completed.state_size = durs[i] * 1000000; /* large: histogram buckets */
        c.u.completed.checkpointed_size = durs[i];
        cpw_state_apply(s, &c, ++seq);
    }
    return s;
}

CPT_TEST(summary_covers_every_checkpoint_within_bounded_memory)
{
    enum { N = 40 };
    int64_t durs[N];
    for (int i = 0; i < N; i++)
        durs[i] = (i * 37) % N + 1; /* 1…40, shuffled */
    cpw_state *s = state_with(N, durs, INT64_C(1700000000000000));
    cpa_rest_hist *h = cpa_rest_hist_new(5); /* keeps 5, summarises all */
    /* taken in step by step, as the agent does after every event */
    cpw_state *partial = state_with(10, durs, INT64_C(1700000000000000));
    cpa_rest_hist_sync(h, partial, NULL, NULL);
    CPT_EQ_INT(cpa_rest_hist_count(h), 5);
    cpw_state_free(partial);
    cpa_rest_hist_free(h);
    h = cpa_rest_hist_new(5);
    cpa_rest_hist_sync(h, s, NULL, NULL); /* 40 finished, the state keeps 64 */
    CPT_EQ_INT(cpa_rest_hist_count(h), 5);
    CPT_EQ_INT(cpa_rest_hist_at(h, 0)->cp.id, N);
    CPT_EQ_INT(cpa_rest_hist_at(h, 4)->cp.id, N - 4);
    CPT_ASSERT(cpa_rest_hist_at(h, 5) == NULL);
    CPT_ASSERT(cpa_rest_hist_find(h, N - 2) && !cpa_rest_hist_find(h, 3));
    CPT_EQ_INT(cpa_rest_hist_latest(h, CPW_CP_COMPLETED)->cp.id, N);
    CPT_ASSERT(cpa_rest_hist_latest(h, CPW_CP_FAILED) == NULL);
    const cpa_hist_entry *e = cpa_rest_hist_at(h, 0);
    CPT_EQ_INT(e->n_tasks, 2);
    CPT_EQ_INT(e->tasks[0].acked, 2);
    CPT_EQ_INT(e->tasks[0].state_size, 200);
    CPT_EQ_INT(e->processed, 21);
    CPT_EQ_INT(e->unaligned, 1); /* the sum acked unaligned */
    cpw_flink_stats fs;
    memset(&fs, 0, sizeof fs);
    cpa_rest_hist_summary(h, &fs);
    /* durations 1…40 ms: below 256, exact */
    CPT_EQ_INT(fs.e2e.min, 1);
    CPT_EQ_INT(fs.e2e.max, 40);
    CPT_EQ_INT(fs.e2e.avg, 20); /* 820 / 40 */
    CPT_ASSERT(fs.e2e.p50 == 20.5);
    CPT_ASSERT(fabs(fs.e2e.p90 - 36.9) < 1e-9);
    CPT_ASSERT(fs.e2e.p999 == 40);
    /* sizes up to 4e7: within half a bucket (0.4%) */
    CPT_EQ_INT(fs.state_size.min, 1000000);
    CPT_EQ_INT(fs.state_size.max, 40000000);
    CPT_ASSERTF(fabs(fs.state_size.p50 - 20500000) < 20500000 * 0.004, "p50 %f", fs.state_size.p50);
    CPT_EQ_INT(fs.processed.max, 21);
    CPT_ASSERT(fs.alignment_buffered.p50 == 0 && fs.alignment_buffered.has_pct);
    /* nothing new: the same answer */
    cpa_rest_hist_sync(h, s, NULL, NULL);
    CPT_EQ_INT(cpa_rest_hist_count(h), 5);
    cpa_rest_hist_free(h);
    cpw_state_free(s);
    /* no samples: NaN percentiles, as Flink */
    h = cpa_rest_hist_new(1);
    cpa_rest_hist_summary(h, &fs);
    CPT_ASSERT(isnan(fs.e2e.p50) && fs.e2e.min == 0 && fs.e2e.has_pct);
    cpa_rest_hist_free(h);
}

/* ------------------------------------------------------------------ trigger operations */

CPT_TEST(trigger_operations_bind_in_acceptance_order)
{
    cpa_rest_ops *o = cpa_rest_ops_new();
    int64_t now = 1000;
    cpa_op *a = cpa_rest_ops_add(o, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", now);
    cpa_op *b = cpa_rest_ops_add(o, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", now);
    CPT_ASSERT(a && b);
    cpa_rest_ops_accepted(o, NULL); /* a dashboard's trigger first */
    cpa_rest_ops_accepted(o, a->id);
    cpa_rest_ops_accepted(o, b->id);
    cpa_rest_ops_started(o, 7); /* the dashboard's */
    CPT_EQ_INT(a->state, CPA_OP_WAITING);
    cpa_rest_ops_started(o, 8);
    cpa_rest_ops_started(o, 9);
    CPT_EQ_INT(a->state, CPA_OP_RUNNING);
    CPT_EQ_INT(a->cp_id, 8);
    CPT_EQ_INT(b->cp_id, 9);
    cpa_hist_entry e = {.cp = {.id = 8, .status = CPW_CP_COMPLETED}};
    cpa_rest_ops_ended(o, &e, now);
    CPT_EQ_INT(a->state, CPA_OP_DONE);
    CPT_ASSERT(!a->failed);
    e = (cpa_hist_entry){.cp = {.id = 9, .status = CPW_CP_FAILED}};
    snprintf(e.failure, sizeof e.failure, "Checkpoint expired before completing.");
    cpa_rest_ops_ended(o, &e, now);
    CPT_ASSERT(b->failed);
    CPT_EQ_STR(b->cause, "Checkpoint expired before completing.");
    /* a waiting one expires, and a restart fails the rest */
    cpa_op *c = cpa_rest_ops_add(o, "cccccccccccccccccccccccccccccccc", now);
    cpa_op *d = cpa_rest_ops_add(o, "dddddddddddddddddddddddddddddddd", now + 100);
    cpa_rest_ops_expire(o, 50, "late", now + 120);
    CPT_ASSERT(c->state == CPA_OP_DONE && c->failed && d->state == CPA_OP_WAITING);
    cpa_rest_ops_accepted(o, d->id);
    cpa_rest_ops_expire(o, -1, "restarted", now + 130);
    CPT_EQ_STR(d->cause, "restarted");
    cpa_rest_ops_started(o, 10); /* the queue was emptied: binds nothing */
    CPT_EQ_INT(d->cp_id, 0);
    /* done operations are forgotten after a while; a full table refuses */
    CPT_ASSERT(cpa_rest_ops_find(o, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", now + 1000));
    CPT_ASSERT(!cpa_rest_ops_find(o, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", now + CPA_OPS_KEEP_US + 1000));
    int64_t t = now + CPA_OPS_KEEP_US * 3;
    char id[40];
    for (int i = 0; i < CPA_OPS_MAX; i++) {
        snprintf(id, sizeof id, "%032x", i);
        CPT_ASSERT(cpa_rest_ops_add(o, id, t));
    }
    CPT_ASSERT(!cpa_rest_ops_add(o, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", t));
    cpa_rest_ops_finish(cpa_rest_ops_find(o, "00000000000000000000000000000005", t), false, NULL, t);
    CPT_ASSERT(cpa_rest_ops_add(o, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", t)); /* the done one made room */
    CPT_ASSERT(!cpa_rest_ops_find(o, "00000000000000000000000000000005", t));
    cpa_rest_ops_free(o);
}
