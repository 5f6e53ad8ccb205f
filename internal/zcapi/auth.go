package zcapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"imagequota/internal/quota"
	"imagequota/internal/signing"
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

// authenticate checks the Authorization header and fills c.AccountID and c.Actor.
func (s *Server) authenticate(ctx context.Context, r *http.Request, body []byte, c *Call) error {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return quota.Errorf(quota.CodeInvalidAuthorization, "The Authorization header is missing.")
	case hasPrefixFold(h, "Bearer "):
		token := strings.TrimSpace(h[len("Bearer "):])
		if token == "" || len(token) > 512 {
			return quota.Errorf(quota.CodeInvalidAuthorization, "The bearer token is malformed.")
		}
		cred, err := s.cfg.Auth.TokenCredential(ctx, token)
		if err != nil {
			return err
		}
		if cred.AccountDisabled {
			return quota.Errorf(quota.CodeSignatureFailure, "The account of this token is disabled.")
		}
		if !s.cfg.Now().Before(cred.ExpiresAt) {
			return quota.Errorf(quota.CodeSignatureExpired, "The bearer token has expired.")
		}
		sum := sha256.Sum256([]byte(token))
		c.AccountID, c.Actor = cred.AccountID, "token:"+hex.EncodeToString(sum[:4])
		// A token carries no signature; with a timestamp, the token, the
		// timestamp and the body together recognise a request seen again.
		if ts := r.Header.Get("X-ZC-Timestamp"); signing.CheckTimestamp(ts, s.cfg.Now()) == nil {
			c.replayKey, c.replayExpires = replayKey("bearer", token, ts, string(body)), replayExpiry(ts)
		}
		return nil
	case strings.HasPrefix(h, signing.Algorithm+" "):
		a, err := signing.ParseAuthorization(h)
		if err != nil {
			return quota.Errorf(quota.CodeInvalidAuthorization, "The Authorization header is malformed: %s.", quota.Truncate(err.Error(), 128))
		}
		ts := r.Header.Get("X-ZC-Timestamp")
		if err := signing.CheckTimestamp(ts, s.cfg.Now()); err != nil {
			return quota.Errorf(quota.CodeSignatureExpired, "X-ZC-Timestamp %s is missing or more than 300 seconds from the server's time.", quoteHeader(ts))
		}
		cred, err := s.cfg.Auth.AccessKeyCredential(ctx, a.AccessKeyID)
		if err != nil {
			return err
		}
		if cred.Disabled || cred.AccountDisabled {
			return quota.Errorf(quota.CodeSignatureFailure, "The access key or its account is disabled.")
		}
		header := func(name string) string {
			if name == "host" {
				return r.Host
			}
			return r.Header.Get(name)
		}
		if err := signing.Verify(a, cred.Secret, ts, s.cfg.Now(), header, body); err != nil {
			if errors.Is(err, signing.ErrExpired) {
				return quota.Errorf(quota.CodeSignatureExpired, "The request signature has expired.")
			}
			return quota.Errorf(quota.CodeSignatureFailure, "The request signature does not match. Sign the body as sent, with the Content-Type and Host as sent.")
		}
		c.AccountID, c.Actor = cred.AccountID, a.AccessKeyID
		// The signature covers the body, the timestamp and the host: seen
		// again, it is the same request (a retry, or a captured copy).
		c.replayKey, c.replayExpires = replayKey("signature", a.Signature), replayExpiry(ts)
		return nil
	}
	return quota.Errorf(quota.CodeInvalidAuthorization, "The Authorization header must be %q or \"Bearer <token>\".", signing.Algorithm+" Credential=…, SignedHeaders=…, Signature=…")
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
