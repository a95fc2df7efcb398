/* Each slot's state from the journal, and its values; see study_internal.h. */
#define _GNU_SOURCE /* futimens */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "experiments/file_lock.h"
#include "experiments/study_internal.h"

static int dr_interrupted(const dr_journal_trial *t)
{
    for (int a = 0; a < t->n_attrs; a++)
        if (strcmp(t->attrs[a].key, "fail_reason") == 0 && strncmp(t->attrs[a].str, "interrupted", 11) == 0)
            return 1;
    return 0;
}

/* --- liveness ------------------------------------------------------------------ */

static void dr_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
}

void dr_study_beat(dr_study *S)
{
    double now = dr_now();
    if (now - S->last_beat < 1.0)
        return;
    dr_touch(S->heartbeat);
    S->last_beat = now;
}

static void *dr_beat_thread(void *arg)
{
    dr_study *S = arg;
    for (int tick = 0; !atomic_load(&S->stop_beating); tick++) {
        if (tick % 5 == 0)
            dr_touch(S->heartbeat);
        nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
    }
    return NULL;
}

dr_status dr_study_beat_start(dr_study *S)
{
    atomic_store(&S->stop_beating, 0);
    int e = pthread_create(&S->beater, NULL, dr_beat_thread, S);
    if (e != 0)
        return dr_error(DR_ERR_IO, "cannot start the heartbeat thread: %s", strerror(e));
    return DR_OK;
}

void dr_study_beat_stop(dr_study *S)
{
    atomic_store(&S->stop_beating, 1);
    pthread_join(S->beater, NULL);
}

int dr_study_worker_alive(const dr_study *S, const char *worker_id)
{
    if (strcmp(worker_id, dr_journal_worker_id(S->j)) == 0)
        return 1;
    const char *name = strncmp(worker_id, "defrisk-", 8) == 0 ? worker_id + 8 : worker_id;
    if (dr_process_gone(name))
        return 0;
    char beat[1400];
    snprintf(beat, sizeof beat, "%s/workers/%s", S->run.dir, name);
    double age = dr_file_age(beat, S->heartbeat);
    return age >= 0 && age < DR_HEARTBEAT_STALE_S;
}

/* --- the study's state from its journal -------------------------------------- */

dr_status dr_study_scan(dr_study *S)
{
    long n = dr_journal_n_trials(S->j);
    for (long k = 0; k < S->st.trials; k++)
        S->final[k] = -1, S->running[k] = 0;
    S->drawn = S->prefix = 0;
    for (long k = 0; k < n; k++) {
        const dr_journal_trial *t = dr_journal_trial_at(S->j, k);
        if (t->slot < 0 || t->slot >= S->st.trials)
            return dr_error(DR_ERR_FORMAT, "%s: trial %ld runs slot %ld, but the study has %d", dr_journal_path(S->j),
                            k, t->slot, S->st.trials);
        if (t->state == DR_TRIAL_RUNNING && !dr_study_worker_alive(S, t->worker)) {
            /* its process was killed while it ran: the slot runs again, same values */
            DR_TRY(dr_journal_attr_str(S->j, k, "fail_reason", "interrupted: the study stopped while it ran; its "
                                       "slot was run again"));
            DR_TRY(dr_journal_finish(S->j, k, DR_TRIAL_FAIL, NAN));
            dr_run_log(&S->run, "trial %ld (slot %ld) was running when the study stopped (%s is gone): failed, slot "
                       "retried\n", k, t->slot, t->worker);
        }
        memcpy(S->v[t->slot], t->v, sizeof S->v[0]);
        if (t->slot >= S->drawn)
            S->drawn = t->slot + 1;
        if (t->state == DR_TRIAL_RUNNING)
            S->running[t->slot] = 1;
        else if (!dr_interrupted(t))
            S->final[t->slot] = k;
    }
    while (S->prefix < S->st.trials && S->final[S->prefix] >= 0)
        S->prefix++;
    return DR_OK;
}

static dr_tpe_state dr_tpe_state_of(dr_trial_state s)
{
    return s == DR_TRIAL_COMPLETE ? DR_TPE_COMPLETE : s == DR_TRIAL_PRUNED ? DR_TPE_PRUNED : DR_TPE_FAILED;
}

/* Cell values of a grid slot: every combination (first key slowest), or one key
 * at a time with the others as the file has them (NaN), each repeated per seed. */
static void dr_grid_values(const dr_study *S, long slot, double *v)
{
    const dr_search_space *sp = &S->st.space;
    long cell = slot / S->st.n_seeds;
    for (int j = 0; j < DR_TPE_MAX_PARAMS; j++)
        v[j] = NAN;
    if (S->st.grid == 1) {
        for (int j = sp->n - 1; j >= 0; j--) {
            v[j] = (double)(cell % sp->p[j].n_choices);
            cell /= sp->p[j].n_choices;
        }
        return;
    }
    for (int j = 0; j < sp->n; j++) {
        if (cell < sp->p[j].n_choices) {
            v[j] = (double)cell;
            return;
        }
        cell -= sp->p[j].n_choices;
    }
}

dr_status dr_study_draw(dr_study *S, long slot)
{
    if (S->st.grid) {
        dr_grid_values(S, slot, S->v[slot]);
        return DR_OK;
    }
    long upto = slot - S->st.lag; /* the sampler sees exactly slots 0 .. slot-lag-1 */
    for (; S->told < upto; S->told++) {
        const dr_journal_trial *t = dr_journal_trial_at(S->j, S->final[S->told]);
        dr_tpe_trial tt = {.number = S->told};
        memcpy(tt.v, S->v[S->told], sizeof tt.v);
        DR_TRY(dr_tpe_tell(S->tpe, &tt, dr_tpe_state_of(t->state), t->state == DR_TRIAL_COMPLETE ? t->value : NAN));
    }
    dr_tpe_trial liars[1024], out;
    int n_liars = 0;
    for (long k = upto > 0 ? upto : 0; k < slot; k++) {
        liars[n_liars].number = k;
        memcpy(liars[n_liars++].v, S->v[k], sizeof liars[0].v);
    }
    DR_TRY(dr_tpe_suggest_at(S->tpe, slot, liars, n_liars, &out));
    dr_search_space_deactivate(&S->st.space, out.v);
    memcpy(S->v[slot], out.v, sizeof out.v);
    return DR_OK;
}

/* The next slot that may start now, or -1: the first one neither settled nor
 * running, when (search) it is at most lag slots ahead of the settled prefix:
 * its values and pruning decisions depend on slots 0 .. slot-lag-1 only. */
long dr_study_next_slot(const dr_study *S)
{
    for (long k = S->prefix; k < S->st.trials; k++) {
        if (S->final[k] >= 0 || S->running[k])
            continue;
        return S->st.grid || k - S->st.lag <= S->prefix ? k : -1;
    }
    return -1;
}
