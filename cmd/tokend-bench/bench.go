package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/oauth"
)

// The operations, by the names the table prints.
const (
	opCeiling = "ceiling (bare net/http)"
	// opCeilingAnswer is the ceiling answering each request with the
	// headers and body an introspection gets, worked out by nothing: what
	// the answer's bytes alone cost.
	opCeilingAnswer     = "ceiling answering as introspection"
	opIssueOpaque       = "issue opaque (client_credentials)"
	opIssueJWTRS256     = "issue JWT RS256"
	opIssueJWTES256     = "issue JWT ES256"
	opRevoke            = "revoke (distinct tokens)"
	opIntrospectActive  = "introspect active"
	opIntrospectRevoked = "introspect revoked"
	// opRevokeAgain revokes tokens already revoked, which the server's
	// cache answers without a write: revocation's request path alone, the
	// most a revocation could reach with a store that cost nothing.
	opRevokeAgain = "revoke again (no write)"
	opRefresh     = "refresh (rotation)"
	// opExchangeCode selects the phase; its row adds the ID Token's
	// algorithm, as the JWT rows name theirs.
	opExchangeCode = "exchange code (authorization_code)"
)

// opKeys are the names --ops takes, in the order the operations run.
var opKeys = []struct{ key, name string }{
	{"ceiling-answer", opCeilingAnswer},
	{"issue", opIssueOpaque},
	{"jwt-rs256", opIssueJWTRS256},
	{"introspect", opIntrospectActive},
	{"revoke", opRevoke},
	{"introspect-revoked", opIntrospectRevoked},
	{"revoke-again", opRevokeAgain},
	{"refresh", opRefresh},
	{"code", opExchangeCode},
	{"jwt-es256", opIssueJWTES256},
}

// benchConfig is what the flags of a load run say.
type benchConfig struct {
	tokend    string // tokend binary; built when empty
	target    string // URL of a running server; empty: start one
	data      string // data folder of the target (for the CLI), or of the started server
	backend   string // sqlite or postgres
	dsn       string
	ops       map[string]bool
	duration  time.Duration
	workers   int
	preissue  int  // tokens for the revocation pool; 0: enough for 3× the issuance rate
	active    int  // tokens introspected while active, in turn
	raw       bool // the minimal HTTP/1.1 client instead of net/http's
	serverCPU int  // -1: not pinned
	logLevel  string
	// gomaxprocs, when positive, is the server's GOMAXPROCS: under
	// taskset the Go runtime gives it one P, and a goroutine blocked in
	// fsync holds that P until the runtime's monitor takes it back.
	gomaxprocs int
	// profileDir, when set, receives a CPU profile of the server for each
	// measured phase (serve --debug-addr).
	profileDir string
	keep       bool // keep the temporary folder
	fill       int  // live tokens put into the store before the server starts
	overload   int  // >1: each phase again with this many times the workers
	stdout     io.Writer
	stderr     io.Writer
}

// bench is one load run.
type bench struct {
	cfg    benchConfig
	bin    string
	tmp    string
	client *http.Client
	rows   []*result
	ceil   *result
	logf   func(format string, args ...any)

	opaque, jwt    client // registered by setup
	code           client // of the authorization code grant, with codeRedirect
	user, password string
}

func runBench(ctx context.Context, cfg benchConfig) error {
	b := &bench{cfg: cfg, client: loadClient(cfg.workers)}
	loadavg := loadAvg()
	b.logf = func(format string, args ...any) {
		fmt.Fprintf(cfg.stderr, "tokend-bench: "+format+"\n", args...)
	}
	tmp, err := os.MkdirTemp("", "tokend-bench-")
	if err != nil {
		return err
	}
	b.tmp = tmp
	if cfg.keep {
		b.logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	b.bin = cfg.tokend
	if b.bin == "" {
		b.logf("building tokend")
		if b.bin, err = buildTokend(ctx, tmp); err != nil {
			return err
		}
	}
	if cfg.data == "" {
		cfg.data = filepath.Join(tmp, "data")
		b.cfg.data = cfg.data
	}

	if err := b.setup(ctx); err != nil {
		return err
	}
	if err := b.fillStore(ctx, cfg.fill); err != nil {
		return err
	}
	if err := b.measureCeiling(ctx); err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	if err := b.measureServer(ctx); err != nil {
		return err
	}

	writeReport(cfg.stdout, b.machine(loadavg), b.ceil, b.rows)
	return nil
}

// machine describes the run for the report's header: the machine, the
// load and where each side ran; loadavg is the load before the run.
func (b *bench) machine(loadavg string) machine {
	cfg := b.cfg
	m := thisMachine()
	m.backend = cfg.backend
	m.loadavg = loadavg
	if v := goVersionOf(b.bin); v != "" && v != m.goVer {
		m.goVer += " (tokend: " + v + ")"
	}
	m.workers, m.dur, m.fill = cfg.workers, cfg.duration, cfg.fill
	m.client = "net/http client"
	if cfg.raw {
		m.client = "raw HTTP/1.1 client"
	}
	switch {
	case cfg.target != "" && cfg.serverCPU >= 0:
		m.pinning = "ceiling pinned to CPU 0, load generator to CPU 1 (taskset); the --target runs where it was started"
	case cfg.target != "":
		m.pinning = "not pinned; the --target runs where it was started"
	case cfg.serverCPU >= 0:
		m.pinning = "server and ceiling pinned to CPU 0, load generator to CPU 1 (taskset)"
	default:
		m.pinning = "not pinned"
	}
	if cfg.backend == "sqlite" {
		m.backend += " (WAL, synchronous=FULL: a 200 means on disk)"
	}
	if cfg.gomaxprocs > 0 && cfg.target == "" {
		m.pinning += fmt.Sprintf("; tokend run with GOMAXPROCS=%d", cfg.gomaxprocs)
	}
	return m
}

// ceilingBody is the form the ceiling reads: a revocation's, with a token
// of the real length.
var ceilingBody = "token=tka_" + strings.Repeat("x", 49) + "&token_type_hint=access_token"

func (b *bench) measureCeiling(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p, err := startProc(ctx, pinned(b.cfg.serverCPU, self, "ceiling", "--addr", "127.0.0.1:0"), nil, filepath.Join(b.tmp, "ceiling.log"))
	if err != nil {
		return err
	}
	defer p.stop()
	b.logf("measuring the ceiling at %s", p.url)
	ph := phase{
		name: opCeiling,
		path: oauth.PathRevoke,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("client:secret")),
		body: func(int) (string, bool) { return ceilingBody, true },
	}
	b.ceil = ph.run(ctx, b.gen(p.url), b.cfg.workers, b.cfg.duration, cpuMeter{serverPID: p.pid()})
	if b.want(opCeilingAnswer) {
		b.logf("measuring %s", opCeilingAnswer)
		ph.name, ph.path = opCeilingAnswer, pathAnswer
		ph.check = func(_ int, body []byte) bool { return bytes.Contains(body, []byte(`"active":true`)) }
		b.rows = append(b.rows, ph.run(ctx, b.gen(p.url), b.cfg.workers, b.cfg.duration, cpuMeter{serverPID: p.pid()}))
	}
	return nil
}

// server is a tokend under test: one started by the program, or the
// --target.
type server struct {
	url string
	p   *proc // nil for a --target
	// debugAddr is where the server serves Go's profiler; empty when off.
	debugAddr string
}

func (s *server) stop() {
	if s.p != nil {
		s.p.stop()
	}
}

func (b *bench) cpuOf(s *server) cpuMeter {
	if s.p == nil {
		return cpuMeter{}
	}
	return cpuMeter{serverPID: s.p.pid()}
}

// storeArgs are the flags that select the backend, for serve and the CLI.
func (b *bench) storeArgs() []string {
	if b.cfg.backend == "postgres" {
		return []string{"--dsn", b.cfg.dsn}
	}
	return nil
}

// startServer starts tokend serve on the data folder with JWTs signed
// with alg, or returns the --target.
func (b *bench) startServer(ctx context.Context, alg string) (*server, error) {
	if b.cfg.target != "" {
		return &server{url: strings.TrimSuffix(b.cfg.target, "/")}, nil
	}
	args := []string{b.bin, "serve", "--insecure-http", "--addr", "127.0.0.1:0", "--data", b.cfg.data}
	if alg != "" {
		args = append(args, "--jwt-alg", alg)
	}
	args = append(args, b.storeArgs()...)
	if b.cfg.logLevel != "" {
		args = append(args, "--log-level", b.cfg.logLevel)
	}
	var debugAddr string
	if b.cfg.profileDir != "" {
		var err error
		if debugAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--debug-addr", debugAddr)
	}
	var env []string
	if b.cfg.gomaxprocs > 0 {
		env = append(env, fmt.Sprintf("GOMAXPROCS=%d", b.cfg.gomaxprocs))
	}
	p, err := startProc(ctx, pinned(b.cfg.serverCPU, args...), env, filepath.Join(b.tmp, "tokend"+alg+".log"))
	if err != nil {
		return nil, b.explain(err)
	}
	b.logf("tokend (%s) at %s", strings.Join(args[1:], " "), p.url)
	return &server{url: p.url, p: p, debugAddr: debugAddr}, nil
}

// gen returns the generator of a timed phase against base.
func (b *bench) gen(base string) generator { return b.genN(base, b.cfg.workers) }

// genN returns a generator of workers connections against base.
func (b *bench) genN(base string, workers int) generator {
	if b.cfg.raw && strings.HasPrefix(base, "http://") {
		if g, err := newRawGen(base, workers); err == nil {
			return g
		}
	}
	c := b.client
	if workers > b.cfg.workers { // an --overload phase: more connections than b.client keeps
		c = loadClient(workers)
	}
	return newHTTPGen(c, base, workers)
}

// profile starts a CPU profile of srv for the phase called name, when
// the server was started with --server-profile; the function it returns
// saves it once the phase is over and says where.
func (b *bench) profile(ctx context.Context, srv *server, name string) func() {
	if srv.debugAddr == "" {
		return func() {}
	}
	profiled := profilePhase(ctx, srv.debugAddr, b.cfg.profileDir, name, b.cfg.duration)
	return func() {
		if path, err := profiled(); err != nil {
			b.logf("CPU profile of %s: %v", name, err)
		} else {
			b.logf("CPU profile of %s: %s", name, path)
		}
	}
}

// measure runs ph on srv with the run's workers and, with --overload K,
// again with K times as many, the row of an overloaded server: what
// admission control must turn into quick 503s rather than a queue.
func (b *bench) measure(ctx context.Context, srv *server, ph phase) {
	b.logf("measuring %s", ph.name)
	profiled := b.profile(ctx, srv, ph.name)
	b.rows = append(b.rows, ph.run(ctx, b.gen(srv.url), b.cfg.workers, b.cfg.duration, b.cpuOf(srv)))
	profiled()
	if k := b.cfg.overload; k > 1 {
		base := b.rows[len(b.rows)-1]
		ph.name = fmt.Sprintf("%s, %d× workers", ph.name, k)
		b.logf("measuring %s", ph.name)
		r := ph.run(ctx, b.genN(srv.url, k*b.cfg.workers), k*b.cfg.workers, b.cfg.duration, b.cpuOf(srv))
		if p := base.hist.quantile(0.99); p > 0 {
			r.note = fmt.Sprintf("p99 of the requests served %.1f× that at %d workers", float64(r.hist.quantile(0.99))/float64(p), b.cfg.workers)
		}
		b.rows = append(b.rows, r)
	}
}

// maxWorkers is the most workers a phase of the run may have.
func (b *bench) maxWorkers() int { return b.cfg.workers * max(1, b.cfg.overload) }

func (b *bench) want(names ...string) bool {
	for _, n := range names {
		if b.cfg.ops[n] {
			return true
		}
	}
	return false
}

func (b *bench) createClient(ctx context.Context, name string, extra ...string) (client, error) {
	c, err := createClient(ctx, b.bin, b.cfg.data, name, append(extra, b.storeArgs()...)...)
	return c, b.explain(err)
}

// setup registers the clients and the user of the run with the CLI.
func (b *bench) setup(ctx context.Context) error {
	var err error
	if b.opaque, err = b.createClient(ctx, "bench-opaque"); err != nil {
		return err
	}
	if b.want(opIssueJWTRS256, opIssueJWTES256) {
		if b.jwt, err = b.createClient(ctx, "bench-jwt", "--token-format", "jwt", "--grant", "client_credentials"); err != nil {
			return err
		}
	}
	if b.want(opExchangeCode) {
		if b.code, err = b.createClient(ctx, "bench-code", "--grant", oauth.GrantAuthorizationCode, "--redirect-uri", codeRedirect); err != nil {
			return err
		}
	}
	// A name of its own: a --target's data folder or a PostgreSQL database
	// may hold the user of an earlier run.
	b.user, b.password = fmt.Sprintf("bench-%d", time.Now().UnixNano()), "bench-password"
	if b.want(opRefresh, opExchangeCode) {
		if _, err := b.cli(ctx, b.password+"\n", "user", "add", b.user, "--password-stdin"); err != nil {
			return err
		}
	}
	return nil
}

// cli runs a tokend CLI command on the run's store.
func (b *bench) cli(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	out, err := cli(ctx, b.bin, b.cfg.data, stdin, append(args, b.storeArgs()...)...)
	return out, b.explain(err)
}

// explain adds a hint to the error of a tokend that does not know --dsn.
func (b *bench) explain(err error) error {
	if err != nil && b.cfg.backend == "postgres" && strings.Contains(err.Error(), "-dsn") {
		return fmt.Errorf("this tokend does not take --dsn (it has no PostgreSQL backend): %w", err)
	}
	return err
}

// measureServer runs the operations against tokend: everything but ES256
// on a server that signs with RS256, then ES256 on the same data folder
// with a server that signs with ES256 (the algorithm is the server's).
func (b *bench) measureServer(ctx context.Context) error {
	opaque, jwtc, user, password := b.opaque, b.jwt, b.user, b.password
	if b.cfg.target != "" {
		// One server, one algorithm: JWT issuance is measured once, named
		// by the algorithm the target signs with.
		srv, _ := b.startServer(ctx, "")
		return b.measureFirst(ctx, srv, opaque, jwtc, user, password)
	}
	if b.want(opIssueOpaque, opIssueJWTRS256, opIntrospectActive, opRevoke, opIntrospectRevoked, opRevokeAgain, opRefresh, opExchangeCode) {
		alg := "" // the server's default, unless RS256 is measured
		if b.want(opIssueJWTRS256) {
			alg = "RS256"
		}
		srv, err := b.startServer(ctx, alg)
		if err != nil {
			return err
		}
		err = b.measureFirst(ctx, srv, opaque, jwtc, user, password)
		srv.stop()
		if err != nil {
			return err
		}
	}
	if b.want(opIssueJWTES256) {
		srv, err := b.startServer(ctx, "ES256")
		if err != nil {
			return err
		}
		defer srv.stop()
		return b.measureJWT(ctx, srv, jwtc, "ES256")
	}
	return nil
}

// measureFirst measures every operation but JWT ES256 issuance on srv.
func (b *bench) measureFirst(ctx context.Context, srv *server, opaque, jwtc client, user, password string) error {
	f := &firstServer{b: b, srv: srv, auth: opaque.basic(), revokePool: &pool{}}
	if b.want(opIssueOpaque) {
		f.issueOpaque(ctx)
	}
	switch {
	case b.cfg.target != "" && b.want(opIssueJWTRS256, opIssueJWTES256):
		if err := b.measureJWT(ctx, srv, jwtc, ""); err != nil {
			return err
		}
	case b.want(opIssueJWTRS256):
		if err := b.measureJWT(ctx, srv, jwtc, "RS256"); err != nil {
			return err
		}
	}
	if b.want(opIntrospectActive) {
		if err := f.introspectActive(ctx); err != nil {
			return err
		}
	}
	if b.want(opRevoke, opIntrospectRevoked, opRevokeAgain) {
		if err := f.fillRevokePool(ctx); err != nil {
			return err
		}
	}
	if b.want(opRevoke) {
		f.revoke(ctx)
	}
	if b.want(opIntrospectRevoked) {
		if err := f.introspectRevoked(ctx); err != nil {
			return err
		}
	}
	if b.want(opRevokeAgain) {
		if err := f.revokeAgain(ctx); err != nil {
			return err
		}
	}
	if b.want(opRefresh) {
		if err := f.refresh(ctx, user, password); err != nil {
			return err
		}
	}
	if b.want(opExchangeCode) {
		if err := f.exchangeCode(ctx, user, password); err != nil {
			return err
		}
	}
	b.client.CloseIdleConnections()
	return nil
}

// firstServer is the state the phases of measureFirst share: the tokens
// one phase leaves for the next.
type firstServer struct {
	b    *bench
	srv  *server
	auth string // the opaque client's
	// revokePool holds distinct active tokens, each revoked once: those
	// of the issuance phase, then as many more as the run wants.
	revokePool *pool
	revoked    []string // tokens the revocation phase revoked
}

// issueOpaque measures opaque issuance and starts the revocation pool with
// the tokens it issued.
func (f *firstServer) issueOpaque(ctx context.Context) {
	issued := make([][]string, f.b.maxWorkers())
	ph := phase{
		name: opIssueOpaque,
		path: oauth.PathToken,
		auth: f.auth,
		body: func(int) (string, bool) { return "grant_type=client_credentials", true },
		check: func(w int, body []byte) bool {
			t, ok := jsonString(body, "access_token")
			if ok {
				issued[w] = append(issued[w], t)
			}
			return ok
		},
	}
	f.b.measure(ctx, f.srv, ph)
	// The tokens issued just now are distinct and active: the start
	// of the revocation pool.
	f.revokePool.tokens = slices.Concat(issued...)
}

// introspectActive measures introspection of tokens issued beforehand,
// untimed, asked about in turn.
func (f *firstServer) introspectActive(ctx context.Context) error {
	b := f.b
	active, err := issueMany(ctx, b.client, f.srv.url, f.auth, b.cfg.active, b.cfg.workers)
	if err != nil {
		return fmt.Errorf("pre-issue tokens to introspect: %w", err)
	}
	ph := phase{
		name:  opIntrospectActive,
		path:  oauth.PathIntrospect,
		auth:  f.auth,
		body:  cycle(active, b.maxWorkers()),
		check: func(_ int, body []byte) bool { return bytes.Contains(body, []byte(`"active":true`)) },
	}
	b.measure(ctx, f.srv, ph)
	return nil
}

// fillRevokePool issues, untimed, the tokens the revocation pool lacks to
// hold --preissue, or by default enough for the revocation phase and its
// --overload phase.
func (f *firstServer) fillRevokePool(ctx context.Context) error {
	b := f.b
	want := b.cfg.preissue
	if want == 0 {
		want = max(20000, 3*len(f.revokePool.tokens)) * max(1, b.cfg.overload)
	}
	if n := want - len(f.revokePool.tokens); n > 0 {
		b.logf("pre-issuing %d tokens to revoke", n)
		more, err := issueMany(ctx, b.client, f.srv.url, f.auth, n, b.cfg.workers)
		if err != nil {
			return fmt.Errorf("pre-issue tokens to revoke: %w", err)
		}
		f.revokePool.tokens = append(f.revokePool.tokens, more...)
	}
	return nil
}

// revoke measures revocation, each token of the pool revoked once, and
// keeps the tokens it revoked for the next phase.
func (f *firstServer) revoke(ctx context.Context) {
	mw := f.b.maxWorkers()
	last := make([]string, mw)
	done := make([][]string, mw)
	ph := phase{
		name: opRevoke,
		path: oauth.PathRevoke,
		auth: f.auth,
		body: func(w int) (string, bool) {
			t, ok := f.revokePool.take()
			last[w] = t
			return "token=" + t + "&token_type_hint=access_token", ok
		},
		check: func(w int, _ []byte) bool {
			done[w] = append(done[w], last[w])
			return true
		},
	}
	f.b.logf("%d tokens in the pool to revoke", len(f.revokePool.tokens))
	f.b.measure(ctx, f.srv, ph)
	f.revoked = slices.Concat(done...)
}

// revokedTokens returns the tokens of the revocation phase, or when it
// did not run, tokens of the pool revoked untimed.
func (f *firstServer) revokedTokens(ctx context.Context) ([]string, error) {
	b := f.b
	if len(f.revoked) == 0 {
		n := min(b.cfg.active, len(f.revokePool.tokens))
		toks := f.revokePool.tokens[:n]
		if err := revokeMany(ctx, b.client, f.srv.url, f.auth, toks, b.cfg.workers); err != nil {
			return nil, err
		}
		f.revoked = toks
	}
	return f.revoked, nil
}

// introspectRevoked measures introspection of revoked tokens, asked about
// in turn.
func (f *firstServer) introspectRevoked(ctx context.Context) error {
	b := f.b
	if _, err := f.revokedTokens(ctx); err != nil {
		return err
	}
	ph := phase{
		name:  opIntrospectRevoked,
		path:  oauth.PathIntrospect,
		auth:  f.auth,
		body:  cycle(f.revoked, b.maxWorkers()),
		check: func(_ int, body []byte) bool { return bytes.Contains(body, []byte(`"active":false`)) },
	}
	b.logf("%d revoked tokens to introspect in turn", len(f.revoked))
	b.measure(ctx, f.srv, ph)
	return nil
}

// revokeAgain measures revocation of tokens revoked already, asked about
// in turn: the last --introspect-tokens the revocation phase revoked,
// which the server's token cache holds. Each is answered 200, as RFC 7009
// answers a token that is no longer valid, and none reaches the store.
func (f *firstServer) revokeAgain(ctx context.Context) error {
	b := f.b
	revoked, err := f.revokedTokens(ctx)
	if err != nil {
		return err
	}
	revoked = revoked[max(0, len(revoked)-b.cfg.active):]
	next := cycle(revoked, b.maxWorkers())
	ph := phase{
		name: opRevokeAgain,
		path: oauth.PathRevoke,
		auth: f.auth,
		body: func(w int) (string, bool) {
			form, ok := next(w)
			return form + "&token_type_hint=access_token", ok
		},
		check: func(int, []byte) bool { return true },
	}
	b.logf("%d revoked tokens to revoke again in turn", len(revoked))
	b.measure(ctx, f.srv, ph)
	return nil
}

// refresh measures refresh token rotation with the run's workers, and not
// again under --overload: each worker walks a chain of its own.
func (f *firstServer) refresh(ctx context.Context, user, password string) error {
	b := f.b
	w := b.cfg.workers
	// One password grant per worker, each worker walking its own chain
	// of rotations: every refresh token is used exactly once.
	chain, err := passwordGrants(ctx, b.client, f.srv.url, f.auth, user, password, w)
	if err != nil {
		return fmt.Errorf("pre-issue refresh tokens (password grant): %w", err)
	}
	ph := phase{
		name: opRefresh,
		path: oauth.PathToken,
		auth: f.auth,
		body: func(w int) (string, bool) {
			t := chain[w]
			chain[w] = "" // spent; a failed refresh ends this worker's chain
			return "grant_type=refresh_token&refresh_token=" + t, t != ""
		},
		check: func(w int, body []byte) bool {
			t, ok := jsonString(body, "refresh_token")
			chain[w] = t
			return ok
		},
	}
	b.logf("measuring %s", ph.name)
	profiled := b.profile(ctx, f.srv, ph.name)
	r := ph.run(ctx, b.gen(f.srv.url), w, b.cfg.duration, b.cpuOf(f.srv))
	profiled()
	if r.exhausted && r.errors > 0 {
		r.note = "a worker stopped when its refresh failed (its chain broke)"
	}
	b.rows = append(b.rows, r)
	return nil
}

// measureJWT measures JWT issuance on srv; alg names the row ("" on a
// --target: read from the first token's header).
func (b *bench) measureJWT(ctx context.Context, srv *server, c client, alg string) error {
	auth := c.basic()
	got, err := issueMany(ctx, b.client, srv.url, auth, 1, 1)
	if err != nil {
		return fmt.Errorf("JWT issuance: %w", err)
	}
	hdrAlg, err := jwtAlg(got[0])
	if err != nil {
		return fmt.Errorf("JWT issuance: %w", err)
	}
	if alg != "" && hdrAlg != alg {
		return fmt.Errorf("JWT issuance: a server started with --jwt-alg %s signed with %s", alg, hdrAlg)
	}
	name := "issue JWT " + hdrAlg
	ph := phase{
		name:  name,
		path:  oauth.PathToken,
		auth:  auth,
		body:  func(int) (string, bool) { return "grant_type=client_credentials", true },
		check: func(_ int, body []byte) bool { return bytes.Contains(body, []byte(`"access_token":"ey`)) },
	}
	b.measure(ctx, srv, ph)
	return nil
}
