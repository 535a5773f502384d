# bench/lib.sh: what the proxy benchmark scripts set up alike, sourced by them. A script sets
# work (its scratch directory) and pids (the processes it starts) and calls stop_on_exit; the
# URLs it waits on answer to the Host header $HOST.

# stop_on_exit stops every process in pids and removes work when the script ends.
stop_on_exit() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}

# wait_http URL: until it answers 200 with the bench Host header, at most 10 s.
wait_http() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' -m 1 -H "Host: $HOST" "$1") == 200 ]] && return 0
		sleep 0.1
	done
	return 1
}

# cpu_ticks PID: the process's utime+stime, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# median: of the numbers on standard input, one a line ("nan" for none).
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# write_policies DIR HOST BACKEND_PORT writes the one-service policy tree every proxy benchmark
# compiles: a ServiceEntry for HOST whose endpoint is the backend, and the sidecar listener.
# With PROXY_HEADERS=off, signalbox.yaml also has Istio's proxyHeaders turn off the headers
# Envoy adds beyond nginx's (x-request-id, x-envoy-attempt-count, Server and x-envoy-* debug
# headers), so the proxies forward what nginx forwards plus X-Forwarded-Proto.
write_policies() {
	local dir=$1 host=$2 backend_port=$3
	mkdir -p "$dir"
	echo 'sidecarListener: 127.0.0.1:15001' >"$dir/signalbox.yaml"
	if [[ ${PROXY_HEADERS:-} == off ]]; then
		printf '%s\n' 'proxyHeaders:' '  server: {disabled: true}' '  requestId: {disabled: true}' \
			'  attemptCount: {disabled: true}' '  envoyDebugHeaders: {disabled: true}' >>"$dir/signalbox.yaml"
	fi
	cat >"$dir/backend.yaml" <<EOF
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: backend
spec:
  hosts: [$host]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {http: $backend_port}
EOF
}

# write_nginx_conf DIR BACKEND_PORT NGINX_PORT [DIRECTIVES] writes DIR/nginx.conf as DESIGN.md's
# anchors were measured: one worker, no access log, an upstream with keepalive 64 over HTTP/1.1;
# DIRECTIVES go into its location as they are.
write_nginx_conf() {
	local dir=$1 backend_port=$2 nginx_port=$3 extra=${4:-}
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    upstream backend {
        server 127.0.0.1:$backend_port;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            $extra
        }
    }
}
EOF
}

# install_tools LOG [haproxy]: installs wrk, nginx-light, taskset and curl from Debian's
# packages when missing (and HAProxy, best effort, when asked); apt's output goes to LOG.
# The packages start their system services on install where that is allowed; the scripts run
# their own instances with their own config files and leave the system ones alone.
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

install_tools() {
	local aptlog=$1 want_haproxy=${2:-}
	apt_install() {
		export DEBIAN_FRONTEND=noninteractive
		as_root apt-get install -y -qq "$@" >"$aptlog" 2>&1 ||
			{ as_root apt-get update -qq >>"$aptlog" 2>&1 && as_root apt-get install -y -qq "$@" >>"$aptlog" 2>&1; }
	}
	local missing=()
	command -v wrk >/dev/null || missing+=(wrk)
	command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
	command -v taskset >/dev/null || missing+=(util-linux)
	command -v curl >/dev/null || missing+=(curl)
	if ((${#missing[@]})); then
		echo "installing ${missing[*]}" >&2
		apt_install "${missing[@]}" || { echo "could not install ${missing[*]}; see $aptlog" >&2; return 1; }
	fi
	if [[ $want_haproxy == haproxy ]] && ! command -v haproxy >/dev/null && ! [[ -x /usr/sbin/haproxy ]]; then
		apt_install haproxy || echo "HAProxy is not installable here; measuring without it" >&2
	fi
	return 0
}
