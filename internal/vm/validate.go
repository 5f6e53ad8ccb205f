package vm

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/vmapi"
)

// This file is where every request of the service is checked: one function
// per action turns the decoded request into what the action works with, or
// into the first error in the order the parameters are listed here.

// validateDescribeRegions resolves DescribeRegions' filter.
func (s *Service) validateDescribeRegions(in *vmapi.DescribeRegionsRequest) ([]quota.Location, error) {
	return s.Catalog.Resolve(quota.CodeRegionNotFound, quota.LocationFilter{Param: "regionIds", IDs: in.RegionIDs})
}

// validateDescribeZones resolves DescribeZones' filter.
func (s *Service) validateDescribeZones(in *vmapi.DescribeZonesRequest) ([]quota.Location, error) {
	return s.Catalog.Resolve(quota.CodeZoneNotFound, quota.LocationFilter{Param: "zoneIds", IDs: in.ZoneIDs})
}

// validateDescribeImageQuota resolves the union of DescribeImageQuota's two filters.
// Both name locations as regions do, so an unknown id in either is
// INVALID_REGION_NOT_FOUND.
func (s *Service) validateDescribeImageQuota(in *vmapi.DescribeImageQuotaRequest) ([]quota.Location, error) {
	return s.Catalog.Resolve(quota.CodeRegionNotFound,
		quota.LocationFilter{Param: "regionIds", IDs: in.RegionIDs},
		quota.LocationFilter{Param: "zoneIds", IDs: in.ZoneIDs})
}

// createImage is a valid CreateImage request.
type createImage struct {
	instanceID  string
	name        string
	description *string
	clientToken string
}

func validateCreateImage(in *vmapi.CreateImageRequest) (createImage, error) {
	var v createImage
	var err error
	if v.instanceID, err = requiredID("instanceId", in.InstanceID); err != nil {
		return v, err
	}
	if in.ImageName == nil {
		return v, quota.Errorf(quota.CodeMissingParameter, "imageName is required.")
	}
	if err := quota.CheckImageName("imageName", *in.ImageName); err != nil {
		return v, err
	}
	v.name = *in.ImageName
	if in.ImageDescription != nil {
		if err := quota.CheckImageDescription("imageDescription", *in.ImageDescription); err != nil {
			return v, err
		}
		v.description = in.ImageDescription
	}
	v.clientToken, err = optionalClientToken(in.ClientToken)
	return v, err
}

// optionalClientToken validates an idempotency token that may be absent ("" then).
func optionalClientToken(t *string) (string, error) {
	if t == nil {
		return "", nil
	}
	return *t, quota.CheckClientToken("clientToken", *t)
}

// Page limits of DescribeImages.
const (
	defaultPageSize = 20
	maxPageSize     = 1000
	maxPageNum      = 1_000_000
)

// imageFilter is a valid DescribeImages request.
type imageFilter struct {
	ids                       []string // ascending, each once; nil for any image
	name                      string   // lower case; a substring of the image's name
	category                  string
	location                  string
	imageType, osType, status string
	pageNum, pageSize         int
}

func (s *Service) validateDescribeImages(in *vmapi.DescribeImagesRequest) (imageFilter, error) {
	var f imageFilter
	if err := quota.CheckIDs("imageIds", in.ImageIDs); err != nil {
		return f, err
	}
	if len(in.ImageIDs) > 0 {
		f.ids = append([]string(nil), in.ImageIDs...)
		sort.Strings(f.ids)
		f.ids = compact(f.ids)
	}
	for _, p := range []struct {
		param    string
		v        *string
		notFound string
	}{{"zoneId", in.ZoneID, quota.CodeZoneNotFound}, {"regionId", in.RegionID, quota.CodeRegionNotFound}} {
		if p.v == nil || *p.v == "" {
			continue
		}
		if err := quota.CheckID(p.param, *p.v); err != nil {
			return f, err
		}
		if _, ok := s.Catalog.Lookup(*p.v); !ok {
			return f, quota.Errorf(p.notFound, "%s %q does not exist or is not available.", p.param, *p.v)
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
	f.pageNum, f.pageSize, err = validatePage(in.PageNum, in.PageSize)
	return f, err
}

// validatePage checks the paging of a listing, returning the page number
// and size, or their defaults when absent.
func validatePage(pageNum, pageSize *int) (num, size int, err error) {
	num, size = 1, defaultPageSize
	if pageNum != nil {
		if *pageNum < 1 {
			return num, size, quota.Errorf(quota.CodeLessMinimum, "pageNum must be at least 1; it is %d.", *pageNum)
		}
		if *pageNum > maxPageNum {
			return num, size, quota.Errorf(quota.CodeExceedMaximum, "pageNum must be at most %d; it is %d.", maxPageNum, *pageNum)
		}
		num = *pageNum
	}
	if pageSize != nil {
		if *pageSize < 1 {
			return num, size, quota.Errorf(quota.CodeLessMinimum, "pageSize must be at least 1; it is %d.", *pageSize)
		}
		if *pageSize > maxPageSize {
			return num, size, quota.Errorf(quota.CodeExceedMaximum, "pageSize must be at most %d; it is %d.", maxPageSize, *pageSize)
		}
		size = *pageSize
	}
	return num, size, nil
}

// compact drops repeats from a sorted list.
func compact(ids []string) []string {
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

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
	return "", quota.Errorf(quota.CodeInvalidParameterValue, "%s %q is not one of %s.", param, quota.Truncate(*v, 64), strings.Join(allowed, ", "))
}

func validateDescribeImage(in *vmapi.DescribeImageRequest) (string, error) {
	return requiredID("imageId", in.ImageID)
}

func validateModifyImagesAttributes(in *vmapi.ModifyImagesAttributesRequest) error {
	if err := requiredIDs("imageIds", in.ImageIDs); err != nil {
		return err
	}
	if in.ImageName != nil {
		if err := quota.CheckImageName("imageName", *in.ImageName); err != nil {
			return err
		}
	}
	if in.ImageDescription != nil {
		if err := quota.CheckImageDescription("imageDescription", *in.ImageDescription); err != nil {
			return err
		}
	}
	return nil
}

func validateDeleteImages(in *vmapi.DeleteImagesRequest) error {
	return requiredIDs("imageIds", in.ImageIDs)
}

// requiredID validates a required id parameter.
func requiredID(param string, id *string) (string, error) {
	if id == nil {
		return "", quota.Errorf(quota.CodeMissingParameter, "%s is required.", param)
	}
	return *id, quota.CheckID(param, *id)
}

// requiredIDs validates a required, non-empty list of distinct ids.
func requiredIDs(param string, ids []string) error {
	if ids == nil {
		return quota.Errorf(quota.CodeMissingParameter, "%s is required.", param)
	}
	if len(ids) == 0 {
		return quota.Errorf(quota.CodeLessLength, "%s must hold at least one id.", param)
	}
	return quota.CheckDistinctIDs(param, ids)
}
