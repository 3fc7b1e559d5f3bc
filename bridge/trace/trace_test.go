package trace

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestTraceFollowsTheLogin(t *testing.T) {
	ctx := Start(context.Background(), "request")
	if ID(ctx) != "request" {
		t.Fatalf("ID = %q", ID(ctx))
	}
	Adopt(ctx, "")
	if ID(ctx) != "request" {
		t.Fatal("an empty id replaced the trace")
	}
	Adopt(ctx, "login")
	core, logs := observer.New(zap.InfoLevel)
	Logger(ctx, zap.New(core)).Info("hop")
	if got := logs.All()[0].ContextMap()[Field]; got != "login" {
		t.Fatalf("log line trace = %v, want the adopted login id", got)
	}
	bare := context.Background()
	Adopt(bare, "x") // no holder: nothing to switch, no panic
	if ID(bare) != "" {
		t.Fatal("a context without a trace has an id")
	}
	Logger(bare, zap.New(core)).Info("no trace")
	if _, ok := logs.All()[1].ContextMap()[Field]; ok {
		t.Fatal("a line without a trace got a trace field")
	}
}

func TestNewID(t *testing.T) {
	id, err := NewID(bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8}))
	if err != nil || id != "0102030405060708" {
		t.Fatalf("NewID = %q, %v", id, err)
	}
	if _, err := NewID(strings.NewReader("short")); err == nil {
		t.Fatal("a short random source gave an id")
	}
}
