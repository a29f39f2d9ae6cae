/* cpt_golden.c — see cpt_golden.h. */
#include "cpt_golden.h"
#include "cpt_test.h"

#include <errno.h>

static void golden_path(char *out, size_t n, const char *name)
{
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 0;
    snprintf(out, n, "%.*s%sgolden/%s.txt", dir, file, dir ? "/" : "", name);
}

/* The line number where a and b first differ (1-based). */
static int first_diff_line(const char *a, const char *b)
{
    int line = 1;
    while (*a && *a == *b) {
        if (*a == '\n')
            line++;
        a++, b++;
    }
    return line;
}

void cpt_golden_check(const char *name, const cpt_frame *f)
{
    char path[512];
    golden_path(path, sizeof path, name);
    char *got = cpt_frame_text(f);
    CPT_ASSERT(got);
    if (getenv("CPT_UPDATE_GOLDEN")) {
        FILE *o = fopen(path, "w");
        CPT_ASSERTF(o, "cannot write %s: %s", path, strerror(errno));
        fputs(got, o);
        fclose(o);
        free(got);
        return;
    }
    FILE *in = fopen(path, "r");
    CPT_ASSERTF(in, "missing golden %s (CPT_UPDATE_GOLDEN=1 creates it)", path);
    static char want[1 << 20];
    size_t n = fread(want, 1, sizeof want - 1, in);
    fclose(in);
    want[n] = 0;
    if (strcmp(got, want)) {
        char keep[512];
        snprintf(keep, sizeof keep, "/tmp/cpt-golden-%s.txt", name);
        FILE *o = fopen(keep, "w");
        if (o) {
            fputs(got, o);
            fclose(o);
        }
        cpt_fail_at(__FILE__, __LINE__, "frame %s differs from %s at line %d (got %s; diff the two)",
                    name, path, first_diff_line(got, want), keep);
    }
    free(got);
}
