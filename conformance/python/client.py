"""A proxyless gRPC C-core client (Debian's python3-grpcio): it dials the xDS target the harness
prints and reports, one line per feature, whether the client honoured what the publisher sent.
Messages are empty bytes and the backend names itself in the "x-backend" response header, so no
generated code is needed. GRPC_XDS_BOOTSTRAP names the bootstrap file."""
import sys
import time

import grpc

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def main(target):
    channel = grpc.insecure_channel(target)
    method = channel.unary_unary("/signalbox.Echo/Call")
    name = "grpcio " + grpc.__version__

    def call(headers):
        try:
            _, c = method.with_call(b"", metadata=list(headers.items()), timeout=5)
            backend = dict(c.initial_metadata()).get("x-backend", "")
            return grpc.StatusCode.OK, backend
        except grpc.RpcError as e:
            return e.code(), ""

    results = []

    def report(feature, ok, detail):
        results.append(ok)
        print(f"{name}: {feature}: {'ok' if ok else 'FAIL'} ({detail})", flush=True)

    for _ in range(50):  # the first calls wait for the xDS resources to arrive
        if call({})[0] == grpc.StatusCode.OK:
            break
        time.sleep(0.2)
    counts = {}
    for _ in range(200):
        code, backend = call({})
        key = backend if code == grpc.StatusCode.OK else "error " + code.name
        counts[key] = counts.get(key, 0) + 1
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
    channel.close()
    return all(results)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1]) else 1)
