/* run_experiment study ls|best|trials|export: a study's journal as tables. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "experiments/study_report.h"

static const char *const dr_state_names[] = {"running", "complete", "pruned", "failed"};

static dr_status dr_open_study(const char *dir, dr_journal **j)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/journal.jsonl", dir);
    if (access(path, F_OK) != 0)
        return dr_error(DR_ERR_IO, "%s is not a study folder (no journal.jsonl)", dir);
    return dr_journal_read_only(j, path);
}

static const dr_journal_trial *dr_best_trial(const dr_journal *j)
{
    const dr_journal_trial *best = NULL;
    for (long k = 0; k < dr_journal_n_trials(j); k++) {
        const dr_journal_trial *t = dr_journal_trial_at(j, k);
        if (t->state == DR_TRIAL_COMPLETE &&
            (!best || (dr_journal_maximize(j) ? t->value > best->value : t->value < best->value)))
            best = t;
    }
    return best;
}

static void dr_print_summary(const char *dir, const dr_journal *j)
{
    long n[4] = {0};
    for (long k = 0; k < dr_journal_n_trials(j); k++)
        n[dr_journal_trial_at(j, k)->state]++;
    const dr_journal_trial *b = dr_best_trial(j);
    printf("%-48s %6ld %8ld %6ld %6ld %7ld  ", dir, dr_journal_n_trials(j), n[1], n[2], n[3], n[0]);
    if (b)
        printf("%.4f (trial %ld)\n", b->value, b->number);
    else
        printf("-\n");
}

static dr_status dr_cmd_ls(const char *dir)
{
    dr_journal *j;
    printf("%-48s %6s %8s %6s %6s %7s  %s\n", "study", "trials", "complete", "pruned", "failed", "running", "best");
    if (dr_open_study(dir, &j) == DR_OK) {
        dr_print_summary(dir, j);
        dr_journal_close(j);
        return DR_OK;
    }
    DIR *d = opendir(dir);
    if (!d)
        return dr_error(DR_ERR_IO, "cannot read folder %s", dir);
    struct dirent *ent;
    int found = 0;
    while ((ent = readdir(d))) {
        char sub[1100];
        snprintf(sub, sizeof sub, "%s/%s", dir, ent->d_name);
        if (ent->d_name[0] == '.' || dr_open_study(sub, &j) != DR_OK)
            continue;
        dr_print_summary(sub, j);
        dr_journal_close(j);
        found++;
    }
    closedir(d);
    dr_error_clear();
    if (!found)
        printf("(no study folder in %s)\n", dir);
    return DR_OK;
}

static dr_status dr_cmd_trials(const dr_journal *j)
{
    char val[256];
    printf("%6s %6s %-9s %10s", "trial", "slot", "state", "value");
    for (int p = 0; p < dr_journal_n_params(j); p++)
        printf("  %s", dr_journal_param_name(j, p));
    printf("\n");
    for (long k = 0; k < dr_journal_n_trials(j); k++) {
        const dr_journal_trial *t = dr_journal_trial_at(j, k);
        printf("%6ld %6ld %-9s ", t->number, t->slot, dr_state_names[t->state]);
        if (t->state == DR_TRIAL_COMPLETE)
            printf("%10.4f", t->value);
        else
            printf("%10s", "-");
        for (int p = 0; p < dr_journal_n_params(j); p++) {
            dr_journal_param_text(j, t, p, 6, val, sizeof val);
            printf("  %s", *val ? val : "-");
        }
        printf("\n");
    }
    return DR_OK;
}

static dr_status dr_cmd_best(const dr_journal *j)
{
    const dr_journal_trial *b = dr_best_trial(j);
    if (!b)
        return dr_error(DR_ERR_INVALID, "%s: no trial has completed", dr_journal_path(j));
    char val[256];
    printf("best trial %ld (slot %ld): %s value %.6f\n", b->number, b->slot,
           dr_journal_maximize(j) ? "maximized" : "minimized", b->value);
    for (int p = 0; p < dr_journal_n_params(j); p++) {
        dr_journal_param_text(j, b, p, 17, val, sizeof val);
        if (*val)
            printf("  %s = %s\n", dr_journal_param_name(j, p), val);
    }
    for (int a = 0; a < b->n_attrs; a++)
        if (b->attrs[a].str[0])
            printf("  %s: %s\n", b->attrs[a].key, b->attrs[a].str);
        else
            printf("  %s: %.6f\n", b->attrs[a].key, b->attrs[a].num);
    const char *refit = dr_journal_get_study_attr(j, "refit_run");
    if (refit)
        printf("refit run: %s\n", refit);
    return DR_OK;
}

static void dr_csv_text(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* every trial, its parameters and its attributes (the union of their names) */
static dr_status dr_cmd_export(const dr_journal *j, const char *out)
{
    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
    if (!f)
        return dr_error(DR_ERR_IO, "cannot write %s", out);
    const char *attr[128];
    int n_attr = 0;
    for (long k = 0; k < dr_journal_n_trials(j); k++) {
        const dr_journal_trial *t = dr_journal_trial_at(j, k);
        for (int a = 0; a < t->n_attrs; a++) {
            int seen = 0;
            for (int b = 0; b < n_attr && !seen; b++)
                seen = strcmp(attr[b], t->attrs[a].key) == 0;
            if (!seen && n_attr < 128)
                attr[n_attr++] = t->attrs[a].key;
        }
    }
    fprintf(f, "number,slot,state,value");
    for (int p = 0; p < dr_journal_n_params(j); p++) {
        fputc(',', f);
        dr_csv_text(f, dr_journal_param_name(j, p));
    }
    for (int a = 0; a < n_attr; a++)
        fprintf(f, ",%s", attr[a]);
    fprintf(f, "\n");
    char val[256];
    for (long k = 0; k < dr_journal_n_trials(j); k++) {
        const dr_journal_trial *t = dr_journal_trial_at(j, k);
        fprintf(f, "%ld,%ld,%s,", t->number, t->slot, dr_state_names[t->state]);
        if (t->state == DR_TRIAL_COMPLETE)
            fprintf(f, "%.17g", t->value);
        for (int p = 0; p < dr_journal_n_params(j); p++) {
            fputc(',', f);
            dr_csv_text(f, dr_journal_param_text(j, t, p, 17, val, sizeof val));
        }
        for (int a = 0; a < n_attr; a++) {
            fputc(',', f);
            for (int b = 0; b < t->n_attrs; b++)
                if (strcmp(t->attrs[b].key, attr[a]) == 0) {
                    if (t->attrs[b].str[0])
                        dr_csv_text(f, t->attrs[b].str);
                    else if (!isnan(t->attrs[b].num))
                        fprintf(f, "%.17g", t->attrs[b].num);
                }
        }
        fprintf(f, "\n");
    }
    if (f != stdout && fclose(f) != 0)
        return dr_error(DR_ERR_IO, "cannot write %s", out);
    return DR_OK;
}

int dr_study_command(int argc, char **argv)
{
    const char *usage = "usage: run_experiment study ls DIR | trials STUDY_DIR | best STUDY_DIR | "
                        "export STUDY_DIR [OUT.csv]\n";
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[1], "export") != 0)) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1], *dir = argv[2];
    dr_status s;
    if (strcmp(cmd, "ls") == 0) {
        s = dr_cmd_ls(dir);
    } else if (!strcmp(cmd, "trials") || !strcmp(cmd, "best") || !strcmp(cmd, "export")) {
        dr_journal *j;
        s = dr_open_study(dir, &j);
        if (s == DR_OK) {
            s = !strcmp(cmd, "trials") ? dr_cmd_trials(j)
                : !strcmp(cmd, "best") ? dr_cmd_best(j)
                                       : dr_cmd_export(j, argc == 4 ? argv[3] : "-");
            dr_journal_close(j);
        }
    } else {
        fputs(usage, stderr);
        return 2;
    }
    if (s != DR_OK) {
        fprintf(stderr, "error: %s\n", dr_last_error());
        return 1;
    }
    return 0;
}
