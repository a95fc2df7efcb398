/* A run folder, runs/<name>-<YYYYmmdd-HHMMSS>/, and its log: every line the
 * run prints to stderr also goes to <folder>/log. */
#ifndef DR_EXPERIMENTS_RUN_H
#define DR_EXPERIMENTS_RUN_H

#include <stdio.h>

#include "core/status.h"

typedef struct dr_run {
    char dir[1024];
    FILE *log;
    int resumed;
    int created; /* dir was made by dr_run_create, so dr_run_discard may remove it */
} dr_run;

/* The name of a run of config_path when output.name gives none: the file's
 * name without folder and extension (exp/quickstart.toml -> quickstart). */
const char *dr_run_stem(const char *config_path, char *buf, size_t cap);
/* Creates parent/<name>-<time>/ (parent created if missing). */
dr_status dr_run_create(dr_run *run, const char *parent, const char *name);
/* Opens an existing run folder to continue it. */
dr_status dr_run_open(dr_run *run, const char *dir);
void dr_run_close(dr_run *run);
/* Closes the log and removes a folder made by dr_run_create with the files in
 * it, for a run that stopped before it made anything worth keeping; leaves a
 * folder it did not create (an opened one) alone. */
void dr_run_discard(dr_run *run);
/* printf to stderr and the log */
void dr_run_log(dr_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The experiment file and the overrides as given (experiment.toml, overrides),
 * so that --resume rebuilds the configuration the run or study started with
 * (config.toml, the resolved one, is only complete once every stage has read
 * its keys). */
dr_status dr_run_save_inputs(const dr_run *run, const char *config_path, const char *const *overrides, int n);
/* Applies the overrides saved in run_dir to cfg. */
struct dr_config;
dr_status dr_run_load_overrides(struct dr_config *cfg, const char *run_dir);
/* dir/name into buf */
const char *dr_run_path(const dr_run *run, const char *name, char *buf, size_t cap);

/* A file of the run folder written whole or not at all: written to name.tmp,
 * renamed into place by dr_run_file_close when everything went well. */
typedef struct dr_run_file {
    FILE *f;
    char path[1100], tmp[1110];
} dr_run_file;

dr_status dr_run_file_open(const dr_run *run, const char *name, dr_run_file *out);
/* With s == DR_OK closes and renames (a failure becomes the result), else
 * closes and removes the partial file and returns s. Safe on a file never opened. */
dr_status dr_run_file_close(dr_run_file *f, dr_status s);

#endif
