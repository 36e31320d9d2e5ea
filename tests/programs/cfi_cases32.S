/* Hand-written i386 functions with known CFI for the unwinder's unit tests
 * (tests/unit/unwind_cfi_test.cc). Built as a tiny shared object
 * (gcc -m32 -shared -nostdlib); never run.
 */
	.text
	.globl	cfi32_saves, cfi32_saves_ret, cfi32_leaf, cfi32_outermost, cfi32_outermost_ret
	.hidden	cfi32_leaf

/* cfi32_saves: pushes ebp, ebx, esi, then 4 bytes of padding.
 * At cfi32_saves_ret: CFA = esp + 20,
 *   [esp+4] esi, [esp+8] ebx, [esp+12] ebp, [esp+16] return address. */
	.type cfi32_saves, @function
cfi32_saves:
	.cfi_startproc
	pushl	%ebp
	.cfi_def_cfa_offset 8
	.cfi_offset %ebp, -8
	pushl	%ebx
	.cfi_def_cfa_offset 12
	.cfi_offset %ebx, -12
	pushl	%esi
	.cfi_def_cfa_offset 16
	.cfi_offset %esi, -16
	subl	$4, %esp
	.cfi_def_cfa_offset 20
	call	cfi32_leaf
cfi32_saves_ret:
	addl	$4, %esp
	.cfi_def_cfa_offset 16
	popl	%esi
	.cfi_def_cfa_offset 12
	popl	%ebx
	.cfi_def_cfa_offset 8
	popl	%ebp
	.cfi_def_cfa_offset 4
	ret
	.cfi_endproc
	.size cfi32_saves, .-cfi32_saves

	.type cfi32_leaf, @function
cfi32_leaf:
	.cfi_startproc
	nop
	ret
	.cfi_endproc
	.size cfi32_leaf, .-cfi32_leaf

	.type cfi32_outermost, @function
cfi32_outermost:
	.cfi_startproc
	.cfi_undefined %eip
	xorl	%ebp, %ebp
	call	cfi32_leaf
cfi32_outermost_ret:
	hlt
	.cfi_endproc
	.size cfi32_outermost, .-cfi32_outermost
	.section .note.GNU-stack,"",@progbits
