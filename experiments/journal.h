/* A study's journal: append-only, one JSON object per line, in the format of
 * Optuna's JournalStorage file backend (optuna.storages.journal.JournalFileBackend),
 * so that
 *     optuna.load_study(study_name=NAME, storage=JournalStorage(JournalFileBackend(PATH)))
 * reads the study: parameters with their distributions, intermediate values,
 * states, values and user attributes.
 *
 * It is also the study's only state: opening an existing journal replays it, so
 * resuming is the ordinary start. Each operation is one write(2) of a whole line
 * on an O_APPEND descriptor; the file is fsync'ed when a trial starts and ends. A
 * torn last line (a crash inside a write) is cut off with a warning; a damaged
 * line before the last is an error naming file and line.
 *
 * Besides Optuna's fields, each trial carries the system attribute
 * "defrisk:slot": the suggestion it runs (a retried trial runs the slot of the
 * failed one again), and the study the user attribute "defrisk:fingerprint",
 * which tells a journal of another study apart.
 *
 * Shared (several processes on one study, a Slurm job array): every operation
 * takes the lock file PATH.lock (experiments/file_lock.h), opens the file
 * afresh, replays what the others appended since, then appends; a caller that
 * must decide on what it reads (which slot to run) holds the lock across with
 * dr_journal_lock. */
#ifndef DR_EXPERIMENTS_JOURNAL_H
#define DR_EXPERIMENTS_JOURNAL_H

#include "experiments/search_space.h"

/* Optuna's TrialState values */
typedef enum dr_trial_state {
    DR_TRIAL_RUNNING = 0,
    DR_TRIAL_COMPLETE = 1,
    DR_TRIAL_PRUNED = 2,
    DR_TRIAL_FAIL = 3
} dr_trial_state;

enum { DR_JOURNAL_MAX_ATTRS = 40 }; /* 30 metrics, the trial folder, seed, reason */

enum { DR_JOURNAL_KEY_CAP = 40 };

typedef struct dr_journal_attr {
    char key[DR_JOURNAL_KEY_CAP];
    double num;    /* numeric attributes */
    char str[256]; /* string attributes ("" for numeric ones) */
} dr_journal_attr;

typedef struct dr_journal_trial {
    long number, slot;
    char worker[64];              /* the worker_id of the process that created it: defrisk-HOST.PID */
    dr_trial_state state;
    double value;                 /* COMPLETE only */
    double v[DR_TPE_MAX_PARAMS];  /* sampler coordinates; NaN where a parameter is absent */
    int n_steps;
    double *steps;                /* intermediate value at each step, NaN where none */
    int n_attrs, cap_attrs;
    dr_journal_attr *attrs;       /* at most DR_JOURNAL_MAX_ATTRS */
} dr_journal_trial;

typedef struct dr_journal dr_journal;

/* Opens path, replaying it when it exists (its study must have this name,
 * direction and fingerprint, else DR_ERR_FORMAT naming the file) or starting it
 * with the study's creation. The space is referenced, not copied. */
dr_status dr_journal_open(dr_journal **out, const char *path, const dr_search_space *sp, const char *study_name,
                          int maximize, const char *fingerprint, int shared);
void dr_journal_close(dr_journal *j);
/* Opens a journal to read it without knowing its space (study commands): the
 * parameters' names and distributions come from the journal itself. */
dr_status dr_journal_read_only(dr_journal **out, const char *path);

long dr_journal_n_trials(const dr_journal *j);
const dr_journal_trial *dr_journal_trial_at(const dr_journal *j, long number);
/* parameter names in order of first appearance (read-only journals) or of the space */
int dr_journal_n_params(const dr_journal *j);
const char *dr_journal_param_name(const dr_journal *j, int k);
/* a parameter's value as text ("" where absent), numbers with `digits`
 * significant digits (17 keeps a double exactly) */
const char *dr_journal_param_text(const dr_journal *j, const dr_journal_trial *t, int k, int digits, char *buf,
                                  size_t cap);
const char *dr_journal_study_name(const dr_journal *j);
int dr_journal_maximize(const dr_journal *j);
const char *dr_journal_path(const dr_journal *j);
const char *dr_journal_worker_id(const dr_journal *j);
/* Shared journals: takes the lock (nested calls count) and replays the others'
 * lines; a journal that is not shared needs neither (both do nothing). */
dr_status dr_journal_lock(dr_journal *j);
void dr_journal_unlock(dr_journal *j);

/* A new RUNNING trial for slot with values v; *number is its trial number. */
dr_status dr_journal_start(dr_journal *j, long slot, const double *v, long *number);
dr_status dr_journal_step(dr_journal *j, long number, int step, double value);
dr_status dr_journal_attr_num(dr_journal *j, long number, const char *key, double value);
dr_status dr_journal_attr_str(dr_journal *j, long number, const char *key, const char *value);
/* n numeric attributes under one lock (a trial's metrics; a line each, as Optuna reads them) */
dr_status dr_journal_attrs_num(dr_journal *j, long number, int n, const char (*keys)[DR_JOURNAL_KEY_CAP],
                               const double *values);
/* value is ignored unless state is COMPLETE */
dr_status dr_journal_finish(dr_journal *j, long number, dr_trial_state state, double value);
/* A study-level user attribute (e.g. the refit run's folder). */
dr_status dr_journal_study_attr(dr_journal *j, const char *key, const char *value);
const char *dr_journal_get_study_attr(const dr_journal *j, const char *key);

#endif
