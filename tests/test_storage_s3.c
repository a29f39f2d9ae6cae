/* test_storage_s3.c — the S3 backend of the checkpoint storage against a
 * real S3 server: s3rver (tests/s3, installed by scripts/deps.sh), one per
 * test on 127.0.0.1, a free port and the test's own directory, killed by pid
 * at the end (and by the kernel if the test dies first: PR_SET_PDEATHSIG).
 *
 * s3rver runs with --allow-mismatched-signatures: it checks libs3's AWS
 * signature version 2 wrongly when x-amz-date is sent (every libs3 request),
 * so without the flag every request fails SignatureDoesNotMatch — which the
 * secrets test uses to get a server error full of signature details. */
#include "cpd_config.h"
#include "cpd_storage.h"
#include "cpt_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOB "job-1"
#define BUCKET "cpt-bucket"
#define ACCESS "S3RVER"          /* the only key id s3rver knows */
#define SECRET "cpt-secret-Xq7vR2mN9pL4"

static char err[2048];
static char note[4096];

/* ------------------------------------------------------------------ s3rver */

typedef struct s3srv {
    pid_t pid;
    int port;
    char dir[512];
    char endpoint[64];
} s3srv;

static const char *s3rver_bin(void)
{
    const char *b = getenv("CPT_S3RVER");
    return b && b[0] ? b : "tests/s3/node_modules/.bin/s3rver";
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Starts s3rver on srv->port (a free one when 0) with its data in srv->dir
 * (the test's own when empty) and the bucket created; waits until it answers. */
static void s3_start(s3srv *srv, bool strict_signatures)
{
    CPT_ASSERTF(access(s3rver_bin(), X_OK) == 0,
                "%s is missing: run scripts/deps.sh (npm ci in tests/s3)", s3rver_bin());
    if (!srv->port)
        srv->port = cpt_free_port_pair();
    CPT_ASSERT(srv->port > 0);
    if (!srv->dir[0])
        snprintf(srv->dir, sizeof srv->dir, "%s/s3data", cpt_tmpdir());
    mkdir(srv->dir, 0700);
    snprintf(srv->endpoint, sizeof srv->endpoint, "http://127.0.0.1:%d", srv->port);
    char port[16], log[600];
    snprintf(port, sizeof port, "%d", srv->port);
    snprintf(log, sizeof log, "%s/s3rver.log", cpt_tmpdir());
    pid_t pid = fork();
    CPT_ASSERT(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        const char *argv[16];
        int k = 0;
        argv[k++] = s3rver_bin();
        argv[k++] = "--directory";
        argv[k++] = srv->dir;
        argv[k++] = "--address";
        argv[k++] = "127.0.0.1";
        argv[k++] = "--port";
        argv[k++] = port;
        argv[k++] = "--silent";
        argv[k++] = "--no-vhost-buckets";
        argv[k++] = "--configure-bucket";
        argv[k++] = BUCKET;
        if (!strict_signatures)
            argv[k++] = "--allow-mismatched-signatures";
        argv[k] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    srv->pid = pid;
    char bdir[600];
    snprintf(bdir, sizeof bdir, "%s/%s", srv->dir, BUCKET);
    for (int i = 0; i < 300; i++) {
        if (port_open(srv->port) && exists(bdir))
            return;
        int st;
        CPT_ASSERTF(waitpid(pid, &st, WNOHANG) == 0, "s3rver exited at start (see %s)", log);
        usleep(50000);
    }
    CPT_ASSERTF(false, "s3rver did not start on port %d within 15 s", srv->port);
}

static void s3_stop(s3srv *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGKILL);
        while (waitpid(srv->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    srv->pid = 0;
}

static cpd_storage_s3_opts opts_for(const s3srv *srv)
{
    return (cpd_storage_s3_opts){.endpoint = srv->endpoint, .access_key = ACCESS,
                                 .secret_key = SECRET, .path_style = 1};
}

static cpd_storage *open_s3(const char *uri, const cpd_storage_s3_opts *o)
{
    cpd_storage *st = cpd_storage_open_ex(uri, JOB, o, err, sizeof err);
    CPT_ASSERTF(st, "open %s: %s", uri, err);
    return st;
}

/* s3rver keeps object K of the bucket as <dir>/<bucket>/K._S3rver_object */
static bool object_exists(const s3srv *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool object_exists(const s3srv *srv, const char *fmt, ...)
{
    char key[512], path[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/%s/%s._S3rver_object", srv->dir, BUCKET, key);
    return exists(path);
}

/* Counts objects under <bucket>/<rel> on s3rver's disk. */
static int objects_under(const s3srv *srv, const char *rel)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "find '%s/%s/%s' -name '*._S3rver_object' 2>/dev/null | wc -l",
             srv->dir, BUCKET, rel);
    FILE *p = popen(cmd, "r");
    CPT_ASSERT(p);
    int n = -1;
    if (fscanf(p, "%d", &n) != 1)
        n = -1;
    pclose(p);
    return n;
}

#define CPT_CONTAINS(hay, needle)                                                        \
    CPT_ASSERTF(strstr((hay), (needle)) != NULL, "\"%s\" does not contain \"%s\"", (hay), \
                (needle))
#define CPT_LACKS(hay, needle)                                                           \
    CPT_ASSERTF(strstr((hay), (needle)) == NULL, "\"%s\" contains \"%s\"", (hay), (needle))

static void unset_s3_env(void)
{
    const char *v[] = {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_HOSTNAME",
                       "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_ACCESS_KEY_ID",
                       "S3_SECRET_ACCESS_KEY", "S3_URI_STYLE"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        unsetenv(v[i]);
}

static void write_state(cpd_storage *st, int64_t cp, int op, int sub, const char *text,
                        cpd_metadata *md)
{
    cpd_state_handle h;
    cpd_st_rc rc = cpd_storage_write_state(st, cp, op, sub, text, strlen(text), &h, err,
                                           sizeof err);
    CPT_ASSERTF(rc == CPD_ST_OK, "write chk-%lld op%d-sub%d: %s (%s)", (long long)cp, op, sub,
                cpd_st_rc_name(rc), err);
    if (md)
        CPT_EQ_INT(cpd_metadata_add_state(md, &h), CPD_ST_OK);
}

/* A checkpoint with n states "cp<cp>/op<O>/sub<S>" and one offset. */
static void checkpoint(cpd_storage *st, int64_t cp, int n)
{
    cpd_metadata *md = cpd_metadata_new();
    for (int i = 0; i < n; i++) {
        char text[64];
        snprintf(text, sizeof text, "cp%lld/op1/sub%d", (long long)cp, i);
        write_state(st, cp, 1, i, text, md);
    }
    CPT_EQ_INT(cpd_metadata_add_int(md, "offset.0", cp * 100), CPD_ST_OK);
    cpd_st_rc rc = cpd_storage_commit(st, cp, md, err, sizeof err);
    CPT_ASSERTF(rc == CPD_ST_OK, "commit chk-%lld: %s", (long long)cp, err);
    cpd_metadata_free(md);
}

/* ------------------------------------------------------------------ tests */

CPT_TEST_T(checkpoint_restore_retain, 90)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, false);
    cpd_storage_s3_opts o = opts_for(&srv);
    cpd_storage *st = open_s3("s3://" BUCKET "/flink/checkpoints/", &o);
    CPT_EQ_STR(cpd_storage_location(st), "s3://" BUCKET "/flink/checkpoints/" JOB);
    CPT_EQ_INT(objects_under(&srv, ""), 0);      /* the probe is gone */

    /* nothing yet */
    cpd_metadata *md = NULL;
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err),
               CPD_ST_NOT_FOUND);

    checkpoint(st, 1, 3);
    CPT_ASSERT(object_exists(&srv, "flink/checkpoints/" JOB "/chk-1/_metadata"));
    CPT_ASSERT(object_exists(&srv, "flink/checkpoints/" JOB "/chk-1/op1-sub2.state"));
    checkpoint(st, 2, 3);

    /* a checkpoint without _metadata (in flight when the job died) is skipped */
    write_state(st, 3, 1, 0, "half", NULL);
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(md->checkpoint_id, 2);
    CPT_CONTAINS(note, "chk-3 skipped: no _metadata");
    CPT_CONTAINS(note, "restored from chk-2");
    CPT_EQ_INT(md->n_states, 3);
    CPT_EQ_INT(cpd_metadata_find_extra(md, "offset.0")->i, 200);
    void *data = NULL;
    size_t len = 0;
    CPT_EQ_INT(cpd_storage_read_state(st, md, 1, 1, &data, &len, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(len, strlen("cp2/op1/sub1"));
    CPT_ASSERT(memcmp(data, "cp2/op1/sub1", len) == 0);
    free(data);
    cpd_metadata_free(md);

    /* an empty state and a 3 MiB one round-trip */
    size_t big = 3u << 20;
    char *buf = malloc(big);
    for (size_t i = 0; i < big; i++)
        buf[i] = (char)(i * 131 + (i >> 9));
    md = cpd_metadata_new();
    cpd_state_handle h;
    CPT_EQ_INT(cpd_storage_write_state(st, 4, 0, 0, NULL, 0, &h, err, sizeof err), CPD_ST_OK);
    cpd_metadata_add_state(md, &h);
    CPT_EQ_INT(cpd_storage_write_state(st, 4, 0, 1, buf, big, &h, err, sizeof err), CPD_ST_OK);
    cpd_metadata_add_state(md, &h);
    CPT_ASSERTF(cpd_storage_commit(st, 4, md, err, sizeof err) == CPD_ST_OK, "%s", err);
    cpd_metadata_free(md);
    CPT_ASSERTF(cpd_storage_load(st, 4, &md, err, sizeof err) == CPD_ST_OK, "%s", err);
    CPT_EQ_INT(cpd_storage_read_state(st, md, 0, 0, &data, &len, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(len, 0);
    free(data);
    CPT_EQ_INT(cpd_storage_read_state(st, md, 0, 1, &data, &len, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(len, big);
    CPT_ASSERT(memcmp(data, buf, big) == 0);
    free(data);
    free(buf);
    cpd_metadata_free(md);

    /* retention: keep the newest 2 valid (4, 2); 1 and the stale 3 go */
    CPT_ASSERTF(cpd_storage_retain(st, 2, err, sizeof err) == CPD_ST_OK, "%s", err);
    CPT_EQ_INT(objects_under(&srv, "flink/checkpoints/" JOB "/chk-1"), 0);
    CPT_EQ_INT(objects_under(&srv, "flink/checkpoints/" JOB "/chk-3"), 0);
    CPT_EQ_INT(objects_under(&srv, "flink/checkpoints/" JOB "/chk-2"), 4);
    CPT_EQ_INT(objects_under(&srv, "flink/checkpoints/" JOB "/chk-4"), 3);
    CPT_EQ_INT(cpd_storage_load(st, 1, &md, err, sizeof err), CPD_ST_NOT_FOUND);

    /* a commit whose states are gone (discarded) fails, naming it */
    md = cpd_metadata_new();
    write_state(st, 5, 1, 0, "x", md);
    CPT_EQ_INT(cpd_storage_discard(st, 5, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_commit(st, 5, md, err, sizeof err), CPD_ST_CORRUPT);
    CPT_CONTAINS(err, "chk-5");
    cpd_metadata_free(md);
    /* a corrupted object is caught by the checksum and skipped */
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/flink/checkpoints/%s/chk-4/op0-sub1.state._S3rver_object",
             srv.dir, BUCKET, JOB);
    int fd = open(path, O_WRONLY);
    CPT_ASSERT(fd >= 0);
    CPT_EQ_INT(pwrite(fd, "!", 1, 1000), 1);
    close(fd);
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(md->checkpoint_id, 2);
    CPT_CONTAINS(note, "chk-4 skipped: state op0-sub1.state checksum mismatch");
    cpd_metadata_free(md);
    cpd_storage_close(st);

    /* a second storage for another job in the same place sees none of it */
    st = cpd_storage_open_ex("s3://" BUCKET "/flink/checkpoints", "other-job", &o, err,
                             sizeof err);
    CPT_ASSERTF(st, "%s", err);
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err),
               CPD_ST_NOT_FOUND);
    cpd_storage_close(st);
    /* and a bucket-level storage (no prefix) works as well */
    st = open_s3("s3://" BUCKET, &o);
    checkpoint(st, 9, 1);
    CPT_ASSERT(object_exists(&srv, JOB "/chk-9/_metadata"));
    cpd_storage_close(st);
    s3_stop(&srv);
}

/* More keys than one list page, at both levels: a checkpoint of 230 states
 * listed 50 at a time (with the delimiter: NextMarker), removed the same way
 * (without it: the last key is the marker), and 60 checkpoints found and
 * retired through pages of 7. */
CPT_TEST_T(pagination, 120)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, false);
    cpd_storage_s3_opts o = opts_for(&srv);
    o.list_page = 50;
    cpd_storage *st = open_s3("s3://" BUCKET "/p", &o);
    checkpoint(st, 1, 230);             /* the commit lists chk-1: 5 pages */
    CPT_EQ_INT(objects_under(&srv, "p/" JOB "/chk-1"), 231);
    cpd_metadata *md = NULL;
    CPT_ASSERTF(cpd_storage_load(st, 1, &md, err, sizeof err) == CPD_ST_OK, "%s", err);
    CPT_EQ_INT(md->n_states, 230);
    cpd_metadata_free(md);
    CPT_EQ_INT(cpd_storage_discard(st, 1, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(objects_under(&srv, "p/" JOB "/chk-1"), 0);
    cpd_storage_close(st);

    o.list_page = 7;
    st = open_s3("s3://" BUCKET "/p", &o);
    for (int cp = 1; cp <= 60; cp++)
        checkpoint(st, cp, cp % 3 == 0 ? 1 : 0);
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(md->checkpoint_id, 60);
    cpd_metadata_free(md);
    CPT_EQ_INT(cpd_storage_latest(st, 9, &md, note, sizeof note, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(md->checkpoint_id, 9);
    cpd_metadata_free(md);
    CPT_ASSERTF(cpd_storage_retain(st, 3, err, sizeof err) == CPD_ST_OK, "%s", err);
    CPT_EQ_INT(objects_under(&srv, "p/" JOB), 3 + 1); /* 58, 59, 60 (+ 60's state) */
    CPT_ASSERT(object_exists(&srv, "p/" JOB "/chk-58/_metadata"));
    cpd_storage_close(st);
    s3_stop(&srv);
}

typedef struct writer {
    cpd_storage *st;
    int sub;
    cpd_state_handle h;
    cpd_st_rc rc;
    char err[512];
} writer;

static void *write_one(void *arg)
{
    writer *w = arg;
    char text[4096];
    memset(text, 'a' + w->sub, sizeof text);
    w->rc = cpd_storage_write_state(w->st, 7, 2, w->sub, text, sizeof text, &w->h, w->err,
                                    sizeof w->err);
    return NULL;
}

CPT_TEST_T(concurrent_writers, 60)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, false);
    cpd_storage_s3_opts o = opts_for(&srv);
    cpd_storage *st = open_s3("s3://" BUCKET "/c", &o);
    enum { N = 12 };
    writer w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (writer){.st = st, .sub = i};
        CPT_EQ_INT(pthread_create(&th[i], NULL, write_one, &w[i]), 0);
    }
    cpd_metadata *md = cpd_metadata_new();
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CPT_ASSERTF(w[i].rc == CPD_ST_OK, "writer %d: %s", i, w[i].err);
        cpd_metadata_add_state(md, &w[i].h);
    }
    CPT_ASSERTF(cpd_storage_commit(st, 7, md, err, sizeof err) == CPD_ST_OK, "%s", err);
    cpd_metadata_free(md);
    CPT_ASSERTF(cpd_storage_load(st, 7, &md, err, sizeof err) == CPD_ST_OK, "%s", err);
    CPT_EQ_INT(md->n_states, N);
    cpd_metadata_free(md);
    cpd_storage_close(st);
    s3_stop(&srv);
}

CPT_TEST_T(injected_failures_and_delay, 60)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, false);
    cpd_storage_s3_opts o = opts_for(&srv);
    cpd_storage *st = open_s3("s3://" BUCKET "/i", &o);
    cpd_storage_fail_next(st, 2);
    CPT_EQ_INT(cpd_storage_failures_pending(st), 2);
    cpd_state_handle h;
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 0, "abc", 3, &h, err, sizeof err),
               CPD_ST_INJECTED);
    CPT_CONTAINS(err, "injected failure: write of s3://" BUCKET "/i/" JOB "/chk-1/op0-sub0.state");
    /* a commit counts as a write too */
    cpd_metadata *md = cpd_metadata_new();
    CPT_EQ_INT(cpd_storage_commit(st, 1, md, err, sizeof err), CPD_ST_INJECTED);
    CPT_EQ_INT(cpd_storage_failures_pending(st), 0);
    cpd_metadata_free(md);
    /* nothing visible, no temporary left behind */
    CPT_EQ_INT(objects_under(&srv, "i"), 0);
    CPT_EQ_INT(cpd_storage_load(st, 1, &md, err, sizeof err), CPD_ST_NOT_FOUND);
    /* the next write works */
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 0, "abc", 3, &h, err, sizeof err), CPD_ST_OK);
    /* slow storage: every write waits first */
    cpd_storage_set_delay_ms(st, 300);
    int64_t t0 = cpt_now_ms();
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 1, "abc", 3, &h, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(cpt_now_ms() - t0 >= 300);
    cpd_storage_close(st);
    s3_stop(&srv);
}

/* The server goes away: writes fail after the bounded retries, naming the
 * bucket, key and libs3's status; it comes back on the same port and
 * directory: writes work again, and what was written before is still there. */
CPT_TEST_T(outage_retries_and_recovery, 90)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, false);
    cpd_storage_s3_opts o = opts_for(&srv);
    cpd_storage *st = open_s3("s3://" BUCKET "/o", &o);
    checkpoint(st, 1, 2);
    s3_stop(&srv);

    cpd_state_handle h;
    int64_t t0 = cpt_now_ms();
    CPT_EQ_INT(cpd_storage_write_state(st, 2, 0, 0, "abc", 3, &h, err, sizeof err), CPD_ST_IO);
    int64_t took = cpt_now_ms() - t0;
    CPT_CONTAINS(err, "S3 PUT s3://" BUCKET "/o/" JOB "/chk-2/op0-sub0.state failed after 4 attempts");
    CPT_CONTAINS(err, "FailedToConnect");
    CPT_CONTAINS(err, srv.endpoint);
    /* 100 + 200 + 400 ms of backoff, and no endless retrying */
    CPT_ASSERTF(took >= 650 && took < 5000, "4 attempts took %lld ms", (long long)took);
    /* reads fail as errors, never as "not found": restore must not fall back */
    cpd_metadata *md = NULL;
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err), CPD_ST_IO);
    CPT_CONTAINS(err, "S3 LIST prefix");
    CPT_EQ_INT(cpd_storage_retain(st, 1, err, sizeof err), CPD_ST_IO);
    /* a new storage cannot open while it is down: the probe says why */
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/o", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "is not writable");
    CPT_CONTAINS(err, "FailedToConnect");

    s3_start(&srv, false);              /* same port, same directory */
    CPT_EQ_INT(cpd_storage_write_state(st, 2, 0, 0, "abc", 3, &h, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(md->checkpoint_id, 1);
    cpd_metadata_free(md);
    cpd_storage_close(st);
    s3_stop(&srv);
}

/* A relay in front of s3rver that drops the first `drop` connections after
 * reading part of the request (a server dying mid-upload), then passes
 * everything through. */
typedef struct relay {
    int lfd, target_port;
    atomic_int drop, accepted;
    pthread_t th;
} relay;

static void relay_pipe(int a, int b)
{
    char buf[16384];
    struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, 5000) <= 0)
            return;
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0)
                return;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(p[1 - i].fd, buf + off, (size_t)(n - off));
                if (w <= 0)
                    return;
                off += w;
            }
        }
    }
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    for (;;) {
        int c = accept(r->lfd, NULL, NULL);
        if (c < 0)
            return NULL;
        int k = atomic_fetch_add(&r->accepted, 1);
        if (k < atomic_load(&r->drop)) {
            char buf[64];
            if (read(c, buf, sizeof buf) < 0) { /* part of the request, then gone */
            }
            struct linger lg = {1, 0};  /* a reset, as a killed server leaves */
            setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(c);
            continue;
        }
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->target_port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            relay_pipe(c, s);
        if (s >= 0)
            close(s);
        close(c);
    }
}

static int relay_start(relay *r, int target_port, int drop)
{
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    CPT_ASSERT(r->lfd >= 0 && bind(r->lfd, (struct sockaddr *)&a, sizeof a) == 0 &&
               listen(r->lfd, 16) == 0 && getsockname(r->lfd, (struct sockaddr *)&a, &l) == 0);
    r->target_port = target_port;
    atomic_init(&r->drop, drop);
    atomic_init(&r->accepted, 0);
    CPT_EQ_INT(pthread_create(&r->th, NULL, relay_main, r), 0);
    return ntohs(a.sin_port);
}

/* Connections lost mid-request are retried: two dropped, the third attempt
 * gets through; four dropped in a row fail the write, after four attempts. */
CPT_TEST_T(dropped_connections_are_retried, 60)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, false);
    relay r = {0};
    int port = relay_start(&r, srv.port, 0);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    cpd_storage_s3_opts o = opts_for(&srv);
    o.endpoint = ep;
    cpd_storage *st = open_s3("s3://" BUCKET "/d", &o);
    char big[200000];
    memset(big, 'z', sizeof big);
    cpd_state_handle h;
    atomic_store(&r.accepted, 0);
    atomic_store(&r.drop, 2);
    CPT_ASSERTF(cpd_storage_write_state(st, 1, 0, 0, big, sizeof big, &h, err, sizeof err) ==
                    CPD_ST_OK, "%s", err);
    CPT_EQ_INT(atomic_load(&r.accepted), 3);
    CPT_ASSERT(object_exists(&srv, "d/" JOB "/chk-1/op0-sub0.state"));
    atomic_store(&r.accepted, 0);
    atomic_store(&r.drop, 1000);
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 1, big, sizeof big, &h, err, sizeof err),
               CPD_ST_IO);
    CPT_EQ_INT(atomic_load(&r.accepted), 4);
    CPT_CONTAINS(err, "S3 PUT s3://" BUCKET "/d/" JOB "/chk-1/op0-sub1.state failed after 4 attempts");
    cpd_storage_close(st);
    shutdown(r.lfd, SHUT_RDWR);
    close(r.lfd);
    pthread_join(r.th, NULL);
    s3_stop(&srv);
}

/* An endpoint that accepts the connection and never answers costs one
 * timeout per attempt, not a hung thread. */
CPT_TEST_T(silent_endpoint_times_out, 60)
{
    unset_s3_env();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    CPT_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
               listen(fd, 16) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(a.sin_port));
    cpd_storage_s3_opts o = {.endpoint = ep, .access_key = ACCESS, .secret_key = SECRET,
                             .max_attempts = 2, .backoff_ms = 50, .timeout_ms = 300};
    int64_t t0 = cpt_now_ms();
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/t", JOB, &o, err, sizeof err) == NULL);
    int64_t took = cpt_now_ms() - t0;
    CPT_CONTAINS(err, "failed after 2 attempts");
    CPT_CONTAINS(err, "no answer within 300 ms");
    CPT_ASSERTF(took >= 600 && took < 3000, "2 attempts of 300 ms took %lld ms",
                (long long)took);
    close(fd);
}

CPT_TEST_T(settings_from_env_and_config, 60)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, false);
    char wrong[64];
    snprintf(wrong, sizeof wrong, "http://127.0.0.1:%d", srv.port + 1);

    /* everything from the environment */
    setenv("AWS_ENDPOINT_URL", srv.endpoint, 1);
    setenv("AWS_ACCESS_KEY_ID", ACCESS, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    cpd_storage *st = cpd_storage_open("s3://" BUCKET "/e", JOB, err, sizeof err);
    CPT_ASSERTF(st, "from the environment: %s", err);
    checkpoint(st, 1, 1);
    cpd_storage_close(st);
    /* S3_HOSTNAME with a scheme, libs3's own credential names */
    unset_s3_env();
    setenv("S3_HOSTNAME", srv.endpoint, 1);
    setenv("S3_ACCESS_KEY_ID", ACCESS, 1);
    setenv("S3_SECRET_ACCESS_KEY", SECRET, 1);
    st = cpd_storage_open("s3://" BUCKET "/e", JOB, err, sizeof err);
    CPT_ASSERTF(st, "S3_HOSTNAME: %s", err);
    cpd_storage_close(st);

    /* the configuration wins over the environment */
    setenv("AWS_ENDPOINT_URL", wrong, 1);
    setenv("AWS_ACCESS_KEY_ID", "x", 1);
    cpd_storage_s3_opts o = opts_for(&srv);
    st = cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err);
    CPT_ASSERTF(st, "config over env: %s", err);
    cpd_storage_close(st);
    unset_s3_env();
    setenv("AWS_ENDPOINT_URL", srv.endpoint, 1);
    o.endpoint = wrong;
    o.max_attempts = 1;
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, wrong);
    CPT_LACKS(err, SECRET);

    /* refused settings, each named */
    unset_s3_env();
    o = opts_for(&srv);
    o.secret_key = NULL;
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "s3.access-key is set without s3.secret-key");
    o = (cpd_storage_s3_opts){.endpoint = srv.endpoint};
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "no S3 credentials");
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID");
    CPT_LACKS(err, SECRET);
    unset_s3_env();
    o = opts_for(&srv);
    setenv("S3_URI_STYLE", "sideways", 1);
    o.path_style = 0;
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "S3_URI_STYLE");
    unset_s3_env();
    o = opts_for(&srv);
    o.endpoint = "ftp://127.0.0.1:1";
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "s3.endpoint: the S3 endpoint must be");
    o.endpoint = "http://user:" SECRET "@127.0.0.1:1";
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/e", JOB, &o, err, sizeof err) == NULL);
    CPT_LACKS(err, SECRET);
    o = opts_for(&srv);
    CPT_ASSERT(cpd_storage_open_ex("s3://" ACCESS ":" SECRET "@" BUCKET "/e", JOB, &o, err,
                                   sizeof err) == NULL);
    CPT_CONTAINS(err, "credentials in an s3:// URI are not accepted");
    CPT_LACKS(err, SECRET);
    const char *bad[] = {"s3://", "s3:///x", "s3://Bad_Bucket!/x", "s3://ab/x",
                         "s3://" BUCKET "/../x", "s3://" BUCKET "/a b", "s3://" BUCKET "/x?y=1",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        CPT_ASSERTF(cpd_storage_open_ex(bad[i], JOB, &o, err, sizeof err) == NULL,
                    "'%s' accepted", bad[i]);
        CPT_ASSERTF(strstr(err, "storage URI"), "'%s': %s", bad[i], err);
    }
    /* virtual-host style is the default for AWS's own endpoint; a bucket
     * with '_' is only valid in path style */
    o = (cpd_storage_s3_opts){.access_key = ACCESS, .secret_key = SECRET, .max_attempts = 1};
    CPT_ASSERT(cpd_storage_open_ex("s3://a_b/x", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "not valid for virtual-host-style addressing");
    /* no such bucket: the server's words, named */
    o = opts_for(&srv);
    CPT_ASSERT(cpd_storage_open_ex("s3://no-such-bucket/x", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "s3://no-such-bucket/x/" JOB " is not writable");
    CPT_CONTAINS(err, "NoSuchBucket");
    s3_stop(&srv);
}

/* A server that rejects the signature answers with details derived from the
 * credentials (StringToSign, SignatureProvided, AWSAccessKeyId): the error
 * names the status, never the keys. */
CPT_TEST_T(secrets_never_in_messages, 60)
{
    unset_s3_env();
    s3srv srv = {0};
    s3_start(&srv, true);
    cpd_storage_s3_opts o = opts_for(&srv);
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/s", JOB, &o, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "SignatureDoesNotMatch");
    CPT_LACKS(err, SECRET);
    CPT_LACKS(err, ACCESS);
    CPT_LACKS(err, "StringToSign");
    CPT_LACKS(err, "SignatureProvided");
    s3_stop(&srv);
    /* and with the server gone */
    o.max_attempts = 1;
    CPT_ASSERT(cpd_storage_open_ex("s3://" BUCKET "/s", JOB, &o, err, sizeof err) == NULL);
    CPT_LACKS(err, SECRET);
}

/* The job's configuration carries Flink's s3.* keys; the secret is never
 * echoed, even in the error about a bad value. */
CPT_TEST(config_keys)
{
    cpd_config c;
    char errs[2048], warns[2048];
    cpd_config_defaults(&c);
    CPT_EQ_INT(c.s3_path_style, 0);
    /* a bucket name valid for both styles: the load checks it for the one
     * the configuration picks (path.style.access false: virtual host) */
    const char *good = "{\"execution.checkpointing.storage\": \"s3://ckpt/p\","
                       " \"s3.endpoint\": \"http://127.0.0.1:4568\","
                       " \"s3.access-key\": \"AK\", \"s3.secret-key\": \"" SECRET "\","
                       " \"s3.path.style.access\": \"false\"}";
    CPT_EQ_INT(cpd_config_parse(good, strlen(good), "t.json", &c, errs, sizeof errs, warns,
                                sizeof warns, 0), 0);
    CPT_EQ_STR(c.s3_endpoint, "http://127.0.0.1:4568");
    CPT_EQ_STR(c.s3_access_key, "AK");
    CPT_EQ_STR(c.s3_secret_key, SECRET);
    CPT_EQ_INT(c.s3_path_style, -1);
    CPT_EQ_STR(warns, "");
    cpd_config_defaults(&c);
    const char *alias = "{\"execution.checkpointing.storage\": \"s3://ckpt/p\","
                        " \"s3.access.key\": \"AK\", \"s3.secret.key\": \"S\","
                        " \"s3.path.style.access\": true}";
    CPT_EQ_INT(cpd_config_parse(alias, strlen(alias), "t.json", &c, errs, sizeof errs, warns,
                                sizeof warns, 0), 0);
    CPT_EQ_STR(c.s3_access_key, "AK");
    CPT_EQ_INT(c.s3_path_style, 1);
    /* a bucket name virtual-host addressing cannot carry: refused at load, as
     * opening would refuse it, before anything is created */
    cpd_config_defaults(&c);
    const char *vhost = "{\"execution.checkpointing.storage\": \"s3://b/p\","
                        " \"s3.path.style.access\": false}";
    CPT_EQ_INT(cpd_config_parse(vhost, strlen(vhost), "t.json", &c, errs, sizeof errs, warns,
                                sizeof warns, 0), 1);
    CPT_CONTAINS(errs, "bucket name 'b' is not valid for virtual-host-style addressing");
    /* bad values: named, the secret not shown */
    cpd_config_defaults(&c);
    const char *bad = "{\"s3.secret-key\": [\"" SECRET "\"], \"s3.path.style.access\": 3}";
    CPT_EQ_INT(cpd_config_parse(bad, strlen(bad), "t.json", &c, errs, sizeof errs, warns,
                                sizeof warns, 0), 2);
    CPT_CONTAINS(errs, "s3.secret-key: (value not shown) must be a string");
    CPT_CONTAINS(errs, "s3.path.style.access: 3 must be true or false");
    CPT_LACKS(errs, SECRET);
    /* s3 keys without s3:// storage: a warning */
    cpd_config_defaults(&c);
    const char *unused = "{\"s3.endpoint\": \"http://x:1\"}";
    CPT_EQ_INT(cpd_config_parse(unused, strlen(unused), "t.json", &c, errs, sizeof errs, warns,
                                sizeof warns, 0), 0);
    CPT_CONTAINS(warns, "s3.* keys apply to s3:// storage only");
}
