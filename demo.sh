#!/bin/bash
# Runs `graft demo`.  Extra arguments go to the demo command.
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-deps.sh &&
	make -C runtime &&
	dotnet run -c Release --project src/Graft.Cli -- demo "$@"
