package xdsbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/delta/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/internal/gen"
	"github.com/signalbox/signalbox/publisher"
)

// Config is one benchmark run.
type Config struct {
	Clients  int  // ADS clients connected
	Services int  // services in the synthetic policy tree
	Rounds   int  // one-route commits timed
	Delta    bool // delta xDS instead of state-of-the-world
	// ByName has the clients ask for routes and endpoints by name, as Envoy does, instead of
	// every resource of every type (wildcard).
	ByName bool
	// Baseline serves the same snapshots from go-control-plane's SnapshotCache instead of a
	// publisher (SetSnapshot for every node; no git, no compile).
	Baseline bool
	// Timeout bounds each wait for the clients (default 2 minutes).
	Timeout time.Duration
}

// Result is what a run measured. Latencies are per round.
type Result struct {
	Config
	// CommitToSync is from the commit being fetched (Sync) until every client has ACKed the
	// new routes; PublishToSync from the publish (SetSnapshot for the baseline).
	CommitToSync, PublishToSync []time.Duration
	// HeapPerClient is the live heap after connecting and syncing the clients, less the heap
	// before, over Clients. Clients run in the same process, so it is an upper bound for the
	// server's share.
	HeapPerClient int64
	// FullPushBytes is the bytes one client received for its first configuration;
	// ChangeBytes what it received per one-route change (averages over clients).
	FullPushBytes, ChangeBytes float64
}

// Quantile of a sorted copy of ds.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Server returns the name of what served: "signalbox" or "snapshotcache".
func (r Result) Server() string {
	if r.Baseline {
		return "snapshotcache"
	}
	return "signalbox"
}

// Mode returns "delta" or "sotw", followed by "/names" for clients asking for routes and
// endpoints by name.
func (r Result) Mode() string {
	m := "sotw"
	if r.Delta {
		m = "delta"
	}
	if r.ByName {
		m += "/names"
	}
	return m
}

// server is what the clients connect to, behind one interface for both servers.
type server interface {
	addr() string
	// change publishes a one-route change and returns when it was handed to the server
	// (after fetch and compile for the publisher).
	change(ctx context.Context, round int) (published time.Time, err error)
	close()
}

// Run measures one configuration.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	res := Result{Config: cfg}
	dir, err := os.MkdirTemp("", "signalbox-xdsbench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	var srv server
	if cfg.Baseline {
		srv, err = startBaseline(ctx, cfg)
	} else {
		srv, err = startPublisher(ctx, dir, cfg)
	}
	if err != nil {
		return res, err
	}
	defer srv.close()
	gc()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Clients share a few connections, as proxies on one host would not, but the server's
	// per-stream state is the same and the benchmark stays within the file descriptor limit.
	// Flow-control windows are large, as Envoy's are (256 MiB by default), so a shared
	// connection's window does not serialize the streams on it.
	conns := make([]*grpc.ClientConn, (cfg.Clients+49)/50)
	for i := range conns {
		opts := append(DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(4<<20), grpc.WithInitialConnWindowSize(64<<20))
		if conns[i], err = grpc.NewClient(srv.addr(), opts...); err != nil {
			return res, err
		}
		defer conns[i].Close()
	}
	var (
		routes atomic.Int64 // route responses applied since the round began
		doneAt atomic.Int64 // unix nanos when routes reached the target
		target atomic.Int64
		wake   = make(chan struct{}, 1)
	)
	onApply := func(_ *Client, typeURL, _ string) {
		if typeURL != resource.RouteType {
			return
		}
		if routes.Add(1) == target.Load() {
			doneAt.Store(time.Now().UnixNano())
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
	clientCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopClients(); wg.Wait() }()
	var names map[string][]string // shared by every client
	if cfg.ByName {
		if names, err = envoyNames(cfg.Services); err != nil {
			return res, err
		}
	}
	clients := make([]*Client, cfg.Clients)
	target.Store(int64(cfg.Clients))
	for i := range clients {
		c := &Client{NodeID: fmt.Sprintf("bench-%05d", i), Delta: cfg.Delta, Names: names, Forget: true, OnApply: onApply}
		clients[i] = c
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(clientCtx, conns[i%len(conns)]) }()
	}
	await := func() error {
		select {
		case <-wake:
			return nil
		case <-time.After(cfg.Timeout):
			return fmt.Errorf("%d of %d clients applied the routes in %s", routes.Load(), cfg.Clients, cfg.Timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := await(); err != nil {
		return res, fmt.Errorf("initial sync: %w", err)
	}
	// Every type comes before routes in the ADS order, so routes applied means all applied.
	time.Sleep(50 * time.Millisecond) // let the last ACKs land before measuring
	gc()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.HeapPerClient = (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(cfg.Clients)
	bytes0 := totalBytes(clients)
	res.FullPushBytes = float64(bytes0) / float64(cfg.Clients)

	for round := 1; round <= cfg.Rounds; round++ {
		routes.Store(0)
		start := time.Now()
		published, err := srv.change(ctx, round)
		if err != nil {
			return res, err
		}
		if err := await(); err != nil {
			return res, fmt.Errorf("round %d: %w", round, err)
		}
		end := time.Unix(0, doneAt.Load())
		res.CommitToSync = append(res.CommitToSync, end.Sub(start))
		res.PublishToSync = append(res.PublishToSync, end.Sub(published))
	}
	if cfg.Rounds > 0 {
		res.ChangeBytes = float64(totalBytes(clients)-bytes0) / float64(cfg.Clients) / float64(cfg.Rounds)
	}
	return res, nil
}

func totalBytes(cs []*Client) int64 {
	var n int64
	for _, c := range cs {
		n += c.Stats().Bytes
	}
	return n
}

// namedTypes are the types Envoy asks for by name: endpoints of the clusters it was sent,
// routes of the listeners and scopes it was sent.
var namedTypes = []string{resource.EndpointType, resource.RouteType}

// envoyNames are the names of the sidecar's resources of namedTypes in the synthetic tree,
// which a one-route change does not alter: what Envoy would ask for once it had the clusters,
// listeners and scopes.
func envoyNames(services int) (map[string][]string, error) {
	s, _ := compiler.CompileFiles(gen.Tree(services, weight(0)))
	if s == nil {
		return nil, fmt.Errorf("synthetic tree did not compile")
	}
	r := s.Role(compiler.SidecarRole)
	names := map[string][]string{}
	for _, t := range namedTypes {
		for _, res := range r.Resources[t] {
			names[t] = append(names[t], cache.GetResourceName(res))
		}
	}
	return names, nil
}

// weight is the canary weight of service 0 in a round: each round moves one route.
func weight(round int) int { return 10 + round%80 }

type pubServer struct {
	p      *publisher.Publisher
	repo   *demo.Repo
	cancel context.CancelFunc
}

func startPublisher(ctx context.Context, dir string, cfg Config) (*pubServer, error) {
	repo, err := demo.InitRepo(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range gen.Tree(cfg.Services, weight(0)) {
		if err := repo.WriteFile("policies/"+f.Path, f.Data); err != nil {
			return nil, err
		}
	}
	if _, err := repo.Commit("synthetic tree"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p, err := publisher.New(publisher.Config{Repo: dir, Poll: time.Hour, XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		err = p.Start(ctx)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return &pubServer{p: p, repo: repo, cancel: cancel}, nil
}

func (s *pubServer) addr() string { return s.p.XDSAddr() }

func (s *pubServer) change(ctx context.Context, round int) (time.Time, error) {
	if err := s.repo.WriteFile("policies/services/svc-00000.yaml", []byte(gen.Service(0, weight(round)))); err != nil {
		return time.Time{}, err
	}
	if _, err := s.repo.Commit(fmt.Sprintf("svc-00000: canary %d%%", weight(round))); err != nil {
		return time.Time{}, err
	}
	if err := s.p.Sync(ctx); err != nil {
		return time.Time{}, err
	}
	return s.p.LastPublish(), nil
}

func (s *pubServer) close() { s.cancel(); <-s.p.Done() }

// baseline serves go-control-plane's SnapshotCache as its documentation shows: one snapshot
// per node id, set for every node on each change.
type baseline struct {
	cache cache.SnapshotCache
	gs    *grpc.Server
	ln    net.Listener
	snaps []*cache.Snapshot // per round
	nodes []string
}

func startBaseline(ctx context.Context, cfg Config) (*baseline, error) {
	b := &baseline{cache: cache.NewSnapshotCache(false, cache.IDHash{}, nil)}
	// Every round's snapshot is compiled up front: the baseline times serving only.
	for round := 0; round <= cfg.Rounds; round++ {
		tree := gen.Tree(cfg.Services, 10)
		for i, f := range tree {
			if f.Path == "services/svc-00000.yaml" {
				tree[i].Data = []byte(gen.Service(0, weight(round)))
			}
		}
		s, _ := compiler.CompileFiles(tree)
		if s == nil {
			return nil, fmt.Errorf("synthetic tree did not compile")
		}
		b.snaps = append(b.snaps, s.Role(compiler.SidecarRole).CacheSnapshot())
	}
	for i := range cfg.Clients {
		id := fmt.Sprintf("bench-%05d", i)
		b.nodes = append(b.nodes, id)
		if err := b.cache.SetSnapshot(ctx, id, b.snaps[0]); err != nil {
			return nil, err
		}
	}
	var err error
	if b.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	b.gs = grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(b.gs, baselineADS{
		sotw: sotw.NewServer(ctx, b.cache, nil), delta: delta.NewServer(ctx, b.cache, nil)})
	go b.gs.Serve(b.ln)
	return b, nil
}

type baselineADS struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	sotw  sotw.Server
	delta delta.Server
}

func (a baselineADS) StreamAggregatedResources(s discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	return a.sotw.StreamHandler(s, resource.AnyType)
}

func (a baselineADS) DeltaAggregatedResources(s discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	return a.delta.DeltaStreamHandler(s, resource.AnyType)
}

func (b *baseline) addr() string { return b.ln.Addr().String() }

func (b *baseline) change(ctx context.Context, round int) (time.Time, error) {
	now := time.Now()
	for _, id := range b.nodes {
		if err := b.cache.SetSnapshot(ctx, id, b.snaps[round]); err != nil {
			return now, err
		}
	}
	return now, nil
}

func (b *baseline) close() { b.gs.Stop() }

// gc collects twice: buffers parked in sync.Pools (gRPC's among them) survive one collection
// in the pools' victim caches and would count as live.
func gc() { runtime.GC(); runtime.GC() }
