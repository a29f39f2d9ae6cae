/* cptop_advise.c — `cptop --advise`: the job's state fetched with get_state
 * from its source (as --once does), the record rate sampled from two
 * heartbeats when the source pushes them, or with --replay FILE [--at T]
 * the state a recording held at T (the replay's model), and the
 * advice engine's items printed as text, or as one JSON object (--json);
 * --what-if KEY=VALUE replays the history with that setting. */
#include "cptop.h"
#include "cpt_advice.h"
#include "cpt_fmt.h"
#include "cpt_model.h"
#include "cpt_source.h"
#include "cpw_state.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE_WAIT_MS 2500 /* heartbeats come every second: two of them */

typedef struct rate_run {
    cpt_model *m;
    int heartbeats;
} rate_run;

static int on_msg(void *opaque, const cpw_msg *msg)
{
    rate_run *r = opaque;
    if (msg->kind == CPW_K_HEARTBEAT)
        r->heartbeats++;
    if (msg->kind == CPW_K_HEARTBEAT || msg->kind == CPW_K_HELLO)
        cpt_model_on_msg(r->m, msg, cpw_now_us());
    return 0;
}

/* Records per second into the sources, from two heartbeats; 0 when the
 * source sends none in time (the advice then says the rate is unknown).
 * Only a pushing source has heartbeats to wait for. */
static double sample_rate(cpt_source *src)
{
    char err[300];
    rate_run r = {.m = cpt_model_new(NULL)};
    if (!r.m)
        return 0;
    cpt_source_set_observer(src, on_msg, NULL, &r);
    if (!(cpt_source_caps(src, NULL) & CPT_CAP_PUSH) ||
        cpt_source_start(src, NULL, cpw_now_us(), err, sizeof err)) {
        cpt_model_free(r.m);
        return 0;
    }
    int64_t end = cpw_now_us() + RATE_WAIT_MS * 1000LL;
    while (r.heartbeats < 2 && !cptop_quit) {
        int64_t now = cpw_now_us(), next = end;
        if (now >= end)
            break;
        struct pollfd pfd[8];
        int n = cpt_source_pollfds(src, pfd, 8, &next);
        int64_t wait = (next < end ? next : end) - now;
        poll(pfd, (nfds_t)n, wait > 0 ? (int)(wait / 1000) + 1 : 0);
        now = cpw_now_us();
        cpt_source_on_ready(src, NULL, now);
        cpt_source_tick(src, NULL, now);
    }
    double rate = r.heartbeats >= 2 ? r.m->records_per_s : 0;
    cpt_model_free(r.m);
    return rate;
}

/* Where the history came from: a recording (file, at_us) or the live job
 * (file NULL). */
typedef struct adv_from {
    const char *file;
    int64_t at_us;
} adv_from;

/* ------------------------------------------------------------ text */

static void print_item(const cpt_adv_item *it)
{
    printf("\n[%s] %s: %s\n", cpt_adv_level_name(it->level), cpt_adv_kind_name(it->kind), it->title);
    for (int i = 0; i < it->n_settings; i++) {
        const cpt_adv_setting *s = &it->settings[i];
        printf("  set   %s: %s%s%s%s\n", s->key, s->value, s->current[0] ? "   (now " : "",
               s->current, s->current[0] ? ")" : "");
    }
    if (!it->n_settings)
        printf("  set   (no checkpoint setting fixes this)\n");
    printf("  rule  %s\n", it->rule);
    for (int i = 0; i < it->n_evidence; i++)
        printf("  - %s\n", it->evidence[i]);
}

static void print_text(const cpw_state *st, const adv_from *from, const cpt_advice *a,
                       const cpt_whatif *w)
{
    char name[CPW_NAME_MAX], job[CPW_MAX_JOB_ID];
    cpw_sanitize(st->hello.name, name, sizeof name);
    cpw_sanitize(st->job, job, sizeof job);
    printf("advice for job %s (%s) from %d checkpoints (%d completed, %d failed)\n", job, name,
           a->completed + a->failed, a->completed, a->failed);
    if (from->file) {
        char file[256], at[32];
        cpw_sanitize(from->file, file, sizeof file);
        cpt_fmt_clock(at, sizeof at, from->at_us, false);
        printf("from the recording %s as it stood at %s (@%lld)\n", file, at,
               (long long)(from->at_us / 1000000));
    }
    printf("summary: %s\n", a->headline);
    for (int i = 0; i < a->n; i++)
        print_item(&a->items[i]);
    if (w) {
        printf("\nwhat if %s = %s (%d replayed, %d different):\n", w->key, w->value, w->considered,
               w->changed);
        for (int i = 0; i < w->n_lines; i++)
            printf("  %s\n", w->lines[i]);
    }
}

/* ------------------------------------------------------------ json */

static json_t *item_json(const cpt_adv_item *it)
{
    json_t *o = json_object(), *set = json_array(), *ev = json_array();
    json_object_set_new(o, "kind", json_string(cpt_adv_kind_name(it->kind)));
    json_object_set_new(o, "level", json_string(cpt_adv_level_name(it->level)));
    json_object_set_new(o, "title", json_string(it->title));
    for (int i = 0; i < it->n_settings; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "key", json_string(it->settings[i].key));
        json_object_set_new(s, "value", json_string(it->settings[i].value));
        json_object_set_new(s, "current", it->settings[i].current[0]
                                              ? json_string(it->settings[i].current) : json_null());
        json_array_append_new(set, s);
    }
    json_object_set_new(o, "settings", set);
    json_object_set_new(o, "rule", json_string(it->rule));
    for (int i = 0; i < it->n_evidence; i++)
        json_array_append_new(ev, json_string(it->evidence[i]));
    json_object_set_new(o, "evidence", ev);
    return o;
}

static void print_json(const cpw_state *st, const adv_from *from, const cpt_advice *a,
                       const cpt_whatif *w)
{
    json_t *o = json_object(), *items = json_array();
    json_object_set_new(o, "job", json_string(st->job));
    if (from->file) {
        json_t *r = json_object();
        json_object_set_new(r, "file", json_string(from->file));
        json_object_set_new(r, "at_us", json_integer(from->at_us));
        json_object_set_new(o, "replay", r);
    }
    json_object_set_new(o, "completed", json_integer(a->completed));
    json_object_set_new(o, "failed", json_integer(a->failed));
    json_object_set_new(o, "summary", json_string(a->headline));
    for (int i = 0; i < a->n; i++)
        json_array_append_new(items, item_json(&a->items[i]));
    json_object_set_new(o, "advice", items);
    if (w) {
        json_t *x = json_object(), *ids = json_array(), *lines = json_array();
        json_object_set_new(x, "key", json_string(w->key));
        json_object_set_new(x, "value", json_string(w->value));
        json_object_set_new(x, "considered", json_integer(w->considered));
        json_object_set_new(x, "changed", json_integer(w->changed));
        for (int i = 0; i < w->n_ids; i++)
            json_array_append_new(ids, json_integer(w->ids[i]));
        for (int i = 0; i < w->n_lines; i++)
            json_array_append_new(lines, json_string(w->lines[i]));
        json_object_set_new(x, "ids", ids);
        json_t *maybe = json_array();
        for (int i = 0; i < w->n_maybe; i++)
            json_array_append_new(maybe, json_integer(w->maybe[i]));
        json_object_set_new(x, "might_complete", maybe);
        json_object_set_new(x, "lines", lines);
        json_object_set_new(o, "what_if", x);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    cpw_buf b;
    cpw_buf_init(&b);
    if (s)
        cpw_json_sanitize(&b, s, strlen(s)); /* a job's id may hold anything */
    if (b.len)
        printf("%.*s\n", (int)b.len, b.data);
    cpw_buf_free(&b);
    free(s);
}

/* ------------------------------------------------------------ the mode */

/* The budgets and the what-if from the options: 0, or 2 after complaining. */
static int read_opts(const cptop_opts *o, cpt_adv_opts *ao, char *key, size_t ksz,
                     const char **value)
{
    if ((o->at || o->from || o->to) && !o->replay) {
        cptop_complain("--advise takes --at and --from with --replay FILE (times in the "
                       "recording)");
        return 2;
    }
    if (o->to) {
        cptop_complain("--advise --replay takes --at T (the history as it stood then), not --to");
        return 2;
    }
    ao->max_overhead_pct = o->max_overhead;
    if (o->max_replay && !cpt_parse_duration_us(o->max_replay, &ao->max_replay_us)) {
        cptop_complain("--max-replay takes a duration (e.g. 30s, 2 min)");
        return 2;
    }
    *value = NULL;
    if (o->what_if) {
        const char *eq = strchr(o->what_if, '=');
        if (!eq || eq == o->what_if || !eq[1] || (size_t)(eq - o->what_if) >= ksz) {
            cptop_complain("--what-if takes KEY=VALUE, e.g. execution.checkpointing.timeout=5s");
            return 2;
        }
        snprintf(key, ksz, "%.*s", (int)(eq - o->what_if), o->what_if);
        *value = eq + 1;
        /* checked before anything is asked of the job: bad usage is 2 */
        cpw_state *empty = cpw_state_new(1, 0);
        cpt_whatif w;
        char err[300];
        cpt_adv_err e = empty ? cpt_advice_what_if(empty, key, *value, &w, err, sizeof err)
                              : CPT_ADV_ERR_NOMEM;
        cpw_state_free(empty);
        if (e != CPT_ADV_OK) {
            cptop_complain(e == CPT_ADV_ERR_NOMEM ? "out of memory" : err);
            return e == CPT_ADV_ERR_NOMEM ? 1 : 2;
        }
    }
    return 0;
}

/* The live job's state (its source's get_state) and its record rate. */
static int from_live(const cptop_opts *o, cpw_state **st, cpt_adv_opts *ao)
{
    char err[300];
    cpt_source *src;
    int rc = cptop_open_source(o, &src);
    if (rc)
        return rc;
    if (cpt_source_snapshot(src, -1, o->timeout_ms, st, err, sizeof err)) {
        cptop_complain(err);
        cpt_source_destroy(src);
        return 1;
    }
    ao->records_per_s = sample_rate(src);
    cpt_source_destroy(src);
    ao->now_us = cpw_now_us();
    return 0;
}

/* What the replay saw of each checkpoint's subtask events, per process of
 * the job (a new process may count its checkpoints from 1 again). */
typedef struct seen_log {
    cpt_adv_seen *v;
    int n, cap;
    int *gen;                 /* the process each entry is of */
    int cur;                  /* the process now: hellos of new instances seen */
    char instance[sizeof ((cpw_hello *)0)->instance];
    bool nomem;
} seen_log;

static int on_replayed(void *ud, const cpw_msg *msg, int64_t recv_us)
{
    (void)recv_us;
    seen_log *l = ud;
    if (msg->kind == CPW_K_HELLO && strcmp(msg->hello->instance, l->instance)) {
        snprintf(l->instance, sizeof l->instance, "%s", msg->hello->instance);
        l->cur++;
    }
    const cpw_event *e = &msg->ev;
    if (msg->kind != CPW_K_EVENT || e->cp_id <= 0 || e->op < 0 || l->nomem)
        return 0;
    int i = l->n - 1; /* events are of the newest few checkpoints: from the end */
    while (i >= 0 && l->v[i].id != e->cp_id)
        i--;
    if (i < 0) {
        if (l->n == l->cap) {
            int cap = l->cap ? l->cap * 2 : 256;
            cpt_adv_seen *v = realloc(l->v, (size_t)cap * sizeof *v);
            int *g = v ? realloc(l->gen, (size_t)cap * sizeof *g) : NULL;
            if (v)
                l->v = v;
            if (!v || !g) {
                l->nomem = true;
                return 0;
            }
            l->gen = g, l->cap = cap;
        }
        i = l->n++;
        l->v[i] = (cpt_adv_seen){.id = e->cp_id, .first_us = e->ts_us};
        l->gen[i] = l->cur;
    } else if (l->gen[i] != l->cur) { /* another process's checkpoint of that id */
        l->v[i].first_us = e->ts_us;
        l->gen[i] = l->cur;
    }
    l->v[i].last_us = e->ts_us;
    return 0;
}

/* How far before --at the replay looks for what happened after expiries
 * unless --from says (the history before that comes whole from a
 * keyframe): an hour of 8 x 128 subtasks replays in 20 s, a day would take
 * minutes. */
#define LOOK_BACK_US (3600 * 1000000LL)

/* The state a recording held at --at (default: its end), through the
 * replay's own model (cptop_replay_state): "now" is that time, the record
 * rate what its heartbeats said then; l gets what it saw of each
 * checkpoint in the hour before. */
static int from_replay(const cptop_opts *o, cpt_model **m, cpt_adv_opts *ao, seen_log *l)
{
    int rc = cptop_replay_state(o, LOOK_BACK_US, on_replayed, l, m, &ao->now_us);
    if (!rc)
        ao->records_per_s = (*m)->records_per_s;
    return rc;
}

int cptop_advise(const cptop_opts *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    cpt_adv_opts ao = {0};
    char key[80], err[300];
    const char *value;
    int rc = read_opts(o, &ao, key, sizeof key, &value);
    if (rc)
        return rc;
    cpw_state *st = NULL;
    cpt_model *m = NULL;
    seen_log seen = {0};
    if ((rc = o->replay ? from_replay(o, &m, &ao, &seen) : from_live(o, &st, &ao))) {
        free(seen.v), free(seen.gen);
        return rc;
    }
    const cpw_state *hist = m ? m->st : st;
    ao.seen = seen.v, ao.n_seen = seen.n;
    adv_from from = {.file = o->replay, .at_us = ao.now_us};
    cpt_advice a;
    cpt_whatif w;
    cpt_adv_err e = cpt_advice_compute(hist, &ao, &a);
    if (e == CPT_ADV_OK && value)
        e = cpt_advice_what_if_seen(hist, seen.v, seen.n, key, value, &w, err, sizeof err);
    else
        snprintf(err, sizeof err, "advice: %s", cpt_adv_strerror(e));
    if (e != CPT_ADV_OK) {
        cptop_complain(err);
        rc = e == CPT_ADV_ERR_NOMEM ? 1 : 2;
    } else if (o->json) {
        print_json(hist, &from, &a, value ? &w : NULL);
    } else {
        print_text(hist, &from, &a, value ? &w : NULL);
    }
    cpw_state_free(st);
    cpt_model_free(m);
    free(seen.v), free(seen.gen);
    return rc;
}
