#!/usr/bin/env bash
# Builds, once, the fat Debian bookworm image the slim tests and benchmark
# use, the way a Dockerfile `FROM debian` + `RUN apt-get install` + `COPY
# app` would: three layers made with umoci (debootstrap minbase; apt-get
# install python3 curl in a chroot; an app under /app), then three tags
# that differ only in their config:
#   python    Cmd ["python3", "/app/main.py"], WorkingDir /app
#   pipeline  Entrypoint ["/bin/sh", "-c", "curl -s file:///app/x | sha256sum | cut -c1-16"]
#   ls        Cmd ["ls", "-l", "/app/x"], User nobody
# plus an oci-archive copy of the layout and the minbase root as a
# plain tar (a local base image for `podman import`).
#
# Usage: scripts/make-debian-image.sh OUTDIR   (needs root, debootstrap, umoci)
# Writes OUTDIR/fat (OCI layout), OUTDIR/fat.oci.tar, OUTDIR/minbase.tar.
# Does nothing when OUTDIR/fat.oci.tar exists; delete OUTDIR to rebuild.
# Downloaded packages stay in OUTDIR/debs between rebuilds.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"
if [[ -s $out/fat.oci.tar ]]; then
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "$0: needs root (debootstrap, chroot)" >&2
  exit 2
fi
for tool in debootstrap umoci; do
  command -v "$tool" >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  }
done
# The mirror the machine's own apt uses (deb822 or one-line sources).
mirror="$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/* *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
if [[ -z $mirror ]]; then
  mirror="$(sed -n 's/^deb  *\(\[[^]]*\]  *\)\?\(http[^ ]*\/debian\)\/* .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

t0=$SECONDS
work="$out/work"
rm -rf "$work" "$out/fat" "$out/minbase.tar"
mkdir -p "$work" "$out/debs"
trap 'rm -rf "$work"' EXIT
rootfs="$work/bundle/rootfs"

# FROM debian:bookworm
debootstrap --variant=minbase --cache-dir="$out/debs" bookworm "$work/minbase" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work/minbase/var/cache/apt/archives/"*.deb "$work/minbase/var/lib/apt/lists/"*
tar -C "$work/minbase" --numeric-owner -cf "$out/minbase.tar" .
t_boot=$SECONDS

umoci init --layout "$out/fat"
umoci new --image "$out/fat:build"
umoci unpack --image "$out/fat:build" "$work/bundle" >/dev/null
rm -rf "$rootfs"
mv "$work/minbase" "$rootfs"
umoci repack --refresh-bundle --image "$out/fat:build" --history.created_by "debootstrap --variant=minbase bookworm" "$work/bundle"

# RUN apt-get update && apt-get install -y python3 curl
cp /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
echo "deb $mirror bookworm main" >"$rootfs/etc/apt/sources.list"
mkdir -p "$rootfs/var/cache/apt/archives"
mount --bind "$out/debs" "$rootfs/var/cache/apt/archives"
mount -t proc proc "$rootfs/proc"
set +e
(chroot "$rootfs" apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq python3 curl) >"$work/apt.log" 2>&1
rc=$?
set -e
umount "$rootfs/proc"
umount "$rootfs/var/cache/apt/archives"
if [[ $rc != 0 ]]; then
  tail -n 20 "$work/apt.log" >&2
  exit 1
fi
rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/usr/sbin/policy-rc.d"
: >"$rootfs/etc/resolv.conf"
umoci repack --refresh-bundle --image "$out/fat:build" --history.created_by "apt-get install -y python3 curl" "$work/bundle"
t_apt=$SECONDS

# COPY app /app
mkdir -p "$rootfs/app"
cat >"$rootfs/app/main.py" <<'EOF'
import hashlib
import json

with open("/app/x", "rb") as f:
    data = f.read()
print(json.dumps({"sha256": hashlib.sha256(data).hexdigest()[:16], "bytes": len(data)}, sort_keys=True))
EOF
printf 'the fat image says hello\n' >"$rootfs/app/x"
chmod 644 "$rootfs/app/main.py" "$rootfs/app/x"
touch -d @1700000000 "$rootfs/app/main.py" "$rootfs/app/x" "$rootfs/app"
umoci repack --refresh-bundle --image "$out/fat:build" --history.created_by "COPY app /app" "$work/bundle"

path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umoci config --image "$out/fat:build" --tag python --config.env "$path" \
  --config.cmd python3 --config.cmd /app/main.py --config.workingdir /app \
  --config.label org.example.app=python --config.exposedports 8080/tcp \
  --config.volume /data --config.stopsignal SIGINT
umoci config --image "$out/fat:build" --tag pipeline --config.env "$path" \
  --config.entrypoint /bin/sh --config.entrypoint -c \
  --config.entrypoint "curl -s file:///app/x | sha256sum | cut -c1-16"
umoci config --image "$out/fat:build" --tag ls --config.env "$path" \
  --config.cmd ls --config.cmd -l --config.cmd /app/x --config.user nobody
umoci rm --image "$out/fat:build"
umoci gc --layout "$out/fat"

# An oci-archive is the layout as one tar (what skopeo's oci-archive: reads).
tar -C "$out/fat" --sort=name --numeric-owner -cf "$out/fat.oci.tar.tmp" .
mv "$out/fat.oci.tar.tmp" "$out/fat.oci.tar"
t_end=$SECONDS
echo "fat image ready: $out/fat ($(du -sh "$out/fat" | cut -f1))" >&2
echo "  time: debootstrap $((t_boot - t0))s, apt-get $((t_apt - t_boot))s, total $((t_end - t0))s" >&2
