// Package vm is the "vm" service of the API: a handler per action that turns
// the wire types of vmapi into domain calls and back.
package vm

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"imagequota/internal/quota"
	"imagequota/internal/zcapi"
	"imagequota/vmapi"
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
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Actions is the service's action table.
func (s *Service) Actions() []zcapi.Action {
	return []zcapi.Action{
		{Name: "DescribeRegions", Handler: zcapi.Handle(s.DescribeRegions)},
		{Name: "DescribeZones", Handler: zcapi.Handle(s.DescribeZones)},
		{Name: "DescribeImageQuota", Handler: zcapi.Handle(s.DescribeImageQuota)},
		{Name: "CreateImage", Handler: zcapi.Handle(s.CreateImage)},
		{Name: "DescribeImages", Handler: zcapi.Handle(s.DescribeImages)},
		{Name: "DescribeImage", Versions: []string{vmapi.VersionLegacy}, Handler: zcapi.Handle(s.DescribeImage)},
		{Name: "ModifyImagesAttributes", Handler: zcapi.Handle(s.ModifyImagesAttributes)},
		{Name: "DeleteImages", Handler: zcapi.Handle(s.DeleteImages)},
	}
}

// maxIDLen bounds any id given in a request.
const maxIDLen = 64

// checkIDs validates a list of ids given as param: at most max, none empty
// or over-long, and (when unique) no duplicates.
func checkIDs(param string, ids []string, max int, unique bool) error {
	if len(ids) > max {
		return quota.Errorf(quota.CodeExceedLength, "%s may hold at most %d ids; it holds %d.", param, max, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if err := checkID(param+"."+strconv.Itoa(i), id); err != nil {
			return err
		}
		if unique && seen[id] {
			return quota.Errorf(quota.CodeInvalidParameterValue, "%s holds %q more than once.", param, id)
		}
		seen[id] = true
	}
	return nil
}

// checkID validates one id given as param: 1-64 characters, no NUL (which
// PostgreSQL cannot store in text and no id holds).
func checkID(param, id string) error {
	if id == "" {
		return quota.Errorf(quota.CodeLessLength, "%s must not be empty.", param)
	}
	if n := utf8.RuneCountInString(id); n > maxIDLen {
		return quota.Errorf(quota.CodeExceedLength, "%s must be at most %d characters; it has %d.", param, maxIDLen, n)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return quota.Errorf(quota.CodeInvalidParameterValue, "%s must not contain NUL characters.", param)
	}
	return nil
}

// requiredID validates a required id parameter.
func requiredID(param string, id *string) (string, error) {
	if id == nil {
		return "", quota.Errorf(quota.CodeMissingParameter, "%s is required.", param)
	}
	return *id, checkID(param, *id)
}

// requiredIDs validates a required, non-empty list of ids.
func requiredIDs(param string, ids []string) error {
	if ids == nil {
		return quota.Errorf(quota.CodeMissingParameter, "%s is required.", param)
	}
	if len(ids) == 0 {
		return quota.Errorf(quota.CodeLessLength, "%s must hold at least one id.", param)
	}
	return checkIDs(param, ids, quota.MaxIDsPerRequest, true)
}

// locations resolves a location filter given as param: request order,
// duplicates once; an unknown or disabled id is notFound naming it.
func (s *Service) locations(param string, ids []string, notFound string, into []quota.Location, seen map[string]bool) ([]quota.Location, error) {
	if err := checkIDs(param, ids, quota.MaxIDsPerRequest, false); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		l, ok := s.Catalog.Lookup(id)
		if !ok {
			return nil, quota.Errorf(notFound, "%s: location %q does not exist or is not available.", param, id)
		}
		seen[id] = true
		into = append(into, l)
	}
	return into, nil
}

// DescribeRegions lists the catalogue as regions.
func (s *Service) DescribeRegions(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeRegionsRequest) (*vmapi.DescribeRegionsResponse, error) {
	locs, err := s.filter("regionIds", in.RegionIDs, quota.CodeRegionNotFound)
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
	locs, err := s.filter("zoneIds", in.ZoneIDs, quota.CodeZoneNotFound)
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

// filter resolves one location filter; empty means every enabled location.
func (s *Service) filter(param string, ids []string, notFound string) ([]quota.Location, error) {
	if len(ids) == 0 {
		return s.Catalog.Enabled(), nil
	}
	return s.locations(param, ids, notFound, nil, map[string]bool{})
}

// DescribeImageQuota answers, per location, the account's custom image count and limit.
func (s *Service) DescribeImageQuota(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeImageQuotaRequest) (*vmapi.DescribeImageQuotaResponse, error) {
	var locs []quota.Location
	var err error
	if len(in.RegionIDs) == 0 && len(in.ZoneIDs) == 0 {
		locs = s.Catalog.EnabledShared()
	} else {
		seen := map[string]bool{}
		if locs, err = s.locations("regionIds", in.RegionIDs, quota.CodeRegionNotFound, nil, seen); err != nil {
			return nil, err
		}
		if locs, err = s.locations("zoneIds", in.ZoneIDs, quota.CodeRegionNotFound, locs, seen); err != nil {
			return nil, err
		}
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
	instanceID, err := requiredID("instanceId", in.InstanceID)
	if err != nil {
		return nil, err
	}
	if in.ImageName == nil {
		return nil, quota.Errorf(quota.CodeMissingParameter, "imageName is required.")
	}
	if err := quota.CheckImageName("imageName", *in.ImageName); err != nil {
		return nil, err
	}
	if in.ImageDescription != nil {
		if err := quota.CheckImageDescription("imageDescription", *in.ImageDescription); err != nil {
			return nil, err
		}
	}
	token := ""
	if in.ClientToken != nil {
		token = *in.ClientToken
		if err := quota.CheckClientToken("clientToken", token); err != nil {
			return nil, err
		}
	}
	img, _, err := s.Store.CreateImage(ctx, quota.CreateImageInput{
		AccountID: c.AccountID, InstanceID: instanceID, Name: *in.ImageName, Description: in.ImageDescription,
		ClientToken: token, DefaultMax: s.DefaultMax, BuildTime: s.BuildTime, Now: s.now(), Actor: c.AuditActor(),
		CheckInstance: func(inst quota.Instance) error {
			if _, ok := s.Catalog.Lookup(inst.LocationID); !ok {
				return quota.Errorf(quota.CodeRegionNotFound, "The location %q of instanceId %q is not available.", inst.LocationID, inst.ID)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &vmapi.CreateImageResponse{ImageID: img.ID, ImageName: img.Name}, nil
}

// Page limits of DescribeImages.
const (
	defaultPageSize = 20
	maxPageSize     = 1000
)

// optionalEnum validates an optional enumerated value, returning it canonicalised.
func optionalEnum(param string, v *string, allowed ...string) (string, error) {
	if v == nil || *v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if strings.EqualFold(*v, a) {
			return a, nil
		}
	}
	return "", quota.Errorf(quota.CodeInvalidParameterValue, "%s %q is not one of %s.", param, truncate(*v), strings.Join(allowed, ", "))
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		return string([]rune(s)[:64]) + "…"
	}
	return s
}

// imageFilter is a validated DescribeImages request.
type imageFilter struct {
	ids                       map[string]bool
	name, category            string
	location                  string
	imageType, osType, status string
	pageNum, pageSize         int
}

func (s *Service) parseImageFilter(in *vmapi.DescribeImagesRequest) (imageFilter, error) {
	f := imageFilter{pageNum: 1, pageSize: defaultPageSize}
	if err := checkIDs("imageIds", in.ImageIDs, quota.MaxIDsPerRequest, false); err != nil {
		return f, err
	}
	if len(in.ImageIDs) > 0 {
		f.ids = map[string]bool{}
		for _, id := range in.ImageIDs {
			f.ids[id] = true
		}
	}
	for _, p := range []struct {
		param    string
		v        *string
		notFound string
	}{{"zoneId", in.ZoneID, quota.CodeZoneNotFound}, {"regionId", in.RegionID, quota.CodeRegionNotFound}} {
		if p.v == nil || *p.v == "" {
			continue
		}
		if err := checkID(p.param, *p.v); err != nil {
			return f, err
		}
		if _, ok := s.Catalog.Lookup(*p.v); !ok {
			return f, quota.Errorf(p.notFound, "%s %q does not exist or is not available.", p.param, truncate(*p.v))
		}
		if f.location != "" && f.location != *p.v {
			return f, quota.Errorf(quota.CodeInvalidParameterValue, "zoneId %q and regionId %q name different locations.", *in.ZoneID, *in.RegionID)
		}
		f.location = *p.v
	}
	var err error
	if f.imageType, err = optionalEnum("imageType", in.ImageType, quota.ImageTypePublic, quota.ImageTypeCustom); err != nil {
		return f, err
	}
	if f.osType, err = optionalEnum("osType", in.OSType, "linux", "windows"); err != nil {
		return f, err
	}
	if f.status, err = optionalEnum("imageStatus", in.ImageStatus, quota.StatusCreating, quota.StatusAvailable, quota.StatusUnavailable); err != nil {
		return f, err
	}
	if in.ImageName != nil {
		if utf8.RuneCountInString(*in.ImageName) > 255 {
			return f, quota.Errorf(quota.CodeExceedLength, "imageName must be at most 255 characters.")
		}
		f.name = strings.ToLower(*in.ImageName)
	}
	if in.Category != nil {
		if utf8.RuneCountInString(*in.Category) > 64 {
			return f, quota.Errorf(quota.CodeExceedLength, "category must be at most 64 characters.")
		}
		f.category = *in.Category
	}
	if in.PageNum != nil {
		if *in.PageNum < 1 {
			return f, quota.Errorf(quota.CodeLessMinimum, "pageNum must be at least 1; it is %d.", *in.PageNum)
		}
		if *in.PageNum > 1_000_000 {
			return f, quota.Errorf(quota.CodeExceedMaximum, "pageNum must be at most 1000000; it is %d.", *in.PageNum)
		}
		f.pageNum = *in.PageNum
	}
	if in.PageSize != nil {
		if *in.PageSize < 1 {
			return f, quota.Errorf(quota.CodeLessMinimum, "pageSize must be at least 1; it is %d.", *in.PageSize)
		}
		if *in.PageSize > maxPageSize {
			return f, quota.Errorf(quota.CodeExceedMaximum, "pageSize must be at most %d; it is %d.", maxPageSize, *in.PageSize)
		}
		f.pageSize = *in.PageSize
	}
	return f, nil
}

func (f imageFilter) match(im quota.Image, now time.Time) bool {
	return (f.ids == nil || f.ids[im.ID]) &&
		(f.name == "" || strings.Contains(strings.ToLower(im.Name), f.name)) &&
		(f.category == "" || strings.EqualFold(im.Category, f.category)) &&
		(f.imageType == "" || im.Type == f.imageType) &&
		(f.osType == "" || im.OSType == f.osType) &&
		(f.status == "" || im.Status(now) == f.status)
}

// DescribeImages lists the account's custom images (oldest first), then the
// public images, filtered and paged.
func (s *Service) DescribeImages(ctx context.Context, c *zcapi.Call, in *vmapi.DescribeImagesRequest) (*vmapi.DescribeImagesResponse, error) {
	f, err := s.parseImageFilter(in)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var all []quota.Image
	if f.imageType != quota.ImageTypePublic {
		var ids []string
		for id := range f.ids {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		custom, err := s.Store.ListImages(ctx, c.AccountID, ids, f.location)
		if err != nil {
			return nil, err
		}
		all = append(all, custom...)
	}
	if f.imageType != quota.ImageTypeCustom {
		locs := s.Catalog.Enabled()
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
	id, err := requiredID("imageId", in.ImageID)
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
	for _, l := range s.Catalog.Enabled() {
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
func (s *Service) ModifyImagesAttributes(ctx context.Context, c *zcapi.Call, in *vmapi.ModifyImagesAttributesRequest) (*vmapi.Empty, error) {
	if err := requiredIDs("imageIds", in.ImageIDs); err != nil {
		return nil, err
	}
	if in.ImageName == nil && in.ImageDescription == nil {
		return nil, quota.Errorf(quota.CodeMissingParameter, "imageName or imageDescription is required.")
	}
	if in.ImageName != nil {
		if err := quota.CheckImageName("imageName", *in.ImageName); err != nil {
			return nil, err
		}
	}
	if in.ImageDescription != nil {
		if err := quota.CheckImageDescription("imageDescription", *in.ImageDescription); err != nil {
			return nil, err
		}
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
	if err := requiredIDs("imageIds", in.ImageIDs); err != nil {
		return nil, err
	}
	err := s.Store.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: c.AccountID, IDs: in.ImageIDs, Now: s.now(), Actor: c.AuditActor()})
	if err != nil {
		return nil, err
	}
	return &vmapi.Empty{}, nil
}
