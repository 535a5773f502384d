package xds

import (
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspector "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
)

// tlsInspector is Envoy's listener filter reading the server name (SNI) of each connection's
// ClientHello before a filter chain is chosen: every listener whose chains match server names
// needs it, or no name would ever match.
func tlsInspector() (*listener.ListenerFilter, error) {
	cfg, err := pack(&tlsinspector.TlsInspector{})
	if err != nil {
		return nil, err
	}
	return &listener.ListenerFilter{
		Name:       wellknown.TlsInspector,
		ConfigType: &listener.ListenerFilter_TypedConfig{TypedConfig: cfg},
	}, nil
}

// MergeChains adds the filter chains of src (a listener of the same name: another certificate
// on the same port) to dst, which then chooses among them by SNI.
func MergeChains(dst, src *listener.Listener) error {
	dst.FilterChains = append(dst.FilterChains, src.FilterChains...)
	if len(dst.ListenerFilters) == 0 {
		f, err := tlsInspector()
		if err != nil {
			return err
		}
		dst.ListenerFilters = []*listener.ListenerFilter{f}
	}
	return nil
}

// matchServerNames makes fc the chain for names (nil: the chain for any other name).
func matchServerNames(fc *listener.FilterChain, names []string) {
	if len(names) > 0 {
		fc.FilterChainMatch = &listener.FilterChainMatch{ServerNames: names}
	}
}
