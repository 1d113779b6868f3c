package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// A writer that finds the write lock taken waits in this program's handler (not SQLite's
// back-off) and writes once the holder commits.
func TestBusyHandlerWaitsForTheWriteLock(t *testing.T) {
	installBusyHandler()
	dsn := "file:" + filepath.Join(t.TempDir(), "busy.sqlite") +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err = db.ExecContext(ctx, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err = holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err = holder.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	before := busyWaits.Load()
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "INSERT INTO t VALUES (2)")
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for busyWaits.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the waiting writer never called the busy handler")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the second writer finished while the lock was held: %v", err)
	default:
	}
	if _, err = holder.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting writer failed: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("rows: %d, want 2", n)
	}
}
