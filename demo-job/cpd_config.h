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
 * key (all of them, not just the first); unknown keys are reported as
 * warnings. Every key is documented in demo-job/README.md.
 */
#ifndef CPD_CONFIG_H
#define CPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cpd_mode { CPD_EXACTLY_ONCE = 0, CPD_AT_LEAST_ONCE = 1 } cpd_mode;

#define CPD_MAX_PARALLELISM 64

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
    /* the job's own */
    char name[64];              /* pipeline.name ("cpdemo") */
    int parallelism;            /* parallelism.default (2) */
    char bootstrap[512];        /* source.kafka.bootstrap-servers */
    char bootstrap_file[512];   /* source.kafka.bootstrap-file (written by cpdemo kafka) */
    char topic[128];            /* source.kafka.topic ("payments") */
    char sink[512];             /* sink.url ("sqlite:var/cpdemo.db") */
    char agent_listen[128];     /* agent.listen ("ipc") */
    char agent_job_id[64];      /* agent.job-id ("": derived from pipeline.name) */
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

/*
 * Parses a JSON configuration over the defaults in *c. Returns the number of
 * errors (0: *c is complete and valid). errs receives one line per error,
 * each naming its key; warns one line per unknown key or questionable
 * combination. Both are NUL-terminated, truncated to their size.
 */
int cpd_config_parse(const char *json, size_t len, const char *source, cpd_config *c,
                     char *errs, size_t errs_size, char *warns, size_t warns_size);

/* The same from a file (source = its path in messages). */
int cpd_config_load(const char *path, cpd_config *c, char *errs, size_t errs_size,
                    char *warns, size_t warns_size);

/* A duration as Flink writes them: "500 ms", "30s", "10 min", "1h", "2 d",
 * "100" (milliseconds). Units: d/day(s), h/hour(s), min/m/minute(s),
 * s/sec(s)/second(s), ms/milli(s)/millisecond(s), us/µs/micro(s)/
 * microsecond(s), ns/nano(s)/nanosecond(s). Sub-millisecond values round
 * down. false for anything else, or beyond a year. */
bool cpd_parse_duration_ms(const char *s, int64_t *ms);

/* A duration as text in its largest whole unit: "30 s", "10 min", "1500 ms". */
void cpd_format_duration(int64_t ms, char *out, size_t size);

#endif
