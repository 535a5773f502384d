package publisher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/policies"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// ---- git ----------------------------------------------------------------------------------

// gitRepo is a real repository on disk with a worktree and branch main.
type gitRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &gitRepo{t: t, dir: dir, repo: repo}
}

// commit writes files (path -> content; a nil content removes the file) and commits them.
func (r *gitRepo) commit(msg string, files map[string][]byte) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, data := range files {
		if data == nil {
			if _, err := wt.Remove(name); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			r.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{
		Author:            &object.Signature{Name: "Ada Operator", Email: "ada@example.com", When: time.Now()},
		AllowEmptyCommits: true,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// forcePush moves main to sha, as a force push to the repository does.
func (r *gitRepo) forcePush(sha string) {
	r.t.Helper()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), plumbing.NewHash(sha))
	if err := r.repo.Storer.SetReference(ref); err != nil {
		r.t.Fatal(err)
	}
}

// defaultPolicies is the project's default tree, under policies/.
func defaultPolicies(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(policies.FS, p)
		files["policies/"+p] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// compiledVersion is what the compiler makes of the policy tree at a commit: the version the
// publisher must serve for it.
func compiledVersion(t *testing.T, r *gitRepo, sha string) (string, []schema.Finding) {
	t.Helper()
	_, files, err := source.ReadRevision(r.repo, sha, "policies")
	if err != nil {
		t.Fatal(err)
	}
	s, findings := compiler.CompileFiles(files)
	if s == nil {
		return "", findings
	}
	return s.Version, findings
}

// ---- publisher ----------------------------------------------------------------------------

// start runs a publisher on free loopback ports until the test ends.
func start(t *testing.T, cfg Config) *Publisher {
	t.Helper()
	cfg.XDSAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	if cfg.Poll == 0 {
		cfg.Poll = time.Hour // tests call Sync themselves
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Error("publisher did not stop")
		}
	})
	return p
}

// startServing runs a publisher following a repository of the default tree, then publishes s
// over it: the xDS tests drive the server with snapshots they build themselves.
func startServing(t *testing.T, s *compiler.Snapshot) *Publisher {
	t.Helper()
	r := newGitRepo(t)
	r.commit("default tree", defaultPolicies(t))
	p := start(t, Config{Repo: r.dir})
	p.publish(s)
	return p
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func httpGet(t *testing.T, p *Publisher, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.AdminAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func proxyStatus(p *Publisher, id string) (ProxyStatus, bool) {
	for _, px := range p.Status().Proxies {
		if px.NodeID == id {
			return px, true
		}
	}
	return ProxyStatus{}, false
}

// ---- snapshots built by hand ----------------------------------------------------------------

// role builds a role with real Envoy resources: one cluster (and its endpoints) per name, one
// listener and one route configuration whose virtual host is named tag. Per-type versions are
// digests of the deterministic bytes, as the compiler makes them, so a role that differs only
// in tag differs only in its route version.
func role(name string, selector map[string]string, tag string, clusters ...string) *compiler.Role {
	r := &compiler.Role{Name: name, Selector: selector, Resources: map[resource.Type][]types.Resource{}, Versions: map[resource.Type]string{}}
	for _, c := range clusters {
		r.Resources[resource.ClusterType] = append(r.Resources[resource.ClusterType], &clusterv3.Cluster{
			Name:                 c,
			ConnectTimeout:       durationpb.New(time.Second),
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &core.ConfigSource{ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}},
		})
		r.Resources[resource.EndpointType] = append(r.Resources[resource.EndpointType], &endpointv3.ClusterLoadAssignment{ClusterName: c})
	}
	r.Resources[resource.ListenerType] = []types.Resource{&listenerv3.Listener{
		Name: "listener-" + name,
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: "127.0.0.1", PortSpecifier: &core.SocketAddress_PortValue{PortValue: 15001}}}},
	}}
	r.Resources[resource.RouteType] = []types.Resource{&routev3.RouteConfiguration{
		Name:         "routes-" + name,
		VirtualHosts: []*routev3.VirtualHost{{Name: tag, Domains: []string{"*"}}},
	}}
	for _, t := range compiler.ResourceTypes {
		h := sha256.New()
		for _, res := range r.Resources[t] {
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(res)
			h.Write(b)
		}
		r.Versions[t] = hex.EncodeToString(h.Sum(nil))[:12]
	}
	return r
}

// snapshot seals roles into a snapshot whose version is a digest of their per-type versions.
func snapshot(commit string, roles ...*compiler.Role) *compiler.Snapshot {
	h := sha256.New()
	for _, r := range roles {
		h.Write([]byte(r.Name))
		for _, t := range compiler.ResourceTypes {
			h.Write([]byte(r.Versions[t]))
		}
	}
	return &compiler.Snapshot{Version: hex.EncodeToString(h.Sum(nil))[:12], Commit: commit, Roles: roles}
}

// ---- an ADS client ----------------------------------------------------------------------------

// adsClient is a state-of-the-world ADS client that ACKs every response, or NACKs the types
// listed in nack.
type adsClient struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	nack      map[string]bool
	responses []*discovery.DiscoveryResponse
	applied   map[string]string // type URL -> last version ACKed
}

// dialADS connects as node id with labels and subscribes (wildcard, or to names when given)
// to each type.
func dialADS(t *testing.T, addr, id string, labels map[string]string, nack []string, subs map[string][]string) *adsClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		cancel()
		conn.Close()
		t.Fatal(err)
	}
	c := &adsClient{t: t, cancel: cancel, done: make(chan struct{}), nack: map[string]bool{}, applied: map[string]string{}}
	for _, typ := range nack {
		c.nack[typ] = true
	}
	md := map[string]any{}
	for k, v := range labels {
		md[k] = v
	}
	meta, err := structpb.NewStruct(map[string]any{"labels": md})
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: id, Metadata: meta}
	if subs == nil {
		subs = map[string][]string{}
		for _, typ := range compiler.ResourceTypes {
			subs[typ] = nil
		}
	}
	for _, typ := range compiler.ResourceTypes {
		names, ok := subs[typ]
		if !ok {
			continue
		}
		if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: typ, ResourceNames: names}); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer close(c.done)
		defer conn.Close()
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.responses = append(c.responses, resp)
			req := &discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce, ResourceNames: subs[resp.TypeUrl]}
			if c.nack[resp.TypeUrl] {
				req.VersionInfo = c.applied[resp.TypeUrl]
				req.ErrorDetail = &status.Status{Code: 3, Message: "rejected " + resp.VersionInfo + " on purpose"}
			} else {
				req.VersionInfo = resp.VersionInfo
				c.applied[resp.TypeUrl] = resp.VersionInfo
			}
			c.mu.Unlock()
			if err := stream.Send(req); err != nil {
				return
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *adsClient) close() {
	c.cancel()
	<-c.done
}

// count is the number of responses received so far, per type URL.
func (c *adsClient) count() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[string]int{}
	for _, r := range c.responses {
		n[r.TypeUrl]++
	}
	return n
}

func (c *adsClient) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.responses)
}

// last is the newest response of a type, or nil.
func (c *adsClient) last(typeURL string) *discovery.DiscoveryResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.responses) - 1; i >= 0; i-- {
		if c.responses[i].TypeUrl == typeURL {
			return c.responses[i]
		}
	}
	return nil
}

// names decodes the resource names of a response.
func names(t *testing.T, resp *discovery.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range resp.GetResources() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		switch r := m.(type) {
		case *clusterv3.Cluster:
			out = append(out, r.Name)
		case *endpointv3.ClusterLoadAssignment:
			out = append(out, r.ClusterName)
		case *listenerv3.Listener:
			out = append(out, r.Name)
		case *routev3.RouteConfiguration:
			out = append(out, r.Name)
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// fmtSscanf reads "LINE:COL" at the start of s.
func fmtSscanf(s string, line, col *int) (int, error) { return fmt.Sscanf(s, "%d:%d", line, col) }
