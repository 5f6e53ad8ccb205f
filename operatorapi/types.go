// Package operatorapi holds the wire types of the operator API, which
// imagequota serves on POST /api/v2/operator with the signing, envelopes,
// error codes and request ids of the vm API, to operator keys only. The
// server, the Go client and `imagequota admin --server` all use these types.
//
// Request fields that may be absent are pointers (or nil slices), so that
// "absent" and "empty" are told apart. Response fields are always emitted,
// except the optional ones marked omitempty. Times are RFC 3339 strings in
// UTC, like 2026-12-01T10:00:00Z.
package operatorapi

import "encoding/json"

// Service is the API's service name; Path its endpoint path.
const (
	Service = "operator"
	Path    = "/api/v2/operator"
)

// TimeFormat is how every time is written (RFC 3339 with the fraction of
// a second when there is one, always in UTC).
const TimeFormat = "2006-01-02T15:04:05.999999999Z07:00"

// Page selects a page of a list: pageNum from 1 (default 1), pageSize 1 to
// 1000 (default 20).
type Page struct {
	PageNum  *int `json:"pageNum,omitempty"`
	PageSize *int `json:"pageSize,omitempty"`
}

// CreateAccountRequest creates a tenant account.
type CreateAccountRequest struct {
	Name *string `json:"name"`
}

// CreateAccountResponse is the new account.
type CreateAccountResponse struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
}

// DescribeAccountsRequest lists accounts, oldest first: those named in
// accountIds, and/or those whose name contains name (case-insensitive).
type DescribeAccountsRequest struct {
	AccountIDs []string `json:"accountIds,omitempty"`
	Name       *string  `json:"name,omitempty"`
	Page
}

// AccountInfo is one account.
type AccountInfo struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
	Disabled  bool   `json:"disabled"`
	CreatedAt string `json:"createdAt"`
}

// DescribeAccountsResponse is a page of accounts.
type DescribeAccountsResponse struct {
	TotalCount int           `json:"totalCount"`
	DataSet    []AccountInfo `json:"dataSet"`
}

// ModifyAccountStatusRequest disables or enables an account: a disabled
// account's keys and tokens are refused.
type ModifyAccountStatusRequest struct {
	AccountID *string `json:"accountId"`
	Disabled  *bool   `json:"disabled"`
}

// ModifyAccountStatusResponse is the account's new state.
type ModifyAccountStatusResponse struct {
	AccountID string `json:"accountId"`
	Disabled  bool   `json:"disabled"`
}

// CreateAccessKeyRequest creates an access key of an account.
type CreateAccessKeyRequest struct {
	AccountID *string `json:"accountId"`
}

// CreateAccessKeyResponse is the new key, with its password: the only time
// it is shown.
type CreateAccessKeyResponse struct {
	AccessKeyID       string `json:"accessKeyId"`
	AccessKeyPassword string `json:"accessKeyPassword"`
	AccountID         string `json:"accountId"`
}

// AccessKeyRequest names an access key (DisableAccessKey, EnableAccessKey).
type AccessKeyRequest struct {
	AccessKeyID *string `json:"accessKeyId"`
}

// AccessKeyStatusResponse is a key's new state.
type AccessKeyStatusResponse struct {
	AccessKeyID string `json:"accessKeyId"`
	Disabled    bool   `json:"disabled"`
}

// DescribeAccessKeysRequest lists an account's access keys, never their
// passwords.
type DescribeAccessKeysRequest struct {
	AccountID *string `json:"accountId"`
	Page
}

// AccessKeyInfo is one access key.
type AccessKeyInfo struct {
	AccessKeyID string `json:"accessKeyId"`
	AccountID   string `json:"accountId"`
	Disabled    bool   `json:"disabled"`
	CreatedAt   string `json:"createdAt"`
}

// DescribeAccessKeysResponse is a page of access keys.
type DescribeAccessKeysResponse struct {
	TotalCount int             `json:"totalCount"`
	DataSet    []AccessKeyInfo `json:"dataSet"`
}

// CreateTokenRequest creates a bearer token of an account, valid for
// ttlSeconds (1 to 31,536,000).
type CreateTokenRequest struct {
	AccountID  *string `json:"accountId"`
	TTLSeconds *int64  `json:"ttlSeconds"`
}

// CreateTokenResponse is the new token: the only time it is shown.
type CreateTokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
	AccountID string `json:"accountId"`
}

// CreateInstanceRequest registers an instance of an account in a zone.
// Absent fields take the defaults of `imagequota admin instance create`.
type CreateInstanceRequest struct {
	AccountID  *string `json:"accountId"`
	ZoneID     *string `json:"zoneId"`
	InstanceID *string `json:"instanceId,omitempty"`
	DiskGB     *int    `json:"diskGb,omitempty"`
	OSCategory *string `json:"osCategory,omitempty"`
	OSType     *string `json:"osType,omitempty"`
	OSVersion  *string `json:"osVersion,omitempty"`
}

// CreateInstanceResponse is the registered instance.
type CreateInstanceResponse struct {
	InstanceID string `json:"instanceId"`
	AccountID  string `json:"accountId"`
	ZoneID     string `json:"zoneId"`
}

// DeleteInstanceRequest removes an instance; its images stay and still count.
type DeleteInstanceRequest struct {
	InstanceID *string `json:"instanceId"`
}

// DeleteInstanceResponse names the instance removed.
type DeleteInstanceResponse struct {
	InstanceID string `json:"instanceId"`
}

// DescribeInstancesRequest lists instances, oldest first: an account's, or
// every account's.
type DescribeInstancesRequest struct {
	AccountID *string `json:"accountId,omitempty"`
	Page
}

// InstanceInfo is one instance.
type InstanceInfo struct {
	InstanceID string `json:"instanceId"`
	AccountID  string `json:"accountId"`
	ZoneID     string `json:"zoneId"`
	DiskGB     int    `json:"diskGb"`
	OSCategory string `json:"osCategory"`
	OSType     string `json:"osType"`
	OSVersion  string `json:"osVersion"`
	CreatedAt  string `json:"createdAt"`
}

// DescribeInstancesResponse is a page of instances.
type DescribeInstancesResponse struct {
	TotalCount int            `json:"totalCount"`
	DataSet    []InstanceInfo `json:"dataSet"`
}

// SetImageQuotaRequest sets the limit of a scope: with accountId and
// zoneId, that pair; with one, account-wide or zone-wide; with neither, the
// server-wide default. With expiresAt the override stops applying at that
// instant (which must be in the future); reason says why it was set.
type SetImageQuotaRequest struct {
	AccountID *string `json:"accountId,omitempty"`
	ZoneID    *string `json:"zoneId,omitempty"`
	MaxCount  *int    `json:"maxCount"`
	ExpiresAt *string `json:"expiresAt,omitempty"`
	Reason    *string `json:"reason,omitempty"`
}

// QuotaWarning is an account and zone whose image count is over the limit
// just set, where that limit is the one in effect: creating images there is
// refused until excess+1 are deleted.
type QuotaWarning struct {
	AccountID string `json:"accountId"`
	ZoneID    string `json:"zoneId"`
	Count     int    `json:"count"`
	MaxCount  int    `json:"maxCount"`
	Excess    int    `json:"excess"`
	Message   string `json:"message"`
}

// SetImageQuotaResponse is the override set, the limit it replaced (null
// when none applied) and a warning for each account×zone now over it.
type SetImageQuotaResponse struct {
	AccountID string         `json:"accountId"`
	ZoneID    string         `json:"zoneId"`
	MaxCount  int            `json:"maxCount"`
	ExpiresAt *string        `json:"expiresAt"`
	Reason    string         `json:"reason"`
	Previous  *int           `json:"previous"`
	Warnings  []QuotaWarning `json:"warnings"`
}

// UnsetImageQuotaRequest removes the override of a scope (the selectors of
// SetImageQuota).
type UnsetImageQuotaRequest struct {
	AccountID *string `json:"accountId,omitempty"`
	ZoneID    *string `json:"zoneId,omitempty"`
}

// UnsetImageQuotaResponse says whether an override was removed, and its limit.
type UnsetImageQuotaResponse struct {
	AccountID string `json:"accountId"`
	ZoneID    string `json:"zoneId"`
	Removed   bool   `json:"removed"`
	Previous  *int   `json:"previous"`
}

// DescribeImageQuotaOverridesRequest lists the overrides in effect (those
// past their expiry are not), by account then zone; accountId and zoneId
// select the overrides of exactly that account or zone ("" for the
// every-account or every-zone ones).
type DescribeImageQuotaOverridesRequest struct {
	AccountID *string `json:"accountId,omitempty"`
	ZoneID    *string `json:"zoneId,omitempty"`
	Page
}

// OverrideInfo is one override. An empty accountId or zoneId means every
// account or every zone.
type OverrideInfo struct {
	AccountID string  `json:"accountId"`
	ZoneID    string  `json:"zoneId"`
	MaxCount  int     `json:"maxCount"`
	ExpiresAt *string `json:"expiresAt"`
	Reason    string  `json:"reason"`
}

// DescribeImageQuotaOverridesResponse is a page of overrides.
type DescribeImageQuotaOverridesResponse struct {
	TotalCount int            `json:"totalCount"`
	DataSet    []OverrideInfo `json:"dataSet"`
}

// DescribeImageQuotaUsage orders.
const (
	OrderByUtilization = "utilization"
	OrderByAccountID   = "accountId"
)

// DescribeImageQuotaUsageRequest lists the account×zone pairs that have
// images, with the limit in effect: selected by accounts, zones and a
// minimum utilization (count / maxCount: 1 is at or over the limit),
// ordered by utilization (highest first, the default) or by accountId.
type DescribeImageQuotaUsageRequest struct {
	AccountIDs     []string `json:"accountIds,omitempty"`
	ZoneIDs        []string `json:"zoneIds,omitempty"`
	MinUtilization *float64 `json:"minUtilization,omitempty"`
	OrderBy        *string  `json:"orderBy,omitempty"`
	Page
}

// UsageInfo is one account×zone: its image count, the limit in effect and
// where it comes from (account+location, account, location, default or
// server-default), the instant an override in effect ends, and count over
// maxCount (null when maxCount is 0).
type UsageInfo struct {
	AccountID   string   `json:"accountId"`
	ZoneID      string   `json:"zoneId"`
	Count       int      `json:"count"`
	MaxCount    int      `json:"maxCount"`
	Source      string   `json:"source"`
	ExpiresAt   *string  `json:"expiresAt,omitempty"`
	Utilization *float64 `json:"utilization"`
}

// DescribeImageQuotaUsageResponse is a page of usage.
type DescribeImageQuotaUsageResponse struct {
	TotalCount int         `json:"totalCount"`
	DataSet    []UsageInfo `json:"dataSet"`
}

// DescribeAuditEventsRequest lists audit records, oldest first: of an
// account, of an action, at or after since and before until.
type DescribeAuditEventsRequest struct {
	AccountID *string `json:"accountId,omitempty"`
	Action    *string `json:"action,omitempty"`
	Since     *string `json:"since,omitempty"`
	Until     *string `json:"until,omitempty"`
	Page
}

// AuditEvent is one audit record: a change, who made it under which
// request, and the state before and after (JSON objects, or null).
type AuditEvent struct {
	ID        int64           `json:"id"`
	Time      string          `json:"time"`
	AccountID string          `json:"accountId"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"requestId"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

// DescribeAuditEventsResponse is a page of audit records.
type DescribeAuditEventsResponse struct {
	TotalCount int          `json:"totalCount"`
	DataSet    []AuditEvent `json:"dataSet"`
}
