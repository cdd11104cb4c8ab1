/* fnrun export MODEL -o OUT.onnx: the eval graph as ONNX (interop/onnx_export.c). */
#include <stdio.h>

#include "cli/fnrun_cmds.h"

int fnrun_export(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "fnrun export: not built yet\n");
    return 2;
}
