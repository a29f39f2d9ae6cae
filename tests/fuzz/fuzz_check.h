/*
 * fuzz_check.h — the one invariant check of the libFuzzer targets: a
 * broken invariant prints where and calls abort(), which libFuzzer reports
 * as a crash with the input that caused it.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(c)                                                                 \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #c, __FILE__,    \
                    __LINE__);                                                      \
            abort();                                                                \
        }                                                                           \
    } while (0)

#endif
