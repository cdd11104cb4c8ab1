/* fnrun's commands that live outside fnrun.c. Each returns the process exit status. */
#ifndef FN_CLI_FNRUN_CMDS_H
#define FN_CLI_FNRUN_CMDS_H

#include <signal.h>

extern volatile sig_atomic_t fnrun_stop_requested; /* set by SIGINT/SIGTERM */

int fnrun_align(int argc, char **argv);  /* fnrun align INPUT_DIR OUTPUT_DIR [flags] */
int fnrun_detect(int argc, char **argv); /* fnrun detect IMAGE... [flags] */
int fnrun_import(int argc, char **argv); /* fnrun import SRC -o OUT.ckpt [flags] */
int fnrun_export(int argc, char **argv); /* fnrun export MODEL -o OUT.onnx [flags] */

#endif
