/* fnrun's commands that live outside fnrun.c. Each returns the process exit status. */
#ifndef FN_CLI_FNRUN_CMDS_H
#define FN_CLI_FNRUN_CMDS_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/options.h"
#include "runtime/tools/embed_files.h"

extern volatile sig_atomic_t fnrun_stop_requested; /* set by SIGINT/SIGTERM */

int fnrun_align(int argc, char **argv);  /* fnrun align INPUT_DIR OUTPUT_DIR [flags] */
int fnrun_detect(int argc, char **argv); /* fnrun detect IMAGE... [flags] */
/* The file `name` in the folder of this executable (where the build puts mtcnn.fnc and
 * inception_resnet_v1.fnc), in buf; `name` itself if that folder cannot be found. */
const char *fnrun_beside_exe(const char *name, char *buf, size_t cap);

/* The backends for --device, with the environment's options, --threads (0: theirs), memory_fraction, the
 * data-parallel ranks (NULL: one process; a rank takes the card of its place on its machine),
 * and with verbose the options printed; "Device: ..." printed, on log. -1 after a message on
 * stderr (cmd: its prefix). */
int fnrun_backends(const char *cmd, const char *device, int threads, double memory_fraction, RtComm *comm, int verbose,
                   const char *what, FILE *log, CliBackends *b);

int fnrun_import(int argc, char **argv); /* fnrun import SRC -o OUT.ckpt [flags] */
int fnrun_export(int argc, char **argv); /* fnrun export MODEL -o OUT.onnx [flags] */
int fnrun_embed(int argc, char **argv);  /* fnrun embed MODEL INPUT... -o OUT [flags] */
int fnrun_compare(int argc, char **argv); /* fnrun compare MODEL IMAGE IMAGE... [flags] */
/* The face tools' shared set-up (fnrun_embed.c): the embedding defaults, compare.py's margin 44,
 * the MTCNN nets beside fnrun and their weights from FN_MTCNN_WEIGHTS; and for --align a work
 * folder for the crops (work[4096], made under TMPDIR, rmdir'ed by the caller) with the nets on
 * b's CPU backend. */
void fnrun_face_defaults(RtEmbedFilesOpts *e, RtAlignInputsOpts *al, int *seed, char *mtcnn_buf, size_t cap);
int fnrun_align_setup(RtAlignInputsOpts *al, CliBackends *b, int image_size, char *work, RtStatus *st);
/* fnrun classifier TRAIN|CLASSIFY DATA_DIR MODEL CLASSIFIER_FILE [flags] */
int fnrun_classifier(int argc, char **argv);

#endif
