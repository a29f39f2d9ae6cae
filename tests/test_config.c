/* test_config.c — cpdemo's configuration: Flink's keys and durations. */
#include "cpd_config.h"
#include "cpt_test.h"

#include <stdio.h>
#include <sys/stat.h>

static int parse(const char *json, cpd_config *c, char *errs, char *warns)
{
    cpd_config_defaults(c);
    return cpd_config_parse(json, strlen(json), "test.json", c, errs, 2048, warns, 2048, 0);
}

#define CONTAINS(hay, needle) CPT_ASSERTF(strstr((hay), (needle)), "\"%s\" lacks \"%s\"", \
                                          (hay), (needle))

CPT_TEST(seed_example_loads_unchanged)
{
    const char *seed =
        "{ \"execution.checkpointing.interval\": \"30s\",\n"
        "  \"execution.checkpointing.mode\": \"EXACTLY_ONCE\",\n"
        "  \"execution.checkpointing.storage\": \"s3://my-flink-checkpoints/my-job\",\n"
        "  \"execution.checkpointing.timeout\": \"10m\",\n"
        "  \"execution.checkpointing.tolerable-failed-checkpoints\": 1 }";
    cpd_config c;
    char errs[2048], warns[2048];
    CPT_EQ_INT(parse(seed, &c, errs, warns), 0);
    CPT_EQ_STR(errs, "");
    CPT_EQ_STR(warns, "");
    CPT_EQ_INT(c.interval_ms, 30000);
    CPT_EQ_INT(c.mode, CPD_EXACTLY_ONCE);
    CPT_EQ_STR(c.storage, "s3://my-flink-checkpoints/my-job");
    CPT_EQ_INT(c.timeout_ms, 600000);
    CPT_EQ_INT(c.tolerable_failures, 1);
    /* Flink's defaults for what the seed leaves out */
    CPT_EQ_INT(c.min_pause_ms, 0);
    CPT_EQ_INT(c.max_concurrent, 1);
    CPT_EQ_INT(c.num_retained, 1);
    CPT_EQ_INT(c.unaligned, 0);
}

CPT_TEST(shipped_configs_load)
{
    const char *files[] = {"demo-job/configs/seed-local.json", "demo-job/configs/demo.json",
                           "demo-job/configs/at-least-once.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        cpd_config c;
        char errs[2048], warns[2048];
        cpd_config_defaults(&c);
        int n = cpd_config_load(files[i], &c, errs, sizeof errs, warns, sizeof warns, 0);
        CPT_ASSERTF(n == 0, "%s: %s", files[i], errs);
        CPT_ASSERTF(!warns[0], "%s: %s", files[i], warns);
        CPT_ASSERT(c.interval_ms > 0);
        CPT_ASSERT(strncmp(c.storage, "s3://", 5) != 0); /* local: no S3 needed */
    }
}

CPT_TEST(durations_as_flink_writes_them)
{
    static const struct { const char *s; int64_t ms; } ok[] = {
        {"500 ms", 500}, {"500ms", 500}, {"30s", 30000}, {"30 s", 30000}, {"10 min", 600000},
        {"10m", 600000}, {"1h", 3600000}, {"2 d", 172800000}, {"100", 100}, {"1 hour", 3600000},
        {"3 seconds", 3000}, {"1500 micros", 1}, {"999 us", 0}, {"2000000 ns", 2}, {" 7 S ", 7000},
        {"1 MIN", 60000}, {"0", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        CPT_ASSERTF(cpd_parse_duration_ms(ok[i].s, &ms), "\"%s\" refused", ok[i].s);
        CPT_ASSERTF(ms == ok[i].ms, "\"%s\" gave %lld, want %lld", ok[i].s, (long long)ms,
                    (long long)ok[i].ms);
    }
    static const char *bad[] = {"", "s", "-5 s", "5 parsecs", "5 s s", "1.5s", "5s5", "ten s",
                                "99999999999999999999 ms", "400 d", NULL};
    for (size_t i = 0; bad[i]; i++) {
        int64_t ms;
        CPT_ASSERTF(!cpd_parse_duration_ms(bad[i], &ms), "\"%s\" accepted", bad[i]);
    }
    CPT_ASSERT(!cpd_parse_duration_ms(NULL, NULL));
    char t[32];
    cpd_format_duration(30000, t, sizeof t);
    CPT_EQ_STR(t, "30 s");
    cpd_format_duration(600000, t, sizeof t);
    CPT_EQ_STR(t, "10 min");
    cpd_format_duration(1500, t, sizeof t);
    CPT_EQ_STR(t, "1500 ms");
}

CPT_TEST(every_bad_value_is_named)
{
    const char *json =
        "{\"execution.checkpointing.interval\": \"often\","
        " \"execution.checkpointing.mode\": \"SOMETIMES\","
        " \"execution.checkpointing.timeout\": \"0 s\","
        " \"execution.checkpointing.max-concurrent-checkpoints\": 0,"
        " \"execution.checkpointing.unaligned.enabled\": \"maybe\","
        " \"parallelism.default\": \"many\","
        " \"sink.url\": \"mysql://x\","
        " \"source.kafka.topic\": 5}";
    cpd_config c;
    char errs[2048], warns[2048];
    int n = parse(json, &c, errs, warns);
    CPT_EQ_INT(n, 8);
    const char *named[] = {"execution.checkpointing.interval", "execution.checkpointing.mode",
                           "execution.checkpointing.timeout",
                           "execution.checkpointing.max-concurrent-checkpoints",
                           "execution.checkpointing.unaligned.enabled", "parallelism.default",
                           "sink.url", "source.kafka.topic"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        CPT_ASSERTF(strstr(errs, named[i]), "no error names %s:\n%s", named[i], errs);
    CPT_ASSERT(strstr(errs, "\"often\""));
}

CPT_TEST(unknown_keys_are_errors_naming_the_closest)
{
    cpd_config c;
    char errs[2048], warns[2048];
    const char *typo = "{\"execution.checkpointing.intervall\": \"5s\", \"pipeline.name\": \"x\"}";
    CPT_EQ_INT(parse(typo, &c, errs, warns), 1);
    CONTAINS(errs, "test.json: unknown key \"execution.checkpointing.intervall\" "
                   "(did you mean \"execution.checkpointing.interval\"?)");
    CPT_EQ_STR(warns, "");
    /* Flink's lenient way, on request: a warning, and the rest applies */
    cpd_config_defaults(&c);
    CPT_EQ_INT(cpd_config_parse(typo, strlen(typo), "test.json", &c, errs, sizeof errs, warns,
                                sizeof warns, CPD_CONFIG_ALLOW_UNKNOWN), 0);
    CONTAINS(warns, "did you mean \"execution.checkpointing.interval\"?");
    CPT_EQ_STR(errs, "");
    CPT_EQ_STR(c.name, "x");
    /* a misspelt alias points at the alias; nothing near: no guess */
    CPT_EQ_INT(parse("{\"state.checkpoint.dir\": \"a\"}", &c, errs, warns), 1);
    CONTAINS(errs, "did you mean \"state.checkpoints.dir\"?");
    CPT_EQ_INT(parse("{\"colour\": \"blue\"}", &c, errs, warns), 1);
    CPT_ASSERTF(!strstr(errs, "did you mean"), "%s", errs);
    CONTAINS(errs, "unknown key \"colour\"");
    /* a key name with control bytes is not echoed raw */
    CPT_EQ_INT(parse("{\"pipe\\u001b[2Jline.name\": \"x\"}", &c, errs, warns), 1);
    CPT_ASSERTF(!strchr(errs, 0x1b), "%s", errs);
    /* Flink's older names are accepted as aliases, but not both at once */
    CPT_EQ_INT(parse("{\"state.checkpoints.dir\": \"file:///tmp/x\"}", &c, errs, warns), 0);
    CPT_EQ_STR(c.storage, "file:///tmp/x");
    CPT_EQ_INT(parse("{\"state.checkpoints.dir\": \"a\", \"execution.checkpointing.storage\": \"b\"}",
                     &c, errs, warns), 1);
    /* a combination Flink ignores is pointed out */
    CPT_EQ_INT(parse("{\"execution.checkpointing.min-pause\": \"1s\","
                     " \"execution.checkpointing.max-concurrent-checkpoints\": 3}", &c, errs, warns),
               0);
    CPT_ASSERT(strstr(warns, "min-pause"));
}

/* ctl set goes through the file's checks: same limits, same messages. */
CPT_TEST(run_time_values_get_the_files_checks)
{
    cpd_config c;
    char err[512], errs[2048], warns[2048];
    cpd_config_defaults(&c);
    CPT_ASSERT(!cpd_config_set(&c, "execution.checkpointing.interval", "1ms", err, sizeof err));
    CPT_EQ_STR(err, "execution.checkpointing.interval: \"1ms\" must be at least 10 ms and at "
                    "most a year (leave the key out for no periodic checkpoints)");
    CPT_EQ_INT(c.interval_ms, 0); /* unchanged */
    /* the file says exactly the same */
    CPT_EQ_INT(parse("{\"execution.checkpointing.interval\": \"1ms\"}", &c, errs, warns), 1);
    char line[600];
    snprintf(line, sizeof line, "%s\n", err);
    CPT_EQ_STR(errs, line);
    /* 0 is not "every 0 ms": absent is off, as in Flink */
    cpd_config_defaults(&c);
    CPT_ASSERT(!cpd_config_set(&c, "execution.checkpointing.interval", "0", err, sizeof err));
    CONTAINS(err, "\"0\" must be at least 10 ms");
    CPT_EQ_INT(parse("{\"execution.checkpointing.interval\": 0}", &c, errs, warns), 1);
    CONTAINS(errs, "execution.checkpointing.interval: 0 must be at least 10 ms");
    CPT_ASSERT(cpd_config_set(&c, "execution.checkpointing.interval", "10 ms", err, sizeof err));
    CPT_EQ_INT(c.interval_ms, 10);
    CPT_EQ_STR(err, "");
    /* cptop's short names map to the full keys, and messages use the full key */
    CPT_ASSERT(cpd_config_set(&c, "interval", "2s", err, sizeof err));
    CPT_EQ_INT(c.interval_ms, 2000);
    CPT_ASSERT(!cpd_config_set(&c, "timeout", "0 s", err, sizeof err));
    CONTAINS(err, "execution.checkpointing.timeout: \"0 s\" must be at least 1 ms");
    CPT_ASSERT(cpd_config_set(&c, "tolerable-failed-checkpoints", "3", err, sizeof err));
    CPT_EQ_INT(c.tolerable_failures, 3);
    CPT_ASSERT(!cpd_config_set(&c, "tolerable-failed-checkpoints", "-1", err, sizeof err));
    CPT_EQ_STR(err, "execution.checkpointing.tolerable-failed-checkpoints: \"-1\" is out of "
                    "range 0..1000000");
    CPT_ASSERT(!cpd_config_set(&c, "execution.checkpointing.tolerable-failed-checkpoints",
                               "2 or so", err, sizeof err));
    CONTAINS(err, "\"2 or so\" is not an integer");
    CPT_EQ_INT(c.tolerable_failures, 3);
    /* units and unknown keys */
    CPT_ASSERT(!cpd_config_set(&c, "interval", "5 parsecs", err, sizeof err));
    CONTAINS(err, "execution.checkpointing.interval: \"5 parsecs\" is not a duration");
    CPT_ASSERT(!cpd_config_set(&c, "execution.checkpointing.intervall", "5s", err, sizeof err));
    CONTAINS(err, "did you mean \"execution.checkpointing.interval\"?");
    /* which keys may change at run time */
    static const char *const rt[] = {"execution.checkpointing.interval", "interval",
                                     "execution.checkpointing.timeout", "timeout",
                                     "execution.checkpointing.tolerable-failed-checkpoints",
                                     "tolerable-failed-checkpoints", NULL};
    for (int i = 0; rt[i]; i++)
        CPT_ASSERTF(cpd_config_runtime_key(rt[i]), "%s", rt[i]);
    static const char *const fixed[] = {"execution.checkpointing.mode", "parallelism.default",
                                        "sink.url", "intervall", "", "mode", NULL};
    for (int i = 0; fixed[i]; i++)
        CPT_ASSERTF(!cpd_config_runtime_key(fixed[i]), "%s", fixed[i]);
    CPT_ASSERT(!cpd_config_runtime_key(NULL));
    CPT_EQ_STR(cpd_config_key_name("timeout"), "execution.checkpointing.timeout");
    CPT_EQ_STR(cpd_config_key_name("state.checkpoints.dir"), "execution.checkpointing.storage");
    CPT_ASSERT(cpd_config_key_name("timeout.x") == NULL);
    /* other keys are settable too (cpd_config_set is the file's path) */
    CPT_ASSERT(cpd_config_set(&c, "execution.checkpointing.mode", "AT_LEAST_ONCE", err,
                              sizeof err));
    CPT_EQ_INT(c.mode, CPD_AT_LEAST_ONCE);
    CPT_ASSERT(!cpd_config_set(&c, "s3.secret-key", "", err, sizeof err));
    CONTAINS(err, "s3.secret-key: (value not shown)");
}

/* Numbers too large for their type are range errors, never wrapped values. */
CPT_TEST(overflow_never_wraps)
{
    cpd_config c;
    char err[512];
    cpd_config_defaults(&c);
    static const char *const huge[] = {
        "18446744073709551616 ms", "18446744073709551617", "9223372036854775808 ns",
        "99999999999999999999999999 d", "4294967297 s", "367 d", NULL};
    for (int i = 0; huge[i]; i++) {
        CPT_ASSERTF(!cpd_config_set(&c, "interval", huge[i], err, sizeof err), "%s", huge[i]);
        CPT_ASSERTF(strstr(err, "at most a year"), "%s: %s", huge[i], err);
        int64_t ms = 0;
        CPT_ASSERTF(!cpd_parse_duration_ms(huge[i], &ms), "%s gave %lld", huge[i], (long long)ms);
    }
    CPT_EQ_INT(c.interval_ms, 0);
    static const char *const big_ints[] = {"4294967297", "2147483648", "9223372036854775808",
                                           "-9223372036854775809", "99999999999999999999", NULL};
    for (int i = 0; big_ints[i]; i++) {
        CPT_ASSERTF(!cpd_config_set(&c, "parallelism.default", big_ints[i], err, sizeof err),
                    "%s", big_ints[i]);
        CPT_ASSERTF(strstr(err, "is out of range 1..64"), "%s: %s", big_ints[i], err);
    }
    CPT_EQ_INT(c.parallelism, 2);
    CPT_ASSERT(!cpd_config_set(&c, "restart-strategy.fixed-delay.attempts", "2147483648", err,
                               sizeof err));
    /* a failure's parameters: the same checks through the same functions */
    int64_t v = -1;
    CPT_ASSERT(!cpd_config_parse_int("count", "4294967297", 1, 1000, &v, err, sizeof err));
    CPT_EQ_STR(err, "count: \"4294967297\" is out of range 1..1000");
    CPT_ASSERT(!cpd_config_parse_int("count", "3x", 1, 1000, &v, err, sizeof err));
    CPT_EQ_STR(err, "count: \"3x\" is not an integer");
    CPT_ASSERT(!cpd_config_parse_int("count", NULL, 1, 1000, &v, err, sizeof err));
    CPT_EQ_INT(v, -1);
    CPT_ASSERT(cpd_config_parse_int("count", " 7 ", 1, 1000, &v, err, sizeof err));
    CPT_EQ_INT(v, 7);
    CPT_ASSERT(!cpd_config_parse_duration("ms", "4294967297", 1, 3600000, &v, err, sizeof err));
    CPT_EQ_STR(err, "ms: \"4294967297\" must be at least 1 ms and at most 1 h");
    CPT_ASSERT(cpd_config_parse_duration("ms", "2 s", 1, 3600000, &v, err, sizeof err));
    CPT_EQ_INT(v, 2000);
    CPT_ASSERT(!cpd_config_parse_duration("ms", "-5", 0, 60000, &v, err, sizeof err));
    CPT_EQ_STR(err, "ms: \"-5\" is not a duration (e.g. \"500 ms\", \"30s\", \"10 min\", \"1h\")");
}

/* The whole-configuration check, for a configuration changed at run time. */
CPT_TEST(whole_config_check)
{
    cpd_config c;
    char errs[2048], warns[2048];
    cpd_config_defaults(&c);
    CPT_EQ_INT(cpd_config_check(&c, errs, sizeof errs, warns, sizeof warns), 0);
    c.interval_ms = 5;
    c.parallelism = 0;
    snprintf(c.bootstrap, sizeof c.bootstrap, "127.0.0.1:9092");
    snprintf(c.bootstrap_file, sizeof c.bootstrap_file, "var/kafka.bootstrap");
    c.topic[0] = '\0';
    c.min_pause_ms = 100;
    c.max_concurrent = 2;
    CPT_EQ_INT(cpd_config_check(&c, errs, sizeof errs, warns, sizeof warns), 4);
    CONTAINS(errs, "execution.checkpointing.interval: 5 must be at least 10 ms");
    CONTAINS(errs, "parallelism.default: 0 is out of range 1..64");
    CONTAINS(errs, "source.kafka.topic: must be set");
    CONTAINS(errs, "give one, not both");
    CONTAINS(warns, "min-pause");
    c.interval_ms = 0; /* off */
    c.parallelism = 1;
    c.bootstrap[0] = '\0';
    snprintf(c.topic, sizeof c.topic, "t");
    CPT_EQ_INT(cpd_config_check(&c, errs, sizeof errs, NULL, 0), 0);
}

/* URLs are checked without connecting or creating anything, and a password
 * in one never appears in a message. */
CPT_TEST(urls_checked_passwords_never_shown)
{
    cpd_config c;
    char errs[2048], warns[2048], err[512];
    CPT_EQ_INT(parse("{\"sink.url\": \"mysql://u:s3cr3t@h/db\"}", &c, errs, warns), 1);
    CONTAINS(errs, "sink.url: \"mysql://u:***@h/db\" must be sqlite:PATH or postgresql://");
    CPT_ASSERTF(!strstr(errs, "s3cr3t"), "%s", errs);
    CPT_EQ_INT(parse("{\"sink.url\": \"postgresql://u:s3cr3t@h/db?nope=1\"}", &c, errs, warns), 1);
    CONTAINS(errs, "sink.url: postgresql://u:***@h/db?nope=***: not a valid PostgreSQL URL");
    CPT_ASSERTF(!strstr(errs, "s3cr3t"), "%s", errs);
    CPT_EQ_INT(parse("{\"sink.url\": \"postgresql://h:0/db?pass%77ord=s3cr3t\"}", &c, errs, warns),
               1);
    CONTAINS(errs, "is not a port number");
    CPT_ASSERTF(!strstr(errs, "s3cr3t"), "%s", errs);
    CPT_EQ_STR(c.sink, "sqlite:var/cpdemo.db");
    cpd_config_defaults(&c);
    CPT_ASSERT(!cpd_config_set(&c, "sink.url", "sqlite:", err, sizeof err));
    CONTAINS(err, "sink.url:");
    CPT_ASSERT(cpd_config_set(&c, "sink.url", "postgres://u:s3cr3t@h:5432/db", err, sizeof err));
}

/* The storage URI and the s3.* keys, checked before anything is created. */
CPT_TEST(storage_checked_without_creating_anything)
{
    cpd_config c;
    char errs[2048], warns[2048], json[1024], dir[600];
    static const struct { const char *uri, *says; } bad[] = {
        {"hdfs://u:s3cr3t@nn/x", "unsupported storage scheme 'hdfs'"},
        {"file:relative/dir", "must be file:///absolute/path"},
        {"s3://AKIDX:s3cr3t@bucket/p", "credentials in an s3:// URI are not accepted"},
        {"s3:///p", "no bucket name"},
        {"s3://bucket/a b/c", "prefix component 'a b' is not valid"},
        {"s3://bucket/ok/..", "prefix component '..' is not valid"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"execution.checkpointing.storage\": \"%s\"}", bad[i].uri);
        CPT_ASSERTF(parse(json, &c, errs, warns) == 1, "%s: %s", bad[i].uri, errs);
        CONTAINS(errs, "execution.checkpointing.storage");
        CONTAINS(errs, bad[i].says);
        CPT_ASSERTF(!strstr(errs, "s3cr3t"), "%s", errs);
    }
    /* the s3.* keys against an s3:// storage */
    CPT_EQ_INT(parse("{\"execution.checkpointing.storage\": \"s3://b/p\","
                     " \"s3.endpoint\": \"ftp://h:1\"}", &c, errs, warns), 1);
    CONTAINS(errs, "s3.endpoint: the S3 endpoint must be");
    CPT_EQ_INT(parse("{\"execution.checkpointing.storage\": \"s3://b/p\","
                     " \"s3.endpoint\": \"http://u:s3cr3t@h:1\"}", &c, errs, warns), 1);
    CPT_ASSERTF(!strstr(errs, "s3cr3t"), "%s", errs);
    CPT_EQ_INT(parse("{\"execution.checkpointing.storage\": \"s3://b/p\","
                     " \"s3.access-key\": \"AK\"}", &c, errs, warns), 1);
    CONTAINS(errs, "s3.access-key is set without s3.secret-key");
    CPT_EQ_INT(parse("{\"execution.checkpointing.storage\": \"s3://Bad_Bucket/p\","
                     " \"s3.path.style.access\": false}", &c, errs, warns), 1);
    CONTAINS(errs, "bucket name 'Bad_Bucket' is not valid");
    /* a good file:// storage is accepted, and nothing is created for it */
    snprintf(dir, sizeof dir, "%s/never/made", cpt_tmpdir());
    snprintf(json, sizeof json, "{\"execution.checkpointing.storage\": \"file://%s\"}", dir);
    CPT_EQ_INT(parse(json, &c, errs, warns), 0);
    struct stat sb;
    CPT_ASSERT(stat(dir, &sb) != 0);
    snprintf(dir, sizeof dir, "%s/never", cpt_tmpdir());
    CPT_ASSERT(stat(dir, &sb) != 0);
}

/* Topic names as Kafka checks them. */
CPT_TEST(topics_as_kafka_names_them)
{
    cpd_config c;
    char err[512];
    cpd_config_defaults(&c);
    char longest[251];
    memset(longest, 'a', 249);
    longest[249] = '\0';
    static const char *const ok[] = {"payments", "a", "A.b_c-9", "..a", NULL};
    for (int i = 0; ok[i]; i++)
        CPT_ASSERTF(cpd_config_set(&c, "source.kafka.topic", ok[i], err, sizeof err), "%s: %s",
                    ok[i], err);
    CPT_ASSERTF(cpd_config_set(&c, "source.kafka.topic", longest, err, sizeof err), "%s", err);
    longest[249] = 'a';
    longest[250] = '\0';
    CPT_ASSERT(!cpd_config_set(&c, "source.kafka.topic", longest, err, sizeof err));
    static const char *const bad[] = {"", ".", "..", "pay ments", "pay\nments", "pay/ments",
                                      "pay\xc3\xa9", "a:b", NULL};
    for (int i = 0; bad[i]; i++) {
        CPT_ASSERTF(!cpd_config_set(&c, "source.kafka.topic", bad[i], err, sizeof err), "%s",
                    bad[i]);
        CPT_ASSERTF(strstr(err, "source.kafka.topic"), "%s", err);
        CPT_ASSERTF(!strchr(err, '\n'), "a newline echoed: %s", err);
    }
    cpd_config parsed;
    char errs[2048], warns[2048];
    CPT_EQ_INT(parse("{\"source.kafka.topic\": \"a\\nb\"}", &parsed, errs, warns), 1);
    CONTAINS(errs, "a Kafka topic is 1 to 249 of");
    CPT_EQ_INT(parse("{\"agent.job-id\": \".hidden\"}", &parsed, errs, warns), 1);
    CONTAINS(errs, "agent.job-id");
}

CPT_TEST(bad_files_say_where)
{
    cpd_config c;
    char errs[2048], warns[2048];
    CPT_ASSERT(parse("{\"pipeline.name\": \"x\",\n  oops}", &c, errs, warns) == 1);
    CPT_ASSERTF(strstr(errs, "test.json:2:"), "%s", errs);
    CPT_EQ_INT(parse("[1,2]", &c, errs, warns), 1);
    CPT_ASSERT(strstr(errs, "JSON object"));
    CPT_EQ_INT(parse("{\"pipeline.name\": \"a\", \"pipeline.name\": \"b\"}", &c, errs, warns), 1);
    cpd_config_defaults(&c);
    CPT_EQ_INT(cpd_config_load("/nonexistent/job.json", &c, errs, sizeof errs, warns,
                               sizeof warns, 0), 1);
    CPT_ASSERT(strstr(errs, "/nonexistent/job.json") && strstr(errs, "No such file"));
    /* numbers where Flink writes strings are fine: an integer duration is ms */
    CPT_EQ_INT(parse("{\"execution.checkpointing.interval\": 250,"
                     " \"execution.checkpointing.num-retained\": \"3\"}", &c, errs, warns), 0);
    CPT_EQ_INT(c.interval_ms, 250);
    CPT_EQ_INT(c.num_retained, 3);
}

/* Unaligned checkpoints as Flink has them: EXACTLY_ONCE only, one at a
 * time, and an aligned-checkpoint-timeout (default 0: always unaligned). */
CPT_TEST(unaligned_checkpoints_and_their_timeout)
{
    cpd_config c;
    char errs[2048], warns[2048];
    CPT_EQ_INT(parse("{\"execution.checkpointing.unaligned.enabled\": true}", &c, errs, warns),
               0);
    CPT_ASSERT(c.unaligned);
    CPT_EQ_INT(c.aligned_timeout_ms, 0);
    CPT_EQ_INT(parse("{\"execution.checkpointing.unaligned\": true,"
                     " \"execution.checkpointing.aligned-checkpoint-timeout\": \"2 s\"}",
                     &c, errs, warns), 0);
    CPT_EQ_INT(c.aligned_timeout_ms, 2000);
    CPT_EQ_STR(warns, "");
    /* Flink's older name of the timeout */
    CPT_EQ_INT(parse("{\"execution.checkpointing.unaligned\": true,"
                     " \"execution.checkpointing.alignment-timeout\": 300}", &c, errs, warns), 0);
    CPT_EQ_INT(c.aligned_timeout_ms, 300);
    /* refused with AT_LEAST_ONCE, naming both keys */
    CPT_EQ_INT(parse("{\"execution.checkpointing.unaligned.enabled\": true,"
                     " \"execution.checkpointing.mode\": \"AT_LEAST_ONCE\"}", &c, errs, warns), 1);
    CONTAINS(errs, "execution.checkpointing.unaligned.enabled");
    CONTAINS(errs, "execution.checkpointing.mode EXACTLY_ONCE");
    /* and with concurrent checkpoints */
    CPT_EQ_INT(parse("{\"execution.checkpointing.unaligned.enabled\": true,"
                     " \"execution.checkpointing.max-concurrent-checkpoints\": 3}",
                     &c, errs, warns), 1);
    CONTAINS(errs, "execution.checkpointing.max-concurrent-checkpoints = 1 (it is 3)");
    /* a timeout without unaligned checkpoints does nothing: said so */
    CPT_EQ_INT(parse("{\"execution.checkpointing.aligned-checkpoint-timeout\": \"1 s\"}", &c,
                     errs, warns), 0);
    CONTAINS(warns, "aligned-checkpoint-timeout applies only with");
    CPT_EQ_INT(parse("{\"execution.checkpointing.aligned-checkpoint-timeout\": \"-1 s\"}", &c,
                     errs, warns), 1);
    CONTAINS(errs, "execution.checkpointing.aligned-checkpoint-timeout");
    /* both change at run time, by full or short name, through the same
     * checks; the combination check refuses what the file would */
    CPT_ASSERT(cpd_config_runtime_key("execution.checkpointing.unaligned.enabled"));
    CPT_ASSERT(cpd_config_runtime_key("unaligned"));
    CPT_ASSERT(cpd_config_runtime_key("execution.checkpointing.unaligned"));
    CPT_ASSERT(cpd_config_runtime_key("aligned-checkpoint-timeout"));
    CPT_ASSERT(cpd_config_runtime_key("execution.checkpointing.aligned-checkpoint-timeout"));
    cpd_config_defaults(&c);
    char err[512];
    CPT_ASSERT(cpd_config_set(&c, "unaligned", "true", err, sizeof err));
    CPT_ASSERT(cpd_config_set(&c, "aligned-checkpoint-timeout", "750ms", err, sizeof err));
    CPT_EQ_INT(c.aligned_timeout_ms, 750);
    CPT_ASSERT(!cpd_config_set(&c, "unaligned", "yes", err, sizeof err));
    CONTAINS(err, "execution.checkpointing.unaligned.enabled: \"yes\" must be true or false");
    CPT_EQ_INT(cpd_config_check(&c, errs, sizeof errs, NULL, 0), 0);
    c.mode = CPD_AT_LEAST_ONCE;
    CPT_EQ_INT(cpd_config_check(&c, errs, sizeof errs, NULL, 0), 1);
    CONTAINS(errs, "execution.checkpointing.mode");
}
