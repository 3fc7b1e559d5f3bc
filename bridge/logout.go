package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// LogoutInitiator is the SP whose LogoutRequest started a single logout,
// with what its dialect needs to answer it.
type LogoutInitiator struct {
	SP         string            `json:"sp"`
	Dialect    string            `json:"dialect"`
	RequestID  string            `json:"request_id"`
	RelayState string            `json:"relay_state,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"`
}

// LogoutDialect is a Dialect that takes part in single logout.
type LogoutDialect interface {
	Dialect
	// LogoutRequest builds the front-channel LogoutRequest with this ID
	// telling p's SP that the session ended, carrying relayState; ok is
	// false when that SP cannot receive one (no logout endpoint registered).
	// The SP's LogoutResponse comes back to the dialect's endpoint, which
	// verifies it and calls Flow.ContinueLogout.
	LogoutRequest(ctx context.Context, sp *ServiceProvider, p Participant, id, relayState string) (out Outgoing, ok bool, err error)
	// LogoutResponse answers the SP that started the logout: Success, or a
	// partial logout, or a refusal with status.
	LogoutResponse(ctx context.Context, sp *ServiceProvider, in LogoutInitiator, status Status) (Outgoing, error)
}

// UpstreamLogout is the gateway leg of single logout.
type UpstreamLogout interface {
	BeginLogout(ctx context.Context, id, relayState string) (Outgoing, error)
	FinishLogout(ctx context.Context, form url.Values, expectID string) (ok bool, message string, err error)
	ReadLogoutRequest(ctx context.Context, form url.Values) (id, relayState string, err error)
	LogoutResponse(ctx context.Context, inResponseTo, relayState string, ok bool) (Outgoing, error)
}

// Status codes of logout answers.
const (
	StatusPartialLogout    StatusCode = "PartialLogout"
	StatusUnknownPrincipal StatusCode = "UnknownPrincipal"
)

// logoutState is a single logout under way, kept in the store (taken once
// per step) under a random id that travels as RelayState.
type logoutState struct {
	ID        string           `json:"id"`
	Initiator *LogoutInitiator `json:"initiator,omitempty"` // nil: the gateway started it
	Queue     []Participant    `json:"queue,omitempty"`
	Waiting   *Participant     `json:"waiting,omitempty"`
	WaitingID string           `json:"waiting_id,omitempty"` // our LogoutRequest to Waiting
	// The gateway leg: the ID of our LogoutRequest to it, or of its
	// LogoutRequest to us (gateway-initiated) with its RelayState.
	UpstreamID    string `json:"upstream_id,omitempty"`
	UpstreamRelay string `json:"upstream_relay,omitempty"`
	UpstreamDone  bool   `json:"upstream_done,omitempty"`
	Partial       bool   `json:"partial,omitempty"`
}

const logoutKeyPrefix = "logout:"

// StartLogout ends the browser's SSO session on behalf of in's SP, whose
// LogoutRequest the endpoint has verified; matches checks that the request
// names that SP's session (NameID, SessionIndex). The other SPs of the
// session and the gateway are told one after the other, then the initiator
// gets its LogoutResponse. An unknown or expired session, or a request for
// another session, is refused and destroys nothing.
func (f *Flow) StartLogout(c echo.Context, sp *ServiceProvider, in LogoutInitiator, matches func(Participant) bool) error {
	log := f.Log.With(zap.String("sp", sp.ID), zap.String("dialect", in.Dialect))
	sess, err := f.Sessions.Load(c)
	if err != nil || sess == nil {
		log.Info("logout refused", zap.String("reason", "no session"), zap.Error(err))
		return f.answerInitiator(c, sp, in, Status{Code: StatusUnknownPrincipal, Message: "no session to log out"})
	}
	// SSO reuse gives an SP one record per assertion: the request may name any.
	named := slices.ContainsFunc(sess.Participants, func(p Participant) bool {
		return p.Dialect == in.Dialect && p.SP == sp.ID && matches(p)
	})
	if !named {
		log.Info("logout refused", zap.String("reason", "the request does not name this SP's session"))
		return f.answerInitiator(c, sp, in, Status{Code: StatusRequestDenied, Message: "the logout request does not match the session"})
	}
	st := &logoutState{Initiator: &in, Queue: others(sess, in.SP, in.Dialect)}
	if err := f.endSession(c, sess); err != nil {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "The session could not be ended.", err)
	}
	log.Info("single logout started", zap.Int("other_sps", len(st.Queue)))
	return f.nextLogoutStep(c, st)
}

// others are the session's participants but the initiator, one per SP:
// its latest record (the NameID and SessionIndex it got last).
func others(sess *Session, sp, dialect string) []Participant {
	var out []Participant
	seen := map[string]bool{dialect + " " + sp: true}
	for _, p := range slices.Backward(sess.Participants) {
		if key := p.Dialect + " " + p.SP; !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	return out
}

// endSession destroys the session and its cookie.
func (f *Flow) endSession(c echo.Context, sess *Session) error {
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
	return f.Sessions.Store.DeleteSession(c.Request().Context(), sess.ID)
}

// ContinueLogout resumes the logout named by relayState after the SP it
// waits for answered (verified by the dialect) the LogoutRequest
// inResponseTo; ok false: that SP did not log out.
func (f *Flow) ContinueLogout(c echo.Context, sp *ServiceProvider, relayState, inResponseTo string, ok bool) error {
	ctx := c.Request().Context()
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
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The logout answer does not belong to a logout under way.", err)
	}
	if !ok {
		f.Log.Info("an SP did not log out", zap.String("sp", st.Waiting.SP))
		st.Partial = true
	}
	st.Waiting, st.WaitingID = nil, ""
	return f.nextLogoutStep(c, st)
}

// nextLogoutStep tells the next SP, then the gateway, then answers.
func (f *Flow) nextLogoutStep(c echo.Context, st *logoutState) error {
	ctx := c.Request().Context()
	if st.ID == "" {
		id, err := samlxml.NewID(f.Rand)
		if err != nil {
			return err
		}
		st.ID = id
	}
	for len(st.Queue) > 0 {
		p := st.Queue[0]
		st.Queue = st.Queue[1:]
		id, err := samlxml.NewID(f.Rand)
		if err != nil {
			return err
		}
		out, sent, err := f.logoutParticipant(ctx, p, id, st.ID)
		if err != nil {
			f.Log.Warn("logout not sent to an SP", zap.String("sp", p.SP), zap.Error(err))
			st.Partial = true
			continue
		}
		if sent {
			st.Waiting, st.WaitingID = &p, id
			return f.saveAndPost(c, st, out)
		}
	}
	if st.Initiator != nil && !st.UpstreamDone && f.upstreamLogout() != nil {
		return f.logoutUpstream(c, st)
	}
	return f.finishLogout(c, st)
}

func (f *Flow) logoutParticipant(ctx context.Context, p Participant, id, relay string) (Outgoing, bool, error) {
	d, ok := f.dialects[p.Dialect].(LogoutDialect)
	if !ok {
		return Outgoing{}, false, nil
	}
	sp, err := f.Registry.Lookup(p.Dialect, p.SP)
	if err != nil {
		return Outgoing{}, false, err
	}
	return d.LogoutRequest(ctx, sp, p, id, relay)
}

func (f *Flow) upstreamLogout() UpstreamLogout {
	u, _ := f.Upstream.(UpstreamLogout)
	return u
}

// logoutUpstream sends our LogoutRequest to the gateway.
func (f *Flow) logoutUpstream(c echo.Context, st *logoutState) error {
	id, err := samlxml.NewID(f.Rand)
	if err != nil {
		return err
	}
	out, err := f.upstreamLogout().BeginLogout(c.Request().Context(), id, st.ID)
	if err != nil {
		f.Log.Warn("logout not sent upstream", zap.Error(err))
		st.Partial, st.UpstreamDone = true, true
		return f.finishLogout(c, st)
	}
	st.UpstreamID = id
	return f.saveAndPost(c, st, out)
}

// finishLogout answers whoever started the logout.
func (f *Flow) finishLogout(c echo.Context, st *logoutState) error {
	ctx := c.Request().Context()
	status := Status{Code: StatusSuccess}
	if st.Partial {
		status = Status{Code: StatusPartialLogout, Message: "not every service could be logged out"}
	}
	f.Log.Info("single logout finished", zap.Bool("partial", st.Partial))
	if st.Initiator == nil {
		out, err := f.upstreamLogout().LogoutResponse(ctx, st.UpstreamID, st.UpstreamRelay, !st.Partial)
		if err != nil {
			return ErrorPage(c, f.Log, http.StatusInternalServerError, "The logout could not be answered.", err)
		}
		return WritePost(c, out)
	}
	sp, err := f.Registry.Lookup(st.Initiator.Dialect, st.Initiator.SP)
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "The logout could not be answered.", err)
	}
	return f.answerInitiator(c, sp, *st.Initiator, status)
}

func (f *Flow) answerInitiator(c echo.Context, sp *ServiceProvider, in LogoutInitiator, status Status) error {
	d, ok := f.dialects[in.Dialect].(LogoutDialect)
	if !ok {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "Logout is not available for this service.", fmt.Errorf("dialect %s has no logout", in.Dialect))
	}
	out, err := d.LogoutResponse(c.Request().Context(), sp, in, status)
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "The logout could not be answered.", err)
	}
	return WritePost(c, out)
}

func (f *Flow) saveAndPost(c echo.Context, st *logoutState, out Outgoing) error {
	if err := f.putLogout(c.Request().Context(), st); err != nil {
		return ErrorPage(c, f.Log, http.StatusInternalServerError, "The logout could not go on.", err)
	}
	return WritePost(c, out)
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
	return f.Store.PutPending(ctx, key, data, f.PendingTTL)
}

func (f *Flow) takeLogout(ctx context.Context, id string) (*logoutState, error) {
	if id == "" || strings.HasPrefix(id, "/") {
		return nil, errors.New("no RelayState naming a logout")
	}
	data, err := f.Store.TakePending(ctx, logoutKeyPrefix+id)
	if err != nil {
		return nil, fmt.Errorf("logout %q: %w", id, err)
	}
	var st logoutState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decode logout: %w", err)
	}
	return &st, nil
}

// UpstreamSLOHandler receives, at /upstream/slo (and on the ACS, where
// Cl@ve sometimes sends it), the gateway's logoutResponse to our
// LogoutRequest, or a logoutRequest the gateway starts.
func (f *Flow) UpstreamSLOHandler(c echo.Context) error {
	u := f.upstreamLogout()
	form, err := c.FormParams()
	if err != nil || u == nil {
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The logout message could not be read.", err)
	}
	if form.Get("logoutRequest") != "" {
		return f.upstreamInitiated(c, u, form)
	}
	st, err := f.takeLogout(c.Request().Context(), form.Get("RelayState"))
	if err != nil || st.UpstreamID == "" {
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The logout answer does not belong to a logout under way.", err)
	}
	ok, msg, err := u.FinishLogout(c.Request().Context(), form, st.UpstreamID)
	if err != nil || !ok {
		f.Log.Warn("the gateway did not confirm the logout", zap.String("message", msg), zap.Error(err))
		st.Partial = true
	}
	st.UpstreamDone = true
	return f.nextLogoutStep(c, st)
}

// upstreamInitiated ends the session because the gateway says so and tells
// every SP of it before answering the gateway.
func (f *Flow) upstreamInitiated(c echo.Context, u UpstreamLogout, form url.Values) error {
	id, relay, err := u.ReadLogoutRequest(c.Request().Context(), form)
	if err != nil {
		return ErrorPage(c, f.Log, http.StatusBadRequest, "The gateway's logout request was refused.", err)
	}
	st := &logoutState{UpstreamID: id, UpstreamRelay: relay, UpstreamDone: true}
	sess, err := f.Sessions.Load(c)
	if err == nil && sess != nil {
		st.Queue = others(sess, "", "")
		if err := f.endSession(c, sess); err != nil {
			return ErrorPage(c, f.Log, http.StatusInternalServerError, "The session could not be ended.", err)
		}
	}
	f.Log.Info("single logout started by the gateway", zap.Int("sps", len(st.Queue)))
	return f.nextLogoutStep(c, st)
}
