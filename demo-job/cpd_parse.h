/*
 * cpd_parse.h — the job's record parser: the rule cpd_verify_parse states
 * (see cpd_verify.h), on the protocol's strict streaming JSON parser, which
 * is several times faster than building a jansson tree per record. Anything
 * outside the shape good records have (nested values, escapes, reals) is
 * handed to cpd_verify_parse itself, so the two can never disagree; a test
 * compares them on generated, malformed and mutated records.
 * Reentrant; allocates nothing on the fast path.
 */
#ifndef CPD_PARSE_H
#define CPD_PARSE_H

#include "cpd_verify.h"

bool cpd_parse_record(const void *value, size_t len, cpd_vrecord *out, char *why,
                      size_t why_size);

#endif
