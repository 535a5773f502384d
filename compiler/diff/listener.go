package diff

import (
	"strconv"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

type compilerListener = listener.Listener

// listenerAddress renders where a listener listens, or its name for API listeners.
func listenerAddress(l *listener.Listener) string {
	sa := l.GetAddress().GetSocketAddress()
	if sa == nil {
		return l.Name
	}
	return sa.GetAddress() + ":" + strconv.FormatUint(uint64(sa.GetPortValue()), 10)
}
