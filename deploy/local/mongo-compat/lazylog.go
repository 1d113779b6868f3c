package main

// FerretDB 1.24 logs every SQL statement it runs at debug level, with the statement's
// arguments (whole documents) attached through Logger.With, and slog's TextHandler
// formats attributes given to With at once, whether or not a record is ever written:
// a CPU profile of the auditor's first sight of 35,700 groups showed 12 % of this
// server's CPU quoting documents into log lines that the error level then discarded.
// lazyHandler keeps what With and WithGroup are given and hands it to the real handler
// only when a record is written.

import (
	"context"
	"log/slog"
)

type lazyStep struct {
	attrs []slog.Attr
	group string
}

type lazyHandler struct {
	inner slog.Handler
	steps []lazyStep
}

func newLazyHandler(inner slog.Handler) *lazyHandler {
	return &lazyHandler{inner: inner}
}

func (h *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	inner := h.inner
	for _, s := range h.steps {
		if s.attrs != nil {
			inner = inner.WithAttrs(s.attrs)
		} else {
			inner = inner.WithGroup(s.group)
		}
	}
	return inner.Handle(ctx, r)
}

func (h *lazyHandler) with(step lazyStep) *lazyHandler {
	steps := make([]lazyStep, len(h.steps), len(h.steps)+1)
	copy(steps, h.steps)
	return &lazyHandler{inner: h.inner, steps: append(steps, step)}
}

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(lazyStep{attrs: attrs})
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(lazyStep{group: name})
}
