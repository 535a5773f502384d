package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
)

// SidecarRole names the role of every proxy that matches no Gateway selector.
const SidecarRole = "sidecar"

// GRPCRole names the role of proxyless gRPC clients (grpc-go, grpc-js, C-core): listeners named
// "host:port" with an api_listener, as those clients request them.
const GRPCRole = "grpc"

// ResourceTypes are the xDS types a snapshot carries, in the order proxies should apply them.
var ResourceTypes = []resource.Type{resource.ClusterType, resource.EndpointType, resource.ListenerType,
	resource.ScopedRouteType, resource.RouteType}

// Snapshot is the compiled form of one policy tree: the xDS resources of every proxy role.
// It is immutable once built; Version is a digest of its canonical bytes, so the same tree
// always yields the same Version.
type Snapshot struct {
	Version string
	// Commit is metadata (the git commit compiled), not part of the digest.
	Commit string
	// Roles, sidecar first, then gateway roles by name, then the gRPC role.
	Roles []*Role

	// local caches the roles localised for proxy places (Localized); copies of the snapshot
	// share it.
	local *localities
}

// Role is the configuration of one kind of proxy.
type Role struct {
	// Name is SidecarRole or "gateway/" followed by the canonical selector ("istio=ingressgateway").
	Name string
	// Selector is the label set a proxy must carry to take this role; empty for the sidecar.
	Selector map[string]string
	// Resources per type URL, each list sorted by resource name.
	Resources map[resource.Type][]types.Resource
	// Versions per type URL: a digest of that type's resources, so an update that changes only
	// routes leaves the other types' versions (and so their pushes) alone.
	Versions map[resource.Type]string
	// Place is the proxy locality a localised role was made for (Snapshot.Localized); ""
	// for the role as compiled.
	Place string

	// locality is the role's locality policies, read on first use.
	locality roleLocality
	// sources is what its conditional routes test, read on first use.
	sources roleSources
	// scopes is which proxy namespaces its cluster variants are for, read on first use.
	scopes roleScopes

	// fileTypes are the types a snapshot file read from disk carries, when it carries fewer
	// than ResourceTypes: one written before a type was added (scoped routes) keeps its
	// version, computed without that type, and so its place in the history (snapfile.go).
	fileTypes []resource.Type
}

// types are the resource types the role's version covers.
func (r *Role) types() []resource.Type {
	if r.fileTypes != nil {
		return r.fileTypes
	}
	return ResourceTypes
}

// RoleForNode returns the role of an xDS client from its node: proxyless gRPC clients (their
// user agent names gRPC) take the gRPC role when the snapshot has one; every other client
// takes the role its labels select (RoleFor).
func (s *Snapshot) RoleForNode(labels map[string]string, userAgent string) *Role {
	if strings.Contains(strings.ToLower(userAgent), "grpc") {
		if r := s.Role(GRPCRole); r != nil {
			return r
		}
	}
	return s.RoleFor(labels)
}

// RoleFor returns the role a proxy with these labels takes: the gateway role with the largest
// selector contained in labels, else the sidecar role.
func (s *Snapshot) RoleFor(labels map[string]string) *Role {
	var best, sidecar *Role
	for _, r := range s.Roles {
		if r.Name == SidecarRole {
			sidecar = r
			continue
		}
		if r.Name == GRPCRole {
			continue
		}
		if len(r.Selector) == 0 || !selects(r.Selector, labels) {
			continue
		}
		if best == nil || len(r.Selector) > len(best.Selector) {
			best = r
		}
	}
	if best != nil {
		return best
	}
	return sidecar
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// Role returns the role with this name, or nil.
func (s *Snapshot) Role(name string) *Role {
	for _, r := range s.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// CacheSnapshot converts a role to go-control-plane's snapshot type, with per-type versions.
func (r *Role) CacheSnapshot() *cache.Snapshot {
	var snap cache.Snapshot
	for _, t := range ResourceTypes {
		snap.Resources[cache.GetResponseType(t)] = cache.NewResources(r.Versions[t], r.Resources[t])
	}
	return &snap
}

// deterministic is the one marshal used for every byte that feeds a digest or a file.
var deterministic = proto.MarshalOptions{Deterministic: true}

// digest is the version form: the first 12 hex digits of SHA-256.
func digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		l := uint64(len(p))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// seal computes every per-type version and the snapshot version from canonical bytes.
func (s *Snapshot) seal() error {
	var all [][]byte
	// A resource shared by several roles (the same proto) is marshaled once.
	marshaled := map[types.Resource][]byte{}
	marshal := func(res proto.Message) ([]byte, error) {
		b, ok := marshaled[res]
		if !ok {
			var err error
			if b, err = deterministic.Marshal(res); err != nil {
				return nil, err
			}
			marshaled[res] = b
		}
		return b, nil
	}
	for _, r := range s.Roles {
		all = append(all, []byte(r.Name))
		for _, k := range slices.Sorted(maps.Keys(r.Selector)) {
			all = append(all, []byte(k), []byte(r.Selector[k]))
		}
		r.Versions = map[resource.Type]string{}
		for _, t := range r.types() {
			v, err := typeVersion(r.Resources[t], marshal)
			if err != nil {
				return err
			}
			r.Versions[t] = v
			all = append(all, []byte(t), []byte(v))
		}
	}
	s.Version = digest(all...)
	return nil
}

// typeVersion is the version of one type's resources: a digest of their names and bytes.
func typeVersion(res []types.Resource, marshal func(proto.Message) ([]byte, error)) (string, error) {
	parts := make([][]byte, 0, 2*len(res))
	for _, r := range res {
		b, err := marshal(r)
		if err != nil {
			return "", err
		}
		parts = append(parts, []byte(cache.GetResourceName(r)), b)
	}
	return digest(parts...), nil
}
