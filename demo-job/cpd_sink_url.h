/*
 * cpd_sink_url.h — internal to cpd_sink*.c: masking secrets in the text of a
 * sink URL, by the rules libpq reads URLs with (so that the front end and
 * every backend mask alike, and no backend depends on the front end).
 *
 * Pure functions of their arguments; reentrant; never allocate.
 */
#ifndef CPD_SINK_URL_H
#define CPD_SINK_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a (decoded) parameter name holds a secret. */
typedef bool (*cpd_sink_secret_fn)(const char *name);

/*
 * Copies url to out (outsz bytes, always terminated, truncated) with
 * secrets replaced by "***":
 *  - URI form ("scheme://..."): the password of the userinfo (from its
 *    first ':' up to the last '@' before the first '/': libpq ends it at
 *    the first such '@', a password with a raw '@' in it means the last),
 *    and the value of every query parameter whose percent-decoded name
 *    is_secret accepts — of every parameter when is_secret is NULL;
 *  - keyword/value form ("k=v k2='v 2'"): the value of every keyword
 *    is_secret accepts (all of them when NULL);
 *  - anything else is copied as it is.
 * Returns out.
 */
const char *cpd_sink_mask(const char *url, cpd_sink_secret_fn is_secret, char *out,
                          size_t outsz);

#endif
