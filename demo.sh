#!/bin/bash
# Publishes graft (scripts/publish.sh) and runs `out/graft demo`.  Extra arguments go to
# the demo command.
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-deps.sh &&
	make -C runtime &&
	scripts/publish.sh &&
	out/graft demo "$@"
