package vm

import (
	"context"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// Quota increase requests: this server's extension of the vm service. An
// account asks for a higher limit in one zone; the operator API (or the
// server's auto-approval policy) decides.

// QuotaRequestStore is what the quota request actions need of the store.
type QuotaRequestStore interface {
	// CreateQuotaRequest records a request, approved at once when in.Policy
	// covers it; replayed is true when its client token matched an earlier one.
	CreateQuotaRequest(ctx context.Context, in quota.CreateQuotaRequestInput) (r quota.QuotaRequest, replayed bool, err error)
	ListQuotaRequests(ctx context.Context, f quota.QuotaRequestFilter) (quota.QuotaRequestPage, error)
	CancelQuotaRequest(ctx context.Context, in quota.CancelQuotaRequestInput) (quota.QuotaRequest, error)
}

// CreateImageQuotaRequest asks for a higher custom image limit in a zone.
func (s *Service) CreateImageQuotaRequest(ctx context.Context, c *zcapi.Call, in *vmapi.CreateImageQuotaRequestRequest) (*vmapi.CreateImageQuotaRequestResponse, error) {
	v, err := s.validateCreateImageQuotaRequest(in)
	if err != nil {
		return nil, err
	}
	r, _, err := s.Store.CreateQuotaRequest(ctx, quota.CreateQuotaRequestInput{
		AccountID: c.AccountID, LocationID: v.zone, DesiredMaxCount: v.desired, Reason: v.reason, ClientToken: v.clientToken,
		DefaultMax: s.DefaultMax, Policy: s.Policy, Actor: c.AuditActor(),
	})
	if err != nil {
		return nil, err
	}
	return &vmapi.CreateImageQuotaRequestResponse{QuotaRequestID: r.ID, State: string(r.State)}, nil
}

// DescribeImageQuotaRequests lists the account's requests, oldest first, filtered and paged.
func (s *Service) DescribeImageQuotaRequests(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeImageQuotaRequestsRequest) (*vmapi.DescribeImageQuotaRequestsResponse, error) {
	f, err := validateDescribeImageQuotaRequests(in)
	if err != nil {
		return nil, err
	}
	f.AccountID = c.AccountID
	page, err := s.Store.ListQuotaRequests(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &vmapi.DescribeImageQuotaRequestsResponse{TotalCount: page.TotalCount, DataSet: make([]vmapi.QuotaRequestInfo, 0, len(page.Requests))}
	for _, r := range page.Requests {
		out.DataSet = append(out.DataSet, QuotaRequestInfo(r))
	}
	return out, nil
}

// QuotaRequestInfo is a request as the API describes it to its account.
func QuotaRequestInfo(r quota.QuotaRequest) vmapi.QuotaRequestInfo {
	return vmapi.QuotaRequestInfo{
		QuotaRequestID: r.ID, ZoneID: r.LocationID, CurrentMaxCount: r.CurrentMaxCount, DesiredMaxCount: r.DesiredMaxCount,
		GrantedMaxCount: r.GrantedMaxCount, State: string(r.State), Reason: r.Reason, Comment: r.Comment,
		CreatedAt: quota.WireTime(r.CreatedAt), DecidedAt: quota.WireTimePtr(r.DecidedAt), ExpiresAt: quota.WireTimePtr(r.ExpiresAt),
	}
}

// CancelImageQuotaRequest withdraws one of the account's PENDING requests.
func (s *Service) CancelImageQuotaRequest(ctx context.Context, c *zcapi.Call, in *vmapi.CancelImageQuotaRequestRequest) (*vmapi.Empty, error) {
	id, err := requiredID("quotaRequestId", in.QuotaRequestID)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.CancelQuotaRequest(ctx, quota.CancelQuotaRequestInput{AccountID: c.AccountID, ID: id, Actor: c.AuditActor()}); err != nil {
		return nil, err
	}
	return &vmapi.Empty{}, nil
}

// createQuotaRequest is a valid CreateImageQuotaRequest request.
type createQuotaRequest struct {
	zone        string
	desired     int
	reason      string
	clientToken string
}

func (s *Service) validateCreateImageQuotaRequest(in *vmapi.CreateImageQuotaRequestRequest) (createQuotaRequest, error) {
	var v createQuotaRequest
	var err error
	if v.zone, err = requiredID("zoneId", in.ZoneID); err != nil {
		return v, err
	}
	if _, ok := s.Catalog.Lookup(v.zone); !ok {
		return v, quota.Errorf(quota.CodeZoneNotFound, "zoneId %q does not exist or is not available.", v.zone)
	}
	switch {
	case in.DesiredMaxCount == nil:
		return v, quota.Errorf(quota.CodeMissingParameter, "desiredMaxCount is required.")
	case *in.DesiredMaxCount < 1:
		return v, quota.Errorf(quota.CodeLessMinimum, "desiredMaxCount must be at least 1; it is %d.", *in.DesiredMaxCount)
	case *in.DesiredMaxCount > quota.MaxLimit:
		return v, quota.Errorf(quota.CodeExceedMaximum, "desiredMaxCount must be at most %d; it is %d.", quota.MaxLimit, *in.DesiredMaxCount)
	}
	v.desired = *in.DesiredMaxCount
	if in.Reason != nil {
		if err := quota.CheckRequestText("reason", *in.Reason); err != nil {
			return v, err
		}
		v.reason = *in.Reason
	}
	v.clientToken, err = optionalClientToken(in.ClientToken)
	return v, err
}

func validateDescribeImageQuotaRequests(in *vmapi.DescribeImageQuotaRequestsRequest) (quota.QuotaRequestFilter, error) {
	f, err := quota.NewQuotaRequestFilter(in.QuotaRequestIDs, in.States)
	if err != nil {
		return f, err
	}
	num, size, err := validatePage(in.PageNum, in.PageSize)
	f.Offset, f.Limit = (num-1)*size, size
	return f, err
}
