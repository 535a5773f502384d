package publisher

import (
	"context"
	"fmt"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

func newGRPCServer(ctx context.Context, p *Publisher) *grpc.Server {
	gs := grpc.NewServer(
		grpc.ForceServerCodecV2(newSharedCodec()),
		// Keepalives find proxies that vanished without closing their stream, so /status stops
		// counting them as connected.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, ads{
		done:  ctx.Done(),
		sotw:  &sotwServer{p: p},
		delta: &deltaServer{p: p},
	})
	return gs
}

// ads is the aggregated discovery service: state-of-the-world (sotw.go) and delta (delta.go)
// streams, every type on one stream.
type ads struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	done  <-chan struct{} // serving stops
	sotw  *sotwServer
	delta *deltaServer
}

func (a ads) StreamAggregatedResources(s discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	return a.sotw.serve(s, a.done)
}

func (a ads) DeltaAggregatedResources(s discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	return a.delta.serve(s, a.done)
}

// serveStream runs a stream: requests are handled in order, and push runs when the node's
// role changes, on this goroutine so a stream's state needs no lock. Requests are read on a
// goroutine of their own, since Recv blocks. It returns when the client ends the stream,
// serving stops, or handle or push fail.
func serveStream[Req any](ctx context.Context, done <-chan struct{}, recv func() (Req, error), handle func(Req) error,
	w *roleWatch, push func() error) error {
	reqs := make(chan Req)
	go func() {
		defer close(reqs)
		for {
			req, err := recv()
			if err != nil {
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return nil
		case <-w.wake:
			if err := push(); err != nil {
				return err
			}
		case req, ok := <-reqs:
			if !ok {
				return nil
			}
			if err := handle(req); err != nil {
				return err
			}
		}
	}
}

// callbacks tracks streams, nodes, ACKs and NACKs for the xDS streams, and applies the NACK
// hold. Its methods are go-control-plane's stream server callbacks, which the streams call at
// the same points that server did. It is a separate type so they are not part of the
// Publisher's API.
type callbacks struct{ p *Publisher }

func (c callbacks) OnStreamOpen(_ context.Context, id int64, _ string) error {
	c.p.openStream(id)
	return nil
}

func (c callbacks) OnStreamClosed(id int64, _ *core.Node) { c.p.closeStream(id) }

func (c callbacks) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	p := c.p
	if err := p.attach(id, req.GetNode()); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[id]
	n := p.nodes[st.node]
	typeURL := req.GetTypeUrl()
	if req.GetErrorDetail() != nil {
		held, ok := p.recordNACKLocked(st, n, typeURL, req.GetResponseNonce(), req.GetErrorDetail().GetMessage())
		if ok && p.holdNACKs {
			req.VersionInfo = held
		}
		return nil
	}
	n.acked[typeURL] = req.GetVersionInfo()
	if req.GetResponseNonce() != "" {
		delete(n.nacks, typeURL)
	}
	p.convergedLocked(st.node, n)
	return nil
}

// The SotW and delta servers number their streams independently, both from 1: delta
// streams are tracked under negative ids so the two never share an entry.
func deltaID(id int64) int64 { return -id }

func (c callbacks) OnDeltaStreamOpen(_ context.Context, id int64, _ string) error {
	c.p.openStream(deltaID(id))
	return nil
}

func (c callbacks) OnDeltaStreamClosed(id int64, _ *core.Node) { c.p.closeStream(deltaID(id)) }

func (c callbacks) OnStreamDeltaRequest(id int64, req *discovery.DeltaDiscoveryRequest) error {
	p, id := c.p, deltaID(id)
	// The delta server calls this before it fills in a missing node from the stream's first
	// request; attach ignores a nil node once the stream has one.
	if err := p.attach(id, req.GetNode()); err != nil {
		return err
	}
	nonce := req.GetResponseNonce()
	if nonce == "" {
		return nil // a subscription, not an answer to a response
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[id]
	n := p.nodes[st.node]
	typeURL := req.GetTypeUrl()
	if req.GetErrorDetail() != nil {
		p.recordNACKLocked(st, n, typeURL, nonce, req.GetErrorDetail().GetMessage())
		return nil
	}
	// A delta ACK carries no version: it is the system version of the response it answers.
	if s, ok := st.sent[typeURL]; ok && s.nonce == nonce {
		n.acked[typeURL] = s.version
		delete(n.nacks, typeURL)
		p.convergedLocked(st.node, n)
	}
	return nil
}

func (p *Publisher) openStream(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streams[id] = &stream{sent: map[string]sent{}}
}

// attach binds a stream to its node on the stream's first request and gives the node the
// snapshot of its role before the stream server creates the request's watch.
func (p *Publisher) attach(id int64, cn *core.Node) error {
	p.mu.Lock()
	st := p.streams[id]
	if st == nil { // not seen opening; track it all the same
		st = &stream{sent: map[string]sent{}}
		p.streams[id] = st
	}
	attached := st.node != ""
	p.mu.Unlock()
	if attached {
		return nil
	}
	nodeID := cn.GetId()
	if nodeID == "" {
		return status.Error(codes.InvalidArgument, "the first request of a stream must carry node.id")
	}

	p.pushMu.Lock()
	defer p.pushMu.Unlock()
	p.mu.Lock()
	n := p.nodes[nodeID]
	if n == nil {
		n = &node{acked: map[string]string{}, nacks: map[string]nack{}}
		p.nodes[nodeID] = n
	}
	n.streams++
	// Labels (and so the role) are read on every new stream: a proxy restarted with other
	// labels takes its new role.
	n.labels = labelsOf(cn)
	n.userAgent = cn.GetUserAgentName()
	n.locality = localityOf(cn)
	n.namespace = namespaceOf(cn)
	st.node = nodeID
	var target *nodeRole
	if p.current != nil {
		t := p.nodeRoleLocked(nodeID, n)
		target = &t
	}
	labels, namespace, role := fmt.Sprint(n.labels), n.namespace, n.role
	p.mu.Unlock()
	if target != nil {
		p.cache.setNode(target.id, target.role)
	}
	p.log.Info("proxy connected", "node", nodeID, "namespace", namespace, "labels", labels, "role", role, "stream", id)
	return nil
}

func (p *Publisher) closeStream(id int64) {
	p.pushMu.Lock()
	defer p.pushMu.Unlock()
	p.mu.Lock()
	st := p.streams[id]
	delete(p.streams, id)
	gone := false
	if st != nil && st.node != "" {
		n := p.nodes[st.node]
		n.streams--
		if n.streams == 0 {
			n.disconnectedAt = time.Now()
			gone = true
			// A proxy that left is not waited for.
			if p.converging[st.node] {
				delete(p.converging, st.node)
				p.observeConvergenceLocked()
			}
		}
	}
	p.mu.Unlock()
	if gone {
		// The cache keeps a snapshot and watch state per node id until told otherwise.
		p.cache.clearNode(st.node)
		p.log.Info("proxy disconnected", "node", st.node, "stream", id)
	}
}

func (p *Publisher) recordSent(id int64, typeURL, nonce, version string) {
	p.metrics.pushes.WithLabelValues(typeLabel(typeURL)).Inc()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[id]
	if st == nil {
		return
	}
	st.sent[typeURL] = sent{nonce: nonce, version: version}
}

// convergedLocked notes what a node that just ACKed has applied, and takes it out of the
// converging set once that is the version serving.
func (p *Publisher) convergedLocked(id string, n *node) {
	v := p.versionOfLocked(n)
	if v != "" {
		n.applied = v
	}
	if !p.converging[id] || p.current == nil || v != p.current.Version {
		return
	}
	delete(p.converging, id)
	p.observeConvergenceLocked()
}

// observeConvergenceLocked records the convergence time once the last awaited node is in sync.
func (p *Publisher) observeConvergenceLocked() {
	if p.converging == nil || len(p.converging) > 0 {
		return
	}
	p.converging = nil
	p.metrics.convergence.Observe(time.Since(p.convergeFrom).Seconds())
}
