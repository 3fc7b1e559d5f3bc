package simulator

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/bridge/web"
)

// Form fields of the gateway's /Proxy2/ServiceProvider endpoint.
const (
	fieldSAMLRequest    = "SAMLRequest"
	fieldLogoutRequest  = "logoutRequest"
	fieldLogoutResponse = "logoutResponse"
	fieldRelayState     = "RelayState"
)

// defaultProvider is the NameID of a gateway-initiated logout before the
// gateway has seen the bridge's provider name in a LogoutRequest.
const defaultProvider = "clavebridge"

// sloState is the gateway's single logout state.
type sloState struct {
	initiated *ttlMap[struct{}] // IDs of our LogoutRequests awaiting an answer
	answers   atomic.Int64      // verified answers to them

	mu       sync.Mutex
	provider string // NameID of the last accepted LogoutRequest
}

func newSLOState() *sloState {
	return &sloState{initiated: newTTLMap[struct{}](replayTTL, maxLogins), provider: defaultProvider}
}

func (st *sloState) setProvider(name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.provider = name
}

func (st *sloState) providerName() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.provider
}

// Logouts returns how many LogoutRequests of the bridge the gateway accepted
// and answered.
func (s *Simulator) Logouts() int { return int(s.logouts.Load()) }

// LogoutAnswers returns how many verified answers to gateway-initiated
// logouts the gateway received.
func (s *Simulator) LogoutAnswers() int { return int(s.slo.answers.Load()) }

// checkBridgeLogoutURL accepts an empty URL (no single logout) or an
// absolute http(s) URL.
func checkBridgeLogoutURL(raw string) error {
	if raw != "" && !isHTTPURL(raw) {
		return fmt.Errorf("simulator bridge logout URL %q is not an absolute http(s) URL", raw)
	}
	return nil
}

// isHTTPURL reports whether raw is an absolute http(s) URL without user info.
func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// handleServiceProvider receives a POST to /Proxy2/ServiceProvider, where
// Cl@ve 2.0 takes both logins (SAMLRequest) and single logout
// (logoutRequest, and logoutResponse answering the gateway's own).
func (s *Simulator) handleServiceProvider(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonBadRequest, fmt.Errorf("POST binding: read form: %w", err))
	}
	form, messages := r.PostForm, 0
	for _, name := range []string{fieldSAMLRequest, fieldLogoutRequest, fieldLogoutResponse} {
		if form.Has(name) {
			messages++
		}
	}
	switch {
	case messages > 1:
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonBadRequest, errors.New("the form carries more than one SAML message"))
	case form.Has(fieldLogoutRequest):
		return s.handleLogout(c, form)
	case form.Has(fieldLogoutResponse):
		return s.handleLogoutAnswer(c, form)
	}
	return s.handleSSO(c)
}

// handleLogout answers the bridge's LogoutRequest with a signed Success
// LogoutResponse posted to the request's Issuer, the bridge's logout URL.
func (s *Simulator) handleLogout(c echo.Context, form url.Values) error {
	req, err := s.readLogoutRequest(form)
	if err != nil {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonLogoutInvalid, fmt.Errorf("logout request refused: %w", err))
	}
	value, err := s.logoutResponse(req)
	if err != nil {
		return s.refuse(c, http.StatusInternalServerError, bridge.ReasonInternal, fmt.Errorf("build the logout answer: %w", err))
	}
	s.logouts.Add(1)
	s.slo.setProvider(req.NameID)
	trace.Logger(c.Request().Context(), s.log).Info("logout request accepted", zap.String("request_id", req.ID), zap.String("provider", req.NameID))
	fields := []samlxml.Field{{Name: fieldLogoutResponse, Value: value}, {Name: fieldRelayState, Value: form.Get(fieldRelayState)}}
	securityHeaders(c.Response().Header(), web.PostCSP())
	return web.WritePost(c, bridge.Outgoing{URL: req.Issuer, Fields: fields})
}

// readLogoutRequest verifies and checks the bridge's LogoutRequest. Every
// verified request ID is one-use, valid or not.
func (s *Simulator) readLogoutRequest(form url.Values) (*clave2msg.LogoutRequest, error) {
	el, err := s.readSigned(form, fieldLogoutRequest)
	if err != nil {
		return nil, err
	}
	req, err := clave2msg.ParseLogoutRequest(el)
	if err != nil {
		return nil, fmt.Errorf("read LogoutRequest: %w", err)
	}
	if err := s.markUsed(req.ID); err != nil {
		return nil, fmt.Errorf("LogoutRequest: %w", err)
	}
	if err := s.checkLogoutRequest(req, form); err != nil {
		return nil, fmt.Errorf("LogoutRequest %s: %w", req.ID, err)
	}
	return req, nil
}

// checkLogoutRequest applies the gateway's rules to a verified LogoutRequest:
// the Issuer, where the answer goes, must be the registered logout URL.
func (s *Simulator) checkLogoutRequest(req *clave2msg.LogoutRequest, form url.Values) error {
	switch {
	case req.Destination != s.SSOURL():
		return fmt.Errorf("Destination %q is not %s", req.Destination, s.SSOURL())
	case req.NameID == "":
		return errors.New("NameID is empty")
	case s.logoutURL == "" || req.Issuer != s.logoutURL || !isHTTPURL(req.Issuer):
		return fmt.Errorf("Issuer %q is not the bridge's registered logout URL", req.Issuer)
	case len(form[fieldRelayState]) != 1 || form.Get(fieldRelayState) == "":
		return errors.New("want exactly one non-empty RelayState field")
	case !req.NotOnOrAfter.IsZero() && !s.now().Before(req.NotOnOrAfter):
		return errors.New("expired (NotOnOrAfter)")
	}
	return s.checkIssued(req.IssueInstant)
}

// logoutResponse is the signed, base64-encoded Success answer to req.
func (s *Simulator) logoutResponse(req *clave2msg.LogoutRequest) (string, error) {
	id, err := samlxml.NewID(s.rand)
	if err != nil {
		return "", fmt.Errorf("logout response ID: %w", err)
	}
	r := clave2msg.LogoutResponse{ID: id, InResponseTo: req.ID, IssueInstant: s.now(), Destination: req.Issuer,
		Issuer: s.issuer(), Status: clave2msg.Status{Code: clave2msg.StatusSuccess}}
	value, err := s.signEncode(r.Element())
	if err != nil {
		return "", fmt.Errorf("logout response to %s: %w", req.ID, err)
	}
	return value, nil
}

// InitiateLogout starts a gateway-initiated logout: it returns the signed
// logoutRequest form to the bridge's logout URL and the request's ID. The
// NameID is the provider name of the last accepted LogoutRequest, or
// "clavebridge" before the first; the Issuer, where the answer must go, is
// SSOURL. The answer is accepted once, within the replay window.
func (s *Simulator) InitiateLogout(relayState string) (bridge.Outgoing, string, error) {
	switch {
	case s.logoutURL == "":
		return bridge.Outgoing{}, "", errors.New("simulator: no bridge logout URL is configured")
	case relayState == "":
		return bridge.Outgoing{}, "", errors.New("simulator: Cl@ve 2.0 requires a RelayState")
	}
	id, err := samlxml.NewID(s.rand)
	if err != nil {
		return bridge.Outgoing{}, "", fmt.Errorf("logout request ID: %w", err)
	}
	now := s.now()
	req := clave2msg.LogoutRequest{
		ID: id, IssueInstant: now, Destination: s.logoutURL, Issuer: s.SSOURL(),
		NameID: s.slo.providerName(), NameIDFormat: clave2msg.NameIDUnspec, SPNameQualifier: s.logoutURL,
		NotOnOrAfter: now.Add(s.lifetime), Reason: clave2msg.LogoutReasonUser,
	}
	value, err := s.signEncode(req.Element())
	if err != nil {
		return bridge.Outgoing{}, "", fmt.Errorf("logout request: %w", err)
	}
	if err := s.slo.initiated.put(id, struct{}{}, now); err != nil {
		return bridge.Outgoing{}, "", fmt.Errorf("remember logout request: %w", err)
	}
	s.log.Info("logout initiated", zap.String("request_id", id))
	fields := []samlxml.Field{{Name: fieldLogoutRequest, Value: value}, {Name: fieldRelayState, Value: relayState}}
	return bridge.Outgoing{URL: s.logoutURL, Fields: fields}, id, nil
}

// handleLogoutAnswer receives the bridge's answer to a gateway-initiated
// logout and shows the citizen the end of the logout.
func (s *Simulator) handleLogoutAnswer(c echo.Context, form url.Values) error {
	resp, err := s.readLogoutAnswer(form)
	if err != nil {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonLogoutInvalid, fmt.Errorf("logout response refused: %w", err))
	}
	s.slo.answers.Add(1)
	trace.Logger(c.Request().Context(), s.log).Info("logout response accepted", zap.String("request_id", resp.InResponseTo),
		zap.String("status", resp.Status.Code), zap.String("sub_status", resp.Status.SubCode))
	return s.render(c, http.StatusOK, loggedOutPage, "sim.loggedout.title", pageData{})
}

// readLogoutAnswer verifies a LogoutResponse and takes the gateway-initiated
// logout it answers: one answer per logout.
func (s *Simulator) readLogoutAnswer(form url.Values) (*clave2msg.LogoutResponse, error) {
	el, err := s.readSigned(form, fieldLogoutResponse)
	if err != nil {
		return nil, err
	}
	resp, err := clave2msg.ParseLogoutResponse(el)
	if err != nil {
		return nil, fmt.Errorf("read LogoutResponse: %w", err)
	}
	if err := s.markUsed(resp.ID); err != nil {
		return nil, fmt.Errorf("LogoutResponse: %w", err)
	}
	if _, ok := s.slo.initiated.take(resp.InResponseTo, s.now()); !ok || resp.InResponseTo == "" {
		return nil, fmt.Errorf("LogoutResponse %s answers no pending logout of the gateway", resp.ID)
	}
	if err := s.checkLogoutAnswer(resp); err != nil {
		return nil, fmt.Errorf("LogoutResponse %s: %w", resp.ID, err)
	}
	return resp, nil
}

// checkLogoutAnswer checks a verified answer. The Cl@ve kits dereference
// the StatusMessage unconditionally, so it must be there.
func (s *Simulator) checkLogoutAnswer(resp *clave2msg.LogoutResponse) error {
	switch {
	case resp.Destination != s.SSOURL():
		return fmt.Errorf("Destination %q is not %s", resp.Destination, s.SSOURL())
	case resp.Status.Message == "":
		return errors.New("no StatusMessage")
	}
	return s.checkIssued(resp.IssueInstant)
}

// readSigned decodes, parses and verifies the message of the form field
// name, given once, with the bridge's registered certificates.
func (s *Simulator) readSigned(form url.Values, name string) (*etree.Element, error) {
	if len(form[name]) != 1 {
		return nil, fmt.Errorf("POST binding: want exactly one %s field", name)
	}
	data, err := samlxml.DecodePostValue(form.Get(name), maxRequestBytes)
	if err != nil {
		return nil, fmt.Errorf("POST binding: %s: %w", name, err)
	}
	doc, err := samlxml.Parse(data, samlxml.DefaultMaxMessageBytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	v, err := s.verifier.Verify(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("%s signature: %w", name, err)
	}
	return v.Element, nil
}

// markUsed records a verified message ID in the replay map.
func (s *Simulator) markUsed(id string) error {
	if len(id) > maxIDBytes {
		return fmt.Errorf("ID of %d bytes is longer than %d", len(id), maxIDBytes)
	}
	if err := s.replay.put(id, struct{}{}, s.now()); err != nil {
		return fmt.Errorf("ID %s refused (replay): %w", id, err)
	}
	return nil
}

// checkIssued applies the gateway's IssueInstant window.
func (s *Simulator) checkIssued(issued time.Time) error {
	if d := s.now().Sub(issued); d > issueSkew || d < -issueSkew {
		return fmt.Errorf("IssueInstant %s is more than %s away from now", samlxml.FormatTime(issued), issueSkew)
	}
	return nil
}

// signEncode signs el with the gateway's key and base64-encodes it.
func (s *Simulator) signEncode(el *etree.Element) (string, error) {
	if err := s.currentSigner().Sign(el); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	data, err := samlxml.Serialize(el)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(data), nil
}
