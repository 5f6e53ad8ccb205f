package zcapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imagequota/imagequota/internal/quota"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// Call is what a handler knows about the request it serves.
type Call struct {
	RequestID string
	Action    string
	Version   string
	AccountID string
	// Actor is the access key id, or "token:<first 8 hex of its hash>".
	Actor string
	// Role is the credential's role (an operator key's); "" for a tenant's.
	Role string

	// replayKey recognises the request seen again (auth.go), until
	// replayExpires; "" when nothing does.
	replayKey     string
	replayExpires time.Time
}

// AuditActor is the call's actor for the audit trail, with what recognises
// the request seen again for the store's replay protection.
func (c *Call) AuditActor() quota.Actor {
	a := quota.Actor{Name: c.Actor, RequestID: c.RequestID}
	if c.replayKey != "" {
		a.Replay = quota.Replay{Key: c.replayKey, Action: c.Action, Expires: c.replayExpires}
	}
	return a
}

// HandlerFunc serves one action: body is the raw request body.
type HandlerFunc func(ctx context.Context, c *Call, body []byte) (any, error)

// Handle turns a typed function into a HandlerFunc: strict decode into In,
// In.Validate() when it has one, then fn. A nil *Out is sent as "response": null.
func Handle[In any, Out any](fn func(ctx context.Context, c *Call, in *In) (Out, error)) HandlerFunc {
	return func(ctx context.Context, c *Call, body []byte) (any, error) {
		in := new(In)
		if err := Decode(body, in); err != nil {
			return nil, err
		}
		return fn(ctx, c, in)
	}
}

// Action is one entry of the action table.
type Action struct {
	Name string
	// Versions limits the action to some API versions; empty means all.
	Versions []string
	Handler  HandlerFunc
}

// ActionTable is a service as the wire serves it: where, in which API
// versions, and its actions.
type ActionTable struct {
	// Path is the endpoint path served besides "/", e.g. "/api/v2/vm"; empty
	// serves "/" only.
	Path string
	// Versions are the accepted values of X-ZC-Version; empty accepts any.
	Versions []string
	// DefaultVersion is the version of a request without X-ZC-Version.
	DefaultVersion string
	Actions        []Action
	// Authorize, when set, may refuse an authenticated call of an action
	// that exists (c.Action is set): its error is sent as it is, typically
	// 401 AUTHFAILURE_UNAUTHORIZED_OPERATION.
	Authorize func(c *Call) error
}

// Authenticator looks up credentials.
type Authenticator interface {
	AccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error)
	TokenCredential(ctx context.Context, token string) (quota.Credential, error)
}

// Credentials says which kinds of credential a server accepts. A request
// with another kind is refused with 401 AUTHFAILURE_UNAUTHORIZED_OPERATION,
// by the kind alone, before its credential is looked up: the kind is no
// secret (an access key id's prefix tells it), and the answer says where
// such a credential works. The zero value accepts every kind.
type Credentials struct {
	// KeyPrefix, when set, is the prefix of every access key id accepted.
	KeyPrefix string
	// RefuseKeyPrefix, when set, refuses access key ids with this prefix.
	RefuseKeyPrefix string
	// NoTokens refuses bearer tokens.
	NoTokens bool
	// Elsewhere ends the refusal's message: where such credentials work.
	Elsewhere string
}

// accepts reports whether an access key id, or a bearer token (keyID ""),
// is of a kind s accepts.
func (c Credentials) accepts(keyID string, token bool) bool {
	if token {
		return !c.NoTokens
	}
	return strings.HasPrefix(keyID, c.KeyPrefix) && (c.RefuseKeyPrefix == "" || !strings.HasPrefix(keyID, c.RefuseKeyPrefix))
}

// Config configures a Server.
type Config struct {
	Auth Authenticator
	// Credentials are the kinds of credential accepted.
	Credentials Credentials
	// Actions is the service served.
	Actions ActionTable
	Logger  *slog.Logger
	// Registry receives the server's metrics and is served on /metrics.
	Registry *prometheus.Registry
	// MetricPrefix begins the names of the server's metrics, so that two
	// servers (two services) can share one Registry; "" means "imagequota".
	MetricPrefix string
	// Ready reports whether the store answers, for /readyz.
	Ready func(ctx context.Context) error
	Now   func() time.Time
	// RequestTimeout bounds each API request's work (store calls included). 0 means 4s.
	RequestTimeout time.Duration
	// RateLimit is the requests per second allowed to each access key or
	// token (a token bucket of RateBurst); 0 means no limit.
	RateLimit float64
	RateBurst int
}

// Server serves the API.
type Server struct {
	cfg     Config
	actions map[string]Action
	m       *metrics
	limiter *limiter
	// servedOn and versions are for the messages that refuse a path or a version.
	servedOn, versions string
	// mounted are other services served on the same listener, by path.
	mounted map[string]*Server
}

// NewServer builds a server from its configuration.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 4 * time.Second
	}
	if c, ok := cfg.Auth.(CachingAuthenticator); ok {
		cfg.Auth = cachedAuth{c}
	}
	s := &Server{cfg: cfg, actions: map[string]Action{}, servedOn: "POST /", versions: strings.Join(cfg.Actions.Versions, " or ")}
	if cfg.Actions.Path != "" {
		s.servedOn = "POST " + cfg.Actions.Path
	}
	names := []string{}
	for _, a := range cfg.Actions.Actions {
		s.actions[a.Name] = a
		names = append(names, a.Name)
	}
	if cfg.MetricPrefix == "" {
		cfg.MetricPrefix = "imagequota"
	}
	s.m = newMetrics(cfg.Registry, cfg.MetricPrefix, names)
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst)
	}
	return s
}

// Mount serves other's API on its table's path (exactly; never on "/") from
// s's handler: another service on the same listener, with its own actions
// and credentials. Call it before Handler or HTTPServer.
func (s *Server) Mount(other *Server) {
	if s.mounted == nil {
		s.mounted = map[string]*Server{}
	}
	s.mounted[other.cfg.Actions.Path] = other
}

// Handler returns the HTTP handler: the API on POST / and POST on the
// table's path, the APIs mounted on theirs, /healthz, /readyz and /metrics. The paths are matched
// exactly, without http.ServeMux: it answers a path it would clean
// (/api/v2/./vm, //api/v2/vm) with an empty redirect, and every request that
// is not for the three probes must get the API's JSON answer, its request
// id, its log line and its metric.
func (s *Server) Handler() http.Handler {
	metrics := promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		case "/readyz":
			s.serveReady(w, r)
		case "/metrics":
			metrics.ServeHTTP(w, r)
		default:
			if m, ok := s.mounted[r.URL.Path]; ok {
				m.serveAPI(w, r)
				return
			}
			s.serveAPI(w, r)
		}
	})
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.cfg.Logger.Warn("not ready", "error", err.Error())
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"unavailable"}`)
			return
		}
	}
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

// outcome is what a request came to, for the log and the metrics.
type outcome struct {
	action  string
	account string
	actor   string
	code    string
	status  int
	err     error
	// detail is why a credential was refused, for the log only.
	detail string
	// role is the credential's role, when it has one.
	role string
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	id := NewRequestID()
	o := s.serve(w, r, id)
	elapsed := s.cfg.Now().Sub(start)
	label := o.action
	if _, known := s.actions[label]; !known {
		label = "unknown"
	}
	code := o.code
	if code == "" {
		code = "OK"
	}
	s.m.requests.WithLabelValues(label, code).Inc()
	s.m.latency.WithLabelValues(label).Observe(elapsed.Seconds())
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("action", o.action),
		slog.String("account", o.account),
		slog.String("actor", o.actor),
		slog.String("code", code),
		slog.Int("status", o.status),
		slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
		slog.String("remote", r.RemoteAddr),
	}
	if c := r.Header.Get("X-ZC-Request-Client"); c != "" {
		attrs = append(attrs, slog.String("client", quota.Truncate(c, 128)))
	}
	if o.detail != "" {
		attrs = append(attrs, slog.String("detail", o.detail))
	}
	if o.role != "" {
		attrs = append(attrs, slog.String("role", o.role))
	}
	level := slog.LevelInfo
	if o.err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", o.err.Error()))
	}
	s.cfg.Logger.LogAttrs(r.Context(), level, "request", attrs...)
}

// fail writes an error envelope and records it in o.
func fail(w http.ResponseWriter, id string, o *outcome, code, message string) outcome {
	o.status, o.code = writeError(w, id, code, message)
	return *o
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, id string) outcome {
	o := outcome{action: r.Header.Get("X-ZC-Action")}
	if o.action == "" {
		o.action = r.Header.Get("X-TC-Action")
	}
	if len(o.action) > 64 {
		o.action = o.action[:64]
	}
	if r.URL.Path != "/" && (r.URL.Path != s.cfg.Actions.Path || s.cfg.Actions.Path == "") {
		return fail(w, id, &o, quota.CodeResourceNotFound, "No such path: "+quoteHeader(r.URL.Path)+". The API is served on "+s.servedOn+".")
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(w, id, &o, quota.CodeMethodNotAllowed, "Method "+r.Method+" is not allowed; use POST.")
	}
	// A body declared too large is refused before any of it is read: reading
	// would wait for a client that may never send it.
	if r.ContentLength > MaxBodyBytes {
		return fail(w, id, &o, quota.CodeBodyTooLarge, "The request body is larger than 1 MiB (Content-Length "+strconv.FormatInt(r.ContentLength, 10)+").")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fail(w, id, &o, quota.CodeBodyTooLarge, "The request body is larger than 1 MiB.")
		}
		return fail(w, id, &o, quota.CodeInvalidParameterValue, "The request body could not be read completely.")
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return fail(w, id, &o, quota.CodeInvalidParameterValue, "Content-Type must be application/json; got "+quoteHeader(ct)+".")
	}
	version := r.Header.Get("X-ZC-Version")
	if version == "" {
		version = s.cfg.Actions.DefaultVersion
	} else if len(s.cfg.Actions.Versions) > 0 && !slices.Contains(s.cfg.Actions.Versions, version) {
		return fail(w, id, &o, quota.CodeInvalidParameterValue, "X-ZC-Version "+quoteHeader(version)+" is not supported; use "+s.versions+".")
	}
	// One deadline covers everything the request does with the store,
	// authentication included.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	call := &Call{RequestID: id, Version: version}
	if err := s.authenticate(ctx, r, body, call); err != nil {
		var rf *refusal
		if errors.As(err, &rf) {
			o.detail = rf.detail
		}
		return s.failErr(w, id, &o, err)
	}
	o.account, o.actor = call.AccountID, call.Actor
	o.role = call.Role
	if s.limiter != nil && !s.limiter.allow(call.Actor, s.cfg.Now()) {
		w.Header().Set("Retry-After", "1")
		return fail(w, id, &o, quota.CodeRequestLimitExceeded, "Too many requests from this credential; retry after a pause.")
	}
	if o.action == "" {
		return fail(w, id, &o, quota.CodeMissingParameter, "The X-ZC-Action header is missing.")
	}
	act, ok := s.actions[o.action]
	if !ok || (len(act.Versions) > 0 && !slices.Contains(act.Versions, version)) {
		return fail(w, id, &o, quota.CodeUnauthorizedOperation,
			"Action "+quoteHeader(o.action)+" does not exist in version "+version+" or you may not call it.")
	}
	call.Action = act.Name
	if s.cfg.Actions.Authorize != nil {
		if err := s.cfg.Actions.Authorize(call); err != nil {
			return s.failErr(w, id, &o, err)
		}
	}
	out, err := s.invoke(ctx, act, call, body)
	if err != nil {
		return s.failErr(w, id, &o, err)
	}
	bp := responseBuffers.Get().(*[]byte)
	defer putResponseBuffer(bp)
	resp, err := appendSuccess((*bp)[:0], id, out)
	if err != nil {
		return s.failErr(w, id, &o, err)
	}
	*bp = resp // the grown buffer goes back to the pool
	writeJSON(w, http.StatusOK, id, resp)
	o.status = http.StatusOK
	return o
}

// responseBuffers hold the encoded answers between requests: the most
// frequent answer (DescribeImageQuota for every location) is about 3 KiB,
// allocated afresh on every request otherwise. A buffer that grew past
// maxPooledResponse is dropped rather than kept.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledResponse = 64 << 10

func putResponseBuffer(bp *[]byte) {
	if cap(*bp) <= maxPooledResponse {
		*bp = (*bp)[:0]
		responseBuffers.Put(bp)
	}
}

// invoke runs a handler, turning a panic into an internal error.
func (s *Server) invoke(ctx context.Context, act Action, c *Call, body []byte) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p}
		}
	}()
	return act.Handler(ctx, c, body)
}

type panicError struct{ value any }

func (p *panicError) Error() string {
	return "panic: " + reflect.TypeOf(p.value).String()
}

// failErr writes err: its own code and message for a *quota.Error, a generic
// message for anything else (which is logged with the request id).
func (s *Server) failErr(w http.ResponseWriter, id string, o *outcome, err error) outcome {
	if e, ok := quota.AsError(err); ok {
		if _, known := statusOf[e.Code]; known && e.Code != quota.CodeInternal {
			return fail(w, id, o, e.Code, e.Message)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fail(w, id, o, quota.CodeUnavailable, "The request could not be completed in time; retry shortly.")
	}
	o.err = err
	return fail(w, id, o, quota.CodeInternal, "An internal error occurred. Quote request id "+id+" when asking for help.")
}

// quoteHeader quotes a header value (or a path) for a message.
func quoteHeader(v string) string {
	return "\"" + strings.ToValidUTF8(quota.Truncate(v, 64), "?") + "\""
}
