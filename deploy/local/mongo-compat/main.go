// Command mongo-compat serves the MongoDB wire protocol over SQLite by
// embedding FerretDB 1.24, for machines where MongoDB itself is not available.
package main

import (
	"context"
	"database/sql"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite"
)

// quarantine moves aside database files that FerretDB cannot open: a file created at
// the instant of a crash lacks FerretDB's metadata table and would stop every restart.
func quarantine(dataDir string, logger *slog.Logger) {
	files, _ := filepath.Glob(filepath.Join(dataDir, "*.sqlite"))
	for _, path := range files {
		if usable(path) {
			continue
		}
		dest := filepath.Join(filepath.Dir(filepath.Clean(dataDir)), "mongo-quarantine")
		if err := os.MkdirAll(dest, 0o755); err != nil {
			log.Fatalf("cannot create %s: %v", dest, err)
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Rename(path+suffix, filepath.Join(dest, filepath.Base(path)+suffix))
		}
		logger.Error("moved an unusable database file aside", "file", path, "to", dest)
	}
}

func usable(path string) bool {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return false
	}
	defer db.Close()
	var n int
	err = db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = '_ferretdb_collections'").Scan(&n)
	return err == nil && n == 1
}

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "data", "directory holding the SQLite files")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	// SQLite's default in WAL mode (FULL) syncs the log to disk at every commit, and
	// FerretDB commits every write command: ~4 ms of fsync each on the bench machine,
	// one writer at a time, so at most ~250 writes a second for every service together.
	// NORMAL syncs at checkpoints instead: a commit survives the process's crash, and an
	// operating system crash or power loss may roll back the last ones, as MongoDB's
	// default does (writes acknowledged before their journal commit, every 100 ms).
	synchronous := flag.String("synchronous", "normal", "SQLite synchronous pragma: normal or full")
	busy := flag.String("busy", "poll", "waiting for SQLite's write lock: poll (every 100-500 µs) or sqlite (its busy_timeout back-off)")
	// Go's collector runs when the heap has grown by GOGC % (100) over the live heap, and
	// this server's live heap is small (tens of MB) while every command allocates its
	// documents several times over: at 100 the auditor's first sight of 35,700 groups cost
	// it 115 CPU-s, at 400 89 s (a recorded sweep replayed, 2026-12-07: the README).
	gcPercent := flag.Int("gc-percent", 400, "Go's GOGC for this server (the heap may grow by this % over the live heap before a collection)")
	flag.Parse()
	debug.SetGCPercent(*gcPercent)

	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Fatalf("cannot create data directory %s: %v", *dataDir, err)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("bad -log-level %q: %v", *logLevel, err)
	}
	logger := slog.New(newLazyHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	if *synchronous != "normal" && *synchronous != "full" {
		log.Fatalf("bad -synchronous %q: normal or full", *synchronous)
	}

	switch *busy {
	case "poll":
		installBusyHandler()
	case "sqlite":
	default:
		log.Fatalf("bad -busy %q: poll or sqlite", *busy)
	}

	quarantine(*dataDir, logger)

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/?_pragma=synchronous(" + *synchronous + ")&_pragma=temp_store(memory)",
		Logger:    logger,
	})
	if err != nil {
		log.Fatalf("cannot start FerretDB: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	go keepIDIndexes(ctx, *dataDir, time.Second, logger)

	logger.Warn("mongo-compat listening", "addr", *listen, "data", *dataDir)
	if err := f.Run(ctx); err != nil {
		log.Fatalf("FerretDB stopped: %v", err)
	}
}
