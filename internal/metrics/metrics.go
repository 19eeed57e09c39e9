package metrics

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokend/tokend/internal/store"
)

// Metrics holds tokend's collectors, registered on their own registry (no
// global state).
type Metrics struct {
	Registry *prometheus.Registry

	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	revocations  *prometheus.CounterVec
	revokedToks  *prometheus.CounterVec
	authFailures prometheus.Counter
	batchSize    prometheus.Histogram
	swept        *prometheus.CounterVec
	sweeps       prometheus.Counter
	liveTokens   prometheus.Gauge
	liveGrants   prometheus.Gauge
	liveSessions prometheus.Gauge
	rejected     prometheus.Counter
	logouts      *prometheus.CounterVec
	logoutsDue   prometheus.Gauge
	ssfPushes    *prometheus.CounterVec

	// observers holds each route's and status's collectors once found:
	// finding them in the vectors hashes the labels and formats the status
	// on every request. The map is replaced, never changed, so a request
	// reads it without a lock; routes are the mux's patterns and statuses a
	// few, so it stays small.
	observers   atomic.Pointer[map[routeStatus]*routeObservers]
	observersMu sync.Mutex // held to replace observers
}

// routeStatus keys the collectors of one route and status.
type routeStatus struct {
	route string
	code  int
}

// routeObservers are the collectors of one route and status.
type routeObservers struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// New creates the collectors and registers them with the Go and process
// collectors on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_http_requests_total", Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tokend_http_request_duration_seconds", Help: "HTTP request latency by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"endpoint"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_revocations_total", Help: "Grants revoked, by reason.",
		}, []string{"reason"}),
		revokedToks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_revoked_tokens_total", Help: "Unexpired tokens covered by revocations, by reason.",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokend_client_auth_failures_total", Help: "Failed client authentications.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tokend_group_commit_batch_size", Help: "Writes committed together in one transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_sweep_deleted_total", Help: "Rows deleted by the expiry sweep, by kind.",
		}, []string{"kind"}),
		sweeps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokend_sweep_batches_total", Help: "Sweep batches run.",
		}),
		liveTokens: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tokend_live_tokens", Help: "Unexpired, unrevoked tokens (refreshed periodically).",
		}),
		liveGrants: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tokend_live_grants", Help: "Unexpired, unrevoked grants (refreshed periodically).",
		}),
		liveSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tokend_live_sessions", Help: "Browser sessions not ended and not expired (refreshed periodically).",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokend_overload_rejections_total", Help: "Requests refused with 503 by admission control.",
		}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_backchannel_logouts_total",
			Help: "Attempts to deliver back-channel Logout Tokens, by outcome: delivered, retried or abandoned.",
		}, []string{"outcome"}),
		logoutsDue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tokend_backchannel_logouts_pending", Help: "Back-channel Logout Tokens queued and not yet delivered or abandoned.",
		}),
	}
	// Every outcome shows from the start, at 0, so that a rate over it
	// is defined before the first logout.
	for _, o := range []string{"delivered", "retried", "abandoned"} {
		m.logouts.WithLabelValues(o)
	}
	m.ssfPushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokend_ssf_pushes_total", Help: "Shared Signals SET push attempts, by outcome: delivered, retried, failed (rejected by the receiver), paused (the stream was paused).",
	}, []string{"outcome"})
	for _, o := range []string{"delivered", "retried", "failed", "paused"} {
		m.ssfPushes.WithLabelValues(o)
	}
	m.Registry.MustRegister(m.requests, m.latency, m.revocations, m.revokedToks, m.authFailures,
		m.batchSize, m.swept, m.sweeps, m.liveTokens, m.liveGrants, m.liveSessions, m.rejected, m.logouts, m.logoutsDue, m.ssfPushes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format, to anyone: for
// a listener of its own that only operators reach.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// ObserveRequest records one request; endpoint is the route pattern the
// mux matched, never the raw path, so clients cannot mint label values.
func (m *Metrics) ObserveRequest(endpoint string, code int, d time.Duration) {
	o := m.observersOf(routeStatus{endpoint, code})
	o.requests.Inc()
	o.latency.Observe(d.Seconds())
}

// observersOf returns the collectors of key, adding them the first time.
func (m *Metrics) observersOf(key routeStatus) *routeObservers {
	if all := m.observers.Load(); all != nil {
		if o := (*all)[key]; o != nil {
			return o
		}
	}
	m.observersMu.Lock()
	defer m.observersMu.Unlock()
	all := map[routeStatus]*routeObservers{}
	if old := m.observers.Load(); old != nil {
		if o := (*old)[key]; o != nil {
			return o
		}
		all = maps.Clone(*old)
	}
	o := &routeObservers{
		requests: m.requests.WithLabelValues(key.route, strconv.Itoa(key.code)),
		latency:  m.latency.WithLabelValues(key.route),
	}
	all[key] = o
	m.observers.Store(&all)
	return o
}

// AuthFailed counts a failed client authentication.
func (m *Metrics) AuthFailed() { m.authFailures.Inc() }

// Rejected counts a request refused by admission control.
func (m *Metrics) Rejected() { m.rejected.Inc() }

// Committed records the size of one group commit.
func (m *Metrics) Committed(batch int) { m.batchSize.Observe(float64(batch)) }

// Swept records one sweep batch.
func (m *Metrics) Swept(r store.SweepResult) {
	m.sweeps.Inc()
	m.swept.WithLabelValues("grants").Add(float64(r.Grants))
	m.swept.WithLabelValues("tokens").Add(float64(r.Tokens))
	m.swept.WithLabelValues("jtis").Add(float64(r.JTIs))
	m.swept.WithLabelValues("codes").Add(float64(r.Codes))
	m.swept.WithLabelValues("sessions").Add(float64(r.Sessions))
}

// Revoked records a revocation of reason.
func (m *Metrics) Revoked(reason string, r store.RevokeResult) {
	if r.Grants == 0 {
		return
	}
	m.revocations.WithLabelValues(reason).Add(float64(r.Grants))
	m.revokedToks.WithLabelValues(reason).Add(float64(r.Tokens))
}

// BackchannelLogout counts one attempt at delivering a Logout Token by its
// outcome (package backchannel's Outcome values).
func (m *Metrics) BackchannelLogout(outcome string) { m.logouts.WithLabelValues(outcome).Inc() }

// BackchannelPending sets the count of Logout Tokens still to deliver.
func (m *Metrics) BackchannelPending(n int64) { m.logoutsDue.Set(float64(n)) }

// StatsSource counts the live rows; store.Maintenance provides it.
type StatsSource interface {
	Stats(ctx context.Context, now time.Time) (store.Stats, error)
}

// RefreshLive sets the live gauges from src every interval until ctx ends.
// Counting is a scan of the live grants and their tokens, so it runs in
// the background rather than at every scrape, and never more than a
// hundredth of the time: after a count that took d it waits at least
// 100×d. With millions of live tokens one count is a long scan, which at
// a short fixed interval would take a large share of a core from the
// requests; the gauges are older instead.
func (m *Metrics) RefreshLive(ctx context.Context, src StatsSource, interval time.Duration, log *slog.Logger) {
	const dutyCycle = 100
	for {
		start := time.Now()
		st, err := src.Stats(ctx, start)
		took := time.Since(start)
		if err == nil {
			m.liveTokens.Set(float64(st.LiveTokens))
			m.liveGrants.Set(float64(st.LiveGrants))
			m.liveSessions.Set(float64(st.LiveSessions))
		} else if ctx.Err() == nil && log != nil {
			log.Warn("metrics: count live tokens", slog.String("cause", err.Error()))
		}
		t := time.NewTimer(max(interval, dutyCycle*took))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
