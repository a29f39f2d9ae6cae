/*
 * cpt_target.h — which job cptop talks to, and with what secret.
 *
 * A job is found in the runtime directory (after cpw_secure_dir(): a
 * directory that is not the user's own and private is refused, never read)
 * or named with --connect. The TCP secret comes only from --secret-file or
 * the default path <runtime dir>/secret, read only when it is the user's
 * private regular file: never from anything a discovery file says.
 *
 * Messages for the user (errors, the list of candidates) are returned in a
 * buffer with every string from disk already sanitised; nothing here
 * prints. Not thread-safe (one caller at a time); blocks briefly on the
 * file system and cpw_job_alive().
 */
#ifndef CPT_TARGET_H
#define CPT_TARGET_H

#include "cpt_link.h"
#include "cpw_discovery.h"

/* How the user asked for a job (cptop's options). */
typedef struct cpt_where {
    const char *job;          /* --job ID or NAME, or NULL */
    const char *connect;      /* --connect tcp://HOST:PORT, or NULL */
    const char *secret_file;  /* --secret-file PATH, or NULL */
    const char *runtime_dir;  /* --runtime-dir DIR, or NULL for the default */
} cpt_where;

/* Exit statuses the resolution leads to (cptop's: 1 refused, 2 usage). */
enum { CPT_FOUND = 0, CPT_NOT_FOUND = 1, CPT_CHOOSE = 2 };

/* The runtime directory w names (or the default) into dir; false with a
 * message in msg when it does not fit. */
bool cpt_where_dir(const cpt_where *w, char *dir, size_t size, char *msg, size_t msgsz);

/*
 * Resolves w to one target: CPT_FOUND (t filled, secret loaded for TCP);
 * CPT_NOT_FOUND (no such job, an unsafe runtime directory, an unreadable
 * secret); CPT_CHOOSE (several jobs match: msg lists them, one per line,
 * and asks for an id; or a malformed --connect).
 */
int cpt_target_resolve(const cpt_where *w, cpt_target *t, char *msg, size_t msgsz);

/*
 * Every live job matching w->job (all when NULL), newest first, up to max
 * into out; returns how many (0 with msg saying why when there are none
 * or the directory is refused). dir receives the directory looked at.
 */
int cpt_target_candidates(const cpt_where *w, cpt_target *out, int max, char *dir,
                          size_t dirsz, char *msg, size_t msgsz);

/*
 * Loads the TCP secret for a target into t: w->secret_file when given (it
 * must load), else <runtime dir>/secret when it exists. The file must be
 * the user's regular file without group or other permissions, holding at
 * least 16 bytes (trailing newlines and spaces dropped) — the rules the
 * agent applies to its own. 0, or -1 with msg saying which file and why.
 */
int cpt_target_secret(const cpt_where *w, cpt_target *t, char *msg, size_t msgsz);

#endif /* CPT_TARGET_H */
