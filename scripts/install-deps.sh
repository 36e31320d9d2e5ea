#!/usr/bin/env bash
# Installs everything vmcore-args needs on Debian 12 (bookworm): the build
# dependencies, the test tools, and the tools cores/ uses to make real dumps.
# Idempotent; run as root (or with sudo available).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config nlohmann-json3-dev
  libelf-dev libdw-dev libcli11-dev libfmt-dev libgtest-dev libgmock-dev
  libunwind-dev zlib1g-dev liblzo2-dev libsnappy-dev libzstd-dev
)
TEST_PKGS=(
  python3 gdb file binutils xz-utils zstd
  # real dumps (cores/): QEMU, a busybox initramfs, kdump tools, reference tools
  qemu-system-x86 qemu-utils busybox-static cpio kmod kexec-tools makedumpfile
  crash python3-drgn bc flex bison libssl-dev
  # big-endian host check: cross compiler + user-mode emulator (see .ci/s390x.sh)
  g++-s390x-linux-gnu qemu-user-static
  # gcc -m32 for the unwinder oracle's i386 process cores. Not gcc-multilib:
  # on bookworm it removes g++-s390x-linux-gnu; these two do not.
  libc6-dev-i386 lib32gcc-12-dev
)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
# A foreign architecture's broken index (seen: bookworm-security i386) makes
# apt-get update exit 100 although the other indexes loaded; do not die on it.
$SUDO apt-get update || echo "install-deps: apt-get update exited $? (continuing; some index may be broken)"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
