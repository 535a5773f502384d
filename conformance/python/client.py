"""A proxyless gRPC C-core client (Debian's python3-grpcio): it dials the xDS targets the harness
prints (echo for the routing checks, nearby and weighted for the locality checks) and reports,
one line per feature, whether the client honoured what the publisher sent.
Messages are empty bytes and the backend names itself in the "x-backend" response header, so no
generated code is needed. GRPC_XDS_BOOTSTRAP names the bootstrap file."""
import sys
import time

import grpc

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def main(echo, nearby, weighted):
    channels = {service: grpc.insecure_channel(target)
                for service, target in (("echo", echo), ("nearby", nearby), ("weighted", weighted))}
    methods = {service: ch.unary_unary("/signalbox.Echo/Call") for service, ch in channels.items()}
    name = "grpcio " + grpc.__version__

    def call(headers, service="echo"):
        try:
            _, c = methods[service].with_call(b"", metadata=list(headers.items()), timeout=5)
            backend = dict(c.initial_metadata()).get("x-backend", "")
            return grpc.StatusCode.OK, backend
        except grpc.RpcError as e:
            return e.code(), ""

    def ready(service="echo"):
        for _ in range(50):  # the first calls to a service wait for its xDS resources to arrive
            if call({}, service)[0] == grpc.StatusCode.OK:
                break
            time.sleep(0.2)

    def tally(n, service="echo"):
        """n calls, counted by the backend that answered or the status that failed them."""
        counts = {}
        for _ in range(n):
            code, backend = call({}, service)
            key = backend if code == grpc.StatusCode.OK else "error " + code.name
            counts[key] = counts.get(key, 0) + 1
        return counts

    results = []

    def report(feature, ok, detail):
        results.append(ok)
        print(f"{name}: {feature}: {'ok' if ok else 'FAIL'} ({detail})", flush=True)

    ready()
    counts = tally(200)
    share = counts.get("v1", 0) / 200
    report("weighted split 75/25", 0.6 <= share <= 0.9 and counts.get("v1", 0) + counts.get("v2", 0) == 200, counts)

    pinned = sum(call({"x-version": "v2"})[1] == "v2" for _ in range(20))
    report("header match", pinned == 20, f"{pinned}/20 on v2")

    aborted = sum(call({"x-fault": "abort"})[0] == RESOURCE_EXHAUSTED for _ in range(10))
    report("fault abort", aborted == 10, f"{aborted}/10 RESOURCE_EXHAUSTED")

    start = time.monotonic()
    code, _ = call({"x-timeout": "yes"})
    took = time.monotonic() - start
    # The route allows 100 ms; the backend would take 2 s.
    report("route timeout", code == grpc.StatusCode.DEADLINE_EXCEEDED and 0.09 <= took < 1, f"{code.name} after {took * 1000:.1f} ms")

    retried = sum(call({"x-retry": "yes"})[0] == grpc.StatusCode.OK for _ in range(20))
    failed = sum(call({"x-retry": "no"})[0] == UNAVAILABLE for _ in range(20))
    report("retry", retried == 20 and failed >= 5, f"{retried}/20 ok with retries, {failed}/20 failed without")

    # The client is in us-west/zone-a; nearby and weighted have an endpoint there (west) and one
    # in us-east/zone-a (east). With outlier detection, west is its priority 0.
    ready("nearby")
    near = tally(40, "nearby")
    report("locality failover", near.get("west", 0) == 40, near)

    # distribute from us-west/*: us-west 80, us-east 20.
    ready("weighted")
    spread = tally(400, "weighted")
    west = spread.get("west", 0) / 400
    report("locality distribute", 0.7 <= west <= 0.9 and spread.get("west", 0) + spread.get("east", 0) == 400, spread)
    for ch in channels.values():
        ch.close()
    return all(results)


if __name__ == "__main__":
    sys.exit(0 if main(*sys.argv[1:4]) else 1)
