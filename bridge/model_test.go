package bridge

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/translate"
)

func TestRequestIdPDisabled(t *testing.T) {
	tests := []struct {
		name     string
		disabled []IdP
		idp      IdP
		want     bool
	}{
		{"none disabled", nil, pin, false},
		{"this one disabled", []IdP{afirma, pin}, pin, true},
		{"another disabled", []IdP{afirma, segsoc}, pin, false},
		{"empty IdP", []IdP{afirma}, "", false},
	}
	for _, tt := range tests {
		r := Request{DisabledIdPs: tt.disabled}
		if got := r.IdPDisabled(tt.idp); got != tt.want {
			t.Errorf("%s: IdPDisabled(%q) = %v, want %v", tt.name, tt.idp, got, tt.want)
		}
	}
}

func TestResultValue(t *testing.T) {
	res := Result{Attributes: []Attribute{
		{Name: translate.AttrGivenName}, // no values: skipped
		{Name: translate.AttrGivenName, Values: []string{"Ana", "María"}},
		{Name: translate.AttrPersonIdentifier, Values: []string{"ES/ES/1"}},
	}}
	tests := []struct {
		attr Attr
		want string
	}{
		{translate.AttrGivenName, "Ana"},
		{translate.AttrPersonIdentifier, "ES/ES/1"},
		{translate.AttrDateOfBirth, ""},
	}
	for _, tt := range tests {
		if got := res.Value(tt.attr); got != tt.want {
			t.Errorf("Value(%s) = %q, want %q", tt.attr, got, tt.want)
		}
	}
	if got := (&Result{}).Value(translate.AttrGivenName); got != "" {
		t.Errorf("Value of an empty result = %q", got)
	}
}

func TestFailureAndStatus(t *testing.T) {
	res := Failure(StatusAuthnFailed, "cancelled")
	if res.Status.Code != StatusAuthnFailed || res.Status.Message != "cancelled" || res.Status.OK() {
		t.Fatalf("Failure = %+v", res)
	}
	if res.Subject != "" || res.LoA != translate.LoANone || res.Attributes != nil {
		t.Fatalf("a failure carries no identity: %+v", res)
	}
	if !(Status{Code: StatusSuccess}).OK() {
		t.Fatal("Success is not OK")
	}
	for _, code := range []StatusCode{StatusRequestDenied, StatusPartialLogout, ""} {
		if (Status{Code: code}).OK() {
			t.Errorf("%q is OK", code)
		}
	}
}

type dialectState struct {
	Audience string `json:"audience"`
	Format   string `json:"format,omitempty"`
}

func TestEncodeDecodeState(t *testing.T) {
	raw, err := EncodeState(dialectState{Audience: "https-sp", Format: "transient"})
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"audience":"https-sp","format":"transient"}` {
		t.Fatalf("EncodeState = %s", raw)
	}
	// The state survives the request's own JSON encoding (pending logins).
	data, err := json.Marshal(Request{SP: "sp", State: raw})
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	var got dialectState
	if err := DecodeState(req.State, &got); err != nil {
		t.Fatal(err)
	}
	if got != (dialectState{Audience: "https-sp", Format: "transient"}) {
		t.Fatalf("DecodeState = %+v", got)
	}

	// Empty state leaves the value as it is.
	keep := dialectState{Audience: "kept"}
	for _, empty := range []json.RawMessage{nil, {}} {
		if err := DecodeState(empty, &keep); err != nil || keep.Audience != "kept" {
			t.Fatalf("DecodeState(%q) = %v, %+v", empty, err, keep)
		}
	}

	if err := DecodeState(json.RawMessage(`{"audience":`), &keep); err == nil || !strings.Contains(err.Error(), "decode dialect state") {
		t.Fatalf("DecodeState of broken JSON = %v", err)
	}
	if err := DecodeState(json.RawMessage(`{"audience":7}`), &keep); err == nil {
		t.Fatal("DecodeState of a mistyped field accepted")
	}
	if _, err := EncodeState(func() {}); err == nil || !strings.Contains(err.Error(), "encode dialect state") {
		t.Fatalf("EncodeState of a func = %v", err)
	}
}

func TestServiceProviderVerifier(t *testing.T) {
	certs := []*x509.Certificate{{Raw: []byte{1}}, {Raw: []byte{2}}}
	for _, sha1 := range []bool{false, true} {
		sp := &ServiceProvider{SigningCerts: certs, AllowSHA1: sha1, EncryptionCert: &x509.Certificate{Raw: []byte{3}}}
		v := sp.Verifier()
		if !slices.Equal(v.Certs, certs) {
			t.Errorf("Verifier trusts %v, want the SP's signing certificates only", v.Certs)
		}
		if v.Policy.AllowSHA1 != sha1 || len(v.Policy.Methods) != 0 {
			t.Errorf("AllowSHA1 %v: policy %+v", sha1, v.Policy)
		}
	}
	if v := (&ServiceProvider{}).Verifier(); len(v.Certs) != 0 {
		t.Errorf("an SP without certificates trusts %v", v.Certs)
	}
}

func TestServiceProviderEndpoints(t *testing.T) {
	sp := &ServiceProvider{
		ACS: []Endpoint{
			{URL: "acs-post", Binding: "post", Index: 0},
			{URL: "acs-artifact", Binding: "artifact", Index: 1},
		},
		Logout: []Endpoint{{URL: "slo-1"}, {URL: "slo-2", Binding: "redirect"}},
	}
	logout := []struct {
		url  string
		want bool
	}{
		{"slo-1", true}, {"slo-2", true}, {"", false}, {"slo-3", false}, {"acs-post", false}, {"SLO-1", false},
	}
	for _, tt := range logout {
		if got := sp.LogoutRegistered(tt.url); got != tt.want {
			t.Errorf("LogoutRegistered(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
	if (&ServiceProvider{Logout: []Endpoint{{URL: ""}}}).LogoutRegistered("") {
		t.Error("the empty URL is registered")
	}
	acs := []struct {
		url  string
		want Endpoint
		ok   bool
	}{
		{"acs-post", Endpoint{URL: "acs-post", Binding: "post"}, true},
		{"acs-artifact", Endpoint{URL: "acs-artifact", Binding: "artifact", Index: 1}, true},
		{"acs-post/", Endpoint{}, false},
		{"", Endpoint{}, false},
		{"slo-1", Endpoint{}, false},
	}
	for _, tt := range acs {
		got, ok := sp.ACSByURL(tt.url)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ACSByURL(%q) = %+v, %v; want %+v, %v", tt.url, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRefusals(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	tests := []struct {
		name    string
		err     error
		kind    RefusalKind
		message string
		text    string
	}{
		{"invalid", Invalid("The request is not valid.", cause), KindInvalid, "The request is not valid.", "The request is not valid.: unexpected EOF"},
		{"internal", Internal("The store failed.", cause), KindInternal, "The store failed.", "The store failed.: unexpected EOF"},
		{"no cause", Invalid("Nobody to answer.", nil), KindInvalid, "Nobody to answer.", "Nobody to answer."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *Refusal
			if !errors.As(tt.err, &r) {
				t.Fatalf("%T is not a *Refusal", tt.err)
			}
			if r.Kind != tt.kind || r.Message != tt.message || tt.err.Error() != tt.text {
				t.Fatalf("refusal = %+v, %q", r, tt.err.Error())
			}
			if got := errors.Is(tt.err, cause); got != (r.Err != nil) {
				t.Fatalf("errors.Is(cause) = %v", got)
			}
			var denied *RequestDenied
			if errors.As(tt.err, &denied) {
				t.Fatal("a refusal is not a policy denial")
			}
		})
	}
	// A wrapped denial is still found through a refusal.
	wrapped := Invalid("x", Deny(StatusRequestDenied, "y"))
	var denied *RequestDenied
	if !errors.As(wrapped, &denied) || denied.Code != StatusRequestDenied {
		t.Fatalf("errors.As through Refusal = %v", wrapped)
	}
}

func TestDeny(t *testing.T) {
	err := Deny(StatusNoAuthnContext, "LoA %s is not offered by %d IdPs", "high", 2)
	var denied *RequestDenied
	if !errors.As(err, &denied) {
		t.Fatalf("Deny returned %T", err)
	}
	if denied.Code != StatusNoAuthnContext || denied.Reason != "LoA high is not offered by 2 IdPs" {
		t.Fatalf("Deny = %+v", denied)
	}
	if err.Error() != "NoAuthnContext: LoA high is not offered by 2 IdPs" {
		t.Fatalf("Error() = %q", err.Error())
	}
	var r *Refusal
	if errors.As(err, &r) {
		t.Fatal("a denial is not a refusal")
	}
}
