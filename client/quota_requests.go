package client

import (
	"context"

	"github.com/imagequota/imagequota/vmapi"
)

// CreateImageQuotaRequest calls CreateImageQuotaRequest: it asks for a higher
// custom image limit in a zone.
func (c *Client) CreateImageQuotaRequest(ctx context.Context, in *vmapi.CreateImageQuotaRequestRequest) (*vmapi.CreateImageQuotaRequestResponse, error) {
	out := new(vmapi.CreateImageQuotaRequestResponse)
	return out, c.Call(ctx, "CreateImageQuotaRequest", in, out)
}

// DescribeImageQuotaRequests calls DescribeImageQuotaRequests.
func (c *Client) DescribeImageQuotaRequests(ctx context.Context, in *vmapi.DescribeImageQuotaRequestsRequest) (*vmapi.DescribeImageQuotaRequestsResponse, error) {
	out := new(vmapi.DescribeImageQuotaRequestsResponse)
	return out, c.Call(ctx, "DescribeImageQuotaRequests", in, out)
}

// CancelImageQuotaRequest calls CancelImageQuotaRequest.
func (c *Client) CancelImageQuotaRequest(ctx context.Context, in *vmapi.CancelImageQuotaRequestRequest) error {
	return c.Call(ctx, "CancelImageQuotaRequest", in, nil)
}
