package flow

// Binding a logout request to the browser that brings it.
//
// A signed logout request proves who sent it, not in which browser it
// arrives: the session cookie is SameSite=None (the gateway's and the SPs'
// cross-site POSTs must carry it), so a request taken from one citizen's
// browser and posted in another's would end the other's session. A request
// ends the browser's session at once only when it is bound to it:
//
//   - it names the session: its sender is a participant of it and, where
//     the dialect says more (SAML2: the NameID and SessionIndex), the
//     record it names is one of the session's (the gateway takes part in
//     every session);
//   - it is fresh and used once (the dialects' RequestGuard, the
//     connector's replay cache);
//   - it comes from its sender: the POST's Origin, when the browser sent
//     one, is the origin of one of the sender's registered URLs (an SP's
//     ACS and logout URLs; the gateway's SSO URL). "null" is nobody's
//     origin. No Origin at all is a GET (the Redirect binding) or a client
//     that is no browser, and passes.
//
// Otherwise nothing ends: the verified request (its sender's signature
// makes it worth keeping) waits in the store under a random id for
// ConfirmTTL, and the browser is shown a page asking the citizen to
// confirm. The page's form carries the id back to ConfirmLogout; the
// adapter guards that form against cross-site request forgery, and the id
// only works in the browser (the session cookie) it was shown to, once.
// Without a session nothing is asked: the sender is answered at once.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// ConfirmTTL is how long a logout waits for the citizen's confirmation.
const ConfirmTTL = 5 * time.Minute

// confirmKeyPrefix keys the logouts waiting for a confirmation.
const confirmKeyPrefix = "logout-confirm:"

// maxConfirmID bounds the id a confirmation form may carry back.
const maxConfirmID = 64

// gatewayRequester is how the confirmation page names the gateway.
const gatewayRequester = "The Cl@ve identity gateway"

// LogoutConfirmation is the question the browser must show: Requester
// asks to end the session; the answer goes to ConfirmLogout with ID.
type LogoutConfirmation struct {
	ID        string // one-time, random: the confirmation form carries it back
	Requester string // the SP's name, or the gateway
}

// parkedLogout is a verified logout request waiting for the citizen.
type parkedLogout struct {
	Browser string    `json:"browser"` // binding of the session cookie it was shown with
	Expires time.Time `json:"expires"`
	Trace   string    `json:"trace,omitempty"`
	// Initiator is the SP's request; nil: the gateway's (UpstreamID, UpstreamRelay).
	Initiator     *bridge.LogoutInitiator `json:"initiator,omitempty"`
	UpstreamID    string                  `json:"upstream_id,omitempty"`
	UpstreamRelay string                  `json:"upstream_relay,omitempty"`
}

// Origin is the origin of an absolute http(s) URL as browsers send it in
// the Origin header: scheme://host[:port], lowercase, without the default
// port; "" for anything else ("null", a relative URL, another scheme).
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// FromSender reports whether a request whose Origin header is origin may
// come from the sender whose registered URLs are urls: there is no Origin,
// or it is exactly the origin of one of them.
func FromSender(origin string, urls ...string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	got := Origin(origin)
	if got == "" {
		return false // "null", or no origin at all
	}
	for _, s := range urls {
		if Origin(s) == got {
			return true
		}
	}
	return false
}

// spURLs are an SP's registered URLs: where its logout requests may be
// posted from.
func spURLs(sp *bridge.ServiceProvider) []string {
	var out []string
	for _, ep := range append(append([]bridge.Endpoint(nil), sp.ACS...), sp.Logout...) {
		out = append(out, ep.URL)
	}
	return out
}

// requester is how the confirmation page names an SP.
func requester(sp *bridge.ServiceProvider) string {
	if sp.Name != "" {
		return sp.Name
	}
	return sp.ID
}

// confirmBinding ties a waiting logout to the session cookie it was shown
// with.
func confirmBinding(sessionCookie string) string {
	sum := sha256.Sum256([]byte("logout-confirm\x00" + sessionCookie))
	return hex.EncodeToString(sum[:])
}

// shortOrigin is an Origin header fit for a log line.
func shortOrigin(origin string) string {
	if len(origin) > 128 {
		return origin[:128] + "…"
	}
	return origin
}

// askConfirmation keeps p for the browser and returns the question.
func (f *Flow) askConfirmation(ctx context.Context, br Browser, p *parkedLogout, who string, log *zap.Logger, reason string) (Reply, error) {
	id, err := samlxml.NewID(f.Rand)
	if err != nil {
		return Reply{}, bridge.Internal("The logout could not go on.", err)
	}
	p.Browser, p.Expires, p.Trace = confirmBinding(br.Session), f.Now().Add(ConfirmTTL), trace.ID(ctx)
	if err := f.putParked(ctx, id, p); err != nil {
		return Reply{}, bridge.Internal("The logout could not go on.", err)
	}
	log.Info("logout waits for the citizen's confirmation", zap.String("reason", reason), zap.String("origin", shortOrigin(br.Origin)))
	return Reply{Confirm: &LogoutConfirmation{ID: id, Requester: who}}, nil
}

func (f *Flow) putParked(ctx context.Context, id string, p *parkedLogout) error {
	ttl := p.Expires.Sub(f.Now())
	if ttl <= 0 {
		return errors.New("the confirmation has expired")
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode logout confirmation: %w", err)
	}
	return f.Store.PutPending(ctx, confirmKeyPrefix+id, data, ttl)
}

// takeParked takes the logout id waits for, in the browser it was shown
// to; in another browser it is put back for the right one.
func (f *Flow) takeParked(ctx context.Context, br Browser, id string) (*parkedLogout, error) {
	if id == "" || len(id) > maxConfirmID {
		return nil, errors.New("the form names no logout waiting for a confirmation")
	}
	data, err := f.Store.TakePending(ctx, confirmKeyPrefix+id)
	if err != nil {
		return nil, fmt.Errorf("logout confirmation: %w", err)
	}
	var p parkedLogout
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode logout confirmation: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(p.Browser), []byte(confirmBinding(br.Session))) != 1 {
		err := errors.New("the confirmation was shown to another browser")
		return nil, errors.Join(err, f.putParked(ctx, id, &p))
	}
	trace.Adopt(ctx, p.Trace)
	return &p, nil
}

// ConfirmLogout answers the question LogoutConfirmation asked, in the
// browser it was shown to: confirmed, the logout goes on as if it had
// been bound (the session ends, its SPs and the gateway are told, the
// requester answered); declined, the session stays and the requester is
// told so (an SP: RequestDenied; the gateway: a partial logout). A session
// gone meanwhile is answered as StartLogout does (UnknownPrincipal).
func (f *Flow) ConfirmLogout(ctx context.Context, br Browser, id string, confirmed bool) (Reply, error) {
	p, err := f.takeParked(ctx, br, id)
	if err != nil {
		return Reply{}, bridge.Refuse(bridge.ReasonLogoutExpired, "", "This logout confirmation has expired or was already answered.", err)
	}
	if p.Initiator == nil {
		return f.confirmGatewayLogout(ctx, br, p, confirmed)
	}
	in := *p.Initiator
	log := f.log(ctx).With(zap.String("sp", in.SP), zap.String("dialect", in.Dialect))
	sp, err := f.Registry.Lookup(in.Dialect, in.SP)
	if err != nil {
		return Reply{}, bridge.Internal("The logout could not be answered.", err)
	}
	if !confirmed {
		log.Info("logout declined", zap.String("reason", "the citizen chose to stay logged in"))
		return f.answerInitiator(ctx, sp, in, bridge.Status{Code: bridge.StatusRequestDenied, Message: "the citizen chose to stay logged in"}, Reply{})
	}
	sess, err := f.Session(ctx, br)
	if err != nil || sess == nil {
		log.Info("logout refused", zap.String("reason", "no session"), zap.Error(err))
		return f.answerInitiator(ctx, sp, in, bridge.Status{Code: bridge.StatusUnknownPrincipal, Message: "no session to log out"}, Reply{})
	}
	log.Info("logout confirmed by the citizen")
	return f.endSession(ctx, sess, in, log)
}

// confirmGatewayLogout carries out or declines the gateway's logout.
func (f *Flow) confirmGatewayLogout(ctx context.Context, br Browser, p *parkedLogout, confirmed bool) (Reply, error) {
	if f.upstreamLogout() == nil {
		return Reply{}, bridge.Internal("The logout could not be answered.", errors.New("the upstream connector has no logout"))
	}
	if !confirmed {
		f.log(ctx).Info("logout declined", zap.String("reason", "the citizen chose to stay logged in"))
		st := &logoutState{UpstreamID: p.UpstreamID, UpstreamRelay: p.UpstreamRelay, UpstreamDone: true, Partial: true}
		return f.finishLogout(ctx, st, Reply{})
	}
	sess, err := f.Session(ctx, br)
	if err != nil {
		sess = nil
	}
	f.log(ctx).Info("logout confirmed by the citizen")
	return f.upstreamInitiated(ctx, sess, p.UpstreamID, p.UpstreamRelay)
}

// gatewayLogoutRequested binds the gateway's verified LogoutRequest (id,
// relay) to the browser's session, or asks the citizen.
func (f *Flow) gatewayLogoutRequested(ctx context.Context, br Browser, u UpstreamLogout, id, relay string) (Reply, error) {
	sess, err := f.Session(ctx, br)
	if err != nil {
		sess = nil
	}
	if sess != nil && !FromSender(br.Origin, u.Origins()...) {
		p := &parkedLogout{UpstreamID: id, UpstreamRelay: relay}
		return f.askConfirmation(ctx, br, p, gatewayRequester, f.log(ctx), "the gateway's logout request was not posted from the gateway's site")
	}
	return f.upstreamInitiated(ctx, sess, id, relay)
}

// endSession ends sess on behalf of in, whose request is bound to it (or
// confirmed), and tells the others.
func (f *Flow) endSession(ctx context.Context, sess *session.Session, in bridge.LogoutInitiator, log *zap.Logger) (Reply, error) {
	sess, err := f.takeSession(ctx, sess)
	if err != nil {
		return Reply{}, bridge.Internal("The session could not be ended.", err)
	}
	st := &logoutState{Initiator: &in, Queue: others(sess, in.SP, in.Dialect), Trace: trace.ID(ctx)}
	log.Info("single logout started", zap.Int("other_sps", len(st.Queue)))
	return f.nextLogoutStep(ctx, st, Reply{Session: clearSession})
}

// takeSession ends sess atomically and returns it as it was at the end:
// an SP that joined it since it was read is told of the logout too.
func (f *Flow) takeSession(ctx context.Context, sess *session.Session) (*session.Session, error) {
	taken, err := f.Sessions.Take(ctx, sess.ID)
	if err != nil {
		return nil, err
	}
	if taken == nil { // ended meanwhile: tell whom it had
		return sess, nil
	}
	return taken, nil
}
