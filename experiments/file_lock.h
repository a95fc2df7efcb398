/* A lock file that holds on NFS, for a journal that several processes share
 * (a Slurm job array on a cluster file system). flock(2) and fcntl locks are
 * not reliable over every NFS mount, but link(2) is atomic on the server: each
 * process writes a file of its own (PATH.HOST.PID) and links it to PATH; the
 * link count of its own file tells whether that worked even when the reply of
 * link(2) was lost. A lock whose holder died (its process is gone, on this
 * host, and the lock is 2 s old; or the lock is older than stale_s, by the
 * file server's clock) is broken with a warning: renamed away and removed only
 * if it is still the one that was found stale. Two processes breaking the same
 * stale lock while a third takes it could still both hold it: that needs a
 * holder killed inside its few milliseconds and three processes meeting in a
 * window of microseconds. */
#ifndef DR_EXPERIMENTS_FILE_LOCK_H
#define DR_EXPERIMENTS_FILE_LOCK_H

#include "core/status.h"

typedef struct dr_file_lock {
    char path[1100], mine[1200];
    int held;
} dr_file_lock;

/* Prepares the lock `path` (nothing is taken yet). */
dr_status dr_file_lock_init(dr_file_lock *l, const char *path);
/* Waits for the lock: at most wait_s seconds, then DR_ERR_IO naming the holder. */
dr_status dr_file_lock_acquire(dr_file_lock *l, double stale_s, double wait_s);
void dr_file_lock_release(dr_file_lock *l);
/* Removes this process's own file (the lock itself when held). */
void dr_file_lock_close(dr_file_lock *l);

/* The name of this process among the hosts: HOST.PID. */
void dr_process_name(char *buf, size_t cap);
/* Whether a process named HOST.PID (as above) is known to be gone: only a
 * process of this host can be known so. */
int dr_process_gone(const char *name);
/* Seconds since path was last modified, by the file server's clock (the time of
 * a file just touched there, `probe`, in place of this host's); -1 when missing. */
double dr_file_age(const char *path, const char *probe);

#endif
