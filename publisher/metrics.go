package publisher

import (
	"net/http"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the publisher's Prometheus series, on a registry of its own so several
// publishers in one process (tests, the demo) do not collide.
type metrics struct {
	reg *prometheus.Registry

	pushes       *prometheus.CounterVec // responses sent, by type
	nacks        *prometheus.CounterVec // responses rejected, by type
	roleRejected *prometheus.GaugeVec   // 1 while every connected proxy of a role rejects the current version
	versionInfo  *prometheus.GaugeVec   // the version serving and its commit
	convergence  prometheus.Histogram   // publish -> every connected proxy ACKed
	compile      prometheus.Histogram   // read + validate + compile of one commit
	serialize    prometheus.Histogram   // serializing the roles of a publish
	commitTime   prometheus.Gauge       // committer time of the commit serving
	publishTime  prometheus.Gauge       // when it was published
}

// latencyBuckets span a loopback push (milliseconds) to a slow rollout (a minute).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newMetrics(p *Publisher) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signalbox_pushes_total", Help: "xDS responses sent to proxies, by resource type.",
		}, []string{"type"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signalbox_nacks_total", Help: "Responses rejected by proxies (NACKs), by resource type.",
		}, []string{"type"}),
		roleRejected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signalbox_role_rejected",
			Help: "1 while every connected proxy of the role has rejected the version serving; new proxies of the role get the last version it accepted.",
		}, []string{"role"}),
		versionInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signalbox_current_version_info", Help: "The version serving and its commit.",
		}, []string{"version", "commit"}),
		convergence: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "signalbox_convergence_seconds",
			Help:    "From the fetch that saw a commit (fetch, compile, publish, push) until every proxy connected at its publish has applied it.",
			Buckets: latencyBuckets,
		}),
		compile: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "signalbox_compile_duration_seconds", Help: "Reading, validating and compiling one commit.",
			Buckets: latencyBuckets,
		}),
		serialize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "signalbox_serialize_duration_seconds", Help: "Serializing the resources of a publish (once for all streams).",
			Buckets: latencyBuckets,
		}),
		commitTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signalbox_last_published_commit_timestamp_seconds", Help: "Committer time of the commit serving (Unix seconds).",
		}),
		publishTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signalbox_last_publish_timestamp_seconds", Help: "When the version serving was published (Unix seconds).",
		}),
	}
	m.reg.MustRegister(m.pushes, m.nacks, m.roleRejected, m.versionInfo, m.convergence, m.compile,
		m.serialize, m.commitTime, m.publishTime)

	// Values the publisher already keeps under its lock are read at scrape time.
	gauge := func(name, help string, f func(*Publisher) int) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			p.mu.Lock()
			defer p.mu.Unlock()
			return float64(f(p))
		}))
	}
	counter := func(name, help string, f func(*Publisher) int) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
			p.mu.Lock()
			defer p.mu.Unlock()
			return float64(f(p))
		}))
	}
	gauge("signalbox_connected_proxies", "Proxies with an open xDS stream.", func(p *Publisher) int {
		n := 0
		for _, nd := range p.nodes {
			if nd.streams > 0 {
				n++
			}
		}
		return n
	})
	gauge("signalbox_proxies_in_sync", "Connected proxies that have applied the version serving.", func(p *Publisher) int {
		n := 0
		for _, nd := range p.nodes {
			if nd.streams > 0 && p.current != nil && p.versionOfLocked(nd) == p.current.Version {
				n++
			}
		}
		return n
	})
	counter("signalbox_snapshots_published_total", "Snapshots published (a commit that leaves the version unchanged is not a publish).",
		func(p *Publisher) int { return p.counters.published })
	counter("signalbox_compile_errors_total", "Commits not published because their tree did not compile (or was not signed).",
		func(p *Publisher) int { return p.counters.compileErrors })
	counter("signalbox_fetch_errors_total", "Failed fetches of the followed branch.",
		func(p *Publisher) int { return p.counters.fetchErrors })
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// published records a new version serving.
func (m *metrics) published(version, commit string, committed, at time.Time) {
	m.versionInfo.Reset()
	m.versionInfo.WithLabelValues(version, commit).Set(1)
	if !committed.IsZero() {
		m.commitTime.Set(float64(committed.Unix()))
	}
	m.publishTime.Set(float64(at.UnixNano()) / 1e9)
}

// typeLabel is the short name of a type URL ("envoy.config.route.v3.RouteConfiguration").
func typeLabel(typeURL string) string { return path.Base(typeURL) }
