/* fnrun's commands that live outside fnrun.c. Each returns the process exit status. */
#ifndef FN_CLI_FNRUN_CMDS_H
#define FN_CLI_FNRUN_CMDS_H

#include <signal.h>

extern volatile sig_atomic_t fnrun_stop_requested; /* set by SIGINT/SIGTERM */

int fnrun_align(int argc, char **argv);  /* fnrun align INPUT_DIR OUTPUT_DIR [flags] */
int fnrun_detect(int argc, char **argv); /* fnrun detect IMAGE... [flags] */

#endif
