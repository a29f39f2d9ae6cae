/*
 * cpt_rec_import.c — a Flink HistoryServer archive as recording records,
 * and the replay's time syntax. Both pure (no I/O).
 *
 * An archive is what Flink's HistoryServer keeps of a finished job: the
 * REST responses of its last moment, {"archive":[{"path":"/jobs/…","json":
 * "<body as a string>"},…]}. Each entry becomes one CPT_REC_FLINK record, so
 * a replay reads it as it reads a recorded Flink session of one instant.
 */
#include "cpt_rec.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARCHIVE_MAX_ENTRIES 100000

/* A millisecond time member of body (a JSON object text), or 0. */
static int64_t ms_member(const char *body, size_t len, const char *array, const char *key)
{
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *o = j;
    if (o && array) {
        json_t *a = json_object_get(o, array);
        o = json_is_array(a) && json_array_size(a) == 1 ? json_array_get(a, 0) : NULL;
    }
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    int64_t ms = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
    json_decref(j);
    /* years 2000 to 2200 in ms: anything else is not a time */
    return ms > 946684800000LL && ms < 7258118400000LL ? ms * 1000 : 0;
}

/* Whether path is "/jobs/<id>" exactly. */
static bool is_job_path(const char *p)
{
    if (strncmp(p, "/jobs/", 6) || !strcmp(p + 6, "overview"))
        return false;
    return p[6] && !strchr(p + 6, '/');
}

/* The job's end time as the archive tells it, else fallback. */
static int64_t archive_time(json_t *arr, int64_t fallback)
{
    size_t i;
    json_t *e;
    int64_t t = 0;
    json_array_foreach(arr, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        json_t *body = json_object_get(e, "json");
        if (!p || !json_is_string(body))
            continue;
        const char *b = json_string_value(body);
        size_t n = json_string_length(body);
        if (!strcmp(p, "/jobs/overview") && !t)
            t = ms_member(b, n, "jobs", "end-time");
        else if (is_job_path(p)) {
            int64_t x = ms_member(b, n, NULL, "end-time");
            t = x ? x : t ? t : ms_member(b, n, NULL, "now");
        }
    }
    return t ? t : fallback;
}

cpt_rec_err cpt_rec_import_archive(const char *buf, size_t len, int64_t fallback_us,
                                   cpt_rec_emit_fn emit, void *opaque, char *err, size_t errsz)
{
    if (len > CPT_REC_MAX_RAW) {
        snprintf(err, errsz, "archive larger than %u bytes", CPT_REC_MAX_RAW);
        return CPT_REC_ERR_TOO_LARGE;
    }
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    json_t *arr = j ? json_object_get(j, "archive") : NULL;
    cpt_rec_err rc = CPT_REC_OK;
    if (!j) {
        snprintf(err, errsz, "not JSON (line %d: %.80s)", je.line, je.text);
        return CPT_REC_ERR_FORMAT;
    }
    if (!json_is_array(arr) || json_array_size(arr) > ARCHIVE_MAX_ENTRIES) {
        snprintf(err, errsz, "not a HistoryServer archive (no \"archive\" array of at most %d)",
                 ARCHIVE_MAX_ENTRIES);
        json_decref(j);
        return CPT_REC_ERR_FORMAT;
    }
    int64_t ts = archive_time(arr, fallback_us);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        json_t *p = json_object_get(e, "path"), *body = json_object_get(e, "json");
        const char *ps = json_string_value(p);
        size_t pl = json_string_length(p);
        if (!ps || !json_is_string(body) || ps[0] != '/' || pl > CPT_REC_MAX_PATH ||
            strlen(ps) != pl || json_string_length(body) > CPT_REC_MAX_RECORD) {
            snprintf(err, errsz, "archive entry %zu: needs a \"path\" (/…, at most %d bytes) and "
                     "a \"json\" string", i, CPT_REC_MAX_PATH);
            rc = CPT_REC_ERR_FORMAT;
            break;
        }
        cpt_rec_record r = {.kind = CPT_REC_FLINK, .ts_us = ts, .path = ps, .path_len = pl,
                            .data = json_string_value(body), .len = json_string_length(body)};
        if (emit(opaque, &r)) {
            snprintf(err, errsz, "archive entry %zu: %s", i, cpt_rec_strerror(CPT_REC_ERR_NOMEM));
            rc = CPT_REC_ERR_NOMEM;
            break;
        }
    }
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------------ times */

/* "N[smh]" as µs (no sign); false when it is not one. */
static bool parse_span(const char *s, int64_t *us)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return false;
    long long n = strtoll(s, &end, 10);
    static const struct { char unit; int64_t us; } units[] = {
        {'\0', 1000000}, {'s', 1000000}, {'m', 60000000}, {'h', 3600000000LL}, {'d', 86400000000LL},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (*end == units[i].unit && (!*end || !end[1]) && n >= 0 && n < 100000000LL) {
            *us = n * units[i].us;
            return true;
        }
    return false;
}

bool cpt_rec_parse_time(const char *s, int64_t ref_us, int64_t now_us, int64_t *out)
{
    int64_t span;
    if ((s[0] == '-' || s[0] == '+') && parse_span(s + 1, &span)) {
        *out = s[0] == '-' ? now_us - span : now_us + span;
        return true;
    }
    if (s[0] == '@') { /* epoch seconds, with up to 6 decimals (date +%s.%N cut short) */
        char *end;
        long long secs = strtoll(s + 1, &end, 10), us = 0;
        if (end == s + 1 || !isdigit((unsigned char)s[1]) || secs < 0 || secs > 7258118400LL)
            return false;
        if (*end == '.') {
            int k = 0;
            for (end++; isdigit((unsigned char)*end) && k < 6; end++, k++)
                us = us * 10 + (*end - '0');
            if (!k)
                return false;
            for (; k < 6; k++)
                us *= 10;
            while (isdigit((unsigned char)*end)) /* below a microsecond: cut */
                end++;
        }
        if (*end)
            return false;
        *out = secs * 1000000 + us;
        return true;
    }
    int y, mo, d, h, mi, sec = 0, n = 0;
    struct tm tm;
    time_t ref = (time_t)(ref_us / 1000000);
    if (!localtime_r(&ref, &tm))
        return false;
    if ((sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 ||
         sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) == 5) && !s[n]) {
        if (y < 2000 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31)
            return false;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
    } else if (!((sscanf(s, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) == 3 ||
                  (sec = 0, sscanf(s, "%2d:%2d%n", &h, &mi, &n) == 2)) && !s[n])) {
        return false;
    }
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return false;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return false;
    *out = (int64_t)t * 1000000;
    /* a time of day is the first one at or after the recording's start minute */
    if (s[2] == ':' && *out < ref_us - ref_us % 60000000)
        *out += 86400000000LL;
    return true;
}
