// Package vmapi holds the wire types of the Zenlayer Cloud API 2.0 "vm"
// service actions that imagequota serves. The server, the Go client and the
// CLI all use these types, so the three cannot drift apart.
//
// Request fields that may be absent are pointers (or nil slices), so that
// "absent" and "empty" are told apart. Response fields are always emitted.
package vmapi

// Service is the API's service name; Path its endpoint path.
const (
	Service = "vm"
	Path    = "/api/v2/vm"
)

// API versions. Every action here has the same schema in both; DescribeImage
// exists only in VersionLegacy.
const (
	VersionLegacy  = "2023-03-13"
	VersionCurrent = "2026-04-01"
	DefaultVersion = VersionCurrent
)

// DescribeRegionsRequest is the seed's region listing.
type DescribeRegionsRequest struct {
	RegionIDs []string `json:"regionIds,omitempty"`
}

// RegionInfo is one region.
type RegionInfo struct {
	RegionID   string `json:"regionId"`
	RegionName string `json:"regionName"`
}

// DescribeRegionsResponse lists regions.
type DescribeRegionsResponse struct {
	Regions []RegionInfo `json:"regions"`
}

// DescribeZonesRequest is the published clients' zone listing.
type DescribeZonesRequest struct {
	ZoneIDs []string `json:"zoneIds,omitempty"`
}

// ZoneInfo is one zone.
type ZoneInfo struct {
	ZoneID                string `json:"zoneId"`
	ZoneName              string `json:"zoneName"`
	RegionID              string `json:"regionId"`
	SupportSecurityGroup  bool   `json:"supportSecurityGroup"`
	SupportNetworkType    string `json:"supportNetworkType"`
	SupportIPv6           bool   `json:"supportIpv6"`
	SupportCPUPassThrough bool   `json:"supportCpuPassThrough"`
}

// DescribeZonesResponse lists zones.
type DescribeZonesResponse struct {
	ZoneSet []ZoneInfo `json:"zoneSet"`
}

// DescribeImageQuotaRequest accepts both filter names; both present means their union.
type DescribeImageQuotaRequest struct {
	RegionIDs []string `json:"regionIds,omitempty"`
	ZoneIDs   []string `json:"zoneIds,omitempty"`
}

// ImageQuotaInfo is what the published clients parse: counts are numbers.
type ImageQuotaInfo struct {
	ZoneID   string `json:"zoneId"`
	RegionID string `json:"regionId"`
	Count    int    `json:"count"`
	MaxCount int    `json:"maxCount"`
}

// ImageRegionQuota is the seed's form: counts are strings.
type ImageRegionQuota struct {
	RegionID string `json:"regionId"`
	Count    string `json:"count"`
	MaxCount string `json:"maxCount"`
}

// DescribeImageQuotaResponse carries both lists, same locations in the same order.
type DescribeImageQuotaResponse struct {
	Images           []ImageQuotaInfo   `json:"images"`
	ImageRegionQuota []ImageRegionQuota `json:"imageRegionQuota"`
}

// CreateImageRequest makes a custom image from an instance.
type CreateImageRequest struct {
	InstanceID       *string `json:"instanceId,omitempty"`
	ImageName        *string `json:"imageName,omitempty"`
	ImageDescription *string `json:"imageDescription,omitempty"`
	ClientToken      *string `json:"clientToken,omitempty"`
}

// CreateImageResponse names the new image.
type CreateImageResponse struct {
	ImageID   string `json:"imageId"`
	ImageName string `json:"imageName"`
}

// DescribeImagesRequest filters and pages images.
type DescribeImagesRequest struct {
	ImageIDs    []string `json:"imageIds,omitempty"`
	ImageName   *string  `json:"imageName,omitempty"`
	ZoneID      *string  `json:"zoneId,omitempty"`
	RegionID    *string  `json:"regionId,omitempty"`
	Category    *string  `json:"category,omitempty"`
	ImageType   *string  `json:"imageType,omitempty"`
	OSType      *string  `json:"osType,omitempty"`
	ImageStatus *string  `json:"imageStatus,omitempty"`
	PageNum     *int     `json:"pageNum,omitempty"`
	PageSize    *int     `json:"pageSize,omitempty"`
}

// ImageInfo describes one image.
type ImageInfo struct {
	ImageID          string  `json:"imageId"`
	ImageName        string  `json:"imageName"`
	ImageType        string  `json:"imageType"`
	ImageSize        string  `json:"imageSize"`
	ImageDescription *string `json:"imageDescription"`
	ImageVersion     string  `json:"imageVersion"`
	ImageStatus      string  `json:"imageStatus"`
	Category         string  `json:"category"`
	OSType           string  `json:"osType"`
	ZoneID           string  `json:"zoneId"`
	RegionID         string  `json:"regionId"`
}

// DescribeImagesResponse is one page of images.
type DescribeImagesResponse struct {
	TotalCount int         `json:"totalCount"`
	DataSet    []ImageInfo `json:"dataSet"`
}

// DescribeImageRequest looks up one image (version 2023-03-13 only).
type DescribeImageRequest struct {
	ImageID *string `json:"imageId,omitempty"`
}

// ModifyImagesAttributesRequest renames or re-describes images.
type ModifyImagesAttributesRequest struct {
	ImageIDs         []string `json:"imageIds,omitempty"`
	ImageName        *string  `json:"imageName,omitempty"`
	ImageDescription *string  `json:"imageDescription,omitempty"`
}

// DeleteImagesRequest deletes images, all or none.
type DeleteImagesRequest struct {
	ImageIDs []string `json:"imageIds,omitempty"`
}

// Empty is the response of actions that return nothing but the request id.
type Empty struct{}
