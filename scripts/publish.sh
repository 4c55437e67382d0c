#!/bin/bash
# Builds graft and graftd as they ship: published with NativeAOT, native
# executables that start without a JIT, into out/ (or the directory given),
# with graft's runtime/ (graft.h, libgraft) beside them.  demo.sh, test.sh and
# the integration tests run these binaries.  The first run takes a few
# minutes; with nothing changed, a later one takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-out}")
for project in Graft.Cli Graft.Daemon; do
	dotnet publish "src/$project" -c Release -r linux-x64 -p:PublishAot=true \
		--nologo -v quiet -o "$out"
done
echo "publish: $out/graft and $out/graftd"
