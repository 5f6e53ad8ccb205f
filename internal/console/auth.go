package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/imagequota/imagequota/internal/operator"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/zcapi"
)

// Cookies of the console. The session cookie holds the session's token;
// the sign-in cookie holds the CSRF token of the sign-in form, which no
// session protects yet (a double-submitted token).
const (
	SessionCookie = "imagequota_console"
	signInCookie  = "imagequota_console_signin"
)

// maxFormBytes bounds a form's body.
const maxFormBytes = 64 << 10

// session is the signed-in operator of a request, with the CSRF token its
// forms carry.
type session struct {
	store.ConsoleSession
	token string
	CSRF  string
}

// CanWrite reports whether the operator may change anything: what its
// role allows on the operator API, of which SetImageQuota is one write.
func (s *session) CanWrite() bool {
	return operator.Authorize(&zcapi.Call{Action: "SetImageQuota", Role: s.Role}) == nil
}

// csrfToken is the CSRF token of a session token: a MAC of it, so that it
// is known only to whoever holds the session's cookie, and needs no storage.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("imagequota console csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// session returns the request's session, or nil when it has none (no
// cookie, or one that opens no session).
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 200 {
		return nil, nil
	}
	s, err := c.cfg.Store.ConsoleSession(r.Context(), ck.Value)
	if errors.Is(err, store.ErrNoConsoleSession) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &session{ConsoleSession: s, token: ck.Value, CSRF: csrfToken(ck.Value)}, nil
}

// page serves a GET page to a signed-in operator; without a session, the
// browser goes to the sign-in page and comes back after.
func (c *Console) page(fn func(w http.ResponseWriter, r *http.Request, s *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if s == nil {
			http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err := fn(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// withSession serves a POST of a signed-in operator that presents its
// session's CSRF token.
func (c *Console) withSession(fn func(w http.ResponseWriter, r *http.Request, s *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if s == nil {
			c.fail(w, r, nil, errForbidden("You are not signed in, or your session has ended: sign in again."))
			return
		}
		if err := c.checkPost(w, r, s.CSRF); err != nil {
			c.log.Warn("console: refused a post", "path", r.URL.Path, "operator", s.OperatorID, "reason", err.Error(), "remote", clientIP(r))
			c.fail(w, r, s, err)
			return
		}
		if err := fn(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// action serves a POST that makes a change as the operator API's action
// does: for a signed-in operator whose role allows that action (the
// operator API's rule, operator.Authorize), with its CSRF token. The
// handler makes the change with call.
func (c *Console) action(action string, fn func(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error) http.HandlerFunc {
	return c.withSession(func(w http.ResponseWriter, r *http.Request, s *session) error {
		call := c.call(s, action)
		if err := operator.Authorize(call); err != nil {
			c.log.Warn("console: refused a change the role does not allow", "action", action, "path", r.URL.Path,
				"operator", s.OperatorID, "role", s.Role, "request_id", call.RequestID)
			return errForbiddenWrap(err)
		}
		err := fn(w, r, s, call)
		outcome := "ok"
		if err != nil {
			outcome = quota.ErrorCode(err)
		}
		c.log.Info("console: change", "action", action, "path", r.URL.Path, "operator", s.OperatorID,
			"access_key_id", s.KeyID, "request_id", call.RequestID, "outcome", outcome)
		return err
	})
}

// checkPost refuses a POST that does not come from the console's own
// pages: a foreign Origin or Sec-Fetch-Site, or a missing or wrong CSRF
// token. It parses the form.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request, want string) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errForbidden("The form was not sent from this console's pages.")
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errForbidden("The form was not sent from this console's pages.")
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return quota.Errorf(quota.CodeInvalidParameterValue, "The form could not be read: it is malformed or larger than %d KiB.", maxFormBytes>>10)
	}
	if !sameToken(r.PostForm.Get("csrf"), want) {
		return errForbidden("The form's security token is missing or out of date: reload the page and try again.")
	}
	return nil
}

// forbidden is a refusal shown as 403.
type forbidden struct{ msg string }

func (f *forbidden) Error() string { return f.msg }

func errForbidden(msg string) error { return &forbidden{msg} }

func errForbiddenWrap(err error) error {
	var qe *quota.Error
	if errors.As(err, &qe) {
		return &forbidden{"Your role may not do this: " + qe.Message}
	}
	return &forbidden{"Your role may not do this."}
}

// signInFailed is the one message of every failed sign-in, whatever the cause.
const signInFailed = "The access key id or password is wrong, or the key or its operator is disabled."

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.session(r); err == nil && s != nil {
		http.Redirect(w, r, next(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.renderSignIn(w, r, http.StatusOK, "", "")
}

// renderSignIn shows the sign-in form with a new CSRF token for it.
func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, keyID, problem string) {
	tok := store.NewSecret(24)
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: tok, Path: Path, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	flash := ""
	if r.URL.Query().Get("signedout") == "1" {
		flash = "You are signed out."
	}
	c.render(w, r, status, "signin", view{Title: "Sign in", CSRF: tok, Flash: flash, Body: signInView{
		KeyID: keyID, Problem: problem, Next: next(r.URL.Query().Get("next")),
	}})
}

type signInView struct {
	KeyID, Problem, Next string
}

// next is where to go after signing in: a console path, or the overview.
func next(p string) string {
	if strings.HasPrefix(p, Path) && !strings.HasPrefix(p, "//") && !strings.Contains(p, "\\") && !strings.HasPrefix(p, "/console/signin") {
		return p
	}
	return Path
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderSignIn(w, r, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	keyID := strings.TrimSpace(r.PostForm.Get("accessKeyId"))
	ck, err := r.Cookie(signInCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), ck.Value) {
		c.log.Warn("console: sign-in refused: the form's CSRF token is missing or wrong", "remote", ip)
		c.renderSignIn(w, r, http.StatusForbidden, keyID, "The form's security token is missing or out of date: try again.")
		return
	}
	if wait := c.limiter.blocked(ip, c.cfg.Now()); wait > 0 {
		c.log.Warn("console: sign-in refused: too many failures from the address", "remote", ip, "access_key_id", quota.Truncate(keyID, 40))
		c.renderSignIn(w, r, http.StatusTooManyRequests, keyID,
			"Too many failed sign-ins from your address: try again in "+wait.Round(time.Minute).String()+".")
		return
	}
	if keyID == "" || r.PostForm.Get("password") == "" {
		c.renderSignIn(w, r, http.StatusBadRequest, keyID, "Give your operator access key id and its password.")
		return
	}
	reason := ""
	cred, err := c.cfg.Store.OperatorKeyCredential(r.Context(), keyID)
	switch {
	case err != nil && quota.ErrorCode(err) == quota.CodeInternal:
		c.fail(w, r, nil, err)
		return
	case err != nil:
		reason = "unknown access key"
	case subtle.ConstantTimeCompare([]byte(cred.Secret), []byte(r.PostForm.Get("password"))) != 1:
		reason = "wrong password"
	case cred.Disabled:
		reason = "the key is disabled"
	case cred.AccountDisabled:
		reason = "the operator is disabled"
	}
	if reason != "" {
		c.limiter.failed(ip, c.cfg.Now())
		c.log.Warn("console: sign-in failed", "remote", ip, "access_key_id", quota.Truncate(keyID, 40), "reason", reason)
		c.renderSignIn(w, r, http.StatusUnauthorized, keyID, signInFailed)
		return
	}
	token := store.NewSecret(32)
	actor := quota.Actor{Name: quota.OperatorActor(cred.AccountID), RequestID: zcapi.NewRequestID()}
	s, err := c.cfg.Store.CreateConsoleSession(r.Context(), token, keyID, c.cfg.SessionTTL, actor)
	if errors.Is(err, store.ErrNoConsoleSession) {
		// Disabled between the two reads.
		c.renderSignIn(w, r, http.StatusUnauthorized, keyID, signInFailed)
		return
	}
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.limiter.succeeded(ip)
	c.log.Info("console: signed in", "operator", s.OperatorID, "access_key_id", keyID, "role", s.Role, "remote", ip, "request_id", actor.RequestID)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: Path, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: s.ExpiresAt, MaxAge: int(c.cfg.SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: "", Path: Path, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, next(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) error {
	actor := quota.Actor{Name: quota.OperatorActor(s.OperatorID), RequestID: zcapi.NewRequestID()}
	if _, err := c.cfg.Store.DeleteConsoleSession(r.Context(), s.token, actor); err != nil {
		return err
	}
	c.log.Info("console: signed out", "operator", s.OperatorID, "access_key_id", s.KeyID, "request_id", actor.RequestID)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: Path, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/console/signin?signedout=1", http.StatusSeeOther)
	return nil
}

// clientIP is the address a request came from (its connection's: a proxy
// in front makes every request its own).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// signInLimiter counts the failed sign-ins of each address in a window:
// past max, the address is refused until the window of its first failure
// has passed. It is each replica's own.
type signInLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	by     map[string]*failures
}

type failures struct {
	n     int
	since time.Time
}

// maxTracked bounds how many addresses the limiter remembers.
const maxTracked = 10000

func newSignInLimiter(max int, window time.Duration) *signInLimiter {
	return &signInLimiter{max: max, window: window, by: map[string]*failures{}}
}

// blocked returns how long ip must still wait; 0 when it may try.
func (l *signInLimiter) blocked(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.by[ip]
	if f == nil {
		return 0
	}
	if now.Sub(f.since) >= l.window {
		delete(l.by, ip)
		return 0
	}
	if f.n < l.max {
		return 0
	}
	return max(f.since.Add(l.window).Sub(now), time.Minute)
}

func (l *signInLimiter) failed(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.by[ip]
	if f == nil || now.Sub(f.since) >= l.window {
		if len(l.by) >= maxTracked {
			for k, v := range l.by {
				if now.Sub(v.since) >= l.window {
					delete(l.by, k)
				}
			}
			if len(l.by) >= maxTracked {
				return
			}
		}
		f = &failures{since: now}
		l.by[ip] = f
	}
	f.n++
}

func (l *signInLimiter) succeeded(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.by, ip)
}
