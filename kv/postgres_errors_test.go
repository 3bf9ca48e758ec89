package kv

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// A connection the driver has already closed (the server died under it)
// is "retry later", not an internal failure: a failover once answered a
// manifest PUT 500 with "failed to deallocate cached statement(s): conn
// closed", the error pgx returns when its statement cache is cleaned on a
// dead connection.
func TestClosedConnectionIsUnavailable(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "SELECT 1")
	if err == nil {
		t.Fatal("Exec on a closed connection succeeded")
	}
	for _, e := range []error{err, fmt.Errorf("failed to deallocate cached statement(s): %w", err)} {
		if got := pgError(e); !errors.Is(got, ErrUnavailable) {
			t.Errorf("pgError(%v) = %v, want ErrUnavailable", e, got)
		}
	}
	if got := pgError(errors.New("syntax error")); errors.Is(got, ErrUnavailable) {
		t.Errorf("pgError(syntax error) = %v, want not ErrUnavailable", got)
	}
}
