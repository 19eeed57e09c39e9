package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SSFPush counts one push attempt of a Shared Signals SET by its outcome.
func (m *Metrics) SSFPush(outcome string) { m.ssfPushes.WithLabelValues(outcome).Inc() }

// SSFStream is one Shared Signals stream's figures at a scrape.
type SSFStream struct {
	ID                         string
	Pending, Delivered, Failed int64
	Lag                        time.Duration // age of the oldest pending SET
}

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

// ssfCollector reads every stream's figures at each scrape: they live in
// the store, shared by every instance, so no instance's counter holds
// them.
type ssfCollector struct {
	read                    func(context.Context) ([]SSFStream, error)
	sets, lag, scrapeFailed *prometheus.Desc
}

// SSFStreams registers the per-stream figures, read by read at each
// scrape: SETs by state (delivered, pending, failed) and the lag.
func (m *Metrics) SSFStreams(read func(context.Context) ([]SSFStream, error)) {
	m.Registry.MustRegister(&ssfCollector{
		read: read,
		sets: prometheus.NewDesc("tokend_ssf_stream_sets", "Shared Signals SETs of a stream, by state: pending, delivered, failed.",
			[]string{"stream", "state"}, nil),
		lag: prometheus.NewDesc("tokend_ssf_stream_lag_seconds", "Age of a Shared Signals stream's oldest pending SET; 0 when none is pending.",
			[]string{"stream"}, nil),
		scrapeFailed: prometheus.NewDesc("tokend_ssf_streams_scrape_failed", "1 when the streams' figures could not be read at this scrape.", nil, nil),
	})
}

func (c *ssfCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sets
	ch <- c.lag
	ch <- c.scrapeFailed
}

func (c *ssfCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	streams, err := c.read(ctx)
	failed := 0.0
	if err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeFailed, prometheus.GaugeValue, failed)
	for _, s := range streams {
		for state, n := range map[string]int64{"pending": s.Pending, "delivered": s.Delivered, "failed": s.Failed} {
			ch <- prometheus.MustNewConstMetric(c.sets, prometheus.GaugeValue, float64(n), s.ID, state)
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, s.Lag.Seconds(), s.ID)
	}
}
