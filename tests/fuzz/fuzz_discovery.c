/*
 * fuzz_discovery.c — libFuzzer target for what a dashboard reads from the
 * runtime directory (discovery files) and for the sanitizers every string
 * from a job or from disk goes through before a terminal or script sees it.
 *
 * Invariants (abort() when broken):
 *  - cpw_discovery_parse never reads past the input and, when it accepts,
 *    gives NUL-terminated fields: a job id of [A-Za-z0-9._-], a pid > 0,
 *    ipc:// or tcp:// URLs, an instance of 0 or 32 lowercase hex;
 *  - an accepted entry re-encodes (cpw_discovery_encode) to a file that
 *    parses back to the same entry;
 *  - cpw_sanitize of any field, and of the raw input, leaves no hidden
 *    character and no invalid UTF-8;
 *  - cpw_json_sanitize of the raw input leaves no hidden character raw, and
 *    when the input is JSON the output is JSON with the same meaning.
 *
 *   make fuzz-build && build/fuzz/fuzz_discovery -dict=tests/fuzz/fuzz_discovery.dict \
 *        build/fuzz/corpus-fuzz_discovery tests/fuzz/corpus/fuzz_discovery
 */
#include "fuzz_common.h"
#include "cpw_discovery.h"

#include <jansson.h>
#include <stdint.h>

/* s holds only shown characters (and, with json_ws, the whitespace JSON
 * allows between tokens), all valid UTF-8 */
static void fz_shown_ws(const char *s, size_t n, bool json_ws)
{
    while (n) {
        uint32_t cp;
        size_t k = cpw_utf8_next(s, n, &cp);
        FZ_CHECK(k > 0);
        FZ_CHECK(!cpw_char_hidden(cp) || (json_ws && (cp == '\t' || cp == '\n' || cp == '\r')));
        s += k, n -= k;
    }
}
#define fz_shown(s, n) fz_shown_ws((s), (n), false)

static void fz_clean(const char *field, size_t cap)
{
    FZ_CHECK(strnlen(field, cap) < cap);
    char out[CPW_URL_MAX * 2];
    cpw_sanitize(field, out, sizeof out);
    fz_shown(out, strlen(out));
}

static void check_entry(const cpw_job_entry *e)
{
    FZ_CHECK(e->job[0] && strspn(e->job, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789._-") == strlen(e->job));
    FZ_CHECK(e->pid > 0 && e->started_us >= 0);
    FZ_CHECK(!strncmp(e->events, "ipc://", 6) || !strncmp(e->events, "tcp://", 6));
    FZ_CHECK(!strncmp(e->commands, "ipc://", 6) || !strncmp(e->commands, "tcp://", 6));
    size_t ni = strnlen(e->instance, sizeof e->instance);
    FZ_CHECK((ni == 0 || ni == CPW_INSTANCE_HEX) &&
             strspn(e->instance, "0123456789abcdef") == ni);
    fz_clean(e->job, sizeof e->job);
    fz_clean(e->name, sizeof e->name);
    fz_clean(e->events, sizeof e->events);
    fz_clean(e->commands, sizeof e->commands);
    fz_clean(e->rest, sizeof e->rest);
    FZ_CHECK(!e->rest[0] || !strncmp(e->rest, "http://", 7));
}

static void roundtrip(const cpw_job_entry *e)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_discovery_encode(&b, e);
    FZ_CHECK(!b.failed);
    cpw_job_entry back;
    char err[200];
    if (b.len >= 4096)
        return; /* longer than a reader takes: a writer's fields never get there */
    FZ_CHECK(cpw_discovery_parse(b.data, b.len, &back, err, sizeof err) == CPW_DISC_OK);
    FZ_CHECK(!strcmp(back.job, e->job) && !strcmp(back.name, e->name) && back.pid == e->pid &&
             !strcmp(back.events, e->events) && !strcmp(back.commands, e->commands) &&
             !strcmp(back.instance, e->instance) && !strcmp(back.rest, e->rest) &&
             back.started_us == e->started_us);
    cpw_buf_free(&b);
}

static void sanitizers(const char *data, size_t size)
{
    char *z = malloc(size + 1);
    memcpy(z, data, size);
    z[size] = '\0';
    char *out = malloc(size + 1);
    cpw_sanitize(z, out, size + 1);
    fz_shown(out, strlen(out));
    free(out);

    cpw_buf b;
    cpw_buf_init(&b);
    cpw_json_sanitize(&b, data, size);
    if (!b.failed) {
        /* outside strings only a valid JSON text's own bytes are checked */
        json_t *in = memchr(data, 0, size) ? NULL : json_loadb(data, size, JSON_DECODE_ANY, NULL);
        if (in) {
            json_t *again = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY, NULL);
            FZ_CHECK(again && json_equal(in, again));
            json_decref(again);
            json_decref(in);
            fz_shown_ws(b.data ? b.data : "", b.len, true);
        }
    }
    cpw_buf_free(&b);
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpw_job_entry e;
    char err[200];
    if (cpw_discovery_parse((const char *)data, size, &e, err, sizeof err) == CPW_DISC_OK) {
        check_entry(&e);
        roundtrip(&e);
    } else {
        FZ_CHECK(err[0] && e.job[0] == '\0');
    }
    if (size <= 65536)
        sanitizers((const char *)data, size);
    return 0;
}
