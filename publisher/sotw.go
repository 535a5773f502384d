package publisher

import (
	"slices"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// sotwFullState are the types whose every state-of-the-world response must carry every
// resource the client asked for: the xDS protocol reads a Listener or Cluster missing from a
// response as deleted. Of the other types a response needs to carry only what changed.
var sotwFullState = map[string]bool{resource.ListenerType: true, resource.ClusterType: true}

// sotwResponse answers a SotW request from r, or returns nil when the stream already has what
// it asks for. The response is a new message (the stream server writes its nonce into it) over
// the shared serialized resources.
//
// A wildcard subscriber is sent the whole type whenever its version changes. A subscriber to
// names is sent the named resources whose bytes it was not sent on this stream (the version
// per resource, a digest of its bytes, is what the stream server keeps as returned), all of
// them for Listener and Cluster; a new type version is always sent, with no resources if none
// of its named ones changed, so the client ACKs the version serving. A first request that
// carries the version serving is a client resuming a stream: it has the named resources.
func sotwResponse(r *preparedRole, req *cache.Request, sub cache.Subscription) cache.Response {
	typeURL := req.GetTypeUrl()
	pt := r.types[typeURL]
	if pt == nil {
		return nil // a type the publisher does not serve: the watch stays open, unanswered
	}
	if sub.IsWildcard() {
		if req.GetVersionInfo() == pt.version {
			return nil
		}
		return &cache.PassthroughResponse{
			Request:           req,
			DiscoveryResponse: &discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: pt.all, TypeUrl: typeURL},
		}
	}
	returned := sub.ReturnedResources()
	versionChanged := req.GetVersionInfo() != pt.version
	if !versionChanged && req.GetResponseNonce() == "" && returned != nil && len(returned) == 0 {
		// A client resuming at the version serving holds the resources it names at their
		// versions. The stream server keeps returned only from responses, so they are
		// written into its map here, for the next change and the names asked for later.
		for name := range sub.SubscribedResources() {
			if i, ok := pt.byKey[name]; ok {
				returned[name] = pt.delta[i].Version
			}
		}
		return nil
	}
	var idx, named []int
	for name := range sub.SubscribedResources() {
		i, ok := pt.byKey[name]
		if !ok {
			continue
		}
		named = append(named, i)
		if v, sent := returned[name]; !sent || v != pt.delta[i].Version {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 && !versionChanged {
		return nil
	}
	if sotwFullState[typeURL] {
		idx = named
	}
	slices.Sort(idx)
	res := make([]*anypb.Any, len(idx))
	for j, i := range idx {
		res[j] = pt.all[i]
	}
	next := make(map[string]string, len(named))
	for _, i := range named {
		next[pt.names[i]] = pt.delta[i].Version
	}
	return &cache.PassthroughResponse{
		Request:           req,
		DiscoveryResponse: &discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: res, TypeUrl: typeURL},
		ReturnedResources: next,
	}
}

// internNames replaces the names of a request that pt has by pt's own strings. The stream
// server keeps a subscription's names for as long as the stream lasts, and every request
// (each ACK) carries them all again: shared, they cost a stream its map only.
func internNames(names []string, pt *preparedType) {
	if pt == nil {
		return
	}
	for i, name := range names {
		if j, ok := pt.byKey[name]; ok {
			names[i] = pt.names[j]
		}
	}
}
