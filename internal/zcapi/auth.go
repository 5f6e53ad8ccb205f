package zcapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/signing"
)

// CachingAuthenticator is an Authenticator that can also serve credentials
// from memory, exactly as current as its uncached lookups; NewServer uses the
// cached lookups when Auth has them.
type CachingAuthenticator interface {
	CachedAccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error)
	CachedTokenCredential(ctx context.Context, token string) (quota.Credential, error)
}

type cachedAuth struct{ c CachingAuthenticator }

func (a cachedAuth) AccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	return a.c.CachedAccessKeyCredential(ctx, keyID)
}

func (a cachedAuth) TokenCredential(ctx context.Context, token string) (quota.Credential, error) {
	return a.c.CachedTokenCredential(ctx, token)
}

// refusedMessage is the one answer to a credential that does not let a
// request in, whatever the reason: an unknown, disabled or expired key or
// token, a disabled account, or a signature that does not match. A caller
// without a valid credential learns nothing about which keys or tokens exist
// or what state they are in; the reason goes to the request's log line.
const refusedMessage = "The credential was refused: the access key or token is unknown, disabled or expired, its account is disabled, " +
	"or the signature does not match the request (sign the body, Content-Type and Host as sent)."

var errRefused = quota.Errorf(quota.CodeSignatureFailure, refusedMessage)

// refusal is a refused credential: the client sees errRefused, the log the
// detail.
type refusal struct{ detail string }

func (r *refusal) Error() string { return "credential refused: " + r.detail }
func (r *refusal) Unwrap() error { return errRefused }

func refuse(format string, args ...any) error {
	return &refusal{detail: fmt.Sprintf(format, args...)}
}

// lookupRefusal turns a failed credential lookup into a refusal when the
// store says the credential is not usable; anything else (the store is down,
// the request ran out of time) stays the error it is.
func lookupRefusal(err error, what string) error {
	e, ok := quota.AsError(err)
	if !ok {
		return err
	}
	if status, _ := Status(e.Code); status >= 500 {
		return err
	}
	if e.Code == quota.CodeSignatureFailure {
		return refuse("unknown %s", what)
	}
	return refuse("%s: %s", what, e.Error())
}

// authenticate checks the Authorization header and fills c.AccountID and
// c.Actor. What is wrong with the request itself (no header, a malformed
// one, a timestamp outside the window) is said plainly; everything about the
// credential is the one refusal.
func (s *Server) authenticate(ctx context.Context, r *http.Request, body []byte, c *Call) error {
	now := s.cfg.Now()
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return quota.Errorf(quota.CodeInvalidAuthorization, "The Authorization header is missing.")
	case hasPrefixFold(h, "Bearer "):
		token := strings.TrimSpace(h[len("Bearer "):])
		if token == "" || len(token) > 512 {
			return quota.Errorf(quota.CodeInvalidAuthorization, "The bearer token is malformed.")
		}
		if !s.cfg.Credentials.accepts("", true) {
			return s.wrongKind("Bearer tokens are")
		}
		sum := sha256.Sum256([]byte(token))
		actor := "token:" + hex.EncodeToString(sum[:4])
		cred, err := s.cfg.Auth.TokenCredential(ctx, token)
		if err != nil {
			return lookupRefusal(err, actor)
		}
		if cred.AccountDisabled {
			return refuse("account %s of %s is disabled", cred.AccountID, actor)
		}
		if !now.Before(cred.ExpiresAt) {
			return refuse("%s expired at %s", actor, cred.ExpiresAt.UTC().Format(time.RFC3339))
		}
		c.AccountID, c.Actor = cred.AccountID, actor
		// A token carries no signature; with a timestamp, the token, the
		// timestamp and the body together recognise a request seen again.
		if ts := r.Header.Get("X-ZC-Timestamp"); signing.CheckTimestamp(ts, now) == nil {
			c.replayKey, c.replayExpires = replayKey("bearer", token, ts, string(body)), replayExpiry(ts)
		}
		return nil
	case strings.HasPrefix(h, signing.Algorithm+" "):
		a, err := signing.ParseAuthorization(h)
		if err != nil {
			return quota.Errorf(quota.CodeInvalidAuthorization, "The Authorization header is malformed: %s.", quota.Truncate(err.Error(), 128))
		}
		if !s.cfg.Credentials.accepts(a.AccessKeyID, false) {
			return s.wrongKind("Access key " + quoteHeader(a.AccessKeyID) + " is of a kind")
		}
		ts := r.Header.Get("X-ZC-Timestamp")
		if err := signing.CheckTimestamp(ts, now); err != nil {
			return errTimestamp(ts)
		}
		key := "access key " + quoteHeader(a.AccessKeyID)
		cred, err := s.cfg.Auth.AccessKeyCredential(ctx, a.AccessKeyID)
		if err != nil {
			return lookupRefusal(err, key)
		}
		if cred.Disabled {
			return refuse("%s is disabled", key)
		}
		if cred.AccountDisabled {
			return refuse("account %s of %s is disabled", cred.AccountID, key)
		}
		header := func(name string) string {
			if name == "host" {
				return r.Host
			}
			return r.Header.Get(name)
		}
		if err := signing.Verify(a, cred.Secret, ts, now, header, body); err != nil {
			if errors.Is(err, signing.ErrExpired) {
				// Not reached: the timestamp was checked above at the same time.
				return errTimestamp(ts)
			}
			return refuse("the signature does not match for %s (%v)", key, err)
		}
		c.AccountID, c.Actor, c.Role = cred.AccountID, a.AccessKeyID, cred.Role
		// The signature covers the body, the timestamp and the host: seen
		// again, it is the same request (a retry, or a captured copy).
		c.replayKey, c.replayExpires = replayKey("signature", a.Signature), replayExpiry(ts)
		return nil
	}
	return quota.Errorf(quota.CodeInvalidAuthorization, "The Authorization header must be %q or \"Bearer <token>\".", signing.Algorithm+" Credential=…, SignedHeaders=…, Signature=…")
}

// wrongKind refuses a credential of a kind this server does not accept.
func (s *Server) wrongKind(what string) error {
	msg := what + " not accepted on " + s.servedOn + "."
	if s.cfg.Credentials.Elsewhere != "" {
		msg += " " + s.cfg.Credentials.Elsewhere
	}
	return quota.Errorf(quota.CodeUnauthorizedOperation, "%s", msg)
}

// errTimestamp refuses a request whose timestamp is missing or outside the
// window: a fault of the request, not of its credential.
func errTimestamp(ts string) error {
	return quota.Errorf(quota.CodeSignatureExpired, "X-ZC-Timestamp %s is missing or more than 300 seconds from the server's time.", quoteHeader(ts))
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// replayKey digests the parts that recognise a request seen again.
func replayKey(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// replayExpiry is when a request with timestamp ts can no longer be
// presented: the timestamp plus the window the server accepts.
func replayExpiry(ts string) time.Time {
	sec, _ := strconv.ParseInt(ts, 10, 64)
	return time.Unix(sec, 0).Add(signing.MaxSkew)
}
