package flow_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/pairwise"
	"github.com/clavebridge/clavebridge/translate"
)

const dni = "ES/ES/12345678Z" // the subject of success()

func testKeyer(t *testing.T) *pairwise.Keyer {
	t.Helper()
	k, err := pairwise.New(bytes.Repeat([]byte("pairwise-test-"), 3))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withholding is a policy that releases the given name but not the
// PersonIdentifier.
var withholding = bridge.Policy{MinLoA: translate.LoALow, Attributes: []bridge.Attr{translate.AttrGivenName, translate.AttrSelectedIdP}}

// TestIdentifiersFollowThePolicy: what an SP receives as Subject,
// persistent NameID and attributes, and what its participant record keeps,
// with and without the PersonIdentifier released, with and without a
// pairwise secret and with and without SSO sessions.
func TestIdentifiersFollowThePolicy(t *testing.T) {
	keyer := testKeyer(t)
	pw := keyer.ID("sp1", dni)
	tests := []struct {
		name       string
		policy     bridge.Policy
		keyer      *pairwise.Keyer
		noSessions bool
		subject    string // what the dialect is given as Subject
		persistent string // and as PersistentNameID
		attributes string
	}{
		{"released", bridge.Policy{MinLoA: translate.LoALow}, keyer, false, dni, dni, "PersonIdentifier,CurrentGivenName,SelectedIdP"},
		{"released, no pairwise secret", bridge.Policy{MinLoA: translate.LoALow}, nil, false, dni, dni, "PersonIdentifier,CurrentGivenName,SelectedIdP"},
		{"released by name", bridge.Policy{MinLoA: translate.LoALow, Attributes: []bridge.Attr{translate.AttrPersonIdentifier}}, keyer, false, dni, dni, "PersonIdentifier"},
		{"withheld: pairwise", withholding, keyer, false, "", pw, "CurrentGivenName,SelectedIdP"},
		{"withheld, no SSO: pairwise", withholding, keyer, true, "", pw, "CurrentGivenName,SelectedIdP"},
		{"withheld, no pairwise secret: none", withholding, nil, false, "", "", "CurrentGivenName,SelectedIdP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.flow.Pairwise = tt.keyer
			if tt.noSessions {
				f.flow.Sessions = nil
			}
			f.sp("sp1").Policy = tt.policy
			br, out := f.login(flow.Browser{}, "sp1")
			if field(out, "status") != "Success" {
				t.Fatalf("answer %+v", out)
			}
			if got := field(out, "subject"); got != tt.subject {
				t.Errorf("Subject %q, want %q", got, tt.subject)
			}
			if got := field(out, "persistent"); got != tt.persistent {
				t.Errorf("PersistentNameID %q, want %q", got, tt.persistent)
			}
			if got := field(out, "attributes"); got != tt.attributes {
				t.Errorf("attributes %q, want %q", got, tt.attributes)
			}
			if tt.subject == "" {
				for _, fl := range out.Fields {
					if strings.Contains(fl.Value, "12345678Z") {
						t.Errorf("the identifier reaches the dialect in %s=%q", fl.Name, fl.Value)
					}
				}
			}
			if tt.noSessions {
				return
			}
			sess := f.session(br)
			if sess == nil || len(sess.Participants) != 1 {
				t.Fatalf("session %+v", sess)
			}
			if got := sess.Participants[0].Subject; got != tt.persistent {
				t.Errorf("participant Subject %q, want the SP's persistent NameID %q", got, tt.persistent)
			}
			if sess.Result.PersistentNameID != "" {
				t.Errorf("the session's result keeps an SP's persistent NameID %q", sess.Result.PersistentNameID)
			}
			if tt.keyer == nil && tt.subject == "" && !f.logged("no pairwise secret: this SP can get no persistent NameID", "sp", "sp1") {
				t.Error("the missing pairwise secret is not logged")
			}
			f.noIdentifierLogged(t)
		})
	}
}

// noIdentifierLogged: logs carry the subject masked only.
func (f *fixture) noIdentifierLogged(t *testing.T) {
	t.Helper()
	for _, e := range f.logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, "12345678") {
			t.Errorf("log line carries the identifier: %s", line)
		}
	}
}

// TestPairwiseAcrossSPs: two SPs that may not see the PersonIdentifier get
// different persistent NameIDs, each stable across logins (fresh and from
// the SSO session), and an SP that may see it gets it; single logout names
// each SP by what it was given.
func TestPairwiseAcrossSPs(t *testing.T) {
	f := newFixture(t)
	f.flow.Pairwise = testKeyer(t)
	f.sp("sp1").Policy, f.sp("sp2").Policy = withholding, withholding
	br, first := f.loginAll("sp1", "sp2", "sp3") // sp2 and sp3 from the session
	p1, p2, p3 := field(first["sp1"], "persistent"), field(first["sp2"], "persistent"), field(first["sp3"], "persistent")
	switch {
	case p1 == "" || p2 == "" || p1 == p2:
		t.Fatalf("pairwise NameIDs %q and %q", p1, p2)
	case strings.Contains(p1+p2, "12345678Z"):
		t.Fatalf("pairwise NameIDs %q and %q carry the identifier", p1, p2)
	case p3 != dni || field(first["sp3"], "subject") != dni:
		t.Fatalf("sp3 (identifier released) got %q / %q", p3, field(first["sp3"], "subject"))
	}
	// Another login, in another browser through the gateway, and a reuse.
	_, again := f.login(flow.Browser{}, "sp1")
	_, reused := f.login(br, "sp2")
	if got := field(again, "persistent"); got != p1 {
		t.Fatalf("sp1's NameID changed between logins: %q, then %q", p1, got)
	}
	if got := field(reused, "persistent"); got != p2 {
		t.Fatalf("sp2's NameID changed on reuse: %q, then %q", p2, got)
	}
	sess := f.session(br)
	for _, p := range sess.Participants {
		want := map[string]string{"sp1": p1, "sp2": p2, "sp3": dni}[p.SP]
		if p.Subject != want {
			t.Errorf("participant %s keeps %q, want %q", p.SP, p.Subject, want)
		}
	}
	// sp3 logs out: sp2 and sp1 are told with their own NameIDs.
	ctx := context.Background()
	reply, err := f.flow.StartLogout(ctx, br, f.sp("sp3"), initiator("sp3"), anyRecord)
	if err != nil {
		t.Fatal(err)
	}
	told := map[string]string{}
	for strings.HasPrefix(reply.Out.URL, "logout-request:") {
		sp := strings.TrimPrefix(reply.Out.URL, "logout-request:")
		told[sp] = field(reply.Out, "persistent_name_id")
		if reply, err = f.flow.ContinueLogout(ctx, f.sp(sp), field(reply.Out, "relay"), field(reply.Out, "id"), true); err != nil {
			t.Fatal(err)
		}
	}
	if told["sp1"] != p1 || told["sp2"] != p2 || len(told) != 2 {
		t.Fatalf("logout requests named %v, want sp1 %q and sp2 %q", told, p1, p2)
	}
	f.noIdentifierLogged(t)
}
