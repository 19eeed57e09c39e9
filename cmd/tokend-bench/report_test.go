package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fixedResult returns a result of ok requests in 2 s whose latencies are
// p50 and p99 (one request in fifty is slow). The table shows the middle
// of each value's histogram bucket, within 0.4% of it: 500 µs is 0.501 ms.
func fixedResult(name string, ok uint64, p50, p99 time.Duration) *result {
	r := &result{name: name, ok: ok, elapsed: 2 * time.Second, statuses: map[int]int{}}
	for i := range ok {
		if i%50 == 49 {
			r.hist.record(p99)
		} else {
			r.hist.record(p50)
		}
	}
	return r
}

func TestWriteTable(t *testing.T) {
	ceil := fixedResult(opCeiling, 120000, 500*time.Microsecond, 2*time.Millisecond)
	ceil.serverCPU, ceil.perReq, ceil.genCPU = 1, 16*time.Microsecond, 0.97
	revoke := fixedResult(opRevoke, 30000, 4*time.Millisecond, 25*time.Millisecond)
	revoke.errors, revoke.exhausted = 3, true
	revoke.serverCPU, revoke.perReq, revoke.genCPU = 0.99, 66*time.Microsecond, 0.31
	revoke.rssKiB = 51200
	intro := fixedResult(opIntrospectActive, 96000, 640*time.Microsecond, 3*time.Millisecond)
	refresh := fixedResult(opRefresh, 2000, 60*time.Millisecond, 150*time.Millisecond)

	var b strings.Builder
	writeTable(&b, ceil, []*result{revoke, intro, refresh})
	want := `| operation | req/s | p50 | p99 | errors | × ceiling | target | server CPU | server CPU/req | load CPU | server RSS |
|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|
| ceiling (bare net/http) | 60000 | 0.501 ms | 2.00 ms | 0 | 1.00 |  | 100% | 16 µs | 97% | – |
| revoke (distinct tokens) (pool ran out) | 15000 | 4.01 ms | 25.0 ms | 3 | 0.25 | ≥ 0.50 missed | 99% | 66 µs | 31% | 50 MiB |
| introspect active | 48000 | 0.641 ms | 3.00 ms | 0 | 0.80 | ≥ 0.80 met | – | – | – | – |
| refresh (rotation) | 1000 | 59.9 ms | 150.0 ms | 0 | 0.02 | ≥ 0.25 missed | – | – | – | – |
`
	if diff := cmp.Diff(b.String(), want); diff != "" {
		t.Errorf("table (-got +want):\n%s", diff)
	}
}

func TestErrorBreakdown(t *testing.T) {
	r := &result{statuses: map[int]int{503: 2, 200: 1, 429: 5}, transport: 4}
	got := errorBreakdown(r)
	want := "200 with a wrong body: 1, 429: 5, 503: 2, transport: 4"
	if got != want {
		t.Errorf("errorBreakdown = %q; want %q", got, want)
	}
}

func TestJSONString(t *testing.T) {
	body := []byte(`{"access_token":"tka_abc","token_type":"Bearer","expires_in":3600,"refresh_token":"tkr_def"}`)
	for name, want := range map[string]string{"access_token": "tka_abc", "refresh_token": "tkr_def", "token_type": "Bearer"} {
		if got, ok := jsonString(body, name); !ok || got != want {
			t.Errorf("jsonString(%q) = %q, %v; want %q, true", name, got, ok, want)
		}
	}
	if got, ok := jsonString(body, "scope"); ok {
		t.Errorf("jsonString(scope) = %q, true; want false", got)
	}
}
