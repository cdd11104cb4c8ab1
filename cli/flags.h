/* Command-line flags in the reference's spelling: `--name value`, booleans as bare `--name`.
 * A table of FlagSpec drives parsing, defaults and --help. */
#ifndef FN_CLI_FLAGS_H
#define FN_CLI_FLAGS_H

#include <stdint.h>
#include <stdio.h>

typedef enum { FLAG_INT, FLAG_REAL, FLAG_STR, FLAG_BOOL } FlagType;

typedef struct {
    const char *name; /* without the leading -- */
    FlagType type;
    void *ptr; /* int*, double*, const char**, int* */
    const char *help;
} FlagSpec;

/* Parses argv[first..argc); positionals are collected into pos (up to max_pos). Returns 0, 1
 * after printing --help, or -1 after printing a one-line error to stderr. */
int flags_parse(const char *prog, const char *usage, const FlagSpec *specs, int n_specs, int argc,
                char **argv, int first, const char **pos, int max_pos, int *n_pos);
void flags_help(FILE *f, const char *prog, const char *usage, const FlagSpec *specs, int n);
/* argv[0..argc) joined by spaces (the command line for revision_info.txt); malloc'ed. */
char *flags_join(int argc, char **argv);
/* `name: value` per flag, one per line (arguments.txt); malloc'ed. */
char *flags_format(const FlagSpec *specs, int n);

#endif
