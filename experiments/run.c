#include "experiments/run.h"

#include "core/config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The folder and any missing folders above it, as mkdir -p. */
static dr_status dr_mkdir(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return dr_error(DR_ERR_IO, "cannot create folder %s: the path is too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return dr_error(DR_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
        buf[i] = path[i];
    }
    return DR_OK;
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

const char *dr_run_stem(const char *config_path, char *buf, size_t cap)
{
    const char *base = strrchr(config_path, '/');
    snprintf(buf, cap, "%s", base ? base + 1 : config_path);
    char *dot = strrchr(buf, '.');
    if (dot)
        *dot = '\0';
    return buf;
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

dr_status dr_run_file_open(const dr_run *run, const char *name, dr_run_file *out)
{
    dr_run_path(run, name, out->path, sizeof out->path);
    snprintf(out->tmp, sizeof out->tmp, "%s.tmp", out->path);
    out->f = fopen(out->tmp, "w");
    return out->f ? DR_OK : dr_error(DR_ERR_IO, "cannot write %s", out->tmp);
}

dr_status dr_run_file_close(dr_run_file *f, dr_status s)
{
    if (!f->f)
        return s;
    int closed = fclose(f->f) == 0;
    f->f = NULL;
    if (s == DR_OK && (!closed || rename(f->tmp, f->path) != 0))
        s = dr_error(DR_ERR_IO, "cannot write %s", f->path);
    if (s != DR_OK)
        remove(f->tmp);
    return s;
}

dr_status dr_run_save_inputs(const dr_run *run, const char *config_path, const char *const *overrides, int n)
{
    char path[1100];
    FILE *in = fopen(config_path, "rb");
    FILE *out = fopen(dr_run_path(run, "experiment.toml", path, sizeof path), "wb");
    dr_status s = in && out ? DR_OK : dr_error(DR_ERR_IO, "cannot copy %s into %s", config_path, run->dir);
    char buf[8192];
    size_t got;
    while (s == DR_OK && (got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, out) != got)
            s = dr_error(DR_ERR_IO, "cannot write %s", path);
    if (in)
        fclose(in);
    if (out && fclose(out) != 0 && s == DR_OK)
        s = dr_error(DR_ERR_IO, "cannot write %s", path);
    FILE *ov = s == DR_OK ? fopen(dr_run_path(run, "overrides", path, sizeof path), "w") : NULL;
    if (s == DR_OK && !ov)
        s = dr_error(DR_ERR_IO, "cannot write %s", path);
    for (int i = 0; s == DR_OK && i < n; i++)
        fprintf(ov, "%s\n", overrides[i]);
    if (ov && fclose(ov) != 0 && s == DR_OK)
        s = dr_error(DR_ERR_IO, "cannot write %s", path);
    return s;
}

dr_status dr_run_load_overrides(struct dr_config *cfg, const char *run_dir)
{
    char path[1100], line[4096];
    snprintf(path, sizeof path, "%s/overrides", run_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return dr_error(DR_ERR_IO, "--resume %s: %s is missing", run_dir, path);
    dr_status s = DR_OK;
    while (s == DR_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (*line)
            s = dr_config_override(cfg, line);
    }
    fclose(f);
    return s;
}
