package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/audit"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
	"github.com/clavebridge/clavebridge/bridge/trace"
)

// UpstreamLogout is the gateway leg of single logout.
type UpstreamLogout interface {
	// Classify says what a form the gateway posted carries.
	Classify(form url.Values) UpstreamMessage
	BeginLogout(ctx context.Context, id, relayState string) (bridge.Outgoing, error)
	// ReadLogoutResponse verifies the gateway's answer to one of our
	// LogoutRequests on the form alone (signature, Destination, age,
	// replay) and says which request it answers; the flow then takes the
	// logout it belongs to.
	ReadLogoutResponse(ctx context.Context, form url.Values) (LogoutAnswer, error)
	ReadLogoutRequest(ctx context.Context, form url.Values) (id, relayState string, err error)
	LogoutResponse(ctx context.Context, inResponseTo, relayState string, ok bool) (bridge.Outgoing, error)
	// Origins are the origins (scheme://host[:port]) the gateway's pages
	// post from: a LogoutRequest the browser brings with another Origin
	// waits for the citizen's confirmation.
	Origins() []string
}

// LogoutAnswer is the gateway's verified answer to one of our
// LogoutRequests.
type LogoutAnswer struct {
	InResponseTo string // the ID of the request it answers
	OK           bool   // the gateway logged out (Success)
	Message      string // its StatusMessage
	// ID and Status (as audit.Status names it) are for the audit line,
	// written once the logout it belongs to (and its trace id) is known.
	ID     string
	Status string
}

// UpstreamMessage is what a form the gateway posted carries: a logout
// request, a logout response, or (neither) a login's answer.
type UpstreamMessage struct {
	LogoutRequest  bool
	LogoutResponse bool
	RelayState     string
}

// logoutState is a single logout under way, kept in the store (taken once
// per step) under a random id that travels as RelayState.
type logoutState struct {
	ID        string                  `json:"id"`
	Trace     string                  `json:"trace,omitempty"`
	Initiator *bridge.LogoutInitiator `json:"initiator,omitempty"` // nil: the gateway started it
	Queue     []bridge.Participant    `json:"queue,omitempty"`
	Waiting   *bridge.Participant     `json:"waiting,omitempty"`
	WaitingID string                  `json:"waiting_id,omitempty"` // our LogoutRequest to Waiting
	// The gateway leg: the ID of our LogoutRequest to it, or of its
	// LogoutRequest to us (gateway-initiated) with its RelayState.
	UpstreamID    string `json:"upstream_id,omitempty"`
	UpstreamRelay string `json:"upstream_relay,omitempty"`
	UpstreamDone  bool   `json:"upstream_done,omitempty"`
	Partial       bool   `json:"partial,omitempty"`
}

const logoutKeyPrefix = "logout:"

// clearSession is the reply's instruction to forget the SSO session cookie.
var clearSession = &Cookie{}

// StartLogout ends the browser's SSO session on behalf of in's SP, whose
// LogoutRequest the dialect has verified (signature, destination, age,
// single use); matches checks that the request names that SP's session
// (NameID, SessionIndex; a Cl@ve request names only the SP). The other SPs
// of the session and the gateway are told one after the other, then the
// initiator gets its LogoutResponse. An unknown or expired session is
// answered UnknownPrincipal and destroys nothing. A request not bound to
// the browser's session (it names another session, or br.Origin is not
// the SP's: see logoutbind.go) ends nothing either: the citizen is asked
// to confirm.
func (f *Flow) StartLogout(ctx context.Context, br Browser, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, matches func(bridge.Participant) bool) (Reply, error) {
	log := f.log(ctx).With(zap.String("sp", sp.ID), zap.String("dialect", in.Dialect))
	if _, ok := f.dialects[in.Dialect].(bridge.LogoutDialect); !ok {
		return Reply{}, bridge.Internal("Logout is not available for this service.", fmt.Errorf("dialect %s has no logout", in.Dialect))
	}
	sess, err := f.Session(ctx, br)
	if err != nil || sess == nil {
		log.Info("logout refused", zap.String("reason", "no session"), zap.Error(err))
		return f.answerInitiator(ctx, sp, in, bridge.Status{Code: bridge.StatusUnknownPrincipal, Message: "no session to log out"}, Reply{})
	}
	// SSO reuse gives an SP one record per assertion: the request may name any.
	named := slices.ContainsFunc(sess.Participants, func(p bridge.Participant) bool {
		return p.Dialect == in.Dialect && p.SP == sp.ID && matches(p)
	})
	switch {
	case !named:
		return f.askConfirmation(ctx, br, &parkedLogout{Initiator: &in}, requester(sp), log, "the request does not name this browser's session")
	case !FromSender(br.Origin, spURLs(sp)...):
		return f.askConfirmation(ctx, br, &parkedLogout{Initiator: &in}, requester(sp), log, "the request was not posted from the service's site")
	}
	return f.endSession(ctx, sess, in, log)
}

// others are the session's participants but the initiator, one per SP:
// its latest record (the NameID and SessionIndex it got last).
func others(sess *session.Session, sp, dialect string) []bridge.Participant {
	var out []bridge.Participant
	seen := map[string]bool{dialect + " " + sp: true}
	for _, p := range slices.Backward(sess.Participants) {
		if key := p.Dialect + " " + p.SP; !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	return out
}

// ContinueLogout resumes the logout named by relayState after the SP it
// waits for answered (verified by the dialect) the LogoutRequest
// inResponseTo; ok false: that SP did not log out.
func (f *Flow) ContinueLogout(ctx context.Context, sp *bridge.ServiceProvider, relayState, inResponseTo string, ok bool) (Reply, error) {
	// The key names our LogoutRequest too: an answer to anything else
	// misses and takes nothing.
	st, err := f.takeLogout(ctx, relayState+"/"+inResponseTo)
	if err != nil {
		err = fmt.Errorf("the answer is not from the SP the logout waits for, or not to our request: logout %q: %w", relayState, err)
	} else if st.Waiting == nil || st.Waiting.SP != sp.ID || st.Waiting.Dialect != sp.Dialect || st.WaitingID != inResponseTo {
		err = errors.New("the answer is not from the SP the logout waits for, or not to our request")
		// A stray or misdirected answer must not end the logout under way.
		err = errors.Join(err, f.putLogout(ctx, st))
	}
	if err != nil {
		return Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout answer does not belong to a logout under way.", fmt.Errorf("sp %s: %w", sp.ID, err))
	}
	if !ok {
		f.log(ctx).Info("an SP did not log out", zap.String("sp", st.Waiting.SP))
		st.Partial = true
	}
	st.Waiting, st.WaitingID = nil, ""
	return f.nextLogoutStep(ctx, st, Reply{})
}

// nextLogoutStep tells the next SP, then the gateway, then answers.
func (f *Flow) nextLogoutStep(ctx context.Context, st *logoutState, reply Reply) (Reply, error) {
	if st.ID == "" {
		id, err := samlxml.NewID(f.Rand)
		if err != nil {
			return Reply{}, bridge.Internal("The logout could not go on.", err)
		}
		st.ID = id
	}
	for len(st.Queue) > 0 {
		p := st.Queue[0]
		st.Queue = st.Queue[1:]
		id, err := samlxml.NewID(f.Rand)
		if err != nil {
			return Reply{}, bridge.Internal("The logout could not go on.", err)
		}
		out, sent, err := f.logoutParticipant(ctx, p, id, st.ID)
		if err != nil {
			f.log(ctx).Warn("logout not sent to an SP", zap.String("sp", p.SP), zap.Error(err))
			st.Partial = true
			continue
		}
		if sent {
			f.log(ctx).Info("logout sent to an SP", zap.String("sp", p.SP), zap.String("dialect", p.Dialect))
			st.Waiting, st.WaitingID = &p, id
			return f.saveAndSend(ctx, st, out, reply)
		}
	}
	if st.Initiator != nil && !st.UpstreamDone && f.upstreamLogout() != nil {
		return f.logoutUpstream(ctx, st, reply)
	}
	return f.finishLogout(ctx, st, reply)
}

func (f *Flow) logoutParticipant(ctx context.Context, p bridge.Participant, id, relay string) (bridge.Outgoing, bool, error) {
	d, ok := f.dialects[p.Dialect].(bridge.LogoutDialect)
	if !ok {
		return bridge.Outgoing{}, false, nil
	}
	sp, err := f.Registry.Lookup(p.Dialect, p.SP)
	if err != nil {
		return bridge.Outgoing{}, false, err
	}
	return d.LogoutRequest(ctx, sp, p, id, relay)
}

func (f *Flow) upstreamLogout() UpstreamLogout {
	u, _ := f.Upstream.(UpstreamLogout)
	return u
}

// logoutUpstream sends our LogoutRequest to the gateway.
func (f *Flow) logoutUpstream(ctx context.Context, st *logoutState, reply Reply) (Reply, error) {
	id, err := samlxml.NewID(f.Rand)
	if err != nil {
		return Reply{}, bridge.Internal("The logout could not go on.", err)
	}
	out, err := f.upstreamLogout().BeginLogout(ctx, id, st.ID)
	if err != nil {
		f.log(ctx).Warn("logout not sent upstream", zap.Error(err))
		st.Partial, st.UpstreamDone = true, true
		return f.finishLogout(ctx, st, reply)
	}
	f.log(ctx).Info("logout sent upstream", zap.String("upstream_id", id))
	st.UpstreamID = id
	return f.saveAndSend(ctx, st, out, reply)
}

// finishLogout answers whoever started the logout.
func (f *Flow) finishLogout(ctx context.Context, st *logoutState, reply Reply) (Reply, error) {
	status := bridge.Status{Code: bridge.StatusSuccess}
	if st.Partial {
		status = bridge.Status{Code: bridge.StatusPartialLogout, Message: "not every service could be logged out"}
	}
	f.log(ctx).Info("single logout finished", zap.Bool("partial", st.Partial))
	if st.Initiator == nil {
		out, err := f.upstreamLogout().LogoutResponse(ctx, st.UpstreamID, st.UpstreamRelay, !st.Partial)
		if err != nil {
			return Reply{}, bridge.Internal("The logout could not be answered.", err)
		}
		reply.Out = out
		return reply, nil
	}
	sp, err := f.Registry.Lookup(st.Initiator.Dialect, st.Initiator.SP)
	if err != nil {
		return Reply{}, bridge.Internal("The logout could not be answered.", err)
	}
	return f.answerInitiator(ctx, sp, *st.Initiator, status, reply)
}

func (f *Flow) answerInitiator(ctx context.Context, sp *bridge.ServiceProvider, in bridge.LogoutInitiator, status bridge.Status, reply Reply) (Reply, error) {
	d, ok := f.dialects[in.Dialect].(bridge.LogoutDialect)
	if !ok {
		return Reply{}, bridge.Internal("Logout is not available for this service.", fmt.Errorf("dialect %s has no logout", in.Dialect))
	}
	out, err := d.LogoutResponse(ctx, sp, in, status)
	if err != nil {
		return Reply{}, bridge.Internal("The logout could not be answered.", err)
	}
	f.log(ctx).Info("logout answered", zap.String("sp", sp.ID), zap.String("dialect", in.Dialect), zap.String("status", string(status.Code)))
	reply.Out = out
	return reply, nil
}

func (f *Flow) saveAndSend(ctx context.Context, st *logoutState, out bridge.Outgoing, reply Reply) (Reply, error) {
	if err := f.putLogout(ctx, st); err != nil {
		return Reply{}, bridge.Internal("The logout could not go on.", err)
	}
	reply.Out = out
	return reply, nil
}

func (f *Flow) putLogout(ctx context.Context, st *logoutState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode logout: %w", err)
	}
	key := logoutKeyPrefix + st.ID
	if st.Waiting != nil {
		key += "/" + st.WaitingID
	}
	// Sealed at rest, bound to its key: the participants it carries name
	// the citizen (a persistent NameID may be the PersonIdentifier).
	if f.Seal == nil {
		return errors.New("no state keys to seal the logout with")
	}
	sealed, err := f.Seal.Seal(key, data)
	if err != nil {
		return fmt.Errorf("seal logout: %w", err)
	}
	return f.Store.PutPending(ctx, key, []byte(sealed), f.PendingTTL)
}

func (f *Flow) takeLogout(ctx context.Context, id string) (*logoutState, error) {
	if id == "" || strings.HasPrefix(id, "/") {
		return nil, errors.New("the answer names no logout under way")
	}
	sealed, err := f.Store.TakePending(ctx, logoutKeyPrefix+id)
	if err != nil {
		return nil, fmt.Errorf("logout %q: %w", id, err)
	}
	if f.Seal == nil {
		return nil, errors.New("no state keys to open the logout with")
	}
	data, err := f.Seal.Open(logoutKeyPrefix+id, string(sealed))
	if err != nil {
		return nil, fmt.Errorf("open logout: %w", err)
	}
	var st logoutState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decode logout: %w", err)
	}
	trace.Adopt(ctx, st.Trace)
	return &st, nil
}

// UpstreamLogout receives the gateway's answer to our LogoutRequest, or a
// LogoutRequest the gateway starts.
func (f *Flow) UpstreamLogout(ctx context.Context, br Browser, form url.Values) (Reply, error) {
	u := f.upstreamLogout()
	if u == nil {
		return Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout message could not be read.", errors.New("the upstream connector has no logout"))
	}
	msg := u.Classify(form)
	if msg.LogoutRequest {
		id, relay, err := u.ReadLogoutRequest(ctx, form)
		if err != nil {
			return Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The gateway's logout request was refused.", err)
		}
		return f.gatewayLogoutRequested(ctx, br, u, id, relay)
	}
	// The answer is verified before any logout is taken: a forged one
	// takes nothing, and the logout under way waits for the genuine one.
	ans, err := u.ReadLogoutResponse(ctx, form)
	if err != nil {
		return Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The gateway's logout answer was refused.", err)
	}
	if strings.Contains(msg.RelayState, "/") { // names a step waiting for an SP, not for the gateway
		return Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout answer does not belong to a logout under way.",
			errors.New("the gateway's answer names a logout step that waits for an SP"))
	}
	st, err := f.takeLogout(ctx, msg.RelayState)
	audit.Log(ctx, f.Log, audit.Record{Direction: audit.In, Dialect: audit.Upstream, Kind: audit.LogoutResponse,
		ID: ans.ID, InResponseTo: ans.InResponseTo, Status: ans.Status})
	if err == nil && (st.UpstreamID == "" || st.UpstreamID != ans.InResponseTo) {
		// A logout that is not waiting for this answer goes on waiting.
		err = errors.Join(fmt.Errorf("the logout named is not waiting for the gateway's answer to %q", ans.InResponseTo), f.putLogout(ctx, st))
	}
	if err != nil {
		return Reply{}, bridge.Refuse(bridge.ReasonLogoutInvalid, "", "The logout answer does not belong to a logout under way.", err)
	}
	if !ans.OK {
		f.log(ctx).Warn("the gateway did not confirm the logout", zap.String("message", ans.Message))
		st.Partial = true
	}
	st.UpstreamDone = true
	return f.nextLogoutStep(ctx, st, Reply{})
}

// upstreamInitiated ends the session (nil: none) because the gateway says
// so and tells every SP of it before answering the gateway.
func (f *Flow) upstreamInitiated(ctx context.Context, sess *session.Session, id, relay string) (Reply, error) {
	st := &logoutState{UpstreamID: id, UpstreamRelay: relay, UpstreamDone: true, Trace: trace.ID(ctx)}
	var reply Reply
	if sess != nil {
		sess, err := f.takeSession(ctx, sess)
		if err != nil {
			return Reply{}, bridge.Internal("The session could not be ended.", err)
		}
		st.Queue = others(sess, "", "")
		reply.Session = clearSession
	}
	f.log(ctx).Info("single logout started by the gateway", zap.Int("sps", len(st.Queue)))
	return f.nextLogoutStep(ctx, st, reply)
}
