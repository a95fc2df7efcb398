/* Lock files by link(2); see file_lock.h. */
#define _GNU_SOURCE /* utimensat with NULL times */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "experiments/file_lock.h"

void dr_process_name(char *buf, size_t cap)
{
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    host[strcspn(host, ".")] = '\0';
    snprintf(buf, cap, "%s.%ld", host, (long)getpid());
}

int dr_process_gone(const char *name)
{
    char mine[300];
    dr_process_name(mine, sizeof mine);
    const char *dot = strrchr(name, '.'), *my_dot = strrchr(mine, '.');
    if (!dot || dot - name != my_dot - mine || strncmp(name, mine, (size_t)(dot - name)) != 0)
        return 0; /* another host's: only its age tells */
    long pid = strtol(dot + 1, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

double dr_file_age(const char *path, const char *probe)
{
    struct stat a, now;
    if (stat(path, &a) != 0)
        return -1;
    if (utimensat(AT_FDCWD, probe, NULL, 0) != 0 || stat(probe, &now) != 0)
        return (double)(time(NULL) - a.st_mtime);
    return (double)(now.st_mtim.tv_sec - a.st_mtim.tv_sec) + 1e-9 * (double)(now.st_mtim.tv_nsec - a.st_mtim.tv_nsec);
}

dr_status dr_file_lock_init(dr_file_lock *l, const char *path)
{
    char name[300];
    memset(l, 0, sizeof *l);
    dr_process_name(name, sizeof name);
    snprintf(l->path, sizeof l->path, "%s", path);
    snprintf(l->mine, sizeof l->mine, "%s.%s", path, name);
    int fd = open(l->mine, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return dr_error(DR_ERR_IO, "cannot create the lock file %s: %s", l->mine, strerror(errno));
    ssize_t w = write(fd, name, strlen(name));
    if (close(fd) != 0 || w != (ssize_t)strlen(name))
        return dr_error(DR_ERR_IO, "cannot write the lock file %s", l->mine);
    return DR_OK;
}

static int dr_linked(const dr_file_lock *l)
{
    struct stat st;
    return stat(l->mine, &st) == 0 && st.st_nlink == 2;
}

/* The holder written in the lock ("?" when unreadable). */
static void dr_holder(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    snprintf(buf, cap, "?");
    if (f && fgets(buf, (int)cap, f))
        buf[strcspn(buf, "\n")] = '\0';
    if (f)
        fclose(f);
}

/* Breaks the lock when it is stale: older than stale_s, or older than
 * DR_GONE_S with its holder known to be gone. The age counts from when it was
 * taken (the holder touches its file first), so a lock taken just now by a new
 * holder is never broken for the one before. 1 when the lock changed. */
enum { DR_GONE_S = 2 };

static int dr_break_stale(dr_file_lock *l, double stale_s)
{
    struct stat found, again;
    char holder[300];
    if (stat(l->path, &found) != 0)
        return 1; /* released meanwhile */
    dr_holder(l->path, holder, sizeof holder);
    if (stat(l->path, &again) != 0 || again.st_ino != found.st_ino)
        return 1; /* the name read may be the next holder's */
    double age = dr_file_age(l->path, l->mine);
    int gone = age > DR_GONE_S && dr_process_gone(holder);
    if (!gone && age < stale_s)
        return 0;
    char away[1300];
    snprintf(away, sizeof away, "%s.broken", l->mine);
    if (rename(l->path, away) != 0)
        return 1; /* another process broke it first */
    struct stat moved;
    if (stat(away, &moved) == 0 && moved.st_ino == found.st_ino && moved.st_dev == found.st_dev) {
        fprintf(stderr, "warning: %s: broke the lock of %s (%s)\n", l->path, holder,
                gone ? "that process is gone" : "older than its time");
        unlink(away);
    } else if (link(away, l->path) == 0) { /* a fresh lock, taken after ours was found: put it back */
        unlink(away);
    }
    return 1;
}

dr_status dr_file_lock_acquire(dr_file_lock *l, double stale_s, double wait_s)
{
    double t0 = dr_now(), nap = 1e-4;
    for (;;) {
        utimensat(AT_FDCWD, l->mine, NULL, 0); /* the lock's age counts from now */
        int err = link(l->mine, l->path) == 0 ? 0 : errno;
        if (!err || dr_linked(l)) {
            l->held = 1;
            return DR_OK;
        }
        if (err != EEXIST && err != EINTR)
            return dr_error(DR_ERR_IO, "cannot take the lock %s: %s (a file system without link(2)?)", l->path,
                            strerror(err));
        if (dr_break_stale(l, stale_s))
            continue;
        if (dr_now() - t0 > wait_s) {
            char holder[300];
            dr_holder(l->path, holder, sizeof holder);
            return dr_error(DR_ERR_IO, "%s: held by %s for more than %.0f s; remove it if that process is gone",
                            l->path, holder, wait_s);
        }
        nanosleep(&(struct timespec){.tv_nsec = (long)(nap * 1e9)}, NULL);
        nap = nap * 2 < 0.02 ? nap * 2 : 0.02;
    }
}

void dr_file_lock_release(dr_file_lock *l)
{
    if (l->held && dr_linked(l)) /* still ours: not broken as stale meanwhile */
        unlink(l->path);
    l->held = 0;
}

void dr_file_lock_close(dr_file_lock *l)
{
    dr_file_lock_release(l);
    if (l->mine[0])
        unlink(l->mine);
}
