/*
 * fuzz_rec.c — the recording reader (tui/cpt_rec_read.c) on hostile files:
 * the input is written to a memory file and opened as a recording (or, when
 * it starts with '{', a HistoryServer archive), every record read, a few
 * seeks made; every record must stay within the format's bounds and come
 * in time order. The time parser gets the input as a string too.
 */
#include "fuzz_check.h"
#include "cpt_rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>


static volatile uint64_t sink;

static void note(void *opaque, const char *file, uint64_t offset, const char *text)
{
    (void)opaque;
    sink += offset + strlen(file) + strlen(text);
}

static void read_all(cpt_rec_reader *r)
{
    cpt_rec_record rec;
    int64_t prev = INT64_MIN;
    while (cpt_rec_reader_next(r, &rec) == 1) {
        FZ_CHECK(rec.kind > 0 && rec.kind < CPT_REC__COUNT);
        FZ_CHECK(rec.len <= CPT_REC_MAX_RECORD);
        FZ_CHECK((rec.kind == CPT_REC_FLINK) == (rec.path != NULL));
        FZ_CHECK(rec.path_len <= CPT_REC_MAX_PATH);
        for (size_t i = 0; i < rec.len; i++)
            sink += (uint8_t)rec.data[i];
        for (size_t i = 0; i < rec.path_len; i++)
            sink += (uint8_t)rec.path[i];
        FZ_CHECK(rec.ts_us >= prev); /* records come in time order */
        prev = rec.ts_us;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_rec", 0);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char path[64], err[300];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    cpt_rec_reader *r = cpt_rec_reader_open(path, note, NULL, err, sizeof err);
    if (r) {
        read_all(r);
        int64_t a, b;
        cpt_rec_reader_range(r, &a, &b);
        FZ_CHECK(a <= b);
        int64_t targets[3] = {a, a + (b - a) / 2, b};
        for (int i = 0; i < 3; i++) {
            int64_t at = cpt_rec_reader_seek(r, targets[i]);
            sink += (uint64_t)at;
            read_all(r);
        }
        cpt_rec_reader_close(r);
    } else {
        FZ_CHECK(err[0]);
    }
    close(fd);
    char s[64];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = 0;
    int64_t out;
    if (cpt_rec_parse_time(s, 1700000000000000LL, 1700000600000000LL, &out))
        sink += (uint64_t)out;
    return 0;
}
