package publisher

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/signalbox/signalbox/compiler"
)

// Publisher follows a policy branch and serves its compiled snapshots over xDS.
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	cache *sharedCache

	xdsLn, adminLn net.Listener
	grpc           *grpc.Server
	http           *http.Server
	done           chan struct{}

	// syncMu serialises Sync: one fetch-compile-publish at a time.
	syncMu   sync.Mutex
	follower follower
	// hook wakes the follow loop for POST /hooks/git; one pending wake-up is enough.
	hook chan struct{}

	// pushMu serialises every SetSnapshot (publish and first sight of a node), so a node can
	// never be left on the snapshot of a superseded publish. It is taken before mu, and mu is
	// never held while calling into the cache.
	pushMu sync.Mutex

	mu        sync.Mutex
	current   *compiler.Snapshot
	commit    string                   // the branch tip the current snapshot stands for
	roleSnaps map[string]*preparedRole // role name -> current serialized resources, shared by nodes
	// placeSnaps are the serialized roles localised for proxies' places, and fallbacks of
	// rejected roles, made as nodes need them and dropped at the next publish.
	placeSnaps map[*compiler.Role]*preparedRole
	hist       *history
	seen       string // last tip compiled, published or not
	// publishedDir is the git tree hash of the policy dir of the last tree published.
	publishedDir string
	nodes        map[string]*node
	streams      map[int64]*stream
	counters     counters
	store        *store // nil without a state dir
	keyring      string // armored public keys commits must be signed by; "" to publish unsigned
	metrics      *metrics
	// publishedAt is when current was published; converging holds the nodes connected then
	// that have not applied it yet (the convergence histogram observes when it empties).
	publishedAt time.Time
	// convergeFrom starts the convergence clock: when the fetch saw the commit published
	// (the publish itself for a snapshot not from a fetch).
	convergeFrom time.Time
	converging   map[string]bool
	// roleRejected holds the roles whose every proxy rejected the version serving (rolereject.go).
	roleRejected map[string]*roleRejection

	// rejected is the tip that did not compile, until a tree publishes; fetchFailed is the
	// last fetch error, until a fetch succeeds. /status shows the fetch error first.
	rejected    *LastError
	fetchFailed *LastError

	// holdNACKs is the NACK hold (nack.go); tests turn it off to measure the loop it prevents.
	holdNACKs bool
}

// LastError is a failure to follow the branch: a tip that did not compile (Message holds the
// findings, one a line), or a failed fetch (Commit empty).
type LastError struct {
	Commit  string `json:"commit"`
	Message string `json:"message"`
}

type counters struct {
	published, nacks, compileErrors, fetchErrors int
}

// New checks the configuration; nothing is opened until Start.
func New(cfg Config) (*Publisher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg:       cfg,
		log:       cfg.Logger,
		hook:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		hist:      newHistory(),
		nodes:     map[string]*node{},
		streams:   map[int64]*stream{},
		holdNACKs: true,
	}
	p.metrics = newMetrics(p)
	if cfg.StateDir != "" {
		if p.store, err = openStore(cfg.StateDir); err != nil {
			return nil, err
		}
		if p.hist, err = p.store.load(); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	if cfg.RequireSignedBy != "" {
		b, err := os.ReadFile(cfg.RequireSignedBy)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		p.keyring = string(b)
	}
	p.cache = newSharedCache()
	return p, nil
}

// Start binds both listeners, starts serving, then makes the first sync (or loads the snapshot
// file) and returns. Serving and following go on until ctx is done; Done is closed after.
// A first commit that does not compile is not an error here: the publisher keeps following
// the branch and /healthz says 503 until a tree compiles. A repository that cannot be opened
// or cloned is.
func (p *Publisher) Start(ctx context.Context) error {
	var err error
	if p.xdsLn, err = net.Listen("tcp", p.cfg.XDSAddr); err != nil {
		return fmt.Errorf("xds listener: %w", err)
	}
	if p.adminLn, err = net.Listen("tcp", p.cfg.AdminAddr); err != nil {
		p.xdsLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	p.grpc = newGRPCServer(ctx, p)
	p.http = &http.Server{Handler: p.adminHandler(), ReadHeaderTimeout: 10 * time.Second}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.grpc.Serve(p.xdsLn) }()
	go func() { defer wg.Done(); p.http.Serve(p.adminLn) }()
	stop := func() {
		p.grpc.Stop() // streams are long-lived: a graceful stop would wait for every proxy to leave
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.http.Shutdown(shut)
	}

	if err := p.firstSync(ctx); err != nil {
		stop()
		wg.Wait()
		close(p.done)
		return err
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		if p.cfg.Snapshot == "" {
			p.follow(ctx)
		} else {
			p.idle(ctx)
		}
		stop()
	}()
	go func() { wg.Wait(); close(p.done) }()
	return nil
}

func (p *Publisher) firstSync(ctx context.Context) error {
	if p.cfg.Snapshot != "" {
		s, err := compiler.ReadFile(p.cfg.Snapshot)
		if err != nil {
			return err
		}
		p.publish(s)
		return nil
	}
	// What was serving before a restart serves again at once, before the first fetch and
	// compile; proxies that kept it see the same per-type versions and are sent nothing.
	p.mu.Lock()
	last := p.hist.latest()
	p.mu.Unlock()
	if last != nil {
		p.publishEntry(last, HistoryEntry{}, false)
		p.log.Info("serving the last published snapshot from the state dir", "version", last.Version, "commit", last.Commit)
	}
	f, err := newFollower(ctx, p.cfg.Repo, p.cfg.Branch, p.cfg.GitAuth)
	if err != nil {
		return err
	}
	p.follower = f
	return p.Sync(ctx)
}

// idle is the snapshot-file mode's loop: nothing to fetch, only housekeeping.
func (p *Publisher) idle(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.forgetDisconnected(now)
		}
	}
}

// Done is closed once serving has stopped after Start's context ended (or Start failed).
func (p *Publisher) Done() <-chan struct{} { return p.done }

// XDSAddr is the bound xDS address (host:port), valid after Start.
func (p *Publisher) XDSAddr() string { return p.xdsLn.Addr().String() }

// AdminAddr is the bound admin HTTP address (host:port), valid after Start.
func (p *Publisher) AdminAddr() string { return p.adminLn.Addr().String() }

// LastPublish is when the version serving was published (zero before the first publish).
func (p *Publisher) LastPublish() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.publishedAt
}
