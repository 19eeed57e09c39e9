package sqlitedrivers

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// TestDrivers runs issuance, revocation and lookup on every driver, alone
// and grouped, and checks what the statements report and leave: that
// each driver runs the store's statements as modernc does.
func TestDrivers(t *testing.T) {
	ctx := context.Background()
	for _, d := range Drivers {
		t.Run(d.Name, func(t *testing.T) {
			s, err := Open(d, filepath.Join(t.TempDir(), "tokend.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.Version()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: SQLite %s", d.Name, v)

			// Issue grant 0 alone, then 1..40 grouped (chunks 32 and 8).
			if err := s.Issue(ctx, []Grant{grant(0)}); err != nil {
				t.Fatal(err)
			}
			var gs []Grant
			for i := 1; i <= 40; i++ {
				gs = append(gs, grant(i))
			}
			if err := s.Issue(ctx, gs); err != nil {
				t.Fatal(err)
			}
			wantCount(t, s, "grants", 41)
			wantCount(t, s, "tokens", 82)

			r, err := s.Lookup(ctx, tokenHash(5, 0))
			if err != nil || r.GrantID != grant(5).ID || r.Kind != "access_token" || r.Revoked || r.GrantExpiresAt != grant(5).ExpiresAt {
				t.Fatalf("Lookup = %+v, %v", r, err)
			}
			if _, err := s.Lookup(ctx, tokenHash(99, 0)); !errors.Is(err, sql.ErrNoRows) {
				t.Fatalf("Lookup of an unknown token: %v, want sql.ErrNoRows", err)
			}
			checkRevocations(t, s)
		})
	}
}

// checkRevocations revokes tokens of the grants 0..40 that TestDrivers
// issued, alone and grouped, and checks the results and the events.
func checkRevocations(t *testing.T, s *Store) {
	ctx := context.Background()
	// Alone: grant 0 by its refresh token; by another client, nothing.
	other := revocation(2, 0)
	other.ClientID = "c2"
	for _, c := range []struct {
		rv   Revocation
		want Revoked
	}{
		{revocation(0, 1), Revoked{Found: true, Grants: 1, Tokens: 2, Seq: 1}},
		{revocation(0, 0), Revoked{Found: true}},
		{other, Revoked{Found: true}},
		{revocation(99, 0), Revoked{}},
	} {
		res, err := s.Revoke(ctx, []Revocation{c.rv})
		if err != nil || res[0] != c.want {
			t.Fatalf("Revoke alone = %+v, %v; want %+v", res, err, c.want)
		}
	}

	// Grouped: grants 1..32 by one token each, grant 1 again (the
	// first revokes it), a token of another kind, an unknown one.
	var revs []Revocation
	for i := 1; i <= 32; i++ {
		revs = append(revs, revocation(i, i%2))
	}
	wrongKind := revocation(33, 0)
	wrongKind.Kind = "refresh_token"
	revs = append(revs, revocation(1, 0), wrongKind, revocation(99, 1))
	res, err := s.Revoke(ctx, revs)
	if err != nil {
		t.Fatal(err)
	}
	for j, got := range res {
		want := Revoked{Found: true, Grants: 1, Tokens: 2, Seq: int64(j + 2)}
		switch {
		case j == 32:
			want = Revoked{Found: true}
		case j > 32:
			want = Revoked{}
		}
		if got != want {
			t.Errorf("Revoke grouped, op %d = %+v, want %+v", j, got, want)
		}
	}
	wantCount(t, s, "revocation_events", 33)
	var bad int
	if err := s.r.QueryRow(`SELECT count(*) FROM revocation_events WHERE tokens != 2 OR length(token_hashes) != 64`).Scan(&bad); err != nil || bad != 0 {
		t.Errorf("events not covering two tokens: %d, %v", bad, err)
	}
	if r, err := s.Lookup(ctx, tokenHash(3, 0)); err != nil || !r.Revoked || r.RevokedAt != revocation(3, 0).Time {
		t.Errorf("Lookup of a revoked grant's token = %+v, %v", r, err)
	}
	if r, err := s.Lookup(ctx, tokenHash(33, 0)); err != nil || r.Revoked {
		t.Errorf("Lookup of a token not revoked = %+v, %v", r, err)
	}
}

func wantCount(t *testing.T, s *Store, table string, want int) {
	t.Helper()
	if n, err := s.Count(table); err != nil || n != want {
		t.Fatalf("%s: %d rows, %v; want %d", table, n, err, want)
	}
}

// TestPragmas checks that every driver's connections run the store's
// pragmas: a driver that ignored its DSN's would be compared with less
// durable commits (or a smaller cache) than tokend's.
func TestPragmas(t *testing.T) {
	for _, d := range Drivers {
		t.Run(d.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokend.db")
			s, err := Open(d, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			want := map[*sql.DB]map[string]string{
				s.w: {"journal_mode": "wal", "synchronous": "2", "temp_store": "2", "cache_size": "-65536",
					"busy_timeout": "5000", "foreign_keys": "1", "query_only": "0"},
				s.r: {"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "query_only": "1"},
			}
			for db, pragmas := range want {
				for name, v := range pragmas {
					var got string
					if err := db.QueryRow("PRAGMA " + name).Scan(&got); err != nil || got != v {
						t.Errorf("PRAGMA %s = %q, %v; want %q", name, got, err, v)
					}
				}
			}
			// The writer's transactions take the write lock at BEGIN
			// (IMMEDIATE): another connection that asks for it, without
			// waiting, is refused while one is open and nothing in it ran.
			tx, err := s.w.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			other, err := d.Open(path, true)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			c, err := other.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.ExecContext(context.Background(), "PRAGMA busy_timeout = 0"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err == nil {
				c.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck
				t.Error("BEGIN IMMEDIATE beside the writer's transaction succeeded: the writer's BEGIN is not IMMEDIATE")
			}
		})
	}
}
