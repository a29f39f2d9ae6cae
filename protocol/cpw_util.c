/* cpw_util.c — name tables, error strings, sanitising, clocks, HMAC. */
#include "cpw.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const event_names[CPW_EV__COUNT] = {
    [CPW_EV_CP_TRIGGERED] = "cp_triggered",
    [CPW_EV_BARRIER_INJECTED] = "barrier_injected",
    [CPW_EV_BARRIER_RECEIVED] = "barrier_received",
    [CPW_EV_ALIGNMENT_START] = "alignment_start",
    [CPW_EV_ALIGNMENT_END] = "alignment_end",
    [CPW_EV_SNAPSHOT_START] = "snapshot_start",
    [CPW_EV_SNAPSHOT_SYNC_DONE] = "snapshot_sync_done",
    [CPW_EV_SNAPSHOT_ASYNC_DONE] = "snapshot_async_done",
    [CPW_EV_ACK] = "ack",
    [CPW_EV_DECLINE] = "decline",
    [CPW_EV_CP_COMPLETED] = "cp_completed",
    [CPW_EV_CP_FAILED] = "cp_failed",
    [CPW_EV_CP_COMMITTED] = "cp_committed",
    [CPW_EV_JOB_STATUS] = "job_status",
    [CPW_EV_RESTORED] = "restored",
    [CPW_EV_FAILURE_INJECTED] = "failure_injected",
    [CPW_EV_TASK_FAILED] = "task_failed",
    [CPW_EV_SWITCHED_TO_UNALIGNED] = "switched_to_unaligned",
};

static const char *const alignment_names[CPW_ALIGN__COUNT] = {
    [CPW_ALIGN_ALIGNED] = "aligned",
    [CPW_ALIGN_UNALIGNED] = "unaligned",
    [CPW_ALIGN_TIMEOUT] = "aligned_timeout",
};

static const char *const reason_names[CPW_FAIL__COUNT] = {
    [CPW_FAIL_EXPIRED] = "CHECKPOINT_EXPIRED",
    [CPW_FAIL_DECLINED] = "CHECKPOINT_DECLINED",
    [CPW_FAIL_ABORTED] = "CHECKPOINT_ABORTED_BY_USER",
    [CPW_FAIL_ASYNC_EXCEPTION] = "CHECKPOINT_ASYNC_EXCEPTION",
    [CPW_FAIL_IO] = "IO_EXCEPTION",
    [CPW_FAIL_TASK_FAILURE] = "TASK_FAILURE",
    [CPW_FAIL_NOT_ALL_RUNNING] = "NOT_ALL_REQUIRED_TASKS_RUNNING",
    [CPW_FAIL_TOO_MANY_REQUESTS] = "TOO_MANY_CHECKPOINT_REQUESTS",
    [CPW_FAIL_SUBSUMED] = "CHECKPOINT_SUBSUMED",
};

static const char *const status_names[CPW_JOB__COUNT] = {
    [CPW_JOB_CREATED] = "created",     [CPW_JOB_RUNNING] = "running",
    [CPW_JOB_FAILING] = "failing",     [CPW_JOB_RESTARTING] = "restarting",
    [CPW_JOB_FAILED] = "failed",       [CPW_JOB_FINISHED] = "finished",
};

static const char *const command_names[CPW_CMD__COUNT] = {
    [CPW_CMD_GET_STATE] = "get_state",   [CPW_CMD_TRIGGER] = "trigger",
    [CPW_CMD_ABORT] = "abort",           [CPW_CMD_INJECT_FAILURE] = "inject_failure",
    [CPW_CMD_SET_CONFIG] = "set_config", [CPW_CMD_CANCEL] = "cancel",
};

const char *cpw_event_type_name(cpw_event_type t)
{
    return (t > 0 && t < CPW_EV__COUNT) ? event_names[t] : NULL;
}
const char *cpw_failure_reason_name(cpw_failure_reason r)
{
    return ((unsigned)r < CPW_FAIL__COUNT) ? reason_names[r] : NULL;
}
const char *cpw_job_status_name(cpw_job_status s)
{
    return ((unsigned)s < CPW_JOB__COUNT) ? status_names[s] : NULL;
}
const char *cpw_alignment_name(cpw_alignment a)
{
    return ((unsigned)a < CPW_ALIGN__COUNT) ? alignment_names[a] : NULL;
}
const char *cpw_command_name(cpw_cmd_type t)
{
    return ((unsigned)t < CPW_CMD__COUNT) ? command_names[t] : NULL;
}

static int lookup(const char *const *tab, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (tab[i] && strlen(tab[i]) == len && memcmp(tab[i], s, len) == 0)
            return i;
    return -1;
}

bool cpw_failure_counts(cpw_failure_reason r)
{
    switch (r) {
    case CPW_FAIL_SUBSUMED:
    case CPW_FAIL_TOO_MANY_REQUESTS:
    case CPW_FAIL_ABORTED:
    case CPW_FAIL_TASK_FAILURE:
        return false;
    default:
        return (unsigned)r < CPW_FAIL__COUNT;
    }
}

int cpw_event_type_from_name(const char *s, size_t n) { return lookup(event_names, CPW_EV__COUNT, s, n); }
int cpw_failure_reason_from_name(const char *s, size_t n) { return lookup(reason_names, CPW_FAIL__COUNT, s, n); }
int cpw_job_status_from_name(const char *s, size_t n) { return lookup(status_names, CPW_JOB__COUNT, s, n); }
int cpw_alignment_from_name(const char *s, size_t n) { return lookup(alignment_names, CPW_ALIGN__COUNT, s, n); }
int cpw_command_from_name(const char *s, size_t n) { return lookup(command_names, CPW_CMD__COUNT, s, n); }

static const struct { const char *name, *text; } cpw_errs[CPW_ERR__COUNT] = {
    [CPW_OK] = {"ok", "success"},
    [CPW_ERR_EMPTY] = {"empty", "empty message"},
    [CPW_ERR_TOO_LARGE] = {"too_large", "message larger than the protocol allows"},
    [CPW_ERR_NUL_BYTE] = {"nul_byte", "NUL byte in message"},
    [CPW_ERR_BAD_UTF8] = {"bad_utf8", "invalid UTF-8"},
    [CPW_ERR_TOO_DEEP] = {"too_deep", "nesting too deep"},
    [CPW_ERR_TRUNCATED] = {"truncated", "message truncated"},
    [CPW_ERR_SYNTAX] = {"syntax", "JSON syntax error"},
    [CPW_ERR_TRAILING] = {"trailing", "unexpected bytes after the message"},
    [CPW_ERR_NOT_OBJECT] = {"not_object", "message is not a JSON object"},
    [CPW_ERR_DUPLICATE_KEY] = {"duplicate_key", "duplicate member name"},
    [CPW_ERR_TOO_MANY] = {"too_many", "too many elements"},
    [CPW_ERR_STRING_TOO_LONG] = {"string_too_long", "string too long"},
    [CPW_ERR_MISSING_FIELD] = {"missing_field", "required field missing"},
    [CPW_ERR_WRONG_TYPE] = {"wrong_type", "field has the wrong type"},
    [CPW_ERR_BAD_VALUE] = {"bad_value", "field value out of range"},
    [CPW_ERR_VERSION] = {"version", "unsupported protocol version"},
    [CPW_ERR_UNKNOWN_TYPE] = {"unknown_type", "unknown message type"},
    [CPW_ERR_NOMEM] = {"nomem", "out of memory"},
};

const char *cpw_strerror(cpw_err e)
{
    return ((unsigned)e < CPW_ERR__COUNT) ? cpw_errs[e].text : "unknown error";
}
const char *cpw_err_name(cpw_err e)
{
    return ((unsigned)e < CPW_ERR__COUNT) ? cpw_errs[e].name : "unknown";
}

/* ------------------------------------------------------------------ sanitising
 * Text from a job or from disk reaches terminals and scripts. What could
 * move the cursor, recolour, reorder (bidi) or hide text never does: C0
 * controls, DEL, C1 controls (one-byte CSI is U+009B), the bidi embedding,
 * override and isolate controls, the other invisible format characters
 * (Unicode's Cf) and the line and paragraph separators. */

/* Invisible or controlling code points at or above U+0080, sorted. */
static const struct { uint32_t lo, hi; } hidden[] = {
    {0x0080, 0x009F},   {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},
    {0x06DD, 0x06DD},   {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},
    {0x180E, 0x180E},   {0x200B, 0x200F},   {0x2028, 0x202E},   {0x2060, 0x2064},
    {0x2066, 0x206F},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD},
    {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
    {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
};

bool cpw_char_hidden(uint32_t cp)
{
    if (cp < 0x20 || cp == 0x7F)
        return true;
    if (cp < 0x80)
        return false;
    int lo = 0, hi = (int)(sizeof hidden / sizeof hidden[0]) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < hidden[mid].lo)
            hi = mid - 1;
        else if (cp > hidden[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

size_t cpw_utf8_next(const char *in, size_t avail, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)in;
    if (!avail)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
             : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (!n || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
        return 0;
    uint32_t v = c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++)
        v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return n;
}

void cpw_sanitize(const char *in, char *out, size_t out_size)
{
    if (!out_size)
        return;
    const char *s = in ? in : "";
    size_t avail = strlen(s), k = 0;
    while (avail && k + 1 < out_size) {
        uint32_t cp;
        size_t n = cpw_utf8_next(s, avail, &cp);
        if (n == 0 || cpw_char_hidden(cp)) {
            /* a bad byte is one '?', a hidden character one '?' */
            out[k++] = '?';
            n = n ? n : 1;
        } else {
            if (k + n + 1 > out_size)
                break;
            memcpy(out + k, s, n);
            k += n;
        }
        s += n;
        avail -= n;
    }
    out[k] = '\0';
}

static void put_u_escape(cpw_buf *b, uint32_t u)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', hex[(u >> 12) & 15], hex[(u >> 8) & 15], hex[(u >> 4) & 15],
                 hex[u & 15]};
    if (cpw_buf_reserve(b, sizeof e)) {
        memcpy(b->data + b->len, e, sizeof e);
        b->len += sizeof e;
    }
}

static void put_raw(cpw_buf *b, const char *s, size_t n)
{
    if (cpw_buf_reserve(b, n)) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
}

void cpw_json_sanitize(cpw_buf *out, const char *json, size_t len)
{
    bool in_str = false;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)json[i];
        if (c == '"' ) {
            in_str = !in_str;
            put_raw(out, json + i++, 1);
            continue;
        }
        if (in_str && c == '\\' && i + 1 < len) {
            put_raw(out, json + i, 2); /* an escape stays as written */
            i += 2;
            continue;
        }
        uint32_t cp;
        size_t n = cpw_utf8_next(json + i, len - i, &cp);
        if (n == 0) {
            put_u_escape(out, 0xFFFD); /* not UTF-8: the replacement character */
            i++;
        } else if (in_str && cpw_char_hidden(cp)) {
            if (cp >= 0x10000) { /* as a surrogate pair */
                put_u_escape(out, 0xD800 + ((cp - 0x10000) >> 10));
                put_u_escape(out, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                put_u_escape(out, cp);
            }
            i += n;
        } else {
            put_raw(out, json + i, n);
            i += n;
        }
    }
}

int64_t cpw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cpw_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool cpw_random_hex(char *out, size_t hex_chars)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t n = (hex_chars + 1) / 2;
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return false;
    for (size_t i = 0; i < hex_chars; i++)
        out[i] = hex[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    out[hex_chars] = '\0';
    return true;
}

/* The authenticated part is everything before the final `,"mac":"…"}`. */
static const char mac_tag[] = ",\"mac\":\"";

bool cpw_verify_mac(const char *buf, size_t len, const unsigned char *secret,
                    size_t secret_len)
{
    while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                   buf[len - 1] == '\t'))
        len--;
    size_t tag = sizeof mac_tag - 1;
    if (len < tag + CPW_MAC_HEX + 2)
        return false;
    size_t at = len - (tag + CPW_MAC_HEX + 2);
    if (memcmp(buf + at, mac_tag, tag) != 0 || buf[len - 2] != '"' || buf[len - 1] != '}')
        return false;
    const char *given = buf + at + tag;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)buf, at, mac,
              &mac_len) || mac_len != 32)
        return false;
    static const char hex[] = "0123456789abcdef";
    char want[CPW_MAC_HEX];
    for (unsigned i = 0; i < 32; i++) {
        want[2 * i] = hex[mac[i] >> 4];
        want[2 * i + 1] = hex[mac[i] & 15];
    }
    return CRYPTO_memcmp(want, given, CPW_MAC_HEX) == 0;
}
