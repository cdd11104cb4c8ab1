/* The weights' exponential moving average (--moving_average_decay). */
#ifndef FN_RT_EMA_H
#define FN_RT_EMA_H

#include "ir/pool.h"
#include "runtime/core/rt.h"

/* Variables that the weight moving average tracks: parameters and batch-norm statistics. */
int rt_var_is_averaged(const RtVar *v);
/* The decay after t steps: min(d, (1 + t) / (10 + t)). */
double rt_ema_decay(double d, int64_t t);
/* A copy of the averaged variables of vars (parameters and batch-norm statistics); NULL when
 * out of memory. */
RtVars *rt_ema_new(const RtVars *vars);
/* shadow -= (1 - decay)(shadow - value), decay = min(d, (1 + t) / (10 + t)) after t steps, in
 * chunks on the pool (NULL: the caller). */
void rt_ema_update(RtVars *ema, RtVars *vars, double d, int64_t t, FnPool *pool);
/* Exchanges the values of the averaged variables and their averages (evaluate, then undo). */
void rt_ema_swap(RtVars *ema, RtVars *vars);

#endif
