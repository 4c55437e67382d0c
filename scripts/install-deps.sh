#!/bin/bash
# Checks what building and testing Graft needs and installs the missing
# Debian packages when run as root; otherwise says what is missing and
# fails.  Safe to run any number of times.
set -uo pipefail

# g++: a C++ fixture; clang-14: fixtures built by Debian's clang too;
# redis-server and redis-cli: the integration tests patch Debian's own redis;
# nginx: they patch Debian's nginx, a master and its workers (a copy of the
# binary in a temp directory, on 127.0.0.1: the system's service is left alone).
# gcc, binutils (ld.bfd, objcopy) and libc6-dev also link the NativeAOT graft
# and graftd (scripts/publish.sh); the ILCompiler packages restored from NuGet
# bring the rest (their own zlib and brotli), so no zlib1g-dev.
# dpkg-dev: scripts/build-deb.sh computes the package's Depends with
# dpkg-shlibdeps (dpkg-deb itself comes with dpkg).
# The redis test builds redis from Debian's source package (apt-get source,
# hence deb-src lines and dpkg-dev) as debian/rules does: with Debian's
# jemalloc, lzf, systemd and OpenSSL (libjemalloc-dev liblzf-dev
# libsystemd-dev libssl-dev pkg-config); graft build --diff runs patch.
# Another test reproduces Debian's own build of that redis (dpkg-buildpackage,
# whose binary is byte for byte the one Debian ships): that needs the source
# package's Build-Depends too (debhelper, libhiredis-dev, liblua5.1-0-dev,
# lua-bitop-dev, lua-cjson-dev, tcl-tls).
# ansible-core: the Ansible collection (dist/ansible) is tested by running its
# example rollout with ansible-playbook against localhost (Fleet/AnsibleTests).
declare -A package_of=([gcc]=gcc [g++]=g++ [clang-14]=clang-14 [make]=make [gdb]=gdb
	[readelf]=binutils [redis-server]=redis-server [redis-cli]=redis-tools
	[patch]=patch [dpkg-buildflags]=dpkg-dev [dpkg-shlibdeps]=dpkg-dev [pkg-config]=pkg-config
	[ansible-playbook]=ansible-core)
redis_build_depends="debhelper libhiredis-dev liblua5.1-0-dev lua-bitop-dev lua-cjson-dev tcl-tls"
packages="gcc g++ clang-14 make gdb binutils libc6-dev libtsan2 libasan8 libubsan1 redis-server redis-tools nginx patch dpkg-dev pkg-config libjemalloc-dev liblzf-dev libsystemd-dev libssl-dev ansible-core $redis_build_depends"
ok=1
sources=/etc/apt/sources.list.d/graft-src.sources

missing=()
for tool in gcc g++ clang-14 make gdb readelf redis-server redis-cli patch dpkg-buildflags dpkg-shlibdeps pkg-config ansible-playbook; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
# The build dependencies of Debian's redis, by a header each brings.
declare -A header_of=([jemalloc/jemalloc.h]=libjemalloc-dev [liblzf/lzf.h]=liblzf-dev
	[systemd/sd-daemon.h]=libsystemd-dev [openssl/ssl.h]=libssl-dev)
for header in "${!header_of[@]}"; do
	[ -e "/usr/include/$header" ] || missing+=("${header_of[$header]}")
done
for package in $redis_build_depends; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" = installed ] || missing+=("$package")
done
# /usr/sbin is not on every user's PATH.
[ -x /usr/sbin/nginx ] || missing+=(nginx)
# The C library headers come with libc6-dev, not with gcc.
[ -e /usr/include/stdio.h ] || missing+=(libc6-dev)
# runtime/'s check runs a test under ThreadSanitizer and AddressSanitizer.
declare -A sanitizer_of=([libtsan.so]=libtsan2 [libasan.so]=libasan8
	[libubsan.so]=libubsan1)
for runtime in "${!sanitizer_of[@]}"; do
	# gcc names a dangling link when the runtime package is missing.
	[ -e "$(gcc -print-file-name="$runtime" 2>/dev/null)" ] ||
		missing+=("${sanitizer_of[$runtime]}")
done

# apt-get source needs the source packages of bookworm and its security
# updates (the later redis releases are there).
if ! grep -qs '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources &&
	! grep -qs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/*.list; then
	if [ "$EUID" -eq 0 ]; then
		echo "install-deps: adding Debian's source packages ($sources)"
		cat >"$sources" <<'SOURCES'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
		apt-get update || ok=0
	else
		echo "install-deps: no deb-src lines for apt-get source; as root" \
			"run this script to add $sources" >&2
		ok=0
	fi
fi

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$EUID" -eq 0 ]; then
		echo "install-deps: installing missing packages: ${missing[*]}"
		# shellcheck disable=SC2086
		apt-get update &&
			apt-get install -y --no-install-recommends $packages ||
			ok=0
	else
		echo "install-deps: missing packages: ${missing[*]}" >&2
		echo "install-deps: as root run: apt-get update &&" \
			"apt-get install -y --no-install-recommends $packages" >&2
		ok=0
	fi
fi

if ! command -v dotnet >/dev/null 2>&1; then
	echo "install-deps: the .NET SDK 10 is required but dotnet is not" \
		"on PATH; it cannot be installed offline here (it comes with" \
		"this machine kind)." >&2
	ok=0
else
	version=$(dotnet --version 2>&1)
	case "$version" in
	10.*) ;;
	*)
		echo "install-deps: the .NET SDK 10 is required; 'dotnet" \
			"--version' said: $version" >&2
		ok=0
		;;
	esac
fi

[ "$ok" -eq 1 ]
