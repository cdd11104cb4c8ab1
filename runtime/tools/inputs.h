/* The images a face tool is given on its command line: files, folders of images, and
 * class-per-folder trees, expanded in order into one list of paths, each with its class (the
 * subfolder's name in a tree, "" otherwise). What this is not: decoding (runtime/data/image.h)
 * or the training dataset (runtime/data/data.h, whose scanner the trees use). */
#ifndef FN_RT_INPUTS_H
#define FN_RT_INPUTS_H

#include "runtime/core/rt.h"

typedef struct {
    char **paths;   /* [n] */
    char **classes; /* [n]: "" outside a class tree */
    int n, cap;
} RtInputs;

/* Appends each argument: a file as it is; a folder with subfolders as a class tree (its
 * subfolders' files, classes and files sorted bytewise, as rt_dataset_scan); a folder without
 * subfolders as its files, sorted, hidden ones left out. An argument that does not exist or a
 * folder without images is an error naming it. */
int rt_inputs_add(RtInputs *in, const char *const *args, int n_args, RtStatus *st);
void rt_inputs_free(RtInputs *in);

#endif
