/* The training loop: artifact + dataset -> the bound train graph of the chosen optimiser ->
 * epochs of steps with the reference's console lines, the validation pass on the eval graph,
 * a checkpoint every epoch (last 3 kept), resume, the weight moving average, the NaN guard and
 * a clean stop on request. Batches come from the loader (loader.h).
 *
 * Data-parallel (the backend's RtComm has K > 1 ranks): --batch_size stays the global batch;
 * each rank loads and steps on its contiguous slice of every global batch (B / K samples), the
 * step's ALLREDUCEs make the update the global batch's; the console line's losses are the ranks'
 * mean, and a stop anywhere stops every rank after the same step. Validation and LFW are shared
 * (each rank takes a contiguous part, the results summed). Rank 0 alone makes the run's folders
 * and writes its logs, statistics and checkpoints; at each checkpoint the ranks check that
 * their variables are still the same bits. */
#include "runtime/train/train.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/alloc.h"
#include "runtime/core/artifact.h"
#include "runtime/core/checkpoint.h"
#include "runtime/core/ema.h"
#include "runtime/eval/embed.h"
#include "runtime/data/loader.h"
#include "runtime/train/rundir.h"
#include "runtime/train/schedule.h"
#include "runtime/train/trainlog.h"

#ifndef FN_GIT_REVISION
#define FN_GIT_REVISION "unknown"
#endif

void rt_train_defaults(RtTrainOpts *o) {
    memset(o, 0, sizeof *o);
    o->logs_base_dir = "~/logs/facenet";
    o->models_base_dir = "~/models/facenet";
    o->batch_size = 90;
    o->image_size = 160;
    o->embedding_size = 128;
    o->max_nrof_epochs = 500;
    o->epoch_size = 1000;
    o->seed = 666;
    o->optimizer = "ADAGRAD";
    o->learning_rate = 0.1;
    o->learning_rate_schedule_file = "data/learning_rate_schedule.txt";
    o->learning_rate_decay_epochs = 100;
    o->learning_rate_decay_factor = 1.0;
    o->moving_average_decay = 0.9999;
    o->prelogits_hist_max = 10.0;
    o->keep_probability = 1.0;
    o->prelogits_norm_p = 1.0;
    o->center_loss_alfa = 0.95;
    o->validate_every_n_epochs = 5;
    o->lfw_batch_size = 100;
    o->lfw_pairs = "data/pairs.txt";
    o->lfw_nrof_folds = 10;
    o->nrof_preprocess_threads = 4;
    o->max_bad_images = 10;
}

/* One bound graph with its input buffers. */
typedef struct {
    RtExec *ex;
    float *images, *lr;
    int32_t *labels;
    int batch;
} Step;

static void set_input(RtExec *ex, const char *name, double v) {
    float *p = rt_exec_input(ex, name, NULL);
    if (p) *p = (float)v;
}

static int step_open(Step *s, IrGraph *g, RtVars *vars, const RtTrainOpts *o, int batch,
                     int n_classes, int run_effects, int with_grads, const RtBackend *be, RtStatus *st) {
    memset(s, 0, sizeof *s);
    RtBinding b[] = {{"N", batch},
                     {"image_size", o->image_size},
                     {"embedding_size", o->embedding_size},
                     {"classes", n_classes}};
    const char **want = fn_malloc(((size_t)g->n_outputs + 8) * sizeof *want);
    if (!want) return rt_fail(st, "out of memory binding the training step");
    const char *base[] = {"loss", "xent", "accuracy", "reg_loss", "center_loss", "prelogits_norm", "prelogits"};
    int n_want = 0;
    for (int i = 0; i < 7; i++)
        if (ir_output(g, base[i]) != IR_NONE) want[n_want++] = base[i];
    for (int i = 0; with_grads && i < g->n_outputs; i++) /* for the gradient histograms */
        if (strncmp(ir_str(g, g->outputs[i].name), "grad/", 5) == 0) want[n_want++] = ir_str(g, g->outputs[i].name);
    s->ex = rt_exec_bind(be, g, vars, b, 4, want, n_want, run_effects, st);
    free(want);
    if (!s->ex) return -1;
    int64_t n_img;
    s->images = rt_exec_input(s->ex, "images", &n_img);
    s->labels = rt_exec_input(s->ex, "labels", NULL);
    s->lr = rt_exec_input(s->ex, "learning_rate", NULL);
    s->batch = batch;
    if (!s->images || !s->labels || n_img != (int64_t)batch * o->image_size * o->image_size * 3)
        return rt_fail(st, "the model must take inputs \"images\" [N,image_size,image_size,3] and "
                           "\"labels\" [N]");
    set_input(s->ex, "keep_probability", o->keep_probability);
    set_input(s->ex, "weight_decay", o->weight_decay);
    set_input(s->ex, "prelogits_norm_loss_factor", o->prelogits_norm_loss_factor);
    set_input(s->ex, "prelogits_norm_p", o->prelogits_norm_p);
    set_input(s->ex, "center_loss_factor", o->center_loss_factor);
    set_input(s->ex, "center_loss_alfa", o->center_loss_alfa);
    return 0;
}

/* The learning rate of global step `step` in an epoch of rate `lr`: the exponential decay. */
static double step_rate(const RtTrainOpts *o, double lr, int64_t step) {
    return lr * pow(o->learning_rate_decay_factor,
                    floor((double)step / ((double)o->learning_rate_decay_epochs * o->epoch_size)));
}

/* A loader of ds in batches of `batch` from the run's flags, from batch 0, unbounded, whole
 * batches; warnings about bad files go to stderr, not to the training log. */
static RtLoaderOpts loader_opts(const RtTrainOpts *o, const RtDataset *ds, int batch, int control, RtOrder order) {
    RtLoaderOpts lo = {ds, batch, o->image_size, control, o->nrof_preprocess_threads, 2, order,
                       o->seed, o->max_bad_images, 0, 0, NULL, 0, 0};
    return lo;
}

/* ---- validation -------------------------------------------------------------------------------- */
/* floor(n_val / batch) full batches in list order, as the reference. */
/* The validation pass over floor(n_val / batch) batches, rank r of K taking batches
 * [n r / K, n (r + 1) / K) and the means summed over the ranks. */
static int validate(Step *s, const RtDataset *val, const RtTrainOpts *o, RtComm *comm, int epoch, FILE *log,
                    double out[3], RtStatus *st) {
    int n_batches = val->n_images / s->batch, ranks = rt_comm_size(comm), me = rt_comm_rank(comm);
    int b0 = (int)((int64_t)n_batches * me / ranks), b1 = (int)((int64_t)n_batches * (me + 1) / ranks);
    double t0 = rt_now(), m[3] = {0, 0, 0}; /* loss, xent, accuracy */
    int control = o->use_fixed_image_standardization ? RT_AUG_FIXED_STD : 0;
    RtLoaderOpts lo = loader_opts(o, val, s->batch, control, RT_ORDER_SEQUENTIAL);
    lo.max_batches = b1 - b0, lo.first_batch = b0;
    RtLoader *ld = b1 > b0 ? rt_loader_new(&lo, st) : NULL;
    if (b1 > b0 && !ld) return -1;
    fprintf(log, "Running forward pass on validation set\n");
    RtLoaderFill fill = {ld, s->images, s->labels, NULL, NULL, 0};
    int staged = 0; /* on a GPU, batch b + 1 is loaded while batch b runs */
    for (int b = b0; b < b1; b++) {
        if ((!staged && rt_loader_fill(&fill, st) < 0) ||
            (staged = rt_exec_run_ahead(s->ex, o->seed, 0, b + 1 < b1, rt_loader_fill, &fill, st)) < 0) {
            rt_loader_free(ld);
            return -1;
        }
        m[0] += rt_exec_scalar(s->ex, "loss") / n_batches;
        m[1] += rt_exec_scalar(s->ex, "xent") / n_batches;
        m[2] += rt_exec_scalar(s->ex, "accuracy") / n_batches;
    }
    rt_loader_free(ld);
    if (rt_comm_allreduce(comm, m, 3, 8, 0, st) < 0) return -1;
    double loss = m[0], xent = m[1], acc = m[2];
    fprintf(log, "Validation Epoch: %d\tTime %.3f\tLoss %2.3f\tXent %2.3f\tAccuracy %2.3f\n", epoch,
            rt_now() - t0, loss, xent, acc);
    out[0] = loss, out[1] = xent, out[2] = acc;
    return 0;
}

/* ---- checkpoints --------------------------------------------------------------------------------- */
/* Keeps the `keep` checkpoints of this run with the largest epochs, and removes temporary files
 * left by a writer that died (ours are renamed before save returns). */
static void prune_checkpoints(const char *dir, const char *run, int keep) {
    char prefix[256];
    snprintf(prefix, sizeof prefix, "model-%s.ckpt-", run);
    long epochs[4096];
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        char *end;
        long ep = strtol(e->d_name + strlen(prefix), &end, 10);
        if (!*end) epochs[n++] = ep;
        else if (strncmp(end, ".tmp.", 5) == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        int larger = 0;
        for (int j = 0; j < n; j++) larger += epochs[j] > epochs[i];
        if (larger >= keep) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s%ld", dir, prefix, epochs[i]);
            unlink(path);
        }
    }
}

typedef struct {
    const RtTrainOpts *o;
    RtExec *ex; /* the training step's: a GPU holds the trained values until asked */
    RtVars *vars, *ema;
    int classes;
    char run[64], model_dir[4096], last[4096];
    double metagraph_s; /* the artifact copy's time, logged once as time/save_metagraph */
    FILE *log;
} Saver;

static int save(Saver *sv, int64_t step, RtStatus *st) {
    const RtTrainOpts *o = sv->o;
    int epoch = (int)((step + o->epoch_size - 1) / o->epoch_size); /* the epoch the step ends */
    if (epoch < 1) epoch = 1;
    RtCkptInfo info = {{0}, step, o->seed, {0}, o->epoch_size, o->batch_size,
                       o->image_size, o->embedding_size, sv->classes};
    snprintf(info.run, sizeof info.run, "%s", sv->run);
    snprintf(info.optimizer, sizeof info.optimizer, "%s", o->optimizer);
    char path[4096];
    snprintf(path, sizeof path, "%s/model-%s.ckpt-%d", sv->model_dir, sv->run, epoch);
    fprintf(sv->log, "Saving variables\n");
    double t0 = rt_now();
    if (rt_exec_sync_host(sv->ex, sv->ema, st) < 0) return -1;
    if (rt_checkpoint_save(path, &info, sv->vars, sv->ema, sv->o->kill_midwrite, st) < 0) return -1;
    fprintf(sv->log, "Variables saved in %.2f seconds\n", rt_now() - t0);
    snprintf(sv->last, sizeof sv->last, "%s", path);
    prune_checkpoints(sv->model_dir, sv->run, 3);
    return 0;
}

/* ---- LFW ------------------------------------------------------------------------------------ */
/* LFW on every rank, each embedding its share of the images; rank 0 writes lfw_result.txt. */
static int lfw_eval(RtExec *ex, const RtLfwPairs *p, const RtTrainOpts *o, RtComm *comm, Saver *sv, int64_t step,
                    const char *log_dir, RtLfwResult *res, RtStatus *st) {
    RtEmbedOpts eo = {o->lfw_batch_size, o->image_size, o->nrof_preprocess_threads,
                      o->use_fixed_image_standardization, o->lfw_use_flipped_images,
                      o->lfw_nrof_folds, o->lfw_distance_metric, o->lfw_subtract_mean, sv->log, o->stop, NULL, NULL,
                      comm};
    RtLfwResult r;
    double t0 = rt_now(), ips;
    fprintf(sv->log, "Running forward pass on LFW images\n");
    if (rt_exec_sync_host(sv->ex, sv->ema, st) < 0) return -1;
    if (o->eval_with_moving_averages) rt_ema_swap(sv->ema, sv->vars);
    int rc = rt_exec_upload_vars(ex, st); /* a GPU's copy of the weights evaluated */
    if (rc == 0) rc = rt_lfw_run(ex, &eo, p, &r, &ips, st);
    if (o->eval_with_moving_averages) rt_ema_swap(sv->ema, sv->vars);
    if (rc < 0) return -1;
    fprintf(sv->log, "Accuracy: %2.5f+-%2.5f\nValidation rate: %2.5f+-%2.5f @ FAR=%2.5f\n", r.acc_mean,
            r.acc_std, r.val_mean, r.val_std, r.far_mean);
    fprintf(sv->log, "LFW evaluated in %.1f s (%.1f images/s)\n", rt_now() - t0, ips);
    char path[4200], line[128];
    snprintf(path, sizeof path, "%s/lfw_result.txt", log_dir);
    snprintf(line, sizeof line, "%lld\t%.5f\t%.5f\n", (long long)step, r.acc_mean, r.val_mean);
    *res = r;
    return rt_comm_rank(comm) ? 0 : rt_write_text(path, line, 1, st);
}

/* ---- the run ----------------------------------------------------------------------------------- */
static int setup_run(const RtTrainOpts *o, Saver *sv, char *log_dir, size_t cap, FILE *log,
                     RtStatus *st) {
    char base[4096];
    if (o->resume) {
        if (rt_mkdirs(o->resume, sv->model_dir, sizeof sv->model_dir, st) < 0) return -1;
        const char *slash = strrchr(sv->model_dir, '/');
        snprintf(sv->run, sizeof sv->run, "%s", slash && slash[1] ? slash + 1 : sv->model_dir);
    } else {
        if (rt_mkdirs(o->models_base_dir, base, sizeof base, st) < 0) return -1;
        if (rt_run_create(base, sv->run, sizeof sv->run, st) < 0) return -1;
        snprintf(sv->model_dir, sizeof sv->model_dir, "%s/%s", base, sv->run);
    }
    if (rt_mkdirs(o->logs_base_dir, base, sizeof base, st) < 0) return -1;
    snprintf(log_dir, cap, "%s/%s", base, sv->run);
    if (rt_mkdirs(log_dir, log_dir, cap, st) < 0) return -1;
    fprintf(log, "Model directory: %s\nLog directory: %s\n", sv->model_dir, log_dir);
    char path[4200], text[8192];
    if (!o->resume) { /* the graph beside its checkpoints (the reference's .meta) */
        snprintf(path, sizeof path, "%s/model-%s.fnc", sv->model_dir, sv->run);
        double t0 = rt_now();
        if (rt_artifact_copy(o->artifact, path, st) < 0) return -1;
        sv->metagraph_s = rt_now() - t0;
    }
    snprintf(path, sizeof path, "%s/arguments.txt", log_dir);
    if (!o->resume && o->arguments_text && rt_write_text(path, o->arguments_text, 0, st) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/revision_info.txt", log_dir);
    snprintf(text, sizeof text, "%sarguments: %s\nfn version: %s\ngit revision: %s\n",
             o->resume ? "\n# resumed\n" : "", o->command_line ? o->command_line : "",
             FN_VERSION, FN_GIT_REVISION);
    return rt_write_text(path, text, o->resume != NULL, st);
}

typedef struct {
    RtArtifact art;
    RtDataset all, train, val;
    RtVars *vars, *ema;
    Step ts, vs;
    RtExec *lfw; /* the eval graph bound to output embeddings, N = lfw_batch_size */
    RtLfwPairs pairs;
    RtLoader *ld;
    RtSchedule sched;
    RtTrainLog logs;
    IrGraph *g, *ge;  /* the training graph of --optimizer, the eval graph */
    Saver sv;
    char log_dir[4096], ckpt[4096]; /* ckpt: the checkpoint a resume starts from */
    RtCkptInfo info;                /* its header */
    int64_t step;                   /* the global step next to run */
    double waited, busy;            /* seconds the steps waited for data, and ran */
    RtComm *comm;                   /* the data-parallel ranks (the backend's; NULL: one process) */
    int rank, ranks;
} Run;

static void run_free(Run *r) {
    rt_loader_free(r->ld);
    rt_exec_free(r->ts.ex);
    rt_exec_free(r->vs.ex);
    rt_exec_free(r->lfw);
    rt_lfw_free(&r->pairs);
    rt_vars_free(r->vars);
    rt_vars_free(r->ema);
    rt_dataset_free(&r->all);
    rt_dataset_free(&r->train);
    rt_dataset_free(&r->val);
    rt_schedule_free(&r->sched);
    rt_trainlog_close(&r->logs);
    rt_artifact_free(&r->art);
}

/* Everything a start can fail on in the user's input, checked before any folder is created:
 * the LFW pairs (read into r->pairs) and the checkpoint to resume (its path and info). */
static int check_inputs(const RtTrainOpts *o, Run *r, char *resume_dir, char *ckpt, size_t cap,
                        RtCkptInfo *info, FILE *log, RtStatus *st) {
    struct stat sb;
    if (o->lfw_dir && o->lfw_dir[0]) {
        if (stat(o->lfw_dir, &sb) != 0) return rt_fail(st, "--lfw_dir %s: no such directory", o->lfw_dir);
        if (!S_ISDIR(sb.st_mode)) return rt_fail(st, "--lfw_dir %s: is a file, not a directory", o->lfw_dir);
        if (rt_lfw_read_pairs(o->lfw_pairs, o->lfw_dir, &r->pairs, st) < 0 ||
            rt_lfw_check_folds(&r->pairs, o->lfw_nrof_folds, st) < 0)
            return -1;
    }
    if (!o->resume) return 0;
    snprintf(resume_dir, cap, "%s", o->resume);
    if (stat(resume_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return rt_fail(st, "--resume %s: no such run directory", o->resume);
    if (rt_checkpoint_latest_intact(resume_dir, log, ckpt, cap, info, st) < 0) return -1;
    if (strcmp(info->optimizer, o->optimizer) || info->seed != o->seed || info->epoch_size != o->epoch_size ||
        info->batch_size != o->batch_size)
        return rt_fail(st, "--resume %s: the run used --optimizer %s --seed %llu --epoch_size %d "
                           "--batch_size %d; give the same to continue it",
                       o->resume, info->optimizer, (unsigned long long)info->seed, info->epoch_size,
                       info->batch_size);
    return 0;
}


/* The artifact and its two graphs: --optimizer's training graph and the eval graph. */
static int open_graphs(const RtTrainOpts *o, Run *r, RtStatus *st) {
    char name[64];
    snprintf(name, sizeof name, "train/%s", o->optimizer);
    if (rt_artifact_load(o->artifact, &r->art, st) < 0) return -1;
    r->g = rt_artifact_graph(&r->art, name);
    r->ge = rt_artifact_graph(&r->art, "eval");
    if (!r->ge || !rt_artifact_graph(&r->art, "train/SGD"))
        return rt_fail(st, "artifact %s has no training graphs (its model defines no \"loss\")", o->artifact);
    if (!r->g)
        return rt_fail(st, "--optimizer %s: unknown (one of ADAGRAD, ADADELTA, ADAM, RMSPROP, MOM, SGD)", o->optimizer);
    return 0;
}

/* The dataset, the inputs checked, the run's folders made, the validation split. */
static int open_data(const RtTrainOpts *o, Run *r, FILE *log, RtStatus *st) {
    char resume_dir[4096];
    if (rt_dataset_scan(o->data_dir, &r->all, st) < 0) return -1;
    if (r->all.n_empty_classes > 0)
        fprintf(log, "Skipped %d empty class folder%s (the first: %s)\n", r->all.n_empty_classes,
                r->all.n_empty_classes > 1 ? "s" : "", r->all.first_empty);
    if (check_inputs(o, r, resume_dir, r->ckpt, sizeof r->ckpt, &r->info, log, st) < 0 ||
        (r->rank == 0 && setup_run(o, &r->sv, r->log_dir, sizeof r->log_dir, log, st) < 0))
        return -1;
    if (rt_dataset_split(&r->all, o->validation_set_split_ratio, o->min_nrof_val_images_per_class, o->seed,
                         &r->train, &r->val) < 0)
        return rt_fail(st, "out of memory splitting the dataset");
    fprintf(log, "Number of classes in training set: %d\nNumber of examples in training set: %d\n",
            r->train.n_classes, r->train.n_images);
    fprintf(log, "Number of classes in validation set: %d\nNumber of examples in validation set: %d\n",
            r->val.n_classes, r->val.n_images);
    if (r->train.n_images == 0)
        return rt_fail(st, "--data_dir %s: no training images after the validation split", o->data_dir);
    return 0;
}

/* The training step, the validation step and LFW's embeddings bound on the backend; validation
 * and LFW go to its host where the device cannot take them. */
static int bind_steps(const RtTrainOpts *o, Run *r, FILE *log, RtStatus *st) {
    const RtBackend *be = o->backend;
    int classes = r->train.n_classes;
    fprintf(log, "Building training graph\n");
    if (r->ranks > 1)
        fprintf(log, "Data-parallel: %d ranks, %d images each per step%s\n", r->ranks, o->batch_size / r->ranks,
                r->comm->sync_batch_norm ? ", batch norm synchronised" : "");
    r->vars = rt_vars_new(4);
    if (step_open(&r->ts, r->g, r->vars, o, o->batch_size / r->ranks, classes, 1, o->log_histograms, be, st) < 0)
        return -1;
    if (r->val.n_images >= o->lfw_batch_size &&
        step_open(&r->vs, r->ge, r->vars, o, o->lfw_batch_size, classes, 0, 0, be, st) < 0) {
        if (be->host == be) return -1;
        fprintf(log, "note: validation runs on the CPU: %s\n", st->msg); /* the device could not take it */
        rt_exec_free(r->vs.ex);
        if (step_open(&r->vs, r->ge, r->vars, o, o->lfw_batch_size, classes, 0, 0, be->host, st) < 0) return -1;
    }
    if (r->val.n_images > 0 && !r->vs.ex)
        fprintf(log, "note: %d validation images are fewer than --lfw_batch_size %d: no validation pass\n",
                r->val.n_images, o->lfw_batch_size);
    if (!o->lfw_dir || !o->lfw_dir[0]) return 0;
    RtBinding b[] = {{"N", o->lfw_batch_size}, {"image_size", o->image_size},
                     {"embedding_size", o->embedding_size}, {"classes", classes}};
    const char *want[] = {"embeddings"};
    r->lfw = rt_exec_bind(be, r->ge, r->vars, b, 4, want, 1, 0, st);
    if (!r->lfw && be->host != be) {
        fprintf(log, "note: LFW runs on the CPU: %s\n", st->msg);
        r->lfw = rt_exec_bind(be->host, r->ge, r->vars, b, 4, want, 1, 0, st);
    }
    if (!r->lfw) return -1;
    fprintf(log, "LFW directory: %s (%d pairs, %d skipped for missing images)\n", o->lfw_dir, r->pairs.n_pairs,
            r->pairs.n_skipped);
    return 0;
}

/* The variables: seeded, then the resumed checkpoint's or the pretrained weights, on the
 * device; the moving averages beside them; the saver pointed at them. */
static int init_vars(const RtTrainOpts *o, Run *r, FILE *log, RtStatus *st) {
    rt_vars_init(r->vars, o->seed);
    if (o->resume) {
        if (!(r->ema = rt_ema_new(r->vars))) return rt_fail(st, "out of memory for the moving averages");
        if (rt_checkpoint_load(r->ckpt, &r->info, r->vars, r->ema, st) < 0) return -1;
        r->step = r->info.step;
        snprintf(r->sv.last, sizeof r->sv.last, "%s", r->ckpt);
        fprintf(log, "Resuming from %s at step %lld\n", r->ckpt, (long long)r->step);
    } else {
        if (o->pretrained_model && rt_checkpoint_restore_weights(o->pretrained_model, r->vars, log, st) < 0) return -1;
        if (!(r->ema = rt_ema_new(r->vars))) return rt_fail(st, "out of memory for the moving averages");
    }
    if (rt_exec_upload_vars(r->ts.ex, st) < 0) return -1; /* the initialised or restored values */
    r->sv.ex = r->ts.ex;
    r->sv.vars = r->vars;
    r->sv.ema = r->ema;
    r->sv.classes = r->train.n_classes;
    return 0;
}

/* The logs opened, the memory and streams reported, the loader started at the next step. */
static int start_run(const RtTrainOpts *o, Run *r, FILE *log, RtStatus *st) {
    if (r->rank == 0 && rt_trainlog_open(&r->logs, o, r->log_dir, st) < 0) return -1;
    fprintf(log, "Variables: %lld trainable values; step buffers %.1f MiB\n", (long long)rt_vars_count(r->vars, 1),
            (double)(rt_exec_bytes(r->ts.ex) + (r->vs.ex ? rt_exec_bytes(r->vs.ex) : 0)) / (1 << 20));
    RtStreams s = rt_exec_streams(r->ts.ex);
    if (s.streams)
        fprintf(log, "GPU step: %d streams, %d waits between them; modelled length %.2f of one stream's\n", s.streams,
                s.waits, s.overlap);
    if (s.reductions)
        fprintf(log, "Reductions over the %d ranks: %d a step, in %d launches\n", r->ranks, s.reductions, s.buckets);
    int control = (o->random_rotate ? RT_AUG_ROTATE : 0) | (o->random_crop ? RT_AUG_CROP : 0) |
                  (o->random_flip ? RT_AUG_FLIP : 0) | (o->use_fixed_image_standardization ? RT_AUG_FIXED_STD : 0);
    /* rank r of K loads samples r B/K .. (r + 1) B/K of every batch */
    RtLoaderOpts lo = loader_opts(o, &r->train, o->batch_size, control, RT_ORDER_SHUFFLE);
    lo.first_batch = r->step;
    if (r->ranks > 1) lo.slice_len = o->batch_size / r->ranks, lo.slice_first = r->rank * lo.slice_len;
    return (r->ld = rt_loader_new(&lo, st)) ? 0 : -1;
}

/* The step's scalars (trainlog.h) as the ranks' mean, and whether any rank was asked to stop
 * (v[S_STOP] > 0): one small reduction a step. */
enum { S_STOP = RT_STEP_N, S_N };
static int step_scalars(const RtTrainOpts *o, Run *r, double v[S_N], RtStatus *st) {
    rt_trainlog_scalars(r->ts.ex, v);
    v[S_STOP] = o->stop && *o->stop;
    return rt_comm_allreduce(r->comm, v, S_N, 8, 1, st);
}

/* One epoch's training steps at learning rate lr; *t_train gets their time, *lr_eff the last
 * step's decayed rate. 1 when a stop was asked for (a checkpoint saved), 0, or -1. */
static int train_epoch(const RtTrainOpts *o, Run *r, int epoch, double lr, double *losses, int n_losses,
                       double *t_train, double *lr_eff, FILE *log, RtStatus *st) {
    int has = ir_output(r->g, "center_loss") != IR_NONE;
    /* on a GPU, the next batch is loaded while a step runs (not after the first step, whose
       images the log keeps) */
    RtLoaderFill fill = {r->ld, r->ts.images, r->ts.labels, &r->waited, r->ts.lr, 0};
    int staged = 0;
    for (int bi = (int)(r->step % o->epoch_size); bi < o->epoch_size; bi++, r->step++) {
        int64_t step = r->step;
        double t0 = rt_now();
        *lr_eff = step_rate(o, lr, step);
        fill.lr_value = (float)*lr_eff;
        if (!staged && rt_loader_fill(&fill, st) < 0) return -1;
        fill.lr_value = (float)step_rate(o, lr, step + 1);
        staged = rt_exec_run_ahead(r->ts.ex, o->seed, (uint64_t)step, step > 0 && bi + 1 < o->epoch_size,
                                   rt_loader_fill, &fill, st);
        double v[S_N];
        if (staged < 0 || step_scalars(o, r, v, st) < 0) return -1;
        double loss = v[RT_STEP_LOSS];
        if (!isfinite(loss))
            return rt_fail(st, "loss is %f at step %lld (epoch %d, batch %d): stopping; %s%s", loss, (long long)step + 1,
                           epoch, bi + 1, r->sv.last[0] ? "the last good checkpoint is " : "no checkpoint was written yet",
                           r->sv.last);
        if (rt_exec_ema_update(r->ts.ex, r->ema, o->moving_average_decay, step + 1, st) < 0) return -1;
        *t_train += rt_now() - t0;
        r->busy += rt_now() - t0;
        if (r->rank == 0 &&
            rt_trainlog_step(&r->logs, r->ts.ex, r->ts.images, r->ts.batch, r->vars, o, step, epoch, *lr_eff, v, st) < 0)
            return -1;
        if (losses && step < n_losses) losses[step] = loss;
        fprintf(log,
                "Epoch: [%d][%d/%d]\tTime %.3f\tLoss %2.3f\tXent %2.3f\tRegLoss %2.3f\t"
                "Accuracy %2.3f\tLr %2.5f\tCl %2.3f\n",
                epoch, bi + 1, o->epoch_size, rt_now() - t0, loss, v[RT_STEP_XENT], v[RT_STEP_REG], v[RT_STEP_ACC],
                *lr_eff, has ? v[RT_STEP_CL] : 0.0);
        fflush(log);
        if (v[S_STOP] > 0) {
            fprintf(log, "Stop requested: saving a checkpoint after step %lld\n", (long long)step + 1);
            return (r->rank == 0 && save(&r->sv, step + 1, st) < 0) ? -1 : 1;
        }
    }
    return 0;
}

/* The validation pass (every --validate_every_n_epochs and at the last epoch) with its stats
 * and events; *t_validate gets its time. */
static int validate_epoch(const RtTrainOpts *o, Run *r, int epoch, double *t_validate, FILE *log, RtStatus *st) {
    int n = o->validate_every_n_epochs > 0 ? o->validate_every_n_epochs : 1;
    if (!r->vs.ex || !((epoch - 1) % n == n - 1 || epoch == o->max_nrof_epochs)) return 0;
    double t0 = rt_now(), v[3] = {0, 0, 0};
    if (rt_exec_sync_host(r->ts.ex, r->ema, st) < 0) return -1;
    if (o->eval_with_moving_averages) rt_ema_swap(r->ema, r->vars);
    int vrc = rt_exec_upload_vars(r->vs.ex, st); /* a GPU's copy of the weights evaluated */
    if (vrc == 0) vrc = validate(&r->vs, &r->val, o, r->comm, epoch, log, v, st);
    if (o->eval_with_moving_averages) rt_ema_swap(r->ema, r->vars);
    if (vrc < 0) return -1;
    *t_validate = rt_now() - t0;
    if (r->rank) return 0;
    rt_stats_validation(r->logs.stats, epoch, v[0], v[1], v[2]);
    rt_events_scalar(r->logs.ev, "val/loss", r->step, v[0]);
    rt_events_scalar(r->logs.ev, "val/cross_entropy", r->step, v[1]);
    rt_events_scalar(r->logs.ev, "val/accuracy", r->step, v[2]);
    return 0;
}

/* A hash of every variable's bits */
static uint64_t vars_hash(const RtVars *vs) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < vs->n; i++) {
        const uint32_t *w = vs->v[i].data;
        for (int64_t j = 0; j < vs->v[i].n * vs->prec / 4; j++) h = rt_mix(h ^ w[j]);
    }
    return h;
}

/* Data-parallel: every rank's variables (the centres and slots among them) and moving averages
 * are rank 0's, bit for bit; -1 naming how many are not. */
static int replicas_agree(Run *r, RtStatus *st) {
    if (r->ranks < 2) return 0;
    if (rt_exec_sync_host(r->ts.ex, r->ema, st) < 0) return -1;
    uint64_t mine = rt_mix(vars_hash(r->vars) ^ (r->ema ? rt_mix(vars_hash(r->ema)) : 0)), first = mine;
    if (rt_comm_broadcast(r->comm, &first, sizeof first, 0, st) < 0) return -1;
    double unlike = mine != first;
    if (rt_comm_allreduce(r->comm, &unlike, 1, 8, 0, st) < 0) return -1;
    if (unlike > 0)
        return rt_fail(st, "after step %lld the variables or moving averages of %.0f of the %d ranks differ from rank 0's: stopping",
                       (long long)r->step, unlike, r->ranks);
    return 0;
}

/* After an epoch's steps, once every rank's variables are checked to be the same: validation and
 * LFW (shared by the ranks), then rank 0's checkpoint, events and statistics. */
static int end_epoch(const RtTrainOpts *o, Run *r, int epoch, double t_train, double lr_eff, FILE *log,
                     RtStatus *st) {
    double t_validate = 0, t_evaluate = 0;
    int first = r->rank == 0; /* the rank that writes */
    RtLfwResult lfw = {0};
    if (replicas_agree(r, st) < 0) return -1;
    if (first) rt_events_scalar(r->logs.ev, "time/total", r->step, t_train);
    if (validate_epoch(o, r, epoch, &t_validate, log, st) < 0) return -1;
    double t0 = rt_now();
    if (first) {
        if (save(&r->sv, r->step, st) < 0) return -1;
        rt_events_scalar(r->logs.ev, "time/save_variables", epoch, rt_now() - t0);
        rt_events_scalar(r->logs.ev, "time/save_metagraph", epoch, r->sv.metagraph_s); /* 0 after the first */
        r->sv.metagraph_s = 0;
    }
    if (r->lfw) {
        t0 = rt_now();
        if (lfw_eval(r->lfw, &r->pairs, o, r->comm, &r->sv, r->step, r->log_dir, &lfw, st) < 0) return -1;
        t_evaluate = rt_now() - t0;
        if (first) {
            rt_events_scalar(r->logs.ev, "lfw/accuracy", r->step, lfw.acc_mean);
            rt_events_scalar(r->logs.ev, "lfw/val_rate", r->step, lfw.val_mean);
            rt_events_scalar(r->logs.ev, "time/lfw", r->step, t_evaluate);
        }
    }
    if (!first) return 0;
    rt_stats_epoch(r->logs.stats, epoch, lfw.acc_mean, lfw.val_mean, lr_eff, t_train, t_validate, t_evaluate);
    fprintf(log, "Saving statistics\n");
    if (rt_stats_write(r->logs.stats, r->logs.stat_path, st) < 0) return -1;
    rt_events_flush(r->logs.ev);
    return 0;
}

/* The epochs from where the run stands to --max_nrof_epochs (or a rate of 0, or a stop). */
static int run_epochs(const RtTrainOpts *o, Run *r, double *losses, int n_losses, FILE *log, RtStatus *st) {
    fprintf(log, "Running training\n");
    for (int epoch = (int)(r->step / o->epoch_size) + 1; epoch <= o->max_nrof_epochs; epoch++) {
        double lr = o->learning_rate > 0 ? o->learning_rate : rt_schedule_rate(&r->sched, epoch);
        double t_train = 0, lr_eff = lr;
        if (lr <= 0) {
            fprintf(log, "Learning rate for epoch %d is %g: stopping\n", epoch, lr);
            break;
        }
        int rc = train_epoch(o, r, epoch, lr, losses, n_losses, &t_train, &lr_eff, log, st);
        if (rc) return rc < 0 ? -1 : 0;
        if (end_epoch(o, r, epoch, t_train, lr_eff, log, st) < 0) return -1;
    }
    fprintf(log, "Input: waited %.3f s of %.3f s of step time for data (%.1f%%) with %d threads; %d bad images skipped\n",
            r->waited, r->busy, r->busy > 0 ? 100 * r->waited / r->busy : 0.0, o->nrof_preprocess_threads,
            rt_loader_bad_images(r->ld));
    return 0;
}

int rt_train(const RtTrainOpts *o, double *losses, int n_losses, RtStatus *st) {
    if (!o->backend) return rt_fail(st, "no backend to train on (RtTrainOpts.backend)");
    RtComm *comm = o->backend->comm;
    int ranks = rt_comm_size(comm);
    if (o->batch_size % ranks)
        return rt_fail(st, "--batch_size %d does not split evenly over %d ranks: give a multiple of %d", o->batch_size,
                       ranks, ranks);
    FILE *log = o->log ? o->log : stdout, *quiet = NULL;
    if (rt_comm_rank(comm) && !(log = quiet = fopen("/dev/null", "w"))) /* console lines are rank 0's */
        return rt_fail(st, "rank %d: cannot open /dev/null", rt_comm_rank(comm));
    Run *r = fn_calloc(1, sizeof *r);
    if (!r) {
        if (quiet) fclose(quiet);
        return rt_fail(st, "out of memory starting the run");
    }
    r->comm = comm;
    r->rank = rt_comm_rank(comm);
    r->ranks = ranks;
    r->sv.o = o;
    r->sv.log = log;
    int rc = -1;
    if ((o->learning_rate > 0 || rt_schedule_load(o->learning_rate_schedule_file, &r->sched, st) == 0) &&
        open_graphs(o, r, st) == 0 && open_data(o, r, log, st) == 0 && bind_steps(o, r, log, st) == 0 &&
        init_vars(o, r, log, st) == 0 && start_run(o, r, log, st) == 0)
        rc = run_epochs(o, r, losses, n_losses, log, st);
    run_free(r);
    free(r);
    if (quiet) fclose(quiet);
    return rc;
}
