package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/sweep"
)

// revokeCommand is `tokend revoke`: a bulk revocation by subject, client or
// both, as POST /admin/revocations does, recorded with actor "admin".
func revokeCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := storeFlags("revoke", stderr)
	var b revocation.Bulk
	fs.StringVar(&b.Subject, "subject", "", "subject of the grants: a user's ID (the sub of its tokens), a client ID for client_credentials grants, or SUB@ISSUER for a JWT bearer grant's subject")
	fs.StringVar(&b.Username, "user", "", "username whose grants to revoke (instead of --subject)")
	fs.StringVar(&b.ClientID, "client", "", "client whose grants to revoke (with --subject or --user: only that pair's)")
	fs.StringVar(&b.Reason, "reason", "admin", "reason recorded in the revocation log: "+strings.Join(revocation.Reasons, ", "))
	asJSON := fs.Bool("json", false, `print {"grants","tokens","seq"} as JSON`)
	check := func(pos []string) error {
		if err := noArgs("revoke", pos); err != nil {
			return err
		}
		if b.Subject == "" && b.Username == "" && b.ClientID == "" {
			return errors.New("revoke: give --subject, --user or --client (revoking everything is not one command)")
		}
		return nil
	}
	return onStore(ctx, fs, args, false, check, func(st backend, _ []string) error {
		if err := knownClient(ctx, st, b.ClientID); err != nil {
			return err
		}
		engine := &revocation.Engine{Store: st}
		res, err := engine.RevokeBulk(ctx, b)
		if err != nil {
			return err
		}
		return printResult(stdout, *asJSON, admin.BulkResponse{Grants: res.Grants, Tokens: res.Tokens, Seq: res.Seq}, func() error {
			fmt.Fprintf(stdout, "revoked %d grants (%d tokens)", res.Grants, res.Tokens)
			if res.Seq > 0 {
				fmt.Fprintf(stdout, "; last log event %d", res.Seq)
			}
			fmt.Fprintln(stdout)
			return nil
		})
	})
}

// knownClient refuses a --client that names no registered client, as the
// engine refuses a --user that names no user: a typo would otherwise
// revoke nothing and say so as if it were done.
func knownClient(ctx context.Context, st store.Reader, id string) error {
	if id == "" {
		return nil
	}
	if _, err := st.GetClient(ctx, id); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke: no client %q (see tokend client list)", id)
	} else if err != nil {
		return err
	}
	return nil
}

// revoker is the revocation engine of a command that started at now: its
// revocations are logged at that instant, which is also the UpdatedAt the
// command gives what it changes.
func revoker(st store.Store, now time.Time) *revocation.Engine {
	return (&revocation.Engine{Store: st}).At(now)
}

// auditCommand is `tokend audit`: the revocation log, oldest first, read
// from the store directly.
func auditCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := storeFlags("audit", stderr)
	since := fs.Int64("since", 0, "show events with a sequence number above this")
	limit := fs.Int("limit", admin.DefaultEventLimit, "show at most this many events; 0 for all")
	asJSON := fs.Bool("json", false, "print a JSON array, as GET /admin/revocations does")
	check := func(pos []string) error {
		if err := noArgs("audit", pos); err != nil {
			return err
		}
		if *since < 0 || *limit < 0 {
			return errors.New("audit: --since and --limit must not be negative")
		}
		return nil
	}
	return onStore(ctx, fs, args, true, check, func(st backend, _ []string) error {
		evs, err := st.Events(ctx, *since, *limit)
		if err != nil {
			return err
		}
		out := make([]admin.Event, len(evs))
		for i, e := range evs {
			out[i] = admin.EventOf(e)
		}
		return printResult(stdout, *asJSON, out, func() error {
			return printTable(stdout, "SEQ\tTIME\tREASON\tACTOR\tSUBJECT\tCLIENT\tGRANT\tTOKENS", out, func(e admin.Event) string {
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d", e.Seq, e.Time, e.Reason, e.Actor, e.Subject, e.ClientID, e.GrantID, e.Tokens)
			})
		})
	})
}

// gcCommand is `tokend gc`: one full sweep by hand, as the server runs
// every --sweep-interval.
func gcCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := storeFlags("gc", stderr)
	var env envValues
	retention := fs.Duration("audit-retention", env.Duration("TOKEND_AUDIT_RETENTION", sweep.DefaultRetention), "delete revocation log events older than this; negative keeps them (env TOKEND_AUDIT_RETENTION)")
	batch := fs.Int("batch", sweep.DefaultBatchSize, "grants or events deleted per transaction")
	check := func(pos []string) error {
		if err := noArgs("gc", pos); err != nil {
			return err
		}
		if env.err != nil {
			return fmt.Errorf("gc: %w", env.err)
		}
		if *batch < 0 {
			return fmt.Errorf("gc: --batch must not be negative, not %d (0 takes the default, %d)", *batch, sweep.DefaultBatchSize)
		}
		if *retention == 0 {
			return errors.New("gc: --audit-retention must not be 0 (it would delete the whole log); use a negative value to keep it")
		}
		return nil
	}
	return onStore(ctx, fs, args, false, check, func(st backend, _ []string) error {
		start := time.Now()
		res, err := sweep.New(sweep.Config{Store: st, Retention: *retention, BatchSize: *batch, Pause: -1}).Once(ctx)
		fmt.Fprintf(stdout, "deleted %d expired grants (%d tokens), %d used assertion jtis, %d finished back-channel logouts, %d finished Shared Signals SETs and %d log events in %d batches (%s)\n",
			res.Grants, res.Tokens, res.JTIs, res.Logouts, res.SETs, res.Events, res.Batches, time.Since(start).Round(time.Millisecond))
		return err
	})
}

// startSweep starts the background sweep of `serve` (package sweep), with
// an interval and a retention serveConfig.Validate accepts, and returns
// the function that stops it and waits for it to finish, which must run
// before the store closes.
func startSweep(ctx context.Context, st sweep.Maintenance, interval, retention time.Duration, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sweep.New(sweep.Config{Store: st, Interval: interval, Retention: retention, Logger: log}).Run(ctx)
	}()
	return func() { cancel(); <-done }
}
