package proxy

import (
	"context"
	"fmt"
	"slices"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// userAgent is what the proxy calls itself in Node.user_agent_name.
const userAgent = "signalbox-proxy"

// wildcardTypes are subscribed as a whole; the others by the names they reference.
var wildcardTypes = []string{resourcev3.ClusterType, resourcev3.ListenerType}

// adsStream is the state of one ADS stream. Nonces are per stream; versions are the proxy's.
type adsStream struct {
	p      *Proxy
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	node   *core.Node
	// nonce is the last response nonce per type: a request carrying an older one is stale
	// and servers ignore it.
	nonce map[string]string
	// names is the subscription last sent per type, to tell when it changes.
	names map[string][]string
	nacks map[string]*nackDamping
	// held are the NACKs nackDamping holds back, per type; delayed fires when one is due. A
	// newer response for the type drops it; any request for the type sent first carries it.
	held    map[string]*status.Status
	delayed chan heldNACK
	done    <-chan struct{}
}

type heldNACK struct {
	typeURL string
	detail  *status.Status
}

// nackDamping slows the answer to a server that re-sends a version the proxy just refused.
// go-control-plane's snapshot cache answers a NACK at once with the same snapshot, which
// otherwise loops thousands of times a second; a publisher should hold a NACKed version, and
// this keeps a proxy polite towards one that does not.
type nackDamping struct {
	version string
	repeats int
}

const (
	nackDampBase = 50 * time.Millisecond
	nackDampCap  = 2 * time.Second
)

func (d *nackDamping) delay(version string) time.Duration {
	if d.version != version {
		d.version, d.repeats = version, 0
		return 0
	}
	d.repeats++
	return min(nackDampBase<<min(d.repeats-1, 8), nackDampCap)
}

// maxXDSMessage bounds one xDS response the proxy accepts (a 10,000-service sidecar push is
// about 16 MB).
const maxXDSMessage = 256 << 20

// followStream runs one ADS stream until it fails or ctx is done. progressed reports
// whether the server answered at all, which resets the reconnect backoff.
func (p *Proxy) followStream(ctx context.Context) (progressed bool, err error) {
	// A fresh connection per attempt, so our backoff, not gRPC's (which grows to minutes),
	// decides when to try again.
	conn, err := grpc.NewClient(p.opts.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		// A big mesh's route table is one resource of many megabytes; gRPC's default 4 MiB
		// receive limit would fail the stream and leave the proxy on its old configuration.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxXDSMessage)))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return false, err
	}
	node, err := p.node()
	if err != nil {
		return false, err
	}
	s := &adsStream{
		p: p, stream: stream, node: node,
		nonce: map[string]string{}, names: map[string][]string{}, nacks: map[string]*nackDamping{},
		held: map[string]*status.Status{}, delayed: make(chan heldNACK), done: ctx.Done(),
	}
	if err := s.subscribe(); err != nil {
		return false, err
	}

	responses := make(chan *discoveryv3.DiscoveryResponse)
	recvErr := make(chan error, 1)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case responses <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case r := <-responses:
			if !progressed {
				progressed = true
				p.setConnected(true)
				p.log.Info("xDS stream up", "xds", p.opts.XDSAddr, "node", p.opts.NodeID)
			}
			if err := s.handle(r); err != nil {
				return progressed, err
			}
		case h := <-s.delayed:
			if s.held[h.typeURL] == h.detail { // still due: nothing answered that response yet
				if err := s.send(s.request(h.typeURL, nil)); err != nil {
					return progressed, err
				}
			}
		case <-p.warmExpired:
			p.relinkTables()
		case err := <-recvErr:
			return progressed, err
		case <-ctx.Done():
			return progressed, ctx.Err()
		}
	}
}

func (p *Proxy) node() (*core.Node, error) {
	labels := make(map[string]any, len(p.opts.Labels))
	for k, v := range p.opts.Labels {
		labels[k] = v
	}
	fields := map[string]any{"labels": labels}
	if p.opts.Namespace != "" {
		fields["NAMESPACE"] = p.opts.Namespace
	}
	md, err := structpb.NewStruct(fields)
	if err != nil {
		return nil, fmt.Errorf("node metadata: %w", err)
	}
	return &core.Node{Id: p.opts.NodeID, UserAgentName: userAgent, Metadata: md, Locality: p.opts.Locality.xds()}, nil
}

// subscribe opens (or, after a reconnect, resumes) every subscription. Each request carries
// the version last ACKed, so a server that has nothing newer need not send anything again.
func (s *adsStream) subscribe() error {
	for _, t := range wildcardTypes {
		if err := s.send(s.request(t, nil)); err != nil {
			return err
		}
	}
	if err := s.resubscribe(resourcev3.EndpointType); err != nil {
		return err
	}
	if err := s.subscribeScopes(); err != nil {
		return err
	}
	return s.resubscribe(resourcev3.RouteType)
}

// subscribeScopes opens the scopes subscription (a wildcard one, as Envoy's SRDS) once a
// listener takes its routes from scopes; a proxy whose listeners never do never asks, so a
// server that does not serve scopes is not left with a request it cannot answer.
func (s *adsStream) subscribeScopes() error {
	if _, sent := s.names[resourcev3.ScopedRouteType]; sent || !s.p.scoped() {
		return nil
	}
	return s.send(s.request(resourcev3.ScopedRouteType, nil))
}

// resubscribe sends a request for typeURL if its names changed. An empty first subscription
// is not sent at all: to a server with legacy wildcard semantics it would mean "everything".
func (s *adsStream) resubscribe(typeURL string) error {
	names := s.subscription(typeURL)
	prev, sent := s.names[typeURL]
	if (sent && slices.Equal(prev, names)) || (!sent && len(names) == 0) {
		return nil
	}
	return s.send(s.request(typeURL, nil))
}

// request builds the next request for typeURL from the current state: the version last ACKed,
// the last nonce, the subscription that follows from the accepted configuration. nack, or a
// NACK held back for this type, is sent as its error_detail.
func (s *adsStream) request(typeURL string, nack *status.Status) *discoveryv3.DiscoveryRequest {
	if held := s.held[typeURL]; held != nil && nack == nil {
		nack = held
	}
	delete(s.held, typeURL)
	return &discoveryv3.DiscoveryRequest{
		VersionInfo:   s.p.version(typeURL),
		ResourceNames: s.subscription(typeURL),
		TypeUrl:       typeURL,
		ResponseNonce: s.nonce[typeURL],
		ErrorDetail:   nack,
	}
}

// subscription is the resource names to request: none (wildcard) for clusters and listeners,
// the names those reference for endpoints and routes.
func (s *adsStream) subscription(typeURL string) []string {
	switch typeURL {
	case resourcev3.EndpointType:
		return s.p.edsNames()
	case resourcev3.RouteType:
		return s.p.rdsNames()
	}
	return nil
}

func (s *adsStream) send(req *discoveryv3.DiscoveryRequest) error {
	if s.node != nil { // the node goes in the first request of a stream only
		req.Node, s.node = s.node, nil
	}
	s.names[req.GetTypeUrl()] = req.GetResourceNames()
	return s.stream.Send(req)
}

// handle applies one response and answers it: an ACK with the new version, or a NACK with
// the version still in force and what was wrong. Subscriptions that follow from the applied
// configuration (EDS from clusters, RDS from listeners) are updated before the ACK, as Envoy
// does, so the server can send them together.
func (s *adsStream) handle(r *discoveryv3.DiscoveryResponse) error {
	t := r.GetTypeUrl()
	s.nonce[t] = r.GetNonce()
	delete(s.held, t) // a NACK still held answered an older response
	if err := s.p.apply(t, r.GetResources()); err != nil {
		msg := err.Error()
		s.p.recordNACK(t, r.GetVersionInfo(), r.GetNonce(), msg)
		d := s.nacks[t]
		if d == nil {
			d = &nackDamping{}
			s.nacks[t] = d
		}
		detail := &status.Status{Code: int32(codes.InvalidArgument), Message: msg}
		if delay := d.delay(r.GetVersionInfo()); delay > 0 {
			s.hold(t, detail, delay)
			return nil
		}
		return s.send(s.request(t, detail))
	}
	delete(s.nacks, t)
	switch t {
	case resourcev3.ClusterType:
		if err := s.resubscribe(resourcev3.EndpointType); err != nil {
			return err
		}
	case resourcev3.ListenerType:
		if err := s.subscribeScopes(); err != nil {
			return err
		}
		if err := s.resubscribe(resourcev3.RouteType); err != nil {
			return err
		}
	case resourcev3.ScopedRouteType:
		if err := s.resubscribe(resourcev3.RouteType); err != nil {
			return err
		}
	}
	s.p.recordACK(t, r.GetVersionInfo())
	return s.send(s.request(t, nil))
}

// hold sends a NACK after delay, unless something else answers first.
func (s *adsStream) hold(typeURL string, detail *status.Status, delay time.Duration) {
	s.held[typeURL] = detail
	h := heldNACK{typeURL: typeURL, detail: detail}
	time.AfterFunc(delay, func() {
		select {
		case s.delayed <- h:
		case <-s.done:
		}
	})
}

func (p *Proxy) version(typeURL string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.versions[typeURL]
}

func (p *Proxy) recordACK(typeURL, version string) {
	needEDS, needRDS, needSRDS := len(p.edsNames()) > 0, len(p.rdsNames()) > 0, p.scoped()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.versions[typeURL] = version
	p.acked[typeURL] = true
	// Ready once clusters and listeners are applied, and endpoints, scopes and routes unless
	// nothing references any.
	a := p.acked
	if !p.ready && a[resourcev3.ClusterType] && a[resourcev3.ListenerType] &&
		(a[resourcev3.EndpointType] || !needEDS) && (a[resourcev3.RouteType] || !needRDS) &&
		(a[resourcev3.ScopedRouteType] || !needSRDS) {
		p.ready = true
		p.log.Info("proxy ready", "versions", p.versions)
	}
	p.notifyLocked()
}

func (p *Proxy) recordNACK(typeURL, version, nonce, msg string) {
	p.log.Warn("rejected xDS update", "type", typeURL, "version", version, "err", msg)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastNACK = &NACKRecord{TypeURL: typeURL, Version: version, Nonce: nonce, Error: msg, Time: time.Now()}
	p.notifyLocked()
}
