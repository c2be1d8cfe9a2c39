#!/usr/bin/env bash
# Builds the default virtlite guest from Debian packages, reproducibly:
#   public/kernels/bzImage          Linux (Debian linux-source-6.1) with guest/linux.config
#   public/kernels/initramfs.cpio   busybox-static + guest/init (uncompressed newc cpio)
#
# Usage: guest/build.sh [--install-deps] [--jobs N] [--initramfs-only]
#   --initramfs-only  rebuild only the initramfs (after editing guest/init); keeps bzImage
# Environment: BUILD_DIR (default: build/guest), SOURCE_DATE_EPOCH (default: fixed)
#
# guest/linux.config is the committed full config. To change it, edit guest/linux.fragment
# and run with --refresh-config: the config is regenerated from `make tinyconfig` plus the
# fragment, every fragment option is checked, and the result is written back.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build/guest}
out=$root/public/kernels
jobs=$(nproc)
refresh=0
install=0
initramfs_only=0

while [ $# -gt 0 ]; do
  case "$1" in
    --install-deps) install=1 ;;
    --refresh-config) refresh=1 ;;
    --jobs) jobs=$2; shift ;;
    --initramfs-only) initramfs_only=1 ;;
    *) echo "guest/build.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n== %s ==\n' "$*"; }

if [ "$install" = 1 ]; then
  step "installing build dependencies (apt-get)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    linux-source-6.1 busybox-static build-essential bc bison flex libelf-dev libssl-dev \
    cpio xz-utils lz4
fi

# Fixed identity and time so that two builds give the same bytes.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export KBUILD_BUILD_TIMESTAMP="@$SOURCE_DATE_EPOCH"
export KBUILD_BUILD_USER=virtlite
export KBUILD_BUILD_HOST=virtlite
export KBUILD_BUILD_VERSION=1
export LC_ALL=C TZ=UTC

if [ "$initramfs_only" = 0 ]; then
tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
[ -n "$tarball" ] || { echo "linux-source-6.1 is not installed (run with --install-deps)" >&2; exit 1; }
src=$build/linux-source-6.1
mkdir -p "$build" "$out"
if [ ! -f "$src/Makefile" ] || [ "$tarball" -nt "$src/Makefile" ]; then
  step "extracting $tarball"
  rm -rf "$src"
  tar -xf "$tarball" -C "$build"
fi
ver=$(make -s -C "$src" kernelversion)
echo "Linux $ver, $jobs jobs, build dir $build"

if [ "$refresh" = 1 ] || [ ! -f "$here/linux.config" ]; then
  step "generating the config: tinyconfig + guest/linux.fragment"
  make -s -C "$src" ARCH=x86_64 tinyconfig >/dev/null
  "$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$here/linux.fragment" >/dev/null
  make -s -C "$src" ARCH=x86_64 olddefconfig 2>&1 | grep -v "override:" || true
  missing=0
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=n) opt=${line%%=*}
        if grep -q "^$opt=" "$src/.config"; then echo "fragment: $opt is still set" >&2; missing=1; fi ;;
      CONFIG_*) if ! grep -qx "$line" "$src/.config"; then echo "fragment: $line did not survive olddefconfig" >&2; missing=1; fi ;;
    esac
  done < "$here/linux.fragment"
  [ "$missing" = 0 ] || { echo "guest/linux.fragment asks for options the kernel did not accept" >&2; exit 1; }
  cp "$src/.config" "$here/linux.config"
else
  step "using the committed guest/linux.config"
  cp "$here/linux.config" "$src/.config"
  make -s -C "$src" ARCH=x86_64 olddefconfig 2>&1 | grep -v "override:" || true
  if ! diff -q <(grep -v '^#' "$here/linux.config" | sort) <(grep -v '^#' "$src/.config" | sort) >/dev/null; then
    echo "guest/linux.config is not stable under olddefconfig; rerun with --refresh-config" >&2; exit 1
  fi
fi

step "building the kernel (make -j$jobs bzImage)"
log=$build/kernel-build.log
if ! make -C "$src" ARCH=x86_64 -j"$jobs" bzImage > "$log" 2>&1; then
  tail -n 40 "$log" >&2; echo "kernel build failed (full log: $log)" >&2; exit 1
fi
tail -n 1 "$log"
cp "$src/arch/x86/boot/bzImage" "$out/bzImage"
fi
mkdir -p "$build" "$out"

step "building the initramfs (busybox-static)"
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is not installed (run with --install-deps)" >&2; exit 1; }
file "$bb" 2>/dev/null | grep -q 'statically linked' || echo "warning: $bb does not look static" >&2
rootfs=$build/initramfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,mnt}
cp "$bb" "$rootfs/bin/busybox"
# one symlink per applet, made with the same busybox the guest runs
"$bb" --list-full | while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$rootfs/$(dirname "$applet")"
  ln -sf /bin/busybox "$rootfs/$applet"
done
install -m 0755 "$here/init" "$rootfs/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\n' > "$rootfs/etc/group"
printf 'virtlite\n' > "$rootfs/etc/hostname"
chmod 1777 "$rootfs/tmp"
find "$rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$rootfs" && find . -mindepth 1 | sort | cpio --quiet -o -H newc --reproducible -R 0:0) > "$out/initramfs.cpio"

step "result"
(cd "$out" && ls -l bzImage initramfs.cpio && sha256sum bzImage initramfs.cpio | tee SHA256SUMS)
