/*
 * fuzz_rest.c — libFuzzer target for what libcpagent's REST endpoint reads
 * from an HTTP client before any answer is built: the routing of a method
 * and path (agent/cpa_rest_route.c) and the body of a trigger request.
 *
 * Input: the first byte picks the method (or the bytes up to the first
 * space are one), then the path up to the first newline, then the body.
 * Invariants (abort() when broken):
 *  - routing answers 0, 400, 404 or 405 with a NUL-terminated message
 *    (non-empty unless 0), never echoing a control character;
 *  - a routed request has lowercase 32-hex ids where its route takes them
 *    and a non-negative checkpoint id;
 *  - the body parser answers 0 or 400; on 0 the type is one of Flink's and
 *    the trigger id empty or 32 lowercase hex.
 *
 *   make fuzz-build && build/fuzz/fuzz_rest -dict=tests/fuzz/fuzz_rest.dict \
 *        build/fuzz/corpus-fuzz_rest tests/fuzz/corpus/fuzz_rest
 */
#include "fuzz_check.h"
#include "../../agent/cpa_rest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static bool lower_hex(const char *s)
{
    return strlen(s) == CPW_FLINK_ID_HEX && strspn(s, "0123456789abcdef") == CPW_FLINK_ID_HEX;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "HEAD", "DELETE", "PUT"};
    if (size < 1)
        return 0;
    char method[32], path[CPA_REST_MAX_URL + 64];
    size_t i = 1;
    if (data[0] < 0xf0) {
        snprintf(method, sizeof method, "%s", methods[data[0] % 6]);
    } else { /* a method of the fuzzer's own */
        size_t n = 0;
        while (i < size && data[i] != ' ' && n < sizeof method - 1)
            method[n++] = data[i] ? (char)data[i] : '?', i++;
        method[n] = '\0';
        i++;
    }
    size_t n = 0;
    while (i < size && data[i] != '\n' && n < sizeof path - 1)
        path[n++] = data[i] ? (char)data[i] : '/', i++; /* libmicrohttpd hands no NUL on */
    path[n] = '\0';
    i = i < size ? i + 1 : size;

    cpa_request rq;
    char msg[CPA_REST_MSG_MAX], allow[32];
    memset(msg, 'x', sizeof msg);
    int st = cpa_rest_route(method, path, &rq, msg, sizeof msg, allow, sizeof allow);
    FZ_CHECK(st == 0 || st == 400 || st == 404 || st == 405);
    FZ_CHECK(memchr(msg, 0, sizeof msg) && memchr(allow, 0, sizeof allow));
    FZ_CHECK(st == 0 || msg[0]);
    for (const char *p = msg; *p; p++)
        FZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    if (st == 405)
        FZ_CHECK(allow[0]);
    if (st == 0) {
        FZ_CHECK(rq.route > CPA_R_NONE && rq.route < CPA_R__COUNT);
        if (rq.route >= CPA_R_JOB)
            FZ_CHECK(lower_hex(rq.jid));
        if (rq.route == CPA_R_SUBTASKS)
            FZ_CHECK(lower_hex(rq.vid));
        if (rq.route == CPA_R_TRIGGER_STATUS)
            FZ_CHECK(lower_hex(rq.trigger));
        FZ_CHECK(rq.cpid >= 0);
    }

    cpa_trigger_body tb;
    int bs = cpa_rest_parse_trigger_body((const char *)data + i, size - i, &tb, msg, sizeof msg);
    FZ_CHECK(bs == 0 || bs == 400);
    if (bs == 0) {
        FZ_CHECK(!strcmp(tb.type, "CONFIGURED") || !strcmp(tb.type, "FULL") ||
                 !strcmp(tb.type, "INCREMENTAL"));
        FZ_CHECK(!tb.trigger_id[0] || lower_hex(tb.trigger_id));
    } else {
        FZ_CHECK(memchr(msg, 0, sizeof msg) && msg[0]);
    }
    return 0;
}
