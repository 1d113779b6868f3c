package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// countingHandler counts the WithAttrs calls that reach the real handler.
type countingHandler struct {
	slog.Handler
	withAttrs *int
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	*h.withAttrs++
	return countingHandler{h.Handler.WithAttrs(attrs), h.withAttrs}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(name), h.withAttrs}
}

// Attributes given to With reach the real handler only when a record is written, and a
// written record carries them (and its groups) in order.
func TestLazyHandlerFormatsAttributesOnlyForWrittenRecords(t *testing.T) {
	var out bytes.Buffer
	calls := 0
	text := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError})
	logger := slog.New(newLazyHandler(countingHandler{text, &calls})).With(slog.String("name", "sqlite"))

	for i := 0; i < 100; i++ {
		logger.With(slog.Any("args", []any{strings.Repeat("x", 1000)})).DebugContext(context.Background(), ">>> INSERT")
	}
	if calls != 0 || out.Len() != 0 {
		t.Fatalf("debug records disabled: %d WithAttrs calls, %d bytes written", calls, out.Len())
	}

	logger.WithGroup("tx").With(slog.Int("rows", 3)).Error("commit failed")
	line := out.String()
	if calls != 2 || !strings.Contains(line, "name=sqlite") || !strings.Contains(line, "tx.rows=3") ||
		!strings.Contains(line, `msg="commit failed"`) {
		t.Fatalf("%d WithAttrs calls; written: %q", calls, line)
	}
}
