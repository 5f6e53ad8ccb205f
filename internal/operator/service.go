// Package operator is the operator service: the API an operator runs the
// service with (accounts, their keys and tokens, instances, limits with
// their expiry, usage and the audit trail), on POST /api/v2/operator with
// the wire of the vm API (package zcapi) and operator keys only. Each
// handler turns the wire types of operatorapi into store calls and back;
// every write is audited with the operator as its actor and is replay-safe
// under the request's signature, like the vm writes.
package operator

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

// Store is what the operator service needs of the store. Errors are
// *quota.Error for anything a caller can act on; anything else is internal.
type Store interface {
	CreateAccountAs(ctx context.Context, name string, actor quota.Actor) (quota.Account, error)
	ListAccountsPage(ctx context.Context, f quota.AccountFilter) ([]quota.Account, int, error)
	GetAccount(ctx context.Context, id string) (quota.Account, error)
	SetAccountDisabledAs(ctx context.Context, id string, disabled bool, actor quota.Actor) error

	CreateAccessKeyAs(ctx context.Context, accountID string, actor quota.Actor) (quota.AccessKey, error)
	ListAccessKeys(ctx context.Context, accountID string) ([]quota.AccessKey, error)
	SetAccessKeyDisabledAs(ctx context.Context, keyID string, disabled bool, actor quota.Actor) error
	CreateTokenAs(ctx context.Context, accountID string, ttl time.Duration, actor quota.Actor) (string, time.Time, error)

	CreateInstanceAs(ctx context.Context, in quota.Instance, actor quota.Actor) (quota.Instance, error)
	DeleteInstanceAs(ctx context.Context, id string, actor quota.Actor) error
	ListInstancesPage(ctx context.Context, accountID string, offset, limit int) ([]quota.Instance, int, error)

	SetLimit(ctx context.Context, o quota.LimitOverride, actor quota.Actor) (*int, error)
	UnsetLimit(ctx context.Context, accountID, locationID string, actor quota.Actor) (*int, error)
	ListLimits(ctx context.Context) ([]quota.LimitOverride, error)
	ExpireOverrides(ctx context.Context) ([]quota.LimitOverride, error)
	ListUsage(ctx context.Context, f quota.UsageFilter) ([]quota.LocationUsage, error)
	UsageReport(ctx context.Context, f quota.UsageReportFilter) ([]quota.UsageReportRow, int, error)

	ListAudit(ctx context.Context, f quota.AuditFilter) ([]quota.AuditRecord, error)
	CountAudit(ctx context.Context, f quota.AuditFilter) (int, error)

	OperatorKeyCredential(ctx context.Context, keyID string) (quota.Credential, error)

	QuotaRequestStore
}

// Service serves the operator actions from a store and a catalogue.
type Service struct {
	Store   Store
	Catalog *quota.Catalog
	// DefaultMax is the limit when no override applies.
	DefaultMax int
	Now        func() time.Time
	// Logger receives what the expiry sweep does; nil discards it.
	Logger *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Actions is the service as the wire serves it: on operatorapi.Path, in the
// vm API's versions (the schemas do not differ), readonly operators limited
// to the Describe* actions.
func (s *Service) Actions() zcapi.ActionTable {
	return zcapi.ActionTable{
		Path:           operatorapi.Path,
		Versions:       []string{vmapi.VersionLegacy, vmapi.VersionCurrent},
		DefaultVersion: vmapi.DefaultVersion,
		Actions:        s.actions(),
		Authorize:      authorize,
	}
}

// actions is the action table. A read's name begins with Describe: that is
// all a readonly operator may call.
func (s *Service) actions() []zcapi.Action {
	return []zcapi.Action{
		{Name: "CreateAccount", Handler: zcapi.Handle(s.CreateAccount)},
		{Name: "DescribeAccounts", Handler: zcapi.Handle(s.DescribeAccounts)},
		{Name: "ModifyAccountStatus", Handler: zcapi.Handle(s.ModifyAccountStatus)},
		{Name: "CreateAccessKey", Handler: zcapi.Handle(s.CreateAccessKey)},
		{Name: "DescribeAccessKeys", Handler: zcapi.Handle(s.DescribeAccessKeys)},
		{Name: "DisableAccessKey", Handler: zcapi.Handle(s.DisableAccessKey)},
		{Name: "EnableAccessKey", Handler: zcapi.Handle(s.EnableAccessKey)},
		{Name: "CreateToken", Handler: zcapi.Handle(s.CreateToken)},
		{Name: "CreateInstance", Handler: zcapi.Handle(s.CreateInstance)},
		{Name: "DescribeInstances", Handler: zcapi.Handle(s.DescribeInstances)},
		{Name: "DeleteInstance", Handler: zcapi.Handle(s.DeleteInstance)},
		{Name: "SetImageQuota", Handler: zcapi.Handle(s.SetImageQuota)},
		{Name: "UnsetImageQuota", Handler: zcapi.Handle(s.UnsetImageQuota)},
		{Name: "DescribeImageQuotaOverrides", Handler: zcapi.Handle(s.DescribeImageQuotaOverrides)},
		{Name: "DescribeImageQuotaUsage", Handler: zcapi.Handle(s.DescribeImageQuotaUsage)},
		{Name: "DescribeAuditEvents", Handler: zcapi.Handle(s.DescribeAuditEvents)},
		{Name: "DescribeQuotaRequests", Handler: zcapi.Handle(s.DescribeQuotaRequests)},
		{Name: "ApproveQuotaRequest", Handler: zcapi.Handle(s.ApproveQuotaRequest)},
		{Name: "DenyQuotaRequest", Handler: zcapi.Handle(s.DenyQuotaRequest)},
	}
}

// IsRead reports whether an action only reads: what a readonly operator may call.
func IsRead(action string) bool { return strings.HasPrefix(action, "Describe") }

// Authorize is the operator API's rule of roles for c's action, for
// another front end of the service (the console) to apply the same one.
func Authorize(c *zcapi.Call) error { return authorize(c) }

// authorize refuses a readonly operator every action but the reads.
func authorize(c *zcapi.Call) error {
	if c.Role == quota.RoleAdmin || (c.Role == quota.RoleReadonly && IsRead(c.Action)) {
		return nil
	}
	return quota.Errorf(quota.CodeUnauthorizedOperation,
		"Action %s is not allowed to operator role %q: a readonly operator may call only Describe* actions.", c.Action, c.Role)
}

// Credentials are the credentials the operator API accepts: operator keys
// only. Tenant keys and bearer tokens are refused.
func Credentials() zcapi.Credentials {
	return zcapi.Credentials{KeyPrefix: quota.OperatorKeyPrefix, NoTokens: true,
		Elsewhere: "Only operator access keys (" + quota.OperatorKeyPrefix + "…) are; tenant keys and tokens work on POST " + vmapi.Path + "."}
}

// TenantCredentials are the credentials the vm API accepts: tenant keys and
// tokens; an operator key is refused there.
func TenantCredentials() zcapi.Credentials {
	return zcapi.Credentials{RefuseKeyPrefix: quota.OperatorKeyPrefix,
		Elsewhere: "Operator access keys work only on POST " + operatorapi.Path + "."}
}

// Auth is the operator API's credential lookup: operator keys.
func (s *Service) Auth() zcapi.Authenticator { return auth{s.Store} }

type auth struct{ s Store }

func (a auth) AccessKeyCredential(ctx context.Context, keyID string) (quota.Credential, error) {
	return a.s.OperatorKeyCredential(ctx, keyID)
}

// TokenCredential is never reached: Credentials refuses tokens first.
func (a auth) TokenCredential(ctx context.Context, token string) (quota.Credential, error) {
	return quota.Credential{}, quota.Errorf(quota.CodeSignatureFailure, "The credential is not valid.")
}

// actor is the audit trail's actor of an operator's call.
func actor(c *zcapi.Call) quota.Actor {
	a := c.AuditActor()
	a.Name = quota.OperatorActor(c.AccountID)
	return a
}

// Sweep removes the overrides whose expiry has passed and records their
// ends (store.ExpireOverrides). The overrides stopped applying at their
// expiry already; this keeps the table and the audit trail true. It runs
// before the overrides or the audit trail are listed, and every interval
// while a server runs (SweepEvery).
func (s *Service) Sweep(ctx context.Context) error {
	gone, err := s.Store.ExpireOverrides(ctx)
	if err != nil {
		return err
	}
	if s.Logger != nil {
		for _, o := range gone {
			s.Logger.Info("override expired", "account", o.AccountID, "location", o.LocationID, "max_count", o.MaxCount,
				"expires_at", o.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// SweepEvery runs Sweep every interval until ctx ends. A failed sweep is
// logged and tried again at the next one.
func (s *Service) SweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := s.Sweep(sctx); err != nil && s.Logger != nil && ctx.Err() == nil {
			s.Logger.Warn("override expiry sweep failed", "error", err.Error())
		}
		cancel()
	}
}
