/*
 * cpw_discovery.h — the per-user runtime directory and the discovery files
 * in it (PROTOCOL.md §1.1, §1.2): one module that checks the directory,
 * writes a job's announcement, removes it, sweeps stale ones and reads
 * them all back, so that the agent and every dashboard agree on each rule.
 *
 * Trust: a discovery file is believed only because the directory holding
 * it passed cpw_secure_dir() (a real directory, the user's own, closed to
 * everyone else) and the file itself is the user's. Nothing in a discovery
 * file chooses a secret: a dashboard takes the TCP secret from its user's
 * option or the default path, never from an announcement.
 *
 * Ownership: an announcement belongs to the agent run (instance) that wrote
 * it. A writer never replaces the announcement of a live other instance,
 * and removes only its own (or, when sweeping, one it has just proved
 * stale), checked after moving the file out of the way so that a newer
 * announcement written meanwhile is put back, never deleted.
 *
 * Every function is reentrant and thread-safe (no shared state); those
 * that touch the file system block briefly, and cpw_job_alive() (so
 * cpw_discover() and the sweep) may wait for a busy job to answer. Nothing
 * here prints.
 */
#ifndef CPW_DISCOVERY_H
#define CPW_DISCOVERY_H

#include "cpw.h"

typedef enum cpw_disc_err {
    CPW_DISC_OK = 0,
    CPW_DISC_NOT_FOUND,   /* the runtime directory does not exist (no job ran yet) */
    CPW_DISC_INSECURE,    /* a symlink, not a directory, not ours, open to others */
    CPW_DISC_IO,          /* cannot create, open, read, write or rename */
    CPW_DISC_TOO_LONG,    /* a path does not fit */
    CPW_DISC_IN_USE,      /* a live job of another instance announced this job id */
    CPW_DISC_BAD_FILE,    /* not a discovery file (cpw_discovery_parse) */
    CPW_DISC_NOMEM,
    CPW_DISC__COUNT
} cpw_disc_err;

/* Static description of an error code; never NULL. */
const char *cpw_disc_strerror(cpw_disc_err e);

/* Longest accepted endpoint URL, runtime directory and file path. */
#define CPW_URL_MAX  300
#define CPW_PATH_MAX 512

/* One announcement. Strings are NUL-terminated, and only the job id is
 * known to be plain ASCII: sanitise the rest before showing it. */
typedef struct cpw_job_entry {
    char job[CPW_MAX_JOB_ID];          /* [A-Za-z0-9._-]{1,63} */
    char name[CPW_NAME_MAX];
    int pid;                           /* 1 … 2³¹−1 */
    char events[CPW_URL_MAX];          /* ipc://… or tcp://… */
    char commands[CPW_URL_MAX];
    char instance[CPW_INSTANCE_HEX + 1]; /* 32 lowercase hex; "" from an agent before 0.2 */
    bool tcp;                          /* auth "hmac-sha256": commands need the secret */
    char rest[128];                    /* the Flink REST endpoint ("http://HOST:PORT"), "" if none */
    int64_t started_us;
    bool alive;                        /* set by cpw_discover(): cpw_job_alive() */
} cpw_job_entry;

/* Every announcement of a directory, newest first. */
typedef struct cpw_job_list {
    cpw_job_entry *jobs;               /* n entries, malloc'd */
    int n;
    int alive;                         /* how many of them are alive */
    int skipped;                       /* *.json files that were not readable announcements */
} cpw_job_list;

/* The runtime directory an agent uses by default: $XDG_RUNTIME_DIR/cptop
 * when XDG_RUNTIME_DIR is an absolute path, else /tmp/cptop-$UID. false
 * when it does not fit in size bytes. */
bool cpw_runtime_dir(char *out, size_t size);

/*
 * Checks that dir may hold (and be believed for) job announcements: it is
 * a directory and not a symlink, it belongs to this user and no group or
 * other permission bit is set. With create, makes it (mode 0700) when it is
 * absent first. On failure err gets one line naming the directory, what is
 * wrong and the fix. The agent runs this before it announces anything and
 * every dashboard before it reads anything.
 */
cpw_disc_err cpw_secure_dir(const char *dir, bool create, char *err, size_t size);

/*
 * Reads every <job>.json of dir after cpw_secure_dir(dir, false): files that
 * are not the user's regular files, or not announcements, are skipped (and
 * counted); each entry's `alive` says cpw_job_alive(). No limit on the count
 * but memory. On success free out with cpw_job_list_free(); on failure out
 * is empty and err says why (CPW_DISC_NOT_FOUND: no job ever ran there).
 */
cpw_disc_err cpw_discover(const char *dir, cpw_job_list *out, char *err, size_t size);
void cpw_job_list_free(cpw_job_list *l);

/* The entries of l that are alive and whose id or name is `which` (all
 * alive ones when which is NULL), up to max indices into idx. Returns how
 * many matched (which may exceed max). */
int cpw_job_match(const cpw_job_list *l, const char *which, int *idx, int max);

/*
 * Whether the job of an announcement is there: its pid exists (kill(pid, 0)
 * succeeds or fails with EPERM) and its command socket answers the opening
 * of an SP connection (for tcp, on a numeric IPv4 address; a host name is
 * not looked up). Refused, gone, or closed without answering: not alive. A
 * peer too busy to answer within a second still counts as alive. Sends
 * only the SP header, never a message. Blocks up to about two seconds.
 */
bool cpw_job_alive(const cpw_job_entry *e);

/*
 * Announces e (whose instance must be set) as <dir>/<job>.json, mode 0600,
 * and puts the file's path in path (CPW_PATH_MAX bytes). Written whole under
 * a temporary name of this instance, then linked into place: a reader sees
 * no file or a complete one. An announcement of the same job id that is
 * stale (cpw_job_alive() false, or unreadable) is removed first; one of a
 * live other instance is left alone and the call fails with
 * CPW_DISC_IN_USE, err naming its pid.
 */
cpw_disc_err cpw_discovery_write(const char *dir, const cpw_job_entry *e, char *path,
                                 char *err, size_t size);

/* Removes the announcement at path only if it still holds instance; a file
 * another instance wrote there meanwhile is put back. Returns CPW_DISC_OK
 * when ours was removed or there was none. */
cpw_disc_err cpw_discovery_remove(const char *path, const char *instance);

/* Removes the stale announcements of dir (cpw_job_alive() false; never one
 * of keep_instance) and temporary files abandoned for over a minute.
 * Returns how many files it removed. The agent runs it at start. */
int cpw_discovery_sweep(const char *dir, const char *keep_instance);

/* The file's text: one JSON object and a newline (PROTOCOL.md §1.2). */
void cpw_discovery_encode(cpw_buf *b, const cpw_job_entry *e);

/* Parses one file's bytes (hostile: any bytes, at most 4095 used) into e.
 * Fails with CPW_DISC_BAD_FILE and a message in err when it is not an
 * announcement: not a JSON object, v not 1, job not an id, pid out of
 * range, events/commands not ipc:// or tcp:// URLs, a bad instance, too
 * long a string. Does not set e->alive. Pure. */
cpw_disc_err cpw_discovery_parse(const char *buf, size_t len, cpw_job_entry *e, char *err,
                                 size_t size);

#endif /* CPW_DISCOVERY_H */
