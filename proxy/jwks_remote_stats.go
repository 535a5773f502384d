package proxy

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
)

// jwksFetchKey names a remote_jwks fetch counter: the provider and "success" or "failure".
type jwksFetchKey struct{ provider, result string }

// jwksFetch counts one fetch of a provider's remote JWKS. Fetches come minutes apart, so a
// lock per fetch costs nothing the request path notices.
func (r *statsRegistry) jwksFetch(provider string, ok bool) {
	k := jwksFetchKey{provider, "failure"}
	if ok {
		k.result = "success"
	}
	r.mu.Lock()
	if r.jwksFetches == nil {
		r.jwksFetches = map[jwksFetchKey]*atomic.Uint64{}
	}
	c := r.jwksFetches[k]
	if c == nil {
		c = &atomic.Uint64{}
		r.jwksFetches[k] = c
	}
	r.mu.Unlock()
	c.Add(1)
}

func writeJWKSStats(w io.Writer, m map[jwksFetchKey]*atomic.Uint64) {
	const name = "signalbox_proxy_jwks_fetch_total"
	fmt.Fprintf(w, "# HELP %s Fetches of jwt_authn providers' remote JWKS, by provider and result.\n# TYPE %s counter\n", name, name)
	keys := slices.SortedFunc(maps.Keys(m), func(a, b jwksFetchKey) int {
		return strings.Compare(a.provider+"\x00"+a.result, b.provider+"\x00"+b.result)
	})
	for _, k := range keys {
		fmt.Fprintf(w, "%s{provider=%q,result=%q} %d\n", name, k.provider, k.result, m[k].Load())
	}
}
