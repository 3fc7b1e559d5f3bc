package audit

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/translate"
)

func TestLog(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want map[string]any
	}{
		{"request in", Record{Direction: In, Dialect: "saml2", Kind: AuthnRequest, SP: "https://sp.example/metadata", ID: "_a1", LoA: translate.LoASubstantial},
			map[string]any{FieldDirection: "in", FieldDialect: "saml2", FieldKind: "AuthnRequest", FieldSP: "https://sp.example/metadata",
				FieldID: "_a1", FieldLoA: "substantial", trace.Field: "t1"}},
		{"successful response out", Record{Direction: Out, Dialect: "eidas", Kind: Response, SP: "kit", ID: "_r", InResponseTo: "_a1",
			Status: "Success", LoA: translate.LoAHigh, IdP: translate.IdPAfirma},
			map[string]any{FieldDirection: "out", FieldDialect: "eidas", FieldKind: "Response", FieldSP: "kit", FieldID: "_r",
				FieldInResponseTo: "_a1", FieldStatus: "Success", FieldLoA: "high", FieldIdP: "AFIRMA", trace.Field: "t1"}},
		{"gateway leg, SP unknown, no level", Record{Direction: In, Dialect: Upstream, Kind: LogoutRequest, ID: "_l"},
			map[string]any{FieldDirection: "in", FieldDialect: "upstream", FieldKind: "LogoutRequest", FieldID: "_l", trace.Field: "t1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			ctx := trace.Start(context.Background(), "t1")
			Log(ctx, zap.New(core), tt.rec)
			if logs.Len() != 1 {
				t.Fatalf("%d lines, want 1", logs.Len())
			}
			e := logs.All()[0]
			if e.LoggerName != LoggerName || e.Message != Message {
				t.Errorf("logger %q message %q", e.LoggerName, e.Message)
			}
			got := e.ContextMap()
			if len(got) != len(tt.want) {
				t.Errorf("fields %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if trace.SP(ctx) != tt.rec.SP {
				t.Errorf("SP noted %q, want %q", trace.SP(ctx), tt.rec.SP)
			}
		})
	}
	ctx := trace.Start(context.Background(), "t2")
	Log(ctx, nil, Record{Direction: In, Kind: AuthnRequest, SP: "sp"}) // no logger: no panic, SP still noted
	if trace.SP(ctx) != "sp" {
		t.Error("a nil logger kept the SP from being noted")
	}
}

func TestStatus(t *testing.T) {
	const p = "urn:oasis:names:tc:SAML:2.0:status:"
	tests := []struct{ code, sub, want string }{
		{p + "Success", "", "Success"},
		{p + "Responder", p + "AuthnFailed", "Responder/AuthnFailed"},
		{p + "Success", p + "PartialLogout", "Success/PartialLogout"},
		{p + "Responder", "http://www.stork.gov.eu/saml20/statusCodes/QAANotSupported", "Responder/QAANotSupported"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := Status(tt.code, tt.sub); got != tt.want {
			t.Errorf("Status(%q, %q) = %q, want %q", tt.code, tt.sub, got, tt.want)
		}
	}
}
