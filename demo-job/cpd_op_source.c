/* cpd_op_source.c — the source operator: reads its Kafka partitions with
 * explicit assignment (offsets are its state, never consumer-group
 * commits), injects barriers when the coordinator asks (cpd_task.c does, in
 * band or ahead of its output; see cpd_job.h). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_clock.h"
#include "cpd_job.h"

typedef struct source {
    cpd_task *t;
    rd_kafka_t *rk;
    int n;                              /* partitions read by this subtask */
    int32_t parts[CPD_MAX_PARTS];
    int64_t next[CPD_MAX_PARTS];        /* next offset to read, per partition */
    bool finished;                      /* --drain: read everything it must */
} source;

static rd_kafka_t *consumer(cpd_task *t)
{
    cpd_job *j = t->j;
    char err[512], group[96];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof group, "cpdemo-%s", j->job_id);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", j->bootstrap, err, sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof err) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err) ||
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err)) {
        rd_kafka_conf_destroy(conf);
        cpd_job_fail(j, "source#%d: kafka configuration: %s", t->sub, err);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        cpd_job_fail(j, "source#%d: %s", t->sub, err);
    return rk;
}

/* Partition p goes to subtask p mod P, from its restored offset. */
static bool assign(source *s)
{
    cpd_job *j = s->t->j;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(j->n_parts);
    for (int p = s->t->sub; p < j->n_parts; p += j->P) {
        s->parts[s->n] = p;
        s->next[s->n] = j->start_offsets[p];
        rd_kafka_topic_partition_list_add(tl, j->cfg.topic, p)->offset = s->next[s->n];
        s->n++;
    }
    rd_kafka_resp_err_t ke = rd_kafka_assign(s->rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (ke)
        cpd_job_fail(j, "source#%d: assign: %s", s->t->sub, rd_kafka_err2str(ke));
    return !ke;
}

/* The snapshot: the next offset of each partition (records read but still
 * waiting for room in the output are before them: they are in the stream
 * before the barrier, or in the channel state). */
static bool snapshot(cpd_task *t, cpd_snap *r)
{
    source *s = t->op_state;
    char *buf = malloc((size_t)s->n * 32 + 1);
    if (!buf)
        return false;
    size_t len = 0;
    for (int i = 0; i < s->n; i++) {
        len += (size_t)sprintf(buf + len, "%d %lld\n", s->parts[i], (long long)s->next[i]);
        r->offsets[i] = (cpd_offset){s->parts[i], s->next[i]};
    }
    r->n_offsets = s->n;
    r->data = buf;
    r->len = len;
    return true;
}

static const cpd_op_hooks hooks = {.in = CPD_EDGE_NONE, .out = CPD_EDGE_SRC,
                                   .snapshot = snapshot};

/* --drain: whether every partition is read up to the end seen at start. */
static bool drained(source *s)
{
    cpd_job *j = s->t->j;
    for (int i = 0; i < s->n; i++)
        if (s->next[i] < j->end_offsets[s->parts[i]])
            return false;
    if (!s->finished) {
        s->finished = true;
        atomic_fetch_add(&j->sources_done, 1);
    }
    return true;
}

/* One message: a record for parse, unless it is not ours or past the end. */
static void forward(source *s, const rd_kafka_message_t *m)
{
    cpd_task *t = s->t;
    cpd_job *j = t->j;
    int idx = -1;
    for (int i = 0; i < s->n; i++)
        if (s->parts[i] == m->partition)
            idx = i;
    if (idx < 0 || m->offset < s->next[idx] ||
        (j->drain && m->offset >= j->end_offsets[s->parts[idx]]))
        return;
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    it.u.src.partition = m->partition;
    it.u.src.offset = m->offset;
    if (m->len > CPD_RAW_MAX) { /* no payment is that long: parse sends it to dead letters */
        it.u.src.too_long = 1;
        it.u.src.len = 64;
        memcpy(it.u.src.raw, m->payload, 64);
    } else {
        it.u.src.len = (uint16_t)m->len;
        memcpy(it.u.src.raw, m->payload, m->len);
    }
    s->next[idx] = m->offset + 1;
    cpd_task_throttle(t);
    atomic_fetch_add(&t->rec_in, 1);
    cpd_task_emit(t, 0, &it); /* into the channel, or queued until it has room */
}

/* One turn of the loop: barriers and timeouts first, then what waits for
 * room in the output, then one message. false: stop. */
static bool step(source *s)
{
    cpd_task *t = s->t;
    cpd_job *j = t->j;
    if (cpd_task_priority_due(t))
        cpd_task_priority(t);
    if (cpd_task_output_pending(t)) {
        cpd_task_flush(t, 100);
        return true;
    }
    if (j->drain && drained(s)) {
        cpd_sleep_ms(5); /* still here to inject barriers */
        return true;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 50);
    if (!m)
        return true;
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        cpd_job_say("source#%d: %s", t->sub, rd_kafka_message_errstr(m));
    else if (!m->err)
        forward(s, m);
    rd_kafka_message_destroy(m);
    return true;
}

void *cpd_op_source_main(void *arg)
{
    cpd_task *t = arg;
    cpd_job *j = t->j;
    source s = {.t = t};
    char *op = NULL;
    size_t op_len = 0;
    if (!cpd_task_setup(t, &hooks, &s))
        goto out;
    /* the offsets come from _metadata; the state file may hold channel state */
    if (!cpd_task_restore(t, &op, &op_len) || !cpd_task_replay(t))
        goto out;
    if (!(s.rk = consumer(t)))
        goto out;
    if (!assign(&s))
        goto out;
    int64_t last_metrics = 0;
    while (!atomic_load(&j->stopping)) {
        cpd_task_metrics(t, &last_metrics);
        if (cpd_task_killed(t) || !step(&s))
            break;
    }
    rd_kafka_consumer_close(s.rk);
out:
    if (s.rk)
        rd_kafka_destroy(s.rk);
    free(op);
    cpd_task_teardown(t);
    return NULL;
}

int cpd_op_source_partitions(cpd_job *j, char *err, size_t errsz)
{
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", j->bootstrap, e, sizeof e);
    rd_kafka_conf_set(conf, "log_level", "0", e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        snprintf(err, errsz, "kafka: %s", e);
        return -1;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, j->cfg.topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t ke = rd_kafka_metadata(rk, 0, t, &md, 10000);
    int n = -1;
    if (ke)
        snprintf(err, errsz, "kafka at %s: %s (is `cpdemo kafka` running?)", j->bootstrap,
                 rd_kafka_err2str(ke));
    else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1)
        snprintf(err, errsz, "kafka at %s: topic \"%s\" not found", j->bootstrap, j->cfg.topic);
    else
        n = md->topics[0].partition_cnt;
    for (int p = 0; j->drain && p < n && p < CPD_MAX_PARTS; p++) {
        int64_t lo = 0, hi = 0;
        ke = rd_kafka_query_watermark_offsets(rk, j->cfg.topic, p, &lo, &hi, 10000);
        if (ke) {
            snprintf(err, errsz, "kafka: end of partition %d: %s", p, rd_kafka_err2str(ke));
            n = -1;
            break;
        }
        j->end_offsets[p] = hi;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    if (n > CPD_MAX_PARTS) {
        snprintf(err, errsz, "topic \"%s\" has %d partitions; at most %d", j->cfg.topic, n,
                 CPD_MAX_PARTS);
        n = -1;
    }
    return n;
}
