/* cpw_pack.c — packed frames (see cpw_pack.h and RECORDING.md).
 *
 * Layout of a packed frame: a format byte, the protocol version and the
 * job of its messages, then one entry per message: a tag byte (0: the
 * message's JSON bytes follow, with their length; an event type: its
 * fields follow). Integers are LEB128 varints of the zigzag of the value;
 * the seq, time and checkpoint id are deltas from the previous event of
 * the frame (seq: minus one more, so a run of seqs costs a byte each). */
#include "cpw_pack.h"
#include "cpw_json.h"

#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------------ the table */

enum { F_I64, F_I32, F_ENUM, F_STR };
enum { OPSUB_NONE, OPSUB_YES, OPSUB_OPT }; /* OPT: -1/-1 allowed (job-wide) */

typedef struct field {
    uint8_t kind;
    uint16_t off;     /* in cpw_event */
    int64_t min, max; /* F_STR: max is the buffer size */
} fdesc;

#define MAX_FIELDS 9
typedef struct layout {
    int8_t id_min;    /* -1: no checkpoint id; else the smallest allowed */
    uint8_t opsub;
    uint8_t n;
    fdesc f[MAX_FIELDS];
} layout;

#define U(m) ((uint16_t)offsetof(cpw_event, u.m))
#define I64(m) {F_I64, U(m), 0, INT64_MAX}
#define I32(m, lo, hi) {F_I32, U(m), (lo), (hi)}
#define ENUM(m, count) {F_ENUM, U(m), 0, (count) - 1}
#define STR(m) {F_STR, U(m), 0, sizeof(((cpw_event *)0)->u.m)}

/* What the JSON decoder reads of each event, with the same bounds
 * (cpw_decode.c, decode_event): one row per type. */
static const layout layouts[CPW_EV__COUNT] = {
    [CPW_EV_CP_TRIGGERED] = {1, OPSUB_NONE, 2,
                             {ENUM(triggered.kind, 2), ENUM(triggered.alignment, CPW_ALIGN__COUNT)}},
    [CPW_EV_BARRIER_INJECTED] = {1, OPSUB_YES, 0, {{0}}},
    [CPW_EV_BARRIER_RECEIVED] = {1, OPSUB_YES, 1,
                                 {I32(barrier.channel, 0, CPW_MAX_PARALLELISM * 4)}},
    [CPW_EV_ALIGNMENT_START] = {1, OPSUB_YES, 0, {{0}}},
    [CPW_EV_ALIGNMENT_END] = {1, OPSUB_YES, 2,
                              {I64(alignment.buffered_bytes), I64(alignment.duration_us)}},
    [CPW_EV_SNAPSHOT_START] = {1, OPSUB_YES, 0, {{0}}},
    [CPW_EV_SNAPSHOT_SYNC_DONE] = {1, OPSUB_YES, 1, {I64(sync.duration_us)}},
    [CPW_EV_SNAPSHOT_ASYNC_DONE] = {1, OPSUB_YES, 2, {I64(async.bytes), I64(async.duration_us)}},
    [CPW_EV_ACK] = {1, OPSUB_YES, 9,
                    {I64(ack.state_size), I64(ack.checkpointed_size), I64(ack.processed_data),
                     I64(ack.persisted_data), I64(ack.start_delay_us), I64(ack.alignment_us),
                     I64(ack.sync_us), I64(ack.async_us), I32(ack.unaligned, 0, 1)}},
    [CPW_EV_DECLINE] = {1, OPSUB_YES, 1, {STR(decline.reason)}},
    [CPW_EV_CP_COMPLETED] = {1, OPSUB_NONE, 3,
                             {I64(completed.duration_us), I64(completed.state_size),
                              I64(completed.checkpointed_size)}},
    [CPW_EV_CP_FAILED] = {1, OPSUB_NONE, 2,
                          {ENUM(failed.reason, CPW_FAIL__COUNT), STR(failed.message)}},
    [CPW_EV_CP_COMMITTED] = {1, OPSUB_NONE, 0, {{0}}},
    [CPW_EV_JOB_STATUS] = {-1, OPSUB_NONE, 2,
                           {ENUM(job_status.status, CPW_JOB__COUNT), STR(job_status.message)}},
    [CPW_EV_RESTORED] = {0, OPSUB_NONE, 1, {I32(restored.attempt, 0, INT32_MAX)}},
    [CPW_EV_FAILURE_INJECTED] = {-1, OPSUB_OPT, 2, {STR(failure.kind), STR(failure.params)}},
    [CPW_EV_TASK_FAILED] = {-1, OPSUB_YES, 1, {STR(task_failed.error)}},
    [CPW_EV_SWITCHED_TO_UNALIGNED] = {1, OPSUB_YES, 2,
                                      {I64(switched.elapsed_us), I64(switched.timeout_us)}},
};

_Static_assert(sizeof(cpw_trigger_kind) == sizeof(int) && sizeof(cpw_alignment) == sizeof(int) &&
                   sizeof(cpw_failure_reason) == sizeof(int) &&
                   sizeof(cpw_job_status) == sizeof(int),
               "enums are read and written as int");

static const layout *layout_of(int t)
{
    return t > CPW_EV_NONE && t < CPW_EV__COUNT ? &layouts[t] : NULL;
}

int cpw_pack_members(cpw_event_type t)
{
    const layout *l = layout_of((int)t);
    if (!l)
        return 0;
    /* the envelope (v, type, job, seq, ts_us), then the event's own */
    return 5 + (l->id_min >= 0) + (l->opsub != OPSUB_NONE ? 2 : 0) + l->n;
}

/* ------------------------------------------------------------- packing */

static inline uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzz(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Room for any one event: a tag, 5 + 9 varints of ≤ 10 bytes, strings. */
#define EVENT_ROOM (1 + 16 * 10 + 2 * (CPW_TEXT_MAX + 2))

static inline char *put_varint(char *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (char)(v | 0x80);
        v >>= 7;
    }
    *o++ = (char)v;
    return o;
}

static char *put_str(char *o, const char *s, size_t max)
{
    size_t n = strnlen(s, max - 1);
    o = put_varint(o, n);
    memcpy(o, s, n);
    return o + n;
}

void cpw_pack_init(cpw_pack *p)
{
    memset(p, 0, sizeof *p);
    cpw_buf_init(&p->out);
}

void cpw_pack_free(cpw_pack *p)
{
    cpw_buf_free(&p->out);
}

void cpw_pack_reset(cpw_pack *p)
{
    cpw_buf_reset(&p->out);
    p->events = p->raw = 0;
    p->failed = false;
    p->job[0] = 0;
    p->v = 0;
    p->seq = 0;
    p->ts = p->cp = 0;
}

/* The header, from the frame's first message. */
static void header(cpw_pack *p, const cpw_msg *m)
{
    if (!cpw_buf_reserve(&p->out, 2 + 10 + 10 + CPW_MAX_JOB_ID)) {
        p->failed = true;
        return;
    }
    snprintf(p->job, sizeof p->job, "%s", m->job);
    p->v = m->v;
    char *o = p->out.data + p->out.len;
    *o++ = CPW_PACK_FORMAT;
    o = put_varint(o, zz(m->v));
    o = put_str(o, p->job, sizeof p->job);
    p->out.len = (size_t)(o - p->out.data);
}

static void add_raw(cpw_pack *p, const cpw_msg *m, const char *frame, size_t len)
{
    if (m->at > len || m->span > len - m->at || !m->span ||
        !cpw_buf_reserve(&p->out, 11 + m->span)) {
        p->failed = true;
        return;
    }
    char *o = p->out.data + p->out.len;
    *o++ = 0;
    o = put_varint(o, m->span);
    memcpy(o, frame + m->at, m->span);
    p->out.len = (size_t)(o + m->span - p->out.data);
    p->raw++;
}

static void add_event(cpw_pack *p, const cpw_msg *m, const layout *l)
{
    if (!cpw_buf_reserve(&p->out, EVENT_ROOM)) {
        p->failed = true;
        return;
    }
    const cpw_event *ev = &m->ev;
    char *o = p->out.data + p->out.len;
    *o++ = (char)ev->type;
    o = put_varint(o, zz((int64_t)(m->seq - p->seq - 1)));
    o = put_varint(o, zz((int64_t)((uint64_t)m->ts_us - (uint64_t)p->ts)));
    p->seq = m->seq;
    p->ts = m->ts_us;
    if (l->id_min >= 0) {
        o = put_varint(o, zz((int64_t)((uint64_t)ev->cp_id - (uint64_t)p->cp)));
        p->cp = ev->cp_id;
    }
    if (l->opsub != OPSUB_NONE) {
        o = put_varint(o, (uint64_t)((int64_t)ev->op + 1));
        o = put_varint(o, (uint64_t)((int64_t)ev->subtask + 1));
    }
    const char *base = (const char *)ev;
    for (int i = 0; i < l->n; i++) {
        const fdesc *f = &l->f[i];
        int64_t v;
        int32_t v32;
        int ve;
        switch (f->kind) {
        case F_I64:
            memcpy(&v, base + f->off, sizeof v);
            o = put_varint(o, zz(v));
            break;
        case F_I32:
            memcpy(&v32, base + f->off, sizeof v32);
            o = put_varint(o, zz(v32));
            break;
        case F_ENUM:
            memcpy(&ve, base + f->off, sizeof ve);
            o = put_varint(o, zz(ve));
            break;
        default:
            o = put_str(o, base + f->off, (size_t)f->max);
            break;
        }
    }
    p->out.len = (size_t)(o - p->out.data);
    p->events++;
}

void cpw_pack_add(cpw_pack *p, const cpw_msg *m, const char *frame, size_t len)
{
    if (p->failed)
        return;
    if (!p->out.len)
        header(p, m);
    if (p->failed)
        return;
    /* an event of another job or version than the header's (a frame of
     * mixed envelopes, which no agent sends) keeps its bytes */
    const layout *l = m->kind == CPW_K_EVENT && m->whole && m->v == p->v &&
                              !strcmp(m->job, p->job)
                          ? layout_of(m->ev.type)
                          : NULL;
    if (l)
        add_event(p, m, l);
    else
        add_raw(p, m, frame, len);
}

/* ----------------------------------------------------------- unpacking */

typedef struct reader {
    const unsigned char *d;
    size_t len, at;
    cpw_error *err;
    /* the delta state */
    char job[CPW_MAX_JOB_ID];
    int v;
    uint64_t seq;
    int64_t ts, cp;
    /* delivering (NULL: checking only) */
    cpw_msg_cb cb;
    void *opaque;
    size_t *count;
    bool stop;
} reader;

static cpw_err bad(reader *r, cpw_err code, const char *field, const char *what)
{
    return cpw_fail(r->err, code, r->at, field, "packed frame: %s", what);
}

static cpw_err get_varint(reader *r, const char *field, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->at >= r->len)
            return bad(r, CPW_ERR_TRUNCATED, field, "ends inside a number");
        unsigned char b = r->d[r->at++];
        if (shift == 63 && b > 1)
            return bad(r, CPW_ERR_BAD_VALUE, field, "a number beyond 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return CPW_OK;
        }
    }
    return bad(r, CPW_ERR_BAD_VALUE, field, "a number beyond 64 bits");
}

static cpw_err get_int(reader *r, const char *field, int64_t min, int64_t max, int64_t *out)
{
    uint64_t u;
    cpw_err e = get_varint(r, field, &u);
    if (e)
        return e;
    int64_t v = unzz(u);
    if (v < min || v > max)
        return bad(r, CPW_ERR_BAD_VALUE, field, "a value out of range");
    *out = v;
    return CPW_OK;
}

/* A string as the JSON decoder would give it: shorter than size, no NUL,
 * UTF-8. */
static cpw_err get_str(reader *r, const char *field, char *out, size_t size)
{
    uint64_t n;
    cpw_err e = get_varint(r, field, &n);
    if (e)
        return e;
    if (n >= size)
        return bad(r, CPW_ERR_STRING_TOO_LONG, field, "a string beyond its limit");
    if (n > r->len - r->at)
        return bad(r, CPW_ERR_TRUNCATED, field, "ends inside a string");
    const char *s = (const char *)r->d + r->at;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = cpw_utf8_next(s + i, n - i, &cp);
        if (!k)
            return bad(r, CPW_ERR_BAD_UTF8, field, "a string that is not UTF-8");
        if (!cp)
            return bad(r, CPW_ERR_NUL_BYTE, field, "a string with a NUL");
        i += k;
    }
    memcpy(out, s, n);
    out[n] = 0;
    r->at += n;
    return CPW_OK;
}

#define TRY(x) do { cpw_err e_ = (x); if (e_) return e_; } while (0)

static cpw_err get_header(reader *r)
{
    if (r->at >= r->len)
        return bad(r, CPW_ERR_EMPTY, "", "empty");
    if (r->d[r->at] != CPW_PACK_FORMAT)
        return bad(r, CPW_ERR_VERSION, "format", "a format this build does not read");
    r->at++;
    int64_t v;
    TRY(get_int(r, "v", 1, CPW_VERSION, &v));
    r->v = (int)v;
    return get_str(r, "job", r->job, sizeof r->job);
}

static cpw_err get_event_fields(reader *r, const layout *l, cpw_event *ev)
{
    char *base = (char *)ev;
    for (int i = 0; i < l->n; i++) {
        const fdesc *f = &l->f[i];
        int64_t v;
        if (f->kind == F_STR) {
            TRY(get_str(r, "text", base + f->off, (size_t)f->max));
            continue;
        }
        TRY(get_int(r, "field", f->min, f->max, &v));
        if (f->kind == F_I64) {
            memcpy(base + f->off, &v, sizeof v);
        } else {
            int32_t v32 = (int32_t)v; /* F_I32, F_ENUM: int-sized, in range */
            memcpy(base + f->off, &v32, sizeof v32);
        }
    }
    return CPW_OK;
}

/* Adds a delta to a non-negative int64 and checks the sum stays in
 * [min, INT64_MAX]. */
static cpw_err add_delta(reader *r, const char *field, int64_t *acc, int64_t min)
{
    uint64_t u;
    TRY(get_varint(r, field, &u));
    uint64_t sum = (uint64_t)*acc + (uint64_t)unzz(u);
    if (sum > (uint64_t)INT64_MAX || (int64_t)sum < min)
        return bad(r, CPW_ERR_BAD_VALUE, field, "a value out of range");
    *acc = (int64_t)sum;
    return CPW_OK;
}

static cpw_err get_event(reader *r, int type, cpw_msg *m)
{
    const layout *l = layout_of(type);
    memset(m, 0, sizeof *m);
    m->v = r->v;
    m->kind = CPW_K_EVENT;
    m->whole = true;
    memcpy(m->job, r->job, sizeof m->job);
    cpw_event *ev = &m->ev;
    ev->type = (cpw_event_type)type;
    ev->op = ev->subtask = -1;
    uint64_t u;
    TRY(get_varint(r, "seq", &u));
    r->seq += 1 + (uint64_t)unzz(u);
    m->seq = r->seq;
    TRY(add_delta(r, "ts_us", &r->ts, 0));
    m->ts_us = ev->ts_us = r->ts;
    if (l->id_min >= 0) {
        TRY(add_delta(r, "id", &r->cp, l->id_min));
        ev->cp_id = r->cp;
    }
    if (l->opsub != OPSUB_NONE) {
        uint64_t lo = l->opsub == OPSUB_OPT ? 0 : 1, op, sub; /* written plus one */
        TRY(get_varint(r, "op", &op));
        TRY(get_varint(r, "subtask", &sub));
        if (op < lo || op > CPW_MAX_OPERATORS || sub < lo || sub > CPW_MAX_PARALLELISM)
            return bad(r, CPW_ERR_BAD_VALUE, "op", "an operator or subtask out of range");
        ev->op = (int32_t)op - 1;
        ev->subtask = (int32_t)sub - 1;
    }
    return get_event_fields(r, l, ev);
}

/* A message kept as its JSON bytes: exactly one object, decoded as the
 * frame decoder decodes it (an unknown type arrives with its envelope). */
typedef struct raw_cb {
    reader *r;
    size_t n;
} raw_cb;

static int raw_one(void *opaque, cpw_msg *m)
{
    raw_cb *c = opaque;
    c->n++;
    if (c->r->cb && c->r->cb(c->r->opaque, m))
        c->r->stop = true;
    return c->r->stop;
}

static cpw_err get_raw(reader *r)
{
    uint64_t n;
    TRY(get_varint(r, "raw", &n));
    if (n > r->len - r->at)
        return bad(r, CPW_ERR_TRUNCATED, "raw", "ends inside a message");
    const char *s = (const char *)r->d + r->at;
    if (!n || s[0] != '{')
        return bad(r, CPW_ERR_NOT_OBJECT, "raw", "a kept message that is not one object");
    raw_cb c = {r, 0};
    size_t at = r->at;
    cpw_err e = cpw_decode_frame(s, n, raw_one, &c, NULL, r->err);
    if (e) {
        if (r->err) {
            char why[sizeof r->err->text];
            snprintf(why, sizeof why, "%s", r->err->text);
            r->err->offset += at;
            snprintf(r->err->text, sizeof r->err->text, "packed frame: a kept message: %s", why);
        }
        return e;
    }
    if (c.n != 1 && !r->stop)
        return bad(r, CPW_ERR_TOO_MANY, "raw", "a kept message that is not one object");
    if (r->count)
        *r->count += c.n;
    r->at += n;
    return CPW_OK;
}

/* One pass over the entries: checking (r->cb NULL) or delivering. */
static cpw_err pass(reader *r)
{
    TRY(get_header(r));
    size_t n = 0;
    while (r->at < r->len && !r->stop) {
        if (++n > CPW_MAX_BATCH)
            return bad(r, CPW_ERR_TOO_MANY, "", "too many messages");
        int tag = r->d[r->at++];
        if (!tag) {
            TRY(get_raw(r));
            continue;
        }
        if (!layout_of(tag))
            return bad(r, CPW_ERR_UNKNOWN_TYPE, "type", "an unknown entry");
        cpw_msg m;
        TRY(get_event(r, tag, &m));
        if (r->count)
            (*r->count)++;
        if (r->cb && r->cb(r->opaque, &m))
            r->stop = true;
        cpw_msg_clear(&m);
    }
    if (!n)
        return bad(r, CPW_ERR_EMPTY, "", "no messages");
    return CPW_OK;
}

cpw_err cpw_unpack(const void *data, size_t len, cpw_msg_cb cb, void *opaque, size_t *count,
                   cpw_error *err)
{
    if (count)
        *count = 0;
    if (!data)
        return cpw_fail(err, CPW_ERR_EMPTY, 0, "", "packed frame: empty");
    if (len > CPW_MAX_FRAME)
        return cpw_fail(err, CPW_ERR_TOO_LARGE, 0, "", "packed frame: larger than %u bytes",
                        CPW_MAX_FRAME);
    size_t total = 0;
    reader r = {.d = data, .len = len, .err = err, .count = &total};
    TRY(pass(&r));
    if (!cb) {
        if (count)
            *count = total;
        return CPW_OK;
    }
    reader d = {.d = data, .len = len, .err = err, .cb = cb, .opaque = opaque, .count = count};
    return pass(&d);
}
