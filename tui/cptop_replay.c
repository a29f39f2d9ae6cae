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

/* "waiting on op[3], op[7]" for a checkpoint in flight: who has not acked. */
static void waiting_on(const cpt_model *m, const cpw_cp *cp, char *out, size_t size)
{
    const cpw_state *s = m->st;
    size_t k = 0;
    int shown = 0, more = 0;
    out[0] = 0;
    if (!cp->subs || cp->total != s->n_subtasks)
        return;
    for (int op = 0; op < s->hello.n_ops; op++)
        for (int i = 0; i < s->hello.ops[op].parallelism; i++) {
            const cpw_sub *u = &cp->subs[s->op_base[op] + i];
            if (u->phase == CPW_PH_ACKED || u->phase == CPW_PH_DECLINED)
                continue;
            if (shown == 4) {
                more++;
                continue;
            }
            char name[CPW_NAME_MAX];
            cpt_model_op_name(m, op, name, sizeof name);
            int w = snprintf(out + k, size - k, "%s%s[%d] %s", shown ? ", " : "", name, i,
                             cpw_phase_name((cpw_phase)u->phase));
            if (w > 0 && (size_t)w < size - k)
                k += (size_t)w;
            shown++;
        }
    if (more && k < size)
        snprintf(out + k, size - k, " and %d more", more);
}

static void print_state(const cpt_model *m, int64_t at)
{
    const cpw_state *s = m->st;
    char name[CPW_NAME_MAX], jobid[CPW_MAX_JOB_ID], msg[CPW_TEXT_MAX], d[32], wait[400];
    cpw_sanitize(s->hello.name, name, sizeof name);
    cpw_sanitize(s->job, jobid, sizeof jobid);
    cpt_fmt_clock(d, sizeof d, at, false);
    printf("replay at %s (%lld)\n", d, (long long)(at / 1000000));
    printf("job %s (%s), pid %d, status %s\n", jobid, name, s->hello.pid,
           cpw_job_status_name((cpw_job_status)s->status));
    printf("checkpoints: total %lld, in progress %lld, completed %lld, failed %lld, restored %lld;"
           " consecutive failures %d\n",
           (long long)s->counts.total, (long long)s->counts.in_progress,
           (long long)s->counts.completed, (long long)s->counts.failed,
           (long long)s->counts.restored, s->consecutive_failures);
    for (int i = 0; i < s->n_inflight; i++) {
        const cpw_cp *cp = &s->inflight[i];
        cpt_fmt_dur(d, sizeof d, at - cp->trigger_ts);
        waiting_on(m, cp, wait, sizeof wait);
        printf("in flight %lld: %d/%d acknowledged, %s elapsed%s%s\n", (long long)cp->id, cp->acks,
               cp->total, d, wait[0] ? "; still waiting on " : "", wait);
    }
    for (int i = 0; i < s->n_history && i < 10; i++) {
        const cpw_cp *cp = cpw_state_history(s, i);
        cpt_fmt_dur(d, sizeof d, cp->duration_us);
        cpw_sanitize(cp->message, msg, sizeof msg);
        printf("%6lld %-9s %-8s %9s %10lld B  %d/%d acks  %s%s%s\n", (long long)cp->id,
               cpw_cp_status_name(cp->status), cp->kind ? "manual" : "periodic", d,
               (long long)cp->state_size, cp->acks, cp->total,
               cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : "",
               msg[0] ? " " : "", msg);
    }
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
