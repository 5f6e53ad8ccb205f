package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
)

// pageNames are the templates of templates/, each with layout.html.
var pageNames = []string{"signin", "error", "overview", "accounts", "account", "requests", "audit"}

var funcs = template.FuncMap{
	"when":    when,
	"whenPtr": whenPtr,
	"json":    prettyJSON,
	"intPtr": func(p *int) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprint(*p)
	},
	"auditOf": func(recs []quota.AuditRecord, showAccount bool) auditTableView {
		return auditTableView{Records: recs, ShowAccount: showAccount}
	},
	"inputTime": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04")
	},
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// auditTableView is a table of audit records, with their accounts or not.
type auditTableView struct {
	Records     []quota.AuditRecord
	ShowAccount bool
}

// view is what every page is rendered from.
type view struct {
	Title string
	// Nav names the section of the menu to mark.
	Nav string
	// S is the signed-in operator; nil on the sign-in page and on errors
	// before a session was found.
	S *session
	// CSRF is the token every form carries.
	CSRF string
	// Flash says what the last change did.
	Flash string
	// Problem is what was wrong with the form just sent.
	Problem *problem
	Body    any
}

// CanWrite reports whether the page may show the forms that change things.
func (v view) CanWrite() bool { return v.S != nil && v.S.CanWrite() }

// problem is what was wrong with a form: which form and field, what, and
// the values sent, to show them again.
type problem struct {
	Form    string
	Field   string
	Message string
	Values  url.Values
}

// On reports whether the problem is with form.
func (p *problem) On(form string) bool { return p != nil && p.Form == form }

// Invalid reports whether the problem is with form's field.
func (p *problem) Invalid(form, field string) bool { return p.On(form) && p.Field == field }

// Value is what was sent in form's field when the form had a problem,
// otherwise def.
func (p *problem) Value(form, field, def string) string {
	if p.On(form) {
		return p.Values.Get(field)
	}
	return def
}

// render writes the page name with v.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if v.S != nil && v.CSRF == "" {
		v.CSRF = v.S.CSRF
	}
	var b bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
		c.log.Error("console: rendering a page failed", "page", name, "error", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("The console could not show this page. The server's log says why.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

type errorView struct {
	Status    int
	Heading   string
	Message   string
	RequestID string
}

// fail shows err as a page: the message of a refusal, of an error of the
// domain (quota.Error, with the API's status for its code), or, for
// anything else, a general one, the details going to the log only.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	ev := errorView{RequestID: zcapi.NewRequestID()}
	var fb *forbidden
	var qe *quota.Error
	switch {
	case errors.As(err, &fb):
		ev.Status, ev.Heading, ev.Message = http.StatusForbidden, "Not allowed", fb.msg
	case errors.As(err, &qe) && quota.ErrorCode(err) != quota.CodeInternal && quota.ErrorCode(err) != quota.CodeUnavailable:
		ev.Status, _ = zcapi.Status(qe.Code)
		ev.Message = qe.Message
		switch ev.Status {
		case http.StatusNotFound:
			ev.Heading = "Not found"
		case http.StatusConflict:
			ev.Heading = "Not possible now"
		case http.StatusUnauthorized, http.StatusForbidden:
			ev.Status, ev.Heading = http.StatusForbidden, "Not allowed"
		default:
			ev.Heading = "That did not work"
		}
	case errors.Is(err, context.DeadlineExceeded) || quota.ErrorCode(err) == quota.CodeUnavailable:
		ev.Status, ev.Heading = http.StatusServiceUnavailable, "Try again"
		ev.Message = "The console took too long to answer (the database may be busy or unreachable). Try again in a moment."
		c.log.Warn("console: page timed out or the store is unavailable", "path", r.URL.Path, "request_id", ev.RequestID, "error", err.Error())
	default:
		ev.Status, ev.Heading = http.StatusInternalServerError, "Something went wrong"
		ev.Message = "The console could not do this. The server's log has the details under the request id below."
		c.log.Error("console: internal error", "path", r.URL.Path, "request_id", ev.RequestID, "error", err.Error())
	}
	c.render(w, r, ev.Status, "error", view{Title: ev.Heading, S: s, Body: ev})
}

// when writes a time as the console shows it: UTC, to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return when(*t)
}

// prettyJSON indents an audit record's before or after state.
func prettyJSON(v any) string {
	if v == nil {
		return "—"
	}
	var raw []byte
	if r, ok := v.(json.RawMessage); ok {
		raw = r
	} else {
		b, err := json.Marshal(v)
		if err != nil {
			return "—"
		}
		raw = b
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return string(raw)
	}
	return out.String()
}

// pager is a list's place among its pages.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

// newPager makes the pager of page (from 1) of size over total, its links
// being base with the page parameter param set.
func newPager(base url.URL, param string, page, size, total int) pager {
	p := pager{Page: page, Total: total, Pages: max(1, (total+size-1)/size)}
	link := func(n int) string {
		q := base.Query()
		q.Set(param, fmt.Sprint(n))
		u := base
		u.RawQuery = q.Encode()
		return u.RequestURI()
	}
	if page > 1 {
		p.Prev = link(min(page-1, p.Pages))
	}
	if page < p.Pages {
		p.Next = link(page + 1)
	}
	return p
}

// pageParam reads a page number parameter: 1 when absent.
func pageParam(r *http.Request, param string) (int, error) {
	v := strings.TrimSpace(r.URL.Query().Get(param))
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, quota.Errorf(quota.CodeInvalidParameterValue, "%s must be a whole number from 1 to 1000000; it is %q.", param, quota.Truncate(v, 32))
	}
	return n, nil
}
