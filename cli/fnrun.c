/* fnrun: the runtime driver. Runs compiled artifacts: `fnrun train ARTIFACT [flags]`. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "runtime/artifact.h"
#include "runtime/train.h"

static int cmd_train(int argc, char **argv) {
    RtTrainOpts o;
    rt_train_defaults(&o);
    const char *data_dir = NULL;
    int seed = (int)o.seed;
    const FlagSpec specs[] = {
        {"data_dir", FLAG_STR, &data_dir, "class-per-folder training images"},
        {"batch_size", FLAG_INT, &o.batch_size, "images per step"},
        {"image_size", FLAG_INT, &o.image_size, "input height and width in pixels"},
        {"embedding_size", FLAG_INT, &o.embedding_size, "dimension of the embedding"},
        {"max_nrof_epochs", FLAG_INT, &o.max_nrof_epochs, "number of epochs to run"},
        {"epoch_size", FLAG_INT, &o.epoch_size, "batches per epoch"},
        {"learning_rate", FLAG_REAL, &o.learning_rate, "learning rate (plain SGD for now)"},
        {"keep_probability", FLAG_REAL, &o.keep_probability, "dropout keep probability"},
        {"weight_decay", FLAG_REAL, &o.weight_decay, "L2 weight regularisation"},
        {"seed", FLAG_INT, &seed, "random seed"},
        {"validation_set_split_ratio", FLAG_REAL, &o.validation_set_split_ratio,
         "fraction of each class held out for validation"},
        {"min_nrof_val_images_per_class", FLAG_INT, &o.min_nrof_val_images_per_class,
         "classes with fewer training images after the split are dropped from both sets"},
        {"validate_every_n_epochs", FLAG_INT, &o.validate_every_n_epochs,
         "validation pass every N epochs and at the last"},
        {"lfw_batch_size", FLAG_INT, &o.lfw_batch_size, "batch size of the validation pass"},
        {"random_rotate", FLAG_BOOL, &o.random_rotate, "rotate by a random angle in [-10, 10] degrees"},
        {"random_crop", FLAG_BOOL, &o.random_crop, "random image_size crop (else centre crop/pad)"},
        {"random_flip", FLAG_BOOL, &o.random_flip, "random horizontal flip"},
        {"use_fixed_image_standardization", FLAG_BOOL, &o.use_fixed_image_standardization,
         "(x - 127.5) / 128 instead of per-image prewhitening"},
        {"nrof_preprocess_threads", FLAG_INT, &o.nrof_preprocess_threads,
         "threads decoding and augmenting images ahead of the step"},
        {"max_bad_images", FLAG_INT, &o.max_bad_images,
         "unreadable images skipped before training stops"},
    };
    const char *pos[1];
    int n_pos;
    int r = flags_parse("fnrun train", "ARTIFACT --data_dir DIR [flags]", specs,
                        (int)(sizeof specs / sizeof specs[0]), argc, argv, 2, pos, 1, &n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (n_pos != 1) {
        fprintf(stderr, "fnrun train: missing ARTIFACT (see fnrun train --help)\n");
        return 2;
    }
    if (!data_dir) {
        fprintf(stderr, "fnrun train: --data_dir is required\n");
        return 2;
    }
    if (o.batch_size < 1 || o.image_size < 1 || o.embedding_size < 1 || o.epoch_size < 1 ||
        o.max_nrof_epochs < 0 || o.lfw_batch_size < 1 || o.nrof_preprocess_threads < 1 ||
        o.nrof_preprocess_threads > 256 || o.max_bad_images < 0) {
        fprintf(stderr, "fnrun train: sizes and counts must be positive\n");
        return 2;
    }
    if (o.validation_set_split_ratio < 0 || o.validation_set_split_ratio >= 1) {
        fprintf(stderr, "fnrun train: --validation_set_split_ratio must be in [0, 1)\n");
        return 2;
    }
    o.artifact = pos[0];
    o.data_dir = data_dir;
    o.seed = (uint64_t)seed;
    RtStatus st;
    if (rt_train(&o, NULL, 0, &st) < 0) {
        fprintf(stderr, "fnrun train: %s\n", st.msg);
        return 1;
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: fnrun COMMAND [args]\n\n"
               "commands:\n"
               "  train ARTIFACT --data_dir DIR [flags]   train a compiled model (fnc compile)\n"
               "\n`fnrun COMMAND --help` lists a command's flags. fn " FN_VERSION "\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return cmd_train(argc, argv);
    fprintf(stderr, "fnrun: unknown command '%s' (see fnrun --help)\n", argv[1]);
    return 2;
}
