#!/usr/bin/env bash
# bench/proxy-ab.sh: two builds of `signalbox proxy` and nginx, set up as bench/proxy.sh
# measures them (backend and proxies on core 1 with GOMAXPROCS=1, wrk -t1 -c32 on core 0),
# with short wrk runs interleaved round by round, to tell whether a change to the data plane
# helps before a full bench/proxy.sh run. Prints req/s, CPU per request of the proxy and of the
# backend it shares core 1 with, and core 1's idle time
# and time taken by other programs per run (a run with "other" was disturbed), and per round the
# ratio of each build to that round's nginx.
#
#   CONTROL=path/to/old/signalbox bash bench/proxy-ab.sh     the tree's build against CONTROL
#   ROUNDS=6 DURATION=4 CONTROL=... bash bench/proxy-ab.sh
#   NGINX=0 CONTROL=... ...   the two builds only (more rounds in the same time)
#   PERF=1 ...       also a perf profile per process (PERF_KEEP=PREFIX keeps perf.data)
#   SYSCALLS=1 ...   also count syscalls per request (perf tracepoints) over one extra run each,
#                    the proxy's and the backend's behind it
#   NGINX_SAME=1 ... also nginx adding the headers signalbox adds as Envoy does (X-Forwarded-Proto
#                    and a random X-Request-Id), which the backend then parses too
#   PROXY_HEADERS=off ... the policies turn off, with Istio's proxyHeaders, the headers Envoy adds
#                    beyond nginx's (bench/lib.sh write_policies)
#   FLOOR=1 ...      also bench/relayfloor, the least a Go relay with the proxy's system calls
#                    costs (no HTTP handling): what the proxy spends above it is its own work
#
# Without CONTROL it measures the tree's build alone against nginx. Shares bench/proxy.sh's
# machine lock; every process it starts is stopped on exit.
set -euo pipefail

ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
HOST=backend.bench.local
GO=${GO:-go}

exec 9>"${TMPDIR:-/tmp}/signalbox-bench-proxy.lock"
flock -w 900 9 || { echo "proxy-ab: the machine is busy measuring" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-ab.XXXXXX")
chmod 755 "$work"
pids=()
stop_on_exit
install_tools "$work/apt.log" || exit 1
export PATH=$PATH:/usr/sbin

if (($(nproc) >= 2)); then LOAD=(taskset -c 0) SUT=(taskset -c 1); else LOAD=() SUT=(); fi

bin=$work/bin
(cd "$root" && for p in cmd/signalbox bench/backend bench/freeport bench/relayfloor; do "$GO" build -o "$bin/$(basename "$p")" "./$p"; done)
port=($("$bin/freeport" -n 7))
backend_port=${port[0]} xds_port=${port[1]} cand_port=${port[2]} ctl_port=${port[3]} nginx_port=${port[4]} floor_port=${port[5]} same_port=${port[6]}

"${SUT[@]}" env GOMAXPROCS=1 "$bin/backend" -addr "127.0.0.1:$backend_port" >"$work/backend.log" 2>&1 &
pids+=($!)
backend_pid=$!
write_policies "$work/policies" "$HOST" "$backend_port"
"$bin/signalbox" compile "$work/policies" -o "$work/snapshot" >/dev/null
"${LOAD[@]}" "$bin/signalbox" serve --snapshot "$work/snapshot" --xds-addr "127.0.0.1:$xds_port" >"$work/serve.log" 2>&1 &
pids+=($!)

declare -A url cpu_pid
configs=(nginx cand)
[[ ${NGINX:-1} == 0 ]] && configs=(cand)
"${SUT[@]}" env GOMAXPROCS=1 "$bin/signalbox" proxy --xds "127.0.0.1:$xds_port" --node-id cand \
	--bind "*=127.0.0.1:$cand_port" >"$work/cand.log" 2>&1 &
pids+=($!)
cpu_pid[cand]=$!
url[cand]=http://127.0.0.1:$cand_port/
if [[ -n ${CONTROL:-} ]]; then
	"${SUT[@]}" env GOMAXPROCS=1 "$CONTROL" proxy --xds "127.0.0.1:$xds_port" --node-id ctl \
		--bind "*=127.0.0.1:$ctl_port" >"$work/ctl.log" 2>&1 &
	pids+=($!)
	cpu_pid[ctl]=$!
	url[ctl]=http://127.0.0.1:$ctl_port/
	configs+=(ctl)
fi
if [[ ${FLOOR:-0} == 1 ]]; then
	"${SUT[@]}" env GOMAXPROCS=1 "$bin/relayfloor" -addr "127.0.0.1:$floor_port" -target "127.0.0.1:$backend_port" \
		>"$work/floor.log" 2>&1 &
	pids+=($!)
	cpu_pid[floor]=$!
	url[floor]=http://127.0.0.1:$floor_port/
	configs+=(floor)
fi

write_nginx_conf "$work/nginx" "$backend_port" "$nginx_port"
"${SUT[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx.log" 2>&1 &
nginx_master=$!
pids+=($nginx_master)
url[nginx]=http://127.0.0.1:$nginx_port/
if [[ ${NGINX_SAME:-0} == 1 ]]; then
	# nginx sending what Envoy's connection manager adds and signalbox sends: the protocol and
	# a random request id.
	write_nginx_conf "$work/nginx-same" "$backend_port" "$same_port" \
		'proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Request-Id $request_id;'
	"${SUT[@]}" nginx -p "$work/nginx-same" -c "$work/nginx-same/nginx.conf" >"$work/nginx-same.log" 2>&1 &
	same_master=$!
	pids+=($same_master)
	url[nginx-same]=http://127.0.0.1:$same_port/
	configs+=(nginx-same)
fi
for c in "${configs[@]}"; do
	wait_http "${url[$c]}" || { echo "$c did not come up" >&2; cat "$work/$c.log" >&2 2>/dev/null; exit 1; }
done
wait_http "${url[nginx]}" || { echo "nginx did not come up" >&2; exit 1; }
cpu_pid[nginx]=$(pgrep -P "$nginx_master" | head -1)
if [[ ${NGINX_SAME:-0} == 1 ]]; then
	wait_http "${url[nginx-same]}" || { echo "nginx-same did not come up" >&2; exit 1; }
	cpu_pid[nginx-same]=$(pgrep -P "$same_master" | head -1)
fi

hz=$(getconf CLK_TCK)
cpu1() { awk '$1 == "cpu1" { print $5 + $6, $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; } # idle, busy ticks of core 1
run() { # run CONFIG: prints "rps cpu_us_per_req backend_us_per_req core1_idle% core1_other%" (other: neither idle nor proxy nor backend)
	local c=$1 t0 t1 b0 b1 reqs rps i0 s0 i1 s1
	"${LOAD[@]}" wrk -t1 -c"$CONNS" -d1s -H "Host: $HOST" "${url[$c]}" >/dev/null
	t0=$(cpu_ticks "${cpu_pid[$c]}")
	b0=$(cpu_ticks "$backend_pid")
	read -r i0 s0 < <(cpu1)
	"${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: $HOST" "${url[$c]}" >"$work/wrk.txt"
	read -r i1 s1 < <(cpu1)
	b1=$(cpu_ticks "$backend_pid")
	t1=$(cpu_ticks "${cpu_pid[$c]}")
	reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")
	awk -v r="$rps" -v d=$((t1 - t0)) -v hz="$hz" -v n="$reqs" -v b=$((b1 - b0)) -v i=$((i1 - i0)) -v s=$((s1 - s0 - (t1 - t0) - (b1 - b0))) -v all=$((i1 - i0 + s1 - s0)) \
		'BEGIN { all += 0.001; printf "%.0f %.1f %.1f %.0f %.0f\n", r, d * 1e6 / hz / n, b * 1e6 / hz / n, i * 100 / all, s * 100 / all }'
}

summary=$work/summary.tsv
: >"$summary"
ratios=(cand/nginx)
[[ -n ${CONTROL:-} ]] && ratios+=(ctl/nginx cand/ctl)
[[ ${FLOOR:-0} == 1 ]] && ratios+=(floor/nginx)
[[ ${NGINX_SAME:-0} == 1 ]] && ratios+=(cand/nginx-same)
printf 'round'
for c in "${configs[@]}"; do printf '\t%s req/s\tcpu us\tbackend us\tidle%%\tother%%' "$c"; done
printf '\t%s' "${ratios[@]}"
printf '\n'
for ((r = 1; r <= ROUNDS; r++)); do
	declare -A rps=()
	printf '%d' "$r"
	for c in "${configs[@]}"; do
		read -r rps[$c] cpu be idle steal < <(run "$c")
		printf '\t%s\t%s\t%s\t%s\t%s' "${rps[$c]}" "$cpu" "$be" "$idle" "$steal"
	done
	for q in "${ratios[@]}"; do
		awk -v a="${rps[${q%/*}]:-0}" -v b="${rps[${q#*/}]:-0}" 'BEGIN { printf "\t%.3f", b ? a / b : 0 }'
	done | tee -a "$summary"
	printf '\n' | tee -a "$summary" >/dev/null
	printf '\n'
done
# Medians of the per-round ratios: the machine's load drifts between rounds, not within one.
printf 'median ratios:'
for i in "${!ratios[@]}"; do
	printf ' %s %s' "${ratios[$i]}" "$(cut -f$((i + 2)) "$summary" | median)"
done
printf '\n'

if [[ ${SYSCALLS:-0} == 1 ]]; then
	# Kernel tracepoints counted by perf: unlike strace, they barely slow the proxy, so a read
	# that would find no data still finds none.
	ev=syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_readv,syscalls:sys_enter_epoll_wait,net:net_dev_xmit,sched:sched_switch,sched:sched_wakeup
	for c in "${configs[@]}"; do
		# The backend too: it shares core 1, and how a proxy batches its requests changes what
		# the backend spends on each.
		perf stat -x, -e "$ev" -p "${cpu_pid[$c]}" -o "$work/perf.txt" -- sleep "$DURATION" &
		p=$!
		perf stat -x, -e "$ev" -p "$backend_pid" -o "$work/perf-backend.txt" -- sleep "$DURATION" &
		pb=$!
		"${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: $HOST" "${url[$c]}" >"$work/wrk.txt"
		wait "$p" "$pb" || true
		reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
		for who in "$c" "backend behind $c"; do
			f=$work/perf.txt
			[[ $who == backend* ]] && f=$work/perf-backend.txt
			printf '%s syscalls per request:' "$who"
			awk -F, -v n="$reqs" '$3 ~ /^(syscalls|net|sched):/ { sub(/.*sys_enter_/, "", $3); sub(/^(net|sched):/, "", $3); printf " %s %.2f", $3, $1 / n }' "$f"
			printf '\n'
		done
	done
fi
if [[ ${PERF:-0} == 1 ]]; then
	# Where each process's time goes, kernel included (perf's software clock, call graphs).
	for c in "${configs[@]}"; do
		perf record -q -g -o "$work/perf.data" -p "${cpu_pid[$c]}" -- sleep "$DURATION" >/dev/null 2>&1 &
		p=$!
		"${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: $HOST" "${url[$c]}" >/dev/null
		wait "$p" || true
		echo "== $c: perf report --no-children, top symbols"
		perf report -q -i "$work/perf.data" --no-children --sort sym -g none --percent-limit 0.7 2>/dev/null | head -45
		[[ -n ${PERF_KEEP:-} ]] && cp "$work/perf.data" "$PERF_KEEP.$c"
	done
fi
