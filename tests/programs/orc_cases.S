/* A tiny x86-64 object carrying Linux ORC sections in one of the four
 * on-disk formats (-DORC_VERSION=1..4), for tests/unit/orc_test.cc. Every
 * build describes the same canonical table (see the test):
 *
 *   orc_f1      call  sp:sp+8   bp:undef
 *   orc_f1+4    call  sp:sp+16  bp:prevsp-16
 *   orc_f2      regs  sp:sp+0   bp:undef        (+ an undefined terminator at
 *                                                the same ip, listed after it)
 *   orc_f3      end of stack
 *   orc_f3+2    regs-partial sp:sp+40 bp:undef
 *   orc_f3+4    call  sp:(sp)+8 bp:bp-8 signal  (sp indirect; v2+ only signal)
 *
 * The ip table is deliberately not sorted (orc_f2's entries come first).
 * -DORC_HEADER=N adds a .orc_header with the hash for format N.
 */
#if ORC_VERSION >= 4
#define R_UND 0
#define R_SP 3
#define R_BP 4
#define R_PREVSP 8
#define R_SPIND 9
#else
#define R_UND 0
#define R_SP 5
#define R_BP 4
#define R_PREVSP 1
#define R_SPIND 9
#endif
/* Entry types and the signal bit in each format. */
#if ORC_VERSION >= 3
#define TY_UND (0 << 8)
#define TY_END (1 << 8)
#define TY_CALL (2 << 8)
#define TY_REGS (3 << 8)
#define TY_PART (4 << 8)
#define SIG (1 << 11)
#elif ORC_VERSION == 2
#define TY_UND 0
#define TY_END (1 << 11)
#define TY_CALL (0 << 8)
#define TY_REGS (1 << 8)
#define TY_PART (2 << 8)
#define SIG (1 << 10)
#else
#define TY_UND 0
#define TY_END (1 << 10)
#define TY_CALL (0 << 8)
#define TY_REGS (1 << 8)
#define TY_PART (2 << 8)
#define SIG 0
#endif
#define FLAGS(sp, bp, ty, sig) ((sp) | ((bp) << 4) | (ty) | (sig))

	.text
	.globl orc_f1, orc_f2, orc_f3
	.hidden orc_f1, orc_f2, orc_f3
orc_f1:	.fill 16, 1, 0x90
orc_f2:	.fill 16, 1, 0x90
orc_f3:	.fill 16, 1, 0x90

	.section .orc_unwind_ip, "a"
	.p2align 2
	.long orc_f2 - .
	.long orc_f2 - .
	.long orc_f1 - .
	.long orc_f1 + 4 - .
	.long orc_f3 - .
	.long orc_f3 + 2 - .
	.long orc_f3 + 4 - .

	.section .orc_unwind, "a"
	/* s16 sp_offset, s16 bp_offset, u16 flags */
	.short 0,  0;   .short FLAGS(R_SP, R_UND, TY_REGS, SIG)
	.short 0,  0;   .short FLAGS(R_UND, R_UND, TY_UND, 0)
	.short 8,  0;   .short FLAGS(R_SP, R_UND, TY_CALL, 0)
	.short 16, -16; .short FLAGS(R_SP, R_PREVSP, TY_CALL, 0)
	.short 0,  0;   .short FLAGS(R_UND, R_UND, TY_END, 0)
	.short 40, 0;   .short FLAGS(R_SP, R_UND, TY_PART, SIG)
	.short 8,  -8;  .short FLAGS(R_SPIND, R_BP, TY_CALL, SIG)

#ifdef ORC_HEADER
	.section .orc_header, "a"
#if ORC_HEADER == 4
	.byte 0x13, 0x7c, 0x36, 0xad, 0x76, 0x27, 0xc4, 0xdd, 0x55, 0x93, 0x21, 0x76, 0xbb, 0x0e, 0xcd, 0xbd, 0x50, 0x41, 0xfc, 0x82
#elif ORC_HEADER == 3
	.byte 0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9, 0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24
#elif ORC_HEADER == 2
	.byte 0xdb, 0x84, 0xae, 0xd4, 0x10, 0x3b, 0x31, 0xdd, 0x51, 0xe0, 0x17, 0xf8, 0xf7, 0x97, 0x83, 0xca, 0x98, 0x5c, 0x2c, 0x51
#else
	.byte 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14
#endif
#endif
	.section .note.GNU-stack,"",@progbits
