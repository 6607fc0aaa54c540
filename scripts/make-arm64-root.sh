#!/usr/bin/env bash
# Assemble a Debian 12 (bookworm) arm64 root filesystem from .deb packages,
# without debootstrap and without running any maintainer script, then build
# its /etc/ld.so.cache with the root's own (static) arm64 ldconfig under
# qemu-user emulation.
#
# Usage: scripts/make-arm64-root.sh ROOTDIR
#
# Environment:
#   ARM64_DEBS_DIR   where downloaded .debs are kept between runs
#                    (default: <parent of ROOTDIR>/arm64-debs)
#   ARM64_ROOT_VERIFY=0
#                    skip the final check that runs the root's own loader
#                    with `--list` under qemu on every dynamic ELF file in
#                    ROOT/usr/bin (about 5 s; on by default). The static
#                    DT_NEEDED check always runs.
#
# ROOTDIR is wiped and rebuilt on every run. Packages already in the cache
# with the right checksum are not downloaded again.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 ROOTDIR" >&2
  exit 2
fi
case "$1" in
  / | /usr | /usr/ | /etc | /lib | /bin) echo "refusing to use $1 as ROOTDIR" >&2; exit 2 ;;
esac
mkdir -p "$1"
root="$(cd "$1" && pwd)"
# Only wipe an empty directory or a root this script built before.
if [[ -n "$(ls -A "$root")" && ! -e "$root/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" ]]; then
  echo "$root is not empty and does not look like an arm64 root; refusing to wipe it" >&2
  exit 2
fi
debs="${ARM64_DEBS_DIR:-$(dirname "$root")/arm64-debs}"
mkdir -p "$debs"
debs="$(cd "$debs" && pwd)"

# Every package whose files go into the root. Only Depends/Pre-Depends that
# carry shared libraries or programs are listed; arch-all helpers (adduser,
# debian-archive-keyring, readline-common, ...) are left out on purpose.
packages=(
  # C runtime and loader
  base-files debianutils libc6 libc-bin libgcc-s1 gcc-12-base libstdc++6 libcrypt1
  # coreutils and friends
  coreutils libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10
  bash libtinfo6
  grep sed gzip tar findutils diffutils less mawk
  # TLS
  libssl3 openssl zlib1g
  # compression and dpkg
  libbz2-1.0 liblzma5 libzstd1 liblz4-1 libmd0 dpkg xz-utils bzip2 zstd
  # perl (links libcrypt1)
  perl-base
  # capabilities
  libcap2 libcap2-bin
  # apt: C++ programs with a deep library tree
  apt libapt-pkg6.0 libsystemd0 libudev1 libgcrypt20 libgpg-error0 libxxhash0
  libgnutls30 libhogweed6 libnettle8 libidn2-0 libunistring2 libp11-kit0 libffi8
  libtasn1-6 libseccomp2 gpgv
)

t0=$SECONDS

# --- host prerequisites -----------------------------------------------------
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "adding dpkg architecture arm64" >&2
  dpkg --add-architecture arm64
  apt-get update
fi
if ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
  apt-get update
fi
if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static
fi
for tool in dpkg-deb tar readelf sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils
    break
  }
done

# --- download (cached) ------------------------------------------------------
specs=()
for p in "${packages[@]}"; do specs+=("$p:arm64"); done
# Run from an empty directory: apt leaves out of --print-uris any package whose
# file is already in the current directory.
emptydir="$(mktemp -d)"
uris="$(cd "$emptydir" && apt-get download --print-uris "${specs[@]}")"
rmdir "$emptydir"
# Lines look like: 'http://.../coreutils_9.1-1_arm64.deb' coreutils_9.1-1_arm64.deb 2812340 SHA256:abc...
files=()
missing=()
while read -r _uri file _size hash; do
  [[ -n $file ]] || continue
  files+=("$file")
  want="${hash#SHA256:}"
  if [[ -f "$debs/$file" ]] && [[ "$(sha256sum "$debs/$file" | cut -d' ' -f1)" == "$want" ]]; then
    continue
  fi
  rm -f "$debs/$file"
  missing+=("${file%%_*}:arm64")
done <<<"$uris"
if [[ ${#files[@]} -ne ${#packages[@]} ]]; then
  echo "expected ${#packages[@]} packages, apt resolved ${#files[@]}" >&2
  exit 1
fi
if ((${#missing[@]})); then
  echo "downloading ${#missing[@]} package(s) into $debs" >&2
  # _apt must be able to write there, or apt warns and downloads unsandboxed.
  chown _apt "$debs" 2>/dev/null || true
  (cd "$debs" && apt-get download "${missing[@]}")
fi
t_dl=$SECONDS

# --- lay out the root -----------------------------------------------------
rm -rf "$root"
mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib
# Debian 12 is merged-/usr: the top-level directories are relative symlinks.
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
for file in "${files[@]}"; do
  # --keep-directory-symlink: a package's ./lib/ entry must not replace the
  # lib -> usr/lib symlink; its files land in usr/lib through it.
  dpkg-deb --fsys-tarfile "$debs/$file" | tar -x --keep-directory-symlink -C "$root"
done
for d in bin sbin lib; do
  if [[ ! -L "$root/$d" ]]; then
    echo "$root/$d is no longer a symlink" >&2
    exit 1
  fi
done
t_x=$SECONDS

# --- ld.so.cache via the root's own ldconfig ------------------------------
ldconfig_bin="$root/usr/sbin/ldconfig"
if readelf -lW "$ldconfig_bin" | grep -q 'Requesting program interpreter'; then
  echo "$ldconfig_bin is dynamically linked; expected a static binary" >&2
  exit 1
fi
qemu-aarch64-static "$ldconfig_bin" -r "$root"
if [[ ! -s "$root/etc/ld.so.cache" ]]; then
  echo "ldconfig did not write $root/etc/ld.so.cache" >&2
  exit 1
fi
t_ldc=$SECONDS

# --- static check: every DT_NEEDED of every ELF in usr/bin is in the root -
libdirs=("$root/usr/lib/aarch64-linux-gnu" "$root/usr/lib")
n_elf=0
n_dyn=0
bad=0
for f in "$root"/usr/bin/*; do
  [[ -f $f && ! -L $f ]] || continue
  [[ "$(head -c4 "$f" | od -An -tx1 | tr -d ' ')" == 7f454c46 ]] || continue
  n_elf=$((n_elf + 1))
  readelf -lW "$f" | grep -q 'Requesting program interpreter' || continue
  n_dyn=$((n_dyn + 1))
  # Closure walk: a worklist of files, collecting their NEEDED sonames.
  declare -A seen=()
  queue=("$f")
  while ((${#queue[@]})); do
    cur="${queue[0]}"
    queue=("${queue[@]:1}")
    while read -r so; do
      [[ -n $so && -z ${seen[$so]:-} ]] || continue
      seen[$so]=1
      hit=""
      for d in "${libdirs[@]}"; do
        if [[ -e "$d/$so" ]]; then hit="$d/$so"; break; fi
      done
      if [[ -z $hit ]]; then
        echo "unresolved: ${f#"$root"} needs $so (via ${cur#"$root"})" >&2
        bad=1
      else
        queue+=("$hit")
      fi
    done < <(readelf -dW "$cur" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  done
  unset seen
done
if ((bad)); then
  exit 1
fi
t_chk=$SECONDS

# --- the root's own loader lists every program under qemu ------------------
if [[ ${ARM64_ROOT_VERIFY:-1} == 1 ]]; then
  # ROOT/lib/ld-linux-aarch64.so.1 goes through the lib -> usr/lib symlink and
  # then the relative symlink aarch64-linux-gnu/ld-linux-aarch64.so.1; both
  # resolve on the host. -L ROOT makes qemu redirect the loader's opens of
  # absolute paths (/etc/ld.so.cache, /lib/aarch64-linux-gnu/...) into ROOT.
  loader="$root/lib/ld-linux-aarch64.so.1"
  fail=0
  for f in "$root"/usr/bin/*; do
    [[ -f $f && ! -L $f ]] || continue
    readelf -lW "$f" 2>/dev/null | grep -q 'Requesting program interpreter' || continue
    if ! out="$(qemu-aarch64-static -L "$root" "$loader" --list "$f" 2>&1)"; then
      echo "--list failed for ${f#"$root"}: $out" >&2
      fail=1
    elif grep -q 'not found' <<<"$out"; then
      echo "--list reports missing libraries for ${f#"$root"}: $out" >&2
      fail=1
    fi
  done
  ((fail == 0)) || exit 1
fi
t_end=$SECONDS

echo "arm64 root ready: $root" >&2
echo "  packages: ${#files[@]} (cache: $debs)" >&2
echo "  usr/bin: $n_elf ELF files, $n_dyn dynamically linked, all NEEDED resolved" >&2
echo "  time: download $((t_dl - t0))s, extract $((t_x - t_dl))s, ldconfig $((t_ldc - t_x))s," \
  "check $((t_chk - t_ldc))s, qemu verify $((t_end - t_chk))s, total $((t_end - t0))s" >&2
