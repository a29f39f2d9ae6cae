/*
 * cpd_config.h — cpdemo's job configuration: Flink's checkpointing keys and
 * the job's own settings, side by side in one JSON file.
 *
 * The seed's example loads unchanged:
 *   { "execution.checkpointing.interval": "30s",
 *     "execution.checkpointing.mode": "EXACTLY_ONCE",
 *     "execution.checkpointing.storage": "s3://my-flink-checkpoints/my-job",
 *     "execution.checkpointing.timeout": "10m",
 *     "execution.checkpointing.tolerable-failed-checkpoints": 1 }
 * Absent keys take Flink's defaults. Every bad value is reported with its
 * key (all of them, not just the first). An unknown key is an error naming
 * the closest known key, or with CPD_CONFIG_ALLOW_UNKNOWN a warning (Flink's
 * own lenient way). Every key is documented in demo-job/README.md.
 *
 * One validation: the file, a run-time change (`cptop ctl set`) and a
 * failure's parameters go through the same per-value checks and messages
 * (cpd_config_set, cpd_config_parse_int, cpd_config_parse_duration), and
 * the same whole-configuration check (cpd_config_check). Validation creates
 * nothing (no directory, no connection): a bad configuration is refused
 * before the job touches anything.
 *
 * Threads: no state of its own; every function is reentrant. A cpd_config is
 * a plain value owned by its caller.
 */
#ifndef CPD_CONFIG_H
#define CPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cpd_mode { CPD_EXACTLY_ONCE = 0, CPD_AT_LEAST_ONCE = 1 } cpd_mode;

#define CPD_MAX_PARALLELISM 64
#define CPD_MIN_INTERVAL_MS 10  /* Flink's least checkpoint interval */

typedef struct cpd_config {
    /* Flink's checkpointing keys */
    int64_t interval_ms;        /* execution.checkpointing.interval; 0: off (Flink: absent = off) */
    cpd_mode mode;              /* execution.checkpointing.mode */
    char storage[512];          /* execution.checkpointing.storage (file://, path, s3://) */
    int64_t timeout_ms;         /* execution.checkpointing.timeout (10 min) */
    int tolerable_failures;     /* execution.checkpointing.tolerable-failed-checkpoints (0) */
    int64_t min_pause_ms;       /* execution.checkpointing.min-pause (0) */
    int max_concurrent;         /* execution.checkpointing.max-concurrent-checkpoints (1) */
    int num_retained;           /* execution.checkpointing.num-retained (1) */
    bool unaligned;             /* execution.checkpointing.unaligned.enabled (false) */
    int64_t aligned_timeout_ms; /* execution.checkpointing.aligned-checkpoint-timeout (0: with
                                 * unaligned on, every checkpoint starts unaligned) */
    /* the job's own */
    char name[64];              /* pipeline.name ("cpdemo") */
    int parallelism;            /* parallelism.default (2) */
    char bootstrap[512];        /* source.kafka.bootstrap-servers */
    char bootstrap_file[512];   /* source.kafka.bootstrap-file (written by cpdemo kafka) */
    char topic[250];            /* source.kafka.topic ("payments"; Kafka's 1..249 chars) */
    char sink[512];             /* sink.url ("sqlite:var/cpdemo.db") */
    char agent_listen[128];     /* agent.listen ("ipc") */
    char agent_job_id[64];      /* agent.job-id ("": derived from pipeline.name) */
    char agent_rest_listen[128]; /* agent.rest.listen ("": no REST endpoint) */
    int web_history;            /* web.checkpoints.history: the REST history's length (10) */
    int restart_attempts;       /* restart-strategy.fixed-delay.attempts (2147483647) */
    int64_t restart_delay_ms;   /* restart-strategy.fixed-delay.delay (1 s) */
    /* S3 checkpoint storage (Flink's keys); unset: from the environment */
    char s3_endpoint[256];      /* s3.endpoint ("http://127.0.0.1:4568", "host[:port]") */
    char s3_access_key[256];    /* s3.access-key (alias s3.access.key) */
    char s3_secret_key[256];    /* s3.secret-key (alias s3.secret.key): never shown */
    int s3_path_style;          /* s3.path.style.access: 0 unset, 1 true, -1 false */
} cpd_config;

/* Flink's defaults and the job's. */
void cpd_config_defaults(cpd_config *c);

/* Flags of cpd_config_parse / cpd_config_load. */
#define CPD_CONFIG_ALLOW_UNKNOWN 0x1u   /* unknown keys are warnings, not errors (Flink's way) */

/*
 * Parses a JSON configuration over the values in *c (normally the defaults),
 * each key through cpd_config_set's checks, then cpd_config_check. Returns
 * the number of errors (0: *c is complete and valid). errs receives one line
 * per error, each naming its key; warns one line per questionable
 * combination (and per unknown key with CPD_CONFIG_ALLOW_UNKNOWN). Both are
 * NUL-terminated, truncated to their size, and may be NULL. A key that
 * fails keeps its previous value. Blocks on nothing; creates nothing.
 */
int cpd_config_parse(const char *json, size_t len, const char *source, cpd_config *c,
                     char *errs, size_t errs_size, char *warns, size_t warns_size,
                     unsigned flags);

/* The same from a file of at most 1 MiB (source = its path in messages).
 * Blocks on reading the file. */
int cpd_config_load(const char *path, cpd_config *c, char *errs, size_t errs_size,
                    char *warns, size_t warns_size, unsigned flags);

/*
 * Sets one key from its text, with exactly the file's checks and messages
 * (ranges, units, overflow, syntax of names and URLs). key is a full name,
 * one of Flink's older aliases, or a run-time short name ("interval",
 * "timeout", "tolerable-failed-checkpoints", as cptop sends them). false
 * (and *c unchanged) with one line in err (no newline; err may be NULL)
 * naming the key and the bad value (a secret's value is never shown), or
 * the closest known key for an unknown one. Only checks what one key can:
 * run cpd_config_check on the result for the combinations.
 */
bool cpd_config_set(cpd_config *c, const char *key, const char *value, char *err, size_t errsz);

/* Whether key (as cpd_config_set takes it) may change while the job runs:
 * execution.checkpointing.interval, .timeout, .tolerable-failed-checkpoints,
 * .unaligned.enabled, .aligned-checkpoint-timeout and their short names
 * ("unaligned", "aligned-checkpoint-timeout"). false for anything else,
 * unknown keys included. */
bool cpd_config_runtime_key(const char *key);

/* The full name of key (itself, or the key an alias or short name stands
 * for); NULL when unknown. Static storage. */
const char *cpd_config_key_name(const char *key);

/*
 * The whole-configuration check: every value within its key's range (as
 * after cpd_config_set) and the combinations (bootstrap servers or file, not
 * both; ...). Returns the number of errors; errs and warns (may be NULL) as
 * for cpd_config_parse. Use it after run-time changes, on a copy, before
 * applying them.
 */
int cpd_config_check(const cpd_config *c, char *errs, size_t errs_size, char *warns,
                     size_t warns_size);

/*
 * One integer / duration given as text (a run-time parameter such as a
 * failure's count=K or ms=D), checked and reported as the file's keys are:
 * "NAME: \"TEXT\" is out of range MIN..MAX", "... is not a duration ...".
 * Durations as cpd_parse_duration_ms (a bare number is milliseconds).
 * Overflow is an error, never a wrapped value. false with err (may be NULL)
 * on any problem; *out is set only on success.
 */
bool cpd_config_parse_int(const char *name, const char *text, int64_t min, int64_t max,
                          int64_t *out, char *err, size_t errsz);
bool cpd_config_parse_duration(const char *name, const char *text, int64_t min_ms,
                               int64_t max_ms, int64_t *out, char *err, size_t errsz);

/* A duration as Flink writes them: "500 ms", "30s", "10 min", "1h", "2 d",
 * "100" (milliseconds). Units: d/day(s), h/hour(s), min/m/minute(s),
 * s/sec(s)/second(s), ms/milli(s)/millisecond(s), us/µs/micro(s)/
 * microsecond(s), ns/nano(s)/nanosecond(s). Sub-millisecond values round
 * down. false for anything else, or beyond a year (never wraps). */
bool cpd_parse_duration_ms(const char *s, int64_t *ms);

/* A duration as text in its largest whole unit: "30 s", "10 min", "1500 ms". */
void cpd_format_duration(int64_t ms, char *out, size_t size);

#endif
