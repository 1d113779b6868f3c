package main

// SQLite lets one connection write at a time; a connection that finds the write lock
// taken calls its busy handler until the lock is free or the handler gives up. FerretDB
// sets busy_timeout, whose handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and
// then 100 ms between attempts: a writer that has waited 33 ms sleeps 25 ms more even
// if the lock is freed a millisecond later, so under concurrent writes the lock sits
// idle while waiters sleep (measured on the bench machine: write commands of 1-3 ms of
// work took 25-110 ms under the auditor's load). This handler polls every 100 µs for
// the first 10 ms and every 500 µs after that, and gives up after the same 10 s, so a
// waiter takes the lock within a fraction of a millisecond of its release.

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const busyGiveUp = 10 * time.Second

// waitingSince holds, per SQLite connection (its sqlite3 pointer), when its current wait
// began. A connection is used by one goroutine at a time, so its entry is too.
var waitingSince sync.Map

// busyWaits counts the handler's calls (what its test checks).
var busyWaits atomic.Int64

func busyHandler(_ *libc.TLS, db uintptr, count int32) int32 {
	busyWaits.Add(1)
	now := time.Now()
	if count == 0 {
		waitingSince.Store(db, now)
	}
	started, _ := waitingSince.Load(db)
	waited := now.Sub(started.(time.Time))
	if waited >= busyGiveUp {
		return 0
	}
	if waited < 10*time.Millisecond {
		time.Sleep(100 * time.Microsecond)
	} else {
		time.Sleep(500 * time.Microsecond)
	}
	return 1
}

// busyFuncPointer is busyHandler as SQLite's C code calls it: the address of its
// function value, as the transpiled library takes it (modernc's `cFuncPointer`).
func busyFuncPointer() uintptr {
	f := busyHandler
	return *(*uintptr)(unsafe.Pointer(&struct {
		f func(*libc.TLS, uintptr, int32) int32
	}{f}))
}

// installBusyHandler replaces the busy handler of every connection the sqlite driver
// opens (FerretDB's included), after its DSN's pragmas are applied.
func installBusyHandler() {
	pointer := busyFuncPointer()
	sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, _ string) error {
		v := reflect.ValueOf(conn)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return fmt.Errorf("unexpected sqlite connection type %T", conn)
		}
		fields := v.Elem()
		db, tls := fields.FieldByName("db"), fields.FieldByName("tls")
		if db.Kind() != reflect.Uintptr || tls.Kind() != reflect.Pointer {
			return fmt.Errorf("unexpected sqlite connection layout %T", conn)
		}
		handle := uintptr(db.Uint())
		if rc := sqlite3.Xsqlite3_busy_handler((*libc.TLS)(unsafe.Pointer(tls.Pointer())), handle, pointer, handle); rc != sqlite3.SQLITE_OK {
			return fmt.Errorf("sqlite3_busy_handler: %d", rc)
		}
		return nil
	})
}
