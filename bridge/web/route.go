package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/flow"
)

// Input is one HTTP request as a dialect reads it: no HTTP types.
type Input struct {
	// Post is true for a POST (its fields in Form), false for a GET (its
	// parameters in RawQuery, which signature checks need as sent).
	Post     bool
	RawQuery string
	Form     url.Values
	Browser  flow.Browser
	// Origin is the request's Origin header ("" when the browser sent
	// none; "null" for an opaque origin).
	Origin string
}

// Handler serves one protocol message: it reads in, asks the flow, and
// returns the flow's reply or a refusal for the error page.
type Handler func(ctx context.Context, in *Input) (flow.Reply, error)

// Route is one path a dialect serves: protocol messages (Handle), or a
// document (Document, of ContentType).
type Route struct {
	Method      string // http.MethodGet or http.MethodPost
	Path        string
	Handle      Handler
	Document    func() ([]byte, error)
	ContentType string
}

// Mount adds routes.
func (s *Server) Mount(routes ...Route) {
	for _, r := range routes {
		if r.Document != nil {
			s.echo.Add(r.Method, r.Path, s.document(r))
		} else {
			s.echo.Add(r.Method, r.Path, s.message(r.Handle))
		}
	}
}

// message serves a route that carries protocol messages to h.
func (s *Server) message(h Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		// a page answering a protocol message cannot be asked for again
		// (the message would be a replay): no language switch to it
		Page(c).Switch = nil
		in, err := s.readInput(c)
		if err != nil {
			return s.Problem(c, Problem{Reason: bridge.ReasonBadRequest, Err: fmt.Errorf("read request: %w", err)})
		}
		reply, err := h(c.Request().Context(), in)
		return s.Answer(c, reply, err)
	}
}

// document serves a route's document (metadata, certificates).
func (s *Server) document(r Route) echo.HandlerFunc {
	return func(c echo.Context) error {
		data, err := r.Document()
		if err != nil {
			return s.Problem(c, Problem{Reason: bridge.ReasonInternal, Err: fmt.Errorf("document %s: %w", r.Path, err)})
		}
		return c.Blob(http.StatusOK, r.ContentType, data)
	}
}

func (s *Server) readInput(c echo.Context) (*Input, error) {
	in := &Input{RawQuery: c.Request().URL.RawQuery, Browser: s.browser(c), Origin: c.Request().Header.Get("Origin")}
	if c.Request().Method != http.MethodPost {
		return in, nil
	}
	form, err := c.FormParams()
	if err != nil {
		return nil, err
	}
	in.Post, in.Form = true, form
	return in, nil
}
