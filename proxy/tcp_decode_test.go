package proxy

import (
	"strings"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestDecodeTCPProxy accepts the shapes Istio emits for a TCP route, with Envoy's defaults.
func TestDecodeTCPProxy(t *testing.T) {
	idle0 := toTCPCluster("a")
	idle0.IdleTimeout = durationpb.New(0)
	tuned := toTCPWeighted("a", 3, "b", 1)
	tuned.IdleTimeout = durationpb.New(90 * time.Second)
	tuned.MaxConnectAttempts = wrapperspb.UInt32(3)
	for _, tc := range []struct {
		name     string
		tp       *tcpv3.TcpProxy
		idle     time.Duration
		attempts int
		clusters []string
		sum      uint64
	}{
		{"cluster", toTCPCluster("a"), time.Hour, 1, []string{"a"}, 1},
		{"idle 0 disables", idle0, 0, 1, []string{"a"}, 1},
		{"weighted", tuned, 90 * time.Second, 3, []string{"a", "b"}, 4},
	} {
		cfg, err := decodeListener(tcpProxyListener("tcp", 9000, tc.tp))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := cfg.tcp.chains[0].proxy
		if got == nil || cfg.routeName != "" || got.idle != tc.idle || got.maxAttempts != tc.attempts ||
			strings.Join(got.clusters(), ",") != strings.Join(tc.clusters, ",") || got.weightSum != tc.sum {
			t.Errorf("%s: decoded %+v", tc.name, got)
		}
	}
}

// TestDecodeTCPProxyNACK: what the proxy cannot honour is refused with the field's path.
func TestDecodeTCPProxyNACK(t *testing.T) {
	const tp = "filter_chains[0].filters[0].typed_config"
	with := func(edit func(*tcpv3.TcpProxy)) *listenerv3.Listener {
		m := toTCPCluster("a")
		edit(m)
		return tcpProxyListener("tcp", 9000, m)
	}
	twoFilters := tcpProxyListener("tcp", 9000, toTCPCluster("a"))
	twoFilters.FilterChains[0].Filters = append(twoFilters.FilterChains[0].Filters, twoFilters.FilterChains[0].Filters[0])
	twoChains := tcpProxyListener("tcp", 9000, toTCPCluster("a"))
	twoChains.FilterChains = append(twoChains.FilterChains, twoChains.FilterChains[0])
	matched := tcpProxyListener("tcp", 9000, toTCPCluster("a"))
	matched.FilterChains[0].FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: []string{"a.example"}}
	subset := toTCPWeighted("a", 1, "b", 1)
	subset.GetWeightedClusters().Clusters[1].MetadataMatch = &core.Metadata{}
	for _, tc := range []struct {
		name string
		l    *listenerv3.Listener
		want string
	}{
		{"tunneling", with(func(m *tcpv3.TcpProxy) {
			m.TunnelingConfig = &tcpv3.TcpProxy_TunnelingConfig{Hostname: "h:443"}
		}), tp + ".tunneling_config: field not supported"},
		{"access log", with(func(m *tcpv3.TcpProxy) {
			m.AccessLog = []*accesslogv3.AccessLog{{Name: "envoy.access_loggers.stdout"}}
		}), tp + ".access_log: field not supported"},
		{"hash policy", with(func(m *tcpv3.TcpProxy) {
			m.HashPolicy = []*typev3.HashPolicy{{PolicySpecifier: &typev3.HashPolicy_SourceIp_{SourceIp: &typev3.HashPolicy_SourceIp{}}}}
		}), tp + ".hash_policy: field not supported"},
		{"on demand", with(func(m *tcpv3.TcpProxy) { m.OnDemand = &tcpv3.TcpProxy_OnDemand{} }), tp + ".on_demand: field not supported"},
		{"metadata match", with(func(m *tcpv3.TcpProxy) { m.MetadataMatch = &core.Metadata{} }), tp + ".metadata_match: field not supported"},
		{"upstream idle", with(func(m *tcpv3.TcpProxy) { m.UpstreamIdleTimeout = durationpb.New(time.Second) }),
			tp + ".upstream_idle_timeout: field not supported"},
		{"downstream idle", with(func(m *tcpv3.TcpProxy) { m.DownstreamIdleTimeout = durationpb.New(time.Second) }),
			tp + ".downstream_idle_timeout: field not supported"},
		{"max duration", with(func(m *tcpv3.TcpProxy) { m.MaxDownstreamConnectionDuration = durationpb.New(time.Second) }),
			tp + ".max_downstream_connection_duration: field not supported"},
		{"weighted metadata match", tcpProxyListener("tcp", 9000, subset),
			tp + ".weighted_clusters.clusters[1].metadata_match: field not supported"},
		{"no cluster", with(func(m *tcpv3.TcpProxy) { m.ClusterSpecifier = nil }), "ClusterSpecifier: value is required"},
		{"no stat prefix", with(func(m *tcpv3.TcpProxy) { m.StatPrefix = "" }), "StatPrefix"},
		{"zero attempts", with(func(m *tcpv3.TcpProxy) { m.MaxConnectAttempts = wrapperspb.UInt32(0) }), "MaxConnectAttempts"},
		{"two filters", twoFilters, "filter_chains[0].filters[0]: unsupported network filter"},
		{"two chains", twoChains, "filter_chains[1].filter_chain_match: multiple filter chains with the same matching rules"},
		{"server names without tls_inspector", matched, "filter_chains[0].filter_chain_match.server_names: needs the envoy.filters.listener.tls_inspector listener filter"},
	} {
		_, err := decodeListener(tc.l)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
