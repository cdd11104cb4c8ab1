; fn: fused loops (codegen/llvm/llvm_emit.c)
declare double @llvm.sqrt.f64(double)
declare float @llvm.fabs.f32(float)
declare double @llvm.fabs.f64(double)
declare double @exp(double)
declare double @log(double)
declare double @pow(double, double)
; AVX-512 hosts: full-width vectors (LLVM otherwise prefers 256 bits on them)
attributes #0 = { nounwind "prefer-vector-width"="512" }

; 1 nodes, ending prelu; 3 pointers
define void @fn_k0(i64 %rows, i64 %len, float** noalias nocapture readonly %p) #0 {
entry:
  %s0.a = getelementptr inbounds float*, float** %p, i64 0
  %s0 = load float*, float** %s0.a, align 8
  %s1.a = getelementptr inbounds float*, float** %p, i64 1
  %s1 = load float*, float** %s1.a, align 8
  %s2.a = getelementptr inbounds float*, float** %p, i64 2
  %s2 = load float*, float** %s2.a, align 8
  br label %row
row:
  %r = phi i64 [ 0, %entry ], [ %r.next, %row.end ]
  %base = mul nsw i64 %r, %len
  br label %body
body:
  %j = phi i64 [ 0, %row ], [ %j.next, %body ]
  %i = add nsw i64 %base, %j
  %l0.p = getelementptr inbounds float, float* %s0, i64 %i
  %l0 = load float, float* %l0.p, align 4, !llvm.access.group !2
  %l1.p = getelementptr inbounds float, float* %s1, i64 %j
  %l1 = load float, float* %l1.p, align 4, !llvm.access.group !2
  %m0.n = fmul float %l1, %l0
  %m0.c = fcmp ogt float %l0, 0x0000000000000000
  %m0 = select i1 %m0.c, float %l0, float %m0.n
  %o0.p = getelementptr inbounds float, float* %s2, i64 %i
  store float %m0, float* %o0.p, align 4, !llvm.access.group !2
  %j.next = add nuw nsw i64 %j, 1
  %j.more = icmp slt i64 %j.next, %len
  br i1 %j.more, label %body, label %row.end, !llvm.loop !0
row.end:
  %r.next = add nuw nsw i64 %r, 1
  %r.more = icmp slt i64 %r.next, %rows
  br i1 %r.more, label %row, label %exit
exit:
  ret void
}
!0 = distinct !{!0, !1}
!1 = !{!"llvm.loop.parallel_accesses", !2}
!2 = distinct !{}

