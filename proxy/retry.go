package proxy

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
)

// retryOn is the set of Envoy retry conditions, one bit each.
type retryOn uint32

const (
	retry5xx retryOn = 1 << iota
	retryGatewayError
	retryReset
	retryConnectFailure
	retryRetriable4xx
	retryRefusedStream
	retryRetriableStatusCodes
	retryRetriableHeaders
	retryResetBeforeRequest
	retryGRPCCancelled
	retryGRPCDeadlineExceeded
	retryGRPCInternal
	retryGRPCResourceExhausted
	retryGRPCUnavailable
	retryEnvoyRateLimited
)

var retryConditions = map[string]retryOn{
	"5xx":                    retry5xx,
	"gateway-error":          retryGatewayError,
	"reset":                  retryReset,
	"reset-before-request":   retryResetBeforeRequest,
	"connect-failure":        retryConnectFailure,
	"retriable-4xx":          retryRetriable4xx,
	"refused-stream":         retryRefusedStream,
	"retriable-status-codes": retryRetriableStatusCodes,
	"retriable-headers":      retryRetriableHeaders,
	"envoy-ratelimited":      retryEnvoyRateLimited,
	"cancelled":              retryGRPCCancelled,
	"deadline-exceeded":      retryGRPCDeadlineExceeded,
	"internal":               retryGRPCInternal,
	"resource-exhausted":     retryGRPCResourceExhausted,
	"unavailable":            retryGRPCUnavailable,
}

const previousHostsName = "envoy.retry_host_predicates.previous_hosts"

// Envoy's retry back-off defaults.
const (
	defaultRetryBase = 25 * time.Millisecond
)

type retryPolicy struct {
	on              retryOn
	numRetries      int
	perTryTimeout   time.Duration
	statusCodes     []int
	headers         []headerMatcher
	previousHosts   bool
	hostSelectTries int
	base, max       time.Duration
}

func decodeRetryPolicy(p fieldPath, m *routev3.RetryPolicy) (*retryPolicy, error) {
	if err := onlyFields(p, m, "retry_on", "num_retries", "per_try_timeout", "retry_host_predicate",
		"host_selection_retry_max_attempts", "retriable_status_codes", "retry_back_off", "retriable_headers"); err != nil {
		return nil, err
	}
	rp := &retryPolicy{numRetries: 1, base: defaultRetryBase, hostSelectTries: 1}
	for tok := range strings.SplitSeq(m.GetRetryOn(), ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		bit, ok := retryConditions[tok]
		if !ok {
			return nil, p.field("retry_on").errorf("retry condition %q is not supported", tok)
		}
		rp.on |= bit
	}
	if n := m.GetNumRetries(); n != nil {
		rp.numRetries = int(n.GetValue())
	}
	if t := m.GetPerTryTimeout(); t != nil {
		rp.perTryTimeout = t.AsDuration()
	}
	for _, c := range m.GetRetriableStatusCodes() {
		rp.statusCodes = append(rp.statusCodes, int(c))
	}
	for i, h := range m.GetRetriableHeaders() {
		hm, err := decodeHeaderMatcher(p.field("retriable_headers").index(i), h)
		if err != nil {
			return nil, err
		}
		rp.headers = append(rp.headers, hm)
	}
	for i, pr := range m.GetRetryHostPredicate() {
		pp := p.field("retry_host_predicate").index(i)
		if err := onlyFields(pp, pr, "name", "typed_config"); err != nil {
			return nil, err
		}
		if tc := pr.GetTypedConfig(); tc != nil {
			var ph previoushostsv3.PreviousHostsPredicate
			if tc.GetTypeUrl() != typeURLOf(&ph) {
				return nil, pp.field("typed_config").errorf("type %q is not supported: only %s is", tc.GetTypeUrl(), previousHostsName)
			}
		} else if pr.GetName() != previousHostsName {
			return nil, pp.field("name").errorf("%q is not supported: only %s is", pr.GetName(), previousHostsName)
		}
		rp.previousHosts = true
	}
	if n := m.GetHostSelectionRetryMaxAttempts(); n > 0 {
		rp.hostSelectTries = int(n)
	}
	if bo := m.GetRetryBackOff(); bo != nil {
		bp := p.field("retry_back_off")
		if err := onlyFields(bp, bo, "base_interval", "max_interval"); err != nil {
			return nil, err
		}
		rp.base = bo.GetBaseInterval().AsDuration()
		if rp.base <= 0 {
			return nil, bp.field("base_interval").errorf("must be positive")
		}
		if mi := bo.GetMaxInterval(); mi != nil {
			rp.max = mi.AsDuration()
			if rp.max < rp.base {
				return nil, bp.field("max_interval").errorf("must not be less than base_interval")
			}
		}
	}
	if rp.max == 0 {
		rp.max = 10 * rp.base // Envoy's default cap
	}
	return rp, nil
}

// backoff is Envoy's fully jittered exponential back-off before retry number n (1-based):
// uniform in [0, base·2^(n-1)), capped at max.
func (rp *retryPolicy) backoff(n int) time.Duration {
	ceil := rp.base << min(n-1, 20)
	if ceil > rp.max || ceil <= 0 {
		ceil = rp.max
	}
	return time.Duration(rand.Int64N(int64(ceil)) + 1)
}

// failureKind is how an attempt failed without a response.
type failureKind uint8

const (
	failConnect failureKind = iota + 1 // never reached the upstream
	failReset                          // the connection broke after it was made
	failTimeout                        // per-try timeout
)

// retriableFailure reports whether a failed attempt (no response) may be retried.
func (rp *retryPolicy) retriableFailure(k failureKind) bool {
	switch k {
	case failConnect:
		return rp.on&(retry5xx|retryGatewayError|retryReset|retryConnectFailure|retryResetBeforeRequest) != 0
	case failReset:
		return rp.on&(retry5xx|retryGatewayError|retryReset) != 0
	case failTimeout:
		// Envoy's "reset" covers an upstream that does not answer in time, as 5xx does.
		return rp.on&(retry5xx|retryGatewayError|retryReset) != 0
	}
	return false
}

// retriableResponse reports whether a response may be retried.
func (rp *retryPolicy) retriableResponse(resp *http.Response) bool {
	code := resp.StatusCode
	switch {
	case rp.on&retry5xx != 0 && code >= 500:
		return true
	case rp.on&retryGatewayError != 0 && code >= 502 && code <= 504:
		return true
	case rp.on&retryRetriable4xx != 0 && code == http.StatusConflict:
		return true
	case rp.on&retryEnvoyRateLimited != 0 && resp.Header.Get("X-Envoy-Ratelimited") != "":
		return true
	}
	if rp.on&retryRetriableStatusCodes != 0 {
		for _, c := range rp.statusCodes {
			if c == code {
				return true
			}
		}
	}
	if rp.on&retryRetriableHeaders != 0 && len(rp.headers) > 0 {
		fake := http.Request{Header: resp.Header}
		for i := range rp.headers {
			if rp.headers[i].match(&fake) {
				return true
			}
		}
	}
	if rp.on&(retryGRPCCancelled|retryGRPCDeadlineExceeded|retryGRPCInternal|retryGRPCResourceExhausted|retryGRPCUnavailable) != 0 {
		// gRPC status in the headers: a trailers-only response.
		switch resp.Header.Get("Grpc-Status") {
		case "1":
			return rp.on&retryGRPCCancelled != 0
		case "4":
			return rp.on&retryGRPCDeadlineExceeded != 0
		case "13":
			return rp.on&retryGRPCInternal != 0
		case "8":
			return rp.on&retryGRPCResourceExhausted != 0
		case "14":
			return rp.on&retryGRPCUnavailable != 0
		}
	}
	return false
}
