/*
 * cptop_replay.c — `cptop --replay FILE` in the script modes (the
 * interactive replay is the dashboard's, cptop_dash.c), through the replay
 * source (cpt_src_replay.c) and its player:
 *
 *   --replay FILE --once [--at TIME]        the state at TIME (default: the
 *                                           end) as --once prints it live
 *   --replay FILE --json [--from T] [--to T]  a state line at T (reason
 *                                           "replay"), then the recorded
 *                                           messages up to --to, as --json
 *
 * TIME: HH:MM[:SS] (the first such time from the recording's start),
 * -5m / -30s (before the recording's end), +90s (after its start),
 * @EPOCH or YYYY-MM-DDTHH:MM[:SS]. Every string from the recording is
 * sanitised on its way out; notes about damaged chunks go to stderr.
 */
#include "cptop.h"
#include "cpt_fmt.h"
#include "cpt_replay.h"
#include "cpw_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_note(void *ud, const char *file, uint64_t offset, const char *text)
{
    (void)ud;
    char line[900];
    snprintf(line, sizeof line, "%s: offset %llu: %s", file, (unsigned long long)offset, text);
    cptop_complain(line);
}

/* A time argument (NULL: dflt) against the recording's range. */
static int when(const char *arg, int64_t first, int64_t last, int64_t dflt, int64_t *out)
{
    if (!arg) {
        *out = dflt;
        return 0;
    }
    if (cpt_rec_parse_time(arg, first, arg[0] == '+' ? first : last, out))
        return 0;
    char m[300];
    snprintf(m, sizeof m, "'%s' is not a time (HH:MM[:SS], -5m, +30s, @EPOCH, "
             "YYYY-MM-DDTHH:MM[:SS])", arg);
    cptop_complain(m);
    return 2;
}

/* The state at `at` as live --once prints it, under a line naming the time. */
static void print_state(const cpt_model *m, int64_t at)
{
    char d[32];
    cpt_fmt_clock(d, sizeof d, at, false);
    printf("replay at %s (%lld)\n", d, (long long)(at / 1000000));
    cptop_once_print(m->st, at, CPTOP_ONCE_HISTORY);
}

/* ------------------------------------------------------------ --json */

typedef struct json_out {
    cpw_buf line, enc;
    bool broken;
} json_out;

static bool emit(json_out *j, const char *json, size_t len)
{
    cpw_buf_reset(&j->line);
    cpw_json_sanitize(&j->line, json, len);
    if (j->line.failed)
        return true;
    fwrite(j->line.data, 1, j->line.len, stdout);
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout))
        j->broken = true;
    return !j->broken;
}

static void state_line(json_out *j, const cpw_state *st, int64_t at, const char *reason)
{
    cpw_buf *b = &j->enc;
    cpw_buf_reset(b);
    char head[512];
    int n = snprintf(head, sizeof head, "{\"v\":1,\"type\":\"state\",\"seq\":%llu,\"ts_us\":%lld,"
                     "\"reason\":\"%s\",\"pid\":%d,\"result\":",
                     (unsigned long long)st->seq, (long long)at, reason, st->hello.pid);
    if (!cpw_buf_reserve(b, (size_t)n + 1))
        return;
    memcpy(b->data, head, (size_t)n);
    b->len = (size_t)n;
    cpw_state_encode(b, st, -1);
    if (cpw_buf_reserve(b, 1))
        b->data[b->len++] = '}';
    if (!b->failed)
        emit(j, b->data, b->len);
}

static int print_msg(void *ud, const cpw_msg *m, int64_t recv_us)
{
    (void)recv_us;
    json_out *j = ud;
    cpw_buf *b = &j->enc;
    cpw_buf_reset(b);
    cpw_envelope env = {.job = m->job, .seq = m->seq, .ts_us = m->ts_us};
    if (m->kind == CPW_K_EVENT)
        cpw_encode_event(b, &env, &m->ev);
    else if (m->kind == CPW_K_HELLO)
        cpw_encode_hello(b, &env, m->hello);
    else if (m->kind == CPW_K_HEARTBEAT)
        cpw_encode_heartbeat(b, &env, &m->heartbeat);
    if (b->len && !b->failed)
        emit(j, b->data, b->len);
    return j->broken || cptop_quit;
}

/* A new process of the job: its state, as live --json prints it. */
static void print_restart(void *ud, const cpw_state *st, bool restarted, int64_t recv_us)
{
    state_line(ud, st, recv_us, restarted ? "restarted" : "connected");
}

/* The replay source of --replay FILE (its player plays recorded Flink
 * bodies through the translator) and a model for it, sized by the options;
 * NULL after complaining. *m is NULL when memory ran out. */
static cpt_source *open_replay(const cptop_opts *o, cpt_model **m)
{
    char err[600];
    cpt_src_replay_conf c = {.path = o->replay, .job = o->job, .history = o->history,
                             .detail = o->detail, .notes = on_note};
    cpt_source *src = cpt_src_replay_new(&c, err, sizeof err);
    if (!src) {
        cptop_complain(err);
        return NULL;
    }
    cpt_model_conf mc = {.history_cap = o->history, .detail_cap = o->detail,
                         .log_cap = o->log_lines};
    *m = cpt_model_new(&mc);
    return src;
}

/* ------------------------------------------------------------ the mode */

int cptop_replay(const cptop_opts *o, int argc, char **argv, bool json, bool once)
{
    (void)argc, (void)argv;
    if (!json && !once) {
        cptop_complain("--replay goes with the dashboard, --once or --json");
        return 2;
    }
    cpt_model *m;
    cpt_source *src = open_replay(o, &m);
    if (!src)
        return 1;
    cpt_replay *rp = cpt_src_replay_player(src);
    cpt_replay_info in;
    cpt_replay_get_info(rp, &in);
    int64_t at, from, to;
    int rc = 0;
    if (!m)
        rc = 1;
    else if (once && !(rc = when(o->at, in.first_us, in.last_us, in.last_us, &at))) {
        cpt_replay_seek(rp, m, at);
        print_state(m, at < in.first_us ? in.first_us : at > in.last_us ? in.last_us : at);
    } else if (json && !(rc = when(o->from, in.first_us, in.last_us, in.first_us, &from)) &&
               !(rc = when(o->to, in.first_us, in.last_us, in.last_us, &to))) {
        json_out j = {0};
        cpw_buf_init(&j.line);
        cpw_buf_init(&j.enc);
        cpt_replay_seek(rp, m, from);
        state_line(&j, m->st, from, "replay");
        cpt_replay_set_observer(rp, print_msg, &j);
        cpt_replay_set_restart_observer(rp, print_restart, &j);
        while (!j.broken && !cptop_quit && cpt_replay_run(rp, m, to, 100000) > 0)
            ;
        cpw_buf_free(&j.line);
        cpw_buf_free(&j.enc);
    }
    cpt_model_free(m);
    cpt_source_destroy(src);
    return rc;
}

/* ------------------------------------------------------------ --advise */

int cptop_replay_state(const cptop_opts *o, int64_t look_back_us, cpt_replay_msg_fn obs, void *ud,
                       cpt_model **out, int64_t *at)
{
    *out = NULL;
    cpt_model *m;
    cpt_source *src = open_replay(o, &m);
    if (!src)
        return 1;
    cpt_replay *rp = cpt_src_replay_player(src);
    cpt_replay_info in;
    cpt_replay_get_info(rp, &in);
    int64_t from = in.first_us;
    int rc = m ? when(o->at, in.first_us, in.last_us, in.last_us, at) : 1;
    if (!rc) {
        *at = *at < in.first_us ? in.first_us : *at > in.last_us ? in.last_us : *at;
        if (look_back_us > 0 && *at - look_back_us > in.first_us)
            from = *at - look_back_us;
        rc = when(o->from, in.first_us, in.last_us, from, &from);
    }
    if (!rc) {
        /* from `from` (a keyframe holds the history before it), so that
         * obs sees every message of that stretch */
        cpt_replay_seek(rp, m, from < *at ? from : *at);
        cpt_replay_set_observer(rp, obs, ud);
        while (!cptop_quit && cpt_replay_run(rp, m, *at, 100000) > 0)
            ;
        *out = m;
        m = NULL;
    }
    cpt_model_free(m);
    cpt_source_destroy(src);
    return rc;
}
