#!/usr/bin/env bash
# Installs the Debian packages the test suite uses (Debian 12). Safe to run again.
#   chromium          the browser Playwright drives (browsers cannot be downloaded here)
#   qemu-system-x86   the reference machine (QEMU microvm) the guest images are proven on
#   e2fsprogs         mke2fs/debugfs/e2fsck for the ext2 test disk
#   acpica-tools      iasl, the oracle for our ACPI tables
#   gcc binutils      the native harness of the differential CPU tests; objdump as a length oracle
#   nasm              assembles guest test programs
#   lz4               unpacks vmlinux from the bzImage for the objdump length oracle
set -euo pipefail
packages=(chromium qemu-system-x86 e2fsprogs acpica-tools gcc libc6-dev binutils nasm lz4)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies: all installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "test dependencies: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
