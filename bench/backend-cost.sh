#!/usr/bin/env bash
# bench/backend-cost.sh: what the benchmark's backend (bench/backend, a net/http server on
# core 1 with GOMAXPROCS=1) spends per request for the request heads the proxies send it, driven
# directly by wrk -t1 -c32 from core 0. The backend shares core 1 with the proxy under test in
# bench/proxy.sh, so a head that costs it more lowers that proxy's throughput as much as the
# proxy's own CPU does. Rounds interleave the heads:
#
#   nginx's:            Host: backend (its $proxy_host), nothing else
#   signalbox's:        the client's Host, X-Forwarded-Proto (Envoy's connection manager sets it)
#   with XFF as well:   what a gateway (use_remote_address) sends
#
#   ROUNDS=3 DURATION=4 bash bench/backend-cost.sh
#
# Shares bench/proxy.sh's machine lock; the backend is stopped on exit.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
HOST=backend
GO=${GO:-go}

exec 9>"${TMPDIR:-/tmp}/signalbox-bench-proxy.lock"
flock -w 900 9 || { echo "backend-cost: the machine is busy measuring" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-backend.XXXXXX")
pids=()
stop_on_exit
install_tools "$work/apt.log" || exit 1

if (($(nproc) >= 2)); then LOAD=(taskset -c 0) SUT=(taskset -c 1); else LOAD=() SUT=(); fi
(cd "$root" && for p in bench/backend bench/freeport; do "$GO" build -o "$work/$(basename "$p")" "./$p"; done)
port=$("$work/freeport")
"${SUT[@]}" env GOMAXPROCS=1 "$work/backend" -addr "127.0.0.1:$port" >"$work/backend.log" 2>&1 &
pids+=($!)
backend_pid=$!
wait_http "http://127.0.0.1:$port/" || { echo "the backend did not come up" >&2; exit 1; }

hz=$(getconf CLK_TCK)
heads=(nginx signalbox gateway)
declare -A args=(
	[nginx]="-H Host:backend"
	[signalbox]="-H Host:backend.bench.local -H X-Forwarded-Proto:http"
	[gateway]="-H Host:backend.bench.local -H X-Forwarded-Proto:http -H X-Forwarded-For:127.0.0.1"
)
printf 'round'
for h in "${heads[@]}"; do printf '\t%s req/s\tbackend us' "$h"; done
printf '\n'
for ((r = 1; r <= ROUNDS; r++)); do
	printf '%d' "$r"
	for h in "${heads[@]}"; do
		# shellcheck disable=SC2086 # the header arguments split on purpose
		"${LOAD[@]}" wrk -t1 -c"$CONNS" -d1s ${args[$h]} "http://127.0.0.1:$port/" >/dev/null
		b0=$(cpu_ticks "$backend_pid")
		# shellcheck disable=SC2086
		"${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" ${args[$h]} "http://127.0.0.1:$port/" >"$work/wrk.txt"
		b1=$(cpu_ticks "$backend_pid")
		reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
		rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")
		awk -v r="$rps" -v d=$((b1 - b0)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "\t%.0f\t%.2f", r, d * 1e6 / hz / n }'
	done
	printf '\n'
done
