#!/usr/bin/env bash
# npm's pretest step: makes sure the system tools the tests need are installed (the list is
# scripts/system-packages.txt). Missing ones are installed with apt-get, as root or with
# passwordless sudo; otherwise this stops at once, printing the exact command to run. It never
# lets a test be skipped: a tool it cannot install is an error here.
# XS_OTA_SYSTEM_PACKAGES names another list (the preflight's own tests use it).
set -uo pipefail

self="${BASH_SOURCE[0]}"
case "$self" in */*) here="${self%/*}" ;; *) here=. ;; esac
list="${XS_OTA_SYSTEM_PACKAGES:-$here/system-packages.txt}"
# Debian installs daemons such as mosquitto in /usr/sbin, which a user's PATH often lacks.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

fail() {
  printf 'xs-ota preflight: %s\n' "$@" >&2
  exit 1
}

[ -r "$list" ] || fail "cannot read the package list $list"

have() {
  command -v "$1" >/dev/null 2>&1
}

# A line's first word is a command, or (starting with /) a file the package installs.
present() {
  case "$1" in /*) [ -e "$1" ] ;; *) have "$1" ;; esac
}

missing_tools=()
missing_packages=()
while read -r tool package _rest || [ -n "${tool:-}" ]; do
  case "${tool:-}" in "" | "#"*) continue ;; esac
  [ -n "${package:-}" ] || fail "$list: line for $tool names no package"
  if ! present "$tool"; then
    missing_tools+=("$tool")
    case " ${missing_packages[*]-} " in *" $package "*) ;; *) missing_packages+=("$package") ;; esac
  fi
done <"$list"

[ "${#missing_tools[@]}" -eq 0 ] && exit 0

packages="${missing_packages[*]}"
manual="sudo apt-get update && sudo apt-get install -y $packages"
if ! have apt-get; then
  fail "the tests need ${missing_tools[*]} (packages: $packages), and this machine has no apt-get." \
    "Install them with your system's package manager, then run npm test again."
fi

if [ "$(id -u)" = 0 ]; then
  sudo=()
elif have sudo && sudo -n true >/dev/null 2>&1; then
  # sudo resets the environment: env carries DEBIAN_FRONTEND through it.
  sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
  fail "the tests need ${missing_tools[*]}, which is not installed, and installing it needs root." \
    "Run this, then npm test again:" \
    "  $manual"
fi

echo "xs-ota preflight: installing $packages (needed by the tests: ${missing_tools[*]})" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq || fail "apt-get update failed; run: $manual"
# shellcheck disable=SC2086
"${sudo[@]}" apt-get install -y -qq $packages >/dev/null || fail "apt-get install failed; run: $manual"

for tool in "${missing_tools[@]}"; do
  present "$tool" || fail "$tool is still missing after installing $packages; run: $manual"
done
echo "xs-ota preflight: installed $packages" >&2
