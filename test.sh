#!/bin/bash
# Builds the C runtime and fixtures and publishes graft and graftd with NativeAOT
# (scripts/publish.sh: the integration tests run those binaries), then runs every test project.
# Extra arguments go to `dotnet test`. A test that runs for 10 minutes without finishing is
# taken for a hang: the test host is killed and the run fails naming that test, rather than
# running until CI's own limit with nothing said.
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-deps.sh &&
	make -C runtime all check &&
	make -C tests/fixtures &&
	scripts/publish.sh &&
	dotnet test Graft.sln -c Release --blame-hang-timeout 10m --blame-hang-dump-type none "$@"
