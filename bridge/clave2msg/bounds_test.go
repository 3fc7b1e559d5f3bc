package clave2msg

import (
	"strings"
	"testing"
	"time"
)

// TestBounds: every field the bridge keeps, logs or echoes is refused past
// its bound, and accepted at it.
func TestBounds(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	long := func(n int) string { return strings.Repeat("a", n) }
	request := func(edit func(*AuthnRequest)) *AuthnRequest {
		r := &AuthnRequest{ID: "_r", IssueInstant: t0, Destination: "https://b/sso", ACS: "https://sp/acs", Issuer: "https://sp",
			NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", HasNameIDPolicy: true,
			Comparison: "minimum", LoAs: []string{"http://eidas.europa.eu/LoA/low"},
			Attributes: []RequestedAttribute{{Name: "http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier", Values: []string{"v"}}}}
		edit(r)
		return r
	}
	many := func(n int) []RequestedAttribute {
		out := make([]RequestedAttribute, n)
		for i := range out {
			out[i] = RequestedAttribute{Name: "urn:x:" + strings.Repeat("b", i%7+1)}
		}
		return out
	}
	requests := []struct {
		name string
		edit func(*AuthnRequest)
		want string // "" = accepted
	}{
		{"ID at the bound", func(r *AuthnRequest) { r.ID = "_" + long(MaxIDBytes-1) }, ""},
		{"ID", func(r *AuthnRequest) { r.ID = "_" + long(MaxIDBytes) }, "ID is 257 bytes"},
		{"Issuer", func(r *AuthnRequest) { r.Issuer = long(MaxURIBytes + 1) }, "Issuer is"},
		{"ProviderName", func(r *AuthnRequest) { r.ProviderName = long(MaxNameBytes + 1) }, "ProviderName is"},
		{"ACS URL", func(r *AuthnRequest) { r.ACS = "https://" + long(MaxURIBytes) }, "AssertionConsumerServiceURL is"},
		{"Destination", func(r *AuthnRequest) { r.Destination = "https://" + long(MaxURIBytes) }, "Destination is"},
		{"NameID format", func(r *AuthnRequest) { r.NameIDFormat = long(MaxURIBytes + 1) }, "NameIDPolicy Format is"},
		{"attributes at the bound", func(r *AuthnRequest) { r.Attributes = many(MaxAttributes) }, ""},
		{"too many attributes", func(r *AuthnRequest) { r.Attributes = many(MaxAttributes + 1) }, "asks for 65 attributes"},
		{"attribute name", func(r *AuthnRequest) { r.Attributes = []RequestedAttribute{{Name: long(MaxValueBytes + 1)}} }, "RequestedAttribute Name is"},
		{"attribute value", func(r *AuthnRequest) {
			r.Attributes = []RequestedAttribute{{Name: "urn:x", Values: []string{long(MaxValueBytes + 1)}}}
		}, "AttributeValue is"},
		{"levels", func(r *AuthnRequest) { r.LoAs = strings.Split(strings.Repeat("x,", MaxLevels), ",") }, "lists 9 levels"},
	}
	for _, tt := range requests {
		t.Run("AuthnRequest/"+tt.name, func(t *testing.T) {
			_, err := ParseAuthnRequest(request(tt.edit).Element())
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	logouts := []struct {
		name string
		lr   LogoutRequest
		want string
	}{
		{"fine", LogoutRequest{ID: "_l", IssueInstant: t0, NameID: "n", SessionIndexes: []string{"s"}}, ""},
		{"ID", LogoutRequest{ID: "_" + long(MaxIDBytes), IssueInstant: t0, NameID: "n"}, "ID is"},
		{"NameID", LogoutRequest{ID: "_l", IssueInstant: t0, NameID: long(MaxNameBytes + 1)}, "NameID is"},
		{"SessionIndex", LogoutRequest{ID: "_l", IssueInstant: t0, NameID: "n", SessionIndexes: []string{long(MaxNameBytes + 1)}}, "SessionIndex is"},
		{"SessionIndexes", LogoutRequest{ID: "_l", IssueInstant: t0, NameID: "n", SessionIndexes: strings.Split(strings.Repeat("s,", MaxSessionIndexes), ",")}, "9 SessionIndex elements"},
		{"Issuer", LogoutRequest{ID: "_l", IssueInstant: t0, NameID: "n", Issuer: long(MaxURIBytes + 1)}, "Issuer is"},
	}
	for _, tt := range logouts {
		t.Run("LogoutRequest/"+tt.name, func(t *testing.T) {
			_, err := ParseLogoutRequest(tt.lr.Element())
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	answer := LogoutResponse{ID: "_a", InResponseTo: "_" + long(MaxIDBytes), IssueInstant: t0, Status: Status{Code: StatusSuccess}}
	if _, err := ParseLogoutResponse(answer.Element()); err == nil || !strings.Contains(err.Error(), "InResponseTo is") {
		t.Fatalf("LogoutResponse with a long InResponseTo: %v", err)
	}
}
