package compiler

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	// The Envoy types a snapshot file may hold must be registered to be read back.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// fileFormat names the snapshot file layout; a reader refuses any other.
const fileFormat = "signalbox.snapshot/v1"

// snapshotFile is the on-disk form: JSON (map keys sorted by encoding/json) holding each
// resource's deterministic protobuf bytes, so the file is byte-identical for the same tree.
// The commit is not in it: the same tree compiled from a working directory or from any commit
// gives the same file; the publisher records commits beside the snapshots it keeps.
type snapshotFile struct {
	Format  string     `json:"format"`
	Version string     `json:"version"`
	Roles   []roleFile `json:"roles"`
}

type roleFile struct {
	Name      string              `json:"name"`
	Selector  map[string]string   `json:"selector,omitempty"`
	Versions  map[string]string   `json:"versions"`
	Resources map[string][][]byte `json:"resources"`
}

// Marshal encodes the snapshot in the file format.
func (s *Snapshot) Marshal() ([]byte, error) {
	f := snapshotFile{Format: fileFormat, Version: s.Version}
	for _, r := range s.Roles {
		rf := roleFile{Name: r.Name, Selector: r.Selector, Versions: map[string]string{}, Resources: map[string][][]byte{}}
		for _, t := range r.types() {
			rf.Versions[t] = r.Versions[t]
			for _, res := range r.Resources[t] {
				b, err := deterministic.Marshal(res)
				if err != nil {
					return nil, err
				}
				rf.Resources[t] = append(rf.Resources[t], b)
			}
		}
		f.Roles = append(f.Roles, rf)
	}
	out, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Unmarshal decodes a snapshot file and checks its version against its content, so a file
// edited by hand (or truncated) is refused rather than served under a false version.
func Unmarshal(data []byte) (*Snapshot, error) {
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a snapshot file: %w", err)
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("not a snapshot file: format %q, want %q", f.Format, fileFormat)
	}
	s := &Snapshot{local: &localities{}}
	for _, rf := range f.Roles {
		r := &Role{Name: rf.Name, Selector: rf.Selector, Resources: map[resource.Type][]types.Resource{}}
		if len(rf.Versions) < len(ResourceTypes) {
			// An older file: its version digests the types it has (Role.fileTypes).
			r.fileTypes = []resource.Type{}
			for _, t := range ResourceTypes {
				if _, ok := rf.Versions[t]; ok {
					r.fileTypes = append(r.fileTypes, t)
				}
			}
		}
		for t := range rf.Versions {
			if !slices.Contains(ResourceTypes, t) {
				return nil, fmt.Errorf("role %s: resource type %s is not one this signalbox serves (a file from a newer version?)", rf.Name, t)
			}
		}
		for t, list := range rf.Resources {
			if _, ok := rf.Versions[t]; !ok {
				return nil, fmt.Errorf("role %s: resources of type %s with no version", rf.Name, t)
			}
			for _, b := range list {
				m, err := anypb.UnmarshalNew(&anypb.Any{TypeUrl: t, Value: b}, proto.UnmarshalOptions{})
				if err != nil {
					return nil, fmt.Errorf("role %s: %w", rf.Name, err)
				}
				r.Resources[t] = append(r.Resources[t], m)
			}
		}
		s.Roles = append(s.Roles, r)
	}
	if err := s.seal(); err != nil {
		return nil, err
	}
	if s.Version != f.Version {
		return nil, fmt.Errorf("snapshot file is corrupt: content digests to %s, file says %s", s.Version, f.Version)
	}
	return s, nil
}

// WriteFile writes the snapshot file.
func (s *Snapshot) WriteFile(path string) error {
	b, err := s.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadFile reads a snapshot file written by WriteFile.
func ReadFile(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
