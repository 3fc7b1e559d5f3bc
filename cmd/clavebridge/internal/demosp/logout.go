package demosp

// Single logout, common to the three demo SPs: the cookie each keeps of
// its login, the bridge's signed messages, and the page that shows how a
// logout the demo started ended.

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// The demo SPs' own login cookies, one per dialect. TEST DATA ONLY: the
// plain SAML2 demo keeps the NameID it was given (for a persistent NameID,
// the citizen's identifier) in clear, base64 JSON, in the browser; a real
// SP keeps its session on its side and gives the browser a random id.
const (
	cookieSAML2  = "demo_saml2"
	cookieClave2 = "demo_clave2"
	cookieStork  = "demo_stork"
	cookiePath   = "/demo/"
)

// logoutLifetime is the NotOnOrAfter of the demo's LogoutRequests.
const logoutLifetime = 5 * time.Minute

func setCookie(c echo.Context, name, value string) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: cookiePath, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: cookiePath, MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func hasCookie(c echo.Context, name string) bool {
	cookie, err := c.Cookie(name)
	return err == nil && cookie.Value != ""
}

// saml2Login is what the plain SAML2 demo needs to name its session in a
// LogoutRequest.
type saml2Login struct {
	NameID       string `json:"name_id"`
	Format       string `json:"format,omitempty"`
	SessionIndex string `json:"session_index,omitempty"`
}

func setSAML2Login(c echo.Context, l saml2Login) error {
	data, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode the demo login: %w", err)
	}
	setCookie(c, cookieSAML2, base64.RawURLEncoding.EncodeToString(data))
	return nil
}

func readSAML2Login(c echo.Context) (saml2Login, bool) {
	var l saml2Login
	cookie, err := c.Cookie(cookieSAML2)
	if err != nil {
		return l, false
	}
	data, err := base64.RawURLEncoding.DecodeString(cookie.Value)
	if err != nil || json.Unmarshal(data, &l) != nil || l.NameID == "" {
		return saml2Login{}, false
	}
	return l, true
}

// verifyBridge decodes a base64 form value, parses it with the hardened
// parser and verifies its signature with the bridge's certificate.
func (d *DemoSP) verifyBridge(value string, allowSHA1 bool) (*etree.Element, error) {
	raw, err := samlxml.DecodePostValue(value, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	doc, err := samlxml.Parse(raw, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	v := samlxml.Verifier{Certs: []*x509.Certificate{d.cfg.BridgeCert}, Policy: samlxml.AlgorithmPolicy{AllowSHA1: allowSHA1}}
	verified, err := v.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("the bridge's signature: %w", err)
	}
	return verified.Element, nil
}

// signEncode signs el with the demo SP's key and encodes it for a form.
func (d *DemoSP) signEncode(el *etree.Element, method string, includeCert bool) (string, error) {
	signer := d.cfg.Signer
	signer.Method, signer.Digest, signer.IncludeCert = method, "", includeCert
	if err := signer.Sign(el); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	xml, err := samlxml.Serialize(el)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(xml), nil
}

// newIDs returns fresh random SAML IDs.
func (d *DemoSP) newIDs(n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		id, err := samlxml.NewID(d.cfg.Rand)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// logoutAnswered ends a logout the demo SP of dialect started: the
// bridge's verified LogoutResponse must answer an outstanding LogoutRequest
// of that dialect, with its RelayState, sent to destination. The SP's own
// login ends whatever the status (the citizen asked to leave); the page
// shows the status.
func (d *DemoSP) logoutAnswered(c echo.Context, dialect, cookie, destination string, resp *clave2msg.LogoutResponse, relayState string) error {
	sent, ok := d.forget(resp.InResponseTo, dialect)
	switch {
	case resp.Destination != destination:
		return d.refuse(c, fmt.Errorf("logout answer Destination %q is not %s", resp.Destination, destination))
	case !ok || resp.InResponseTo == "":
		return d.refuse(c, errors.New("logout answer to a request this SP did not send (or replayed)"))
	case relayState != sent.relayState:
		return d.refuse(c, errors.New("logout answer RelayState does not match the request's"))
	}
	clearCookie(c, cookie)
	view := logoutView{Status: resp.Status.Code, Message: sameStatus(resp.Status.Message, resp.Status.Code, resp.Status.SubCode)}
	if resp.Status.SubCode != "" {
		view.Status += " / " + resp.Status.SubCode
	}
	title := "demo.logout.refused"
	switch {
	case resp.Status.Code == clave2msg.StatusSuccess && resp.Status.SubCode == clave2msg.StatusPartialLogout:
		view.Outcome, title = "partial", "demo.logout.partial"
	case resp.Status.Code == clave2msg.StatusSuccess:
		view.Outcome, title = "success", "demo.logout.success"
	default:
		view.Outcome = "refused"
	}
	return render(c, http.StatusOK, logoutPage, title, view)
}

// refuse answers a logout message of the bridge the demo SP refuses.
func (d *DemoSP) refuse(c echo.Context, err error) error {
	return d.refuseWith(c, http.StatusBadRequest, bridge.ReasonLogoutInvalid, fmt.Errorf("the bridge's logout message was refused by the demo SP: %w", err))
}

// logoutView is the end of a logout the demo started: Outcome is
// success, partial or refused (the page's data-logout).
type logoutView struct{ Outcome, Status, Message string }

// checkLogoutRequest applies the rules common to the bridge's verified
// LogoutRequests: who sent it, to whom, and that it has not expired.
func (d *DemoSP) checkLogoutRequest(lr *clave2msg.LogoutRequest, issuer, destination string) error {
	switch {
	case lr.Issuer != issuer:
		return fmt.Errorf("LogoutRequest Issuer %q is not the bridge's %s", lr.Issuer, issuer)
	case lr.Destination != destination:
		return fmt.Errorf("LogoutRequest Destination %q is not %s", lr.Destination, destination)
	case !lr.NotOnOrAfter.IsZero() && !d.cfg.Now().Before(lr.NotOnOrAfter):
		return errors.New("the LogoutRequest has expired")
	}
	return nil
}
