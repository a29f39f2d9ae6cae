/*
 * cpd_supervise.c — `cpdemo run --supervise`: a small supervisor that runs
 * the job as a child process and starts it again when the whole process
 * dies (a crash, kill -9, the "crash" failure), as a cluster manager would
 * restart a lost TaskManager. The new process restores from the latest
 * completed checkpoint like any start; its agent announces the same job id,
 * so dashboards see the job go away and come back.
 */
#include "cpd_supervise.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpd_clock.h"

static volatile sig_atomic_t sup_stop, sup_sig;

static void sup_on_signal(int sig)
{
    sup_stop = 1;
    sup_sig = sig;
}

/* The child's arguments: ours without --supervise / --max-restarts N. */
static char **child_argv(int argc, char **argv)
{
    char **cargv = calloc((size_t)argc + 2, sizeof *cargv);
    if (!cargv)
        return NULL;
    int n = 0;
    cargv[n++] = (char *)"cpdemo";
    cargv[n++] = (char *)"run";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--supervise"))
            continue;
        if (!strcmp(argv[i], "--max-restarts") && i + 1 < argc) {
            i++;
            continue;
        }
        cargv[n++] = argv[i];
    }
    cargv[n] = NULL;
    return cargv;
}

/* Starts the job; its pid, or -1. */
static pid_t start_child(char **cargv)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cpdemo run: supervisor: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        setenv("CPDEMO_SUPERVISED", "1", 1); /* "crash" can say it will come back */
        execv("/proc/self/exe", cargv);
        fprintf(stderr, "cpdemo run: supervisor: cannot start the job: %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits for the job to end, passing a stop signal on; its wait status. */
static int wait_child(pid_t pid)
{
    int status = 0;
    bool forwarded = false;
    for (;;) {
        /* polled, so that a signal arriving at any moment is passed on */
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return 0;
        if (sup_stop && !forwarded) {
            /* stop the job the way it would be stopped without us */
            kill(pid, sup_sig ? sup_sig : SIGTERM);
            forwarded = true;
        }
        cpd_sleep_ms(50);
    }
}

int cpd_supervise(int argc, char **argv, int max_restarts, int delay_ms)
{
    char **cargv = child_argv(argc, argv);
    if (!cargv)
        return 1;
    struct sigaction sa = {0};
    sa.sa_handler = sup_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int restarts = 0, rc = 0;
    for (;;) {
        pid_t pid = start_child(cargv);
        if (pid < 0) {
            rc = 1;
            break;
        }
        fprintf(stderr, "cpdemo run: supervisor: job started as pid %d%s\n", (int)pid,
                restarts ? " (after a crash)" : "");
        int status = wait_child(pid);
        if (sup_stop) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
            fprintf(stderr, "cpdemo run: supervisor: stopped\n");
            break;
        }
        /* finished (--drain, --seconds): done. Status 2 at the very first
         * start is a bad configuration; after a crash it is a dependency
         * (Kafka, storage, the database) not back yet: try again */
        if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
                                  (WEXITSTATUS(status) == 2 && restarts == 0))) {
            rc = WEXITSTATUS(status);
            break;
        }
        char why[64];
        if (WIFSIGNALED(status))
            snprintf(why, sizeof why, "was killed by signal %d", WTERMSIG(status));
        else
            snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
        if (max_restarts >= 0 && restarts >= max_restarts) {
            fprintf(stderr, "cpdemo run: supervisor: job %s; %d restarts used, giving up\n", why,
                    restarts);
            rc = 1;
            break;
        }
        restarts++;
        fprintf(stderr, "cpdemo run: supervisor: job %s; restarting in %d ms (restart %d%s)\n", why,
                delay_ms, restarts, max_restarts >= 0 ? "" : ", no limit");
        if (!sup_stop)
            cpd_sleep_ms_until(delay_ms, &sup_stop);
        if (sup_stop) {
            rc = 0;
            break;
        }
    }
    free(cargv);
    return rc;
}
