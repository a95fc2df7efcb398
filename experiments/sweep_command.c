/* run_experiment sweep --slurm [--submit] [--ranks N] EXP.toml [key=value ...]
 * run_experiment sweep --slurm [--submit] [--ranks N] --resume STUDY_DIR
 *
 * Writes the Slurm batch script of a study as one MPI job (from
 * scripts/slurm/study_mpi.sbatch) into output.dir (with --resume, into the
 * study folder, continuing it), and with --submit hands it to sbatch. The file
 * must hold a study: [search] or [sensitivity]. */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/run.h"
#include "experiments/study.h"

typedef struct dr_sweep_args {
    int submit, ranks;
    const char *config, *resume;
    const char *const *overrides;
    int n_overrides;
} dr_sweep_args;

static dr_status dr_sweep_parse(int argc, char **argv, dr_sweep_args *a)
{
    int slurm = 0, i = 1;
    memset(a, 0, sizeof *a);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--slurm"))
            slurm = 1;
        else if (!strcmp(argv[i], "--submit"))
            a->submit = 1;
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc)
            a->resume = argv[++i];
        else if (!strcmp(argv[i], "--ranks") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 2 || n > 65536)
                return dr_error(DR_ERR_INVALID, "sweep --ranks %s: a whole number from 2 (rank 0 coordinates, the "
                                "others train) to 65536", argv[i]);
            a->ranks = (int)n;
        } else
            return dr_error(DR_ERR_INVALID, "sweep: unknown option %s", argv[i]);
    }
    if (!slurm)
        return dr_error(DR_ERR_INVALID, "sweep: --slurm is the one engine so far (mpirun runs a study directly)");
    if (a->resume && i < argc)
        return dr_error(DR_ERR_INVALID, "sweep --resume %s: the study folder holds its experiment; '%s' is one "
                        "argument too many", a->resume, argv[i]);
    if (a->resume)
        return DR_OK;
    if (i == argc)
        return dr_error(DR_ERR_INVALID, "sweep --slurm: no experiment file");
    a->config = argv[i];
    a->overrides = (const char *const *)argv + i + 1;
    a->n_overrides = argc - i - 1;
    for (int k = 0; k < a->n_overrides; k++)
        if (!strchr(a->overrides[k], '='))
            return dr_error(DR_ERR_INVALID, "sweep: '%s' is not an override of the form section.key=value",
                            a->overrides[k]);
    return DR_OK;
}

/* A word for a shell command line, in single quotes. */
static void dr_shell_word(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* The template with each @NAME@ replaced by its value (the command written as words). */
static dr_status dr_fill_template(const char *tpl_path, FILE *out, const char *const *names, const char *const *values,
                                  int n, const dr_sweep_args *a, const char *defrisk, const char *config)
{
    FILE *in = fopen(tpl_path, "r");
    if (!in)
        return dr_error(DR_ERR_IO, "cannot read the Slurm template %s: %s", tpl_path, strerror(errno));
    char line[2048];
    while (fgets(line, sizeof line, in)) {
        for (char *at = line; *at;) {
            char *open = strchr(at, '@'), *close = open ? strchr(open + 1, '@') : NULL;
            if (!close) {
                fputs(at, out);
                break;
            }
            fwrite(at, 1, (size_t)(open - at), out);
            size_t len = (size_t)(close - open - 1);
            int k = 0;
            while (k < n && (strlen(names[k]) != len || strncmp(open + 1, names[k], len) != 0))
                k++;
            if (k < n) {
                fputs(values[k], out);
            } else if (len == 7 && !strncmp(open + 1, "COMMAND", 7)) {
                dr_shell_word(out, defrisk);
                fprintf(out, a->resume ? " --resume " : " ");
                dr_shell_word(out, config);
                for (int o = 0; o < a->n_overrides; o++)
                    fputc(' ', out), dr_shell_word(out, a->overrides[o]);
            } else {
                fclose(in);
                return dr_error(DR_ERR_FORMAT, "%s: unknown placeholder %.*s", tpl_path, (int)len + 2, open);
            }
            at = close + 1;
        }
    }
    fclose(in);
    return DR_OK;
}

/* The study's settings, from the experiment file and overrides, or (--resume)
 * from the study folder's copy of them. */
static dr_status dr_sweep_load(const dr_sweep_args *a, dr_config **cfg, dr_study_settings *st)
{
    char path[1200];
    if (a->resume) {
        snprintf(path, sizeof path, "%s/journal.jsonl", a->resume);
        if (access(path, F_OK) != 0)
            return dr_error(DR_ERR_IO, "sweep --resume %s: not a study folder (no journal.jsonl)", a->resume);
        snprintf(path, sizeof path, "%s/experiment.toml", a->resume);
    }
    DR_TRY(dr_config_load(cfg, a->resume ? path : a->config));
    DR_TRY(a->resume ? dr_run_load_overrides(*cfg, a->resume) : DR_OK);
    for (int i = 0; i < a->n_overrides; i++)
        DR_TRY(dr_config_override(*cfg, a->overrides[i]));
    if (!dr_study_requested(*cfg))
        return dr_error(DR_ERR_INVALID, "%s holds no study ([search] or [sensitivity]): a single run needs no "
                        "cluster", a->config);
    return dr_study_settings_read(*cfg, st);
}

static dr_status dr_sweep_write(const dr_sweep_args *a, dr_config *cfg, const dr_study_settings *st, char *script,
                                size_t cap, int *ranks)
{
    const char *dir = a->resume;
    if (!dir)
        DR_TRY(dr_config_string(cfg, "output.dir", "runs", NULL, &dir));
    char here[1024], source[PATH_MAX], defrisk[1024], stem[256], log[1400];
    ssize_t n = readlink("/proc/self/exe", defrisk, sizeof defrisk - 1);
    const char *from = a->resume ? a->resume : a->config;
    if (!getcwd(here, sizeof here) || !realpath(from, source) || n < 0)
        return dr_error(DR_ERR_IO, "sweep: cannot resolve the path of %s: %s", from, strerror(errno));
    defrisk[n] = '\0';
    if (a->resume) {
        snprintf(stem, sizeof stem, "resume");
    } else {
        const char *base = strrchr(a->config, '/') ? strrchr(a->config, '/') + 1 : a->config;
        snprintf(stem, sizeof stem, "%.*s", (int)strcspn(base, "."), base);
    }
    /* one rank to coordinate, and as many as may train at once */
    int lanes = st->grid ? st->trials : st->lag + 1 < st->trials ? st->lag + 1 : st->trials;
    *ranks = a->ranks ? a->ranks : 1 + lanes;
    char ntasks[16], cpus[16], written_by[PATH_MAX + 64];
    snprintf(ntasks, sizeof ntasks, "%d", *ranks);
    snprintf(cpus, sizeof cpus, "%d", st->threads);
    snprintf(written_by, sizeof written_by, "run_experiment sweep --slurm %s%s (%d override%s)",
             a->resume ? "--resume " : "", from, a->n_overrides, a->n_overrides == 1 ? "" : "s");
    snprintf(script, cap, "%s/%s.sbatch", dir, stem);
    snprintf(log, sizeof log, "%s%s%s/%s-%%j.out", dir[0] == '/' ? "" : here, dir[0] == '/' ? "" : "/", dir, stem);
    const char *const names[] = {"WRITTEN_BY", "JOB_NAME", "NTASKS", "CPUS_PER_TASK", "LOG", "WORKDIR", "DEFRISK"};
    const char *const values[] = {written_by, stem, ntasks, cpus, log, here, defrisk};
    char tpl[1100];
    snprintf(tpl, sizeof tpl, "%s/scripts/slurm/study_mpi.sbatch", DR_SOURCE_DIR);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return dr_error(DR_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    FILE *out = fopen(script, "w");
    if (!out)
        return dr_error(DR_ERR_IO, "cannot write %s: %s", script, strerror(errno));
    dr_status s = dr_fill_template(tpl, out, names, values, 7, a, defrisk, source);
    if (fclose(out) != 0 && s == DR_OK)
        s = dr_error(DR_ERR_IO, "cannot write %s: %s", script, strerror(errno));
    if (s != DR_OK)
        remove(script);
    else
        chmod(script, 0755);
    return s;
}

static dr_status dr_sweep_submit(const char *script)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("sbatch", "sbatch", script, (char *)NULL);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return dr_error(DR_ERR_IO, "cannot run sbatch: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return dr_error(DR_ERR_INVALID, "sbatch is not on the PATH: %s is written; submit it on a machine with "
                        "Slurm (sbatch %s), or load Slurm first (for example: module load slurm)", script, script);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return dr_error(DR_ERR_IO, "sbatch %s failed (status %d); the script stays", script, WEXITSTATUS(status));
    return DR_OK;
}

static dr_status dr_sweep(const dr_sweep_args *a)
{
    dr_config *cfg = NULL;
    dr_study_settings st;
    char script[1400];
    int ranks = 0;
    dr_status s = dr_sweep_load(a, &cfg, &st);
    if (s == DR_OK)
        s = dr_sweep_write(a, cfg, &st, script, sizeof script, &ranks);
    dr_config_free(cfg);
    DR_TRY(s);
    printf("%s: %s %s of %d trials as one MPI job of %d ranks (%d cpu%s each)\n", script,
           a->resume ? "continuing the" : "a", st.section, st.trials, ranks, st.threads, st.threads > 1 ? "s" : "");
    if (!a->submit) {
        printf("submit it with: sbatch %s\n", script);
        return DR_OK;
    }
    return dr_sweep_submit(script);
}

int dr_sweep_command(int argc, char **argv)
{
    dr_sweep_args a;
    dr_status s = dr_sweep_parse(argc, argv, &a);
    if (s == DR_OK)
        s = dr_sweep(&a);
    if (s != DR_OK) {
        fprintf(stderr, "error: %s\n", dr_last_error());
        return s == DR_ERR_INVALID && !a.config ? 2 : 1;
    }
    return 0;
}
