/* defrisk: the command behind ./run_experiment.
 *
 *   defrisk EXP.toml [section.key=value ...]    run an experiment
 *   defrisk --resume RUN_DIR                    continue a killed run
 *   defrisk predict RUN_DIR LOANS.csv [OUT.csv] default probabilities for new loans
 *   defrisk ensemble RUN_DIR... [ensemble.key=value ...]
 *                                               the ensemble stage alone over earlier runs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiments/experiment.h"

static int dr_usage(void)
{
    fprintf(stderr, "usage: run_experiment EXP.toml [section.key=value ...]\n"
                    "       run_experiment --resume RUN_DIR\n"
                    "       run_experiment predict RUN_DIR LOANS.csv [OUT.csv]\n"
                    "       run_experiment ensemble RUN_DIR... [ensemble.key=value ...]\n");
    return 2;
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
    dr_status s;
    if (!strcmp(argv[1], "--resume")) {
        if (argc != 3)
            return dr_usage();
        s = dr_experiment_run(NULL, NULL, 0, argv[2]);
    } else if (!strcmp(argv[1], "predict")) {
        if (argc != 4 && argc != 5)
            return dr_usage();
        s = dr_experiment_predict(argv[2], argv[3], argc == 5 ? argv[4] : "-");
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
        s = dr_experiment_run(argv[1], (const char *const *)argv + 2, argc - 2, NULL);
    }
    if (s != DR_OK) {
        fprintf(stderr, "\nerror: %s\n", dr_last_error());
        return 1;
    }
    return 0;
}
