#include "experiments/run.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static dr_status dr_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return DR_OK;
    return dr_error(DR_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
}

static dr_status dr_open_log(dr_run *run)
{
    char path[1100];
    run->log = fopen(dr_run_path(run, "log", path, sizeof path), "a");
    if (!run->log)
        return dr_error(DR_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    return DR_OK;
}

dr_status dr_run_create(dr_run *run, const char *parent, const char *name)
{
    memset(run, 0, sizeof *run);
    DR_TRY(dr_mkdir(parent));
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    /* Two runs started in the same second get -2, -3, ... */
    for (int k = 1; k < 1000; k++) {
        if (k == 1)
            snprintf(run->dir, sizeof run->dir, "%s/%s-%s", parent, name, stamp);
        else
            snprintf(run->dir, sizeof run->dir, "%s/%s-%s-%d", parent, name, stamp, k);
        if (mkdir(run->dir, 0755) == 0) {
            run->created = 1;
            return dr_open_log(run);
        }
        if (errno != EEXIST)
            return dr_error(DR_ERR_IO, "cannot create run folder %s: %s", run->dir, strerror(errno));
    }
    return dr_error(DR_ERR_IO, "cannot create a run folder under %s", parent);
}

dr_status dr_run_open(dr_run *run, const char *dir)
{
    memset(run, 0, sizeof *run);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return dr_error(DR_ERR_IO, "--resume %s: no such run folder", dir);
    snprintf(run->dir, sizeof run->dir, "%s", dir);
    run->resumed = 1;
    return dr_open_log(run);
}

void dr_run_close(dr_run *run)
{
    if (run->log)
        fclose(run->log);
    run->log = NULL;
}

void dr_run_log(dr_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (run && run->log) {
        va_start(ap, fmt);
        vfprintf(run->log, fmt, ap);
        va_end(ap);
        fflush(run->log);
    }
}

void dr_run_discard(dr_run *run)
{
    dr_run_close(run);
    if (!run->created)
        return;
    /* the folder is new, so all in it is this run's: files only, as nothing
     * before training makes sub-folders (rmdir leaves the folder if one did) */
    DIR *d = opendir(run->dir);
    struct dirent *ent;
    char path[1400];
    while (d && (ent = readdir(d)))
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", run->dir, ent->d_name);
            remove(path);
        }
    if (d)
        closedir(d);
    rmdir(run->dir);
    run->created = 0;
}

const char *dr_run_path(const dr_run *run, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", run->dir, name);
    return buf;
}
