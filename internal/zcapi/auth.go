package zcapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

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
		return nil
	}
	return quota.Errorf(quota.CodeInvalidAuthorization, "The Authorization header must be %q or \"Bearer <token>\".", signing.Algorithm+" Credential=…, SignedHeaders=…, Signature=…")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
