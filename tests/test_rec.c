/*
 * test_rec.c — the recording format (tui/cpt_rec*.c): round trips through
 * every codec, a file cut at every byte of its last chunk, corrupt chunks
 * and headers skipped with a note naming their offset, seeking to keyframes,
 * continuing a recording, --record-max's rotation, the HistoryServer
 * importer and the replay's time syntax.
 */
#include "cpt_rec.h"
#include "cpt_rec_int.h"
#include "cpt_test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

#define T0 1700000000000000LL   /* a wall-clock time in µs */

typedef struct notes {
    int n;
    uint64_t off[64];
    char text[64][300];
} notes;

static void on_note(void *opaque, const char *file, uint64_t offset, const char *text)
{
    notes *n = opaque;
    if (n->n < 64) {
        n->off[n->n] = offset;
        snprintf(n->text[n->n], sizeof n->text[0], "%s", text);
    }
    n->n++;
}

static const char *tmp(const char *name)
{
    static char p[4][512];
    static int k;
    char *s = p[k++ % 4];
    snprintf(s, sizeof p[0], "%s/%s", cpt_tmpdir(), name);
    return s;
}

/* Record i of a synthetic stream: kind by i, time 100 ms apart, text of
 * its own so that each is told apart. */
static void make_record(int i, cpt_rec_record *r, char *buf, size_t size)
{
    static const char *const path = "/jobs/abc/checkpoints";
    int kind = i % 10 == 0 ? CPT_REC_KEYFRAME : i % 7 == 3 ? CPT_REC_FLINK
             : i % 13 == 5 ? CPT_REC_MARKER : CPT_REC_AGENT;
    snprintf(buf, size, "{\"v\":1,\"type\":\"barrier_received\",\"seq\":%d,\"op\":%d}", i, i % 8);
    *r = (cpt_rec_record){.kind = kind, .ts_us = T0 + (int64_t)i * 100000, .data = buf,
                          .len = strlen(buf)};
    if (kind == CPT_REC_FLINK) {
        r->path = path;
        r->path_len = strlen(path);
    }
}

/* Writes n records (a keyframe first whenever the writer wants one). */
static void write_stream(const char *path, int n, const cpt_rec_conf *conf)
{
    char err[300], buf[200];
    cpt_rec_writer *w = cpt_rec_writer_new(path, conf, err, sizeof err);
    CPT_ASSERTF(w, "writer: %s", err);
    for (int i = 0; i < n; i++) {
        cpt_rec_record r;
        make_record(i, &r, buf, sizeof buf);
        if (cpt_rec_writer_wants_keyframe(w, r.ts_us)) {
            cpt_rec_record k = {.kind = CPT_REC_KEYFRAME, .ts_us = r.ts_us, .data = "{}", .len = 2};
            CPT_EQ_INT(cpt_rec_write(w, &k), CPT_REC_OK);
        }
        CPT_EQ_INT(cpt_rec_write(w, &r), CPT_REC_OK);
    }
    CPT_EQ_INT(cpt_rec_writer_close(w), CPT_REC_OK);
}

/* Reads every record but keyframes the writer added; checks each against
 * make_record in order from `from`. Returns how many. */
static int read_check(const char *path, int from, notes *nt)
{
    char err[300], buf[200];
    cpt_rec_reader *r = cpt_rec_reader_open(path, on_note, nt, err, sizeof err);
    CPT_ASSERTF(r, "reader: %s", err);
    cpt_rec_record got;
    int i = from;
    while (cpt_rec_reader_next(r, &got) == 1) {
        if (got.kind == CPT_REC_KEYFRAME && got.len == 2 && !memcmp(got.data, "{}", 2))
            continue;
        cpt_rec_record want;
        make_record(i, &want, buf, sizeof buf);
        CPT_EQ_INT(got.kind, want.kind);
        CPT_EQ_INT(got.ts_us, want.ts_us);
        CPT_ASSERTF(got.len == want.len && !memcmp(got.data, want.data, got.len),
                    "record %d: %.*s", i, (int)got.len, got.data);
        CPT_EQ_INT(got.path_len, want.path_len);
        if (want.path)
            CPT_ASSERT(!memcmp(got.path, want.path, want.path_len));
        i++;
    }
    cpt_rec_reader_close(r);
    return i - from;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CPT_ASSERTF(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    CPT_ASSERT(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CPT_ASSERT(f && fwrite(b, 1, n, f) == n);
    fclose(f);
}

/* Offsets of the chunk headers (magic, then a plausible header) in b. */
static int chunk_offsets(const uint8_t *b, size_t n, size_t *off, int max)
{
    int k = 0;
    for (size_t i = 0; i + 48 <= n && k < max; i++)
        if (!memcmp(b + i, "CPRC", 4) && (b[i + 4] == 1 || b[i + 4] == 2)) {
            off[k++] = i;
            uint32_t comp = (uint32_t)b[i + 32] | (uint32_t)b[i + 33] << 8 |
                            (uint32_t)b[i + 34] << 16 | (uint32_t)b[i + 35] << 24;
            i += 48 + comp - 1;
        }
    return k;
}

/* ------------------------------------------------------------------ tests */

CPT_TEST(round_trip_every_codec)
{
    static const int codecs[] = {0, CPT_REC_CODEC_ZLIB, -1};
    for (size_t c = 0; c < 3; c++) {
        const char *p = tmp(c == 0 ? "zstd.cprec" : c == 1 ? "zlib.cprec" : "none.cprec");
        cpt_rec_conf conf = {.chunk_us = 2000000, .codec = codecs[c]};
        write_stream(p, 500, &conf);
        notes nt = {0};
        CPT_EQ_INT(read_check(p, 0, &nt), 500);
        CPT_EQ_INT(nt.n, 0);
        char err[300];
        cpt_rec_reader *r = cpt_rec_reader_open(p, NULL, NULL, err, sizeof err);
        int64_t a, b;
        int chunks, skipped;
        cpt_rec_reader_range(r, &a, &b);
        cpt_rec_reader_counts(r, &chunks, &skipped);
        CPT_EQ_INT(a, T0);
        CPT_EQ_INT(b, T0 + 499 * 100000);
        CPT_EQ_INT(chunks, 25); /* 50 s in 2 s chunks */
        CPT_EQ_INT(skipped, 0);
        cpt_rec_reader_close(r);
    }
}

CPT_TEST(cut_at_every_byte_of_the_last_chunk)
{
    const char *p = tmp("full.cprec"), *q = tmp("cut.cprec");
    cpt_rec_conf conf = {.chunk_us = 3000000};
    write_stream(p, 200, &conf);
    size_t n;
    uint8_t *b = slurp(p, &n);
    size_t off[64];
    int k = chunk_offsets(b, n, off, 64);
    CPT_ASSERT(k >= 4);
    /* off[k-1] is the index chunk; off[k-2] the last chunk of records */
    size_t last = off[k - 2];
    int before = -1;
    for (size_t cut = last; cut <= n; cut++) {
        spit(q, b, cut);
        notes nt = {0};
        int got = read_check(q, 0, &nt);
        if (cut < off[k - 1]) {
            /* the records of every complete chunk, none of the cut one */
            if (before < 0)
                before = got;
            CPT_EQ_INT(got, before);
            CPT_ASSERTF(cut == last || nt.n == 1, "cut %zu: %d notes", cut, nt.n);
        } else {
            CPT_EQ_INT(got, 200);
        }
    }
    CPT_ASSERT(before > 0 && before < 200);
    free(b);
}

CPT_TEST(a_corrupt_chunk_is_skipped_with_a_note_naming_its_offset)
{
    const char *p = tmp("c.cprec");
    cpt_rec_conf conf = {.chunk_us = 1000000};
    write_stream(p, 100, &conf);
    size_t n, off[64];
    uint8_t *b = slurp(p, &n);
    int k = chunk_offsets(b, n, off, 64);
    CPT_ASSERT(k > 5);
    b[off[3] + 60] ^= 0x55; /* inside chunk 3's payload */
    spit(p, b, n);
    notes nt = {0};
    char err[300];
    cpt_rec_reader *r = cpt_rec_reader_open(p, on_note, &nt, err, sizeof err);
    cpt_rec_record rec;
    int total = 0;
    nt.n = 0;
    while (cpt_rec_reader_next(r, &rec) == 1)
        total++;
    cpt_rec_reader_close(r);
    CPT_EQ_INT(nt.n, 1);
    CPT_EQ_INT(nt.off[0], off[3]);
    CPT_ASSERTF(strstr(nt.text[0], "checksum"), "note: %s", nt.text[0]);
    CPT_ASSERT(total >= 100 - 10 && total < 100 + 10); /* one chunk (10 records + key) fewer */

    /* a broken header: the walk finds the next chunk */
    b[off[3] + 60] ^= 0x55;
    b[off[5] + 9] ^= 0xff;
    spit(p, b, n - 100); /* and no trailer: the headers are walked */
    nt.n = 0;
    r = cpt_rec_reader_open(p, on_note, &nt, err, sizeof err);
    CPT_ASSERT(r);
    while (cpt_rec_reader_next(r, &rec) == 1)
        ;
    cpt_rec_reader_close(r);
    CPT_ASSERT(nt.n >= 1);
    CPT_EQ_INT(nt.off[0], off[5]);
    CPT_ASSERTF(strstr(nt.text[0], "header"), "note: %s", nt.text[0]);
    free(b);
}

CPT_TEST(seek_lands_on_the_keyframe_before_the_target)
{
    const char *p = tmp("s.cprec");
    cpt_rec_conf conf = {.chunk_us = 2000000};
    write_stream(p, 600, &conf); /* 60 s */
    char err[300];
    cpt_rec_reader *r = cpt_rec_reader_open(p, NULL, NULL, err, sizeof err);
    CPT_ASSERT(r);
    for (int64_t t = T0 - 5000000; t < T0 + 65000000; t += 700000) {
        int64_t at = cpt_rec_reader_seek(r, t);
        CPT_ASSERT(at <= t || t < T0);
        CPT_ASSERT(t < T0 || t - at <= 2000000 || t > T0 + 59900000);
        cpt_rec_record rec;
        CPT_EQ_INT(cpt_rec_reader_next(r, &rec), 1);
        CPT_EQ_INT(rec.kind, CPT_REC_KEYFRAME);
        CPT_EQ_INT(rec.ts_us, at);
    }
    cpt_rec_reader_close(r);
}

CPT_TEST(a_recording_is_continued_and_its_cut_tail_dropped)
{
    const char *p = tmp("k.cprec");
    cpt_rec_conf conf = {.chunk_us = 2000000};
    write_stream(p, 100, &conf);
    /* a kill -9 in the middle of a chunk: garbage after the index */
    int fd = open(p, O_WRONLY | O_APPEND);
    CPT_ASSERT(fd >= 0 && write(fd, "CPRC\001garbage", 12) == 12);
    close(fd);
    char err[300], buf[200];
    cpt_rec_writer *w = cpt_rec_writer_new(p, &conf, err, sizeof err);
    CPT_ASSERTF(w, "%s", err);
    for (int i = 100; i < 150; i++) {
        cpt_rec_record r;
        make_record(i, &r, buf, sizeof buf);
        CPT_EQ_INT(cpt_rec_write(w, &r), CPT_REC_OK);
    }
    CPT_EQ_INT(cpt_rec_writer_close(w), CPT_REC_OK);
    notes nt = {0};
    CPT_EQ_INT(read_check(p, 0, &nt), 150);
    CPT_EQ_INT(nt.n, 0);

    /* never overwrites a file that is not a recording */
    const char *other = tmp("notes.txt");
    spit(other, (const uint8_t *)"my notes\n", 9);
    CPT_ASSERT(!cpt_rec_writer_new(other, NULL, err, sizeof err));
    CPT_ASSERTF(strstr(err, "will not overwrite"), "%s", err);
    size_t n;
    free(slurp(other, &n));
    CPT_EQ_INT(n, 9);
}

CPT_TEST(record_max_keeps_the_newest_in_two_files)
{
    const char *p = tmp("m.cprec");
    char old[600], err[300];
    snprintf(old, sizeof old, "%s.1", p);
    cpt_rec_conf conf = {.chunk_us = 1000000, .max_bytes = CPT_REC_MIN_MAX, .codec = -1};
    cpt_rec_writer *w = cpt_rec_writer_new(p, &conf, err, sizeof err);
    CPT_ASSERT(w);
    char *blob = malloc(10000);
    memset(blob, 'x', 10000);
    int n = 1000; /* 10 MB through a 1 MiB budget */
    for (int i = 0; i < n; i++) {
        snprintf(blob, 20, "%08d", i);
        cpt_rec_record r = {.kind = CPT_REC_AGENT, .ts_us = T0 + i * 100000LL, .data = blob,
                            .len = 10000};
        CPT_EQ_INT(cpt_rec_write(w, &r), CPT_REC_OK);
        CPT_EQ_INT(cpt_rec_writer_tick(w, r.ts_us), CPT_REC_OK);
    }
    CPT_EQ_INT(cpt_rec_writer_close(w), CPT_REC_OK);
    struct stat a, b;
    CPT_ASSERT(stat(p, &a) == 0 && stat(old, &b) == 0);
    CPT_ASSERTF(a.st_size + b.st_size <= CPT_REC_MIN_MAX + 20000, "%lld + %lld",
                (long long)a.st_size, (long long)b.st_size);
    cpt_rec_reader *r = cpt_rec_reader_open(p, NULL, NULL, err, sizeof err);
    CPT_ASSERT(r);
    cpt_rec_record rec;
    int got = 0, prev = -1;
    while (cpt_rec_reader_next(r, &rec) == 1) {
        int i = atoi(rec.data);
        CPT_ASSERTF(prev < 0 || i == prev + 1, "%d after %d", i, prev);
        prev = i;
        got++;
    }
    cpt_rec_reader_close(r);
    CPT_EQ_INT(prev, n - 1); /* the newest are kept, in order, across both files */
    CPT_ASSERT(got >= 45 && got < 110);
    free(blob);
}

CPT_TEST(a_historyserver_archive_imports_as_flink_records)
{
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__ + 1) : 0;
    snprintf(path, sizeof path, "%.*sfixtures/flink/historyserver-archive-flink1.15-checkpointing-off.json",
             dir, __FILE__);
    char err[300];
    cpt_rec_reader *r = cpt_rec_reader_open(path, NULL, NULL, err, sizeof err);
    CPT_ASSERTF(r, "%s", err);
    cpt_rec_record rec;
    int n = 0, checkpoints = 0;
    while (cpt_rec_reader_next(r, &rec) == 1) {
        CPT_EQ_INT(rec.kind, CPT_REC_FLINK);
        CPT_EQ_INT(rec.ts_us, 1669348702523000LL); /* the job's end-time */
        CPT_ASSERT(rec.path_len > 5 && rec.path[0] == '/');
        if (rec.path_len > 12 && !memcmp(rec.path + rec.path_len - 12, "/checkpoints", 12))
            checkpoints++;
        CPT_ASSERT(rec.len > 0 && rec.data[0] == '{');
        n++;
    }
    cpt_rec_reader_close(r);
    CPT_EQ_INT(n, 13);
    CPT_EQ_INT(checkpoints, 1);

    static const char *const bad[] = {
        "{\"archive\":{}}", "{\"archive\":[{\"path\":\"x\",\"json\":\"{}\"}]}",
        "{\"archive\":[{\"path\":\"/a\",\"json\":{}}]}", "{\"arch", "{}",
        "{\"archive\":[{\"path\":\"/a\\u0000b\",\"json\":\"{}\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = tmp("bad.json");
        spit(p, (const uint8_t *)bad[i], strlen(bad[i]));
        err[0] = 0;
        CPT_ASSERTF(!cpt_rec_reader_open(p, NULL, NULL, err, sizeof err), "%s", bad[i]);
        CPT_ASSERT(err[0]);
    }
}

CPT_TEST(hostile_files_are_refused_or_skipped_never_crash)
{
    const char *p = tmp("h.cprec");
    cpt_rec_conf conf = {.chunk_us = 1000000};
    write_stream(p, 50, &conf);
    size_t n;
    uint8_t *b = slurp(p, &n);
    srand(7);
    char err[300];
    for (int round = 0; round < 300; round++) {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        for (int k = 0; k < 1 + round % 8; k++)
            c[(size_t)rand() % n] = (uint8_t)rand();
        spit(p, c, n);
        notes nt = {0};
        cpt_rec_reader *r = cpt_rec_reader_open(p, on_note, &nt, err, sizeof err);
        if (r) {
            cpt_rec_record rec;
            int got = 0;
            while (cpt_rec_reader_next(r, &rec) == 1) {
                CPT_ASSERT(rec.kind > 0 && rec.kind < CPT_REC__COUNT);
                CPT_ASSERT(rec.len <= CPT_REC_MAX_RECORD);
                got++;
            }
            CPT_ASSERT(got <= 60);
            cpt_rec_reader_close(r);
        }
        free(c);
    }
    spit(p, (const uint8_t *)"hello", 5);
    CPT_ASSERT(!cpt_rec_reader_open(p, NULL, NULL, err, sizeof err));
    free(b);
}

CPT_TEST(replay_times_parse)
{
    int64_t ref = T0, now = T0 + 600000000LL, out;
    CPT_ASSERT(cpt_rec_parse_time("-5m", ref, now, &out));
    CPT_EQ_INT(out, now - 300000000LL);
    CPT_ASSERT(cpt_rec_parse_time("+30s", ref, now, &out));
    CPT_EQ_INT(out, now + 30000000LL);
    CPT_ASSERT(cpt_rec_parse_time("-1h", ref, now, &out));
    CPT_EQ_INT(out, now - 3600000000LL);
    CPT_ASSERT(cpt_rec_parse_time("@1700000100", ref, now, &out));
    CPT_EQ_INT(out, 1700000100000000LL);
    CPT_ASSERT(cpt_rec_parse_time("@1700000100.25", ref, now, &out));
    CPT_EQ_INT(out, 1700000100250000LL);
    CPT_ASSERT(cpt_rec_parse_time("@1700000100.123456789", ref, now, &out)); /* cut to µs */
    CPT_EQ_INT(out, 1700000100123456LL);
    /* a time of day: the first at or after the recording's start minute */
    time_t t = (time_t)(T0 / 1000000) + 180;
    struct tm tm;
    localtime_r(&t, &tm);
    char hm[16];
    snprintf(hm, sizeof hm, "%02d:%02d", tm.tm_hour, tm.tm_min);
    CPT_ASSERT(cpt_rec_parse_time(hm, ref, now, &out));
    CPT_EQ_INT(out / 60000000, (int64_t)t / 60);
    snprintf(hm, sizeof hm, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    CPT_ASSERT(cpt_rec_parse_time(hm, ref, now, &out));
    CPT_EQ_INT(out, (int64_t)t * 1000000);
    static const char *const bad[] = {"", "x", "25:00", "12:60", "-5y", "--5m", "@", "12:3x",
                                      "-", "2023-13-01T00:00", "@1.", "@.5", "@-1", "@1.5x",
                                      "@ 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CPT_ASSERTF(!cpt_rec_parse_time(bad[i], ref, now, &out), "'%s'", bad[i]);
}

/* Sets every chunk header's version byte to v (CRC made good again). */
static void set_versions(uint8_t *b, const size_t *off, int k, uint8_t v)
{
    for (int i = 0; i < k; i++) {
        uint8_t *h = b + off[i];
        h[4] = v;
        rec_put32(h + 44, rec_crc(h, 44));
    }
}

/* Version 2 added packed frames (kind 5): a file of version 1 chunks, as
 * cptop wrote before, still reads whole; a version from the future is
 * skipped with a note naming it. */
CPT_TEST(chunks_of_version_1_still_read_and_newer_ones_are_skipped)
{
    const char *p = tmp("v1.cprec");
    cpt_rec_conf conf = {.chunk_us = 2000000};
    write_stream(p, 100, &conf);
    size_t n, off[64];
    uint8_t *b = slurp(p, &n);
    CPT_EQ_INT(b[4], 2); /* what this build writes */
    int k = chunk_offsets(b, n, off, 64);
    CPT_ASSERT(k > 3);
    set_versions(b, off, k, 1);
    spit(p, b, n);
    notes nt = {0};
    CPT_EQ_INT(read_check(p, 0, &nt), 100);
    CPT_EQ_INT(nt.n, 0);
    set_versions(b, off + k - 2, 1, 3); /* the last chunk of records only */
    spit(p, b, n);
    nt.n = 0;
    int got = read_check(p, 0, &nt);
    CPT_ASSERTF(got > 50 && got < 100, "%d records", got);
    CPT_EQ_INT(nt.n, 1);
    CPT_ASSERTF(strstr(nt.text[0], "version") != NULL, "note: %s", nt.text[0]);
    free(b);
}

/* Moves the time range at t (u64 first, u64 last) back by d µs. */
static void shift_times(uint8_t *t, int64_t d)
{
    rec_put64(t, (uint64_t)((int64_t)rec_get64(t) - d));
    rec_put64(t + 8, (uint64_t)((int64_t)rec_get64(t + 8) - d));
}

/* The writer never goes back in time (a clock stepped back is clamped), so
 * a chunk that starts before the one before it ended is damage: the reader
 * skips it with a note, whether the chunk table comes from walking the
 * headers or from the index, and the range and seeks stay in order (a
 * fuzzed file once gave a range that ended before it began). */
CPT_TEST(a_chunk_earlier_than_the_one_before_is_skipped)
{
    const char *p = tmp("backwards.cprec");
    cpt_rec_conf conf = {.chunk_us = 2000000, .codec = -1};
    write_stream(p, 100, &conf);
    size_t n, off[64];
    uint8_t *b = slurp(p, &n);
    int k = chunk_offsets(b, n, off, 64);
    CPT_ASSERT(k >= 5);
    int victim = k - 2; /* the last chunk of records; off[k-1] is the index */
    shift_times(b + off[victim] + 8, 60000000);
    rec_put32(b + off[victim] + 44, rec_crc(b + off[victim], 44));
    for (int with_index = 0; with_index < 2; with_index++) {
        if (with_index) {
            /* the index's entry for it goes back too (plain codec) */
            uint8_t *ih = b + off[k - 1];
            shift_times(ih + 48 + (size_t)victim * 32 + 8, 60000000); /* off, first, last */
            uint32_t len = rec_get32(ih + 32);
            rec_put32(ih + 36, rec_crc(ih + 48, len));
            rec_put32(ih + 44, rec_crc(ih, 44));
        }
        spit(p, b, with_index ? n : off[k - 1]);
        notes nt = {0};
        int got = read_check(p, 0, &nt);
        CPT_ASSERTF(got > 50 && got < 100, "%d records", got);
        CPT_ASSERTF(nt.n == 1, "with_index %d: %d notes: %s; %s", with_index, nt.n, nt.text[0],
                    nt.text[1]);
        CPT_ASSERTF(strstr(nt.text[0], "earlier") != NULL, "note: %s", nt.text[0]);
        CPT_EQ_INT(nt.off[0], off[victim]);
        char err[300];
        cpt_rec_reader *r = cpt_rec_reader_open(p, NULL, NULL, err, sizeof err);
        CPT_ASSERTF(r, "%s", err);
        int64_t a, z;
        cpt_rec_reader_range(r, &a, &z);
        CPT_EQ_INT(a, T0);
        CPT_ASSERTF(z > a && z < T0 + 100 * 100000, "range %lld..%lld", (long long)a,
                    (long long)z);
        cpt_rec_reader_close(r);
    }
    free(b);
}
