#!/bin/bash
# Builds the Debian packages of Graft into OUTDIR (default out/deb):
#   graft_<version>_amd64.deb         graft, graftd, graft.h, libgraft, the unit,
#                                     man pages, bash completion, the Ansible collection
#   graft-dbgsym_<version>_amd64.deb  their symbols, by build-id under /usr/lib/debug
# from the NativeAOT binaries scripts/publish.sh makes (run first, into out/),
# or, with --from DIR, from binaries already published into DIR.  Plain
# dpkg-deb, as root or not (the files are owned by root in the package).
# Version: GRAFT_VERSION, else <graft --version>+git<commit date.time, UTC>.<commit>-1
# (a Debian revision: the changelog is changelog.Debian, as policy wants).
set -euo pipefail
cd "$(dirname "$0")/.."

published=""
if [ "${1:-}" = --from ]; then
	published=$(realpath "$2")
	shift 2
fi
outdir=$(realpath -m "${1:-out/deb}")

make -s -C runtime all
if [ -z "$published" ]; then
	scripts/publish.sh out
	published=$(realpath out)
fi

# The version graft itself reports (1.0.0+<commit it was built from>), with
# that commit's time so that later builds sort later.
reported=$("$published/graft" --version)
commit=${reported#*+}
epoch=$(git log -1 --format=%ct "$commit")
version=${GRAFT_VERSION:-${reported%%+*}+git$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d.%H%M%S "$commit").${commit:0:7}-1}
# dpkg-deb clamps every file's time to it: the same tree gives the same package.
export SOURCE_DATE_EPOCH=$epoch

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/debian/graft
dbg=$work/debian/graft-dbgsym

# Every library runtime/ builds ships: patches link libgraft, and the
# others (if any) are loaded by graft's own code in targets.  A private
# directory rather than /usr/lib/x86_64-linux-gnu: libgraft is no public
# library (no versioned soname, no -dev package, no ldconfig); patches find it
# by the rpath graft build gives them.
libs=(runtime/out/lib/*.so)
for lib in "${libs[@]}"; do
	# The copy beside the published graft is what that graft was tested with.
	beside=$published/runtime/lib/$(basename "$lib")
	if [ -e "$beside" ] && ! cmp -s "$lib" "$beside"; then
		echo "build-deb: $beside differs from $lib: publish again (scripts/publish.sh)" >&2
		exit 1
	fi
done

install -D -m 0755 "$published/graft" "$root/usr/bin/graft"
install -D -m 0755 "$published/graftd" "$root/usr/sbin/graftd"
# The linker's notes of which compilers made the objects: no use at run time.
objcopy --remove-section=.comment "$root/usr/bin/graft"
objcopy --remove-section=.comment "$root/usr/sbin/graftd"
install -D -m 0644 runtime/out/include/graft.h "$root/usr/include/graft.h"
install -d "$root/usr/lib/graft"
for lib in "${libs[@]}"; do
	install -m 0644 "$lib" "$root/usr/lib/graft/"
done

# The symbols go to graft-dbgsym by build-id, as dh_strip does: gdb, and graft
# itself for stack symbolization, find them there.  The NativeAOT build has
# already split graft and graftd (graft.dbg, graftd.dbg).
debug_file() { # ELF → its path in the dbgsym package
	local id
	id=$(readelf -n "$1" | sed -n 's/^ *Build ID: //p')
	echo "$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
}
for pair in "usr/bin/graft:$published/graft.dbg" "usr/sbin/graftd:$published/graftd.dbg"; do
	install -D -m 0644 "${pair#*:}" "$(debug_file "$root/${pair%%:*}")"
done
for lib in "$root"/usr/lib/graft/*.so; do
	file=$(debug_file "$lib")
	install -d "$(dirname "$file")"
	objcopy --only-keep-debug "$lib" "$file"
	chmod 0644 "$file"
	strip --strip-unneeded --remove-section=.comment --remove-section=.note "$lib"
	objcopy --add-gnu-debuglink="$file" "$lib"
done

unit=$root/lib/systemd/system/graftd.service
install -D -m 0644 dist/graftd.service "$unit"
sed -i -e 's|^ExecStart=/opt/graft/graftd |ExecStart=/usr/sbin/graftd |' \
	-e 's|^Documentation=.*|Documentation=man:graftd(8)|' \
	-e 's|see README.md, "graftd"|see graftd(8)|' "$unit"
grep -q '^ExecStart=/usr/sbin/graftd ' "$unit" || {
	echo "build-deb: dist/graftd.service has no ExecStart=/opt/graft/graftd to rewrite" >&2
	exit 1
}

install -D -m 0644 dist/deb/graft.bash-completion "$root/usr/share/bash-completion/completions/graft"
# The Ansible collection graft.livepatch, where ansible-playbook finds collections
# by default (/usr/share/ansible/collections), and its example rollout.
collection=dist/ansible/ansible_collections/graft/livepatch
find "$collection" -type f ! -name '*.pyc' -printf '%P\n' | while read -r file; do
	install -D -m 0644 "$collection/$file" "$root/usr/share/ansible/collections/ansible_collections/graft/livepatch/$file"
done
install -D -m 0644 dist/ansible/examples/rolling-rollout.yml "$root/usr/share/doc/graft/examples/ansible/rolling-rollout.yml"
for page in graft.1 graftd.8; do
	section=${page##*.}
	install -D -m 0644 "dist/deb/$page" "$root/usr/share/man/man$section/$page"
	gzip -9n "$root/usr/share/man/man$section/$page"
done

doc=$root/usr/share/doc/graft
install -D -m 0644 dist/deb/copyright "$doc/copyright"
install -m 0644 README.md "$doc/README.md"
# The .NET runtime compiled into the binaries: its notices, from the newest
# ILCompiler package restored (publish uses the newest of the SDK's band).
ilc=$(find "${NUGET_PACKAGES:-$HOME/.nuget/packages}/runtime.linux-x64.microsoft.dotnet.ilcompiler" \
	-mindepth 1 -maxdepth 1 -type d | sort -V | tail -1)
install -m 0644 "$ilc/THIRD-PARTY-NOTICES.TXT" "$doc/THIRD-PARTY-NOTICES.dotnet"
{
	echo "graft ($version) unstable; urgency=medium"
	echo
	echo "  * Built from commit $commit:"
	echo "    $(git log -1 --format=%s "$commit" | cut -c1-68)"
	echo
	echo " -- Graft maintainers <maintainers@users.noreply.h-seed-6036e982.example>  $(date -R -u -d "@$epoch")"
} >"$doc/changelog.Debian"
gzip -9n "$doc/changelog.Debian" "$doc/README.md" "$doc/THIRD-PARTY-NOTICES.dotnet"
install -d "$dbg/usr/share/doc"
ln -s graft "$dbg/usr/share/doc/graft-dbgsym"

# Depends as dpkg-shlibdeps computes it from what the ELF files link; it wants
# a debian/control to read, and DEBIAN/ to tell where the package's root is.
install -d "$root/DEBIAN"
printf 'Source: graft\n\nPackage: graft\nArchitecture: amd64\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O debian/graft/usr/bin/graft debian/graft/usr/sbin/graftd debian/graft/usr/lib/graft/*.so |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || {
	echo "build-deb: dpkg-shlibdeps found no dependencies" >&2
	exit 1
}
# .NET's cryptography (patch signatures, SHA-256) loads libssl at run time, with
# dlopen: no ELF file links it, so dpkg-shlibdeps cannot see it.
depends="$depends, libssl3"

control() { # package directory → DEBIAN/ with md5sums and Installed-Size
	local dir=$1
	(cd "$dir" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$dir/DEBIAN/md5sums"
	chmod 0644 "$dir/DEBIAN/md5sums" "$dir/DEBIAN/control"
	sed -i "s|@SIZE@|$(du -sk --apparent-size --exclude=DEBIAN "$dir" | cut -f1)|" "$dir/DEBIAN/control"
}

sed -e "s|@VERSION@|$version|" -e "s|@DEPENDS@|$depends|" dist/deb/control >"$root/DEBIAN/control"
install -m 0755 dist/deb/postinst dist/deb/prerm dist/deb/postrm "$root/DEBIAN/"
control "$root"

ids=$(find "$dbg/usr/lib/debug/.build-id" -name '*.debug' -printf '%h%f\n' | sed 's|.*/||; s|\.debug$||' | sort | tr '\n' ' ')
install -d "$dbg/DEBIAN"
cat >"$dbg/DEBIAN/control" <<EOF
Package: graft-dbgsym
Source: graft
Version: $version
Architecture: amd64
Maintainer: Graft maintainers <maintainers@users.noreply.h-seed-6036e982.example>
Installed-Size: @SIZE@
Depends: graft (= $version)
Section: debug
Priority: optional
Description: debug symbols for graft
Build-Ids: ${ids% }
EOF
control "$dbg"

find "$root" "$dbg" -type d -exec chmod 0755 {} +
mkdir -p "$outdir"
for package in "$root" "$dbg"; do
	dpkg-deb --root-owner-group -Zxz --build "$package" \
		"$outdir/$(basename "$package")_${version}_amd64.deb" >/dev/null
done
echo "build-deb: $outdir/graft_${version}_amd64.deb and graft-dbgsym_${version}_amd64.deb"
