; fn: fused loops (codegen/llvm/llvm_emit.c)
declare double @llvm.sqrt.f64(double)
declare float @llvm.fabs.f32(float)
declare double @llvm.fabs.f64(double)
declare double @exp(double)
declare double @log(double)
declare double @pow(double, double)
; AVX-512 hosts: full-width vectors (LLVM otherwise prefers 256 bits on them)
attributes #0 = { nounwind "prefer-vector-width"="512" }

; 2 nodes, ending relu; 3 pointers
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
  %m0 = fadd float %l0, %l1
  %m1.c = fcmp olt float %m0, 0x0000000000000000
  %m1 = select i1 %m1.c, float 0x0000000000000000, float %m0
  %o1.p = getelementptr inbounds float, float* %s2, i64 %i
  store float %m1, float* %o1.p, align 4, !llvm.access.group !2
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

; 1 nodes, ending bcast; 2 pointers
define void @fn_k1(i64 %rows, i64 %len, float** noalias nocapture readonly %p) #0 {
entry:
  %s0.a = getelementptr inbounds float*, float** %p, i64 0
  %s0 = load float*, float** %s0.a, align 8
  %s1.a = getelementptr inbounds float*, float** %p, i64 1
  %s1 = load float*, float** %s1.a, align 8
  %l0 = load float, float* %s0, align 4
  br label %row
row:
  %r = phi i64 [ 0, %entry ], [ %r.next, %row.end ]
  %base = mul nsw i64 %r, %len
  br label %body
body:
  %j = phi i64 [ 0, %row ], [ %j.next, %body ]
  %i = add nsw i64 %base, %j
  %m0 = fmul float %l0, 0x3FC99999A0000000
  %o0.p = getelementptr inbounds float, float* %s1, i64 %i
  store float %m0, float* %o0.p, align 4, !llvm.access.group !5
  %j.next = add nuw nsw i64 %j, 1
  %j.more = icmp slt i64 %j.next, %len
  br i1 %j.more, label %body, label %row.end, !llvm.loop !3
row.end:
  %r.next = add nuw nsw i64 %r, 1
  %r.more = icmp slt i64 %r.next, %rows
  br i1 %r.more, label %row, label %exit
exit:
  ret void
}
!3 = distinct !{!3, !4}
!4 = !{!"llvm.loop.parallel_accesses", !5}
!5 = distinct !{}

; 2 nodes, ending sub; 4 pointers
define void @fn_k2(i64 %rows, i64 %len, float** noalias nocapture readonly %p) #0 {
entry:
  %s0.a = getelementptr inbounds float*, float** %p, i64 0
  %s0 = load float*, float** %s0.a, align 8
  %s1.a = getelementptr inbounds float*, float** %p, i64 1
  %s1 = load float*, float** %s1.a, align 8
  %s2.a = getelementptr inbounds float*, float** %p, i64 2
  %s2 = load float*, float** %s2.a, align 8
  %s3.a = getelementptr inbounds float*, float** %p, i64 3
  %s3 = load float*, float** %s3.a, align 8
  %l1 = load float, float* %s1, align 4
  br label %row
row:
  %r = phi i64 [ 0, %entry ], [ %r.next, %row.end ]
  %base = mul nsw i64 %r, %len
  br label %body
body:
  %j = phi i64 [ 0, %row ], [ %j.next, %body ]
  %i = add nsw i64 %base, %j
  %l0.p = getelementptr inbounds float, float* %s0, i64 %i
  %l0 = load float, float* %l0.p, align 4, !llvm.access.group !8
  %m0 = fmul float %l0, %l1
  %l2.p = getelementptr inbounds float, float* %s2, i64 %i
  %l2 = load float, float* %l2.p, align 4, !llvm.access.group !8
  %m1 = fsub float %l2, %m0
  %o1.p = getelementptr inbounds float, float* %s3, i64 %i
  store float %m1, float* %o1.p, align 4, !llvm.access.group !8
  %j.next = add nuw nsw i64 %j, 1
  %j.more = icmp slt i64 %j.next, %len
  br i1 %j.more, label %body, label %row.end, !llvm.loop !6
row.end:
  %r.next = add nuw nsw i64 %r, 1
  %r.more = icmp slt i64 %r.next, %rows
  br i1 %r.more, label %row, label %exit
exit:
  ret void
}
!6 = distinct !{!6, !7}
!7 = !{!"llvm.loop.parallel_accesses", !8}
!8 = distinct !{}

; 3 nodes, ending sum; 4 pointers
define void @fn_k3(i64 %rows, i64 %len, float** noalias nocapture readonly %p) #0 {
entry:
  %s0.a = getelementptr inbounds float*, float** %p, i64 0
  %s0 = load float*, float** %s0.a, align 8
  %s1.a = getelementptr inbounds float*, float** %p, i64 1
  %s1 = load float*, float** %s1.a, align 8
  %s2.a = getelementptr inbounds float*, float** %p, i64 2
  %s2 = load float*, float** %s2.a, align 8
  %s3.a = getelementptr inbounds float*, float** %p, i64 3
  %s3 = load float*, float** %s3.a, align 8
  br label %row
row:
  %r = phi i64 [ 0, %entry ], [ %r.next, %row.end ]
  %base = mul nsw i64 %r, %len
  br label %body
body:
  %j = phi i64 [ 0, %row ], [ %j.next, %body ]
  %i = add nsw i64 %base, %j
  %l0.p = getelementptr inbounds float, float* %s0, i64 %i
  %l0 = load float, float* %l0.p, align 4, !llvm.access.group !11
  %m0.c = fcmp ogt float %l0, 0x0000000000000000
  %m0 = select i1 %m0.c, float 0x3FF0000000000000, float 0x0000000000000000
  %l1.p = getelementptr inbounds float, float* %s1, i64 %i
  %l1 = load float, float* %l1.p, align 4, !llvm.access.group !11
  %m1 = fmul float %l1, %m0
  %o1.p = getelementptr inbounds float, float* %s2, i64 %i
  store float %m1, float* %o1.p, align 4, !llvm.access.group !11
  %t2.p = getelementptr inbounds float, float* %s3, i64 %j
  %t2 = load float, float* %t2.p, align 4, !llvm.access.group !11
  %t2.n = fadd float %t2, %m1
  store float %t2.n, float* %t2.p, align 4, !llvm.access.group !11
  %j.next = add nuw nsw i64 %j, 1
  %j.more = icmp slt i64 %j.next, %len
  br i1 %j.more, label %body, label %row.end, !llvm.loop !9
row.end:
  %r.next = add nuw nsw i64 %r, 1
  %r.more = icmp slt i64 %r.next, %rows
  br i1 %r.more, label %row, label %exit
exit:
  ret void
}
!9 = distinct !{!9, !10}
!10 = !{!"llvm.loop.parallel_accesses", !11}
!11 = distinct !{}

; 1 nodes, ending sum; 2 pointers
define void @fn_k4(i64 %rows, i64 %len, float** noalias nocapture readonly %p) #0 {
entry:
  %s0.a = getelementptr inbounds float*, float** %p, i64 0
  %s0 = load float*, float** %s0.a, align 8
  %s1.a = getelementptr inbounds float*, float** %p, i64 1
  %s1 = load float*, float** %s1.a, align 8
  br label %row
row:
  %r = phi i64 [ 0, %entry ], [ %r.next, %row.end ]
  %base = mul nsw i64 %r, %len
  br label %body
body:
  %j = phi i64 [ 0, %row ], [ %j.next, %body ]
  %i = add nsw i64 %base, %j
  %l0.p = getelementptr inbounds float, float* %s0, i64 %i
  %l0 = load float, float* %l0.p, align 4, !llvm.access.group !14
  %t0.p = getelementptr inbounds float, float* %s1, i64 0
  %t0 = load float, float* %t0.p, align 4
  %t0.n = fadd float %t0, %l0
  store float %t0.n, float* %t0.p, align 4
  %j.next = add nuw nsw i64 %j, 1
  %j.more = icmp slt i64 %j.next, %len
  br i1 %j.more, label %body, label %row.end, !llvm.loop !12
row.end:
  %r.next = add nuw nsw i64 %r, 1
  %r.more = icmp slt i64 %r.next, %rows
  br i1 %r.more, label %row, label %exit
exit:
  ret void
}
!12 = distinct !{!12, !13}
!13 = !{!"llvm.loop.parallel_accesses", !14}
!14 = distinct !{}

