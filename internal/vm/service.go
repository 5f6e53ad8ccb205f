// Package vm is the "vm" service of the API: a handler per action that turns
// the wire types of vmapi into domain calls and back.
package vm

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// Store is what the vm service needs of the store. Errors are *quota.Error
// for anything a caller can act on; anything else is internal.
type Store interface {
	// Usage returns an account's image count per location and the limit
	// overrides that may apply to it.
	Usage(ctx context.Context, accountID string) (quota.Usage, error)
	// CreateImage admits and inserts an image in one transaction. replayed is
	// true when the client token matched an earlier create.
	CreateImage(ctx context.Context, in quota.CreateImageInput) (img quota.Image, replayed bool, err error)
	// ListImages returns an account's custom images, oldest first, optionally
	// limited to ids and to one location.
	ListImages(ctx context.Context, accountID string, ids []string, locationID string) ([]quota.Image, error)
	// ModifyImages and DeleteImages change all the images named or none.
	ModifyImages(ctx context.Context, in quota.ModifyImagesInput) error
	DeleteImages(ctx context.Context, in quota.DeleteImagesInput) error
	QuotaRequestStore
}

// Service serves the vm actions from a store and a catalogue.
type Service struct {
	Store   Store
	Catalog *quota.Catalog
	// DefaultMax is the limit when no override applies.
	DefaultMax int
	// BuildTime is how long a new image stays CREATING.
	BuildTime time.Duration
	Now       func() time.Time
	// Policy approves the quota requests it covers as they are made.
	Policy quota.AutoApproval
	// QuotaRefused, when set, is told the location of each admission
	// refused with LIMIT_EXCEEDED_IMAGE_QUOTA (for a metric).
	QuotaRefused func(locationID string)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// The most frequent answer encodes itself, without reflection.
var _ zcapi.JSONAppender = (*vmapi.DescribeImageQuotaResponse)(nil)

// Actions is the service as the wire serves it: on vmapi.Path, in both API
// versions, with its action table.
func (s *Service) Actions() zcapi.ActionTable {
	return zcapi.ActionTable{
		Path:           vmapi.Path,
		Versions:       []string{vmapi.VersionLegacy, vmapi.VersionCurrent},
		DefaultVersion: vmapi.DefaultVersion,
		Actions: []zcapi.Action{
			{Name: "DescribeRegions", Handler: zcapi.Handle(s.DescribeRegions)},
			{Name: "DescribeZones", Handler: zcapi.Handle(s.DescribeZones)},
			{Name: "DescribeImageQuota", Handler: zcapi.Handle(s.DescribeImageQuota)},
			{Name: "CreateImage", Handler: zcapi.Handle(s.CreateImage)},
			{Name: "DescribeImages", Handler: zcapi.Handle(s.DescribeImages)},
			{Name: "DescribeImage", Versions: []string{vmapi.VersionLegacy}, Handler: zcapi.Handle(s.DescribeImage)},
			{Name: "ModifyImagesAttributes", Handler: zcapi.Handle(s.ModifyImagesAttributes)},
			{Name: "DeleteImages", Handler: zcapi.Handle(s.DeleteImages)},
			{Name: "CreateImageQuotaRequest", Handler: zcapi.Handle(s.CreateImageQuotaRequest)},
			{Name: "DescribeImageQuotaRequests", Handler: zcapi.Handle(s.DescribeImageQuotaRequests)},
			{Name: "CancelImageQuotaRequest", Handler: zcapi.Handle(s.CancelImageQuotaRequest)},
		},
	}
}

// DescribeRegions lists the catalogue as regions.
func (s *Service) DescribeRegions(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeRegionsRequest) (*vmapi.DescribeRegionsResponse, error) {
	locs, err := s.validateDescribeRegions(in)
	if err != nil {
		return nil, err
	}
	out := &vmapi.DescribeRegionsResponse{Regions: make([]vmapi.RegionInfo, 0, len(locs))}
	for _, l := range locs {
		out.Regions = append(out.Regions, vmapi.RegionInfo{RegionID: l.ID, RegionName: l.Name})
	}
	return out, nil
}

// DescribeZones lists the catalogue as zones.
func (s *Service) DescribeZones(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeZonesRequest) (*vmapi.DescribeZonesResponse, error) {
	locs, err := s.validateDescribeZones(in)
	if err != nil {
		return nil, err
	}
	out := &vmapi.DescribeZonesResponse{ZoneSet: make([]vmapi.ZoneInfo, 0, len(locs))}
	for _, l := range locs {
		out.ZoneSet = append(out.ZoneSet, vmapi.ZoneInfo{
			ZoneID: l.ID, ZoneName: l.Name, RegionID: l.ID,
			SupportSecurityGroup: l.SupportSecurityGroup, SupportNetworkType: l.SupportNetworkType,
			SupportIPv6: l.SupportIPv6, SupportCPUPassThrough: l.SupportCPUPassThrough,
		})
	}
	return out, nil
}

// DescribeImageQuota answers, per location, the account's custom image count and limit.
func (s *Service) DescribeImageQuota(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeImageQuotaRequest) (*vmapi.DescribeImageQuotaResponse, error) {
	locs, err := s.validateDescribeImageQuota(in)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.Usage(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	out := &vmapi.DescribeImageQuotaResponse{
		Images:           make([]vmapi.ImageQuotaInfo, 0, len(locs)),
		ImageRegionQuota: make([]vmapi.ImageRegionQuota, 0, len(locs)),
	}
	for _, l := range locs {
		count := u.Counts[l.ID]
		max, _ := quota.ResolveLimit(u.Overrides, c.AccountID, l.ID, s.DefaultMax)
		out.Images = append(out.Images, vmapi.ImageQuotaInfo{ZoneID: l.ID, RegionID: l.ID, Count: count, MaxCount: max})
		out.ImageRegionQuota = append(out.ImageRegionQuota, vmapi.ImageRegionQuota{
			RegionID: l.ID, Count: strconv.Itoa(count), MaxCount: strconv.Itoa(max),
		})
	}
	return out, nil
}

// CreateImage makes a custom image from an instance, if the quota allows.
func (s *Service) CreateImage(ctx context.Context, c *zcapi.Call, in *vmapi.CreateImageRequest) (*vmapi.CreateImageResponse, error) {
	v, err := validateCreateImage(in)
	if err != nil {
		return nil, err
	}
	// The instance's location, once the store has read it: where a
	// refusal for the quota is counted.
	var location string
	img, _, err := s.Store.CreateImage(ctx, quota.CreateImageInput{
		AccountID: c.AccountID, InstanceID: v.instanceID, Name: v.name, Description: v.description,
		ClientToken: v.clientToken, DefaultMax: s.DefaultMax, BuildTime: s.BuildTime, Now: s.now(), Actor: c.AuditActor(),
		CheckInstance: func(inst quota.Instance) error {
			location = inst.LocationID
			if _, ok := s.Catalog.Lookup(inst.LocationID); !ok {
				return quota.Errorf(quota.CodeRegionNotFound, "The location %q of instanceId %q is not available.", inst.LocationID, inst.ID)
			}
			return nil
		},
	})
	if err != nil {
		if s.QuotaRefused != nil && location != "" && quota.ErrorCode(err) == quota.CodeImageQuotaExceeded {
			s.QuotaRefused(location)
		}
		return nil, err
	}
	return &vmapi.CreateImageResponse{ImageID: img.ID, ImageName: img.Name}, nil
}

func (f imageFilter) match(im quota.Image, now time.Time) bool {
	_, listed := slices.BinarySearch(f.ids, im.ID)
	return (f.ids == nil || listed) &&
		(f.name == "" || strings.Contains(strings.ToLower(im.Name), f.name)) &&
		(f.category == "" || strings.EqualFold(im.Category, f.category)) &&
		(f.imageType == "" || im.Type == f.imageType) &&
		(f.osType == "" || im.OSType == f.osType) &&
		(f.status == "" || im.Status(now) == f.status)
}

// DescribeImages lists the account's custom images (oldest first), then the
// public images, filtered and paged.
func (s *Service) DescribeImages(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeImagesRequest) (*vmapi.DescribeImagesResponse, error) {
	f, err := s.validateDescribeImages(in)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var all []quota.Image
	if f.imageType != quota.ImageTypePublic {
		custom, err := s.Store.ListImages(ctx, c.AccountID, f.ids, f.location)
		if err != nil {
			return nil, err
		}
		all = append(all, custom...)
	}
	if f.imageType != quota.ImageTypeCustom {
		locs := s.Catalog.EnabledShared()
		if f.location != "" {
			l, _ := s.Catalog.Lookup(f.location)
			locs = []quota.Location{l}
		}
		for _, l := range locs {
			all = append(all, quota.PublicImages(l.ID)...)
		}
	}
	out := &vmapi.DescribeImagesResponse{DataSet: []vmapi.ImageInfo{}}
	skip := (f.pageNum - 1) * f.pageSize
	for _, im := range all {
		if !f.match(im, now) {
			continue
		}
		out.TotalCount++
		if out.TotalCount > skip && len(out.DataSet) < f.pageSize {
			out.DataSet = append(out.DataSet, imageInfo(im, now))
		}
	}
	return out, nil
}

func imageInfo(im quota.Image, now time.Time) vmapi.ImageInfo {
	return vmapi.ImageInfo{
		ImageID: im.ID, ImageName: im.Name, ImageType: im.Type, ImageSize: im.SizeString(),
		ImageDescription: im.Description, ImageVersion: im.Version, ImageStatus: im.Status(now),
		Category: im.Category, OSType: im.OSType, ZoneID: im.LocationID, RegionID: im.LocationID,
	}
}

// DescribeImage returns one image, or a null response when there is none
// (which the Terraform provider reads as "gone").
func (s *Service) DescribeImage(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeImageRequest) (*vmapi.ImageInfo, error) {
	id, err := validateDescribeImage(in)
	if err != nil {
		return nil, err
	}
	now := s.now()
	imgs, err := s.Store.ListImages(ctx, c.AccountID, []string{id}, "")
	if err != nil {
		return nil, err
	}
	if len(imgs) == 1 {
		info := imageInfo(imgs[0], now)
		return &info, nil
	}
	for _, l := range s.Catalog.EnabledShared() {
		for _, im := range quota.PublicImages(l.ID) {
			if im.ID == id {
				info := imageInfo(im, now)
				return &info, nil
			}
		}
	}
	return nil, nil
}

// ModifyImagesAttributes renames and/or re-describes images, all or none.
// Both attributes are optional: without either (the Terraform provider's
// request when a description is removed) the store changes nothing and
// audits nothing, but still refuses an image the account does not have.
func (s *Service) ModifyImagesAttributes(ctx context.Context, c *zcapi.Call, in *vmapi.ModifyImagesAttributesRequest) (*vmapi.Empty, error) {
	if err := validateModifyImagesAttributes(in); err != nil {
		return nil, err
	}
	err := s.Store.ModifyImages(ctx, quota.ModifyImagesInput{
		AccountID: c.AccountID, IDs: in.ImageIDs, Name: in.ImageName, Description: in.ImageDescription, Actor: c.AuditActor(),
	})
	if err != nil {
		return nil, err
	}
	return &vmapi.Empty{}, nil
}

// DeleteImages deletes images, all or none.
func (s *Service) DeleteImages(ctx context.Context, c *zcapi.Call, in *vmapi.DeleteImagesRequest) (*vmapi.Empty, error) {
	if err := validateDeleteImages(in); err != nil {
		return nil, err
	}
	err := s.Store.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: c.AccountID, IDs: in.ImageIDs, Now: s.now(), Actor: c.AuditActor()})
	if err != nil {
		return nil, err
	}
	return &vmapi.Empty{}, nil
}
