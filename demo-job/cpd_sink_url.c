/* cpd_sink_url.c — masking secrets in sink URLs (see cpd_sink_url.h). */
#include "cpd_sink_url.h"

#include <ctype.h>
#include <string.h>

#define MASK "***"
#define NAME_MAX_DECODED 64 /* longer parameter names are no keyword of libpq's */

typedef struct outbuf {
    char *p;
    size_t size, len;
} outbuf;

static void put(outbuf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->len + 1 < o->size; i++)
        o->p[o->len++] = s[i];
    o->p[o->len] = '\0';
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Whether the parameter name s[0..n) — percent-encoded in a URI — names a
 * secret. A name that does not decode (bad escape, NUL, too long) is
 * treated as one: it cannot be told apart. */
static bool secret_name(const char *s, size_t n, bool pct, cpd_sink_secret_fn is_secret)
{
    if (!is_secret)
        return true;
    char name[NAME_MAX_DECODED + 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (pct && c == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return true;
            c = hi * 16 + lo;
            i += 2;
        }
        if (k == NAME_MAX_DECODED)
            return false; /* no keyword is this long: libpq refuses the URL anyway */
        name[k++] = (char)c;
    }
    name[k] = '\0';
    return is_secret(name);
}

/* The query string q ("a=1&b=2", up to its end), each secret value masked. */
static void mask_query(outbuf *o, const char *q, cpd_sink_secret_fn is_secret)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (!eq) {
            put(o, n ? MASK : "", n ? strlen(MASK) : 0); /* not a parameter: unknown */
        } else {
            put(o, q, (size_t)(eq - q) + 1);
            if (secret_name(q, (size_t)(eq - q), true, is_secret))
                put(o, MASK, strlen(MASK));
            else
                put(o, eq + 1, n - (size_t)(eq - q) - 1);
        }
        q += n;
        if (*q == '&')
            put(o, q++, 1);
    }
}

/* The query string q[0..n) ("a=1&b=2"), each secret value masked. */
static void mask_query_n(outbuf *o, const char *q, size_t n, cpd_sink_secret_fn is_secret)
{
    char buf[1024];
    if (n >= sizeof buf) { /* not a URL anyone writes: hide it all */
        put(o, MASK, strlen(MASK));
        return;
    }
    memcpy(buf, q, n);
    buf[n] = '\0';
    mask_query(o, buf, is_secret);
}

static void mask_uri(outbuf *o, const char *url, const char *sep, cpd_sink_secret_fn is_secret)
{
    const char *start = sep + 3, *slash = start + strcspn(start, "/"), *at = NULL;
    put(o, url, (size_t)(start - url));
    /* userinfo: libpq ends it at the first '@' before the first '/', a
     * password with an unencoded '@' in it at the last: hide all of that */
    for (const char *p = start; p < slash; p++)
        if (*p == '@')
            at = p;
    if (at) {
        const char *colon = memchr(start, ':', (size_t)(at - start));
        const char *user_end = colon ? colon : at;
        const char *q = memchr(start, '?', (size_t)(user_end - start));
        if (q) { /* "h?password=x:y@z": read as a user name, meant as a query */
            put(o, start, (size_t)(q - start) + 1);
            mask_query_n(o, q + 1, (size_t)(user_end - q - 1), is_secret);
        } else {
            put(o, start, (size_t)(user_end - start));
        }
        if (colon) {
            put(o, ":", 1);
            put(o, MASK, strlen(MASK));
        }
        start = at;
    }
    const char *q = strchr(start, '?');
    put(o, start, q ? (size_t)(q - start) + 1 : strlen(start));
    if (q)
        mask_query(o, q + 1, is_secret);
}

/* libpq's keyword/value syntax: key [ws] = [ws] value, value bare (up to
 * whitespace) or in single quotes, backslash escaping in both. */
static void mask_keywords(outbuf *o, const char *s, cpd_sink_secret_fn is_secret)
{
    while (*s) {
        size_t ws = strspn(s, " \t\n\r\f\v");
        put(o, s, ws);
        s += ws;
        const char *key = s;
        while (*s && *s != '=' && !isspace((unsigned char)*s))
            s++;
        size_t klen = (size_t)(s - key);
        put(o, key, klen);
        ws = strspn(s, " \t\n\r\f\v");
        put(o, s, ws);
        s += ws;
        if (*s != '=')
            continue; /* libpq refuses this; nothing of a value to hide */
        put(o, s++, 1);
        ws = strspn(s, " \t\n\r\f\v");
        put(o, s, ws);
        s += ws;
        const char *v = s;
        bool quoted = *s == '\'';
        if (quoted)
            s++;
        while (*s && (quoted ? *s != '\'' : !isspace((unsigned char)*s))) {
            if (*s == '\\' && s[1])
                s++;
            s++;
        }
        if (quoted && *s == '\'')
            s++;
        if (klen && secret_name(key, klen, false, is_secret))
            put(o, MASK, strlen(MASK));
        else
            put(o, v, (size_t)(s - v));
    }
}

const char *cpd_sink_mask(const char *url, cpd_sink_secret_fn is_secret, char *out,
                          size_t outsz)
{
    if (!out || !outsz)
        return "";
    outbuf o = {out, outsz, 0};
    out[0] = '\0';
    if (!url)
        return out;
    const char *sep = strstr(url, "://");
    const char *eq = strchr(url, '=');
    if (sep && (!eq || sep < eq))
        mask_uri(&o, url, sep, is_secret);
    else if (eq)
        mask_keywords(&o, url, is_secret);
    else
        put(&o, url, strlen(url));
    return out;
}
