#!/usr/bin/env bash
# From a fresh Debian 12 machine to a report: installs the dependencies,
# builds vmcore-args, makes one real crash dump (Debian's cloud-amd64 kernel
# booted under QEMU with the vmcargs test module, crashing on a page fault;
# debs and dumps are cached in $VMCORE_ARGS_DATA, default
# /var/tmp/vmcore-args) and runs vmcore-args on it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
data=${VMCORE_ARGS_DATA:-/var/tmp/vmcore-args}
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j"${JOBS:-2}" vmcore-args
./cores/make-cores.sh --data "$data" --sets x86_64 --scenarios fault-kaslr --no-anchors
dir=$data/dumps/x86_64/fault-kaslr
vmlinux=$data/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vmlinux"])' "$dir/truth.json")
echo
echo "+ build/vmcore-args $dir/vmcore.qemu.elf $vmlinux --modules $dir"
exec ./build/vmcore-args "$dir/vmcore.qemu.elf" "$vmlinux" --modules "$dir"
