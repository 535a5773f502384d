#!/usr/bin/env bash
# make conformance: run independent proxyless gRPC clients against the signalbox publisher.
# Installs what it needs itself: @grpc/grpc-js-xds from npm (into conformance/node) and
# gRPC C-core through Debian's python3-grpcio. The Go harness starts gRPC backends, a policy
# repository and the publisher on loopback; each client prints one line per feature.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$(mktemp -d)"
harness_pid=""
cleanup() {
	exec 3>&- 2>/dev/null || true
	if [ -n "$harness_pid" ]; then wait "$harness_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -d "$here/node/node_modules/@grpc/grpc-js-xds" ]; then
	echo "installing @grpc/grpc-js-xds (npm)"
	(cd "$here/node" && npm install --no-audit --no-fund --loglevel=error)
fi
# Debian's python3-grpcio is built for the system interpreter.
py=/usr/bin/python3
if ! "$py" -c 'import grpc' 2>/dev/null; then
	echo "installing python3-grpcio (apt)"
	if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-grpcio >/dev/null
fi

(cd "$root" && go build -o "$work/harness" ./conformance/harness)
mkfifo "$work/stdin"
"$work/harness" -bootstrap "$work/bootstrap.json" <"$work/stdin" >"$work/harness.out" 2>&1 &
harness_pid=$!
exec 3>"$work/stdin" # the harness serves until this closes
for _ in $(seq 100); do
	grep -q '^READY' "$work/harness.out" 2>/dev/null && break
	if ! kill -0 "$harness_pid" 2>/dev/null; then cat "$work/harness.out"; exit 1; fi
	sleep 0.1
done
target="$(sed -n 's/^READY target=\([^ ]*\) .*/\1/p' "$work/harness.out")"
[ -n "$target" ] || { echo "harness never became ready"; cat "$work/harness.out"; exit 1; }
# The locality checks' targets: nearby (failover), weighted (distribute).
nearby="$(sed -n 's/^READY .* nearby=\([^ ]*\) .*/\1/p' "$work/harness.out")"
weighted="$(sed -n 's/^READY .* weighted=\([^ ]*\) .*/\1/p' "$work/harness.out")"
[ -n "$nearby" ] && [ -n "$weighted" ] || { echo "harness named no locality targets"; cat "$work/harness.out"; exit 1; }

export GRPC_XDS_BOOTSTRAP="$work/bootstrap.json"
{
	timeout 120 node "$here/node/client.js" "$target" "$nearby" "$weighted" || true
	timeout 120 "$py" "$here/python/client.py" "$target" "$nearby" "$weighted" || true
} | tee "$work/results"
# The verdicts (details aside) must be the recorded ones: a client getting better or worse is
# news either way. expected.txt is what README's Features table reports.
sed 's/ (.*//' "$work/results" >"$work/verdicts"
if ! diff -u "$here/expected.txt" "$work/verdicts"; then
	echo "conformance: verdicts differ from conformance/expected.txt"
	exit 1
fi
echo "conformance: as expected"
