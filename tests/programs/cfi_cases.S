/* Hand-written x86-64 functions with known CFI for the unwinder's unit
 * tests (tests/unit/unwind_cfi_test.cc). Built as a tiny shared object
 * (gcc -shared -nostdlib); never run. Each labelled point has a documented
 * stack layout that the tests rebuild in a fake memory.
 *
 * With -DVMC_DEBUG_FRAME the CFI goes to .debug_frame instead of .eh_frame.
 */
#ifdef VMC_DEBUG_FRAME
	.cfi_sections .debug_frame
#endif
	.text
	.globl	cfi_saves, cfi_saves_ret, cfi_exprs, cfi_exprs_ret, cfi_cfa_deref, cfi_cfa_deref_ret
	.globl	cfi_sigtramp, cfi_outermost, cfi_outermost_ret, cfi_noreturn, cfi_noreturn_end, cfi_after
	.globl	cfi_leaf, cfi_epilogue, cfi_epilogue_ret, cfi_epilogue_after_pop

/* cfi_saves: pushes rbp, rbx, r12, then 8 bytes of padding.
 * At cfi_saves_ret (a return address): CFA = rsp + 40,
 *   [rsp+8] r12, [rsp+16] rbx, [rsp+24] rbp, [rsp+32] return address. */
	.type cfi_saves, @function
cfi_saves:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	pushq	%rbx
	.cfi_def_cfa_offset 24
	.cfi_offset %rbx, -24
	pushq	%r12
	.cfi_def_cfa_offset 32
	.cfi_offset %r12, -32
	subq	$8, %rsp
	.cfi_def_cfa_offset 40
	call	cfi_leaf
cfi_saves_ret:
	addq	$8, %rsp
	.cfi_def_cfa_offset 32
	popq	%r12
	.cfi_def_cfa_offset 24
	popq	%rbx
	.cfi_def_cfa_offset 16
	popq	%rbp
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size cfi_saves, .-cfi_saves

/* cfi_exprs: rbp frame, then rules of every kind. At cfi_exprs_ret:
 *   CFA = rbp + 16; [rbp+8] return address; [rbp] caller's rbp
 *   r14: in register r11                  (DW_CFA_register)
 *   r15: undefined                        (DW_CFA_undefined)
 *   r13: value CFA - 8                    (DW_CFA_val_offset, factored 1)
 *   r12: saved at rbp - 8                 (DW_CFA_expression: breg6 -8)
 *   rbx: value rsp + 32                   (DW_CFA_val_expression: breg7 32) */
	.type cfi_exprs, @function
cfi_exprs:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	.cfi_register %r14, %r11
	.cfi_undefined %r15
	.cfi_escape 0x14, 13, 1			/* DW_CFA_val_offset r13, 1*-8 */
	.cfi_escape 0x10, 12, 2, 0x76, 0x78	/* DW_CFA_expression r12, {breg6 -8} */
	.cfi_escape 0x16, 3, 2, 0x77, 0x20	/* DW_CFA_val_expression rbx, {breg7 32} */
	subq	$32, %rsp
	call	cfi_leaf
cfi_exprs_ret:
	leave
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size cfi_exprs, .-cfi_exprs

/* cfi_cfa_deref: CFA = *(rsp + 8) (DW_CFA_def_cfa_expression {breg7 8;
 * deref}), as after a stack switch; return address at CFA - 8. */
	.type cfi_cfa_deref, @function
cfi_cfa_deref:
	.cfi_startproc
	subq	$16, %rsp
	.cfi_escape 0x0f, 3, 0x77, 0x08, 0x06	/* DW_CFA_def_cfa_expression {breg7 8; deref} */
	call	cfi_leaf
cfi_cfa_deref_ret:
	addq	$16, %rsp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size cfi_cfa_deref, .-cfi_cfa_deref

/* cfi_sigtramp: a signal frame ('S' augmentation) whose saved context is
 * at rsp: [rsp+0] rip, [rsp+8] rsp, [rsp+16] rdi, [rsp+24] rbx. CFA =
 * rsp + 64. The nop before the label lets pc - 1 find the FDE, as glibc
 * does for __restore_rt. */
	nop
	.type cfi_sigtramp, @function
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa %rsp, 64
	.cfi_escape 0x10, 16, 2, 0x77, 0x00	/* rip at rsp+0 */
	.cfi_escape 0x10, 7, 2, 0x77, 0x08	/* rsp at rsp+8 */
	.cfi_escape 0x10, 5, 2, 0x77, 0x10	/* rdi at rsp+16 */
	.cfi_escape 0x10, 3, 2, 0x77, 0x18	/* rbx at rsp+24 */
	nop
cfi_sigtramp:
	movq	$15, %rax
	syscall
	.cfi_endproc
	.size cfi_sigtramp, .-cfi_sigtramp

/* cfi_outermost: the return address is undefined (like _start). */
	.type cfi_outermost, @function
cfi_outermost:
	.cfi_startproc
	.cfi_undefined %rip
	xorl	%ebp, %ebp
	call	cfi_leaf
cfi_outermost_ret:
	hlt
	.cfi_endproc
	.size cfi_outermost, .-cfi_outermost

/* cfi_noreturn ends with a call; its return address is cfi_after, the first
 * byte of the next function, whose CFI differs (CFA = rsp + 8 vs + 16). */
	.type cfi_noreturn, @function
cfi_noreturn:
	.cfi_startproc
	pushq	%rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	call	cfi_leaf
cfi_noreturn_end:
	.cfi_endproc
	.size cfi_noreturn, .-cfi_noreturn
	.type cfi_after, @function
cfi_after:
	.cfi_startproc
	ret
	.cfi_endproc
	.size cfi_after, .-cfi_after

/* cfi_leaf: no frame at all: CFA = rsp + 8 everywhere. */
	.type cfi_leaf, @function
cfi_leaf:
	.cfi_startproc
	nop
	nop
	ret
	.cfi_endproc
	.size cfi_leaf, .-cfi_leaf

/* cfi_epilogue: like code built with -fno-asynchronous-unwind-tables, the
 * epilogue has no CFI: after the pop, the CFI still says CFA = rsp + 16 and
 * rbx at CFA - 16, but really CFA = rsp + 8 and rbx is restored. */
	.type cfi_epilogue, @function
cfi_epilogue:
	.cfi_startproc
	pushq	%rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	call	cfi_leaf
cfi_epilogue_ret:
	popq	%rbx
cfi_epilogue_after_pop:
	ret
	.cfi_endproc
	.size cfi_epilogue, .-cfi_epilogue
	.section .note.GNU-stack,"",@progbits
