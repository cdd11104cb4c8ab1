/* The transports of data-parallel runs (runtime/core/comm.h's RtComm): MPI, from Debian's Open
 * MPI (libopenmpi-dev), built where CMake finds it (FN_HAVE_MPI). cli/ opens one when mpirun
 * started the process and hands it to the backends and the training loop.
 * What this is not: a launcher (mpirun is) or a transport of fn's own.
 */
#ifndef FN_RT_DIST_H
#define FN_RT_DIST_H

#include "runtime/core/comm.h"

/* 1 when this build has MPI */
int rt_mpi_available(void);
/* MPI_Init (the step's thread alone calls MPI), then the world's ranks as an RtComm; NULL with st
 * filled when MPI cannot start (or the build has none); its local_rank and local_size count the
 * ranks on this machine. rt_comm_free finalises. */
RtComm *rt_mpi_open(int *argc, char ***argv, RtStatus *st);
/* Ends every rank of the job now (MPI_Abort), after this one failed: the others may be waiting
 * in a collective for it. */
void rt_mpi_abort(RtComm *c, int code);

#endif
