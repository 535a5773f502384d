#!/usr/bin/env bash
# bench/proxy.sh: signalbox's data plane against a direct connection, nginx, HAProxy and a plain
# httputil.ReverseProxy, measured the way DESIGN.md's anchors were ("How the data-plane anchors
# were measured"): load generator on core 0, backend and proxy under test on core 1, Go programs
# with GOMAXPROCS=1, configurations interleaved round by round, medians over the rounds.
#
#   make bench-proxy            full run: 3 rounds of 10 s per configuration (about 8 minutes)
#   QUICK=1 make bench-proxy    1 round of 3 s, to try the script
#   ROUNDS=5 DURATION=10 bash bench/proxy.sh
#   PROXY_HEADERS=off make bench-proxy   signalbox with Istio's proxyHeaders turning off the
#                               headers Envoy adds beyond nginx's (bench/lib.sh write_policies)
#
# Per configuration and round: wrk -t1 -c32 --latency for 2 s (warm-up, discarded), then for
# DURATION s (requests/s, and the proxy's utime+stime from /proc/PID/stat over that run divided by
# its requests), then bench/openloop at 1,000 req/s for DURATION s (latency from each request's
# scheduled send time; "added" = that round's figure minus direct's, median over rounds).
# Allocations per request come from `go test -bench ProxyForward -benchmem ./proxy/` (the
# proxy's allocs/op minus direct's).
#
# Beside plain nginx (the anchors' configuration), nginx-same is nginx adding upstream the fields
# Envoy's connection manager adds and signalbox adds with it: X-Forwarded-Proto and a random
# X-Request-Id, which the backend sharing the core then parses too.
#
# Everything listens on 127.0.0.1 on ports the kernel reports free; every process the script
# starts is stopped on exit. It installs wrk and nginx-light (and HAProxy if the package manager
# has it) when they are missing. The table goes to stdout and bench/results/latest.md.
set -euo pipefail

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-3} WARMUP=${WARMUP:-1} ALLOC_BENCHTIME=${ALLOC_BENCHTIME:-2000x}
else
	ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} WARMUP=${WARMUP:-2} ALLOC_BENCHTIME=${ALLOC_BENCHTIME:-1s}
fi
RATE=${RATE:-1000}
CONNS=32
HOST=backend.bench.local # the ServiceEntry host the sidecar routes on; every target gets the same header
GO=${GO:-go}

# Two runs pinned to the same cores would spoil each other's figures: one at a time per machine
# (from any copy of the tree), waiting at most 15 minutes for the other to finish.
exec 9>"${TMPDIR:-/tmp}/signalbox-bench-proxy.lock"
if ! flock -n 9; then
	echo "bench-proxy: another run is measuring on this machine; waiting for it" >&2
	flock -w 900 9 || { echo "bench-proxy: still busy after 15 minutes" >&2; exit 1; }
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
results=$root/bench/results
work=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-bench.XXXXXX")
chmod 755 "$work" # nginx's worker runs as an unprivileged user when the script runs as root
pids=()

stop_on_exit

log() { printf '%s\n' "$*" >&2; }
die() {
	log "bench-proxy: $*"
	exit 1
}

# --- tools -----------------------------------------------------------------------------------

install_tools "$work/apt.log" haproxy || die "could not install the tools"
export PATH=$PATH:/usr/sbin
# The Debian packages start their system services on install where that is allowed; this script
# runs its own instances with their own config files and leaves the system ones alone.

if (($(nproc) >= 2)); then
	LOAD=(taskset -c 0) SUT=(taskset -c 1)
else
	log "fewer than 2 cores: running unpinned, figures are not comparable with the anchors"
	LOAD=() SUT=()
fi

# --- build -----------------------------------------------------------------------------------

bin=$work/bin
log "building signalbox and the bench programs"
(cd "$root" && for p in cmd/signalbox bench/backend bench/reverseproxy bench/openloop bench/freeport; do
	"$GO" build -o "$bin/$(basename "$p")" "./$p"
done)
rev=${BENCH_REV:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)} # BENCH_REV: for a copy without .git
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- allocations per request (in-process benchmark, before any server starts) ----------------

log "go test -bench ProxyForward -benchmem ./proxy/"
(cd "$root" && "$GO" test -run '^$' -bench ProxyForward -benchmem -benchtime "$ALLOC_BENCHTIME" ./proxy/) >"$work/allocs.txt" 2>&1 ||
	{ cat "$work/allocs.txt" >&2; die "the ProxyForward benchmark failed"; }
allocs_of() { # allocs/op of the sub-benchmark named $1
	awk -v n="$1" '$1 ~ "^BenchmarkProxyForward/" n "(-[0-9]+)?$" { for (i = 2; i <= NF; i++) if ($i == "allocs/op") print $(i-1) }' "$work/allocs.txt"
}
alloc_direct=$(allocs_of direct)
added_allocs() {
	local a
	a=$(allocs_of "$1")
	[[ -n $a && -n $alloc_direct ]] && echo $((a - alloc_direct)) || echo "n/a"
}

# --- servers ---------------------------------------------------------------------------------

port=($("$bin/freeport" -n 9))
((${#port[@]} == 9)) || die "freeport gave ${#port[@]} ports"
backend_port=${port[0]} xds_port=${port[1]} admin_port=${port[2]} sb_port=${port[3]}
nginx_port=${port[4]} haproxy_port=${port[5]} rp_port=${port[6]} sb_admin_port=${port[7]} same_port=${port[8]}

start() { # start NAME CMD...: run in the background, log to $work/NAME.log, remember the pid
	local name=$1
	shift
	"$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
	eval "pid_$name=$!"
}

start backend "${SUT[@]}" env GOMAXPROCS=1 "$bin/backend" -addr "127.0.0.1:$backend_port"
wait_http "http://127.0.0.1:$backend_port/" || die "the backend did not come up: $(cat "$work/backend.log")"

# signalbox: a one-service policy tree whose ServiceEntry endpoint is the backend, compiled to a
# snapshot file the publisher serves; the sidecar's listener is rebound to a free port.
write_policies "$work/policies" "$HOST" "$backend_port"
"$bin/signalbox" compile "$work/policies" -o "$work/snapshot" >/dev/null
# The publisher is idle once the proxy has its snapshot; it shares the load generator's core.
start serve "${LOAD[@]}" "$bin/signalbox" serve --snapshot "$work/snapshot" \
	--xds-addr "127.0.0.1:$xds_port" --admin-addr "127.0.0.1:$admin_port"
start signalbox "${SUT[@]}" env GOMAXPROCS=1 "$bin/signalbox" proxy --xds "127.0.0.1:$xds_port" \
	--node-id bench --bind "*=127.0.0.1:$sb_port" --admin-addr "127.0.0.1:$sb_admin_port"

write_nginx_conf "$work/nginx" "$backend_port" "$nginx_port"
start nginx "${SUT[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
# nginx-same: nginx sending upstream what Envoy's connection manager adds, and signalbox with
# it (X-Forwarded-Proto, a random X-Request-Id), which the backend on the same core parses.
write_nginx_conf "$work/nginx-same" "$backend_port" "$same_port" \
	'proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Request-Id $request_id;'
start nginx_same "${SUT[@]}" nginx -p "$work/nginx-same" -c "$work/nginx-same/nginx.conf"

have_haproxy=0
if command -v haproxy >/dev/null; then
	have_haproxy=1
	cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    http-reuse always
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend bench
    bind 127.0.0.1:$haproxy_port
    default_backend backend
backend backend
    server b1 127.0.0.1:$backend_port
EOF
	start haproxy "${SUT[@]}" haproxy -db -f "$work/haproxy.cfg"
fi

start reverseproxy "${SUT[@]}" env GOMAXPROCS=1 "$bin/reverseproxy" -addr "127.0.0.1:$rp_port" \
	-target "http://127.0.0.1:$backend_port"

configs=(direct nginx nginx-same)
((have_haproxy)) && configs+=(haproxy)
configs+=(signalbox reverseproxy)
declare -A url cpu_pid
url[direct]=http://127.0.0.1:$backend_port/
url[nginx]=http://127.0.0.1:$nginx_port/
url[nginx-same]=http://127.0.0.1:$same_port/
url[haproxy]=http://127.0.0.1:$haproxy_port/
url[signalbox]=http://127.0.0.1:$sb_port/
url[reverseproxy]=http://127.0.0.1:$rp_port/
for c in "${configs[@]}"; do
	wait_http "${url[$c]}" || die "$c did not answer 200 at ${url[$c]}: $(tail -5 "$work/$c.log" 2>/dev/null)"
done
# Whose CPU is charged: the proxy's own process (nginx: its one worker, not the master).
cpu_pid[direct]=$pid_backend
cpu_pid[nginx]=$(pgrep -P "$pid_nginx" | head -1)
cpu_pid[nginx-same]=$(pgrep -P "$pid_nginx_same" | head -1)
((have_haproxy)) && cpu_pid[haproxy]=$pid_haproxy
cpu_pid[signalbox]=$pid_signalbox
cpu_pid[reverseproxy]=$pid_reverseproxy
[[ -n ${cpu_pid[nginx]} && -n ${cpu_pid[nginx-same]} ]] || die "no nginx worker process"

# --- measure ---------------------------------------------------------------------------------

clk_tck=$(getconf CLK_TCK)

to_us() { # a wrk duration (812.00us, 1.20ms, 2.00s) in microseconds
	awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
		printf "%.1f", n }'
}

wrk_run() { # wrk_run URL SECONDS OUT
	"${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${2}s" --latency -H "Host: $HOST" "$1" >"$3" 2>&1
}

ol() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$work/ol.txt"; } # a field of openloop's line

raw=$work/raw.tsv
printf 'round\tconfig\trps\twrk_p50_us\twrk_p99_us\tcpu_us_per_req\twrk_errors\tol_p50_us\tol_p99_us\tol_errors\tload1\n' >"$raw"
for ((r = 1; r <= ROUNDS; r++)); do
	for c in "${configs[@]}"; do
		log "round $r/$ROUNDS: $c"
		wrk_run "${url[$c]}" "$WARMUP" "$work/warmup.txt"
		t0=$(cpu_ticks "${cpu_pid[$c]}")
		wrk_run "${url[$c]}" "$DURATION" "$work/wrk.txt"
		t1=$(cpu_ticks "${cpu_pid[$c]}")
		rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")
		reqs=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
		p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")")
		p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")")
		errs=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/[^0-9 ]/, " "); for (i = 1; i <= NF; i++) n += $i } END { print n + 0 }' "$work/wrk.txt")
		[[ -n $rps && -n $reqs ]] || die "wrk gave no result for $c: $(cat "$work/wrk.txt")"
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$reqs" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')

		"${LOAD[@]}" "$bin/openloop" -url "${url[$c]}" -host "$HOST" -rate "$RATE" -duration "${DURATION}s" >"$work/ol.txt" 2>&1 || true
		[[ -n $(ol p50_us) ]] || die "openloop gave no result for $c: $(cat "$work/ol.txt")"
		# load1: the machine's 1-minute load average, to tell a quiet run from a shared one.
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$rps" "$p50" "$p99" "$cpu" "$errs" \
			"$(ol p50_us)" "$(ol p99_us)" "$(ol errors)" "$(cut -d' ' -f1 /proc/loadavg)" >>"$raw"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- summarise -------------------------------------------------------------------------------

col() { awk -F'\t' -v c="$1" -v k="$2" 'NR > 1 && $2 == c { print $k }' "$raw"; }
paired() { # paired CONFIG COLUMN: that round's value minus direct's, one a line
	awk -F'\t' -v c="$1" -v k="$2" 'NR > 1 && $2 == "direct" { d[$1] = $k } NR > 1 && $2 == c { print $k - d[$1] }' "$raw"
}
ratio() { # ratio CONFIG [BASE]: that round's req/s over BASE's (nginx), one a line (load drifts between rounds)
	awk -F'\t' -v c="$1" -v b="${2:-nginx}" 'FNR == NR { if ($2 == b) n[$1] = $3; next } FNR > 1 && $2 == c { print $3 / n[$1] }' "$raw" "$raw"
}
med() { "$@" | median; }
sum() { "$@" | awk '{ n += $1 } END { print n + 0 }'; }
fmt_k() { awk -v v="$1" 'BEGIN { printf "%.1fk", v / 1000 }'; }
fmt_1() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }

table=$work/table.md
{
	echo "| configuration | req/s | × nginx | wrk p50 / p99 (µs) | open-loop p50 / p99 (µs) | added p50 | added p99 | CPU per request | allocs per request | errors |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for c in "${configs[@]}"; do
		rps=$(med col "$c" 3)
		x_nginx=$(awk -v r="$(med ratio "$c")" 'BEGIN { printf "%.2f×", r }')
		if [[ $c == direct ]]; then
			added_p50=— added_p99=— cpu="— (backend $(med col direct 6) µs)" allocs=—
		else
			added_p50="$(fmt_1 "$(med paired "$c" 8)") µs" added_p99="$(fmt_1 "$(med paired "$c" 9)") µs"
			cpu="$(med col "$c" 6) µs"
			case $c in
			signalbox) allocs=$(added_allocs proxy) ;;
			reverseproxy) allocs=$(added_allocs reverseproxy) ;;
			*) allocs="n/a (C)" ;;
			esac
		fi
		errors=$(($(sum col "$c" 7) + $(sum col "$c" 10)))
		echo "| $c | $(fmt_k "$rps") | $x_nginx | $(fmt_1 "$(med col "$c" 4)") / $(fmt_1 "$(med col "$c" 5)") | $(fmt_1 "$(med col "$c" 8)") / $(fmt_1 "$(med col "$c" 9)") | $added_p50 | $added_p99 | $cpu | $allocs | $errors |"
	done
} >"$table"

mkdir -p "$results"
{
	echo "# Proxy vs nginx (wrk, pinned cores)"
	echo
	echo "\`$([[ $QUICK == 1 ]] && printf 'QUICK=1 ')make bench-proxy\` at $rev, $(date -u '+%Y-%m-%d %H:%M UTC'): $ROUNDS round(s) of ${DURATION} s per configuration, medians."
	echo "$(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)); load average $load_before before, $load_after after."
	if [[ ${PROXY_HEADERS:-} == off ]]; then
		echo
		echo "PROXY_HEADERS=off: signalbox.yaml's proxyHeaders turn off the Server field, x-request-id, x-envoy-attempt-count and the x-envoy-* debug headers (Istio's meshConfig.defaultConfig.proxyHeaders), so signalbox forwards what nginx does plus X-Forwarded-Proto."
	fi
	echo
	cat "$table"
	echo
	echo "signalbox × nginx-same (nginx adding X-Forwarded-Proto and X-Request-Id upstream, as Envoy's connection manager and signalbox do): $(awk -v r="$(med ratio signalbox nginx-same)" 'BEGIN { printf "%.2f×", r }'), the median of each round's ratio."
	echo
	echo "req/s and wrk p50/p99: \`wrk -t1 -c$CONNS -d${DURATION}s --latency\` after a ${WARMUP} s warm-up. Open-loop: \`bench/openloop\` at $RATE req/s for ${DURATION} s, from each request's scheduled send time; added = minus direct in the same round, median over rounds; × nginx likewise the median of each round's ratio. CPU per request: utime+stime of the proxy process over the wrk run ÷ its requests. Allocations: \`go test -bench ProxyForward -benchmem ./proxy/\`, allocs/op minus direct's ($alloc_direct). errors: non-2xx and socket errors over all runs."
	echo
	echo "Raw figures, one line per round and configuration:"
	echo
	echo '```'
	column -t -s $'\t' "$raw" 2>/dev/null || cat "$raw"
	echo '```'
} >"$results/latest.md"
cp "$raw" "$results/latest.tsv"
cat "$results/latest.md"
