package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// defaultWarmTimeout bounds how long a new route configuration waits for the clusters it
// names before it is applied anyway (those routes then answer 503).
const defaultWarmTimeout = 10 * time.Second

// Options configure a Proxy.
type Options struct {
	// XDSAddr is the publisher's gRPC address, e.g. 127.0.0.1:18000 (plain text).
	XDSAddr string
	// NodeID identifies this instance to the publisher; one per running proxy.
	NodeID string
	// Labels are sent in Node.metadata as field "labels" (a Struct of strings); the publisher
	// picks the proxy's role (gateway or sidecar) from them.
	Labels map[string]string
	// Locality is where this proxy runs, sent as Node.locality so that the publisher can
	// prioritise and weigh each cluster's endpoints by their distance from it (Istio's
	// localityLbSetting). The zero value sends none.
	Locality Locality
	// Namespace is the namespace this proxy's workload runs in, sent in Node.metadata as
	// "NAMESPACE" (Istio's key): VirtualService match blocks with a sourceNamespace apply only
	// to proxies in that namespace. "" sends none.
	Namespace string
	// Rebind maps a listener address from xDS ("0.0.0.0:8080") to the one to bind. nil binds
	// as given; tests map everything to "127.0.0.1:0".
	Rebind func(addr string) string
	// BindFrom are the listener addresses Rebind maps by name (signalbox proxy's --bind FROM,
	// "*" aside): after each listener update, one that no listener has is logged as a warning,
	// since a mistyped FROM silently leaves that listener on its address from xDS.
	BindFrom []string
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
}

// Proxy follows an xDS server and routes HTTP with what it is sent.
type Proxy struct {
	opts Options
	log  *slog.Logger
	fwd  *forwarder

	running sync.Mutex // held by Run: one xDS stream per proxy

	// The accepted configuration, read and written only by the goroutine running Run.
	state configState
	// warming holds the route configurations waiting for their clusters, since when;
	// warmExpired fires when the oldest has waited warmTimeout.
	warming     map[string]time.Time
	warmTimeout time.Duration
	warmTimer   *time.Timer
	warmExpired chan struct{}

	// What other goroutines read (ListenerAddr, the admin handler, WaitVersion), written by
	// Run's goroutine under mu. bound and clusters are replaced, never mutated, so that
	// goroutine reads them without the lock.
	mu        sync.Mutex
	bound     map[string]*boundListener // by listener name
	clusters  map[string]*cluster       // by cluster name
	versions  map[string]string         // type URL -> last ACKed version
	acked     map[string]bool           // type URL -> at least one ACK
	ready     bool
	connected bool
	lastNACK  *NACKRecord
	changed   chan struct{} // closed and replaced on every change, for WaitVersion
}

// NACKRecord is the last update the proxy refused, as reported in GET /config.
type NACKRecord struct {
	TypeURL string    `json:"type_url"`
	Version string    `json:"version"`
	Nonce   string    `json:"nonce"`
	Error   string    `json:"error"`
	Time    time.Time `json:"time"`
}

// New returns a proxy; it does nothing until Run.
func New(opts Options) *Proxy {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Proxy{
		opts:        opts,
		log:         log,
		fwd:         newForwarder(log),
		state:       newConfigState(),
		warmTimeout: defaultWarmTimeout,
		warmExpired: make(chan struct{}, 1),
		bound:       map[string]*boundListener{},
		clusters:    map[string]*cluster{},
		versions:    map[string]string{},
		acked:       map[string]bool{},
		changed:     make(chan struct{}),
	}
}

// Run follows the xDS server until ctx is done, reconnecting forever; the last applied
// configuration keeps serving while the server is away. It closes the listeners on return.
func (p *Proxy) Run(ctx context.Context) error {
	if p.opts.XDSAddr == "" {
		return errors.New("proxy: no xDS address")
	}
	if !p.running.TryLock() {
		return errors.New("proxy: already running")
	}
	defer p.running.Unlock()
	defer p.closeAll()

	var b backoff
	for {
		progressed, err := p.followStream(ctx)
		p.setConnected(false)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			b.reset()
		}
		delay := b.next()
		p.log.Warn("xDS stream ended; reconnecting", "xds", p.opts.XDSAddr, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
	wait:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-p.warmExpired:
				p.relinkTables()
			case <-t.C:
				break wait
			}
		}
	}
}

// closeAll drains every listener in parallel, bounded so Run returns promptly.
func (p *Proxy) closeAll() {
	// Forget the configuration with the sockets: a later Run starts from nothing rather than
	// telling a server it holds versions it no longer serves.
	p.state = newConfigState()
	p.warming = nil
	if p.warmTimer != nil {
		p.warmTimer.Stop()
	}
	p.mu.Lock()
	bound := p.bound
	clusters := p.clusters
	p.bound = map[string]*boundListener{}
	p.clusters = map[string]*cluster{}
	p.versions = map[string]string{}
	p.acked = map[string]bool{}
	p.ready = false
	p.notifyLocked()
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range bound {
		wg.Go(func() {
			b.drain(time.Second)
			<-b.state
		})
	}
	wg.Wait()
	for _, c := range clusters {
		c.close()
	}
	p.fwd.h1.CloseIdleConnections()
	p.fwd.h2c.CloseIdleConnections()
}

// ListenerAddr is the bound address of the listener with this xDS name, "" if none.
func (p *Proxy) ListenerAddr(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.bound[name]; ok {
		return b.addr
	}
	return ""
}

// Versions returns, per type URL, the version_info last ACKed.
func (p *Proxy) Versions() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.versions)
}

// WaitVersion blocks until version is the ACKed version of typeURL, or ctx is done.
func (p *Proxy) WaitVersion(ctx context.Context, typeURL, version string) error {
	for {
		p.mu.Lock()
		v, ch := p.versions[typeURL], p.changed
		p.mu.Unlock()
		if v == version {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s version %q (at %q): %w", typeURL, version, v, ctx.Err())
		}
	}
}

// Ready reports whether listeners, routes, clusters and endpoints have all been applied once.
func (p *Proxy) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) setConnected(c bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.connected != c {
		p.connected = c
		p.notifyLocked()
	}
}
