package operator

import (
	"context"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/operatorapi"
)

// QuotaRequestStore is what the quota request actions need of the store.
type QuotaRequestStore interface {
	ListQuotaRequests(ctx context.Context, f quota.QuotaRequestFilter) (quota.QuotaRequestPage, error)
	ApproveQuotaRequest(ctx context.Context, in quota.ApproveQuotaRequestInput) (quota.QuotaRequest, error)
	DenyQuotaRequest(ctx context.Context, in quota.DenyQuotaRequestInput) (quota.QuotaRequest, error)
}

// DescribeQuotaRequests lists quota requests, oldest first.
func (s *Service) DescribeQuotaRequests(ctx context.Context, c *zcapi.Call, in *operatorapi.DescribeQuotaRequestsRequest) (*operatorapi.DescribeQuotaRequestsResponse, error) {
	f, err := quota.NewQuotaRequestFilter(in.QuotaRequestIDs, in.States)
	if err != nil {
		return nil, err
	}
	if f.AccountID, err = optionalID("accountId", in.AccountID); err != nil {
		return nil, err
	}
	if f.Offset, f.Limit, err = page(in.Page); err != nil {
		return nil, err
	}
	if f.AccountID != "" {
		if _, err := s.Store.GetAccount(ctx, f.AccountID); err != nil {
			return nil, err
		}
	}
	p, err := s.Store.ListQuotaRequests(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &operatorapi.DescribeQuotaRequestsResponse{TotalCount: p.TotalCount, DataSet: make([]operatorapi.QuotaRequestInfo, 0, len(p.Requests))}
	for _, r := range p.Requests {
		out.DataSet = append(out.DataSet, quotaRequestInfo(r))
	}
	return out, nil
}

func quotaRequestInfo(r quota.QuotaRequest) operatorapi.QuotaRequestInfo {
	return operatorapi.QuotaRequestInfo{
		QuotaRequestID: r.ID, AccountID: r.AccountID, ZoneID: r.LocationID, CurrentMaxCount: r.CurrentMaxCount,
		DesiredMaxCount: r.DesiredMaxCount, GrantedMaxCount: r.GrantedMaxCount, State: string(r.State), Reason: r.Reason,
		Comment: r.Comment, CreatedAt: formatTime(r.CreatedAt), DecidedAt: formatTimePtr(r.DecidedAt), DecidedBy: r.DecidedBy,
		ExpiresAt: formatTimePtr(r.ExpiresAt),
	}
}

// ApproveQuotaRequest approves a PENDING request; the account's limit in its
// zone rises in the same transaction.
func (s *Service) ApproveQuotaRequest(ctx context.Context, c *zcapi.Call, in *operatorapi.ApproveQuotaRequestRequest) (*operatorapi.QuotaRequestInfo, error) {
	a := quota.ApproveQuotaRequestInput{GrantedMaxCount: in.GrantedMaxCount, Actor: actor(c)}
	var err error
	if a.ID, err = requiredID("quotaRequestId", in.QuotaRequestID); err != nil {
		return nil, err
	}
	expires, err := parseTime("expiresAt", in.ExpiresAt)
	if err != nil {
		return nil, err
	}
	if !expires.IsZero() {
		a.ExpiresAt = &expires
	}
	if a.Comment, err = optionalText("comment", in.Comment, quota.MaxRequestTextLen); err != nil {
		return nil, err
	}
	// The store checks the granted limit and that the expiry is in the future.
	r, err := s.Store.ApproveQuotaRequest(ctx, a)
	if err != nil {
		return nil, err
	}
	info := quotaRequestInfo(r)
	return &info, nil
}

// DenyQuotaRequest denies a PENDING request; a denial says why.
func (s *Service) DenyQuotaRequest(ctx context.Context, c *zcapi.Call, in *operatorapi.DenyQuotaRequestRequest) (*operatorapi.QuotaRequestInfo, error) {
	d := quota.DenyQuotaRequestInput{Actor: actor(c)}
	var err error
	if d.ID, err = requiredID("quotaRequestId", in.QuotaRequestID); err != nil {
		return nil, err
	}
	if in.Comment == nil {
		return nil, quota.Errorf(quota.CodeMissingParameter, "comment is required: say why the request is denied.")
	}
	if strings.TrimSpace(*in.Comment) == "" {
		return nil, quota.Errorf(quota.CodeLessLength, "comment must not be empty: say why the request is denied.")
	}
	if d.Comment, err = optionalText("comment", in.Comment, quota.MaxRequestTextLen); err != nil {
		return nil, err
	}
	r, err := s.Store.DenyQuotaRequest(ctx, d)
	if err != nil {
		return nil, err
	}
	info := quotaRequestInfo(r)
	return &info, nil
}
