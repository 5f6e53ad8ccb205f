package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/operator"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/operatorapi"
)

// adminStore is what the admin commands that have an operator API
// equivalent do: on the store directly (localStore), or through the
// operator API of a server (apiStore) with --server. Both answer with the
// same values and the same *quota.Error codes and messages, so a command
// prints the same either way.
type adminStore interface {
	CreateAccountAs(ctx context.Context, name string, actor quota.Actor) (quota.Account, error)
	ListAccounts(ctx context.Context) ([]quota.Account, error)
	GetAccount(ctx context.Context, id string) (quota.Account, error)
	SetAccountDisabledAs(ctx context.Context, id string, disabled bool, actor quota.Actor) error

	CreateAccessKeyAs(ctx context.Context, accountID string, actor quota.Actor) (quota.AccessKey, error)
	ListAccessKeys(ctx context.Context, accountID string) ([]quota.AccessKey, error)
	SetAccessKeyDisabledAs(ctx context.Context, keyID string, disabled bool, actor quota.Actor) error
	CreateTokenAs(ctx context.Context, accountID string, ttl time.Duration, actor quota.Actor) (string, time.Time, error)

	// SetLimitWarn sets an override and returns the limit it replaced and
	// every account×location now over it (operator.OverLimit).
	SetLimitWarn(ctx context.Context, o quota.LimitOverride) (*int, []operator.Excess, error)
	UnsetLimit(ctx context.Context, accountID, locationID string, actor quota.Actor) (*int, error)
	// ListLimits lists the overrides in effect, after recording the ends
	// of those past their expiry.
	ListLimits(ctx context.Context) ([]quota.LimitOverride, error)
	Usage(ctx context.Context, accountID string) (quota.Usage, error)

	CreateInstanceAs(ctx context.Context, in quota.Instance, actor quota.Actor) (quota.Instance, error)
	ListInstances(ctx context.Context, accountID string) ([]quota.Instance, error)
	DeleteInstanceAs(ctx context.Context, id string, actor quota.Actor) error

	// ListAudit lists audit records, after recording the ends of the
	// overrides past their expiry.
	ListAudit(ctx context.Context, f quota.AuditFilter) ([]quota.AuditRecord, error)
}

// localStore is the store itself as an adminStore.
type localStore struct{ *store.DB }

func (l localStore) SetLimitWarn(ctx context.Context, o quota.LimitOverride) (*int, []operator.Excess, error) {
	prev, err := l.SetLimit(ctx, o, quota.AdminActor)
	if err != nil {
		return nil, nil, err
	}
	over, err := operator.OverLimit(ctx, l.DB, o.AccountID, o.LocationID, o.MaxCount, quota.DefaultMaxCount)
	return prev, over, err
}

func (l localStore) ListLimits(ctx context.Context) ([]quota.LimitOverride, error) {
	if _, err := l.ExpireOverrides(ctx); err != nil {
		return nil, err
	}
	return l.DB.ListLimits(ctx)
}

func (l localStore) ListAudit(ctx context.Context, f quota.AuditFilter) ([]quota.AuditRecord, error) {
	if _, err := l.ExpireOverrides(ctx); err != nil {
		return nil, err
	}
	return l.DB.ListAudit(ctx, f)
}

// serverFlags choose a server to run the admin commands through.
type serverFlags struct {
	url      string
	insecure bool
}

// Operator key variables of admin --server.
const (
	envOperatorKeyID     = "IMAGEQUOTA_OPERATOR_KEY_ID"
	envOperatorKeySecret = "IMAGEQUOTA_OPERATOR_KEY_SECRET"
)

func addServerFlags(c *config) *serverFlags {
	s := &serverFlags{}
	c.String(&s.url, "server", "IMAGEQUOTA_SERVER", "", "run the command through the operator API of the server at this `URL` (with the operator key in "+
		envOperatorKeyID+" and "+envOperatorKeySecret+"), not on the store")
	c.Bool(&s.insecure, "server-insecure", "IMAGEQUOTA_SERVER_INSECURE", false, "with an https --server, do not verify its certificate")
	return s
}

// apiStore runs the admin commands through the operator API.
type apiStore struct{ op *client.Operator }

// newAPIStore makes the client of --server, with the operator key from env.
func newAPIStore(s *serverFlags, env map[string]string) (apiStore, error) {
	id := env[envOperatorKeyID]
	secret := env[envOperatorKeySecret]
	if secret == "" && env[envOperatorKeySecret+"_FILE"] != "" {
		b, err := os.ReadFile(env[envOperatorKeySecret+"_FILE"])
		if err != nil {
			return apiStore{}, fmt.Errorf("%s_FILE: %w", envOperatorKeySecret, err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if id == "" || secret == "" {
		return apiStore{}, fmt.Errorf("--server needs an operator key: set %s and %s (or %s_FILE); create one with: imagequota admin operator create",
			envOperatorKeyID, envOperatorKeySecret, envOperatorKeySecret)
	}
	op := client.NewOperator(s.url, id, secret)
	op.Backoff = client.SDKBackoff
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	op.HTTP = &http.Client{Timeout: time.Minute, Transport: tr}
	return apiStore{op}, nil
}

// apiErr turns an error answer into the store's error, so that the
// command reports it as it would on the store.
func apiErr(err error) error {
	var e *client.Error
	if errors.As(err, &e) {
		return quota.Errorf(e.Code, "%s", e.Message)
	}
	return err
}

// listPage is the page size of the lists read whole.
const listPage = 1000

// all reads every page of a list.
func all[T any](ctx context.Context, read func(p operatorapi.Page) ([]T, int, error)) ([]T, error) {
	out := []T{}
	for num := 1; ; num++ {
		items, total, err := read(operatorapi.Page{PageNum: client.Int(num), PageSize: client.Int(listPage)})
		if err != nil {
			return nil, apiErr(err)
		}
		out = append(out, items...)
		if len(items) < listPage || len(out) >= total {
			return out, nil
		}
	}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func parseTimePtr(s *string) *time.Time {
	if s == nil {
		return nil
	}
	t := parseTime(*s)
	return &t
}

func (a apiStore) CreateAccountAs(ctx context.Context, name string, _ quota.Actor) (quota.Account, error) {
	r, err := a.op.CreateAccount(ctx, &operatorapi.CreateAccountRequest{Name: &name})
	if err != nil {
		return quota.Account{}, apiErr(err)
	}
	return quota.Account{ID: r.AccountID, Name: r.Name}, nil
}

func (a apiStore) accounts(ctx context.Context, ids []string) ([]quota.Account, error) {
	infos, err := all(ctx, func(p operatorapi.Page) ([]operatorapi.AccountInfo, int, error) {
		r, err := a.op.DescribeAccounts(ctx, &operatorapi.DescribeAccountsRequest{AccountIDs: ids, Page: p})
		if err != nil {
			return nil, 0, err
		}
		return r.DataSet, r.TotalCount, nil
	})
	if err != nil {
		return nil, err
	}
	out := []quota.Account{}
	for _, i := range infos {
		out = append(out, quota.Account{ID: i.AccountID, Name: i.Name, Disabled: i.Disabled, CreatedAt: parseTime(i.CreatedAt)})
	}
	return out, nil
}

func (a apiStore) ListAccounts(ctx context.Context) ([]quota.Account, error) {
	return a.accounts(ctx, nil)
}

func (a apiStore) GetAccount(ctx context.Context, id string) (quota.Account, error) {
	accts, err := a.accounts(ctx, []string{id})
	if err != nil {
		return quota.Account{}, err
	}
	if len(accts) == 0 {
		return quota.Account{}, quota.Errorf(quota.CodeAccountNotFound, "%s %q does not exist.", "account", id)
	}
	return accts[0], nil
}

func (a apiStore) SetAccountDisabledAs(ctx context.Context, id string, disabled bool, _ quota.Actor) error {
	_, err := a.op.ModifyAccountStatus(ctx, &operatorapi.ModifyAccountStatusRequest{AccountID: &id, Disabled: &disabled})
	return apiErr(err)
}

func (a apiStore) CreateAccessKeyAs(ctx context.Context, accountID string, _ quota.Actor) (quota.AccessKey, error) {
	r, err := a.op.CreateAccessKey(ctx, &operatorapi.CreateAccessKeyRequest{AccountID: &accountID})
	if err != nil {
		return quota.AccessKey{}, apiErr(err)
	}
	return quota.AccessKey{ID: r.AccessKeyID, AccountID: r.AccountID, Secret: r.AccessKeyPassword}, nil
}

func (a apiStore) ListAccessKeys(ctx context.Context, accountID string) ([]quota.AccessKey, error) {
	infos, err := all(ctx, func(p operatorapi.Page) ([]operatorapi.AccessKeyInfo, int, error) {
		r, err := a.op.DescribeAccessKeys(ctx, &operatorapi.DescribeAccessKeysRequest{AccountID: &accountID, Page: p})
		if err != nil {
			return nil, 0, err
		}
		return r.DataSet, r.TotalCount, nil
	})
	if err != nil {
		return nil, err
	}
	out := []quota.AccessKey{}
	for _, i := range infos {
		out = append(out, quota.AccessKey{ID: i.AccessKeyID, AccountID: i.AccountID, Disabled: i.Disabled, CreatedAt: parseTime(i.CreatedAt)})
	}
	return out, nil
}

func (a apiStore) SetAccessKeyDisabledAs(ctx context.Context, keyID string, disabled bool, _ quota.Actor) error {
	in := &operatorapi.AccessKeyRequest{AccessKeyID: &keyID}
	var err error
	if disabled {
		_, err = a.op.DisableAccessKey(ctx, in)
	} else {
		_, err = a.op.EnableAccessKey(ctx, in)
	}
	return apiErr(err)
}

func (a apiStore) CreateTokenAs(ctx context.Context, accountID string, ttl time.Duration, _ quota.Actor) (string, time.Time, error) {
	secs := int64(math.Ceil(ttl.Seconds()))
	r, err := a.op.CreateToken(ctx, &operatorapi.CreateTokenRequest{AccountID: &accountID, TTLSeconds: &secs})
	if err != nil {
		return "", time.Time{}, apiErr(err)
	}
	return r.Token, parseTime(r.ExpiresAt), nil
}

func (a apiStore) SetLimitWarn(ctx context.Context, o quota.LimitOverride) (*int, []operator.Excess, error) {
	in := &operatorapi.SetImageQuotaRequest{AccountID: &o.AccountID, ZoneID: &o.LocationID, MaxCount: &o.MaxCount, Reason: &o.Reason}
	if o.ExpiresAt != nil {
		s := o.ExpiresAt.UTC().Format(time.RFC3339Nano)
		in.ExpiresAt = &s
	}
	r, err := a.op.SetImageQuota(ctx, in)
	if err != nil {
		return nil, nil, apiErr(err)
	}
	over := []operator.Excess{}
	for _, w := range r.Warnings {
		over = append(over, operator.Excess{AccountID: w.AccountID, LocationID: w.ZoneID, Count: w.Count, MaxCount: w.MaxCount})
	}
	return r.Previous, over, nil
}

func (a apiStore) UnsetLimit(ctx context.Context, accountID, locationID string, _ quota.Actor) (*int, error) {
	r, err := a.op.UnsetImageQuota(ctx, &operatorapi.UnsetImageQuotaRequest{AccountID: &accountID, ZoneID: &locationID})
	if err != nil {
		return nil, apiErr(err)
	}
	return r.Previous, nil
}

func (a apiStore) overrides(ctx context.Context, accountID string) ([]quota.LimitOverride, error) {
	infos, err := all(ctx, func(p operatorapi.Page) ([]operatorapi.OverrideInfo, int, error) {
		r, err := a.op.DescribeImageQuotaOverrides(ctx, &operatorapi.DescribeImageQuotaOverridesRequest{AccountID: &accountID, Page: p})
		if err != nil {
			return nil, 0, err
		}
		return r.DataSet, r.TotalCount, nil
	})
	if err != nil {
		return nil, err
	}
	out := []quota.LimitOverride{}
	for _, i := range infos {
		out = append(out, quota.LimitOverride{AccountID: i.AccountID, LocationID: i.ZoneID, MaxCount: i.MaxCount,
			ExpiresAt: parseTimePtr(i.ExpiresAt), Reason: i.Reason})
	}
	return out, nil
}

func (a apiStore) ListLimits(ctx context.Context) ([]quota.LimitOverride, error) {
	return a.overrides(ctx, "")
}

// Usage is the account's counts (DescribeImageQuotaUsage) with the
// overrides that may apply to it: its own and those of every account.
func (a apiStore) Usage(ctx context.Context, accountID string) (quota.Usage, error) {
	u := quota.Usage{Counts: map[string]int{}}
	rows, err := all(ctx, func(p operatorapi.Page) ([]operatorapi.UsageInfo, int, error) {
		r, err := a.op.DescribeImageQuotaUsage(ctx, &operatorapi.DescribeImageQuotaUsageRequest{AccountIDs: []string{accountID},
			OrderBy: client.String(operatorapi.OrderByAccountID), Page: p})
		if err != nil {
			return nil, 0, err
		}
		return r.DataSet, r.TotalCount, nil
	})
	if err != nil {
		return u, err
	}
	for _, r := range rows {
		u.Counts[r.ZoneID] = r.Count
	}
	ovs, err := a.ListLimits(ctx)
	if err != nil {
		return u, err
	}
	for _, o := range ovs {
		if o.AccountID == accountID || o.AccountID == "" {
			u.Overrides = append(u.Overrides, o)
		}
	}
	return u, nil
}

func (a apiStore) CreateInstanceAs(ctx context.Context, in quota.Instance, _ quota.Actor) (quota.Instance, error) {
	req := &operatorapi.CreateInstanceRequest{AccountID: &in.AccountID, ZoneID: &in.LocationID, DiskGB: &in.DiskGB,
		OSCategory: &in.OSCategory, OSType: &in.OSType, OSVersion: &in.OSVersion}
	if in.ID != "" {
		req.InstanceID = &in.ID
	}
	r, err := a.op.CreateInstance(ctx, req)
	if err != nil {
		return quota.Instance{}, apiErr(err)
	}
	in.ID, in.AccountID, in.LocationID = r.InstanceID, r.AccountID, r.ZoneID
	return in, nil
}

func (a apiStore) ListInstances(ctx context.Context, accountID string) ([]quota.Instance, error) {
	infos, err := all(ctx, func(p operatorapi.Page) ([]operatorapi.InstanceInfo, int, error) {
		r, err := a.op.DescribeInstances(ctx, &operatorapi.DescribeInstancesRequest{AccountID: &accountID, Page: p})
		if err != nil {
			return nil, 0, err
		}
		return r.DataSet, r.TotalCount, nil
	})
	if err != nil {
		return nil, err
	}
	out := []quota.Instance{}
	for _, i := range infos {
		out = append(out, quota.Instance{ID: i.InstanceID, AccountID: i.AccountID, LocationID: i.ZoneID, DiskGB: i.DiskGB,
			OSCategory: i.OSCategory, OSType: i.OSType, OSVersion: i.OSVersion, CreatedAt: parseTime(i.CreatedAt)})
	}
	return out, nil
}

func (a apiStore) DeleteInstanceAs(ctx context.Context, id string, _ quota.Actor) error {
	_, err := a.op.DeleteInstance(ctx, &operatorapi.DeleteInstanceRequest{InstanceID: &id})
	return apiErr(err)
}

func (a apiStore) ListAudit(ctx context.Context, f quota.AuditFilter) ([]quota.AuditRecord, error) {
	in := &operatorapi.DescribeAuditEventsRequest{AccountID: &f.AccountID, Action: &f.Action}
	if !f.Since.IsZero() {
		s := f.Since.UTC().Format(time.RFC3339Nano)
		in.Since = &s
	}
	if !f.Until.IsZero() {
		s := f.Until.UTC().Format(time.RFC3339Nano)
		in.Until = &s
	}
	out := []quota.AuditRecord{}
	for num := 1; ; num++ {
		in.Page = operatorapi.Page{PageNum: client.Int(num), PageSize: client.Int(listPage)}
		r, err := a.op.DescribeAuditEvents(ctx, in)
		if err != nil {
			return nil, apiErr(err)
		}
		for _, e := range r.DataSet {
			if f.Limit > 0 && len(out) == f.Limit {
				return out, nil
			}
			out = append(out, auditRecord(e))
		}
		if len(r.DataSet) < listPage || (f.Limit > 0 && len(out) == f.Limit) {
			return out, nil
		}
	}
}

// auditRecord is an audit event as the store lists it.
func auditRecord(e operatorapi.AuditEvent) quota.AuditRecord {
	r := quota.AuditRecord{ID: e.ID, At: parseTime(e.Time), AccountID: e.AccountID, Actor: e.Actor, RequestID: e.RequestID,
		Action: e.Action, Target: e.Target}
	if len(e.Before) > 0 && string(e.Before) != "null" {
		r.Before = e.Before
	}
	if len(e.After) > 0 && string(e.After) != "null" {
		r.After = e.After
	}
	return r
}
