/*
 * cpd_parse.h — the job's record parser: the rule cpd_verify_parse states
 * (see cpd_verify.h), on the job's hot path.
 *
 * One pass over the value, allocating nothing, takes a record of the shape
 * good records have: a flat JSON object of at most 16 members whose names
 * and string values are plain ASCII (no escapes) and whose other values
 * are integers within int64 or literals. Anything else — nested values,
 * escapes, non-ASCII text, reals, repeated names, and every malformed
 * record — is handed to cpd_verify_parse itself, so the two can never
 * disagree (a test compares them on generated, malformed and mutated
 * records; tests/fuzz/fuzz_record.c does on arbitrary input) and a
 * malformed record gets the reference's words for what is wrong.
 * Several times faster than building a jansson tree per record. Reentrant.
 */
#ifndef CPD_PARSE_H
#define CPD_PARSE_H

#include "cpd_verify.h"

/* As cpd_verify_parse: true and *out filled for a good record; false with
 * why (may be NULL) saying how it is malformed. */
bool cpd_parse_record(const void *value, size_t len, cpd_vrecord *out, char *why,
                      size_t why_size);

#endif
