#!/usr/bin/env bash
# Makes the disk-format detector's corpus with the real tools, for manual checks and the benchmark:
#   scripts/make-format-fixtures.sh OUT_DIR
# One subdirectory per entry, named as in test/imports/formats/make-images.ts (which the tests use;
# keep the two in step). Debian packages: qemu-utils fdisk gdisk xorriso e2fsprogs xz-utils zstd bzip2
# zip, and optionally cryptsetup-bin (the LUKS entries are left out with a warning when it cannot run).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
# Partitioning tools live in sbin, which a non-root PATH lacks.
PATH="$PATH:/usr/sbin:/sbin"
DISK_SIZE=8M

need() { # need TOOL PACKAGE
  command -v "$1" >/dev/null || { echo "$1 is not installed: apt-get install -y $2" >&2; exit 1; }
}
need qemu-img qemu-utils; need sfdisk fdisk; need fdisk fdisk; need sgdisk gdisk; need xorriso xorriso
need mkfs.ext4 e2fsprogs; need gzip gzip; need xz xz-utils; need zstd zstd; need bzip2 bzip2; need zip zip
need tar tar

entry() { # entry NAME: a fresh subdirectory, entered
  rm -rf "${OUT:?}/$1" && mkdir -p "$OUT/$1" && cd "$OUT/$1"
}
raw() { qemu-img create -q -f raw "$1" "$DISK_SIZE"; }
qemu() { # qemu NAME FORMAT [OPTIONS...]
  entry "$1"; local format=$2; shift 2
  qemu-img create -q -f "$format" "$@" "disk.$format" "$DISK_SIZE"
}

# Raw disks: accepted (MBR, GPT, GPT with 4 KiB sectors) or refused (zeros, bare ext4, empty table).
entry raw-zeros; raw zeros.raw
entry mbr-disk; raw mbr.raw
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q mbr.raw
MBR="$OUT/mbr-disk/mbr.raw"
entry mbr-empty-table; raw empty.raw; printf 'label: dos\n' | sfdisk -q empty.raw
entry gpt-disk; raw gpt.raw; sgdisk -o -n 1:2048:0 -t 1:8300 gpt.raw >/dev/null
# sgdisk and sfdisk cannot set the sector size of a plain file; fdisk -b can. g: new GPT, n: partition.
entry gpt-4k-disk; raw gpt4k.raw; printf 'g\nn\n\n\n\nw\n' | fdisk -b 4096 gpt4k.raw >/dev/null
entry ext4; truncate -s "$DISK_SIZE" ext4.img; mkfs.ext4 -q -F ext4.img

# Virtual disk containers.
qemu qcow2 qcow2
qemu qed qed
qemu vmdk vmdk
qemu vmdk-stream vmdk -o subformat=streamOptimized
qemu vmdk-descriptor vmdk -o subformat=monolithicFlat
qemu vdi vdi
qemu vhd-dynamic vpc -o subformat=dynamic
qemu vhd-fixed-zeros vpc -o subformat=fixed
entry vhd-fixed-mbr; qemu-img convert -f raw -O vpc -o subformat=fixed "$MBR" fixed.vhd
qemu vhdx vhdx

# ISO 9660: plain, and hybrid as distributions ship them (MBR table, or GPT with a protective MBR).
entry iso-root; mkdir root; echo 'installer media' > root/README.txt
entry efi-partition; truncate -s 1M efi.img
iso() { # iso NAME [XORRISO OPTIONS...]
  entry "$1"; shift
  xorriso -as mkisofs -quiet -V TEST "$@" -o out.iso "$OUT/iso-root/root" 2>/dev/null
}
iso iso
iso iso-hybrid-mbr -append_partition 2 0xef "$OUT/efi-partition/efi.img" --mbr-force-bootable
iso iso-hybrid-gpt -append_partition 2 0xef "$OUT/efi-partition/efi.img" -appended_part_as_gpt

# LUKS: pbkdf2 with few iterations, since the default argon2 wants a gigabyte and seconds of work.
luks() { # luks NAME TYPE [OPTIONS...]
  entry "$1"; local type=$2; shift 2
  printf 'not-a-secret' > key; truncate -s 20M luks.img
  cryptsetup luksFormat --type "$type" --batch-mode "$@" --pbkdf-force-iterations 1000 --key-file key luks.img
  rm key
}
if command -v cryptsetup >/dev/null; then
  luks luks1 luks1 || echo "warning: cryptsetup could not make luks1 here" >&2
  luks luks2 luks2 --pbkdf pbkdf2 || echo "warning: cryptsetup could not make luks2 here" >&2
else
  echo "warning: cryptsetup not installed (apt-get install -y cryptsetup-bin): no LUKS entries" >&2
fi

# Compressed streams and archives of the MBR disk (archived as disk.raw, as cloud images are).
entry gzip; gzip -c "$MBR" > mbr.raw.gz
entry xz; xz -c -T1 "$MBR" > mbr.raw.xz
entry zstd; zstd -q -c "$MBR" > mbr.raw.zst
entry bzip2; bzip2 -c "$MBR" > mbr.raw.bz2
archive() { # archive NAME TOOL ARGS...: archives disk.raw
  entry "$1"; local tool=$2; shift 2
  cp "$MBR" disk.raw && "$tool" "$@" disk.raw && rm disk.raw
}
archive zip zip -q -j mbr.zip
archive tar tar -cf mbr.tar
archive tar-gnu tar --format=gnu -cf mbr.tar
archive tar-v7 tar --format=v7 -cf mbr.tar
archive tar-gz tar -czf mbr.tar.gz

echo "corpus written to $OUT"
