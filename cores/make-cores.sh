#!/usr/bin/env bash
# make-cores.sh - make vmcore-args' real test-dump corpus from Debian's own
# kernel packages: boot them under QEMU (TCG) with the vmcargs test module,
# crash them, and keep QEMU and kdump/makedumpfile dumps with ground truth.
# See cores/README.md for the data-dir layout, scenarios and truth schema.
set -euo pipefail
shopt -s nullglob

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}

usage() {
	cat <<EOF
usage: $0 [options]
  --data DIR        data directory (default: \$VMCORE_ARGS_DATA or /var/tmp/vmcore-args)
  --sets LIST       comma list of x86_64,x86_64-la57,i386,i386-pae (default: all)
  --quick           reduced set for CI: per set one QEMU scenario and one kdump scenario
  --scenarios LIST  only these scenarios (names as in README.md)
  --jobs N          parallel make jobs for the module build (default 2)
  --no-anchors      do not run crash and drgn on the dumps
  --truth-only      only remake truth.json of existing scenarios from their serial.log
  --timeout SEC     bound for each QEMU run (default 300)
  -h, --help        this text
Every step is skipped when its output exists; remove a scenario directory
(DIR/dumps/SET/SCENARIO) to make it again.
EOF
}

DATA=${VMCORE_ARGS_DATA:-/var/tmp/vmcore-args}
SETS=x86_64,x86_64-la57,i386,i386-pae
QUICK=0
ONLY=""
JOBS=2
ANCHORS=1
TRUTH_ONLY=0
QEMU_TIMEOUT=300
while [ $# -gt 0 ]; do
	case "$1" in
	--data) DATA=$2; shift 2 ;;
	--data=*) DATA=${1#*=}; shift ;;
	--sets) SETS=$2; shift 2 ;;
	--sets=*) SETS=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;
	--scenarios) ONLY=$2; shift 2 ;;
	--scenarios=*) ONLY=${1#*=}; shift ;;
	--jobs) JOBS=$2; shift 2 ;;
	--jobs=*) JOBS=${1#*=}; shift ;;
	--no-anchors) ANCHORS=0; shift ;;
	--truth-only) TRUTH_ONLY=1; shift ;;
	--timeout) QEMU_TIMEOUT=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "make-cores: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done

mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
mkdir -p "$DATA/logs" "$DATA/debs" "$DATA/kernels" "$DATA/dumps"
LOG="$DATA/logs/make-cores-$(date +%Y%m%d-%H%M%S).log"
exec > >(tee -a "$LOG") 2>&1
T_START=$(date +%s)

say() { echo "make-cores: [$(date +%H:%M:%S) +$(( $(date +%s) - T_START ))s] $*"; }
die() {
	echo "make-cores: ERROR: $*" >&2
	echo "make-cores: log: $LOG" >&2
	exit 1
}
# Any failing command ends the run, naming the step and the command.
CUR_STEP="start"
set -E
trap 'echo "make-cores: ERROR: step \"$CUR_STEP\": command failed (exit $?): $BASH_COMMAND" >&2; echo "make-cores: log: $LOG" >&2' ERR
# timed NAME CMD... : run a step and log its duration
timed() {
	local name=$1 t0 outer=$CUR_STEP
	shift
	CUR_STEP=$name
	t0=$(date +%s.%N)
	say "begin $name"
	"$@"
	local dt
	dt=$(echo "$(date +%s.%N) - $t0" | bc)
	say "end   $name (${dt}s)"
	echo "$(date +%Y-%m-%dT%H:%M:%S) $name $dt" >> "$DATA/logs/timings.txt"
	CUR_STEP=$outer
}
need_file() { [ -s "$1" ] || die "${2:-missing} file: $1"; }
need_cmd() {
	command -v "$1" >/dev/null 2>&1 || die "command '$1' not found (run scripts/install-deps.sh${2:+; it comes from package $2})"
}

for c in apt-get apt-cache dpkg-deb tar cpio gzip make gcc-12 nm objdump readelf bc makedumpfile timeout; do need_cmd "$c"; done
need_cmd "$PY" python3
[ -x /bin/busybox ] || die "/bin/busybox missing (package busybox-static)"

say "data dir $DATA, sets $SETS, quick=$QUICK, log $LOG"

# ---- sets -----------------------------------------------------------------

# set_vars SET: ARCH DEBARCH FLAVOUR KSET QEMU CPU PAGING
set_vars() {
	case "$1" in
	x86_64) ARCH=x86_64 DEBARCH=amd64 FLAVOUR=cloud-amd64 KSET=x86_64 QEMU=qemu-system-x86_64 CPU=qemu64 PAGING=4-level ;;
	x86_64-la57) ARCH=x86_64 DEBARCH=amd64 FLAVOUR=cloud-amd64 KSET=x86_64 QEMU=qemu-system-x86_64 CPU=qemu64,+la57 PAGING=5-level ;;
	i386) ARCH=i386 DEBARCH=i386 FLAVOUR=686 KSET=i386 QEMU=qemu-system-i386 CPU="" PAGING=2-level ;;
	i386-pae) ARCH=i386 DEBARCH=i386 FLAVOUR=686-pae KSET=i386-pae QEMU=qemu-system-i386 CPU="" PAGING=pae ;;
	*) die "unknown set '$1' (known: x86_64, x86_64-la57, i386, i386-pae)" ;;
	esac
}

# Scenarios: NAME MODE KASLR(kaslr|nokaslr) CAPTURE(qemu|kdump)
scenarios_for() {
	local set=$1
	if [ "$QUICK" = 1 ]; then
		echo "fault-kaslr fault kaslr qemu"
		echo "fault-kaslr-kdump fault kaslr kdump"
		return
	fi
	case "$set" in
	x86_64)
		echo "fault-kaslr fault kaslr qemu"
		echo "fault-nokaslr fault nokaslr qemu"
		echo "fault-kernel-kaslr fault-kernel kaslr qemu"
		echo "gp-kaslr gp kaslr qemu"
		echo "bug-kaslr bug kaslr qemu"
		echo "panic-nokaslr panic nokaslr qemu"
		echo "sysrq-kaslr sysrq kaslr qemu"
		echo "fault-kaslr-kdump fault kaslr kdump"
		echo "bug-nokaslr-kdump bug nokaslr kdump"
		echo "panic-kaslr-kdump panic kaslr kdump"
		echo "sysrq-kaslr-kdump sysrq kaslr kdump"
		;;
	x86_64-la57)
		echo "fault-kaslr fault kaslr qemu"
		echo "gp-nokaslr gp nokaslr qemu"
		echo "fault-kaslr-kdump fault kaslr kdump"
		echo "panic-nokaslr-kdump panic nokaslr kdump"
		;;
	i386 | i386-pae)
		echo "fault-kaslr fault kaslr qemu"
		echo "fault-nokaslr fault nokaslr qemu"
		echo "fault-kernel-kaslr fault-kernel kaslr qemu"
		echo "bug-kaslr bug kaslr qemu"
		echo "panic-nokaslr panic nokaslr qemu"
		echo "sysrq-kaslr sysrq kaslr qemu"
		echo "fault-kaslr-kdump fault kaslr kdump"
		;;
	esac
}

# ---- debs -----------------------------------------------------------------

APT_UPDATED=0
apt_update_once() {
	[ $APT_UPDATED = 1 ] && return 0
	APT_UPDATED=1
	# A broken foreign index (bookworm-security i386 on some mirrors) makes
	# apt-get update exit 100 although the rest loaded: warn, go on.
	apt-get update -q || say "WARNING: apt-get update exited $? (continuing; an index may be broken)"
}

ensure_foreign_arch() {
	local a=$1
	[ "$a" = "$(dpkg --print-architecture)" ] && return 0
	if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
		say "adding dpkg architecture $a"
		dpkg --add-architecture "$a"
		APT_UPDATED=0
		apt_update_once
	fi
}

# pkg_version NAME:ARCH -> candidate version
pkg_version() {
	local v
	v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		apt_update_once
		v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	fi
	[ -n "$v" ] && [ "$v" != "(none)" ] || die "no candidate version for package $1 (apt-cache policy $1)"
	echo "$v"
}

# fetch_deb NAME ARCH VERSION -> prints the path of the cached .deb
fetch_deb() {
	local name=$1 arch=$2 ver=$3 f
	local fver=${ver//:/%3a}
	for a in "$arch" all; do
		f="$DATA/debs/${name}_${fver}_${a}.deb"
		if [ -s "$f" ]; then echo "$f"; return 0; fi
	done
	(cd "$DATA/debs" && apt-get download -q "$name:$arch=$ver" >&2) \
		|| die "apt-get download $name:$arch=$ver failed"
	for a in "$arch" all; do
		f="$DATA/debs/${name}_${fver}_${a}.deb"
		if [ -s "$f" ]; then echo "$f"; return 0; fi
	done
	die "downloaded $name:$arch=$ver but no $DATA/debs/${name}_${fver}_{$arch,all}.deb"
}

# ---- kernel -----------------------------------------------------------------

# resolve_kernel: writes kernels/KSET/release.env once (REL ABI VER; STEXT later)
resolve_kernel() {
	local kdir=$DATA/kernels/$KSET env
	env=$kdir/release.env
	[ -s "$env" ] && return 0
	mkdir -p "$kdir"
	ensure_foreign_arch "$DEBARCH"
	local dep rel abi ver
	dep=$(apt-cache depends "linux-image-$FLAVOUR:$DEBARCH" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ && !n++ {print $2}')
	if [ -z "$dep" ]; then
		apt_update_once
		dep=$(apt-cache depends "linux-image-$FLAVOUR:$DEBARCH" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ && !n++ {print $2}')
	fi
	[ -n "$dep" ] || die "cannot resolve the ABI of linux-image-$FLAVOUR:$DEBARCH (apt-cache depends)"
	rel=${dep#linux-image-}
	rel=${rel%%:*}
	abi=${rel%-"$FLAVOUR"}
	ver=$(pkg_version "linux-image-$rel-unsigned:$DEBARCH")
	cat > "$env.tmp" <<EOF
REL=$rel
ABI=$abi
VER=$ver
EOF
	mv "$env.tmp" "$env"
	say "kernel for $KSET: $rel ($ver)"
}

fetch_kernel_debs() {
	# shellcheck disable=SC1090
	. "$DATA/kernels/$KSET/release.env"
	DEB_IMAGE=$(fetch_deb "linux-image-$REL-unsigned" "$DEBARCH" "$VER")
	DEB_DBG=$(fetch_deb "linux-image-$REL-dbg" "$DEBARCH" "$VER")
	DEB_HDR=$(fetch_deb "linux-headers-$REL" "$DEBARCH" "$VER")
	DEB_HDRC=$(fetch_deb "linux-headers-$ABI-common" all "$VER")
	# kbuild's host tools (fixdep, modpost) run on the build host: host arch
	DEB_KBUILD=$(fetch_deb "linux-kbuild-${VER%.*}" "$(dpkg --print-architecture)" "$VER")
	if [ "$DEBARCH" != "$(dpkg --print-architecture)" ]; then
		local p v
		for p in busybox-static kexec-tools libc6 zlib1g liblzma5; do
			v=$(pkg_version "$p:$DEBARCH")
			fetch_deb "$p" "$DEBARCH" "$v" > /dev/null
		done
	fi
}

# Modules the guests need from the image package, in load order.
GUEST_MODULES="qemu_fw_cfg virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"

extract_kernel() {
	local kdir=$DATA/kernels/$KSET
	# shellcheck disable=SC1090
	. "$kdir/release.env"
	if [ ! -s "$kdir/vmlinux-$REL" ] || [ ! -d "$kdir/modules-dbg" ]; then
		# One pass over the (xz) data of the -dbg package: the vmlinux and
		# the detached debug info of the modules the guests load.
		say "extracting vmlinux-$REL and module debug info from $(basename "$DEB_DBG")"
		rm -rf "$kdir/dbg.tmp" "$kdir/modules-dbg" && mkdir -p "$kdir/dbg.tmp" "$kdir/modules-dbg.tmp"
		local dm=./usr/lib/debug/lib/modules/$REL/kernel
		dpkg-deb --fsys-tarfile "$DEB_DBG" | tar -x -C "$kdir/dbg.tmp" --wildcards \
			"./usr/lib/debug/boot/vmlinux-$REL" "$dm/drivers/firmware/qemu_fw_cfg.ko" \
			"$dm/drivers/virtio/virtio*.ko" "$dm/drivers/block/virtio_blk.ko" \
			|| die "extracting ./usr/lib/debug/boot/vmlinux-$REL and modules from $DEB_DBG"
		local m f
		for m in $GUEST_MODULES; do
			f=$(find "$kdir/dbg.tmp/$dm" -name "$m.ko" -print -quit)
			[ -n "$f" ] || die "debug info for $m.ko not in $DEB_DBG"
			mv "$f" "$kdir/modules-dbg.tmp/"
		done
		mv "$kdir/dbg.tmp/usr/lib/debug/boot/vmlinux-$REL" "$kdir/vmlinux-$REL"
		mv "$kdir/modules-dbg.tmp" "$kdir/modules-dbg"
		rm -rf "$kdir/dbg.tmp"
	fi
	if [ ! -s "$kdir/vmlinuz-$REL" ] || [ ! -d "$kdir/modules" ]; then
		say "extracting vmlinuz and modules from $(basename "$DEB_IMAGE")"
		rm -rf "$kdir/image.tmp" "$kdir/modules"
		dpkg-deb -x "$DEB_IMAGE" "$kdir/image.tmp"
		mkdir -p "$kdir/modules.tmp"
		local m f
		for m in $GUEST_MODULES; do
			f=$(find "$kdir/image.tmp/lib/modules/$REL" -name "$m.ko" -print -quit)
			[ -n "$f" ] || die "module $m.ko not in $DEB_IMAGE"
			cp "$f" "$kdir/modules.tmp/"
		done
		cp "$kdir/image.tmp/boot/config-$REL" "$kdir/config-$REL"
		cp "$kdir/image.tmp/boot/vmlinuz-$REL" "$kdir/vmlinuz-$REL.tmp"
		rm -rf "$kdir/image.tmp"
		mv "$kdir/modules.tmp" "$kdir/modules"
		mv "$kdir/vmlinuz-$REL.tmp" "$kdir/vmlinuz-$REL"
	fi
	if [ ! -f "$kdir/headers/usr/src/linux-headers-$REL/Makefile" ]; then
		say "extracting headers for $REL"
		rm -rf "$kdir/headers.tmp"
		mkdir -p "$kdir/headers.tmp"
		local d
		for d in "$DEB_HDR" "$DEB_HDRC" "$DEB_KBUILD"; do dpkg-deb -x "$d" "$kdir/headers.tmp"; done
		# The headers' Makefile includes the common tree by absolute path.
		echo "include $kdir/headers/usr/src/linux-headers-$ABI-common/Makefile" \
			> "$kdir/headers.tmp/usr/src/linux-headers-$REL/Makefile"
		rm -rf "$kdir/headers"
		mv "$kdir/headers.tmp" "$kdir/headers"
	fi
	if ! grep -q '^STEXT=' "$kdir/release.env"; then
		local stext
		stext=$(nm "$kdir/vmlinux-$REL" | awk '$3 == "_stext" {print $1}' | tail -n1)
		[ -n "$stext" ] || die "no _stext in $kdir/vmlinux-$REL"
		echo "STEXT=0x$stext" >> "$kdir/release.env"
	fi
	need_file "$kdir/vmlinux-$REL"
	need_file "$kdir/vmlinuz-$REL"
}

build_module() {
	local kdir=$DATA/kernels/$KSET b
	# shellcheck disable=SC1090
	. "$kdir/release.env"
	b=$kdir/vmcargs-build
	if [ -s "$kdir/vmcargs.ko" ] && cmp -s "$HERE/module/vmcargs.c" "$b/vmcargs.c"; then
		return 0
	fi
	say "building vmcargs.ko for $REL"
	rm -rf "$b" && mkdir -p "$b"
	cp "$HERE/module/vmcargs.c" "$HERE/module/Kbuild" "$b/"
	local extra=()
	if [ "$ARCH" = i386 ]; then
		# Debian's i386 headers are driven by the amd64 host's gcc-12: it
		# generates -m32 code itself (kernel code needs no libc).
		extra=(ARCH=x86)
	fi
	make -C "$kdir/headers/usr/src/linux-headers-$REL" M="$b" -j"$JOBS" "${extra[@]}" modules \
		> "$b/build.log" 2>&1 || { tail -n 30 "$b/build.log"; die "module build failed, see $b/build.log"; }
	need_file "$b/vmcargs.ko" "module build produced no"
	cp "$b/vmcargs.ko" "$kdir/vmcargs.ko.tmp"
	mv "$kdir/vmcargs.ko.tmp" "$kdir/vmcargs.ko"
	# the source is copied last: it marks the build as complete
	cp "$HERE/module/vmcargs.c" "$b/vmcargs.c"
	nm "$kdir/vmcargs.ko" | grep -E ' [tT] vmcargs_' | sed 's/^/  /'
}

# busybox, kexec and its libraries for the guest's architecture
guest_userland() {
	local kdir=$DATA/kernels/$KSET root=$1
	mkdir -p "$root/bin" "$root/sbin"
	if [ "$DEBARCH" = "$(dpkg --print-architecture)" ]; then
		cp /bin/busybox "$root/bin/busybox"
		need_cmd kexec kexec-tools
		local kexec lib
		kexec=$(command -v kexec)
		cp "$kexec" "$root/sbin/kexec"
		for lib in $(ldd "$kexec" | awk '/=>/ {print $3} /^\t\// {print $1}'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	else
		local sys=$kdir/sysroot p v f
		if [ ! -x "$sys/sbin/kexec" ] || [ ! -x "$sys/bin/busybox" ]; then
			rm -rf "$sys" && mkdir -p "$sys"
			for p in busybox-static kexec-tools libc6 zlib1g liblzma5; do
				v=$(pkg_version "$p:$DEBARCH")
				f=$(fetch_deb "$p" "$DEBARCH" "$v")
				dpkg-deb -x "$f" "$sys"
			done
		fi
		cp "$sys/bin/busybox" "$root/bin/busybox"
		cp "$sys/sbin/kexec" "$root/sbin/kexec"
		local l
		mkdir -p "$root/lib/i386-linux-gnu"
		for l in libc.so.6 libz.so.1 liblzma.so.5; do
			f=$(find "$sys/lib/i386-linux-gnu" "$sys/usr/lib/i386-linux-gnu" -name "$l" -print -quit 2>/dev/null || true)
			[ -n "$f" ] || die "$l not found in $sys"
			cp -L "$f" "$root/lib/i386-linux-gnu/$l"
		done
		cp -L "$sys/lib/ld-linux.so.2" "$root/lib/ld-linux.so.2" 2>/dev/null \
			|| cp -L "$(find "$sys" -name 'ld-linux.so.2' -print -quit)" "$root/lib/ld-linux.so.2" \
			|| die "ld-linux.so.2 not found in $sys"
	fi
}

make_cpio() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --owner=0:0) | gzip -9 > "$2"; }

# initramfs.cpio.gz: busybox, init, modules, vmcargs.ko, kexec;
# initramfs-kdump.cpio.gz: the same plus /kdump/{vmlinuz,initrd.img}
build_initramfs() {
	local kdir=$DATA/kernels/$KSET
	# shellcheck disable=SC1090
	. "$kdir/release.env"
	local stamp="$kdir/initramfs.inputs" want
	want=$(cat "$HERE/initramfs/init" "$kdir/vmcargs.ko" | sha256sum | cut -d' ' -f1)
	if [ -s "$kdir/initramfs.cpio.gz" ] && [ -s "$kdir/initramfs-kdump.cpio.gz" ] \
		&& [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	say "building initramfs for $KSET"
	local root=$kdir/initramfs.root
	rm -rf "$root" && mkdir -p "$root"/{proc,sys,dev,tmp,lib/vmcargs/modules,kdump}
	guest_userland "$root"
	cp "$HERE/initramfs/init" "$root/init"
	chmod 755 "$root/init"
	cp "$kdir/vmcargs.ko" "$root/lib/vmcargs/vmcargs.ko"
	local m
	for m in $GUEST_MODULES; do
		cp "$kdir/modules/$m.ko" "$root/lib/vmcargs/modules/"
		echo "$m" >> "$root/lib/vmcargs/modules.list"
	done
	make_cpio "$root" "$kdir/initramfs.cpio.gz.tmp"
	local extra=$kdir/initramfs.extra
	rm -rf "$extra" && mkdir -p "$extra/kdump"
	cp "$kdir/vmlinuz-$REL" "$extra/kdump/vmlinuz"
	cp "$kdir/initramfs.cpio.gz.tmp" "$extra/kdump/initrd.img"
	make_cpio "$extra" "$kdir/initramfs.extra.cpio.gz"
	cat "$kdir/initramfs.cpio.gz.tmp" "$kdir/initramfs.extra.cpio.gz" > "$kdir/initramfs-kdump.cpio.gz"
	mv "$kdir/initramfs.cpio.gz.tmp" "$kdir/initramfs.cpio.gz"
	rm -rf "$extra" "$kdir/initramfs.extra.cpio.gz" "$root"
	echo "$want" > "$stamp"
	say "initramfs $(stat -c %s "$kdir/initramfs.cpio.gz") B, with kdump payload $(stat -c %s "$kdir/initramfs-kdump.cpio.gz") B"
}

# ---- scenarios ----------------------------------------------------------------

# Guest memory (overridable for experiments; README.md says why these values)
QEMU_MEM=${VMC_QEMU_MEM:-256M}
KDUMP_MEM=${VMC_KDUMP_MEM:-384M}
CRASHKERNEL=${VMC_CRASHKERNEL:-128M}

run_scenario() {
	local set=$1 name=$2 mode=$3 kaslr=$4 capture=$5
	local kdir=$DATA/kernels/$KSET out=$DATA/dumps/$set/$name
	# shellcheck disable=SC1090
	. "$kdir/release.env"
	if [ -s "$out/truth.json" ]; then
		say "skip $set/$name (exists)"
		return 0
	fi
	local tmp=$out.tmp
	rm -rf "$tmp" && mkdir -p "$tmp"
	local append="console=ttyS0 panic=0 oops=panic ignore_loglevel printk.devkmsg=on vmcargs_mode=$mode"
	[ "$kaslr" = nokaslr ] && append="$append nokaslr"
	local args=(--qemu "$QEMU" --kernel "$kdir/vmlinuz-$REL" --smp 2 --out "$tmp" --timeout "$QEMU_TIMEOUT")
	[ -n "$CPU" ] && args+=(--cpu "$CPU")
	if [ "$capture" = qemu ]; then
		args+=(--initrd "$kdir/initramfs.cpio.gz" --mem "$QEMU_MEM" --dumps elf,paging,zlib --append "$append")
	else
		local how=file
		[ "$ARCH" = i386 ] && how=legacy
		append="$append crashkernel=$CRASHKERNEL vmcargs_kdump=$how"
		local mb=${KDUMP_MEM%M}
		args+=(--initrd "$kdir/initramfs-kdump.cpio.gz" --mem "$KDUMP_MEM" --append "$append"
			--kdump-disk "$tmp/disk.raw" --disk-size $(( (mb + 64) * 1024 * 1024 )))
	fi
	local attempt runtime
	for attempt in 1 2 3; do
		"$PY" "$HERE/qemu-run.py" "${args[@]}" || die "QEMU run $set/$name failed (serial log: $tmp/serial.log)"
		[ "$kaslr" = kaslr ] || break
		# KASLR may pick offset 0 (seen once in ~30 boots); a KASLR scenario
		# should exercise a real offset, so boot again (the offset is random).
		runtime=$(sed -n 's/.*vmcargs-init: kallsyms \([0-9a-f]*\) T _stext.*/\1/p' "$tmp/serial.log" | head -n1)
		[ -n "$runtime" ] || die "no _stext in $tmp/serial.log"
		[ "$((16#$runtime))" != "$((STEXT))" ] && break
		say "KASLR chose offset 0 in $set/$name (attempt $attempt); booting again"
		rm -f "$tmp"/vmcore.* "$tmp/serial.log"
	done
	cp "$kdir/vmcargs.ko" "$tmp/vmcargs.ko"
	if [ "$capture" = kdump ]; then
		make_makedumpfile_variants "$tmp"
	else
		# QEMU's -z output is makedumpfile's flattened format; -R rebuilds
		# the standard compressed (diskdump) file from it.
		makedumpfile -R "$tmp/vmcore.qemu-zlib.kdump" < "$tmp/vmcore.qemu-zlib.flat" \
			> "$tmp/makedumpfile-R.txt" 2>&1 || die "makedumpfile -R failed on $set/$name (see $tmp/makedumpfile-R.txt)"
		[ "$(stat -c %s "$tmp/vmcore.qemu-zlib.kdump")" -gt 1048576 ] || die "makedumpfile -R wrote a tiny $tmp/vmcore.qemu-zlib.kdump"
	fi
	chmod 644 "$tmp"/vmcore.*
	make_truth "$set" "$name" "$mode" "$tmp"
	rm -rf "$out"
	mv "$tmp" "$out"
	ls -l "$out" | sed 's/^/  /'
}

# make_truth SET NAME MODE DIR: DIR/truth.json from DIR/serial.log
make_truth() {
	local set=$1 name=$2 mode=$3 dir=$4
	# shellcheck disable=SC1090
	. "$DATA/kernels/$KSET/release.env"
	"$PY" "$HERE/truth.py" --data "$DATA" --set "$set" --scenario "$name" --dir "$dir" \
		--arch "$ARCH" --paging "$PAGING" --release "$REL" --vmlinux "kernels/$KSET/vmlinux-$REL" \
		--vmlinux-stext "$STEXT" --ko "$dir/vmcargs.ko" --modules-dir "kernels/$KSET/modules" \
		--debug-modules-dir "kernels/$KSET/modules-dbg" \
		--cpus 2 --mode "$mode" --out "$dir/truth.json" \
		|| die "truth.py failed for $set/$name ($dir/serial.log)"
}

make_makedumpfile_variants() {
	local d=$1 src=$1/vmcore.kdump.elf
	local rc
	: > "$d/makedumpfile.txt"
	# name : options
	local v
	for v in "vmcore.md-zlib.kdump:-c -d 31" "vmcore.md-lzo.kdump:-l -d 31" \
		"vmcore.md-d31.elf:-E -d 31" "vmcore.md-zlib.flat:-F -c -d 31"; do
		local f=${v%%:*} opts=${v#*:}
		rc=0
		opts="--message-level 30 $opts"   # all messages but the progress bars
		echo "\$ makedumpfile $opts $src $f" >> "$d/makedumpfile.txt"
		if [[ "$f" == *.flat ]]; then
			# shellcheck disable=SC2086
			makedumpfile $opts "$src" > "$d/$f" 2>> "$d/makedumpfile.txt" || rc=$?
		else
			# shellcheck disable=SC2086
			makedumpfile $opts "$src" "$d/$f" >> "$d/makedumpfile.txt" 2>&1 || rc=$?
		fi
		echo "exit=$rc" >> "$d/makedumpfile.txt"
		if [ $rc -eq 0 ] && [ "$(stat -c %s "$d/$f" 2>/dev/null || echo 0)" -lt 1048576 ]; then
			die "makedumpfile $opts wrote only $(stat -c %s "$d/$f" 2>/dev/null || echo 0) bytes to $d/$f"
		fi
		if [ $rc -ne 0 ]; then
			rm -f "$d/$f"
			if [ "$ARCH" = i386 ]; then
				say "makedumpfile $opts failed on i386 (expected: Debian's makedumpfile is x86-64 only)"
			else
				die "makedumpfile $opts $src failed (see $d/makedumpfile.txt)"
			fi
		fi
	done
}

# ---- main -----------------------------------------------------------------------

do_set() {
	local set=$1
	set_vars "$set"
	need_cmd "$QEMU" qemu-system-x86
	timed "$set: resolve kernel" resolve_kernel
	timed "$set: fetch debs" fetch_kernel_debs
	timed "$set: extract kernel" extract_kernel
	timed "$set: build module" build_module
	timed "$set: initramfs" build_initramfs
	local name mode kaslr capture
	while read -r name mode kaslr capture; do
		if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
		if [ "$TRUTH_ONLY" = 1 ]; then
			[ -d "$DATA/dumps/$set/$name" ] && make_truth "$set" "$name" "$mode" "$DATA/dumps/$set/$name"
			continue
		fi
		timed "$set: scenario $name" run_scenario "$set" "$name" "$mode" "$kaslr" "$capture"
		if [ "$ANCHORS" = 1 ]; then
			timed "$set: anchors $name" "$HERE/anchors.sh" "$DATA" "$set" "$name"
		fi
	done < <(scenarios_for "$set")
	say "set $set: $(du -sh "$DATA/dumps/$set" | cut -f1) in dumps/$set"
}

IFS=, read -r -a SET_LIST <<< "$SETS"
for s in "${SET_LIST[@]}"; do
	timed "set $s" do_set "$s"
done
say "all done in $(( $(date +%s) - T_START ))s; data in $DATA"
