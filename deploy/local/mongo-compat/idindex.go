package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// FerretDB 1.24 pushes a `{_id: <string>}` filter down to SQLite as
// `_ferretdb_sjson->'$._id' = ?`, but the unique index it creates for `_id` is on the
// expression `_ferretdb_sjson->"_id"`, which SQLite does not treat as the same
// expression: every lookup by `_id` scans the whole table (600 ms at 200,000 documents).
// MongoDB always serves `_id` lookups from an index, and secmonkey's reads are designed
// around that, so this keeper adds an index on exactly the pushed-down expression to
// every collection table, at start and then whenever a database file changes.
// It only ever creates indexes; FerretDB's own metadata is left as it is, and dropping a
// collection drops its table with this index.

const idIndexSuffix = "_secmonkey_id"

type fileStamp struct{ db, wal time.Time }

func stamp(path string) (fileStamp, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	s := fileStamp{db: info.ModTime()}
	if wal, err := os.Stat(path + "-wal"); err == nil {
		s.wal = wal.ModTime()
	}
	return s, true
}

// indexFile adds the `_id` expression index to every table of one database file that
// lacks it and returns how many it created.
func indexFile(ctx context.Context, path string) (int, error) {
	// mode=rw: never create a file FerretDB has just deleted (a dropped database).
	db, err := sql.Open("sqlite", "file:"+path+"?mode=rw&_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	// A table created by this build has its `_id` index on that expression already
	// (patches/ferretdb-id-index.patch); only tables of older files need one.
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m
			WHERE m.type = 'index' AND m.tbl_name = c.table_name
			AND (m.name = c.table_name || ? OR m.sql LIKE '%''$._id'')%'))
		AND EXISTS (SELECT 1 FROM sqlite_master t WHERE t.type = 'table' AND t.name = c.table_name)`,
		idIndexSuffix)
	if err != nil {
		return 0, err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return 0, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	created := 0
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+idIndexSuffix, t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return created, fmt.Errorf("%s: %w", t, err)
		}
		created++
	}
	return created, nil
}

// keepIDIndexes indexes every database file now and then re-checks the files that
// changed, every `every`, until ctx ends.
func keepIDIndexes(ctx context.Context, dataDir string, every time.Duration, logger *slog.Logger) {
	seen := map[string]fileStamp{}
	for {
		files, _ := filepath.Glob(filepath.Join(dataDir, "*.sqlite"))
		for _, path := range files {
			s, ok := stamp(path)
			if !ok || seen[path] == s {
				continue
			}
			n, err := indexFile(ctx, path)
			if err != nil {
				// A database being created or dropped at this instant: try again next pass.
				logger.Debug("cannot index _id yet", "file", path, "error", err)
				continue
			}
			if n > 0 {
				logger.Info("indexed _id lookups", "file", filepath.Base(path), "tables", n)
			}
			if s2, ok := stamp(path); ok {
				seen[path] = s2
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
