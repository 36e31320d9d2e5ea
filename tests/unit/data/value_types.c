/*
 * Types for value_format_test.cc. Compiled at build time with -g -O0 -c
 * (DWARF 5 and DWARF 4; see tests/CMakeLists.txt) and never linked or run:
 * the test opens the object with libdw, finds each v_* variable by name and
 * checks type_name() and display_value() on its type.
 *
 * Names follow the kernel's where a kernel type is imitated. Change a
 * declaration here only together with the expectation in the test.
 */
#include <stdbool.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef u32 vmcargs_id_t; /* typedef of a typedef */

enum vmcargs_mode { VMCARGS_MODE_NONE, VMCARGS_MODE_FAULT, VMCARGS_MODE_PANIC = 7 };
enum vmcargs_flags {
	VMCARGS_F_READ = 1,
	VMCARGS_F_WRITE = 2,
	VMCARGS_F_EXEC = 4,
	VMCARGS_F_RW = 3, /* an alias of READ|WRITE: not a disjoint flag */
};
enum vmcargs_bits_only { VMCARGS_B0 = 1, VMCARGS_B1 = 2, VMCARGS_B31 = 0x80000000u };
enum vmcargs_signed { VMCARGS_NEG = -2, VMCARGS_ZERO = 0, VMCARGS_POS = 3 };

struct file; /* declared only */
struct vmcargs_pair {
	long a;
	long b;
};
struct vmcargs_nested {
	int id;
	struct vmcargs_pair pair;
	char name[8];
};
struct vmcargs_bitfields {
	unsigned int a : 3;
	int b : 5;
	unsigned int c : 1;
	bool flag : 1;
	enum vmcargs_mode mode : 3;
	unsigned long long wide : 40;
	s8 small : 4;
};
union vmcargs_word {
	unsigned int word;
	unsigned char bytes[4];
};
struct vmcargs_anon {
	int kind;
	union {
		int i;
		unsigned int u;
	};
	struct {
		short x, y;
	} pt;
};
struct vmcargs_flex {
	int n;
	char data[];
};
struct vmcargs_many {
	int m0, m1, m2, m3, m4, m5, m6, m7, m8, m9;
	int m10, m11, m12, m13, m14, m15, m16, m17, m18, m19;
};
struct vmcargs_ptrs {
	const char *name;
	struct vmcargs_ptrs *next;
	int (*fn)(void *);
};
typedef struct {
	int x;
} vmcargs_anon_t;
typedef int (*vmcargs_cb_t)(void *);

/* Integers and their typedefs. */
u8 v_u8;
u16 v_u16;
u32 v_u32;
u64 v_u64;
s8 v_s8;
s16 v_s16;
s32 v_s32;
s64 v_s64;
vmcargs_id_t v_id;
char v_char;
signed char v_schar;
unsigned char v_uchar;
short v_short;
unsigned short v_ushort;
int v_int;
unsigned int v_uint;
long v_long;
unsigned long v_ulong;
long long v_llong;
unsigned long long v_ullong;
__int128 v_i128;
unsigned __int128 v_u128;
_Bool v_bool;
float v_float;
double v_double;

/* Enums. */
enum vmcargs_mode v_mode;
enum vmcargs_flags v_flags;
enum vmcargs_bits_only v_bits_only;
enum vmcargs_signed v_signed_enum;

/* Pointers and qualifiers. */
struct file *v_file;
const char *v_cstr;
char *v_str;
u8 *v_u8p;
void *v_void;
const void *v_cvoid;
char *const v_cptr;
const char *const *v_argv;
char *const volatile v_cvptr;
int (*v_fn)(void *);
vmcargs_cb_t v_cb;
void (*v_vfn)(void);
int (*v_varfn)(const char *, ...);
volatile unsigned long v_vol;
const volatile int v_cvint;
struct vmcargs_pair *v_pair_ptr;
struct vmcargs_pair **v_pair_pp;
struct {
	int q;
} *v_anon_ptr;
int *v_int_ptrs[2];
char (*v_rowp)[16];
void (*(*v_signal)(int))(int);
int (*v_fn_table[2])(void);

/* Arrays. */
char v_name[16];
int v_ints[4];
int v_grid[2][3];
u8 v_mac[6];

/* Aggregates by value. */
struct vmcargs_pair v_pair;
struct vmcargs_nested v_nested;
struct vmcargs_bitfields v_bits;
union vmcargs_word v_word;
struct vmcargs_anon v_anon;
vmcargs_anon_t v_anon_t;
struct vmcargs_flex *v_flex_ptr;
struct vmcargs_many v_many;
struct vmcargs_ptrs v_ptrs;

/* The flexible-array struct by value (its member's length is unknown). */
struct vmcargs_flex v_flex;
