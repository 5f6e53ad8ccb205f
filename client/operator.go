package client

import (
	"context"

	"github.com/imagequota/imagequota/operatorapi"
)

// Operator calls the operator API (POST /api/v2/operator) with an operator
// access key: the same signing and envelopes as the vm API.
type Operator struct {
	// Client is the underlying client: its fields (HTTP, Version, Backoff, …)
	// may be set.
	*Client
}

// NewOperator returns a client of the operator API at endpoint (the path
// /api/v2/operator is added when none is given) that signs with an
// operator access key.
func NewOperator(endpoint, accessKeyID, accessKeySecret string) *Operator {
	c := New(endpoint, accessKeyID, accessKeySecret)
	c.Service, c.Path = operatorapi.Service, operatorapi.Path
	return &Operator{c}
}

// call sends in as action and decodes the answer into a new Out.
func call[Out any](ctx context.Context, o *Operator, action string, in any) (*Out, error) {
	out := new(Out)
	if err := o.Call(ctx, action, in, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateAccount calls CreateAccount.
func (o *Operator) CreateAccount(ctx context.Context, in *operatorapi.CreateAccountRequest) (*operatorapi.CreateAccountResponse, error) {
	return call[operatorapi.CreateAccountResponse](ctx, o, "CreateAccount", in)
}

// DescribeAccounts calls DescribeAccounts.
func (o *Operator) DescribeAccounts(ctx context.Context, in *operatorapi.DescribeAccountsRequest) (*operatorapi.DescribeAccountsResponse, error) {
	return call[operatorapi.DescribeAccountsResponse](ctx, o, "DescribeAccounts", in)
}

// ModifyAccountStatus calls ModifyAccountStatus.
func (o *Operator) ModifyAccountStatus(ctx context.Context, in *operatorapi.ModifyAccountStatusRequest) (*operatorapi.ModifyAccountStatusResponse, error) {
	return call[operatorapi.ModifyAccountStatusResponse](ctx, o, "ModifyAccountStatus", in)
}

// CreateAccessKey calls CreateAccessKey.
func (o *Operator) CreateAccessKey(ctx context.Context, in *operatorapi.CreateAccessKeyRequest) (*operatorapi.CreateAccessKeyResponse, error) {
	return call[operatorapi.CreateAccessKeyResponse](ctx, o, "CreateAccessKey", in)
}

// DescribeAccessKeys calls DescribeAccessKeys.
func (o *Operator) DescribeAccessKeys(ctx context.Context, in *operatorapi.DescribeAccessKeysRequest) (*operatorapi.DescribeAccessKeysResponse, error) {
	return call[operatorapi.DescribeAccessKeysResponse](ctx, o, "DescribeAccessKeys", in)
}

// DisableAccessKey calls DisableAccessKey.
func (o *Operator) DisableAccessKey(ctx context.Context, in *operatorapi.AccessKeyRequest) (*operatorapi.AccessKeyStatusResponse, error) {
	return call[operatorapi.AccessKeyStatusResponse](ctx, o, "DisableAccessKey", in)
}

// EnableAccessKey calls EnableAccessKey.
func (o *Operator) EnableAccessKey(ctx context.Context, in *operatorapi.AccessKeyRequest) (*operatorapi.AccessKeyStatusResponse, error) {
	return call[operatorapi.AccessKeyStatusResponse](ctx, o, "EnableAccessKey", in)
}

// CreateToken calls CreateToken.
func (o *Operator) CreateToken(ctx context.Context, in *operatorapi.CreateTokenRequest) (*operatorapi.CreateTokenResponse, error) {
	return call[operatorapi.CreateTokenResponse](ctx, o, "CreateToken", in)
}

// CreateInstance calls CreateInstance.
func (o *Operator) CreateInstance(ctx context.Context, in *operatorapi.CreateInstanceRequest) (*operatorapi.CreateInstanceResponse, error) {
	return call[operatorapi.CreateInstanceResponse](ctx, o, "CreateInstance", in)
}

// DescribeInstances calls DescribeInstances.
func (o *Operator) DescribeInstances(ctx context.Context, in *operatorapi.DescribeInstancesRequest) (*operatorapi.DescribeInstancesResponse, error) {
	return call[operatorapi.DescribeInstancesResponse](ctx, o, "DescribeInstances", in)
}

// DeleteInstance calls DeleteInstance.
func (o *Operator) DeleteInstance(ctx context.Context, in *operatorapi.DeleteInstanceRequest) (*operatorapi.DeleteInstanceResponse, error) {
	return call[operatorapi.DeleteInstanceResponse](ctx, o, "DeleteInstance", in)
}

// SetImageQuota calls SetImageQuota.
func (o *Operator) SetImageQuota(ctx context.Context, in *operatorapi.SetImageQuotaRequest) (*operatorapi.SetImageQuotaResponse, error) {
	return call[operatorapi.SetImageQuotaResponse](ctx, o, "SetImageQuota", in)
}

// UnsetImageQuota calls UnsetImageQuota.
func (o *Operator) UnsetImageQuota(ctx context.Context, in *operatorapi.UnsetImageQuotaRequest) (*operatorapi.UnsetImageQuotaResponse, error) {
	return call[operatorapi.UnsetImageQuotaResponse](ctx, o, "UnsetImageQuota", in)
}

// DescribeImageQuotaOverrides calls DescribeImageQuotaOverrides.
func (o *Operator) DescribeImageQuotaOverrides(ctx context.Context, in *operatorapi.DescribeImageQuotaOverridesRequest) (*operatorapi.DescribeImageQuotaOverridesResponse, error) {
	return call[operatorapi.DescribeImageQuotaOverridesResponse](ctx, o, "DescribeImageQuotaOverrides", in)
}

// DescribeImageQuotaUsage calls DescribeImageQuotaUsage.
func (o *Operator) DescribeImageQuotaUsage(ctx context.Context, in *operatorapi.DescribeImageQuotaUsageRequest) (*operatorapi.DescribeImageQuotaUsageResponse, error) {
	return call[operatorapi.DescribeImageQuotaUsageResponse](ctx, o, "DescribeImageQuotaUsage", in)
}

// DescribeAuditEvents calls DescribeAuditEvents.
func (o *Operator) DescribeAuditEvents(ctx context.Context, in *operatorapi.DescribeAuditEventsRequest) (*operatorapi.DescribeAuditEventsResponse, error) {
	return call[operatorapi.DescribeAuditEventsResponse](ctx, o, "DescribeAuditEvents", in)
}

// Bool returns a pointer to b, for optional request fields.
func Bool(b bool) *bool { return &b }

// Int64 returns a pointer to n, for optional request fields.
func Int64(n int64) *int64 { return &n }

// Float returns a pointer to f, for optional request fields.
func Float(f float64) *float64 { return &f }
