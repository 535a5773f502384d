package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
)

// A provider's remote_jwks: the JWKS fetched with a GET of http_uri.uri through the cluster
// http_uri.cluster (its balancer, connect_timeout and upstream TLS), within http_uri.timeout,
// and cached for cache_duration. As in Envoy without async_fetch, a token that needs the keys
// while none are cached (or the cached ones expired) waits for a fetch; requests arriving
// meanwhile wait for the same fetch instead of starting their own. A failed fetch fails the
// token with jwt_verify_lib's JwksFetchFail text, and the next fetch is tried by the next
// token that needs one, at most once per jwksRetryAfter.

// jwksDefaultCache is Envoy's cache_duration when unset: 10 minutes.
const jwksDefaultCache = 600 * time.Second

// jwksRetryAfter spaces fetches after a failure: a JWKS server that is down is not asked
// once per request, and it is asked again soon after it comes back.
const jwksRetryAfter = time.Second

// jwksMaxBody bounds what is read of a JWKS response; real key sets are a few kilobytes.
const jwksMaxBody = 1 << 20

type remoteJWKS struct {
	uri      *url.URL
	cluster  string
	timeout  time.Duration
	cacheFor time.Duration

	mu       sync.Mutex
	keys     []jwk     // the last fetched keys, nil before the first success
	expires  time.Time // when keys stop being used
	failedAt time.Time // the last failed fetch, for jwksRetryAfter
	inflight chan struct{}
}

// decodeRemoteJWKS accepts what Envoy's fetcher needs: http_uri {uri, cluster, timeout} and
// cache_duration; async_fetch and retry_policy NACK, since this proxy fetches on demand only
// and once per attempt.
func decodeRemoteJWKS(p fieldPath, m *jwtv3.RemoteJwks) (*remoteJWKS, error) {
	if err := onlyFields(p, m, "http_uri", "cache_duration"); err != nil {
		return nil, err
	}
	hp := p.field("http_uri")
	h := m.GetHttpUri()
	if h == nil {
		return nil, hp.errorf("required")
	}
	if err := onlyFields(hp, h, "uri", "cluster", "timeout"); err != nil {
		return nil, err
	}
	u, err := url.Parse(h.GetUri())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, hp.field("uri").errorf("%q is not an absolute http or https URI", h.GetUri())
	}
	if h.GetCluster() == "" {
		return nil, hp.field("cluster").errorf("required")
	}
	rj := &remoteJWKS{uri: u, cluster: h.GetCluster(), timeout: h.GetTimeout().AsDuration(), cacheFor: jwksDefaultCache}
	if rj.timeout <= 0 {
		return nil, hp.field("timeout").errorf("required: a positive duration")
	}
	if d := m.GetCacheDuration(); d != nil && d.AsDuration() > 0 {
		rj.cacheFor = d.AsDuration()
	}
	return rj, nil
}

// sameAs says the two fetch the same document the same way, so a config update can keep
// the old one's cache.
func (rj *remoteJWKS) sameAs(o *remoteJWKS) bool {
	return o != nil && rj.uri.String() == o.uri.String() && rj.cluster == o.cluster &&
		rj.timeout == o.timeout && rj.cacheFor == o.cacheFor
}

// adopt takes over o's cache (keys, expiry, failure time) when both fetch the same JWKS.
func (rj *remoteJWKS) adopt(o *remoteJWKS) {
	if !rj.sameAs(o) {
		return
	}
	o.mu.Lock()
	keys, exp, failed := o.keys, o.expires, o.failedAt
	o.mu.Unlock()
	rj.mu.Lock()
	rj.keys, rj.expires, rj.failedAt = keys, exp, failed
	rj.mu.Unlock()
}

// keysFor returns the provider's current keys, fetching them first when none are fresh;
// ok false means the fetch failed (now or within jwksRetryAfter).
func (rj *remoteJWKS) keysFor(ctx context.Context, reg *statsRegistry, provider string) ([]jwk, bool) {
	rj.mu.Lock()
	now := time.Now()
	if rj.keys != nil && now.Before(rj.expires) {
		keys := rj.keys
		rj.mu.Unlock()
		return keys, true
	}
	if ch := rj.inflight; ch != nil {
		rj.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		}
		return rj.fresh()
	}
	if !rj.failedAt.IsZero() && now.Sub(rj.failedAt) < jwksRetryAfter {
		rj.mu.Unlock()
		return nil, false
	}
	ch := make(chan struct{})
	rj.inflight = ch
	rj.mu.Unlock()

	// The fetch has its own deadline, not the request's: other requests wait on it.
	keys, err := rj.fetch(reg)
	reg.jwksFetch(provider, err == nil)
	rj.mu.Lock()
	if err == nil {
		rj.keys, rj.expires, rj.failedAt = keys, time.Now().Add(rj.cacheFor), time.Time{}
	} else {
		rj.failedAt = time.Now()
	}
	rj.inflight = nil
	rj.mu.Unlock()
	close(ch)
	return keys, err == nil
}

// fresh is the cached keys after a fetch another request ran.
func (rj *remoteJWKS) fresh() ([]jwk, bool) {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if rj.keys != nil && time.Now().Before(rj.expires) && rj.failedAt.IsZero() {
		return rj.keys, true
	}
	return nil, false
}

var errJWKSNoKeys = errors.New("the response has no usable key")

// fetch is one GET of the URI through one endpoint of the cluster: the Host header and the
// path are the URI's, as Envoy's JwksFetcher sends them; the scheme is the cluster's (TLS
// when it has an upstream transport socket).
func (rj *remoteJWKS) fetch(reg *statsRegistry) ([]jwk, error) {
	var c *cluster
	if m := reg.clusters.Load(); m != nil {
		c = (*m)[rj.cluster]
	}
	if c == nil {
		return nil, fmt.Errorf("unknown cluster %q", rj.cluster)
	}
	ep := c.pick()
	if ep == nil {
		return nil, errors.New("no healthy upstream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), rj.timeout)
	defer cancel()
	u := &url.URL{Scheme: "http", Host: ep.addr, Path: rj.uri.Path, RawPath: rj.uri.RawPath, RawQuery: rj.uri.RawQuery}
	var rt http.RoundTripper
	if c.pool != nil {
		rt = c.pool.http1
		if c.cfg.tls != nil {
			u.Scheme = "https"
		}
	} else {
		rt = rj.plainFor(c)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Host = rj.uri.Host
	req.Header["User-Agent"] = noUserAgent
	ep.active.Add(1)
	resp, err := rt.RoundTrip(req)
	ep.active.Add(-1)
	if err != nil {
		c.report(ep, http.StatusServiceUnavailable)
		return nil, err
	}
	defer resp.Body.Close()
	c.report(ep, resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBody))
	if err != nil {
		return nil, err
	}
	// Envoy's fetcher refuses a document with no valid key: the fetch failed.
	keys := parseJWKS(body)
	if len(keys) == 0 {
		return nil, errJWKSNoKeys
	}
	return keys, nil
}

// plainFor is a transport for a cluster without a pool of its own (no TLS or connection
// options), dialling with its connect_timeout. Fetches come minutes apart, so it keeps no
// idle connection rather than share the request path's pools.
func (rj *remoteJWKS) plainFor(c *cluster) http.RoundTripper {
	d := &net.Dialer{Timeout: c.cfg.connectTimeout}
	return &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, DisableCompression: true}
}

// keepJWKS carries the fetched keys of old's remote_jwks providers over to f's providers of
// the same name whose fetch is configured alike, so that a listener update does not make
// every token wait for a new fetch. Either filter may be nil.
func (f *jwtFilter) keepJWKS(old *jwtFilter) {
	if f == nil || old == nil {
		return
	}
	for _, jp := range f.providers {
		if jp.remote == nil {
			continue
		}
		for _, o := range old.providers {
			if o.name == jp.name {
				jp.remote.adopt(o.remote)
			}
		}
	}
}
