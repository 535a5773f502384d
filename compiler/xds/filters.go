package xds

import (
	"strconv"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	faultcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	cors "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	fault "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	xdstype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// Envoy's HTTP filter names, the keys of per-route filter configuration.
const (
	faultFilterName = "envoy.filters.http.fault"
	corsFilterName  = "envoy.filters.http.cors"
)

// httpFault is Istio's fault translation: the filter in the listener is empty, each route says
// what to inject.
func httpFault(f *ir.Fault) *fault.HTTPFault {
	out := &fault.HTTPFault{}
	if f.Delay > 0 {
		out.Delay = &faultcommon.FaultDelay{
			FaultDelaySecifier: &faultcommon.FaultDelay_FixedDelay{FixedDelay: duration(f.Delay)},
			Percentage:         fractionalPercent(f.DelayPercent),
		}
	}
	switch {
	case f.AbortGRPC != nil:
		out.Abort = &fault.FaultAbort{ErrorType: &fault.FaultAbort_GrpcStatus{GrpcStatus: *f.AbortGRPC},
			Percentage: fractionalPercent(f.AbortPercent)}
	case f.AbortHTTP != 0:
		out.Abort = &fault.FaultAbort{ErrorType: &fault.FaultAbort_HttpStatus{HttpStatus: f.AbortHTTP},
			Percentage: fractionalPercent(f.AbortPercent)}
	}
	return out
}

// corsPolicy is Istio's CORS translation: the filter is enabled for every request of the route
// and preflights that match no origin go on to the upstream.
func corsPolicy(c *ir.CORS) *cors.CorsPolicy {
	out := &cors.CorsPolicy{
		AllowMethods:  strings.Join(c.AllowMethods, ","),
		AllowHeaders:  strings.Join(c.AllowHeaders, ","),
		ExposeHeaders: strings.Join(c.ExposeHeaders, ","),
		FilterEnabled: &core.RuntimeFractionalPercent{DefaultValue: &xdstype.FractionalPercent{
			Numerator: 100, Denominator: xdstype.FractionalPercent_HUNDRED}},
		ForwardNotMatchingPreflights: wrapperspb.Bool(!c.IgnoreUnmatchedPreflights),
	}
	for _, o := range c.AllowOrigins {
		out.AllowOriginStringMatch = append(out.AllowOriginStringMatch, stringMatcher(o))
	}
	if c.MaxAge > 0 {
		out.MaxAge = strconv.FormatInt(int64(timeDuration(c.MaxAge)/time.Second), 10)
	}
	if c.AllowCredentials != nil {
		out.AllowCredentials = wrapperspb.Bool(*c.AllowCredentials)
	}
	return out
}

func timeDuration(d ir.Duration) time.Duration { return time.Duration(d) }
