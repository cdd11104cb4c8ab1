/* See llvm_jit.h. With LLVM: parse the text, run the "default<O3>" pipeline with a target machine
 * for the host CPU and its features (so the loop vectoriser uses AVX-512 where there is one),
 * then hand the module to an LLJIT built from the same target machine, with the process's own
 * symbols (libm's exp, log, pow) visible to it. */
#include "codegen/llvm/llvm_jit.h"

#include <stdio.h>
#include <stdlib.h>

#include "ir/alloc.h"
#include "ir/pool.h"

#ifdef FN_HAVE_LLVM
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <string.h>

struct LlJit {
    LLVMOrcLLJITRef jit;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char host_cpu[64];

static void init_llvm(void) {
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    char *cpu = LLVMGetHostCPUName();
    snprintf(host_cpu, sizeof host_cpu, "%s", cpu);
    LLVMDisposeMessage(cpu);
}

int ll_jit_available(void) { return 1; }

const char *ll_jit_cpu(void) {
    pthread_once(&init_once, init_llvm);
    return host_cpu;
}

static LlJit *fail_err(LLVMErrorRef e, const char *what, FnStatus *st) {
    char *m = LLVMGetErrorMessage(e);
    fn_fail(st, "%s: %s", what, m);
    LLVMDisposeErrorMessage(m);
    return NULL;
}

/* The host's machine, or an older x86's for a forced instruction set below the host's. */
static LLVMTargetMachineRef host_machine(int isa, FnStatus *st) {
    char *triple = LLVMGetDefaultTargetTriple(), *features = LLVMGetHostCPUFeatures(), *msg = NULL;
    LLVMTargetRef target;
    LLVMTargetMachineRef tm = NULL;
    int forced = fn_isa_resolve(isa) < fn_isa_host();
    const char *cpu = !forced ? host_cpu : fn_isa_resolve(isa) == FN_ISA_AVX2 ? "haswell" : "x86-64";
    if (LLVMGetTargetFromTriple(triple, &target, &msg) == 0)
        tm = LLVMCreateTargetMachine(target, triple, cpu, forced ? "" : features, LLVMCodeGenLevelAggressive,
                                     LLVMRelocDefault, LLVMCodeModelJITDefault);
    else
        fn_fail(st, "LLVM has no target for %s: %s", triple, msg);
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(features);
    return tm;
}

LlJit *ll_jit_new(const char *text, const char *const *names, int n, LlKernel *fns, const char *asm_file, int isa,
                  FnStatus *st) {
    pthread_once(&init_once, init_llvm);
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(tsc);
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(text, strlen(text), "fn_fused");
    LLVMModuleRef mod = NULL;
    char *msg = NULL;
    if (LLVMParseIRInContext(ctx, buf, &mod, &msg)) { /* takes the buffer */
        fn_fail(st, "LLVM rejected the generated IR: %s", msg);
        LLVMDisposeMessage(msg);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return NULL;
    }
    LLVMTargetMachineRef tm = host_machine(isa, st);
    if (!tm) {
        LLVMDisposeModule(mod);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return NULL;
    }
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(mod, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, layout);
    LLVMDisposeTargetData(layout);
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 1);
    LLVMErrorRef e = LLVMRunPasses(mod, "default<O3>", tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (e) {
        LLVMDisposeModule(mod);
        LLVMDisposeTargetMachine(tm);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return fail_err(e, "LLVM optimisation", st);
    }
    if (asm_file && *asm_file) { /* the optimised module as host assembly */ /* from a copy: code generation changes the module it runs on */
        LLVMModuleRef copy = LLVMCloneModule(mod);
        if (LLVMTargetMachineEmitToFile(tm, copy, (char *)asm_file, LLVMAssemblyFile, &msg)) LLVMDisposeMessage(msg);
        LLVMDisposeModule(copy);
    }
    LlJit *j = fn_calloc(1, sizeof *j);
    if (!j) {
        LLVMDisposeModule(mod);
        LLVMDisposeTargetMachine(tm);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return fn_fail(st, "out of memory for the LLVM JIT"), NULL;
    }
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
    if ((e = LLVMOrcCreateLLJIT(&j->jit, builder))) { /* takes the builder */
        LLVMDisposeModule(mod);
        LLVMOrcDisposeThreadSafeContext(tsc);
        free(j);
        return fail_err(e, "LLVM JIT", st);
    }
    LLVMOrcDefinitionGeneratorRef gen;
    if (!(e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL,
                                                                   NULL)))
        LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->jit), gen);
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps it alive */
    if (!e) e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm);
    else LLVMOrcDisposeThreadSafeModule(tsm);
    for (int i = 0; !e && i < n; i++) {
        LLVMOrcExecutorAddress addr = 0;
        if (!(e = LLVMOrcLLJITLookup(j->jit, &addr, names[i]))) fns[i] = (LlKernel)(uintptr_t)addr;
    }
    if (e) {
        ll_jit_free(j);
        return fail_err(e, "LLVM JIT", st);
    }
    return j;
}

void ll_jit_free(LlJit *j) {
    if (!j) return;
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
    if (e) LLVMConsumeError(e);
    free(j);
}

#else /* built without LLVM */

struct LlJit {
    int unused;
};

int ll_jit_available(void) { return 0; }
const char *ll_jit_cpu(void) { return ""; }

LlJit *ll_jit_new(const char *text, const char *const *names, int n, LlKernel *fns, const char *asm_file, int isa,
                  FnStatus *st) {
    (void)text, (void)names, (void)n, (void)fns, (void)asm_file, (void)isa;
    fn_fail(st, "this build has no LLVM target (configure with LLVM 14 to get it)");
    return NULL;
}

void ll_jit_free(LlJit *j) { free(j); }

#endif
