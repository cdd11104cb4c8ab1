/* fnrun import SRC -o OUT.ckpt: foreign weights as an fn checkpoint (interop/import.c). */
#include <stdio.h>

#include "cli/fnrun_cmds.h"

int fnrun_import(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "fnrun import: not built yet\n");
    return 2;
}
