#!/usr/bin/env bash
# Runs elfroot's fuzz targets (fuzz/fuzz_targets: elf, ld_so_cache,
# ld_so_conf, layer) with cargo-fuzz on the nightly toolchain, each for
# SECONDS (default 60), seeded from this machine (small ELF files, its
# ld.so.cache, a tiny layer). Not part of CI: run it by hand after changing a
# reader. A crash leaves its input under fuzz/artifacts/TARGET/ and makes
# this script exit 1.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elf ld_so_cache ld_so_conf layer)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || { echo "fuzz.sh: needs a nightly toolchain" >&2; exit 2; }

corpus=fuzz/corpus
seed() {
  local t=$1 d=$corpus/$1
  mkdir -p "$d"
  [ -n "$(ls -A "$d")" ] && return
  case $t in
    elf)
      for f in /usr/bin/true /usr/bin/ls /lib/x86_64-linux-gnu/libz.so.1 /lib/ld-musl-x86_64.so.1 tests/foreign/*/app; do
        [ -f "$f" ] && head -c 65536 "$f" > "$d/$(echo "$f" | tr / _)"
      done ;;
    ld_so_cache) [ -f /etc/ld.so.cache ] && cp /etc/ld.so.cache "$d/host" ;;
    ld_so_conf) printf 'include ld.so.conf.d/*.conf\n/opt/a\0/usr/local/lib\ninclude /etc/c.conf\0/b\0/opt/c # x\n' > "$d/seed" ;;
    layer)
      local tmp; tmp=$(mktemp -d)
      mkdir -p "$tmp/bin" "$tmp/etc/.wh..wh..opq" && cp /usr/bin/true "$tmp/bin/sh" && ln -s sh "$tmp/bin/ash"
      tar -C "$tmp" -cf "$d/plain.tar" . && gzip -c "$d/plain.tar" > "$d/gz.tar.gz"
      rm -rf "$tmp" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  seed "$t"
  echo "== fuzz $t for ${seconds}s"
  if ! (cd fuzz && cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
          -max_total_time="$seconds" -rss_limit_mb=512 -timeout=10 -print_final_stats=1 2>&1 | tail -15); then
    echo "fuzz.sh: $t found a crash (see fuzz/artifacts/$t)" >&2
    status=1
  fi
done
exit $status
