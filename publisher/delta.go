package publisher

import (
	"strconv"
	"sync/atomic"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/signalbox/signalbox/compiler"
)

// deltaServer serves delta ADS streams. It replaces go-control-plane's delta server, whose
// per-stream state is a version per resource per type (and a new map of them per response):
// here a stream keeps per type the prepared type it was last sent (deltastate.go) and the
// changes between two prepared types are computed and encoded once for every stream
// (deltadiff.go). The protocol is kept as that server kept it: nonces numbered per stream,
// one response per type until the client's next request of that type, the first wildcard
// request always answered, subscriptions and initial_resource_versions as the xDS protocol
// defines them, and a NACK producing no response.
type deltaServer struct {
	p   *Publisher
	ids atomic.Int64
}

// deltaStream is one delta ADS stream.
type deltaStream struct {
	srv   discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer
	p     *Publisher
	id    int64 // as the callbacks number it; deltaID(id) in Publisher.streams
	node  string
	nonce int64
	types map[string]*deltaType
	roles roleWatch
}

func (d *deltaServer) serve(srv discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer, done <-chan struct{}) error {
	cb := callbacks{d.p}
	s := &deltaStream{srv: srv, p: d.p, id: d.ids.Add(1), types: map[string]*deltaType{}}
	s.roles.init()
	if err := cb.OnDeltaStreamOpen(srv.Context(), s.id, ""); err != nil {
		return err
	}
	defer func() {
		if s.node != "" {
			d.p.cache.removeStream(s.node, &s.roles)
		}
		cb.OnDeltaStreamClosed(s.id, nil)
	}()
	return serveStream(srv.Context(), done, srv.Recv, s.handle, &s.roles, s.push)
}

// push answers every type waiting, in the order proxies apply them.
func (s *deltaStream) push() error {
	for _, t := range compiler.ResourceTypes {
		if err := s.respond(t); err != nil {
			return err
		}
	}
	return nil
}

// handle applies one request and answers it if there is anything to send.
func (s *deltaStream) handle(req *discovery.DeltaDiscoveryRequest) error {
	// Status first: it attaches the stream to its node (and the node to its role) on the first
	// request, and records ACKs and NACKs.
	if err := (callbacks{s.p}).OnStreamDeltaRequest(s.id, req); err != nil {
		return err
	}
	typeURL := req.GetTypeUrl()
	if typeURL == "" {
		return status.Errorf(codes.InvalidArgument, "type URL is required for ADS")
	}
	if s.node == "" {
		s.node = req.GetNode().GetId() // attach refused a first request without one
		s.p.cache.addStream(s.node, &s.roles)
	}
	current := s.roles.current(typeURL)
	t := s.types[typeURL]
	if t == nil {
		t = newDeltaType(req, current)
		s.types[typeURL] = t
	} else {
		t.update(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe(), current)
	}
	if req.GetErrorDetail() != nil {
		t.reject(req.GetResponseNonce())
	}
	// Any request of a type (ACK, NACK or new names) opens the type for the next change; a
	// NACK sends nothing by itself, since what it rejected counts as sent until a different
	// version comes (deltaType.endHold).
	t.watching = true
	t.force = t.wildcard && req.GetResponseNonce() == ""
	return s.respond(typeURL)
}

// respond sends the changes of a type if a request is waiting for them.
func (s *deltaStream) respond(typeURL string) error {
	t := s.types[typeURL]
	if t == nil || !t.watching {
		return nil
	}
	pt := s.roles.current(typeURL)
	if pt == nil {
		return nil // no snapshot yet, or a type the publisher does not serve
	}
	t.endHold(pt)
	c := t.changes(pt)
	if c.empty() && !t.force {
		return nil
	}
	s.nonce++
	nonce := strconv.FormatInt(s.nonce, 10)
	s.p.recordSent(deltaID(s.id), typeURL, nonce, pt.version)
	t.sent(pt, nonce)
	var msg any
	if body := c.encoded(pt); body != nil {
		msg = &encodedResponse{body: body, nonce: nonce}
	} else {
		msg = &discovery.DeltaDiscoveryResponse{SystemVersionInfo: pt.version, Resources: c.changed,
			RemovedResources: c.removed, TypeUrl: typeURL, Nonce: nonce}
	}
	return s.srv.SendMsg(msg)
}

// encoded is the shared encoding of c, or nil when c is this stream's own.
func (c deltaChanges) encoded(pt *preparedType) []byte {
	if c.shared == nil {
		return nil
	}
	return c.shared.encoded(pt)
}
