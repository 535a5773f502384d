package publisher

import (
	"strconv"
	"sync/atomic"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/signalbox/signalbox/compiler"
)

// sotwServer serves state-of-the-world ADS streams. It replaces go-control-plane's stream
// server and its watches (a new one per request, under one lock for every stream): a stream
// keeps per type the prepared type it was last sent and the names it asks for (sotwstate.go),
// and is woken when its node's role changes. The protocol is kept as that server kept it:
// nonces numbered per stream, a request answering an older response of its type ignored, one
// response per type until the client's next request of it, the legacy wildcard, and the NACK
// hold (the status callback rewrites a NACK's version to the one rejected).
//
// A client is sent the resources whose bytes it does not hold, of those it asks for (every one,
// for a wildcard subscriber); all of them for the types whose responses must carry the whole
// state (Listener, Cluster, and SRDS scopes: sotwFullState), as the type's pre-encoded body
// plus the nonce when that is every resource. A new type version is always sent, with no
// resources if none of the client's changed, so the client ACKs the version serving. After a
// NACK the next different version is sent whole. A first request that carries the version
// serving is a client resuming a stream: it holds what it names, and is sent nothing.
type sotwServer struct {
	p   *Publisher
	ids atomic.Int64
}

type sotwStream struct {
	p     *Publisher
	srv   discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	id    int64
	node  string
	nonce int64
	types map[string]*sotwType
	roles roleWatch
}

func (d *sotwServer) serve(srv discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer, done <-chan struct{}) error {
	cb := callbacks{d.p}
	s := &sotwStream{p: d.p, srv: srv, id: d.ids.Add(1), types: map[string]*sotwType{}}
	s.roles.init()
	if err := cb.OnStreamOpen(srv.Context(), s.id, ""); err != nil {
		return err
	}
	defer func() {
		if s.node != "" {
			d.p.cache.removeStream(s.node, &s.roles)
		}
		cb.OnStreamClosed(s.id, nil)
	}()
	return serveStream(srv.Context(), done, srv.Recv, s.handle, &s.roles, s.push)
}

// push answers every type waiting, in the order proxies apply them.
func (s *sotwStream) push() error {
	for _, t := range compiler.ResourceTypes {
		if err := s.respond(t); err != nil {
			return err
		}
	}
	return nil
}

func (s *sotwStream) handle(req *discovery.DiscoveryRequest) error {
	typeURL := req.GetTypeUrl()
	if typeURL == "" {
		return status.Errorf(codes.InvalidArgument, "type URL is required for ADS")
	}
	// Status first: it attaches the stream to its node on the first request, records ACKs and
	// NACKs, and holds a NACK by rewriting its version to the one rejected.
	if err := (callbacks{s.p}).OnStreamRequest(s.id, req); err != nil {
		return err
	}
	if s.node == "" {
		s.node = req.GetNode().GetId() // attach refused a first request without one
		s.p.cache.addStream(s.node, &s.roles)
	}
	current := s.roles.current(typeURL)
	t := s.types[typeURL]
	switch {
	case t == nil:
		t = &sotwType{legacy: true, wildcard: len(req.GetResourceNames()) == 0}
		s.types[typeURL] = t
		t.update(req.GetResourceNames(), current)
		if current != nil && req.GetResponseNonce() == "" && req.GetVersionInfo() == current.version {
			t.base = current // resuming at the version serving: it holds it
		}
	case t.nonce != "" && req.GetResponseNonce() != t.nonce:
		return nil // answers an older response: a newer one is on its way
	default:
		t.update(req.GetResourceNames(), current)
		if req.GetErrorDetail() != nil && t.base != nil {
			t.rejected = true // a NACK of the last response: see sotwType.rejected
		}
	}
	t.version, t.watching = req.GetVersionInfo(), true
	return s.respond(typeURL)
}

// respond sends a type's changes if a request is waiting for them.
func (s *sotwStream) respond(typeURL string) error {
	t := s.types[typeURL]
	if t == nil || !t.watching {
		return nil
	}
	pt := s.roles.current(typeURL)
	if pt == nil {
		return nil // no snapshot yet, or a type the publisher does not serve
	}
	a, ok := t.answer(pt)
	if !ok {
		return nil
	}
	s.nonce++
	nonce := strconv.FormatInt(s.nonce, 10)
	s.p.recordSent(s.id, typeURL, nonce, pt.version)
	t.sent(pt, nonce)
	switch {
	case a.all:
		if body := pt.sotwBody(); body != nil {
			return s.srv.SendMsg(&encodedResponse{body: body, nonce: nonce})
		}
		a.resources = pt.all
	case a.shared != nil:
		if body := a.shared.encodedSotw(pt); body != nil {
			return s.srv.SendMsg(&encodedResponse{body: body, nonce: nonce})
		}
		for _, r := range a.shared.changed {
			a.resources = append(a.resources, r.Resource)
		}
	}
	return s.srv.Send(&discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: a.resources, TypeUrl: typeURL, Nonce: nonce})
}
