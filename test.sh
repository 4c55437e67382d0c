#!/bin/bash
# Builds the C runtime and fixtures, then runs every test project.
# Extra arguments go to `dotnet test`.
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-deps.sh &&
	make -C runtime all check &&
	make -C tests/fixtures &&
	dotnet test Graft.sln -c Release "$@"
