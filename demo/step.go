package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/signalbox/signalbox/proxy"
	"github.com/signalbox/signalbox/publisher"
)

// SidecarListener is the xDS name of the default tree's outbound listener.
const SidecarListener = "127.0.0.1_15001"

// IngressListener is the xDS name of the default tree's ingress gateway listener.
const IngressListener = "0.0.0.0_8080"

// awaitListener waits until the proxy has bound the named listener and returns its address.
func awaitListener(ctx context.Context, px *proxy.Proxy, name string) (string, error) {
	for {
		if addr := px.ListenerAddr(name); addr != "" {
			return addr, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("proxy never opened listener %s", name)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type step struct {
	ctx    context.Context
	out    io.Writer
	pub    *publisher.Publisher
	px     *proxy.Proxy
	client *http.Client
}

func (s *step) listener() string { return s.px.ListenerAddr(SidecarListener) }

// await fetches now and waits until the publisher serves commit and the proxy has applied it.
func (s *step) await(commit string) (string, error) {
	if err := s.pub.Sync(s.ctx); err != nil {
		return "", err
	}
	version, err := AwaitSync(s.ctx, s.pub, commit, "")
	if err != nil {
		return "", err
	}
	if _, err := awaitListener(s.ctx, s.px, SidecarListener); err != nil {
		return "", err
	}
	return version, nil
}

func (s *step) report(commit, version, what string, headers map[string]string) {
	split := Send(s.ctx, s.client, s.listener(), "reviews:9080", "/reviews/0", Requests, headers)
	fmt.Fprintf(s.out, "commit %s  version %s  %d requests to %s\n  %s\n\n", commit[:7], version, Requests, what, split)
}

// AwaitSync waits until the publisher serves commit and every connected proxy has ACKed its
// version; nodeID, when set, must be among them. It returns the version.
func AwaitSync(ctx context.Context, pub *publisher.Publisher, commit, nodeID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		st := pub.Status()
		if st.Commit == commit && allInSync(st, nodeID) {
			return st.Version, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("commit %s not in sync on every proxy: %+v", commit, st)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func allInSync(st publisher.Status, nodeID string) bool {
	found := nodeID == ""
	n := 0
	for _, p := range st.Proxies {
		if !p.Connected {
			continue
		}
		n++
		if !p.InSync {
			return false
		}
		if p.NodeID == nodeID {
			found = true
		}
	}
	return found && n > 0
}

func lastErrorMessage(st publisher.Status) string {
	if st.LastError == nil {
		return "(none)"
	}
	return st.LastError.Message
}
