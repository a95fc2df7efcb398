/* Checkpoints and resume: a training run killed with SIGKILL at an arbitrary
 * moment and resumed from its run folder ends with exactly the weights of an
 * uninterrupted run (CPU backend); checkpoints of another layout version, of
 * another network, or truncated are refused with a message. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/h5.h"
#include "core/philox.h"
#include "experiments/checkpoint.h"
#include "kernels/backends.h"
#include "models/hybrid.h"
#include "tests/testutil.h"

/* Sizes that are not multiples of the batch (64): the last batch of an epoch is
 * short, and the next epoch must go back to full batches. */
enum { N_TRAIN = 380, N_VAL = 100, N_FEAT = 9, EPOCHS = 6, STEPS_PER_EPOCH = (N_TRAIN + 63) / 64 };

typedef struct fixture {
    dr_backend *be;
    float x[N_TRAIN * N_FEAT], y[N_TRAIN], vx[N_VAL * N_FEAT], vy[N_VAL];
    dr_rows train, val;
    dr_hybrid_config cfg;
    dr_train_config tc;
} fixture;

static fixture fx;

static void make_data(float *x, float *y, int n, uint32_t stream)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < N_FEAT; j++) {
            float v = 2.0f * dr_philox_uniform(tu_seed(), stream, (uint64_t)i, (uint64_t)j) - 1.0f;
            x[i * N_FEAT + j] = v;
            s += (j % 3 == 0 ? 1.0 : -0.5) * v;
        }
        y[i] = s + 0.3 * (dr_philox_uniform(tu_seed(), stream + 1, (uint64_t)i, 0) - 0.5) > 0 ? 1.0f : 0.0f;
    }
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(dr_backend_create(&fx.be, "cpu"), DR_OK);
    make_data(fx.x, fx.y, N_TRAIN, 10);
    make_data(fx.vx, fx.vy, N_VAL, 20);
    fx.train = (dr_rows){.n = N_TRAIN, .n_features = N_FEAT, .x = fx.x, .y = fx.y};
    fx.val = (dr_rows){.n = N_VAL, .n_features = N_FEAT, .x = fx.vx, .y = fx.vy};
    fx.cfg = (dr_hybrid_config){.n_groups = 2, .group_size = {5, 4}, .filters = {4, 6, 8}, .kernel = {3, 3, 3},
                                .pool = 2, .lstm_units = 6, .attention_dim = 5, .n_fc = 1, .fc = {8},
                                .dropout = 0.5f, .loss = {.a = 0.7f, .gamma = 2.0f, .w_pos = 1, .w_neg = 1}};
    fx.tc = (dr_train_config){.epochs = EPOCHS, .batch_size = 64, .lr = 3e-3, .beta1 = 0.9, .beta2 = 0.999,
                              .eps = 1e-8, .weight_decay = 1e-4, .plateau_patience = 1, .plateau_factor = 0.5,
                              .early_stop_patience = 100, .seed = 99};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dr_backend_free(fx.be);
    return 0;
}

static dr_model_io io_of(const dr_hybrid *m)
{
    return (dr_model_io){.g = m->g, .x = m->x, .seq = m->seq, .y = m->y, .logit = m->logit, .prob = m->prob, .loss = m->loss};
}

/* All parameters and buffers, flattened, after training to the end in run_dir. */
static float *train_to_end(const char *run_dir, int resume, long *n_out)
{
    dr_hybrid m;
    assert_int_equal(dr_hybrid_build(&m, fx.be, &fx.cfg, 7, 64), DR_OK);
    dr_model_io io = io_of(&m);
    dr_train_state st;
    dr_status s = dr_train(&io, &fx.tc, &fx.train, &fx.val, run_dir, resume, &st);
    if (s != DR_OK)
        printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_OK);
    assert_int_equal(st.epoch, EPOCHS);
    assert_int_equal(st.adam_step, EPOCHS * STEPS_PER_EPOCH);
    long n = st.n_param_floats + st.n_buffer_floats;
    float *w = malloc((size_t)n * sizeof *w);
    memcpy(w, st.best_params, (size_t)st.n_param_floats * sizeof *w);
    memcpy(w + st.n_param_floats, st.best_buffers, (size_t)st.n_buffer_floats * sizeof *w);
    dr_train_state_free(&st);
    dr_hybrid_free(&m);
    *n_out = n;
    return w;
}

static void make_run_dir(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/defrisk_test_resume_%s_%d", tag, (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", buf);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mkdir(buf, 0755), 0);
}

static void test_kill_and_resume_is_exact(void **state)
{
    (void)state;
    char ref_dir[256], run_dir[256];
    make_run_dir(ref_dir, sizeof ref_dir, "ref");
    long n_ref;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    float *ref = train_to_end(ref_dir, 0, &n_ref);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double full = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

    /* Each kill comes once the first checkpoint exists (so the resume path, not a
     * fresh start, is what gets compared), right away or after a share of the
     * run: mid-epoch and mid-checkpoint-write both happen. */
    const double extra[] = {0.0, 0.2, 0.5};
    int resumed_mid_run = 0;
    for (int k = 0; k < 3; k++) {
        make_run_dir(run_dir, sizeof run_dir, "kill");
        char ckpt[300];
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", run_dir);
        /* A new process, not a forked copy: OpenMP's thread pool does not survive
         * fork(), and a forked child that hangs in it would make the kill moot. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            execl("/proc/self/exe", "test_resume", "--train-child", run_dir, (char *)NULL);
            _exit(127);
        }
        const struct timespec poll = {0, 200000};
        for (int i = 0; i < 300000 && access(ckpt, F_OK) != 0; i++) /* up to a minute */
            nanosleep(&poll, NULL);
        int had_checkpoint = access(ckpt, F_OK) == 0;
        double wait_s = extra[k] * full;
        struct timespec ts = {(time_t)wait_s, (long)((wait_s - (double)(time_t)wait_s) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        int killed = WIFSIGNALED(status);
        printf("  killed %.2fs after the first checkpoint of a %.2fs run (%s)\n", wait_s, full,
               killed ? "by SIGKILL" : "it had already finished");
        printf("  checkpoint present at the kill: %s\n", had_checkpoint ? "yes" : "no");
        resumed_mid_run += killed && had_checkpoint;
        long n;
        float *got = train_to_end(run_dir, 1, &n);
        assert_int_equal(n, n_ref);
        long diff = 0;
        for (long i = 0; i < n; i++)
            diff += memcmp(&got[i], &ref[i], sizeof(float)) != 0;
        printf("  resumed run: %ld of %ld weights differ bitwise from the uninterrupted run\n", diff, n);
        assert_int_equal(diff, 0);
        free(got);
    }
    /* the kill right after the first of six checkpoints cannot miss the run */
    assert_true(resumed_mid_run >= 1);
    free(ref);
}

static void test_bad_checkpoints_refused(void **state)
{
    (void)state;
    char dir[256], path[300];
    make_run_dir(dir, sizeof dir, "bad");
    snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
    dr_hybrid m;
    assert_int_equal(dr_hybrid_build(&m, fx.be, &fx.cfg, 7, 64), DR_OK);
    dr_train_state st;
    dr_train_config tc = fx.tc;
    tc.epochs = 1;
    dr_model_io io = io_of(&m);
    assert_int_equal(dr_train(&io, &tc, &fx.train, &fx.val, dir, 0, &st), DR_OK);
    dr_train_state_free(&st);

    /* truncated: the first 4 KiB only */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "head -c 4096 %s > %s.trunc", path, path);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.trunc", path);
    dr_status s = dr_checkpoint_load(cmd, m.g, &st, 10);
    printf("  truncated: %s\n", dr_last_error());
    assert_int_not_equal(s, DR_OK);
    assert_non_null(strstr(dr_last_error(), "checkpoint.h5.trunc"));

    /* another layout version */
    dr_h5 *f;
    snprintf(cmd, sizeof cmd, "%s/v99.h5", dir);
    assert_int_equal(dr_h5_create(&f, cmd), DR_OK);
    assert_int_equal(dr_h5_attr_set_str(f, "/", "format", "defrisk-checkpoint"), DR_OK);
    assert_int_equal(dr_h5_attr_set_i64(f, "/", "version", 99), DR_OK);
    assert_int_equal(dr_h5_commit(f), DR_OK);
    assert_int_equal(dr_checkpoint_load(cmd, m.g, &st, 10), DR_ERR_FORMAT);
    printf("  version: %s\n", dr_last_error());
    assert_non_null(strstr(dr_last_error(), "version 99"));
    dr_hybrid_free(&m);

    /* another network: more LSTM units */
    dr_hybrid_config other = fx.cfg;
    other.lstm_units = 7;
    assert_int_equal(dr_hybrid_build(&m, fx.be, &other, 7, 64), DR_OK);
    s = dr_checkpoint_load(path, m.g, &st, 10);
    printf("  other network: %s\n", dr_last_error());
    assert_int_equal(s, DR_ERR_FORMAT);
    dr_hybrid_free(&m);
}

/* A non-finite loss stops training with a message naming the step, and nothing
 * of the run folder is overwritten by the diverged state. */
static void test_nan_loss_stops_training(void **state)
{
    (void)state;
    float x[N_TRAIN * N_FEAT];
    memcpy(x, fx.x, sizeof x);
    x[100 * N_FEAT + 3] = NAN; /* sample 100: in the second batch of epoch 1's order or later */
    dr_rows train = fx.train;
    train.x = x;
    dr_hybrid m;
    assert_int_equal(dr_hybrid_build(&m, fx.be, &fx.cfg, 7, 64), DR_OK);
    dr_model_io io = io_of(&m);
    dr_train_state st;
    dr_status s = dr_train(&io, &fx.tc, &train, &fx.val, NULL, 0, &st);
    printf("  %s\n", dr_last_error());
    assert_int_equal(s, DR_ERR_NUMERIC);
    assert_non_null(strstr(dr_last_error(), "epoch 1, step"));
    dr_train_state_free(&st);
    dr_hybrid_free(&m);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--train-child") == 0) {
        /* the run that test_kill_and_resume_is_exact kills */
        setup(NULL);
        long n;
        free(train_to_end(argv[2], 0, &n));
        teardown(NULL);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nan_loss_stops_training),
        cmocka_unit_test(test_kill_and_resume_is_exact),
        cmocka_unit_test(test_bad_checkpoints_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
