/* The flag parser shared by fnc and fnrun (see flags.h). */
#include "cli/flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void flags_help(FILE *f, const char *prog, const char *usage, const FlagSpec *specs, int n) {
    fprintf(f, "usage: %s %s\n", prog, usage);
    if (n) fprintf(f, "\nflags:\n");
    for (int i = 0; i < n; i++) {
        const FlagSpec *s = &specs[i];
        char def[256] = "";
        switch (s->type) {
        case FLAG_INT: snprintf(def, sizeof def, " (default %d)", *(int *)s->ptr); break;
        case FLAG_REAL: snprintf(def, sizeof def, " (default %g)", *(double *)s->ptr); break;
        case FLAG_STR:
            if (*(const char **)s->ptr) snprintf(def, sizeof def, " (default %s)", *(const char **)s->ptr);
            break;
        case FLAG_BOOL: break;
        }
        fprintf(f, "  --%-28s %s%s\n", s->name, s->help, def);
    }
}

int flags_parse(const char *prog, const char *usage, const FlagSpec *specs, int n_specs, int argc,
                char **argv, int first, const char **pos, int max_pos, int *n_pos) {
    *n_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            flags_help(stdout, prog, usage, specs, n_specs);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (*n_pos == max_pos) {
                fprintf(stderr, "%s: unexpected argument '%s' (see %s --help)\n", prog, a, prog);
                return -1;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const FlagSpec *s = NULL;
        for (int k = 0; k < n_specs; k++)
            if (strlen(specs[k].name) == len && !strncmp(specs[k].name, name, len)) s = &specs[k];
        if (!s) {
            fprintf(stderr, "%s: unknown flag --%.*s (see %s --help)\n", prog, (int)len, name, prog);
            return -1;
        }
        if (s->type == FLAG_BOOL) {
            *(int *)s->ptr = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "%s: flag --%s needs a value\n", prog, s->name);
            return -1;
        }
        char *end;
        errno = 0;
        if (s->type == FLAG_INT) {
            long x = strtol(v, &end, 10);
            if (*end || errno || end == v) {
                fprintf(stderr, "%s: flag --%s wants an integer, got '%s'\n", prog, s->name, v);
                return -1;
            }
            *(int *)s->ptr = (int)x;
        } else if (s->type == FLAG_REAL) {
            double x = strtod(v, &end);
            if (*end || errno || end == v) {
                fprintf(stderr, "%s: flag --%s wants a number, got '%s'\n", prog, s->name, v);
                return -1;
            }
            *(double *)s->ptr = x;
        } else {
            *(const char **)s->ptr = v;
        }
    }
    return 0;
}

char *flags_format(const FlagSpec *specs, int n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (int i = 0; i < n; i++) {
        const FlagSpec *s = &specs[i];
        fprintf(f, "%s: ", s->name);
        switch (s->type) {
        case FLAG_INT: fprintf(f, "%d\n", *(int *)s->ptr); break;
        case FLAG_REAL: fprintf(f, "%.17g\n", *(double *)s->ptr); break;
        case FLAG_STR: fprintf(f, "%s\n", *(const char **)s->ptr ? *(const char **)s->ptr : "None"); break;
        case FLAG_BOOL: fprintf(f, "%s\n", *(int *)s->ptr ? "True" : "False"); break;
        }
    }
    fclose(f);
    return buf;
}

char *flags_join(int argc, char **argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = calloc(n, 1);
    for (int i = 0; i < argc; i++) {
        strcat(s, argv[i]);
        if (i + 1 < argc) strcat(s, " ");
    }
    return s;
}
