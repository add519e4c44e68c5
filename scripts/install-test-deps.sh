#!/usr/bin/env bash
# Installs the Debian packages the tests use to make real disk images and to drive a real browser,
# when they are missing. Runs before `npm test` (the pretest script); idempotent and quick when all is there.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

# command:package
wanted=(
  qemu-img:qemu-utils sfdisk:fdisk sgdisk:gdisk xorriso:xorriso cryptsetup:cryptsetup-bin
  mkfs.ext4:e2fsprogs xz:xz-utils zstd:zstd bzip2:bzip2 prlimit:util-linux zip:zip chromium:chromium
  redis-server:redis-server
)
missing=()
for pair in "${wanted[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing test tools from Debian: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
