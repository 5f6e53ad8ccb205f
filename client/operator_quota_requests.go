package client

import (
	"context"

	"github.com/imagequota/imagequota/operatorapi"
)

// DescribeQuotaRequests calls DescribeQuotaRequests.
func (o *Operator) DescribeQuotaRequests(ctx context.Context, in *operatorapi.DescribeQuotaRequestsRequest) (*operatorapi.DescribeQuotaRequestsResponse, error) {
	return call[operatorapi.DescribeQuotaRequestsResponse](ctx, o, "DescribeQuotaRequests", in)
}

// ApproveQuotaRequest calls ApproveQuotaRequest and returns the request as approved.
func (o *Operator) ApproveQuotaRequest(ctx context.Context, in *operatorapi.ApproveQuotaRequestRequest) (*operatorapi.QuotaRequestInfo, error) {
	return call[operatorapi.QuotaRequestInfo](ctx, o, "ApproveQuotaRequest", in)
}

// DenyQuotaRequest calls DenyQuotaRequest and returns the request as denied.
func (o *Operator) DenyQuotaRequest(ctx context.Context, in *operatorapi.DenyQuotaRequestRequest) (*operatorapi.QuotaRequestInfo, error) {
	return call[operatorapi.QuotaRequestInfo](ctx, o, "DenyQuotaRequest", in)
}
