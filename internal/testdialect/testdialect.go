// Package testdialect is a fourth inbound dialect that exists only to prove
// that adding one is a new package plus one line of wiring. Its wire is
// deliberately trivial and unsigned, so it is for tests only: a GET
// /plain/login?sp=<id>&id=<request id>&loa=<level> starts a login for a
// registered SP of dialect "plain", and the answer is a form posted to the
// SP's first return URL with the outcome in plain fields.
package testdialect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/flow"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/endpoints/dialect"
	"github.com/clavebridge/clavebridge/translate"
)

// Name is the dialect's name in the configuration.
const Name = "plain"

// LoginPath is where the dialect's SPs start a login.
const LoginPath = "/plain/login"

// Plugin is the dialect for the wiring's list.
var Plugin = dialect.Plugin{Rules: Rules{}, New: New}

// Rules are the dialect's configuration rules: its SPs need a name.
type Rules struct{}

var _ config.DialectRules = Rules{}

// Name is the dialect's name.
func (Rules) Name() string { return Name }

// Defaults fills nothing: the dialect signs nothing and asks for no keys.
func (Rules) Defaults(sp *config.SPConfig) {
	if sp.RequireSigned == nil {
		unsigned := false
		sp.RequireSigned = &unsigned
	}
}

// ValidateSP requires a display name and refuses the other dialects' keys.
func (Rules) ValidateSP(path string, sp config.SPConfig) []error {
	errs := config.Unsupported(path, sp, "profile", "used_idp", "string_value_types", "attribute_profile")
	if sp.Name == "" {
		errs = append(errs, config.FieldErrorf(path+".name", "a %s SP needs a name", Name))
	}
	return errs
}

// EncryptsToSigner is false: nothing is encrypted.
func (Rules) EncryptsToSigner(config.SPConfig) bool { return false }

// Endpoint serves the dialect.
type Endpoint struct{ deps dialect.Deps }

var _ dialect.Endpoint = (*Endpoint)(nil)

// New builds the endpoint.
func New(deps dialect.Deps) (dialect.Endpoint, error) {
	if deps.Flow == nil || deps.Registry == nil {
		return nil, errors.New("testdialect: needs the flow and the registry")
	}
	return &Endpoint{deps: deps}, nil
}

// Name is the dialect's name.
func (e *Endpoint) Name() string { return Name }

// Routes serve the login path.
func (e *Endpoint) Routes() []web.Route {
	return []web.Route{{Method: http.MethodGet, Path: LoginPath, Handle: e.login}}
}

// state is what the dialect keeps of a request for its answer.
type state struct {
	Echo string `json:"echo,omitempty"`
}

func (e *Endpoint) login(ctx context.Context, in *web.Input) (flow.Reply, error) {
	q, err := url.ParseQuery(in.RawQuery)
	if err != nil {
		return flow.Reply{}, bridge.Invalid("The request could not be read.", err)
	}
	sp, err := e.deps.Registry.Lookup(Name, q.Get("sp"))
	if err != nil {
		return flow.Reply{}, bridge.Invalid("The service is not known.", err)
	}
	req := &bridge.Request{SP: sp.ID, Dialect: Name, ID: q.Get("id"), ReturnURL: sp.ACS[0].URL}
	if req.State, err = bridge.EncodeState(state{Echo: q.Get("echo")}); err != nil {
		return flow.Reply{}, bridge.Internal("The request could not be kept.", err)
	}
	var readErr error
	if loa := q.Get("loa"); loa != "" {
		if req.MinLoA, err = translate.ParseLoA(loa); err != nil {
			readErr = bridge.Deny(bridge.StatusNoAuthnContext, "%v", err)
		}
	}
	return e.deps.Flow.Start(ctx, in.Browser, sp, req, readErr)
}

// Render posts the outcome to the SP in plain fields.
func (e *Endpoint) Render(_ context.Context, _ *bridge.ServiceProvider, req *bridge.Request, res bridge.Result) (bridge.Outgoing, error) {
	var st state
	if err := bridge.DecodeState(req.State, &st); err != nil {
		return bridge.Outgoing{}, err
	}
	fields := []samlxml.Field{
		{Name: "in_response_to", Value: req.ID},
		{Name: "status", Value: string(res.Status.Code)},
		{Name: "loa", Value: res.LoA.String()},
		{Name: "echo", Value: st.Echo},
	}
	for _, a := range res.Attributes {
		for _, v := range a.Values {
			fields = append(fields, samlxml.Field{Name: fmt.Sprintf("attr:%s", a.Name), Value: v})
		}
	}
	return bridge.Outgoing{URL: req.ReturnURL, Fields: fields}, nil
}
