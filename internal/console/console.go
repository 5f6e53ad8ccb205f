// Package console is the operator console: server-rendered pages under
// /console/ of the API's listener, where an operator signs in with one of
// its access keys and sees the service (the usage of every location, the
// accounts closest to their limits, the quota requests waiting), looks
// accounts up, sets and removes their overrides, disables their keys,
// decides quota requests and reads the audit trail.
//
// Every change goes through the operator service (package operator), as a
// call of the operator API's action with the signed-in operator as its
// caller: the same validation, the same rule of roles (a readonly operator
// changes nothing) and the same audit records, with the operator as actor.
// Pages read the store; the overview's figures come from statements whose
// answers are bounded however many accounts there are.
//
// The pages are html/template with their CSS, script and templates embedded
// in the binary. Every answer carries a strict Content-Security-Policy (no
// inline script or style), X-Frame-Options DENY, nosniff and a same-origin
// referrer policy. Sessions live in the store (only their token's hash), so
// signing out, or disabling an operator or its key, ends them on every
// replica; every form carries a CSRF token that every POST must present.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/operator"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/zcapi"
)

// Path is where the console is served: every path under it is the
// console's.
const Path = "/console/"

// Handles reports whether a request path is the console's.
func Handles(path string) bool { return path == "/console" || strings.HasPrefix(path, Path) }

// Store is what the console reads from the store, besides what it changes
// through the operator service.
type Store interface {
	OperatorKeyCredential(ctx context.Context, keyID string) (quota.Credential, error)
	CreateConsoleSession(ctx context.Context, token, keyID string, ttl time.Duration, actor quota.Actor) (store.ConsoleSession, error)
	ConsoleSession(ctx context.Context, token string) (store.ConsoleSession, error)
	DeleteConsoleSession(ctx context.Context, token string, actor quota.Actor) (bool, error)

	// QuotaFigures are the per-location figures /metrics serves, each
	// limit resolved by quota.ResolveLimit as an admission resolves it.
	QuotaFigures(ctx context.Context, locations []string, fallback int) ([]quota.LocationFigures, error)
	ClosestToLimit(ctx context.Context, defaultMax, n int, locationID string) ([]quota.UsageReportRow, error)

	ListAccountsPage(ctx context.Context, f quota.AccountFilter) ([]quota.Account, int, error)
	GetAccount(ctx context.Context, id string) (quota.Account, error)
	Usage(ctx context.Context, accountID string) (quota.Usage, error)
	ListImagesPage(ctx context.Context, accountID string, offset, limit int) ([]quota.Image, int, error)
	ListAccessKeys(ctx context.Context, accountID string) ([]quota.AccessKey, error)
	ListLimits(ctx context.Context) ([]quota.LimitOverride, error)
	ListQuotaRequests(ctx context.Context, f quota.QuotaRequestFilter) (quota.QuotaRequestPage, error)
	ListAudit(ctx context.Context, f quota.AuditFilter) ([]quota.AuditRecord, error)
	CountAudit(ctx context.Context, f quota.AuditFilter) (int, error)
}

// Config is what a console is made of.
type Config struct {
	Store Store
	// Operator makes every change, as the operator API does.
	Operator *operator.Service
	Catalog  *quota.Catalog
	// Logger receives failed sign-ins, changes and failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionTTL is how long a sign-in lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// SignInFailures failed sign-ins from one address within SignInWindow
	// refuse its next ones until the window has passed; 0 means 10 and 10
	// minutes.
	SignInFailures int
	SignInWindow   time.Duration
	// RequestTimeout bounds each page's work, as the API's requests are
	// bounded (serve's --request-timeout); 0 means 10 s.
	RequestTimeout time.Duration
}

// DefaultSessionTTL is how long a sign-in lasts unless configured.
const DefaultSessionTTL = 8 * time.Hour

// NearPercent is where an account counts as near its limit: the share
// /metrics counts from (quota.NearLimitPercent).
const NearPercent = quota.NearLimitPercent

// Console serves the console's pages.
type Console struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	static  fs.FS
	limiter *signInLimiter
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New makes a console from cfg.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.Operator == nil {
		return nil, errors.New("console: a store and an operator service are required")
	}
	if cfg.Catalog == nil {
		cfg.Catalog = quota.DefaultCatalog()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SignInFailures <= 0 {
		cfg.SignInFailures = 10
	}
	if cfg.SignInWindow <= 0 {
		cfg.SignInWindow = 10 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	c := &Console{cfg: cfg, log: cfg.Logger, limiter: newSignInLimiter(cfg.SignInFailures, cfg.SignInWindow)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if c.static, err = fs.Sub(staticFS, "static"); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/signin", c.signInPage)
	m.HandleFunc("POST /console/signin", c.signIn)
	m.HandleFunc("POST /console/signout", c.withSession(c.signOut))
	m.HandleFunc("GET /console/static/{file}", c.serveStatic)

	m.HandleFunc("GET /console/{$}", c.page(c.overview))
	m.HandleFunc("GET /console/accounts", c.page(c.accounts))
	m.HandleFunc("GET /console/accounts/{id}", c.page(c.account))
	m.HandleFunc("GET /console/requests", c.page(c.requests))
	m.HandleFunc("GET /console/audit", c.page(c.audit))

	m.HandleFunc("POST /console/accounts/{id}/overrides", c.action("SetImageQuota", c.setOverride))
	m.HandleFunc("POST /console/accounts/{id}/overrides/remove", c.action("UnsetImageQuota", c.removeOverride))
	m.HandleFunc("POST /console/accounts/{id}/keys/{key}/disable", c.action("DisableAccessKey", c.setKeyStatus(true)))
	m.HandleFunc("POST /console/accounts/{id}/keys/{key}/enable", c.action("EnableAccessKey", c.setKeyStatus(false)))
	m.HandleFunc("POST /console/accounts/{id}/status", c.action("ModifyAccountStatus", c.setAccountStatus))
	m.HandleFunc("POST /console/requests/{id}/approve", c.action("ApproveQuotaRequest", c.approve))
	m.HandleFunc("POST /console/requests/{id}/deny", c.action("DenyQuotaRequest", c.deny))

	// Every other path under /console/ is the console's 404.
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, quota.Errorf(quota.CodeResourceNotFound, "There is no page %s in the console.", quota.Truncate(r.URL.Path, 120)))
	})
	c.mux = m
}

// contentSecurityPolicy allows nothing but the console's own files: no
// inline script or style, no frames, forms posted only to itself.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// ServeHTTP serves the console's paths (see Handles).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.fail(w, r, nil, fmt.Errorf("console: panic: %v", v))
		}
	}()
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.RequestTimeout)
	defer cancel()
	c.mux.ServeHTTP(w, r.WithContext(ctx))
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(c.static, name)
	if err != nil {
		c.fail(w, r, nil, quota.Errorf(quota.CodeResourceNotFound, "There is no file %s in the console.", quota.Truncate(name, 120)))
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// call is an operator API call of action by the signed-in operator, as the
// operator service takes it: its actor is the operator, its key the one
// it signed in with.
func (c *Console) call(s *session, action string) *zcapi.Call {
	return &zcapi.Call{RequestID: zcapi.NewRequestID(), Action: action, AccountID: s.OperatorID, Actor: s.KeyID, Role: s.Role}
}

// defaultMax is the limit where no override applies.
func (c *Console) defaultMax() int { return c.cfg.Operator.DefaultMax }
