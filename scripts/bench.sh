#!/usr/bin/env bash
# scripts/bench.sh - benchmark elfroot against its peers on one fixed input list.
#
# Usage: scripts/bench.sh [--only SECTION[,SECTION...]] [--runs N] [-h|--help]
#
# Sections (default: all, in this order):
#   list    elfroot list --paths FILE...  vs  scanelf -qn (the floor), ldd, libtree -p -vvv, lddtree -l
#   bundle  elfroot bundle of python3 + its stdlib (.tar, .tar.gz, .tar.zst) vs GNU tar (| gzip,
#           | zstd) on the same files, replacing the last run's output and writing a new one
#   doctor  elfroot doctor --in-root vs ldd -r on the same programs
#   slim    elfroot slim of the fat Debian image (scripts/make-debian-image.sh, built into
#           target/debian-image when missing, as root) vs tar -x of its layers
#   trace   elfroot trace vs strace -f -e trace=%file vs untraced, for python3 imports
#           and a git clone of a local repository (needs strace, git)
#   slimbig slim of a 1.1 GB image (the fat image's python tag plus a layer of the host's
#           /usr/lib/x86_64-linux-gnu and /usr/lib/gcc under /opt/extra) vs tar -x of its layers
#   growth  sizes, not times: what run-time discovery adds to the .tar bundle of each plain
#           program (target: at most 15 %) and of each program of tests/integration/real_programs.rs
#
# Environment:
#   ELFROOT          elfroot binary to benchmark. If unset, the script runs
#                    `cargo build --release` in the repo and uses target/release/elfroot.
#   BENCH_RUNS       runs per tool; the median wall time is reported (default 5).
#   BENCH_DIR        directory whose dynamically linked ELF files are the inputs (default /usr/bin).
#   BENCH_LDD_MODE   multi    = one `ldd FILE...` invocation (default; measured faster than
#                               per-file on Debian 12, so it is the stricter baseline)
#                    per-file = one `ldd FILE` invocation per input
#   BENCH_TIME       GNU time binary used for peak RSS (default /usr/bin/time; package `time`).
#   BENCH_KEEP=1     keep the scratch directory (stderr of every tool, input list).
#
# Measurement:
#   * wall clock: bash $EPOCHREALTIME around each run, median of BENCH_RUNS, ms precision.
#     Every run is wrapped in GNU time (same ~1 ms fork/exec overhead for every tool).
#   * peak RSS: GNU time %M (KiB) = max RSS of the command and all of its waited-for
#     descendants, so for per-file loops it is the max RSS of any single invocation.
#     Reported value is the max over all runs.
#   * stdout of every timed command goes to /dev/null; stderr is kept in the scratch dir.
#   * a non-zero exit of a peer tool is reported as a note, never as a failure; a missing
#     peer tool is reported as "skipped". A failing elfroot makes the script exit 1
#     (after the peers were still measured).
#
# Progress messages go to stderr; the report goes to stdout.
#
# Adding a section: write `section_NAME` (use ensure_inputs / ensure_elfroot,
# time_cmd / time_per_file / skip_row, then print_table and target_line) and add NAME to
# SECTIONS below.

# shellcheck disable=SC2317  # section_* and helpers are called indirectly
set -euo pipefail
export LC_ALL=C

SECTIONS=(list bundle doctor slim slimbig trace growth)

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)

RUNS=${BENCH_RUNS:-5}
BENCH_DIR=${BENCH_DIR:-/usr/bin}
BENCH_LDD_MODE=${BENCH_LDD_MODE:-multi}
TIME_BIN=${BENCH_TIME:-/usr/bin/time}
ONLY=""
EXIT_STATUS=0
SYNC_RUNS=
# A command run (untimed) before each run, before the sync, when set.
PRE_RUN=()

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() { echo "bench.sh: error: $*" >&2; exit 2; }
log() { echo "[bench] $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
        --only) [ $# -ge 2 ] || die "--only needs an argument"; ONLY=$2; shift 2 ;;
        --only=*) ONLY=${1#--only=}; shift ;;
        --runs) [ $# -ge 2 ] || die "--runs needs an argument"; RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#--runs=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS/--runs must be a positive integer, got '$RUNS'"
case $BENCH_LDD_MODE in multi|per-file) ;; *) die "BENCH_LDD_MODE must be multi or per-file" ;; esac

SELECTED=()
if [ -n "$ONLY" ]; then
    IFS=',' read -r -a _req <<< "$ONLY"
    for s in "${_req[@]}"; do
        found=0
        for k in "${SECTIONS[@]}"; do [ "$s" = "$k" ] && found=1; done
        [ "$found" = 1 ] || die "unknown section '$s' (known: ${SECTIONS[*]})"
        SELECTED+=("$s")
    done
else
    SELECTED=("${SECTIONS[@]}")
fi

WORK=$(mktemp -d /tmp/elfroot-bench.XXXXXX)
cleanup() { if [ "${BENCH_KEEP:-0}" = 1 ]; then log "scratch kept in $WORK"; else rm -rf -- "$WORK"; fi; }
trap cleanup EXIT

# ---------------------------------------------------------------------------
# GNU time (peak RSS)
# ---------------------------------------------------------------------------
HAVE_GNU_TIME=0
if [ -x "$TIME_BIN" ] && "$TIME_BIN" --version 2>&1 | grep -q 'GNU'; then
    HAVE_GNU_TIME=1
else
    log "GNU time not found at $TIME_BIN (apt-get install time); peak RSS will be reported as n/a"
fi

# ---------------------------------------------------------------------------
# Formatting helpers (integer math only: microseconds, KiB)
# ---------------------------------------------------------------------------
fmt_secs() {   # microseconds -> seconds with ms precision
    local ms=$(( ($1 + 500) / 1000 ))
    printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
fmt_mib() {    # KiB -> MiB with one decimal
    local t=$(( ($1 * 10 + 512) / 1024 ))
    printf '%d.%d' $((t / 10)) $((t % 10))
}
fmt_ratio() {  # num_us den_us -> X.Y (num/den), den floored at 1 us
    local num=$1 den=$2
    [ "$den" -ge 1 ] || den=1
    local t=$(( (num * 10 + den / 2) / den ))
    printf '%d.%d' $((t / 10)) $((t % 10))
}

# ---------------------------------------------------------------------------
# Timing core
#   R_US[name]    median wall time in microseconds
#   R_RSS[name]   max peak RSS in KiB over all runs ("" if unknown)
#   R_RC[name]    first non-zero exit status seen (0 if all runs succeeded)
#   R_MODE[name]  human description of how the tool was invoked
#   R_SKIP[name]  reason the tool was skipped (row printed as skipped)
# ---------------------------------------------------------------------------
declare -A R_US=() R_RSS=() R_RC=() R_MODE=() R_SKIP=()

# time_cmd NAME CMD...   run CMD $RUNS times (stdout -> /dev/null, stderr -> $WORK/NAME.err)
time_cmd() {
    local name=$1; shift
    local i t0 t1 us rc rss maxrss="" firstrc=0
    local -a samples=()
    local err="$WORK/$name.err" tout="$WORK/$name.time"
    for (( i = 1; i <= RUNS; i++ )); do
        rc=0
        # Sections that write tens of MiB per run start each run with no dirty
        # pages left by the one before (untimed), so no tool pays another's writeback.
        if [ ${#PRE_RUN[@]} -gt 0 ]; then "${PRE_RUN[@]}"; fi
        if [ -n "$SYNC_RUNS" ]; then sync; fi
        t0=$EPOCHREALTIME
        if [ "$HAVE_GNU_TIME" = 1 ]; then
            "$TIME_BIN" -o "$tout" -f 'BENCH_RSS_KIB %M' "$@" > /dev/null 2> "$err" || rc=$?
        else
            "$@" > /dev/null 2> "$err" || rc=$?
        fi
        t1=$EPOCHREALTIME
        us=$(( 10#${t1/./} - 10#${t0/./} ))
        samples+=("$us")
        if [ "$HAVE_GNU_TIME" = 1 ]; then
            rss=$(sed -n 's/^BENCH_RSS_KIB \([0-9]*\)$/\1/p' "$tout" | tail -n 1)
            if [ -n "$rss" ] && { [ -z "$maxrss" ] || [ "$rss" -gt "$maxrss" ]; }; then maxrss=$rss; fi
        fi
        if [ "$rc" -ne 0 ] && [ "$firstrc" -eq 0 ]; then firstrc=$rc; fi
        log "$name run $i/$RUNS: $(fmt_secs "$us") s, exit $rc"
    done
    # The median run: robust against one lucky or unlucky run on a noisy disk
    # (best-of-N rewards variance; the mean is pulled by outliers).
    R_US[$name]=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n "$(( (${#samples[@]} + 1) / 2 ))p")
    R_RSS[$name]=$maxrss
    R_RC[$name]=$firstrc
}

# time_pair NAME_A NAME_B -- CMD_A... -- CMD_B...   like time_cmd for both, with their
# runs interleaved (A, B, A, B...): both see the same page cache and writeback state,
# which drifts over a sequence of runs that each write tens of MiB.
time_pair() {
    local a=$1 b=$2 i saved=$RUNS
    shift 3
    local -a cmd_a=() cmd_b=()
    while [ "$1" != -- ]; do cmd_a+=("$1"); shift; done
    shift
    cmd_b=("$@")
    local -a us_a=() us_b=()
    local rss_a=0 rss_b=0 rc_a=0 rc_b=0
    RUNS=1
    for (( i = 1; i <= saved; i++ )); do
        time_cmd "$a" "${cmd_a[@]}"; us_a+=("${R_US[$a]}")
        [ "${R_RSS[$a]:-0}" -gt "$rss_a" ] && rss_a=${R_RSS[$a]}
        [ "$rc_a" -eq 0 ] && rc_a=${R_RC[$a]}
        time_cmd "$b" "${cmd_b[@]}"; us_b+=("${R_US[$b]}")
        [ "${R_RSS[$b]:-0}" -gt "$rss_b" ] && rss_b=${R_RSS[$b]}
        [ "$rc_b" -eq 0 ] && rc_b=${R_RC[$b]}
    done
    RUNS=$saved
    R_RSS[$a]=$rss_a R_RSS[$b]=$rss_b R_RC[$a]=$rc_a R_RC[$b]=$rc_b
    R_US[$a]=$(printf '%s\n' "${us_a[@]}" | sort -n | sed -n "$(( (${#us_a[@]} + 1) / 2 ))p")
    R_US[$b]=$(printf '%s\n' "${us_b[@]}" | sort -n | sed -n "$(( (${#us_b[@]} + 1) / 2 ))p")
}

# Loop used by time_per_file: argv = K CMD(K words) FILE...
PER_FILE_LOOP='k=$1; shift; cmd=("${@:1:k}"); shift "$k"; fails=0
for f in "$@"; do "${cmd[@]}" "$f" || fails=$((fails + 1)); done
if [ "$fails" -ne 0 ]; then echo "per-file: $fails of $# invocations failed" >&2; exit 1; fi'

# time_per_file NAME CMD...   run `CMD FILE` once per input (one bash loop per run)
time_per_file() {
    local name=$1; shift
    time_cmd "$name" bash -c "$PER_FILE_LOOP" per-file "$#" "$@" "${INPUTS[@]}"
}

skip_row() { R_SKIP[$1]=$2; log "$1: skipped ($2)"; }

# print_table BASE NAME...   BASE is the reference row for the ratio column
print_table() {
    local base=$1; shift
    local n secs rss ratio mode
    printf '%-10s %9s %13s %8s  %s\n' tool seconds "peak RSS MiB" ratio mode
    for n in "$base" "$@"; do
        if [ -n "${R_SKIP[$n]:-}" ]; then
            printf '%-10s %9s %13s %8s  %s\n' "$n" - - - "skipped: ${R_SKIP[$n]}"
            continue
        fi
        secs=$(fmt_secs "${R_US[$n]}")
        if [ -n "${R_RSS[$n]}" ]; then rss=$(fmt_mib "${R_RSS[$n]}"); else rss=n/a; fi
        if [ -n "${R_SKIP[$base]:-}" ] || [ "${R_RC[$base]:-0}" -ne 0 ]; then
            ratio=n/a
        else
            ratio="$(fmt_ratio "${R_US[$n]}" "${R_US[$base]}")x"
        fi
        mode=${R_MODE[$n]:-}
        if [ "${R_RC[$n]}" -ne 0 ]; then mode="$mode; exit ${R_RC[$n]}"; fi
        printf '%-10s %9s %13s %8s  %s\n' "$n" "$secs" "$rss" "$ratio" "$mode"
    done
    for n in "$base" "$@"; do
        if [ -z "${R_SKIP[$n]:-}" ] && [ "${R_RC[$n]}" -ne 0 ]; then
            printf 'note: %s exited %s (%s stderr lines; first: %s)\n' "$n" "${R_RC[$n]}" \
                "$(wc -l < "$WORK/$n.err")" "$(grep -v -m 1 '^Command exited with' "$WORK/$n.err" || true)"
        fi
    done
}

# target_line BASE PEER TARGET   e.g. "elfroot vs libtree: 3.1x faster (target: > 1)"
target_line() {
    local base=$1 peer=$2 target=$3 val
    if [ -n "${R_SKIP[$peer]:-}" ]; then
        val="n/a ($peer skipped)"
    elif [ -n "${R_SKIP[$base]:-}" ] || [ "${R_RC[$base]:-0}" -ne 0 ]; then
        val="n/a ($base failed)"
    else
        val="$(fmt_ratio "${R_US[$peer]}" "${R_US[$base]}")x faster"
    fi
    printf '%s vs %s: %s (target: %s)\n' "$base" "$peer" "$val" "$target"
}

# ---------------------------------------------------------------------------
# Inputs: every regular, dynamically linked (PT_INTERP) ELF file in $BENCH_DIR.
# Nothing is executed: ELF header + program headers are read with perl.
# Symlinks are resolved; each distinct file (dev:inode) is listed once, by its
# real path (so $ORIGIN expands the same for every tool). Sorted, LC_ALL=C.
# ---------------------------------------------------------------------------
INPUTS=()
INPUTS_READY=0
SCAN_SUMMARY=""

SCAN_PL='use strict; use warnings; use Cwd ();
my $dir = shift;
opendir(my $dh, $dir) or die "cannot open $dir: $!\n";
my @names = sort grep { $_ ne "." && $_ ne ".." } readdir($dh);
closedir($dh);
my (%seen, @out);
my ($entries, $notreg, $dup, $nonelf, $static) = (0) x 5;
ENTRY: for my $n (@names) {
    $entries++;
    my $real = Cwd::realpath("$dir/$n");
    my @st = defined $real ? stat($real) : ();
    if (!@st || !-f _) { $notreg++; next; }
    if ($seen{"$st[0]:$st[1]"}++) { $dup++; next; }
    my ($fh, $hdr, $ph);
    if (!open($fh, "<:raw", $real) || (read($fh, $hdr, 64) // 0) < 52
        || substr($hdr, 0, 4) ne "\x7fELF") { $nonelf++; next; }
    my ($class, $data) = unpack("x4 C C", $hdr);
    my $e = $data == 1 ? "<" : $data == 2 ? ">" : undef;
    my ($phoff, $phentsize, $phnum);
    if (defined $e && $class == 2) {
        $phoff = unpack("x32 Q$e", $hdr); ($phentsize, $phnum) = unpack("x54 S$e S$e", $hdr);
    } elsif (defined $e && $class == 1) {
        $phoff = unpack("x28 L$e", $hdr); ($phentsize, $phnum) = unpack("x42 S$e S$e", $hdr);
    } else { $nonelf++; next; }
    my $len = $phentsize * $phnum;
    if ($phentsize >= 4 && $len > 0 && seek($fh, $phoff, 0) && (read($fh, $ph, $len) // 0) == $len) {
        for my $i (0 .. $phnum - 1) {
            if (unpack("x" . ($i * $phentsize) . " L$e", $ph) == 3) { push @out, $real; next ENTRY; }
        }
    }
    $static++;
}
print "$_\n" for sort @out;
printf STDERR "%d entries scanned: %d duplicate (symlink/hardlink), %d non-ELF, %d static (no PT_INTERP), %d not regular\n",
    $entries, $dup, $nonelf, $static, $notreg;'

ensure_inputs() {
    [ "$INPUTS_READY" = 1 ] && return 0
    command -v perl > /dev/null || die "perl is required to scan $BENCH_DIR"
    [ -d "$BENCH_DIR" ] || die "BENCH_DIR $BENCH_DIR is not a directory"
    perl -e "$SCAN_PL" "$BENCH_DIR" > "$WORK/inputs.txt" 2> "$WORK/scan.txt" \
        || die "input scan failed: $(cat "$WORK/scan.txt")"
    mapfile -t INPUTS < "$WORK/inputs.txt"
    [ ${#INPUTS[@]} -gt 0 ] || die "no dynamically linked ELF files found in $BENCH_DIR"
    SCAN_SUMMARY=$(cat "$WORK/scan.txt")
    INPUTS_READY=1
    log "inputs: ${#INPUTS[@]} files"
}

print_inputs() {
    printf 'inputs: %d dynamically linked ELF files from %s (%s)\n' "${#INPUTS[@]}" "$BENCH_DIR" "$SCAN_SUMMARY"
}

# ---------------------------------------------------------------------------
# elfroot binary
# ---------------------------------------------------------------------------
ELFROOT_READY=0
ensure_elfroot() {
    [ "$ELFROOT_READY" = 1 ] && return 0
    if [ -n "${ELFROOT:-}" ]; then
        log "using ELFROOT=$ELFROOT (no cargo build)"
    else
        command -v cargo > /dev/null || die "cargo not found and ELFROOT not set"
        log "cargo build --release (in $REPO_ROOT)"
        (cd "$REPO_ROOT" && cargo build --release >&2) || die "cargo build --release failed"
        ELFROOT=$REPO_ROOT/target/release/elfroot
    fi
    { [ -f "$ELFROOT" ] && [ -x "$ELFROOT" ]; } || die "elfroot binary not executable: $ELFROOT"
    ELFROOT_READY=1
}

tool_version() {  # best-effort one-line version string, never fails
    local v=""
    command -v "$1" > /dev/null || { printf '%s not installed' "$1"; return 0; }
    case $1 in
        ldd) v=$(ldd --version 2>/dev/null | head -n 1) ;;
        libtree) v="libtree $(libtree --version 2>/dev/null | head -n 1)" ;;
        lddtree) v=$(dpkg-query -W -f 'pax-utils ${Version}' pax-utils 2>/dev/null) || v="lddtree (version unknown)" ;;
    esac
    printf '%s' "${v:-unknown}"
}

# lddtree (pax-utils) is a python3 script using `#!/usr/bin/env python3`; if the python3
# first on PATH (pyenv, venv) lacks pyelftools, fall back to the system /usr/bin/python3.
LDDTREE_CMD=()
resolve_lddtree() {
    local p
    p=$(command -v lddtree) || return 1
    if lddtree --help > /dev/null 2>&1; then
        LDDTREE_CMD=(lddtree); return 0
    fi
    if head -n 1 "$p" | grep -q python && [ -x /usr/bin/python3 ] \
        && /usr/bin/python3 "$p" --help > /dev/null 2>&1; then
        LDDTREE_CMD=(/usr/bin/python3 "$p"); return 0
    fi
    return 2
}

# ---------------------------------------------------------------------------
# Section: list
# ---------------------------------------------------------------------------
section_list() {
    echo "== section: list =="
    ensure_inputs
    ensure_elfroot
    print_inputs
    local n=${#INPUTS[@]}

    # Untimed sanity/warm-up run (also warms the page cache for everybody).
    local rc=0
    "$ELFROOT" list --paths "${INPUTS[@]}" > "$WORK/elfroot.out" 2> "$WORK/elfroot.sanity.err" || rc=$?
    printf 'elfroot: %s\n' "$ELFROOT"
    printf 'elfroot closure: %d unique paths (%d lines), sanity run exit %d\n' \
        "$(sort -u "$WORK/elfroot.out" | wc -l)" "$(wc -l < "$WORK/elfroot.out")" "$rc"
    printf 'versions: %s | %s | %s\n' "$(tool_version ldd)" "$(tool_version libtree)" "$(tool_version lddtree)"

    R_MODE[elfroot]="1 invocation: elfroot list --paths FILE... ($n files)"
    time_cmd elfroot "$ELFROOT" list --paths "${INPUTS[@]}"
    if [ "${R_RC[elfroot]}" -ne 0 ]; then EXIT_STATUS=1; fi

    if command -v ldd > /dev/null; then
        if [ "$BENCH_LDD_MODE" = per-file ]; then
            R_MODE[ldd]="per-file: ldd FILE, $n invocations"
            time_per_file ldd ldd
        else
            R_MODE[ldd]="1 invocation: ldd FILE... ($n files; faster than per-file)"
            time_cmd ldd ldd "${INPUTS[@]}"
        fi
    else
        skip_row ldd "ldd not found"
    fi

    if command -v libtree > /dev/null; then
        R_MODE[libtree]="1 invocation: libtree -p -vvv FILE... ($n files)"
        time_cmd libtree libtree -p -vvv "${INPUTS[@]}"
    else
        skip_row libtree "libtree not found (apt-get install libtree)"
    fi

    # The floor: scanelf only reads DT_NEEDED, resolving nothing.
    if command -v scanelf > /dev/null; then
        R_MODE[scanelf]="1 invocation: scanelf -qn FILE... ($n files; resolves nothing)"
        time_cmd scanelf scanelf -qn "${INPUTS[@]}"
    else
        skip_row scanelf "scanelf not found (apt-get install pax-utils)"
    fi

    local lrc=0
    resolve_lddtree || lrc=$?
    if [ "$lrc" -eq 0 ]; then
        R_MODE[lddtree]="1 invocation: ${LDDTREE_CMD[*]} -l FILE... ($n files)"
        time_cmd lddtree "${LDDTREE_CMD[@]}" -l "${INPUTS[@]}"
    elif [ "$lrc" -eq 1 ]; then
        skip_row lddtree "lddtree not found (apt-get install pax-utils)"
    else
        skip_row lddtree "lddtree present but not runnable (python3 lacks pyelftools?)"
    fi

    echo "runs: median of $RUNS; peak RSS = max over runs (per-file loops: max of any single invocation)"
    print_table elfroot scanelf ldd libtree lddtree
    target_line elfroot scanelf ">= 0.5, within 2x of the floor"
    target_line elfroot libtree "> 1"
    target_line elfroot ldd ">= 20"
    if [ "${R_RC[elfroot]}" -ne 0 ]; then
        echo "FAIL: elfroot exited ${R_RC[elfroot]}; its timing is not meaningful"
    fi
}

# ---------------------------------------------------------------------------
# Section: bundle
# elfroot's bundler against GNU tar over the same files: python3 with its
# standard library (--add /usr/lib/python3.11). The file list is elfroot's
# own depfile: every host file that goes into the bundle.
# Every run starts after a `sync` (untimed): each tool writes ~80 MiB, and
# otherwise a run pays for the previous run's writeback (measured: tar
# 0.107-0.164 s for the same list, run to run).
# ---------------------------------------------------------------------------
section_bundle() {
    echo "== section: bundle =="
    ensure_elfroot
    local py=${BENCH_BUNDLE_PROGRAM:-/usr/bin/python3} add=${BENCH_BUNDLE_ADD:-/usr/lib/python3.11}
    if [ ! -x "$py" ] || [ ! -e "$add" ]; then
        echo "bundle: skipped ($py or $add missing)"
        return
    fi
    local d="$WORK/bundle"
    mkdir -p "$d"
    "$ELFROOT" bundle "$py" --add "$add" -o "$d/probe.tar" --depfile "$d/probe.d" > /dev/null
    sed -e '1d' -e 's/ *\\$//' -e 's/^ *//' -e 's/\\ / /g' -e 's/\$\$/$/g' "$d/probe.d" > "$d/files.list"
    local nfiles bytes
    nfiles=$(wc -l < "$d/files.list")
    bytes=$(tr '\n' '\0' < "$d/files.list" | du -cb --files0-from=- | tail -n 1 | cut -f1)
    printf 'input: %s --add %s: %d files, %s MiB (the same list for every tool)\n' \
        "$py" "$add" "$nfiles" "$(fmt_mib $((bytes / 1024)))"
    printf 'versions: %s | %s | %s\n' "$(tar --version | head -n 1)" "$(gzip --version | head -n 1)" \
        "$(zstd --version 2> /dev/null | head -n 1 || echo 'zstd: n/a')"

    SYNC_RUNS=1
    R_MODE[e-tar]="elfroot bundle -o x.tar (runs interleaved with tar's)"
    R_MODE[tar]="tar -cf x.tar -T list"
    time_pair e-tar tar -- "$ELFROOT" bundle "$py" --add "$add" -o "$d/e.tar" \
        -- tar -cPf "$d/g.tar" -T "$d/files.list"
    # The same pair, each run writing a file that is not there yet (the
    # last run's removed, untimed), as a clean build does: neither tool
    # replaces a file, which costs tar a flush when it closes its output.
    R_MODE[e-tar-new]="elfroot bundle -o new.tar (no old file; interleaved)"
    R_MODE[tar-new]="tar -cf new.tar -T list (no old file)"
    PRE_RUN=(rm -f "$d/en.tar" "$d/gn.tar")
    time_pair e-tar-new tar-new -- "$ELFROOT" bundle "$py" --add "$add" -o "$d/en.tar" \
        -- tar -cPf "$d/gn.tar" -T "$d/files.list"
    PRE_RUN=()
    R_MODE[e-tar.gz]="elfroot bundle -o x.tar.gz"
    time_cmd e-tar.gz "$ELFROOT" bundle "$py" --add "$add" -o "$d/e.tar.gz"
    R_MODE[tar-gzip]="tar -cf - -T list | gzip"
    time_cmd tar-gzip bash -c 'tar -cPf - -T "$1" | gzip > "$2"' _ "$d/files.list" "$d/g.tar.gz"
    R_MODE[e-tar.zst]="elfroot bundle -o x.tar.zst"
    time_cmd e-tar.zst "$ELFROOT" bundle "$py" --add "$add" -o "$d/e.tar.zst"
    if command -v zstd > /dev/null; then
        R_MODE[tar-zstd]="tar -cf - -T list | zstd -T0 (reference)"
        time_cmd tar-zstd bash -c 'tar -cPf - -T "$1" | zstd -q -T0 > "$2"' _ "$d/files.list" "$d/g.tar.zst"
    else
        skip_row tar-zstd "zstd not installed"
    fi
    # The package metadata scanners read (default) against none, runs
    # interleaved (e-tar's runs alternate with tar's: another setting), and --sbom.
    R_MODE[e-tar-db]="elfroot bundle -o x.tar (runs interleaved with e-tar-nodb's)"
    R_MODE[e-tar-nodb]="elfroot bundle -o x.tar --no-package-db --no-copyright"
    time_pair e-tar-db e-tar-nodb -- "$ELFROOT" bundle "$py" --add "$add" -o "$d/m.tar" \
        -- "$ELFROOT" bundle "$py" --add "$add" -o "$d/n.tar" --no-package-db --no-copyright
    R_MODE[e-tar-sbom]="elfroot bundle -o x.tar --sbom x.spdx.json"
    time_cmd e-tar-sbom "$ELFROOT" bundle "$py" --add "$add" -o "$d/s.tar" --sbom "$d/s.spdx.json"
    local f
    for f in e.tar g.tar e.tar.gz g.tar.gz e.tar.zst g.tar.zst; do
        [ -f "$d/$f" ] && R_MODE[size-$f]=$(stat -c %s "$d/$f")
    done
    echo "runs: median of $RUNS; sizes: e.tar $(fmt_mib $((${R_MODE[size-e.tar]:-0} / 1024))) MiB, tar $(fmt_mib $((${R_MODE[size-g.tar]:-0} / 1024))) MiB," \
        "e.tar.gz $(fmt_mib $((${R_MODE[size-e.tar.gz]:-0} / 1024))) MiB, tar|gzip $(fmt_mib $((${R_MODE[size-g.tar.gz]:-0} / 1024))) MiB," \
        "e.tar.zst $(fmt_mib $((${R_MODE[size-e.tar.zst]:-0} / 1024))) MiB, tar|zstd $(fmt_mib $((${R_MODE[size-g.tar.zst]:-0} / 1024))) MiB"
    print_table e-tar tar e-tar-new tar-new e-tar.gz tar-gzip e-tar.zst tar-zstd e-tar-db e-tar-nodb e-tar-sbom
    target_line e-tar tar ">= 1 (uncompressed as fast as tar -cf)"
    target_line e-tar-new tar-new "none, reported (the same with no file to replace)"
    target_line e-tar.gz tar-gzip "> 1 at a similar size"
    target_line e-tar.zst tar-gzip "> 1"
    target_line e-tar.zst e-tar.gz "> 1 (.tar.zst faster than .tar.gz)"
    target_line e-tar-db e-tar-nodb ">= 0.95 (package metadata costs at most 5 %)"
    SYNC_RUNS=""
}

# ---------------------------------------------------------------------------
# Section: doctor
# `elfroot doctor --in-root` over every dynamic program in /usr/bin against
# `ldd -r` (which loads and relocates each one) on the same list.
# ---------------------------------------------------------------------------
section_doctor() {
    echo "== section: doctor =="
    ensure_inputs
    ensure_elfroot
    print_inputs
    local n=${#INPUTS[@]} rc=0
    "$ELFROOT" doctor --in-root "${INPUTS[@]}" > "$WORK/doctor.out" 2> /dev/null || rc=$?
    printf 'elfroot doctor: %d start, %d would not (sanity run exit %d)\n' \
        "$(grep -c ': starts' "$WORK/doctor.out" || true)" "$(grep -c ': will not start' "$WORK/doctor.out" || true)" "$rc"
    R_MODE[doctor]="1 invocation: elfroot doctor --in-root FILE... ($n files)"
    time_cmd doctor "$ELFROOT" doctor --in-root "${INPUTS[@]}"
    R_RC[doctor]=0
    if command -v ldd > /dev/null; then
        R_MODE[ldd-r]="1 invocation: ldd -r FILE... ($n files)"
        time_cmd ldd-r ldd -r "${INPUTS[@]}"
    else
        skip_row ldd-r "ldd not found"
    fi
    echo "runs: median of $RUNS"
    print_table doctor ldd-r
    target_line doctor ldd-r ">= 10"
}

# ---------------------------------------------------------------------------
# Section: slim
# `elfroot slim` of each tag of the fat Debian image (debootstrap + apt-get
# install python3 curl + an app, three umoci layers) against `tar -x` of the
# same layers into an empty directory: slimming streams the layers (twice at
# most) and writes only what is kept, so it must take well under unpacking.
# ---------------------------------------------------------------------------
section_slim() {
    echo "== section: slim =="
    ensure_elfroot
    local img="$REPO_ROOT/target/debian-image"
    if [ ! -s "$img/fat.oci.tar" ]; then
        if [ "$(id -u)" = 0 ]; then
            "$REPO_ROOT/scripts/make-debian-image.sh" "$img" >&2
        else
            echo "slim: skipped (no $img/fat.oci.tar; run scripts/make-debian-image.sh as root)"
            return
        fi
    fi
    local d="$WORK/slim" layout="$img/fat" tag m layers=()
    mkdir -p "$d"
    m=$(perl -MJSON::PP -e 'my $i = decode_json(do { local $/; open my $f, "<", $ARGV[0] or die; <$f> });
        for (@{$i->{manifests}}) { print substr($_->{digest}, 7), "\n" if $_->{annotations}{"org.opencontainers.image.ref.name"} eq "python" }' "$layout/index.json")
    while read -r l; do layers+=("$layout/blobs/sha256/$l"); done < <(perl -MJSON::PP -e '
        my $m = decode_json(do { local $/; open my $f, "<", $ARGV[0] or die; <$f> });
        print substr($_->{digest}, 7), "\n" for @{$m->{layers}}' "$layout/blobs/sha256/$m")
    printf 'input: %s: %d layers, %s MiB compressed, %s MiB unpacked\n' "$layout" "${#layers[@]}" \
        "$(fmt_mib $(( $(cat "${layers[@]}" | wc -c) / 1024 )))" \
        "$(fmt_mib $(( $(for l in "${layers[@]}"; do gzip -dc "$l"; done | wc -c) / 1024 )))"
    R_MODE[tar-x]="tar -xf LAYER -C fresh dir, each layer in order"
    sync
    time_cmd tar-x bash -c 'o=$(mktemp -d -p "$1"); shift; for l; do tar -xf "$l" -C "$o"; done' _ "$d" "${layers[@]}"
    # The unpacked trees go, untimed, and what tar left to write back is
    # written before slim runs, so that slim does not pay for tar's disk.
    rm -rf -- "$d"/tmp.*
    sync
    for tag in python pipeline ls; do
        R_MODE[slim-$tag]="elfroot slim oci:fat:$tag -o x.oci.tar"
        time_cmd "slim-$tag" "$ELFROOT" slim "oci:$layout:$tag" -o "$d/$tag.oci.tar"
        printf '%s: %s\n' "$tag" "$(grep -m 1 'slimmed' "$WORK/slim-$tag.err" | sed 's/.*): //')"
    done
    echo "runs: median of $RUNS"
    print_table tar-x slim-python slim-pipeline slim-ls
    target_line slim-python tar-x "> 1 (well under unpacking)"
    target_line slim-ls tar-x "> 1"
}

# ---------------------------------------------------------------------------
# Section: slimbig
# The same race on an image of a gigabyte: the fat image's python tag with one
# more layer, 0.9 GB of the host's libraries under /opt/extra (which slim reads
# the headers of and leaves out), made here with GNU tar and gzip.
# ---------------------------------------------------------------------------
section_slimbig() {
    echo "== section: slimbig =="
    ensure_elfroot
    local fat="$REPO_ROOT/target/debian-image/fat" d="$WORK/slimbig" layers=()
    if [ ! -f "$fat/index.json" ] || ! command -v python3 > /dev/null; then
        echo "slimbig: skipped (no $fat: run the slim section first, as root; needs python3)"
        return
    fi
    mkdir -p "$d"
    cp -a "$fat" "$d/big"
    tar -C / --transform 's,^usr/lib,opt/extra,' -cf "$d/extra.tar" usr/lib/x86_64-linux-gnu usr/lib/gcc
    gzip -c "$d/extra.tar" > "$d/extra.tar.gz"
    python3 - "$d/big" "$d/extra.tar" "$d/extra.tar.gz" > "$d/layers" <<'PY'
import hashlib, json, os, shutil, sys
big, plain, packed = sys.argv[1:]
blobs = os.path.join(big, "blobs", "sha256")
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
def put(doc):
    data = json.dumps(doc, separators=(",", ":")).encode()
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return d, len(data)
layer = digest(packed)
shutil.copy(packed, os.path.join(blobs, layer))
index = json.load(open(os.path.join(big, "index.json")))
index["manifests"] = [m for m in index["manifests"]
                      if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "python"]
m = index["manifests"][0]
manifest = json.load(open(os.path.join(blobs, m["digest"][7:])))
config = json.load(open(os.path.join(blobs, manifest["config"]["digest"][7:])))
config["rootfs"]["diff_ids"].append("sha256:" + digest(plain))
d, n = put(config)
manifest["config"].update(digest="sha256:" + d, size=n)
manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                           "digest": "sha256:" + layer, "size": os.path.getsize(packed)})
d, n = put(manifest)
m.update(digest="sha256:" + d, size=n)
json.dump(index, open(os.path.join(big, "index.json"), "w"))
for l in manifest["layers"]:
    print(os.path.join(blobs, l["digest"][7:]))
PY
    rm -f "$d/extra.tar" "$d/extra.tar.gz"
    while read -r l; do layers+=("$l"); done < "$d/layers"
    printf 'input: %d layers, %s MiB compressed, %s MiB unpacked\n' "${#layers[@]}" \
        "$(fmt_mib $(( $(cat "${layers[@]}" | wc -c) / 1024 )))" \
        "$(fmt_mib $(( $(for l in "${layers[@]}"; do gzip -dc "$l"; done | wc -c) / 1024 )))"
    R_MODE[tar-x-big]="tar -xf LAYER -C fresh dir, each layer in order"
    sync
    time_cmd tar-x-big bash -c 'o=$(mktemp -d -p "$1"); shift; for l; do tar -xf "$l" -C "$o"; done' _ "$d" "${layers[@]}"
    rm -rf -- "$d"/tmp.*
    sync
    R_MODE[slim-big]="elfroot slim oci:big:python -o x.oci.tar"
    time_cmd slim-big "$ELFROOT" slim "oci:$d/big:python" -o "$d/python.oci.tar"
    printf 'python: %s\n' "$(grep -m 1 'slimmed' "$WORK/slim-big.err" | sed 's/.*): //')"
    echo "runs: median of $RUNS"
    print_table tar-x-big slim-big
    target_line slim-big tar-x-big "> 1 (well under unpacking)"
    rm -rf -- "$d/big"
}

# ---------------------------------------------------------------------------
# Section: trace
# The cost of `elfroot trace` (ptrace, stopping only on path calls through a
# seccomp filter) against running untraced and against strace recording the
# same calls, on two workloads: python3 importing json, ssl and sqlite3, and
# `git clone` of a local repository over file:// (git forks upload-pack and
# index-pack). The clone target is removed by the same bash in every row.
# ---------------------------------------------------------------------------
trace_rows() {  # trace_rows TAG CMD...: untraced, elfroot trace and strace rows for CMD
    local tag=$1; shift
    R_MODE[$tag]="untraced: $*"
    time_cmd "$tag" "$@"
    R_MODE[$tag-trace]="elfroot trace -o PROFILE -- CMD"
    time_cmd "$tag-trace" "$ELFROOT" trace -o "$WORK/$tag.profile" -- "$@"
    if [ "${R_RC[$tag-trace]}" -ne 0 ]; then EXIT_STATUS=1; fi
    if command -v strace > /dev/null; then
        R_MODE[$tag-strace]="strace -f -e trace=%file -o /dev/null CMD"
        time_cmd "$tag-strace" strace -f -e trace=%file -o /dev/null "$@"
    else
        skip_row "$tag-strace" "strace not installed (apt-get install strace)"
    fi
    print_table "$tag" "$tag-trace" "$tag-strace"
    printf 'elfroot trace vs untraced: %sx the time (target: <= 2); profile: %d paths\n' \
        "$(fmt_ratio "${R_US[$tag-trace]}" "${R_US[$tag]}")" \
        "$(grep -vc '^#' "$WORK/$tag.profile" || true)"
    target_line "$tag-trace" "$tag-strace" "> 1"
}

section_trace() {
    echo "== section: trace =="
    ensure_elfroot
    local py=${BENCH_TRACE_PYTHON:-/usr/bin/python3}
    printf 'versions: %s | %s | %s\n' "$("$py" --version 2>&1)" "$(git --version 2>&1)" \
        "$(strace -V 2> /dev/null | head -n 1 || echo 'strace: n/a')"
    echo "runs: median of $RUNS"
    if [ -x "$py" ]; then
        trace_rows py "$py" -c 'import json, ssl, sqlite3'
    else
        echo "python: skipped ($py missing)"
    fi
    if ! command -v git > /dev/null; then
        echo "git clone: skipped (git missing)"
        return
    fi
    # A fixed repository: 400 files in 20 directories, three commits.
    local repo="$WORK/repo" i j
    git init -q "$repo"
    for (( i = 0; i < 20; i++ )); do
        mkdir -p "$repo/d$i"
        for (( j = 0; j < 20; j++ )); do
            seq "$i" "$((i * j + 200))" > "$repo/d$i/f$j.txt"
        done
    done
    for i in 1 2 3; do
        echo "$i" >> "$repo/d0/f0.txt"
        git -C "$repo" add -A
        git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid commit -qm "c$i"
    done
    trace_rows git bash -c 'rm -rf "$2" && git clone -q "$1" "$2"' _ "file://$repo" "$WORK/clone"
}

# ---------------------------------------------------------------------------
# Section: growth
# Sizes, not times: each program bundled to .tar with `--discover none` and
# with the default discovery. The plain programs must grow by at most 15 %;
# the programs of the real-program test are listed for the README.
# ---------------------------------------------------------------------------
growth_row() {   # growth_row NAME PROGRAM [FLAGS...]
    local name=$1 prog=$2; shift 2
    local d="$WORK/growth" none all
    if [ ! -x "$prog" ]; then
        printf '%-14s %12s %12s %9s\n' "$name" "-" "-" "absent"
        return
    fi
    mkdir -p "$d"
    if ! "$ELFROOT" bundle "$prog" "$@" --discover none -o "$d/none.tar" 2> "$d/none.err" ||
        ! "$ELFROOT" bundle "$prog" "$@" -o "$d/all.tar" 2> "$d/all.err"; then
        printf '%-14s %12s %12s %9s\n' "$name" "-" "-" "refused"
        EXIT_STATUS=1
        return
    fi
    none=$(stat -c %s "$d/none.tar")
    all=$(stat -c %s "$d/all.tar")
    printf '%-14s %12s %12s %+8.1f%%\n' "$name" "$none" "$all" \
        "$(awk -v a="$all" -v n="$none" 'BEGIN { print (a - n) * 100 / n }')"
    if [ -n "${GROWTH_PLAIN:-}" ] && [ $((all * 100)) -gt $((none * 115)) ]; then
        GROWTH_OVER+=("$name")
    fi
}

section_growth() {
    echo "== section: growth =="
    ensure_elfroot
    local jdk=/usr/lib/jvm/java-17-openjdk-amd64
    GROWTH_OVER=()
    printf '%-14s %12s %12s %9s\n' program "none (B)" "default (B)" growth
    GROWTH_PLAIN=1
    growth_row ls /usr/bin/ls
    growth_row jq /usr/bin/jq
    growth_row bash /usr/bin/bash
    growth_row curl /usr/bin/curl
    growth_row ssh /usr/bin/ssh
    growth_row git /usr/bin/git
    GROWTH_PLAIN=
    echo "-- the programs of tests/integration/real_programs.rs --"
    local p
    for p in id getent python3 convert identify gm file gs php ruby gawk gdb openssl gpg \
        ssh-keygen tput aspell zip make rsync redis-server redis-cli; do
        growth_row "$p" "/usr/bin/$p"
    done
    growth_row date /usr/bin/date --with locale=fr_FR.UTF-8
    growth_row nginx /usr/sbin/nginx
    growth_row java "$jdk/bin/java"
    if [ ${#GROWTH_OVER[@]} -eq 0 ]; then
        echo "target: plain programs grow by at most 15 %: met"
    else
        echo "target: plain programs grow by at most 15 %: NOT met by ${GROWTH_OVER[*]}"
    fi
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
printf '== elfroot benchmark ==\n'
printf 'host: %s %s, %s CPUs; sections: %s; runs: %s\n' \
    "$(uname -s)" "$(uname -m)" "$(nproc 2>/dev/null || echo '?')" "${SELECTED[*]}" "$RUNS"
for s in "${SELECTED[@]}"; do
    "section_$s"
done
exit $EXIT_STATUS
