/* test_discovery.c — the runtime directory and its discovery files
 * (protocol/cpw_discovery): who may be believed, announcements that never
 * replace or remove another instance's, stale ones swept and ignored, and
 * no limit on how many are read. */
#include "cpt_test.h"
#include "cpt_sub.h"
#include "cpw_discovery.h"
#include "cpw_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A pid that existed a moment ago and does not now. */
static int dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    CPT_ASSERT(kill(p, 0) != 0 && errno == ESRCH);
    return (int)p;
}

/* A live agent's command socket at path: an SP REP endpoint listening there,
 * served on a thread as an agent serves it (returned as an int handle for
 * the tests' convenience: index into socks). */
static cpt_echo *socks[8];

static int listen_at(const char *path)
{
    char url[600], err[200];
    snprintf(url, sizeof url, "ipc://%s", path);
    int i = 0;
    while (socks[i])
        i++;
    CPT_ASSERT(i < 8);
    socks[i] = cpt_echo_start(url, err, sizeof err);
    CPT_ASSERTF(socks[i], "%s", err);
    return i;
}

/* The listener goes away (its socket file too). */
static void stop_listening(int h)
{
    cpt_echo_stop(socks[h]);
    socks[h] = NULL;
}

/* A plain unix listener that is not an SP peer: accepts and says nothing. */
static int raw_listen_at(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    unlink(path);
    CPT_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CPT_ASSERT(listen(fd, 16) == 0);
    return fd;
}

static char rt[400];

static const char *make_rt(void)
{
    snprintf(rt, sizeof rt, "%s/rt", cpt_tmpdir());
    CPT_EQ_INT(cpw_secure_dir(rt, true, NULL, 0), CPW_DISC_OK);
    return rt;
}

static cpw_job_entry entry(const char *job, int pid, const char *cmd_sock, char hexdigit)
{
    cpw_job_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.job, sizeof e.job, "%s", job);
    snprintf(e.name, sizeof e.name, "name-%s", job);
    e.pid = pid;
    snprintf(e.events, sizeof e.events, "ipc://%s/%s.events", rt, job);
    snprintf(e.commands, sizeof e.commands, "ipc://%s", cmd_sock);
    memset(e.instance, hexdigit, CPW_INSTANCE_HEX);
    e.instance[CPW_INSTANCE_HEX] = '\0';
    e.started_us = 1700000000000000LL;
    return e;
}

static size_t slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static int count_files(const char *dir, const char *suffix)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c -- '%s$'", dir, suffix);
    FILE *p = popen(cmd, "r");
    int n = -1;
    CPT_ASSERT(p && fscanf(p, "%d", &n) == 1);
    pclose(p);
    return n;
}

/* ---------------------------------------------------------------- the directory */

CPT_TEST(secure_dir_creates_a_private_directory_and_refuses_an_open_one)
{
    char dir[400], err[600];
    snprintf(dir, sizeof dir, "%s/made", cpt_tmpdir());
    mode_t old = umask(0);
    CPT_EQ_INT(cpw_secure_dir(dir, true, err, sizeof err), CPW_DISC_OK);
    umask(old);
    struct stat st;
    CPT_EQ_INT(stat(dir, &st), 0);
    CPT_EQ_INT(st.st_mode & 07777, 0700);

    /* what another user would pre-create: mode 0777 */
    snprintf(dir, sizeof dir, "%s/open", cpt_tmpdir());
    CPT_EQ_INT(mkdir(dir, 0700), 0);
    chmod(dir, 0777);
    CPT_EQ_INT(cpw_secure_dir(dir, true, err, sizeof err), CPW_DISC_INSECURE);
    CPT_ASSERTF(strstr(err, dir) && strstr(err, "chmod 700"), "names the dir and the fix: %s", err);
    /* cptop's look (no create) says the same */
    CPT_EQ_INT(cpw_secure_dir(dir, false, err, sizeof err), CPW_DISC_INSECURE);
    cpw_job_list l;
    CPT_EQ_INT(cpw_discover(dir, &l, err, sizeof err), CPW_DISC_INSECURE);
    CPT_EQ_INT(l.n, 0);

    /* a symlink to a private directory is refused too */
    char link[400];
    snprintf(link, sizeof link, "%s/link", cpt_tmpdir());
    snprintf(dir, sizeof dir, "%s/made", cpt_tmpdir());
    CPT_EQ_INT(symlink(dir, link), 0);
    CPT_EQ_INT(cpw_secure_dir(link, true, err, sizeof err), CPW_DISC_INSECURE);
    CPT_ASSERTF(strstr(err, "symbolic link") && strstr(err, link), "%s", err);

    /* a plain file is not a directory */
    snprintf(dir, sizeof dir, "%s/file", cpt_tmpdir());
    close(open(dir, O_CREAT | O_WRONLY, 0600));
    CPT_EQ_INT(cpw_secure_dir(dir, true, err, sizeof err), CPW_DISC_INSECURE);

    /* absent, without create: not found, not an error to fix */
    snprintf(dir, sizeof dir, "%s/absent", cpt_tmpdir());
    CPT_EQ_INT(cpw_secure_dir(dir, false, err, sizeof err), CPW_DISC_NOT_FOUND);
    CPT_EQ_INT(cpw_discover(dir, &l, err, sizeof err), CPW_DISC_NOT_FOUND);
}

CPT_TEST(secure_dir_refuses_a_directory_of_another_user)
{
    char dir[400], err[600];
    snprintf(dir, sizeof dir, "%s/theirs", cpt_tmpdir());
    CPT_EQ_INT(mkdir(dir, 0700), 0);
    if (getuid() != 0) {
        /* only root can give a directory away; a user's run checks the mode case above */
        CPT_EQ_INT(cpw_secure_dir(dir, false, err, sizeof err), CPW_DISC_OK);
        return;
    }
    CPT_EQ_INT(chown(dir, 65534, 65534), 0);
    CPT_EQ_INT(cpw_secure_dir(dir, true, err, sizeof err), CPW_DISC_INSECURE);
    CPT_ASSERTF(strstr(err, dir) && strstr(err, "uid 65534"), "%s", err);
}

/* ---------------------------------------------------------------- the file format */

CPT_TEST(parse_round_trips_what_the_writer_encodes)
{
    make_rt();
    cpw_job_entry e = entry("pay-1.x_y", 4242, "/run/x.cmd", 'a'), back;
    e.tcp = true;
    snprintf(e.rest, sizeof e.rest, "http://127.0.0.1:8081");
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_discovery_encode(&b, &e);
    CPT_ASSERT(b.len && b.data[b.len - 1] == '\n');
    char err[200];
    CPT_EQ_INT(cpw_discovery_parse(b.data, b.len, &back, err, sizeof err), CPW_DISC_OK);
    CPT_EQ_STR(back.job, e.job);
    CPT_EQ_STR(back.name, e.name);
    CPT_EQ_STR(back.events, e.events);
    CPT_EQ_STR(back.commands, e.commands);
    CPT_EQ_STR(back.instance, e.instance);
    CPT_EQ_INT(back.pid, 4242);
    CPT_EQ_INT(back.tcp, 1);
    CPT_EQ_INT(back.started_us, e.started_us);
    CPT_EQ_STR(back.rest, "http://127.0.0.1:8081");
    CPT_ASSERTF(!strstr(b.data, "secret"), "an announcement names no secret: %s", b.data);
    cpw_buf_free(&b);
}

CPT_TEST(parse_refuses_what_is_not_an_announcement)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"v\":1}",
        "{\"v\":2,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"a b\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"\\u001b[2J\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"..\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":0,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":4294967296,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":1.5,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"http://x\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc://rel\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\","
        "\"instance\":\"XYZ\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\","
        "\"auth\":\"trust-me\"}",
        "{\"v\":1,\"job\":\"a\",\"job\":\"b\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}",
        "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\",\"started_us\":-1}",
        "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\",\"rest\":\"file:///etc\"}",
    };
    cpw_job_entry e;
    char err[200];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CPT_ASSERTF(cpw_discovery_parse(bad[i], strlen(bad[i]), &e, err, sizeof err) ==
                        CPW_DISC_BAD_FILE && err[0],
                    "accepted: %s", bad[i]);
        CPT_EQ_STR(e.job, "");
    }
    /* a name too long for its field, a file too long to be one */
    char big[5000];
    int n = snprintf(big, sizeof big, "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\","
                     "\"commands\":\"ipc:///b\",\"name\":\"%064d\"}", 0);
    CPT_EQ_INT(cpw_discovery_parse(big, (size_t)n, &e, err, sizeof err), CPW_DISC_BAD_FILE);
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"v\":1,\"job\":\"a\",\"pid\":1,\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\"}", 66);
    CPT_EQ_INT(cpw_discovery_parse(big, 4096, &e, err, sizeof err), CPW_DISC_BAD_FILE);
    /* unknown members are ignored; hostile names are kept as data (sanitised when shown) */
    const char *ok = "{\"v\":1,\"job\":\"a\",\"name\":\"\\u001b]0;pwned\\u0007\\u202e\",\"pid\":1,"
                     "\"events\":\"ipc:///a\",\"commands\":\"ipc:///b\",\"future\":{\"x\":[1]}}";
    CPT_EQ_INT(cpw_discovery_parse(ok, strlen(ok), &e, err, sizeof err), CPW_DISC_OK);
    CPT_EQ_STR(e.name, "\x1b]0;pwned\x07\xe2\x80\xae");
}

/* ---------------------------------------------------------------- writing, removing */

CPT_TEST(write_installs_a_private_file_and_remove_takes_only_its_own)
{
    make_rt();
    char sock[450], path[CPW_PATH_MAX], err[600], buf[4096];
    snprintf(sock, sizeof sock, "%s/j.cmd", rt);
    int lfd = listen_at(sock);
    cpw_job_entry e = entry("j", (int)getpid(), sock, 'a');
    CPT_EQ_INT(cpw_discovery_write(rt, &e, path, err, sizeof err), CPW_DISC_OK);
    struct stat st;
    CPT_EQ_INT(stat(path, &st), 0);
    CPT_EQ_INT(st.st_mode & 0777, 0600);
    CPT_ASSERT(strstr(path, "/j.json") != NULL);
    CPT_EQ_INT(count_files(rt, ".tmp"), 0);

    /* another instance of the same id while this one runs: refused, file untouched */
    size_t n0 = slurp(path, buf, sizeof buf);
    cpw_job_entry other = entry("j", (int)getpid(), sock, 'b');
    char path2[CPW_PATH_MAX];
    CPT_EQ_INT(cpw_discovery_write(rt, &other, path2, err, sizeof err), CPW_DISC_IN_USE);
    CPT_ASSERTF(strstr(err, "job.id") && strstr(err, "pid"), "%s", err);
    char now[4096];
    CPT_EQ_INT(slurp(path, now, sizeof now), n0);
    CPT_EQ_STR(now, buf);
    /* ... and its stop removes nothing of ours */
    CPT_EQ_INT(cpw_discovery_remove(path, other.instance), CPW_DISC_OK);
    CPT_EQ_INT(stat(path, &st), 0);
    CPT_EQ_INT(count_files(rt, ".tmp") + count_files(rt, ".old") + count_files(rt, ".gone"), 0);

    /* its own stop removes it */
    CPT_EQ_INT(cpw_discovery_remove(path, e.instance), CPW_DISC_OK);
    CPT_ASSERT(stat(path, &st) != 0);
    stop_listening(lfd);
}

CPT_TEST(write_replaces_a_stale_announcement_of_the_same_id)
{
    make_rt();
    char path[CPW_PATH_MAX], err[600], buf[4096], sock[450];
    snprintf(sock, sizeof sock, "%s/gone.cmd", rt);
    /* a job killed with -9: its file names a dead pid */
    cpw_job_entry dead = entry("s", dead_pid(), sock, 'a');
    CPT_EQ_INT(cpw_discovery_write(rt, &dead, path, err, sizeof err), CPW_DISC_OK);
    cpw_job_entry fresh = entry("s", (int)getpid(), sock, 'c');
    int lfd = listen_at(sock);
    CPT_EQ_INT(cpw_discovery_write(rt, &fresh, path, err, sizeof err), CPW_DISC_OK);
    slurp(path, buf, sizeof buf);
    CPT_ASSERTF(strstr(buf, fresh.instance), "%s", buf);
    stop_listening(lfd);

    /* the pid lives on (reused) but nobody answers on the socket: stale too */
    cpw_job_entry again = entry("s", (int)getpid(), sock, 'd');
    CPT_EQ_INT(cpw_job_alive(&fresh), 0);
    lfd = listen_at(sock);
    CPT_EQ_INT(cpw_discovery_write(rt, &again, path, err, sizeof err), CPW_DISC_IN_USE);
    stop_listening(lfd);
    CPT_EQ_INT(cpw_discovery_write(rt, &again, path, err, sizeof err), CPW_DISC_OK);
    slurp(path, buf, sizeof buf);
    CPT_ASSERTF(strstr(buf, again.instance), "%s", buf);
}

CPT_TEST(remove_puts_back_a_file_another_instance_wrote_meanwhile)
{
    make_rt();
    char path[CPW_PATH_MAX], err[600], buf[4096], sock[450];
    snprintf(sock, sizeof sock, "%s/r.cmd", rt);
    cpw_job_entry mine = entry("r", dead_pid(), sock, 'a');
    CPT_EQ_INT(cpw_discovery_write(rt, &mine, path, err, sizeof err), CPW_DISC_OK);
    /* a newer run replaced it (ours looked dead to it) */
    cpw_job_entry newer = entry("r", (int)getpid(), sock, 'e');
    int lfd = listen_at(sock);
    CPT_EQ_INT(cpw_discovery_write(rt, &newer, path, err, sizeof err), CPW_DISC_OK);
    /* the old run stopping now must not take the new run's file with it */
    CPT_EQ_INT(cpw_discovery_remove(path, mine.instance), CPW_DISC_OK);
    slurp(path, buf, sizeof buf);
    CPT_ASSERTF(strstr(buf, newer.instance), "the newer announcement was removed: %s", buf);
    stop_listening(lfd);
}

/* ---------------------------------------------------------------- scale and staleness */

CPT_TEST_T(ten_thousand_stale_announcements_hide_no_live_job, 120)
{
    make_rt();
    char sock[450], path[CPW_PATH_MAX], err[600];
    snprintf(sock, sizeof sock, "%s/live.cmd", rt);
    int lfd = listen_at(sock);
    int dead = dead_pid();
    enum { STALE = 10050 };
    for (int i = 0; i < STALE; i++) {
        char id[32];
        snprintf(id, sizeof id, "stale-%05d", i);
        cpw_job_entry e = entry(id, dead, sock, 'a' + (char)(i % 6));
        e.started_us = 1700000000000000LL + i; /* newer than the live one */
        CPT_EQ_INT(cpw_discovery_write(rt, &e, path, err, sizeof err), CPW_DISC_OK);
    }
    cpw_job_entry live = entry("LIVE", (int)getpid(), sock, 'f');
    live.started_us = 1600000000000000LL;
    CPT_EQ_INT(cpw_discovery_write(rt, &live, path, err, sizeof err), CPW_DISC_OK);
    /* two live jobs sharing a name: a name alone does not choose */
    cpw_job_entry twin = entry("twin", (int)getpid(), sock, 'e');
    snprintf(twin.name, sizeof twin.name, "name-LIVE");
    CPT_EQ_INT(cpw_discovery_write(rt, &twin, path, err, sizeof err), CPW_DISC_OK);

    cpw_job_list l;
    CPT_EQ_INT(cpw_discover(rt, &l, err, sizeof err), CPW_DISC_OK);
    CPT_EQ_INT(l.n, STALE + 2);
    CPT_EQ_INT(l.alive, 2);
    int idx[4];
    CPT_EQ_INT(cpw_job_match(&l, "LIVE", idx, 4), 1);
    CPT_EQ_STR(l.jobs[idx[0]].job, "LIVE");
    CPT_EQ_INT(cpw_job_match(&l, "name-LIVE", idx, 4), 2);
    CPT_EQ_INT(cpw_job_match(&l, NULL, idx, 4), 2);
    CPT_EQ_INT(cpw_job_match(&l, "stale-00007", idx, 4), 0); /* stale ones are not targets */
    /* newest first */
    for (int i = 1; i < l.n; i++)
        CPT_ASSERT(l.jobs[i - 1].started_us >= l.jobs[i].started_us);
    cpw_job_list_free(&l);

    /* an agent starting sweeps the stale ones, and only those */
    CPT_EQ_INT(cpw_discovery_sweep(rt, NULL), STALE);
    CPT_EQ_INT(cpw_discover(rt, &l, err, sizeof err), CPW_DISC_OK);
    CPT_EQ_INT(l.n, 2);
    CPT_EQ_INT(l.alive, 2);
    cpw_job_list_free(&l);
    stop_listening(lfd);
}

CPT_TEST(discover_believes_only_the_users_own_regular_files)
{
    make_rt();
    char path[CPW_PATH_MAX], err[600], sock[450], other[450];
    snprintf(sock, sizeof sock, "%s/o.cmd", rt);
    int lfd = listen_at(sock);
    cpw_job_entry e = entry("real", (int)getpid(), sock, 'a');
    CPT_EQ_INT(cpw_discovery_write(rt, &e, path, err, sizeof err), CPW_DISC_OK);
    /* a symlink named like an announcement, to a file elsewhere */
    snprintf(other, sizeof other, "%s/elsewhere.json", cpt_tmpdir());
    e = entry("linked", (int)getpid(), sock, 'b');
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_discovery_encode(&b, &e);
    int fd = open(other, O_CREAT | O_WRONLY, 0600);
    CPT_ASSERT(write(fd, b.data, b.len) == (ssize_t)b.len);
    close(fd);
    cpw_buf_free(&b);
    char ln[500];
    snprintf(ln, sizeof ln, "%s/linked.json", rt);
    CPT_EQ_INT(symlink(other, ln), 0);
    /* garbage, and a directory named like one */
    snprintf(ln, sizeof ln, "%s/junk.json", rt);
    fd = open(ln, O_CREAT | O_WRONLY, 0600);
    CPT_ASSERT(write(fd, "\x1b[2J not json", 13) == 13);
    close(fd);
    snprintf(ln, sizeof ln, "%s/dir.json", rt);
    CPT_EQ_INT(mkdir(ln, 0700), 0);
    if (getuid() == 0) { /* a file of another user (only root can make one here) */
        e = entry("foreign", (int)getpid(), sock, 'c');
        CPT_EQ_INT(cpw_discovery_write(rt, &e, path, err, sizeof err), CPW_DISC_OK);
        CPT_EQ_INT(chown(path, 65534, 65534), 0);
    }
    cpw_job_list l;
    CPT_EQ_INT(cpw_discover(rt, &l, err, sizeof err), CPW_DISC_OK);
    CPT_EQ_INT(l.n, 1);
    CPT_EQ_STR(l.jobs[0].job, "real");
    CPT_EQ_INT(l.skipped, getuid() == 0 ? 4 : 3);
    cpw_job_list_free(&l);
    /* the sweep leaves alone what it cannot read */
    cpw_discovery_sweep(rt, NULL);
    struct stat st;
    CPT_EQ_INT(lstat(ln, &st), 0);
    snprintf(ln, sizeof ln, "%s/junk.json", rt);
    CPT_EQ_INT(lstat(ln, &st), 0);
    stop_listening(lfd);
}

CPT_TEST(alive_means_the_pid_exists_and_the_socket_answers)
{
    make_rt();
    char sock[450];
    snprintf(sock, sizeof sock, "%s/a.cmd", rt);
    cpw_job_entry e = entry("a", (int)getpid(), sock, 'a');
    CPT_EQ_INT(cpw_job_alive(&e), 0); /* no socket file */
    int h = listen_at(sock);
    CPT_EQ_INT(cpw_job_alive(&e), 1);
    e.pid = dead_pid();
    CPT_EQ_INT(cpw_job_alive(&e), 0);
    e.pid = (int)getpid();
    stop_listening(h);
    CPT_EQ_INT(cpw_job_alive(&e), 0);
    /* a socket file left by a killed process: refused */
    int fd = raw_listen_at(sock);
    close(fd);
    CPT_EQ_INT(cpw_job_alive(&e), 0);
    /* something listens but is no SP peer: it closes without answering */
    fd = raw_listen_at(sock);
    pid_t kid = fork();
    if (kid == 0) {
        close(accept(fd, NULL, NULL));
        _exit(0);
    }
    CPT_EQ_INT(cpw_job_alive(&e), 0);
    waitpid(kid, NULL, 0);
    close(fd);
    /* tcp: a port nobody listens on is refused at once; an agent's answers */
    int port = cpt_free_port_pair();
    CPT_ASSERT(port > 0);
    snprintf(e.commands, sizeof e.commands, "tcp://127.0.0.1:%d", port);
    CPT_EQ_INT(cpw_job_alive(&e), 0);
    char err[200];
    cpt_echo *rep = cpt_echo_start(e.commands, err, sizeof err);
    CPT_ASSERTF(rep, "%s", err);
    CPT_EQ_INT(cpw_job_alive(&e), 1);
    cpt_echo_stop(rep);
    /* a host name is not looked up: believed */
    snprintf(e.commands, sizeof e.commands, "tcp://localhost:1");
    CPT_EQ_INT(cpw_job_alive(&e), 1);
}

/* Looking is harmless: after many probes the job still answers commands
 * (a bare connect-and-close silences nng 1.5's ipc listener for good). */
CPT_TEST(probing_a_job_never_silences_it)
{
    make_rt();
    char sock[450], url[500], err[200];
    snprintf(sock, sizeof sock, "%s/p.cmd", rt);
    snprintf(url, sizeof url, "ipc://%s", sock);
    int h = listen_at(sock);
    cpw_job_entry e = entry("p", (int)getpid(), sock, 'a');
    for (int i = 0; i < 20; i++)
        CPT_EQ_INT(cpw_job_alive(&e), 1);
    cpw_sock *req = cpw_sock_new(CPW_SOCK_REQ, NULL, err, sizeof err);
    CPT_EQ_INT(cpw_sock_dial(req, url, err, sizeof err), CPW_SOCK_OK);
    CPT_EQ_INT(cpw_sock_send(req, "ping", 4, 3000), CPW_SOCK_OK);
    cpw_sock_msg m;
    CPT_EQ_INT(cpw_sock_recv(req, &m, 3000), CPW_SOCK_OK);
    CPT_EQ_INT(m.len, 9);
    CPT_ASSERT(!memcmp(m.data, "echo:ping", 9));
    cpw_sock_msg_free(&m);
    CPT_EQ_INT(cpt_echo_requests(socks[h]), 1);
    cpw_sock_destroy(req);
    stop_listening(h);
}
