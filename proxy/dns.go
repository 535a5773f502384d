package proxy

import (
	"context"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"log/slog"
	"net"
	"slices"
	"time"
)

// resolveStatic turns a STRICT_DNS cluster's host names into every address they resolve to,
// keeping each endpoint's weight and locality, at every priority level (a localised cluster's
// other localities are its failover); IP literals pass through. A name that fails to resolve
// contributes nothing this round.
func resolveStatic(ctx context.Context, cfg *endpointsConfig, family clusterv3.Cluster_DnsLookupFamily) *endpointsConfig {
	out := &endpointsConfig{name: cfg.name, count: cfg.count, eps: resolveLevel(ctx, cfg.eps, family)}
	for _, level := range cfg.lower {
		out.lower = append(out.lower, resolveLevel(ctx, level, family))
	}
	return out
}

func resolveLevel(ctx context.Context, eps []endpointConfig, family clusterv3.Cluster_DnsLookupFamily) []endpointConfig {
	var out []endpointConfig
	for _, e := range eps {
		host, port, err := net.SplitHostPort(e.addr)
		if err != nil {
			continue
		}
		if net.ParseIP(host) != nil {
			out = append(out, e)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupHost(rctx, host)
		cancel()
		if err != nil {
			continue
		}
		ips = byFamily(ips, family)
		slices.Sort(ips)
		for _, ip := range ips {
			r := e
			r.addr = net.JoinHostPort(ip, port)
			out = append(out, r)
		}
	}
	return out
}

// followDNS re-resolves a STRICT_DNS cluster every dns_refresh_rate until the cluster is
// dropped, swapping its endpoint set when the addresses change.
func (c *cluster) followDNS(log *slog.Logger, onChange func()) {
	var last *endpointsConfig
	refresh := func() {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-c.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		res := resolveStatic(ctx, c.cfg.static, c.cfg.dnsFamily)
		cancel()
		if last != nil && sameResolution(res, last) {
			return
		}
		last = res
		c.setEndpoints(res)
		log.Info("cluster resolved", "cluster", c.cfg.name, "endpoints", len(res.eps))
		if onChange != nil {
			onChange()
		}
	}
	refresh()
	go func() {
		t := time.NewTicker(c.cfg.dnsRefresh)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				refresh()
			}
		}
	}()
}

func sameResolution(a, b *endpointsConfig) bool {
	return slices.Equal(a.eps, b.eps) && slices.EqualFunc(a.lower, b.lower, slices.Equal)
}

// byFamily keeps the addresses Envoy's dns_lookup_family would: AUTO prefers IPv6 and falls
// back to IPv4, V4_PREFERRED the reverse, ALL keeps both.
func byFamily(ips []string, family clusterv3.Cluster_DnsLookupFamily) []string {
	var v4, v6 []string
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil && ip.To4() != nil {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	switch family {
	case clusterv3.Cluster_V4_ONLY:
		return v4
	case clusterv3.Cluster_V6_ONLY:
		return v6
	case clusterv3.Cluster_V4_PREFERRED:
		if len(v4) > 0 {
			return v4
		}
		return v6
	case clusterv3.Cluster_ALL:
		return ips
	}
	if len(v6) > 0 {
		return v6
	}
	return v4
}
