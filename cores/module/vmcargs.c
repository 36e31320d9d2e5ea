// SPDX-License-Identifier: GPL-2.0
/*
 * vmcargs.c - test module for vmcore-args' real-dump corpus.
 *
 * At load time it starts kernel threads that park forever inside chains of
 * vmcargs_* functions called with known arguments (a waitqueue wait, a
 * schedule_timeout loop, wait_for_completion, and a mutex_lock on a mutex
 * that another parked thread holds).  Writing a mode to /proc/vmcargs makes
 * the writing process crash several frames deep inside the module:
 *
 *   fault         store to a user-looking address passed as an argument (CR2)
 *   fault-kernel  store to the guard page after a vmalloc area (CR2)
 *   gp            store to a non-canonical address (#GP, x86-64 only)
 *   bug           BUG()
 *   panic         panic() from a nested call
 *
 * Every value that the tool should recover is logged with printk before the
 * thread parks or crashes, one line per value, in a format that
 * cores/truth.py parses (documented in cores/README.md):
 *
 *   vmcargs: enter pid=P comm=C task=0x.. fn=F
 *   vmcargs: truth pid=P fn=F idx=I arg=NAME type="T" size=S value=0x.. display="D" [string="S"]
 *   vmcargs: leave pid=P fn=F
 *   vmcargs: park pid=P comm=C task=0x.. kind=K
 *   vmcargs: crash pid=P comm=C task=0x.. cpu=N mode=M addr=0x..
 *   vmcargs: whoami pid=P comm=C task=0x.. cpu=N     (write "whoami")
 *
 * "enter" lines push a frame for that pid, "leave" pops it; the frames left
 * when the thread parks or crashes are its module frames.  Struct arguments
 * passed by value are logged whole (raw bytes as a little-endian integer)
 * and then member by member as arg=NAME.MEMBER.
 *
 * Most functions are __attribute__((noipa)) so GCC keeps their prototypes;
 * vmcargs_comp_clone and vmcargs_crash_clone are plain noinline on purpose so
 * that GCC may clone them (.constprop / .isra): the tool must refuse register
 * values in such clones.  Every function uses its arguments after its call
 * returns, so they live in callee-saved registers or stack slots while the
 * argument registers are reused.  None of these calls ever return.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/wait.h>
#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include <linux/smp.h>
#include <linux/jiffies.h>
#include <linux/version.h>

#define VMC_NOIPA __attribute__((noipa))

#define VMCARGS_MAGIC 0x564d434152475321ULL /* "VMCARGS!" */

struct vmcargs_obj {
	u64 magic;
	u32 id;
	char name[20];
	struct vmcargs_obj *self;
};

/* 8 bytes, no padding: one register on x86-64, stack on i386. */
struct vmcargs_small {
	u32 a;
	u16 b;
	u8 c;
	s8 d;
};

/* 16 bytes, no padding: split over two registers on x86-64. */
struct vmcargs_pair {
	u64 lo;
	u64 hi;
};

enum vmcargs_color {
	VMCARGS_RED = 1,
	VMCARGS_GREEN = 2,
	VMCARGS_BLUE = 0x40,
};

enum vmcargs_mode {
	VMCARGS_MODE_FAULT = 1,
	VMCARGS_MODE_FAULT_KERNEL = 2,
	VMCARGS_MODE_GP = 3,
	VMCARGS_MODE_BUG = 4,
	VMCARGS_MODE_PANIC = 5,
};

static const char *const vmcargs_color_names[] = {
	[VMCARGS_RED] = "VMCARGS_RED",
	[VMCARGS_GREEN] = "VMCARGS_GREEN",
	[VMCARGS_BLUE] = "VMCARGS_BLUE",
};

static const char *const vmcargs_mode_names[] = {
	[VMCARGS_MODE_FAULT] = "VMCARGS_MODE_FAULT",
	[VMCARGS_MODE_FAULT_KERNEL] = "VMCARGS_MODE_FAULT_KERNEL",
	[VMCARGS_MODE_GP] = "VMCARGS_MODE_GP",
	[VMCARGS_MODE_BUG] = "VMCARGS_MODE_BUG",
	[VMCARGS_MODE_PANIC] = "VMCARGS_MODE_PANIC",
};

static struct vmcargs_obj vmcargs_static_obj = {
	.magic = VMCARGS_MAGIC,
	.id = 0x5171c,
	.name = "vmcargs-static",
	.self = &vmcargs_static_obj,
};

/* Address used by the "fault" mode: user-space-looking, never mapped. */
static unsigned long fault_addr = 0x1234;
module_param(fault_addr, ulong, 0444);
MODULE_PARM_DESC(fault_addr, "address stored to by mode 'fault'");

/*
 * printk is __cold, and GCC moves every function that always calls a cold
 * function to .text.unlikely; the conditional keeps the module's functions
 * in .text like ordinary kernel code.
 */
static bool truth = true;
module_param(truth, bool, 0444);
MODULE_PARM_DESC(truth, "log the truth lines (default on)");
#define vmc_pr(fmt, ...) \
	do { \
		if (READ_ONCE(truth)) \
			pr_info(fmt, ##__VA_ARGS__); \
	} while (0)

static volatile u64 vmcargs_sink;	/* results of the work after calls */
static int vmcargs_release;		/* never set: parked threads stay */
static DECLARE_WAIT_QUEUE_HEAD(vmcargs_wq);
static DECLARE_COMPLETION(vmcargs_never);
static DEFINE_MUTEX(vmcargs_mutex);
static DECLARE_COMPLETION(vmcargs_mutex_held);
static atomic_t vmcargs_parked = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(vmcargs_parked_wq);
static struct vmcargs_obj *vmcargs_heap_obj;	/* kmalloc'd */
static struct task_struct *vmcargs_holder_task;
static void *vmcargs_vmalloc_area;

/* ---- truth logging ---------------------------------------------------- */

static u64 vmc_mask(u64 v, int size)
{
	return size >= 8 ? v : v & ((1ULL << (size * 8)) - 1);
}

static void vmc_enter(const char *fn)
{
	vmc_pr("vmcargs: enter pid=%d comm=%s task=%px fn=%s\n",
		current->pid, current->comm, current, fn);
}

static void vmc_leave(const char *fn)
{
	vmc_pr("vmcargs: leave pid=%d fn=%s\n", current->pid, fn);
}

static void vmc_line(const char *fn, int idx, const char *name,
		     const char *type, int size, u64 bits, const char *display,
		     const char *str)
{
	if (str)
		vmc_pr("vmcargs: truth pid=%d fn=%s idx=%d arg=%s type=\"%s\" size=%d value=0x%llx display=\"%s\" string=\"%s\"\n",
			current->pid, fn, idx, name, type, size, bits, display,
			str);
	else
		vmc_pr("vmcargs: truth pid=%d fn=%s idx=%d arg=%s type=\"%s\" size=%d value=0x%llx display=\"%s\"\n",
			current->pid, fn, idx, name, type, size, bits, display);
}

static void vmc_u(const char *fn, int idx, const char *name, const char *type,
		  int size, u64 v)
{
	char d[24];

	v = vmc_mask(v, size);
	snprintf(d, sizeof(d), "%llu", v);
	vmc_line(fn, idx, name, type, size, v, d, NULL);
}

static void vmc_s(const char *fn, int idx, const char *name, const char *type,
		  int size, s64 v)
{
	char d[24];

	snprintf(d, sizeof(d), "%lld", v);
	vmc_line(fn, idx, name, type, size, vmc_mask((u64)v, size), d, NULL);
}

static void vmc_b(const char *fn, int idx, const char *name, bool v)
{
	vmc_line(fn, idx, name, "bool", sizeof(bool), v ? 1 : 0,
		 v ? "true" : "false", NULL);
}

static void vmc_c(const char *fn, int idx, const char *name, char v)
{
	char d[8];

	snprintf(d, sizeof(d), "'%c'", v);
	vmc_line(fn, idx, name, "char", 1, vmc_mask((u64)(s64)v, 1), d, NULL);
}

static void vmc_p(const char *fn, int idx, const char *name, const char *type,
		  const void *p)
{
	char d[24];

	snprintf(d, sizeof(d), "0x%lx", (unsigned long)p);
	vmc_line(fn, idx, name, type, sizeof(void *), (unsigned long)p, d, NULL);
}

static void vmc_str(const char *fn, int idx, const char *name,
		    const char *type, const char *s)
{
	char d[24];

	snprintf(d, sizeof(d), "0x%lx", (unsigned long)s);
	vmc_line(fn, idx, name, type, sizeof(void *), (unsigned long)s, d, s);
}

static void vmc_e(const char *fn, int idx, const char *name, const char *type,
		  int size, u64 v, const char *enumerator)
{
	vmc_line(fn, idx, name, type, size, vmc_mask(v, size), enumerator, NULL);
}

/* A struct passed by value: its bytes as one little-endian integer. */
static void vmc_struct(const char *fn, int idx, const char *name,
		       const char *type, const void *p, int size)
{
	const u8 *b = p;
	char hex[2 * 32 + 3];
	int i, n = 0;

	n += snprintf(hex + n, sizeof(hex) - n, "0x");
	for (i = size - 1; i >= 0; i--)
		n += snprintf(hex + n, sizeof(hex) - n, "%02x", b[i]);
	vmc_pr("vmcargs: truth pid=%d fn=%s idx=%d arg=%s type=\"%s\" size=%d value=%s display=\"%s\"\n",
		current->pid, fn, idx, name, type, size, hex, "{...}");
}

#define VU(i, x, T) vmc_u(__func__, i, #x, #T, sizeof(T), (u64)(T)(x))
#define VS(i, x, T) vmc_s(__func__, i, #x, #T, sizeof(T), (s64)(T)(x))
#define VP(i, x, T) vmc_p(__func__, i, #x, #T, (x))

static void vmc_log_small(const char *fn, int idx, const char *name,
			  struct vmcargs_small *sv)
{
	char m[24];

	vmc_struct(fn, idx, name, "struct vmcargs_small", sv, sizeof(*sv));
	snprintf(m, sizeof(m), "%s.a", name);
	vmc_u(fn, idx, m, "u32", 4, sv->a);
	snprintf(m, sizeof(m), "%s.b", name);
	vmc_u(fn, idx, m, "u16", 2, sv->b);
	snprintf(m, sizeof(m), "%s.c", name);
	vmc_u(fn, idx, m, "u8", 1, sv->c);
	snprintf(m, sizeof(m), "%s.d", name);
	vmc_s(fn, idx, m, "s8", 1, sv->d);
}

static void vmc_log_pair(const char *fn, int idx, const char *name,
			 struct vmcargs_pair *pv)
{
	char m[24];

	vmc_struct(fn, idx, name, "struct vmcargs_pair", pv, sizeof(*pv));
	snprintf(m, sizeof(m), "%s.lo", name);
	vmc_u(fn, idx, m, "u64", 8, pv->lo);
	snprintf(m, sizeof(m), "%s.hi", name);
	vmc_u(fn, idx, m, "u64", 8, pv->hi);
}

static void vmc_park(const char *kind)
{
	vmc_pr("vmcargs: park pid=%d comm=%s task=%px kind=%s\n",
		current->pid, current->comm, current, kind);
	atomic_inc(&vmcargs_parked);
	wake_up(&vmcargs_parked_wq);
}

/* Work done after a call returns, so that the arguments stay live. */
static u64 vmc_mix(u64 acc, u64 v)
{
	acc ^= v + 0x9e3779b97f4a7c15ULL + (acc << 6) + (acc >> 2);
	return acc;
}

/* ---- thread 1: waitqueue ---------------------------------------------- */

static VMC_NOIPA long vmcargs_park_wq(wait_queue_head_t *wq, unsigned int depth,
				      bool flag, enum vmcargs_color color)
{
	long r;

	vmc_enter(__func__);
	VP(0, wq, wait_queue_head_t *);
	VU(1, depth, unsigned int);
	vmc_b(__func__, 2, "flag", flag);
	vmc_e(__func__, 3, "color", "enum vmcargs_color", sizeof(color), color,
	      vmcargs_color_names[color]);
	vmc_park("waitqueue");
	r = wait_event_interruptible(*wq, READ_ONCE(vmcargs_release));
	vmcargs_sink = vmc_mix(vmc_mix(r, (unsigned long)wq), depth + flag + color);
	return r + depth;
}

static VMC_NOIPA s64 vmcargs_wq_mid(u8 v_u8, s8 v_s8, u16 v_u16, s16 v_s16,
				    u32 v_u32, s32 v_s32, u64 v_u64, s64 v_s64)
{
	s64 r;

	vmc_enter(__func__);
	VU(0, v_u8, u8);
	VS(1, v_s8, s8);
	VU(2, v_u16, u16);
	VS(3, v_s16, s16);
	VU(4, v_u32, u32);
	VS(5, v_s32, s32);
	VU(6, v_u64, u64);
	VS(7, v_s64, s64);
	r = vmcargs_park_wq(&vmcargs_wq, 3, true, VMCARGS_BLUE);
	r += v_u8 * v_s8 + v_u16 * v_s16;
	r ^= (s64)v_u32 * v_s32;
	r += vmc_mix(v_u64, v_s64);
	vmcargs_sink = r;
	return r;
}

static VMC_NOIPA u64 vmcargs_wq_outer(struct vmcargs_obj *obj, u64 cookie,
				      const char *tag)
{
	u64 r;

	vmc_enter(__func__);
	VP(0, obj, struct vmcargs_obj *);
	VU(1, cookie, u64);
	vmc_str(__func__, 2, "tag", "const char *", tag);
	r = vmcargs_wq_mid(0xa5, -5, 0xbeef, -1234, 0xdeadbeef, -100000,
			   0x1122334455667788ULL, -0x0123456789abcdefLL);
	r = vmc_mix(r, obj->magic + cookie + tag[0]);
	vmcargs_sink = r;
	return r;
}

/* ---- thread 2: schedule_timeout loop ----------------------------------- */

static VMC_NOIPA u64 vmcargs_sleep_loop(unsigned long timeout,
					struct vmcargs_pair pair,
					const struct vmcargs_obj *sobj)
{
	u64 n = 0;

	vmc_enter(__func__);
	VU(0, timeout, unsigned long);
	vmc_log_pair(__func__, 1, "pair", &pair);
	VP(2, sobj, const struct vmcargs_obj *);
	vmc_park("schedule_timeout");
	while (!READ_ONCE(vmcargs_release)) {
		schedule_timeout_interruptible(timeout);
		n = vmc_mix(n, pair.lo ^ pair.hi ^ sobj->id);
	}
	vmcargs_sink = n + timeout;
	return n;
}

static VMC_NOIPA long vmcargs_sleep_outer(struct task_struct *task,
					  struct vmcargs_small sv, long ms)
{
	struct vmcargs_pair pair = {
		.lo = 0x0102030405060708ULL,
		.hi = 0xf0e0d0c0b0a09080ULL,
	};
	long r;

	vmc_enter(__func__);
	VP(0, task, struct task_struct *);
	vmc_log_small(__func__, 1, "sv", &sv);
	VS(2, ms, long);
	r = vmcargs_sleep_loop(msecs_to_jiffies(ms), pair, &vmcargs_static_obj);
	r += sv.a + sv.b + sv.c + sv.d + task->pid + ms;
	vmcargs_sink = r;
	return r;
}

/* ---- thread 3: wait_for_completion ------------------------------------- */

static VMC_NOIPA u64 vmcargs_park_comp(struct completion *c, u64 big,
				       s64 negbig, u32 mode)
{
	vmc_enter(__func__);
	VP(0, c, struct completion *);
	VU(1, big, u64);
	VS(2, negbig, s64);
	VU(3, mode, u32);
	vmc_park("completion");
	wait_for_completion(c);
	vmcargs_sink = vmc_mix(big, negbig) + mode + (unsigned long)c;
	return big ^ mode;
}

/*
 * Plain noinline: called only with mode == 7, so GCC may specialise it
 * (vmcargs_comp_clone.constprop.0).  It logs its own arguments.
 */
static noinline u64 vmcargs_comp_clone(struct completion *c, u32 mode)
{
	u64 r;

	vmc_enter(__func__);
	VP(0, c, struct completion *);
	VU(1, mode, u32);
	r = vmcargs_park_comp(c, 0x8000000000000001ULL, -0x123456789LL, mode * 3);
	vmcargs_sink = r + mode * (unsigned long)c;
	return r;
}

static VMC_NOIPA u64 vmcargs_comp_outer(struct completion *c, int neg,
					unsigned short us, char ch)
{
	u64 r;

	vmc_enter(__func__);
	VP(0, c, struct completion *);
	VS(1, neg, int);
	VU(2, us, unsigned short);
	vmc_c(__func__, 3, "ch", ch);
	r = vmcargs_comp_clone(c, 7);
	r = vmc_mix(r, neg * us + ch);
	vmcargs_sink = r;
	return r;
}

/* ---- threads 4 and 5: a mutex held by one parked thread ---------------- */

static VMC_NOIPA u64 vmcargs_hold_park(struct mutex *m, u32 id,
				       unsigned long timeout)
{
	u64 n = 0;

	vmc_enter(__func__);
	VP(0, m, struct mutex *);
	VU(1, id, u32);
	VU(2, timeout, unsigned long);
	vmc_park("mutex-holder");
	complete(&vmcargs_mutex_held);
	while (!READ_ONCE(vmcargs_release)) {
		schedule_timeout_interruptible(timeout);
		n = vmc_mix(n, id);
	}
	mutex_unlock(m);
	return n + (unsigned long)m;
}

static VMC_NOIPA int vmcargs_mutex_hold(struct mutex *m, u16 id)
{
	u64 r;

	vmc_enter(__func__);
	VP(0, m, struct mutex *);
	VU(1, id, u16);
	mutex_lock(m);
	r = vmcargs_hold_park(m, 0x40000000u | id, 3600 * HZ);
	vmcargs_sink = r ^ id ^ (unsigned long)m;
	return (int)r;
}

static VMC_NOIPA u64 vmcargs_mutex_take(struct mutex *m,
					struct task_struct *owner,
					unsigned long long token)
{
	vmc_enter(__func__);
	VP(0, m, struct mutex *);
	VP(1, owner, struct task_struct *);
	VU(2, token, unsigned long long);
	vmc_park("mutex-waiter");
	mutex_lock(m);
	vmcargs_sink = token ^ owner->pid;
	mutex_unlock(m);
	return token + (unsigned long)m;
}

static VMC_NOIPA s64 vmcargs_mutex_wait_outer(struct vmcargs_obj *obj, s16 s,
					      u16 u)
{
	s64 r;

	vmc_enter(__func__);
	VP(0, obj, struct vmcargs_obj *);
	VS(1, s, s16);
	VU(2, u, u16);
	r = vmcargs_mutex_take(&vmcargs_mutex, vmcargs_holder_task,
			       0xfedcba9876543210ULL);
	r += obj->id * s + u;
	vmcargs_sink = r;
	return r;
}

/* ---- the threads ------------------------------------------------------- */

struct vmcargs_thread_desc {
	const char *name;
	int which;
	struct task_struct *task;
};

static struct vmcargs_thread_desc vmcargs_threads[] = {
	{ .name = "vmcargs-wq", .which = 1 },
	{ .name = "vmcargs-sleep", .which = 2 },
	{ .name = "vmcargs-comp", .which = 3 },
	{ .name = "vmcargs-mtxhold", .which = 4 },
	{ .name = "vmcargs-mtxwait", .which = 5 },
};

static VMC_NOIPA int vmcargs_thread_fn(void *data)
{
	struct vmcargs_thread_desc *d = data;
	struct vmcargs_small sv = { .a = 0xa1b2c3d4, .b = 0xbeef, .c = 0x7f, .d = -2 };
	u64 r = 0;

	vmc_enter(__func__);
	VP(0, data, void *);
	switch (d->which) {
	case 1:
		r = vmcargs_wq_outer(vmcargs_heap_obj, 0xc0ffee0123456789ULL,
				     "wq-park");
		break;
	case 2:
		r = vmcargs_sleep_outer(current, sv, 600000);
		break;
	case 3:
		r = vmcargs_comp_outer(&vmcargs_never, -42, 0xfffe, 'x');
		break;
	case 4:
		r = vmcargs_mutex_hold(&vmcargs_mutex, 0x4d4);
		break;
	case 5:
		wait_for_completion(&vmcargs_mutex_held);
		r = vmcargs_mutex_wait_outer(&vmcargs_static_obj, -300, 0x8001);
		break;
	}
	vmcargs_sink = r + d->which + (unsigned long)data;
	return 0;
}

/* ---- the crash chain (runs in the process writing /proc/vmcargs) ------- */

static VMC_NOIPA u64 vmcargs_crash_now(enum vmcargs_mode mode,
				       unsigned long addr, u32 tag)
{
	vmc_enter(__func__);
	vmc_e(__func__, 0, "mode", "enum vmcargs_mode", sizeof(mode), mode,
	      vmcargs_mode_names[mode]);
	VU(1, addr, unsigned long);
	VU(2, tag, u32);
	vmc_pr("vmcargs: crash pid=%d comm=%s task=%px cpu=%d mode=%s addr=0x%lx\n",
		current->pid, current->comm, current, raw_smp_processor_id(),
		vmcargs_mode_names[mode], addr);
	switch (mode) {
	case VMCARGS_MODE_FAULT:
	case VMCARGS_MODE_FAULT_KERNEL:
	case VMCARGS_MODE_GP:
		WRITE_ONCE(*(u32 *)addr, tag);
		break;
	case VMCARGS_MODE_BUG:
		BUG();
	case VMCARGS_MODE_PANIC:
		panic("vmcargs: panic requested, tag=0x%x addr=0x%lx\n", tag, addr);
	}
	vmcargs_sink = vmc_mix(addr, tag);
	return addr ^ tag;
}

/*
 * Plain noinline and never uses "unused", so GCC may drop that parameter in
 * a clone (Debian's gcc 12 names it vmcargs_crash_clone.constprop.0 on
 * x86-64).  Because the clone's prototype differs from the source, the
 * caller logs this frame's truth.
 */
static noinline u64 vmcargs_crash_clone(const struct vmcargs_obj *obj,
				       enum vmcargs_mode mode,
				       unsigned long addr, int unused)
{
	u32 id = obj->id;
	u64 magic = obj->magic;
	u64 r;

	r = vmcargs_crash_now(mode, addr, id);
	vmcargs_sink = r + magic + addr;
	return r ^ magic;
}

static VMC_NOIPA u64 vmcargs_crash_struct(struct vmcargs_small sv,
					  struct vmcargs_pair pair,
					  const struct vmcargs_obj *obj,
					  enum vmcargs_mode mode,
					  unsigned long addr)
{
	u64 r;

	vmc_enter(__func__);
	vmc_log_small(__func__, 0, "sv", &sv);
	vmc_log_pair(__func__, 1, "pair", &pair);
	VP(2, obj, const struct vmcargs_obj *);
	vmc_e(__func__, 3, "mode", "enum vmcargs_mode", sizeof(mode), mode,
	      vmcargs_mode_names[mode]);
	VU(4, addr, unsigned long);

	vmc_enter("vmcargs_crash_clone");
	vmc_p("vmcargs_crash_clone", 0, "obj", "const struct vmcargs_obj *", obj);
	vmc_e("vmcargs_crash_clone", 1, "mode", "enum vmcargs_mode", sizeof(mode),
	      mode, vmcargs_mode_names[mode]);
	vmc_u("vmcargs_crash_clone", 2, "addr", "unsigned long",
	      sizeof(unsigned long), addr);
	vmc_s("vmcargs_crash_clone", 3, "unused", "int", sizeof(int),
	      (int)(addr >> 4));
	r = vmcargs_crash_clone(obj, mode, addr, (int)(addr >> 4));
	vmc_leave("vmcargs_crash_clone");

	r += sv.a ^ sv.b ^ sv.c ^ sv.d;
	r = vmc_mix(r, pair.lo + pair.hi + mode);
	vmcargs_sink = r;
	return r;
}

static VMC_NOIPA u64 vmcargs_crash_many(u8 a1, s8 a2, u16 a3, s16 a4, u32 a5,
					s32 a6, u64 a7, s64 a8, bool a9,
					char a10, const char *a11,
					enum vmcargs_mode mode,
					unsigned long addr)
{
	struct vmcargs_small sv = { .a = 0x11223344, .b = 0x5566, .c = 0x77, .d = -0x78 };
	struct vmcargs_pair pair = {
		.lo = 0xaaaaaaaa55555555ULL,
		.hi = 0x0123456789abcdefULL,
	};
	u64 r;

	vmc_enter(__func__);
	VU(0, a1, u8);
	VS(1, a2, s8);
	VU(2, a3, u16);
	VS(3, a4, s16);
	VU(4, a5, u32);
	VS(5, a6, s32);
	VU(6, a7, u64);
	VS(7, a8, s64);
	vmc_b(__func__, 8, "a9", a9);
	vmc_c(__func__, 9, "a10", a10);
	vmc_str(__func__, 10, "a11", "const char *", a11);
	vmc_e(__func__, 11, "mode", "enum vmcargs_mode", sizeof(mode), mode,
	      vmcargs_mode_names[mode]);
	VU(12, addr, unsigned long);
	r = vmcargs_crash_struct(sv, pair, &vmcargs_static_obj, mode, addr);
	r += a1 + a2 + a3 + a4 + a5 + a6 + a9 + a10 + a11[0];
	r = vmc_mix(r, a7 ^ a8);
	vmcargs_sink = r + mode + addr;
	return r;
}

static VMC_NOIPA u64 vmcargs_crash_start(enum vmcargs_mode mode,
					 struct task_struct *task,
					 struct vmcargs_obj *heap,
					 const char *mode_name,
					 unsigned long addr)
{
	u64 r;

	vmc_enter(__func__);
	vmc_e(__func__, 0, "mode", "enum vmcargs_mode", sizeof(mode), mode,
	      vmcargs_mode_names[mode]);
	VP(1, task, struct task_struct *);
	VP(2, heap, struct vmcargs_obj *);
	vmc_str(__func__, 3, "mode_name", "const char *", mode_name);
	VU(4, addr, unsigned long);
	r = vmcargs_crash_many(0xfe, -128, 0xffff, -32768, 0xfffffffeu,
			       -2147483647 - 1, 0xfedcba9876543210ULL,
			       -9223372036854775807LL - 1, true, 'Q',
			       "many-args", mode, addr);
	r = vmc_mix(r, heap->magic ^ task->pid ^ mode_name[0]);
	vmcargs_sink = r + mode + addr;
	return r;
}

static const char *const vmcargs_mode_words[] = {
	[VMCARGS_MODE_FAULT] = "fault",
	[VMCARGS_MODE_FAULT_KERNEL] = "fault-kernel",
	[VMCARGS_MODE_GP] = "gp",
	[VMCARGS_MODE_BUG] = "bug",
	[VMCARGS_MODE_PANIC] = "panic",
};

static VMC_NOIPA ssize_t vmcargs_proc_write(struct file *file,
					    const char __user *ubuf,
					    size_t count, loff_t *ppos)
{
	char buf[32];
	size_t n = min(count, sizeof(buf) - 1);
	enum vmcargs_mode mode = 0;
	unsigned long addr = 0;
	int i;

	vmc_enter(__func__);
	VP(0, file, struct file *);
	vmc_p(__func__, 1, "ubuf", "const char *", (const void *)ubuf);
	VU(2, count, size_t);
	VP(3, ppos, loff_t *);
	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	buf[n] = 0;
	strim(buf);
	if (!strcmp(buf, "whoami")) {
		vmc_pr("vmcargs: whoami pid=%d comm=%s task=%px cpu=%d\n",
			current->pid, current->comm, current,
			raw_smp_processor_id());
		vmc_leave(__func__);
		return count;
	}
	for (i = VMCARGS_MODE_FAULT; i <= VMCARGS_MODE_PANIC; i++)
		if (!strcmp(buf, vmcargs_mode_words[i]))
			mode = i;
	switch (mode) {
	case VMCARGS_MODE_FAULT:
		addr = fault_addr;
		break;
	case VMCARGS_MODE_FAULT_KERNEL:
		/* vmalloc areas are followed by an unmapped guard page */
		addr = (unsigned long)vmcargs_vmalloc_area + PAGE_SIZE + 0x48;
		break;
	case VMCARGS_MODE_GP:
		if (IS_ENABLED(CONFIG_X86_64))
			addr = (unsigned long)0xdead00000000beefULL;
		else
			mode = 0;
		break;
	case VMCARGS_MODE_BUG:
	case VMCARGS_MODE_PANIC:
		addr = (unsigned long)&vmcargs_static_obj;
		break;
	}
	if (!mode) {
		vmc_pr("vmcargs: unknown mode '%s'\n", buf);
		vmc_leave(__func__);
		return -EINVAL;
	}
	vmcargs_sink = vmcargs_crash_start(mode, current, vmcargs_heap_obj,
					   vmcargs_mode_words[mode], addr);
	vmc_leave(__func__);
	return count;
}

static const struct proc_ops vmcargs_proc_ops = {
	.proc_write = vmcargs_proc_write,
};

/* ---- load ----------------------------------------------------------------- */

static int __init vmcargs_init(void)
{
	int i;

	vmcargs_heap_obj = kzalloc(sizeof(*vmcargs_heap_obj), GFP_KERNEL);
	vmcargs_vmalloc_area = vmalloc(PAGE_SIZE);
	if (!vmcargs_heap_obj || !vmcargs_vmalloc_area)
		return -ENOMEM;
	vmcargs_heap_obj->magic = VMCARGS_MAGIC;
	vmcargs_heap_obj->id = 0x4ea9;
	strscpy(vmcargs_heap_obj->name, "vmcargs-heap", sizeof(vmcargs_heap_obj->name));
	vmcargs_heap_obj->self = vmcargs_heap_obj;

	vmc_pr("vmcargs: object name=static addr=%px\n", &vmcargs_static_obj);
	vmc_pr("vmcargs: object name=heap addr=%px\n", vmcargs_heap_obj);
	vmc_pr("vmcargs: object name=vmalloc addr=%px\n", vmcargs_vmalloc_area);
	vmc_pr("vmcargs: object name=mutex addr=%px\n", &vmcargs_mutex);
	vmc_pr("vmcargs: object name=completion addr=%px\n", &vmcargs_never);
	vmc_pr("vmcargs: object name=waitqueue addr=%px\n", &vmcargs_wq);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	vmc_pr("vmcargs: module core=%px size=0x%x\n",
		THIS_MODULE->core_layout.base, THIS_MODULE->core_layout.size);
#endif
#ifdef CONFIG_X86_64
	vmc_pr("vmcargs: layout pgtable_levels=%d page_offset_base=0x%lx vmalloc_base=0x%lx vmemmap_base=0x%lx phys_base=0x%lx\n",
		pgtable_l5_enabled() ? 5 : 4,
		(unsigned long)page_offset_base, (unsigned long)vmalloc_base,
		(unsigned long)vmemmap_base, (unsigned long)phys_base);
#else
	vmc_pr("vmcargs: layout pgtable_levels=%d page_offset=0x%lx\n",
		CONFIG_PGTABLE_LEVELS, (unsigned long)PAGE_OFFSET);
#endif

	for (i = 0; i < ARRAY_SIZE(vmcargs_threads); i++) {
		struct vmcargs_thread_desc *d = &vmcargs_threads[i];

		d->task = kthread_run(vmcargs_thread_fn, d, "%s", d->name);
		if (IS_ERR(d->task))
			return PTR_ERR(d->task);
		if (d->which == 4)
			vmcargs_holder_task = d->task;
		vmc_pr("vmcargs: thread name=%s pid=%d task=%px\n", d->name,
			d->task->pid, d->task);
		/* one at a time, so that the holder owns the mutex first */
		if (!wait_event_timeout(vmcargs_parked_wq,
					atomic_read(&vmcargs_parked) == i + 1,
					30 * HZ)) {
			pr_err("vmcargs: thread %s did not park\n", d->name);
			return -ETIMEDOUT;
		}
	}

	if (!proc_create("vmcargs", 0200, NULL, &vmcargs_proc_ops))
		return -ENOMEM;
	vmc_pr("vmcargs: ready threads=%d\n", atomic_read(&vmcargs_parked));
	return 0;
}
module_init(vmcargs_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmcore-args test module: known arguments in parked and crashing frames");
