/* run_experiment sweep --slurm [--submit] [--ranks N | --array N] EXP.toml [key=value ...]
 * run_experiment sweep --slurm [--submit] [--ranks N | --array N] --resume STUDY_DIR
 *
 * Writes the Slurm batch script of a study, as one MPI job
 * (scripts/slurm/study_mpi.sbatch, into output.dir) or as a job array of N
 * processes sharing the study's journal (scripts/slurm/study_array.sbatch; the
 * study folder is made and the experiment checked first, and the script goes
 * into it); --resume continues a study folder; --submit hands the script to
 * sbatch. The file must hold a study: [search] or [sensitivity]. */
#define _GNU_SOURCE /* realpath, open_memstream */
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
    int submit, ranks, array;
    const char *config, *resume;
    const char *const *overrides;
    int n_overrides;
} dr_sweep_args;

static dr_status dr_count_arg(const char *opt, const char *text, int lo, int *out)
{
    char *end;
    long n = strtol(text, &end, 10);
    if (*end || end == text || n < lo || n > 65536)
        return dr_error(DR_ERR_INVALID, "sweep %s %s: a whole number from %d to 65536%s", opt, text, lo,
                        lo == 2 ? " (rank 0 coordinates, the others train)" : "");
    *out = (int)n;
    return DR_OK;
}

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
        else if (!strcmp(argv[i], "--ranks") && i + 1 < argc)
            DR_TRY(dr_count_arg("--ranks", argv[++i], 2, &a->ranks));
        else if (!strcmp(argv[i], "--array") && i + 1 < argc)
            DR_TRY(dr_count_arg("--array", argv[++i], 1, &a->array));
        else
            return dr_error(DR_ERR_INVALID, "sweep: unknown option %s", argv[i]);
    }
    if (!slurm)
        return dr_error(DR_ERR_INVALID, "sweep: --slurm is the one engine so far (mpirun runs a study directly)");
    if (a->ranks && a->array)
        return dr_error(DR_ERR_INVALID, "sweep: --ranks (one MPI job) or --array (a job array), not both");
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
    fputs(" '", f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* The template with each @NAME@ replaced by its value. */
static dr_status dr_fill_template(const char *tpl_path, FILE *out, const char *const *names, const char *const *values,
                                  int n)
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
            if (k == n) {
                fclose(in);
                return dr_error(DR_ERR_FORMAT, "%s: unknown placeholder %.*s", tpl_path, (int)len + 2, open);
            }
            fputs(values[k], out);
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

/* What the job runs, as shell words: the study folder to continue (and, for
 * an array's task, one trial at a time), or the file and overrides to start. */
static char *dr_job_command(const dr_sweep_args *a, const char *defrisk, const char *source, int array_task)
{
    char *cmd = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cmd, &len);
    if (!f)
        return NULL;
    dr_shell_word(f, defrisk);
    if (a->resume || array_task)
        fputs(" --resume", f);
    dr_shell_word(f, source);
    for (int o = 0; !array_task && o < a->n_overrides; o++)
        dr_shell_word(f, a->overrides[o]);
    if (array_task)
        fputs(" --workers 1", f);
    fclose(f);
    memmove(cmd, cmd + 1, len); /* the first word's space */
    return cmd;
}

/* The batch script: an MPI job (into output.dir, or the study folder when it
 * continues one) or a job array (into the study folder, made first). */
static dr_status dr_sweep_write(const dr_sweep_args *a, dr_config *cfg, const dr_study_settings *st, char *script,
                                size_t cap, int *tasks)
{
    char study[1024] = "";
    if (a->array && !a->resume) { /* the array's tasks all continue one study: it exists first */
        dr_study_request r = {.config_path = a->config, .overrides = a->overrides, .n_overrides = a->n_overrides,
                              .create_only = 1, .dir_out = study, .dir_cap = sizeof study};
        DR_TRY(dr_study_run(&r));
    }
    const char *dir = a->resume ? a->resume : study;
    if (!*dir)
        DR_TRY(dr_config_string(cfg, "output.dir", "runs", NULL, &dir));
    char here[1024], source[PATH_MAX], defrisk[1024], stem[256], log[1400];
    ssize_t n = readlink("/proc/self/exe", defrisk, sizeof defrisk - 1);
    const char *from = a->resume ? a->resume : *study ? study : a->config;
    if (!getcwd(here, sizeof here) || !realpath(from, source) || n < 0)
        return dr_error(DR_ERR_IO, "sweep: cannot resolve the path of %s: %s", from, strerror(errno));
    defrisk[n] = '\0';
    if (a->array || a->resume) {
        snprintf(stem, sizeof stem, "%s", a->array ? "array" : "resume");
    } else {
        dr_run_stem(a->config, stem, sizeof stem);
    }
    /* MPI: one rank to coordinate, and as many as may train at once */
    int lanes = st->grid ? st->trials : st->lag + 1 < st->trials ? st->lag + 1 : st->trials;
    *tasks = a->array ? a->array : a->ranks ? a->ranks : 1 + lanes;
    char ntasks[16], array[32], cpus[16], written_by[PATH_MAX + 64];
    snprintf(ntasks, sizeof ntasks, "%d", *tasks);
    snprintf(array, sizeof array, "0-%d", *tasks - 1);
    snprintf(cpus, sizeof cpus, "%d", st->threads);
    snprintf(written_by, sizeof written_by, "run_experiment sweep --slurm%s%s %s (%d override%s)",
             a->array ? " --array " : "", a->array ? ntasks : "", a->resume ? a->resume : a->config, a->n_overrides,
             a->n_overrides == 1 ? "" : "s");
    snprintf(script, cap, "%s/%s.sbatch", dir, stem);
    snprintf(log, sizeof log, "%s%s%s/%s-%s.out", dir[0] == '/' ? "" : here, dir[0] == '/' ? "" : "/", dir, stem,
             a->array ? "%A_%a" : "%j");
    char *command = dr_job_command(a, defrisk, source, a->array > 0);
    if (!command)
        return dr_error(DR_ERR_NOMEM, "out of memory");
    const char *const names[] = {"WRITTEN_BY", "JOB_NAME", "NTASKS", "ARRAY", "CPUS_PER_TASK",
                                 "LOG",        "WORKDIR",  "DEFRISK", "COMMAND"};
    const char *const values[] = {written_by, a->config ? stem : "study", ntasks, array, cpus,
                                  log,        here,                       defrisk, command};
    char tpl[1100];
    snprintf(tpl, sizeof tpl, "%s/scripts/slurm/%s", DR_SOURCE_DIR, a->array ? "study_array.sbatch" : "study_mpi.sbatch");
    dr_status s = DR_OK;
    FILE *out = NULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        s = dr_error(DR_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    else if (!(out = fopen(script, "w")))
        s = dr_error(DR_ERR_IO, "cannot write %s: %s", script, strerror(errno));
    if (out) {
        s = dr_fill_template(tpl, out, names, values, 9);
        if (fclose(out) != 0 && s == DR_OK)
            s = dr_error(DR_ERR_IO, "cannot write %s: %s", script, strerror(errno));
        if (s != DR_OK)
            remove(script);
        else
            chmod(script, 0755);
    }
    free(command);
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
    int tasks = 0;
    dr_status s = dr_sweep_load(a, &cfg, &st);
    if (s == DR_OK)
        s = dr_sweep_write(a, cfg, &st, script, sizeof script, &tasks);
    dr_config_free(cfg);
    DR_TRY(s);
    if (a->array)
        printf("%s: %s %s of %d trials as a job array of %d tasks (%d cpu%s each, one trial at a time)\n", script,
               a->resume ? "continuing the" : "a", st.section, st.trials, tasks, st.threads, st.threads > 1 ? "s" : "");
    else
        printf("%s: %s %s of %d trials as one MPI job of %d ranks (%d cpu%s each)\n", script,
               a->resume ? "continuing the" : "a", st.section, st.trials, tasks, st.threads, st.threads > 1 ? "s" : "");
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
