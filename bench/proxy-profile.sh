#!/usr/bin/env bash
# bench/proxy-profile.sh: a CPU profile of the real `signalbox proxy` under wrk, set up as
# bench/proxy.sh measures it (backend and proxy on core 1 with GOMAXPROCS=1, wrk -t1 -c32 on
# core 0), without perf: the proxy writes its own pprof profile (--cpuprofile).
#
#   bash bench/proxy-profile.sh [OUT.prof]      default $TMPDIR/signalbox-proxy-cpu.prof
#   DURATION=20 bash bench/proxy-profile.sh
#   go tool pprof -top /tmp/signalbox-proxy-cpu.prof
#   CONTROL=path/to/signalbox bash bench/proxy-profile.sh   compile and serve with another build
#
# Prints wrk's summary and the proxy's CPU per request; every process it starts is stopped on
# exit. Shares bench/proxy.sh's machine lock, so it never runs beside a measurement.
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
HOST=backend.bench.local
GO=${GO:-go}

exec 9>"${TMPDIR:-/tmp}/signalbox-bench-proxy.lock"
flock -w 900 9 || { echo "proxy-profile: the machine is busy measuring" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
out=${1:-${TMPDIR:-/tmp}/signalbox-proxy-cpu.prof}
work=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-profile.XXXXXX")
pids=()
stop_on_exit

if (($(nproc) >= 2)); then LOAD=(taskset -c 0) SUT=(taskset -c 1); else LOAD=() SUT=(); fi

bin=$work/bin
(cd "$root" && for p in cmd/signalbox bench/backend bench/freeport; do "$GO" build -o "$bin/$(basename "$p")" "./$p"; done)
control=${CONTROL:-$bin/signalbox}
port=($("$bin/freeport" -n 3))
backend_port=${port[0]} xds_port=${port[1]} sb_port=${port[2]}

"${SUT[@]}" env GOMAXPROCS=1 "$bin/backend" -addr "127.0.0.1:$backend_port" >"$work/backend.log" 2>&1 &
pids+=($!)
write_policies "$work/policies" "$HOST" "$backend_port"
"$control" compile "$work/policies" -o "$work/snapshot" >/dev/null
"${LOAD[@]}" "$control" serve --snapshot "$work/snapshot" --xds-addr "127.0.0.1:$xds_port" >"$work/serve.log" 2>&1 &
pids+=($!)
"${SUT[@]}" env GOMAXPROCS=1 "$bin/signalbox" proxy --xds "127.0.0.1:$xds_port" --node-id bench \
	--bind "*=127.0.0.1:$sb_port" --cpuprofile "$work/cpu.prof" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
wait_http "http://127.0.0.1:$sb_port/" || { cat "$work/proxy.log" >&2; exit 1; }

"${LOAD[@]}" wrk -t1 -c"$CONNS" -d2s -H "Host: $HOST" "http://127.0.0.1:$sb_port/" >/dev/null
t0=$(cpu_ticks "$proxy_pid")
"${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "Host: $HOST" "http://127.0.0.1:$sb_port/" | tee "$work/wrk.txt"
t1=$(cpu_ticks "$proxy_pid")
reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" 'BEGIN { printf "proxy CPU per request: %.1f us\n", d * 1e6 / hz / n }'

kill -TERM "$proxy_pid"
wait "$proxy_pid" 2>/dev/null || true
mkdir -p "$(dirname "$out")"
cp "$work/cpu.prof" "$out"
echo "profile: $out (go tool pprof -top $out)"
