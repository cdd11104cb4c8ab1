/* fnrun: the runtime driver. Runs compiled artifacts: train, validate, plot here; align and
 * detect in fnrun_align.c; import and export (models in and out) in fnrun_import.c and
 * fnrun_export.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/blas.h"
#include "cli/flags.h"
#include "cli/fnrun_cmds.h"
#include "cli/options.h"
#include "runtime/core/artifact.h"
#include "runtime/logs/plot.h"
#include "runtime/train/train.h"
#include "runtime/eval/validate.h"

volatile sig_atomic_t fnrun_stop_requested;

const char *fnrun_beside_exe(const char *name, char *buf, size_t cap) {
    size_t len = strlen(name);
    ssize_t n = cap > len + 2 ? readlink("/proc/self/exe", buf, cap - len - 2) : -1;
    char *slash = n > 0 ? (buf[n] = 0, strrchr(buf, '/')) : NULL;
    if (!slash) return name;
    memcpy(slash + 1, name, len + 1);
    return buf;
}

static void on_signal(int sig) {
    (void)sig;
    fnrun_stop_requested = 1;
}

/* The first of flags[] (names) whose value is below its minimum, named on stderr; 0 if none. */
static int below(const char *cmd, const char *const *names, const int *values, const int *mins, int n) {
    for (int i = 0; i < n; i++)
        if (values[i] < mins[i]) {
            fprintf(stderr, "%s: --%s must be %s (got %d)\n", cmd, names[i],
                    mins[i] == 0 ? "0 or more" : mins[i] == 1 ? "positive" : "at least 2", values[i]);
            return 1;
        }
    return 0;
}

int fnrun_backends(const char *cmd, const char *device, int threads, double memory_fraction, RtComm *comm, int verbose,
                   const char *what, FILE *log, CliBackends *b) {
    RtOptions opt;
    cli_options_from_env(&opt);
    opt.gpu_memory_fraction = memory_fraction;
    opt.gpu_device = comm ? comm->local_rank : 0; /* one card per rank of a machine */
    if (threads < 0 || threads > 1024) {
        fprintf(stderr, "%s: --threads must be 1..1024 (0: the CPUs this process may use)\n", cmd);
        return -1;
    }
    if (threads) opt.threads = threads;
    if (verbose) {
        fprintf(log, "Options:\n");
        rt_options_print(&opt, log);
    }
    RtStatus st;
    if (cli_backends_open(b, device, &opt, what, log, &st) < 0) {
        fprintf(stderr, "%s: %s\n", cmd, st.msg);
        cli_backends_close(b);
        return -1;
    }
    b->cpu.comm = b->gpu.comm = comm;
    return 0;
}

static int check_train_ranges(const RtTrainOpts *o) {
    const char *names[] = {"batch_size", "image_size", "embedding_size", "epoch_size", "max_nrof_epochs",
                           "lfw_batch_size", "nrof_preprocess_threads", "max_bad_images",
                           "learning_rate_decay_epochs", "lfw_nrof_folds"};
    const int values[] = {o->batch_size, o->image_size, o->embedding_size, o->epoch_size, o->max_nrof_epochs,
                          o->lfw_batch_size, o->nrof_preprocess_threads, o->max_bad_images,
                          o->learning_rate_decay_epochs, o->lfw_nrof_folds};
    const int mins[] = {1, 1, 1, 1, 0, 1, 1, 0, 1, 2};
    if (below("fnrun train", names, values, mins, 10)) return 1;
    const char *bad = o->nrof_preprocess_threads > 256 ? "--nrof_preprocess_threads must be at most 256"
                      : !(o->keep_probability > 0 && o->keep_probability <= 1) ? "--keep_probability must be in (0, 1]"
                      : !(o->moving_average_decay >= 0 && o->moving_average_decay < 1)
                          ? "--moving_average_decay must be in [0, 1)"
                          : NULL;
    if (bad) fprintf(stderr, "fnrun train: %s\n", bad);
    return bad != NULL;
}

/* fnrun train's flags: RtTrainOpts, and those the CLI reads itself or turns into its fields. */
typedef struct {
    RtTrainOpts o;
    const char *data_dir, *device, *model_def, *filter_filename;
    double gpu_memory_fraction, filter_percentile, min_nrof_val;
    int verbose, seed, filter_min_nrof_images_per_class, threads, sync_batch_norm;
} TrainArgs;

#define TRAIN_MAX_FLAGS 64

/* fnrun train's flag table (the order of --help and arguments.txt) into specs, pointing into a;
 * returns its length. */
static int train_flags(TrainArgs *a, FlagSpec *specs) {
    RtTrainOpts *o = &a->o;
    const FlagSpec table[] = {
        {"logs_base_dir", FLAG_STR, &o->logs_base_dir, "run logs go to a timestamped subfolder of it"},
        {"models_base_dir", FLAG_STR, &o->models_base_dir, "checkpoints go to a timestamped subfolder of it"},
        {"device", FLAG_STR, &a->device, "where the training step runs: cpu, gpu, or auto (the GPU if there is one)"},
        {"gpu_memory_fraction", FLAG_REAL, &a->gpu_memory_fraction, "of the free GPU memory the step may take"},
        {"threads", FLAG_INT, &a->threads, "CPU threads (default: the CPUs this process may use; FN_THREADS)"},
        {"pretrained_model", FLAG_STR, &o->pretrained_model, "checkpoint whose weights are restored by name and shape"},
        {"resume", FLAG_STR, &o->resume, "a run's model directory: continue it from its last checkpoint"},
        {"data_dir", FLAG_STR, &a->data_dir, "class-per-folder training images (A:B:... for a union)"},
        {"model_def", FLAG_STR, &a->model_def, "accepted for compatibility: the artifact is the model"},
        {"max_nrof_epochs", FLAG_INT, &o->max_nrof_epochs, "number of epochs to run"},
        {"batch_size", FLAG_INT, &o->batch_size, "images per step"},
        {"image_size", FLAG_INT, &o->image_size, "input height and width in pixels"},
        {"epoch_size", FLAG_INT, &o->epoch_size, "batches per epoch"},
        {"embedding_size", FLAG_INT, &o->embedding_size, "dimension of the embedding"},
        {"random_crop", FLAG_BOOL, &o->random_crop, "random image_size crop (else centre crop/pad)"},
        {"random_flip", FLAG_BOOL, &o->random_flip, "random horizontal flip"},
        {"random_rotate", FLAG_BOOL, &o->random_rotate, "rotate by a random angle in [-10, 10] degrees"},
        {"use_fixed_image_standardization", FLAG_BOOL, &o->use_fixed_image_standardization,
         "(x - 127.5) / 128 instead of per-image prewhitening"},
        {"keep_probability", FLAG_REAL, &o->keep_probability, "dropout keep probability"},
        {"weight_decay", FLAG_REAL, &o->weight_decay, "L2 weight regularisation"},
        {"center_loss_factor", FLAG_REAL, &o->center_loss_factor, "weight of the center loss"},
        {"center_loss_alfa", FLAG_REAL, &o->center_loss_alfa, "center update: c -= (1 - alfa)(c - x)"},
        {"prelogits_norm_loss_factor", FLAG_REAL, &o->prelogits_norm_loss_factor, "weight of the prelogits norm loss"},
        {"prelogits_norm_p", FLAG_REAL, &o->prelogits_norm_p, "p of that norm"},
        {"prelogits_hist_max", FLAG_REAL, &o->prelogits_hist_max, "upper edge of the prelogits histogram (stat.h5)"},
        {"optimizer", FLAG_STR, &o->optimizer, "ADAGRAD, ADADELTA, ADAM, RMSPROP or MOM (SGD too)"},
        {"learning_rate", FLAG_REAL, &o->learning_rate, "> 0: constant; <= 0: from the schedule file"},
        {"learning_rate_decay_epochs", FLAG_INT, &o->learning_rate_decay_epochs, "staircase decay period in epochs"},
        {"learning_rate_decay_factor", FLAG_REAL, &o->learning_rate_decay_factor, "staircase decay factor"},
        {"moving_average_decay", FLAG_REAL, &o->moving_average_decay, "decay of the weights' moving average"},
        {"eval_with_moving_averages", FLAG_BOOL, &o->eval_with_moving_averages,
         "validate with the averaged weights"},
        {"seed", FLAG_INT, &a->seed, "random seed"},
        {"nrof_preprocess_threads", FLAG_INT, &o->nrof_preprocess_threads,
         "threads decoding and augmenting images ahead of the step"},
        {"max_bad_images", FLAG_INT, &o->max_bad_images, "unreadable images skipped before training stops"},
        {"log_histograms", FLAG_BOOL, &o->log_histograms, "TensorBoard histograms of weights and gradients"},
        {"learning_rate_schedule_file", FLAG_STR, &o->learning_rate_schedule_file,
         "'epoch: rate' lines, used when --learning_rate <= 0"},
        {"filter_filename", FLAG_STR, &a->filter_filename, "HDF5 file of distances to class centres"},
        {"filter_percentile", FLAG_REAL, &a->filter_percentile, "keep images below this percentile"},
        {"filter_min_nrof_images_per_class", FLAG_INT, &a->filter_min_nrof_images_per_class,
         "after filtering, drop smaller classes"},
        {"validate_every_n_epochs", FLAG_INT, &o->validate_every_n_epochs,
         "validation pass every N epochs and at the last"},
        {"validation_set_split_ratio", FLAG_REAL, &o->validation_set_split_ratio,
         "fraction of each class held out for validation"},
        {"min_nrof_val_images_per_class", FLAG_REAL, &a->min_nrof_val,
         "classes with fewer training images after the split are dropped from both sets"},
        {"lfw_pairs", FLAG_STR, &o->lfw_pairs, "LFW pairs file"},
        {"lfw_dir", FLAG_STR, &o->lfw_dir, "aligned LFW root (evaluation after every epoch)"},
        {"lfw_batch_size", FLAG_INT, &o->lfw_batch_size, "batch size of LFW and validation passes"},
        {"lfw_nrof_folds", FLAG_INT, &o->lfw_nrof_folds, "LFW cross-validation folds"},
        {"lfw_distance_metric", FLAG_INT, &o->lfw_distance_metric, "0 squared Euclidean, 1 angular"},
        {"lfw_use_flipped_images", FLAG_BOOL, &o->lfw_use_flipped_images, "concatenate flipped-image embeddings"},
        {"lfw_subtract_mean", FLAG_BOOL, &o->lfw_subtract_mean, "subtract the fold's mean embedding"},
        {"sync_batch_norm", FLAG_BOOL, &a->sync_batch_norm,
         "under mpirun: batch norm normalises with the global batch's moments (else each rank's slice's)"},
        {"verbose", FLAG_BOOL, &a->verbose, "print the runtime's options (fusion, LLVM, GPU) first"},
    };
    _Static_assert(sizeof table / sizeof table[0] <= TRAIN_MAX_FLAGS, "TRAIN_MAX_FLAGS is too small");
    memcpy(specs, table, sizeof table);
    return (int)(sizeof table / sizeof table[0]);
}

/* The values no flag parser checks; 1 after naming the first bad one on stderr. */
static int check_train_args(const TrainArgs *a) {
    const RtTrainOpts *o = &a->o;
    if (check_train_ranges(o)) return 1;
    const char *bad = o->validation_set_split_ratio < 0 || o->validation_set_split_ratio >= 1
                          ? "--validation_set_split_ratio must be in [0, 1)"
                      : o->prelogits_norm_p <= 0 ? "--prelogits_norm_p must be positive"
                      : o->resume && o->pretrained_model ? "--resume and --pretrained_model exclude each other"
                      : a->gpu_memory_fraction <= 0 || a->gpu_memory_fraction > 1
                          ? "--gpu_memory_fraction must be in (0, 1]"
                      : o->lfw_distance_metric != 0 && o->lfw_distance_metric != 1
                          ? "--lfw_distance_metric must be 0 or 1"
                          : NULL;
    if (bad) fprintf(stderr, "fnrun train: %s\n", bad);
    return bad != NULL;
}

/* Under mpirun: *comm the ranks (cli_comm_open; NULL: one process) and *threads this rank's
 * share of its machine's cores unless --threads or FN_THREADS says; 0, or -1 after a message. */
static int open_ranks(const TrainArgs *a, RtComm **comm, int *threads) {
    RtStatus st;
    *threads = a->threads;
    if (cli_comm_open(comm, a->sync_batch_norm, &st) < 0) {
        fprintf(stderr, "fnrun train: %s\n", st.msg);
        return -1;
    }
    int ranks = rt_comm_size(*comm);
    if (a->o.batch_size % ranks) { /* every rank finds it, so each ends cleanly */
        if (!rt_comm_rank(*comm))
            fprintf(stderr, "fnrun train: --batch_size %d does not split evenly over %d ranks: give a multiple of %d\n",
                    a->o.batch_size, ranks, ranks);
        return -1;
    }
    if (!*threads && *comm && !getenv("FN_THREADS")) *threads = cli_rank_threads(*comm);
    return 0;
}

/* The checked flags into a's RtTrainOpts, the backends opened, and the run; fnrun's exit code. */
static int run_train(TrainArgs *a, const FlagSpec *specs, int n_specs, int argc, char **argv, const char *artifact) {
    RtTrainOpts *o = &a->o;
    if (a->filter_filename)
        fprintf(stderr, "fnrun train: note: --filter_filename is not implemented yet and is ignored\n");
    /* a float in the reference, compared with an integer count: the smallest count that passes */
    o->min_nrof_val_images_per_class = (int)ceil(a->min_nrof_val);
    o->artifact = artifact;
    o->data_dir = a->data_dir;
    o->seed = (uint64_t)a->seed;
    o->arguments_text = flags_format(specs, n_specs);
    o->command_line = flags_join(argc, argv);
    o->stop = &fnrun_stop_requested;
    const char *fault = getenv("FN_FAULT_KILL_MIDWRITE"); /* the crash test (tests/cli_checkpoint.sh) */
    o->kill_midwrite = fault && fault[0] == '1';
    char logs[4096], models[4096], resume[4096];
    o->logs_base_dir = cli_path(o->logs_base_dir, logs, sizeof logs);
    o->models_base_dir = cli_path(o->models_base_dir, models, sizeof models);
    o->resume = cli_path(o->resume, resume, sizeof resume);
    CliBackends b;
    RtStatus st;
    RtComm *comm = NULL; /* the data-parallel ranks when mpirun started this process */
    int threads, rc = open_ranks(a, &comm, &threads);
    FILE *quiet = rt_comm_rank(comm) ? fopen("/dev/null", "w") : NULL; /* rank 0 alone prints */
    if (rc == 0)
        rc = fnrun_backends("fnrun train", a->device, threads, a->gpu_memory_fraction, comm, a->verbose && !quiet,
                            "training, validation and LFW", quiet ? quiet : stdout, &b);
    if (rc == 0) {
        o->backend = b.chosen;
        rc = rt_train(o, NULL, 0, &st);
        cli_backends_close(&b);
        if (rc < 0 && rt_comm_size(comm) > 1) { /* the others may wait for this rank in a reduction */
            fprintf(stderr, "fnrun train: rank %d of %d: %s\n", comm->rank, comm->size, st.msg);
            cli_comm_abort(comm);
        }
        if (rc < 0) fprintf(stderr, "fnrun train: %s\n", st.msg);
    }
    if (quiet) fclose(quiet);
    rt_comm_free(comm);
    free((char *)o->arguments_text);
    free((char *)o->command_line);
    return rc < 0 ? 1 : 0;
}

static int cmd_train(int argc, char **argv) {
    TrainArgs a = {.data_dir = "~/datasets/casia/casia_maxpy_mtcnnalign_182_160",
                   .device = "cpu",
                   .model_def = "models.inception_resnet_v1",
                   .gpu_memory_fraction = 1.0,
                   .filter_percentile = 100.0};
    rt_train_defaults(&a.o);
    a.seed = (int)a.o.seed;
    FlagSpec specs[TRAIN_MAX_FLAGS];
    int n_specs = train_flags(&a, specs);
    const char *pos[1];
    int n_pos;
    int r = flags_parse("fnrun train", "ARTIFACT [flags]", specs, n_specs, argc, argv, 2, pos, 1, &n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (n_pos != 1) {
        fprintf(stderr, "fnrun train: missing ARTIFACT (see fnrun train --help)\n");
        return 2;
    }
    if (check_train_args(&a)) return 2;
    return run_train(&a, specs, n_specs, argc, argv, pos[0]);
}

static int cmd_validate(int argc, char **argv) {
    RtValidateOpts o;
    rt_validate_defaults(&o);
    int seed = (int)o.seed, verbose = 0, threads = 0;
    const char *device = "cpu";
    const FlagSpec specs[] = {
        {"lfw_pairs", FLAG_STR, &o.lfw_pairs, "LFW pairs file"},
        {"lfw_batch_size", FLAG_INT, &o.lfw_batch_size, "images per forward pass"},
        {"image_size", FLAG_INT, &o.image_size, "input height and width in pixels"},
        {"lfw_nrof_folds", FLAG_INT, &o.lfw_nrof_folds, "cross-validation folds"},
        {"distance_metric", FLAG_INT, &o.distance_metric, "0 squared Euclidean, 1 angular"},
        {"use_flipped_images", FLAG_BOOL, &o.use_flipped_images, "concatenate flipped-image embeddings"},
        {"subtract_mean", FLAG_BOOL, &o.subtract_mean, "subtract the fold's mean embedding"},
        {"use_fixed_image_standardization", FLAG_BOOL, &o.use_fixed_image_standardization,
         "(x - 127.5) / 128 instead of per-image prewhitening"},
        {"use_moving_averages", FLAG_BOOL, &o.use_moving_averages, "evaluate the checkpoint's averaged weights"},
        {"embedding_size", FLAG_INT, &o.embedding_size, "for an artifact alone (a checkpoint knows its own)"},
        {"seed", FLAG_INT, &seed, "initialises an artifact alone"},
        {"nrof_preprocess_threads", FLAG_INT, &o.nrof_preprocess_threads, "decoding threads"},
        {"device", FLAG_STR, &device, "where the forward passes run: cpu, gpu, or auto (the GPU if there is one)"},
        {"threads", FLAG_INT, &threads, "CPU threads (default: the CPUs this process may use; FN_THREADS)"},
        {"verbose", FLAG_BOOL, &verbose, "print the runtime's options (fusion, LLVM, GPU) first"},
    };
    const char *pos[2];
    int n_pos;
    int r = flags_parse("fnrun validate", "MODEL LFW_DIR [flags]   (MODEL: artifact, checkpoint or run directory)",
                        specs, (int)(sizeof specs / sizeof specs[0]), argc, argv, 2, pos, 2, &n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (n_pos != 2) {
        fprintf(stderr, "fnrun validate: needs MODEL and LFW_DIR (see fnrun validate --help)\n");
        return 2;
    }
    const char *names[] = {"lfw_batch_size", "image_size", "embedding_size", "lfw_nrof_folds", "nrof_preprocess_threads"};
    const int values[] = {o.lfw_batch_size, o.image_size, o.embedding_size, o.lfw_nrof_folds, o.nrof_preprocess_threads};
    const int mins[] = {1, 1, 1, 2, 1};
    if (below("fnrun validate", names, values, mins, 5)) return 2;
    if (o.distance_metric != 0 && o.distance_metric != 1) {
        fprintf(stderr, "fnrun validate: --distance_metric must be 0 or 1\n");
        return 2;
    }
    struct stat sb0, sb1; /* validate_on_lfw.py takes LFW_DIR first */
    if (stat(pos[0], &sb0) == 0 && S_ISDIR(sb0.st_mode) && stat(pos[1], &sb1) == 0 && !S_ISDIR(sb1.st_mode)) {
        fprintf(stderr, "fnrun validate: LFW_DIR %s is a file; the order is MODEL LFW_DIR (validate_on_lfw.py's "
                        "is the reverse): fnrun validate %s %s\n", pos[1], pos[1], pos[0]);
        return 2;
    }
    o.model = pos[0];
    o.lfw_dir = pos[1];
    o.seed = (uint64_t)seed;
    o.stop = &fnrun_stop_requested;
    CliBackends b;
    if (fnrun_backends("fnrun validate", device, threads, 1.0, NULL, verbose, "LFW", stdout, &b) < 0) return 1;
    o.backend = b.chosen;
    RtStatus st;
    int rc = rt_validate(&o, &st);
    cli_backends_close(&b);
    if (rc < 0) {
        fprintf(stderr, "fnrun validate: %s\n", st.msg);
        return 1;
    }
    return 0;
}

static int cmd_plot(int argc, char **argv) {
    const char *out = NULL;
    const FlagSpec specs[] = {{"out", FLAG_STR, &out, "where the figures go (default LOG_DIR)"}};
    const char *pos[1];
    int n_pos;
    int r = flags_parse("fnrun plot", "LOG_DIR [--out DIR]", specs, 1, argc, argv, 2, pos, 1, &n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (n_pos != 1) {
        fprintf(stderr, "fnrun plot: missing LOG_DIR (see fnrun plot --help)\n");
        return 2;
    }
    RtStatus st;
    char dir[4096];
    if (rt_plot_run(pos[0], cli_path(out ? out : pos[0], dir, sizeof dir), stdout, &st) < 0) {
        fprintf(stderr, "fnrun plot: %s\n", st.msg);
        return 1;
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: fnrun COMMAND [args]\n\n"
               "commands:\n"
               "  train ARTIFACT [flags]            train a compiled model, as train_softmax.py\n"
               "  validate MODEL LFW_DIR [flags]    LFW verification, as validate_on_lfw.py\n"
               "  plot LOG_DIR                      learning-curve figures (PNG and SVG)\n"
               "  align INPUT_DIR OUTPUT_DIR [flags] MTCNN face crops, as align_dataset_mtcnn.py\n"
               "  detect IMAGE... [flags]           MTCNN boxes, scores and landmarks (TSV)\n"
               "  import SRC -o OUT.ckpt [flags]    a TensorFlow checkpoint or frozen graph, or a PyTorch\n"
               "                                    state dict, as an fn checkpoint\n"
               "  export MODEL -o OUT.onnx [flags]  the eval graph (image -> embedding) as ONNX\n"
               "  embed MODEL INPUT... -o OUT       embeddings of images to OUT.npy and OUT.tsv\n"
               "  compare MODEL IMAGE IMAGE...      faces' distances, as compare.py\n"
               "  classifier TRAIN|CLASSIFY DATA_DIR MODEL CLASSIFIER_FILE\n"
               "                                    an SVM on embeddings, as classifier.py\n"
               "\n`fnrun COMMAND --help` lists a command's flags; `fnrun --version` prints fn's version.\n"
               "fn " FN_VERSION "\n");
}

int main(int argc, char **argv) {
    cli_blas_select(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("fn %s\n", FN_VERSION);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!strcmp(argv[1], "train")) return cmd_train(argc, argv);
    if (!strcmp(argv[1], "align")) return fnrun_align(argc, argv);
    if (!strcmp(argv[1], "detect")) return fnrun_detect(argc, argv);
    if (!strcmp(argv[1], "validate")) return cmd_validate(argc, argv);
    if (!strcmp(argv[1], "plot")) return cmd_plot(argc, argv);
    if (!strcmp(argv[1], "import")) return fnrun_import(argc, argv);
    if (!strcmp(argv[1], "export")) return fnrun_export(argc, argv);
    if (!strcmp(argv[1], "embed")) return fnrun_embed(argc, argv);
    if (!strcmp(argv[1], "compare")) return fnrun_compare(argc, argv);
    if (!strcmp(argv[1], "classifier")) return fnrun_classifier(argc, argv);
    fprintf(stderr, "fnrun: unknown command '%s' (see fnrun --help)\n", argv[1]);
    return 2;
}
