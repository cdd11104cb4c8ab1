/* Shared test fixtures that need the runtime: a generated class-per-folder dataset and
 * compiling a model to an artifact. */
#ifndef FN_TEST_FIXTURES_H
#define FN_TEST_FIXTURES_H

/* classes x per_class PNG images of size x size under dir/c<k>/img<i>.png: class k is a fixed
 * colour per quadrant with per-image noise. */
void fx_make_dataset(const char *dir, int classes, int per_class, int size, unsigned seed);
/* The whole compiler pipeline into an artifact; 0 or -1 (diagnostics on stderr). */
int fx_compile(const char *model, const char *out);
/* The single subdirectory of dir (a run), into out; 0 or -1. */
int fx_only_subdir(const char *dir, char *out, unsigned cap);

#endif
