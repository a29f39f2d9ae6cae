/*
 * cpd_kafka.h — cpdemo's embedded Kafka (a librdkafka mock cluster), the
 * deterministic payment-record generator, and the `cpdemo kafka` and
 * `cpdemo produce` subcommands.
 *
 * The embedded Kafka runs in its own process (`cpdemo kafka`): the mock
 * cluster keeps its logs in that process's memory, so they survive a crash
 * of the job. It speaks the Kafka protocol on 127.0.0.1, so kcat and any
 * librdkafka client can use it.
 *
 * The generator is a pure function of (seed, id, accounts, bad_every), so
 * `cpdemo verify` can recompute what was produced without reading it back:
 *
 *   key    "acct-0042"                      (always; accounts are 0..A-1, at least 4 digits)
 *   value  {"account":"acct-0042","amount_cents":1250,"ts_ms":1700000000170,"id":17}
 *
 * ids run 0..N-1, each produced once. With bad_every K > 0 every K-th
 * record (id % K == K-1, so floor(N/K) of N) is malformed instead. A
 * malformed record keeps its id and its key (so it lands on the same
 * partition as the account's good records) and its value starts with
 * `{"id":<id>,"bad":"<kind>"` — the marker `"bad":"` appears in no good
 * record — followed by one of four defects, cycling with id / K:
 *   truncated      the JSON is cut short (not parseable)
 *   missing-field  amount_cents is absent
 *   wrong-type     amount_cents is a string
 *   non-utf8       the account contains the bytes 0xFF 0xFE (invalid UTF-8)
 * A malformed record is still a record (it counts in `records`); it must
 * end up in the dead-letter table and in no aggregate.
 */
#ifndef CPD_KAFKA_H
#define CPD_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- generator (pure) ---- */

#define CPD_GEN_TS_BASE_MS 1700000000000LL  /* ts_ms = base + 10 * id */
#define CPD_GEN_KEY_MAX 32                  /* key buffer size that always suffices */
#define CPD_GEN_VAL_MAX 192                 /* value buffer size that always suffices */
#define CPD_GEN_BAD_MARKER "\"bad\":\""

typedef enum cpd_bad_kind {
    CPD_BAD_NONE = -1,
    CPD_BAD_TRUNCATED = 0,
    CPD_BAD_MISSING_FIELD,
    CPD_BAD_WRONG_TYPE,
    CPD_BAD_NON_UTF8,
    CPD_BAD_KINDS
} cpd_bad_kind;

/* The fields of record id (whether or not it is malformed). */
typedef struct cpd_gen_fields {
    uint64_t id;
    int account;                /* 0..accounts-1 */
    int64_t amount_cents;       /* 1..100000 */
    int64_t ts_ms;              /* CPD_GEN_TS_BASE_MS + 10 * id */
} cpd_gen_fields;

/* Account and amount from splitmix64 of (seed, id). accounts >= 1. */
void cpd_gen_fields_of(uint64_t seed, uint64_t id, int accounts, cpd_gen_fields *out);

/* Which defect record id has: CPD_BAD_NONE when bad_every <= 0 or
 * id % bad_every != bad_every - 1. */
cpd_bad_kind cpd_gen_bad_kind(uint64_t id, int bad_every);
const char *cpd_bad_kind_name(cpd_bad_kind k);

/* Writes the key (NUL-terminated) and the value (NUL-terminated; a
 * malformed value never contains a NUL byte) of record id. Returns the
 * value's length in bytes, or -1 when accounts < 1 or a buffer is too small
 * (CPD_GEN_KEY_MAX and CPD_GEN_VAL_MAX always suffice). is_bad may be NULL. */
int cpd_gen_record(uint64_t seed, uint64_t id, int accounts, int bad_every,
                   char *key, size_t key_cap, char *val, size_t val_cap, bool *is_bad);

/* Reads the first line of path (a bootstrap file) into buf without its line
 * end. false with the reason in err (the system's, "empty file" or "empty
 * first line"). */
bool cpd_read_first_line(const char *path, char *buf, size_t cap, char *err, size_t errlen);

/* ---- errors librdkafka reports through its error callback ---- */

/* What the error callback saw, for a clear message later. */
typedef struct cpd_kafka_errors {
    bool all_down;              /* every broker is down or unreachable */
    char last_error[512];       /* the latest broker error, "" when none */
    bool fatal;                 /* a fatal error: the client cannot go on */
    char fatal_str[512];
} cpd_kafka_errors;

/* An rd_kafka error_cb. The configuration's opaque must point to a struct
 * whose FIRST member is a cpd_kafka_errors. */
void cpd_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);

/* ---- topics ---- */

/* Kafka's rule for a topic name: 1..249 of [A-Za-z0-9._-], not "." or "..". */
bool cpd_kafka_topic_valid(const char *topic);

/* ---- a topic's partitions ---- */

/*
 * The number of partitions of topic, as the cluster rk is connected to
 * (bs: its bootstrap list, for messages) says, asking until it answers or
 * wait_ms pass (a starting broker, a topic just created). errs (may be
 * NULL) is what rk's error callback (cpd_kafka_error_cb) fills: the wait
 * ends early once every broker is down or an error is fatal. stop (may be
 * NULL) ends it when it becomes non-zero (a signal). Returns the count
 * (>= 1), or -1 with one line in err naming the topic or the brokers and
 * the reason. Blocks; polls rk (its callbacks run on this thread). The one
 * lookup the job, produce and verify share.
 */
int cpd_kafka_partitions(rd_kafka_t *rk, const char *topic, const char *bs, int wait_ms,
                         const cpd_kafka_errors *errs, const volatile sig_atomic_t *stop,
                         char *err, size_t errsz);

/* ---- the mock cluster ---- */

typedef struct cpd_kafka_cluster cpd_kafka_cluster;

/* A mock cluster with `brokers` brokers (1..16) listening on 127.0.0.1,
 * ephemeral ports. librdkafka's own log lines at level <= 4 go to stderr.
 * NULL with a message in err on failure. */
cpd_kafka_cluster *cpd_kafka_cluster_new(int brokers, char *err, size_t errlen);
/* Replication factor min(brokers, 3). 0 or -1 with a message in err. */
int cpd_kafka_topic_create(cpd_kafka_cluster *c, const char *topic, int partitions,
                           char *err, size_t errlen);
/* "127.0.0.1:PORT[,127.0.0.1:PORT...]", valid until destroy. */
const char *cpd_kafka_bootstraps(const cpd_kafka_cluster *c);
/* Serves the cluster handle's pending callbacks, without waiting. Call it
 * now and then from the thread that owns the cluster. */
void cpd_kafka_cluster_poll(cpd_kafka_cluster *c);
void cpd_kafka_cluster_destroy(cpd_kafka_cluster *c);

/* Control hooks (failure injection), safe from any thread. All brokers.
 * broker_down: close every connection and refuse new ones, for `seconds`
 * (then up again by itself; another call replaces the deadline);
 * seconds <= 0: until cpd_kafka_broker_up. set_rtt: add ms (0: none) to
 * every response. 0 on success, -1 on failure. */
int cpd_kafka_broker_down(cpd_kafka_cluster *c, double seconds);
int cpd_kafka_broker_up(cpd_kafka_cluster *c);
int cpd_kafka_set_rtt(cpd_kafka_cluster *c, int ms);

/* ---- subcommands (argv[0] is the subcommand's name) ----
 * Exit status: 0 ok, 1 runtime failure, 2 bad usage. */
int cpd_cmd_kafka(int argc, char **argv);

/* Sends one command ("down 5", "up", "rtt 200", "status") to the control
 * socket of a running `cpdemo kafka` at path and puts its answer (without
 * the "ok "/"error " prefix) into reply. 0 when it answered ok, -1 otherwise
 * (reply says why). Blocks up to ~2 s. Thread-safe. */
int cpd_kafka_control(const char *path, const char *cmd, char *reply, size_t n);
int cpd_cmd_produce(int argc, char **argv);

#endif
