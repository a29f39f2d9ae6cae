/* test_config.c — cpdemo's configuration: Flink's keys and durations. */
#include "cpd_config.h"
#include "cpt_test.h"

#include <stdio.h>

static int parse(const char *json, cpd_config *c, char *errs, char *warns)
{
    cpd_config_defaults(c);
    return cpd_config_parse(json, strlen(json), "test.json", c, errs, 2048, warns, 2048);
}

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
        int n = cpd_config_load(files[i], &c, errs, sizeof errs, warns, sizeof warns);
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

CPT_TEST(unknown_keys_are_reported_not_fatal)
{
    cpd_config c;
    char errs[2048], warns[2048];
    CPT_EQ_INT(parse("{\"execution.checkpointing.intervall\": \"5s\", \"pipeline.name\": \"x\"}",
                     &c, errs, warns), 0);
    CPT_ASSERT(strstr(warns, "execution.checkpointing.intervall"));
    CPT_EQ_STR(c.name, "x");
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
                               sizeof warns), 1);
    CPT_ASSERT(strstr(errs, "/nonexistent/job.json") && strstr(errs, "No such file"));
    /* numbers where Flink writes strings are fine: an integer duration is ms */
    CPT_EQ_INT(parse("{\"execution.checkpointing.interval\": 250,"
                     " \"execution.checkpointing.num-retained\": \"3\"}", &c, errs, warns), 0);
    CPT_EQ_INT(c.interval_ms, 250);
    CPT_EQ_INT(c.num_retained, 3);
}
