package client

import (
	"context"

	"github.com/imagequota/imagequota/vmapi"
)

// DescribeImageQuota calls DescribeImageQuota.
func (c *Client) DescribeImageQuota(ctx context.Context, in *vmapi.DescribeImageQuotaRequest) (*vmapi.DescribeImageQuotaResponse, error) {
	out := new(vmapi.DescribeImageQuotaResponse)
	return out, c.Call(ctx, "DescribeImageQuota", in, out)
}

// DescribeRegions calls DescribeRegions.
func (c *Client) DescribeRegions(ctx context.Context, in *vmapi.DescribeRegionsRequest) (*vmapi.DescribeRegionsResponse, error) {
	out := new(vmapi.DescribeRegionsResponse)
	return out, c.Call(ctx, "DescribeRegions", in, out)
}

// DescribeZones calls DescribeZones.
func (c *Client) DescribeZones(ctx context.Context, in *vmapi.DescribeZonesRequest) (*vmapi.DescribeZonesResponse, error) {
	out := new(vmapi.DescribeZonesResponse)
	return out, c.Call(ctx, "DescribeZones", in, out)
}

// CreateImage calls CreateImage.
func (c *Client) CreateImage(ctx context.Context, in *vmapi.CreateImageRequest) (*vmapi.CreateImageResponse, error) {
	out := new(vmapi.CreateImageResponse)
	return out, c.Call(ctx, "CreateImage", in, out)
}

// DescribeImages calls DescribeImages.
func (c *Client) DescribeImages(ctx context.Context, in *vmapi.DescribeImagesRequest) (*vmapi.DescribeImagesResponse, error) {
	out := new(vmapi.DescribeImagesResponse)
	return out, c.Call(ctx, "DescribeImages", in, out)
}

// ModifyImagesAttributes calls ModifyImagesAttributes.
func (c *Client) ModifyImagesAttributes(ctx context.Context, in *vmapi.ModifyImagesAttributesRequest) error {
	return c.Call(ctx, "ModifyImagesAttributes", in, nil)
}

// DeleteImages calls DeleteImages.
func (c *Client) DeleteImages(ctx context.Context, in *vmapi.DeleteImagesRequest) error {
	return c.Call(ctx, "DeleteImages", in, nil)
}

// String returns a pointer to s, for optional request fields.
func String(s string) *string { return &s }

// Int returns a pointer to n, for optional request fields.
func Int(n int) *int { return &n }
