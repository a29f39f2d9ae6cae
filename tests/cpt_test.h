/*
 * cpt_test.h — the tiny test harness behind every tests/test_*.c binary.
 *
 * Each CPT_TEST runs in its own forked child with a timeout, so a crash or a
 * hang fails that test alone. The binary's last line is "N passed, N failed".
 * CPT_FILTER (environment) or argv[1] keeps tests whose "binary.test" name
 * contains it; CPT_TIMEOUT sets seconds per test (default 60).
 */
#ifndef CPT_TEST_H
#define CPT_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*cpt_fn)(void);
void cpt_register(const char *name, cpt_fn fn, int timeout_s);
void cpt_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define CPT_TEST_T(name, timeout)                                              \
    static void cpt_##name(void);                                              \
    __attribute__((constructor)) static void cpt_reg_##name(void)              \
    {                                                                          \
        cpt_register(#name, cpt_##name, timeout);                              \
    }                                                                          \
    static void cpt_##name(void)
#define CPT_TEST(name) CPT_TEST_T(name, 0)

#define CPT_ASSERT(c)                                                          \
    do {                                                                       \
        if (!(c))                                                              \
            cpt_fail_at(__FILE__, __LINE__, "assertion failed: %s", #c);       \
    } while (0)
#define CPT_ASSERTF(c, ...)                                                    \
    do {                                                                       \
        if (!(c))                                                              \
            cpt_fail_at(__FILE__, __LINE__, __VA_ARGS__);                      \
    } while (0)
#define CPT_EQ_INT(a, b)                                                       \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_)                                                          \
            cpt_fail_at(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
                        #a, a_, #b, b_);                                       \
    } while (0)
#define CPT_EQ_STR(a, b)                                                       \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (strcmp(a_ ? a_ : "(null)", b_ ? b_ : "(null)") != 0)               \
            cpt_fail_at(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"",   \
                        #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
    } while (0)

/* A directory of its own for this test (created, removed by the harness). */
const char *cpt_tmpdir(void);
/* A TCP port on 127.0.0.1 that was free a moment ago (with port+1 free too). */
int cpt_free_port_pair(void);
/* Monotonic milliseconds. */
int64_t cpt_now_ms(void);

#endif
