package proxy

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport is an upstream connection pool shared by every listener and cluster of one
// upstream protocol. Pooled keep-alive connections are most of a proxy's throughput, so idle
// limits are generous. h2c selects prior-knowledge HTTP/2 over plain TCP instead of HTTP/1.1.
func newTransport(timeouts *atomic.Pointer[map[string]time.Duration], h2c bool) *http.Transport {
	d := &dialer{timeouts: timeouts}
	var protocols http.Protocols
	protocols.SetHTTP1(!h2c)
	protocols.SetUnencryptedHTTP2(h2c)
	return &http.Transport{
		Protocols:             &protocols,
		Proxy:                 nil, // never send mesh traffic to an environment proxy
		DialContext:           d.dial,
		MaxIdleConns:          0, // no global cap; the per-host cap is what matters
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// A proxy forwards bytes as they are: no Accept-Encoding added, nothing decompressed.
		DisableCompression: true,
	}
}

// dialer applies each cluster's connect_timeout with one shared Transport: the timeout is
// looked up by endpoint address at dial time, which is off the hot path (connections pool).
type dialer struct {
	timeouts *atomic.Pointer[map[string]time.Duration]
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := defaultConnectTimeout
	if m := d.timeouts.Load(); m != nil {
		if t, ok := (*m)[addr]; ok {
			timeout = t
		}
	}
	nd := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return nd.DialContext(ctx, network, addr)
}

// copyBufSize matches io.Copy's buffer; buffers are pooled because a fresh 32 KiB buffer per
// request was a measured share of a plain Go proxy's cost.
const copyBufSize = 32 << 10

var copyBufPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufSize)
	return &b
}}
