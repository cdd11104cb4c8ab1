/* runtime/dist as a build without MPI has it (FN_MPI off, or no libopenmpi-dev): no transport,
 * and the message fnrun gives when mpirun starts such a build (cli_comm_open) names the cause. */
#include <stdio.h>
#include <string.h>

#include "runtime/dist/dist.h"

int main(void) {
    RtStatus st = {0};
    int fails = 0;
    if (rt_mpi_available() != 0) fails++, printf("FAIL: rt_mpi_available says 1 without MPI\n");
    RtComm *c = rt_mpi_open(NULL, NULL, &st);
    if (c || !strstr(st.msg, "built without MPI") || !strstr(st.msg, "libopenmpi-dev"))
        fails++, printf("FAIL: rt_mpi_open without MPI: %p, '%s'\n", (void *)c, st.msg);
    else printf("ok   without MPI: %s\n", st.msg);
    rt_mpi_abort(NULL, 1); /* nothing to end: returns */
    printf("test_no_mpi: %d failed\n", fails);
    return fails != 0;
}
