/* defrisk: the command behind ./run_experiment.
 *
 *   defrisk EXP.toml [section.key=value ...]    run an experiment
 *   defrisk --resume RUN_DIR [--workers N]      continue a killed run, or a study (also
 *                                               one that other processes run: join it)
 *   defrisk predict RUN_DIR LOANS.csv [OUT.csv] default probabilities for new loans
 *   defrisk ensemble RUN_DIR... [ensemble.key=value ...]
 *                                               the ensemble stage alone over earlier runs
 *   defrisk study ls|trials|best|export DIR     a study's trials
 *   defrisk sweep --slurm [--submit] EXP.toml   a study's Slurm batch script (an MPI job)
 * An experiment file with [search] or [sensitivity] runs a study; --resume
 * continues a study folder as it does a run folder. Under mpirun or srun a
 * study spreads its trials over the ranks (experiments/study_mpi.h). "trial" is the study's own
 * subcommand for one trial process (experiments/trial.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "experiments/experiment.h"
#include "experiments/study.h"
#include "experiments/study_mpi.h"

static int dr_usage(void)
{
    fprintf(stderr, "usage: run_experiment EXP.toml [section.key=value ...]\n"
                    "       run_experiment --resume RUN_DIR [--workers N]\n"
                    "       run_experiment predict RUN_DIR LOANS.csv [OUT.csv]\n"
                    "       run_experiment ensemble RUN_DIR... [ensemble.key=value ...]\n"
                    "       run_experiment explain RUN_DIR [explain.key=value ...]\n"
                    "       run_experiment study ls|trials|best|export DIR [OUT.csv]\n"
                    "       run_experiment sweep --slurm [--submit] [--ranks N] EXP.toml [section.key=value ...]\n"
                    "An experiment file with [search] or [sensitivity] runs a study (exp/README.md).\n");
    return 2;
}

/* Whether the file (with the overrides) asks for a study; a file that does not
 * load is left to the run, which reports it. */
static int dr_is_study(const char *path, const char *const *overrides, int n)
{
    dr_config *cfg;
    if (dr_config_load(&cfg, path) != DR_OK)
        return 0;
    for (int i = 0; i < n; i++)
        dr_config_override(cfg, overrides[i]);
    int study = dr_study_requested(cfg);
    dr_config_free(cfg);
    dr_error_clear();
    return study;
}

/* A study, on the MPI ranks when a launcher started us: rank 0 coordinates, the
 * others run trials. */
static dr_status dr_study_main(const dr_study_request *r)
{
    if (!dr_mpi_launched())
        return dr_study_run(r);
    int rank, size;
    DR_TRY(dr_mpi_begin(&rank, &size));
    if (rank > 0) {
        int rc = dr_mpi_relay_main();
        dr_mpi_end();
        exit(rc);
    }
    if (size == 1)
        fprintf(stderr, "warning: MPI with one rank: the study runs its trials in this process (search.workers); "
                        "mpirun -np N uses N-1 ranks for trials\n");
    dr_status s = dr_study_run(r);
    dr_mpi_stop_ranks();
    dr_mpi_end();
    return s;
}

/* A run under a launcher of several ranks would repeat itself on each. */
static dr_status dr_single_run(const char *path, const char *const *overrides, int n, const char *resume_dir)
{
    if (dr_mpi_launched()) {
        int rank, size;
        DR_TRY(dr_mpi_begin(&rank, &size));
        dr_mpi_end();
        if (rank > 0)
            exit(1);
        if (size > 1)
            return dr_error(DR_ERR_INVALID, "mpirun spreads studies ([search] or [sensitivity]) over ranks; this "
                            "experiment is a single run: start it without mpirun");
    }
    return dr_experiment_run(path, overrides, n, resume_dir);
}

int main(int argc, char **argv)
{
    /* The conv kernels' OpenMP threads and OpenBLAS's own threads (LSTM) take
     * turns on the same cores; OpenMP's default spin-waiting then burns the core
     * the other pool needs (the quickstart ran 2.7x slower). The runtime reads
     * the policy when it loads, so it is set here and the program restarted. */
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
        execv("/proc/self/exe", argv);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return dr_usage();
    if (!strcmp(argv[1], "trial"))
        return dr_trial_main(argc, argv);
    if (!strcmp(argv[1], "study"))
        return dr_study_command(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sweep"))
        return dr_sweep_command(argc - 1, argv + 1);
    dr_status s;
    if (!strcmp(argv[1], "--resume")) {
        int workers = 0;
        if (argc == 5 && !strcmp(argv[3], "--workers"))
            workers = atoi(argv[4]);
        if ((argc != 3 && argc != 5) || (argc == 5 && (workers < 1 || workers > 256)))
            return dr_usage();
        char journal[1100];
        snprintf(journal, sizeof journal, "%s/journal.jsonl", argv[2]);
        dr_study_request r = {.resume_dir = argv[2], .workers = workers};
        if (access(journal, F_OK) == 0)
            s = dr_study_main(&r);
        else if (workers)
            s = dr_error(DR_ERR_INVALID, "--workers: %s is a run folder, not a study's", argv[2]);
        else
            s = dr_single_run(NULL, NULL, 0, argv[2]);
    } else if (!strcmp(argv[1], "predict")) {
        if (argc != 4 && argc != 5)
            return dr_usage();
        s = dr_experiment_predict(argv[2], argv[3], argc == 5 ? argv[4] : "-");
    } else if (!strcmp(argv[1], "explain")) {
        if (argc < 3)
            return dr_usage();
        for (int i = 3; i < argc; i++)
            if (!strchr(argv[i], '=')) {
                fprintf(stderr, "error: '%s' is not an override of the form explain.key=value\n", argv[i]);
                return dr_usage();
            }
        s = dr_experiment_explain(argv[2], (const char *const *)argv + 3, argc - 3);
    } else if (!strcmp(argv[1], "ensemble")) {
        int n_dirs = 0;
        while (2 + n_dirs < argc && !strchr(argv[2 + n_dirs], '='))
            n_dirs++;
        if (n_dirs == 0)
            return dr_usage();
        for (int i = 2 + n_dirs; i < argc; i++)
            if (!strchr(argv[i], '=')) {
                fprintf(stderr, "error: '%s' follows the overrides; run folders come first\n", argv[i]);
                return dr_usage();
            }
        s = dr_experiment_ensemble((const char *const *)argv + 2, n_dirs, (const char *const *)argv + 2 + n_dirs,
                                   argc - 2 - n_dirs);
    } else {
        for (int i = 2; i < argc; i++)
            if (!strchr(argv[i], '=')) {
                fprintf(stderr, "error: '%s' is not an override of the form section.key=value\n", argv[i]);
                return dr_usage();
            }
        dr_study_request r = {.config_path = argv[1], .overrides = (const char *const *)argv + 2,
                              .n_overrides = argc - 2};
        s = dr_is_study(argv[1], r.overrides, r.n_overrides) ? dr_study_main(&r)
                                                             : dr_single_run(argv[1], r.overrides, r.n_overrides, NULL);
    }
    if (s != DR_OK) {
        fprintf(stderr, "\nerror: %s\n", dr_last_error());
        return 1;
    }
    return 0;
}
