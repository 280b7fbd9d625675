#!/usr/bin/env bash
# install.sh: puts a skyform binary in $INSTALL_ROOT/bin for the skyform GitHub Action (action.yml).
#
#   install.sh key       print (and append to GITHUB_OUTPUT) root=DIR and key=CACHE-KEY for actions/cache:
#                        runner OS and architecture, the action's ref and a hash of the sources it builds from,
#                        so a moved tag (v1) never restores an older build
#   install.sh source    cargo install --locked --path ACTION_PATH --root INSTALL_ROOT, unless the cache
#                        already restored the binary
#   install.sh release   download skyform-TRIPLE.tar.gz and its .sha256 from ACTION_REPOSITORY's release
#                        SKYFORM_VERSION (default: ACTION_REF), verify the checksum, unpack
# source and release print skyform-path=FILE (and append it to GITHUB_OUTPUT) and add its folder to GITHUB_PATH.
#
# Environment (all optional outside GitHub): INSTALL_ROOT (default ${RUNNER_TEMP:-/tmp}/skyform-install),
# ACTION_PATH (default: this script's repository), ACTION_REF, ACTION_REPOSITORY, SKYFORM_VERSION,
# GH_TOKEN (for `gh release download`; curl is used when gh or the token is absent), RELEASE_BASE_URL (curl
# downloads from there instead of the GitHub release: a mirror, or a test), RUNNER_OS, RUNNER_ARCH,
# GITHUB_OUTPUT, GITHUB_PATH.
set -euo pipefail

root=${INSTALL_ROOT:-${RUNNER_TEMP:-/tmp}/skyform-install}
action_path=${ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}

die() {
  printf '::error::%s\n' "$1"
  exit 1
}

output() {
  printf '%s\n' "$1"
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then printf '%s\n' "$1" >>"$GITHUB_OUTPUT"; fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$@"
  else
    shasum -a 256 "$@"
  fi
}

# The Rust target triple of this runner.
triple() {
  local os=${RUNNER_OS:-$(uname -s)} arch=${RUNNER_ARCH:-$(uname -m)}
  case $arch in
    X64 | x86_64 | amd64) arch=x86_64 ;;
    ARM64 | aarch64 | arm64) arch=aarch64 ;;
    *) die "no skyform release for the architecture $arch: use install: source" ;;
  esac
  case $os in
    Linux) echo "$arch-unknown-linux-gnu" ;;
    macOS | Darwin) echo "$arch-apple-darwin" ;;
    *) die "no skyform release for $os: use install: source" ;;
  esac
}

finish() {
  local bin=$root/bin/skyform
  [[ -x $bin ]] || die "skyform was not installed at $bin"
  "$bin" --version
  output "skyform-path=$bin"
  if [[ -n ${GITHUB_PATH:-} ]]; then printf '%s\n' "$root/bin" >>"$GITHUB_PATH"; fi
}

cmd_key() {
  local files hash
  # The files cargo builds from; a hash of their contents, in a stable order.
  files=()
  local f
  for f in Cargo.toml Cargo.lock build.rs; do
    if [[ -f $action_path/$f ]]; then files+=("$action_path/$f"); fi
  done
  while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$action_path/src" -type f -print0 | LC_ALL=C sort -z)
  hash=$(sha256_of "${files[@]}" | sed "s|$action_path/||" | sha256_of | cut -c1-16)
  output "root=$root"
  output "key=skyform-${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}-${ACTION_REF:-local}-$hash"
}

cmd_source() {
  if [[ -x $root/bin/skyform ]]; then
    echo "skyform restored from the cache"
  else
    command -v cargo >/dev/null 2>&1 || die "install: source needs cargo on the runner (or use install: release)"
    cargo install --locked --path "$action_path" --root "$root"
  fi
  finish
}

cmd_release() {
  local repo=${ACTION_REPOSITORY:-} version=${SKYFORM_VERSION:-${ACTION_REF:-}}
  [[ -n $repo ]] || die "install: release needs the action's repository (ACTION_REPOSITORY)"
  [[ -n $version ]] || die "install: release needs a version (input version, e.g. v1.2.0)"
  local asset
  asset=skyform-$(triple).tar.gz
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if [[ -z ${RELEASE_BASE_URL:-} ]] && command -v gh >/dev/null 2>&1 && [[ -n ${GH_TOKEN:-} ]]; then
    gh release download "$version" --repo "$repo" --dir "$tmp" --pattern "$asset" --pattern "$asset.sha256"
  else
    local url=${RELEASE_BASE_URL:-https://github.com/$repo/releases/download/$version}
    curl -fsSL --retry 3 -o "$tmp/$asset" "$url/$asset"
    curl -fsSL --retry 3 -o "$tmp/$asset.sha256" "$url/$asset.sha256"
  fi
  local want got
  want=$(awk '{ print $1; exit }' "$tmp/$asset.sha256")
  got=$(sha256_of "$tmp/$asset" | awk '{ print $1 }')
  if [[ -z $want || $want != "$got" ]]; then
    die "checksum mismatch for $asset $version: expected ${want:-nothing}, got $got"
  fi
  echo "$asset: checksum verified ($got)"
  mkdir -p "$root/bin" "$tmp/x"
  tar -xzf "$tmp/$asset" -C "$tmp/x"
  local bin
  bin=$(find "$tmp/x" -type f -name skyform | head -n 1)
  [[ -n $bin ]] || die "$asset has no skyform binary"
  install -m 0755 "$bin" "$root/bin/skyform"
  finish
}

case ${1:-} in
  key) cmd_key ;;
  source) cmd_source ;;
  release) cmd_release ;;
  *)
    echo "usage: ${0##*/} key|source|release" >&2
    exit 2
    ;;
esac
