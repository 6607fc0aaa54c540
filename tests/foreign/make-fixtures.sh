#!/usr/bin/env bash
# (Re)create the checked-in foreign-architecture ELF fixtures under
# tests/foreign/<arch>/ (beside this script) and the verification table in
# tests/foreign/README.md.
#
# Each fixture set is a miniature glibc-style dependency chain:
#   app -> libfoo.so.1 -> libbar.so.1 -> libc.so.6 -> <loader soname>
# built from tiny C stubs with -nostdlib using Debian's cross compilers.
# Nothing in here is meant to run; only the ELF headers, program headers and
# dynamic sections matter.
#
# Usage: tests/foreign/make-fixtures.sh
# Re-running is safe: output is byte-for-byte identical for the same toolchain.
set -euo pipefail

export LC_ALL=C
export SOURCE_DATE_EPOCH=0

fixtures="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# arch dir | gcc triplet | Debian cross package | loader soname | PT_INTERP path | multiarch triplet for RUNPATH
archs=(
  "aarch64|aarch64-linux-gnu|gcc-aarch64-linux-gnu|ld-linux-aarch64.so.1|/lib/ld-linux-aarch64.so.1|aarch64-linux-gnu"
  "i386|i686-linux-gnu|gcc-i686-linux-gnu|ld-linux.so.2|/lib/ld-linux.so.2|i386-linux-gnu"
  "s390x|s390x-linux-gnu|gcc-s390x-linux-gnu|ld64.so.1|/lib/ld64.so.1|s390x-linux-gnu"
  "powerpc|powerpc-linux-gnu|gcc-powerpc-linux-gnu|ld.so.1|/lib/ld.so.1|powerpc-linux-gnu"
)

# Common flags. -z noseparate-code and -z norelro keep each file at a couple of
# KB even on targets whose max page size is 64 KiB (aarch64, powerpc); without
# them ld pads the file to a page boundary.
CFLAGS_COMMON=(-nostdlib -Os -s -fno-asynchronous-unwind-tables -fno-unwind-tables
  -Wl,--build-id=none -Wl,--hash-style=gnu -Wl,--no-as-needed
  -Wl,-z,noseparate-code -Wl,-z,norelro)
SHARED_FLAGS=(-shared -fPIC)
APP_FLAGS=(-fPIE -pie)

# --- install what we need -------------------------------------------------
need_pkgs=()
for a in "${archs[@]}"; do
  IFS='|' read -r _ triplet pkg _ _ _ <<<"$a"
  command -v "$triplet-gcc" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
command -v readelf >/dev/null 2>&1 || need_pkgs+=(binutils)
if ((${#need_pkgs[@]})); then
  echo "installing: ${need_pkgs[*]}" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}"; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}"
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- sources (kept minimal; symbols only exist so the links reference each other)
cat >"$work/ld.c" <<'EOF'
int _dl_fixture_stub(void) { return 0; }
EOF
cat >"$work/libc.c" <<'EOF'
int _dl_fixture_stub(void);
int libc_fixture(void) { return _dl_fixture_stub() + 1; }
EOF
cat >"$work/libbar.c" <<'EOF'
int libc_fixture(void);
int bar(void) { return libc_fixture() + 2; }
EOF
cat >"$work/libfoo.c" <<'EOF'
int bar(void);
int libc_fixture(void);
int foo(void) { return bar() + libc_fixture(); }
EOF
cat >"$work/app.c" <<'EOF'
int foo(void);
int libc_fixture(void);
void _start(void) { foo(); libc_fixture(); for (;;) ; }
EOF

# Fields printed for the README table; one row per file.
elf_row() { # $1 = file path, $2 = name shown
  local f="$1" name="$2" hdr dyn prog class data mach type emach interp needed soname runpath
  hdr="$(readelf -hW "$f")"
  dyn="$(readelf -dW "$f")"
  prog="$(readelf -lW "$f")"
  class="$(sed -n 's/^ *Class: *//p' <<<"$hdr")"
  data="$(sed -n 's/^ *Data: *2.s complement, //p' <<<"$hdr")"
  case "$data" in little*) data=LE ;; big*) data=BE ;; esac
  mach="$(sed -n 's/^ *Machine: *//p' <<<"$hdr")"
  type="$(sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p' <<<"$hdr")"
  # e_machine is the 16-bit field at offset 18, in the file's byte order.
  if [[ $data == LE ]]; then
    emach=$(od -An -tu2 -j18 -N2 --endian=little "$f" | tr -d ' ')
  else
    emach=$(od -An -tu2 -j18 -N2 --endian=big "$f" | tr -d ' ')
  fi
  interp="$(sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p' <<<"$prog")"
  needed="$(sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p' <<<"$dyn" | paste -sd, - | sed 's/,/, /g')"
  soname="$(sed -n 's/.*(SONAME).*Library soname: \[\(.*\)\]/\1/p' <<<"$dyn")"
  runpath="$(sed -n 's/.*(RUNPATH).*Library runpath: \[\(.*\)\]/\1/p' <<<"$dyn")"
  printf '| `%s` | %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s |\n' \
    "$name" "$(stat -c %s "$f")" "$class" "$data" "$mach" "$emach" "$type" \
    "${interp:--}" "${needed:--}" "${soname:--}" "${runpath:--}"
}

# --- build ----------------------------------------------------------------
rows="$work/rows.md"
tools="$work/tools.md"
: >"$rows"
: >"$tools"
for a in "${archs[@]}"; do
  IFS='|' read -r arch triplet pkg ldsoname interp mtriplet <<<"$a"
  cc="$triplet-gcc"
  b="$work/$arch"
  mkdir -p "$b"
  cp "$work"/*.c "$b/"
  (
    cd "$b"
    # Relative source names and a fixed build dir name keep the output stable.
    "$cc" "${CFLAGS_COMMON[@]}" "${SHARED_FLAGS[@]}" -Wl,-soname,"$ldsoname" \
      ld.c -o ld.so -lgcc
    # ld resolves indirect DT_NEEDED entries by file name via -rpath-link,
    # so give the loader stand-in its soname in the scratch dir too.
    ln -sf ld.so "$ldsoname"
    "$cc" "${CFLAGS_COMMON[@]}" "${SHARED_FLAGS[@]}" -Wl,-soname,libc.so.6 \
      libc.c -o libc.so.6 -L. -l:ld.so -lgcc
    "$cc" "${CFLAGS_COMMON[@]}" "${SHARED_FLAGS[@]}" -Wl,-soname,libbar.so.1 \
      libbar.c -o libbar.so.1 -L. -Wl,-rpath-link,. -l:libc.so.6 -lgcc
    "$cc" "${CFLAGS_COMMON[@]}" "${SHARED_FLAGS[@]}" -Wl,-soname,libfoo.so.1 \
      libfoo.c -o libfoo.so.1 -L. -Wl,-rpath-link,. -l:libbar.so.1 -l:libc.so.6 -lgcc
    "$cc" "${CFLAGS_COMMON[@]}" "${APP_FLAGS[@]}" -Wl,-dynamic-linker,"$interp" \
      -Wl,-rpath,"\$ORIGIN/../lib/$mtriplet" -Wl,--enable-new-dtags \
      app.c -o app -L. -Wl,-rpath-link,. -l:libfoo.so.1 -l:libc.so.6 -lgcc
  )
  out="$fixtures/$arch"
  rm -rf "$out"
  mkdir -p "$out"
  for f in ld.so libc.so.6 libbar.so.1 libfoo.so.1 app; do
    install -m 0755 "$b/$f" "$out/$f"
  done

  # --- verify -------------------------------------------------------------
  chk() { # $1 file, $2 grep pattern against readelf -h -d -l output
    if ! readelf -hdlW "$out/$1" | grep -q -- "$2"; then
      echo "verification failed: $arch/$1 lacks: $2" >&2
      exit 1
    fi
  }
  chk ld.so "Library soname: \[$ldsoname\]"
  chk libc.so.6 "Library soname: \[libc.so.6\]"
  chk libc.so.6 "Shared library: \[$ldsoname\]"
  chk libbar.so.1 "Library soname: \[libbar.so.1\]"
  chk libbar.so.1 "Shared library: \[libc.so.6\]"
  chk libfoo.so.1 "Library soname: \[libfoo.so.1\]"
  chk libfoo.so.1 "Shared library: \[libbar.so.1\]"
  chk libfoo.so.1 "Shared library: \[libc.so.6\]"
  chk app "Requesting program interpreter: $interp\]"
  chk app "Library runpath: \[\$ORIGIN/../lib/$mtriplet\]"
  got_needed="$(readelf -dW "$out/app" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | paste -sd' ' -)"
  if [[ $got_needed != "libfoo.so.1 libc.so.6" ]]; then
    echo "verification failed: $arch/app NEEDED is '$got_needed'" >&2
    exit 1
  fi
  for f in ld.so libc.so.6 libbar.so.1 libfoo.so.1 app; do
    sz=$(stat -c %s "$out/$f")
    if ((sz > 8192)); then
      echo "verification failed: $arch/$f is $sz bytes" >&2
      exit 1
    fi
    elf_row "$out/$f" "$arch/$f" >>"$rows"
  done

  gccver="$(dpkg-query -W -f='${Version}' "gcc-12-$triplet" 2>/dev/null || echo '?')"
  binver="$(dpkg-query -W -f='${Version}' "binutils-$triplet" 2>/dev/null || echo '?')"
  printf '| `%s` | `%s` (`%s` = `gcc-12-%s` %s) | `binutils-%s` %s | `%s` | `%s` | `%s` |\n' \
    "$arch" "$pkg" "$cc" "$triplet" "$gccver" "$triplet" "$binver" "$ldsoname" "$interp" "$mtriplet" >>"$tools"
done

# --- README -----------------------------------------------------------------
{
  cat <<'EOF'
# Foreign-architecture ELF fixtures

Everything in `tests/foreign/<arch>/` is **generated** by
`tests/foreign/make-fixtures.sh`, and this README is generated with it
(do not edit by hand; rerun the script). Re-running the script with the
same toolchain versions reproduces every file byte for byte.

The files are tiny stand-ins, not real libraries: each is built from a
one-line C stub with `-nostdlib`, so it contains no libc code and cannot
run. Only the ELF header, program headers and dynamic section matter.
Each architecture directory holds the same dependency chain:

```
app --PT_INTERP--> <loader path>
app --NEEDED--> libfoo.so.1, libc.so.6      (in that order)
libfoo.so.1 --NEEDED--> libbar.so.1, libc.so.6
libbar.so.1 --NEEDED--> libc.so.6
libc.so.6 --NEEDED--> <loader soname>
ld.so (file name) has DT_SONAME = <loader soname>
app has DT_RUNPATH = $ORIGIN/../lib/<multiarch triplet>
```

The tests do not use these directories as they are: they copy the files
into temporary root directories laid out like a real system (for example
`app` into `ROOT/usr/bin/`, the libraries into
`ROOT/usr/lib/<triplet>/`, `ld.so` under the loader's real name; the exact layout is up to
each test) and run `elfroot` against those roots. x86_64 fixtures are not checked in; the
tests build them at test time with the host compiler.

## How they were made

Toolchains (Debian 12 cross compilers, installed by the script with
`apt-get install`):

| arch dir | compiler package | binutils | loader soname | PT_INTERP | RUNPATH triplet |
| --- | --- | --- | --- | --- | --- |
EOF
  cat "$tools"
  cat <<EOF

Flags common to every file:

\`\`\`
${CFLAGS_COMMON[*]}
\`\`\`

Every link line ends in \`-lgcc\` (static libgcc, pulled in only where
needed: powerpc's \`-Os\` code calls out-of-line register save/restore
helpers such as \`_restgpr_30_x\`).
\`-z noseparate-code -z norelro\` stop ld from padding files to the
64 KiB maximum page size of aarch64/powerpc, so every file stays a couple
of KB. \`-s\` strips the symbol table (the dynamic symbol table stays).
Linking is done in dependency order inside a scratch directory, using
the stand-ins just built so that ld records their DT_SONAMEs as DT_NEEDED:

\`\`\`
\$CC <common> ${SHARED_FLAGS[*]} -Wl,-soname,<loader soname> ld.c -o ld.so -lgcc
ln -sf ld.so <loader soname>   # scratch dir only: lets -rpath-link,. find the loader by its soname
\$CC <common> ${SHARED_FLAGS[*]} -Wl,-soname,libc.so.6   libc.c   -o libc.so.6   -L. -l:ld.so -lgcc
\$CC <common> ${SHARED_FLAGS[*]} -Wl,-soname,libbar.so.1 libbar.c -o libbar.so.1 -L. -Wl,-rpath-link,. -l:libc.so.6 -lgcc
\$CC <common> ${SHARED_FLAGS[*]} -Wl,-soname,libfoo.so.1 libfoo.c -o libfoo.so.1 -L. -Wl,-rpath-link,. -l:libbar.so.1 -l:libc.so.6 -lgcc
\$CC <common> ${APP_FLAGS[*]} -Wl,-dynamic-linker,<PT_INTERP> \\
    -Wl,-rpath,'\$ORIGIN/../lib/<triplet>' -Wl,--enable-new-dtags \\
    app.c -o app -L. -Wl,-rpath-link,. -l:libfoo.so.1 -l:libc.so.6 -lgcc
\`\`\`

\`app\` is a position-independent executable (\`-pie\`): ELF type DYN with a
PT_INTERP program header and DF_1_PIE in DT_FLAGS_1, like Debian's own
binaries. Its entry point \`_start\` is defined in \`app.c\`.

## What is in them

Verified with \`readelf -h -d -l\` by the script (it fails if any
expectation below is not met). Sizes are in bytes; e_machine is shown as
readelf's name and the numeric value.

| file | size | class | endianness | e_machine | e_type | interp | needed (in order) | soname | runpath |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
EOF
  cat "$rows"
} >"$fixtures/README.md"

echo "fixtures written to $fixtures" >&2
