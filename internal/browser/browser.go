// Package browser is a minimal scripted browser, used by the load command
// and by the end-to-end tests: it keeps cookies, follows redirects, and
// submits the auto-posting SAML forms the bridge, the simulator and the SPs
// render, as a browser would.
package browser

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Browser is a cookie-keeping HTTP client.
type Browser struct {
	Client *http.Client
}

// New returns a browser whose requests go through transport. Its cookie
// jar, like browsers, treats loopback as a secure origin, so the bridge's
// Secure session cookie comes back over http://127.0.0.1.
func New(transport http.RoundTripper) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{Client: &http.Client{Jar: jar, Transport: transport}}
}

// Page is a fetched page.
type Page struct {
	URL    *url.URL
	Status int
	Body   string
}

// Form is an HTML form with its inputs.
type Form struct {
	Action string
	Fields url.Values
}

// Forms lists the page's forms with their named inputs' values (submit
// buttons excluded).
func (p *Page) Forms() []Form {
	var out []Form
	z := html.NewTokenizer(strings.NewReader(p.Body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Key] = a.Val
			}
			switch {
			case tok.Data == "form":
				out = append(out, Form{Action: attrs["action"], Fields: url.Values{}})
			case tok.Data == "input" && len(out) > 0 && attrs["name"] != "" && attrs["type"] != "submit":
				out[len(out)-1].Fields.Add(attrs["name"], attrs["value"])
			}
		}
	}
}

// Get fetches u.
func (b *Browser) Get(u string) (*Page, error) {
	return b.do(http.NewRequest(http.MethodGet, u, nil))
}

// Post submits fields to u.
func (b *Browser) Post(u string, fields url.Values) (*Page, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(fields.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.do(req, err)
}

func (b *Browser) do(req *http.Request, err error) (*Page, error) {
	if err != nil {
		return nil, err
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body)}, nil
}

// IsAutoPost reports whether the page is a SAML auto-submitting POST form.
func (p *Page) IsAutoPost() bool {
	return strings.Contains(p.Body, "<script>") && strings.Contains(p.Body, "document.forms[0]") && len(p.Forms()) == 1
}

// FollowPosts submits auto-posting forms until a page is not one, or until
// stop says the next form's action should not be followed (the form is then
// returned for the caller to inspect). It never follows more than ten hops.
func (b *Browser) FollowPosts(p *Page, stop func(Form) bool) (*Page, *Form, error) {
	for hop := 0; hop < 10; hop++ {
		if p.Status != http.StatusOK || !p.IsAutoPost() {
			return p, nil, nil
		}
		f := p.Forms()[0]
		action, err := p.URL.Parse(f.Action)
		if err != nil {
			return nil, nil, err
		}
		f.Action = action.String()
		if stop != nil && stop(f) {
			return p, &f, nil
		}
		if p, err = b.Post(f.Action, f.Fields); err != nil {
			return nil, nil, err
		}
	}
	return nil, nil, fmt.Errorf("more than ten auto-posted forms in a row")
}
