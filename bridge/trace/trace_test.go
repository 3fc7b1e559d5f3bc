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

// TestNoteSP: the first SP noted on a request stays; empty ids and
// contexts without a trace are ignored.
func TestNoteSP(t *testing.T) {
	tests := []struct {
		name  string
		ctx   context.Context
		notes []string
		want  string
	}{
		{"none noted", Start(context.Background(), "r"), nil, ""},
		{"one", Start(context.Background(), "r"), []string{"sp-a"}, "sp-a"},
		{"the first stays", Start(context.Background(), "r"), []string{"sp-a", "sp-b"}, "sp-a"},
		{"empty ignored", Start(context.Background(), "r"), []string{"", "sp-b"}, "sp-b"},
		{"no trace, no SP", context.Background(), []string{"sp-a"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, sp := range tt.notes {
				NoteSP(tt.ctx, sp)
			}
			if got := SP(tt.ctx); got != tt.want {
				t.Fatalf("SP = %q, want %q", got, tt.want)
			}
		})
	}
	ctx := Start(context.Background(), "r")
	NoteSP(ctx, "sp-a")
	Adopt(ctx, "login")
	if SP(ctx) != "sp-a" || ID(ctx) != "login" {
		t.Fatalf("adopting a trace lost the SP: %q %q", SP(ctx), ID(ctx))
	}
}
