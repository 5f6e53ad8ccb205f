package sdkgo

import (
	"fmt"
	"slices"
	"testing"

	vm "github.com/zenlayer/zenlayercloud-sdk-go/zenlayercloud/vm20230313"
)

func client2023(t *testing.T, s *server, tn tenant) *vm.Client {
	t.Helper()
	c, err := vm.NewClient(s.config(), tn.keyID, tn.secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func quota2023(t *testing.T, c *vm.Client, zones ...string) (map[string][2]int, []string) {
	t.Helper()
	req := vm.NewDescribeImageQuotaRequest()
	for _, z := range zones {
		req.ZoneIds = append(req.ZoneIds, ptr(z))
	}
	resp, err := c.DescribeImageQuota(req)
	if err != nil {
		t.Fatalf("DescribeImageQuota %v: %v", zones, err)
	}
	got := map[string][2]int{}
	var order []string
	for _, q := range resp.Response.Images {
		got[q.ZoneId] = [2]int{q.Count, q.MaxCount}
		order = append(order, q.ZoneId)
	}
	return got, order
}

func TestV20230313DescribeImageQuota(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	zones := s.zones(t)
	c := client2023(t, s, s.newTenant(t, "quota-2023"))

	got, order := quota2023(t, c)
	if !slices.Equal(order, slices.Sorted(slices.Values(zones))) {
		t.Errorf("zones %v; want every enabled zone, ascending", order)
	}
	for z, cm := range got {
		if cm != [2]int{0, 5} {
			t.Errorf("%s: count, maxCount %v; want [0 5]", z, cm)
		}
	}
	want := []string{zones[1], zones[0]}
	if _, order := quota2023(t, c, want...); !slices.Equal(order, want) {
		t.Errorf("filtered: zones %v; want %v", order, want)
	}
	req := vm.NewDescribeImageQuotaRequest()
	req.ZoneIds = []*string{ptr("xx-nowhere-9z")}
	_, err := c.DescribeImageQuota(req)
	wantCode(t, err, "INVALID_REGION_NOT_FOUND", "xx-nowhere-9z")

	zr := vm.NewDescribeZonesRequest()
	zr.ZoneIds = []string{zones[2]}
	zresp, err := c.DescribeZones(zr)
	if err != nil {
		t.Fatal(err)
	}
	if len(zresp.Response.ZoneSet) != 1 || zresp.Response.ZoneSet[0].ZoneId != zones[2] || zresp.Response.ZoneSet[0].ZoneName == "" {
		t.Errorf("DescribeZones %s: %+v", zones[2], zresp.Response.ZoneSet)
	}
	zr.ZoneIds = []string{"xx-nowhere-9z"}
	_, err = c.DescribeZones(zr)
	wantCode(t, err, "INVALID_ZONE_NOT_FOUND", "xx-nowhere-9z")
}

// TestV20230313Images is the image walk with the older API version, which
// also has DescribeImage (what the Terraform provider reads an image with).
func TestV20230313Images(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	zones := s.zones(t)
	a, b := zones[0], zones[1]
	tn := s.newTenant(t, "images-2023", a, b)
	c := client2023(t, s, tn)

	create := func(zone, name string) string {
		t.Helper()
		req := vm.NewCreateImageRequest()
		req.InstanceId = tn.instances[zone]
		req.ImageName = name
		req.ImageDescription = "made by the Go SDK"
		resp, err := c.CreateImages(req)
		if err != nil {
			t.Fatalf("CreateImage %s in %s: %v", name, zone, err)
		}
		if resp.Response.ImageId == "" {
			t.Fatal("CreateImage answered no image id")
		}
		return resp.Response.ImageId
	}
	a1, b1 := create(a, "web-a1"), create(b, "db-b1")

	req := vm.NewDescribeImagesRequest()
	req.ImageType = "CUSTOM_IMAGE"
	req.ZoneId = b
	resp, err := c.DescribeImages(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Response.TotalCount != 1 || len(resp.Response.DataSet) != 1 || resp.Response.DataSet[0].ImageId != b1 {
		t.Errorf("custom images in %s: %d, %+v; want only %s", b, resp.Response.TotalCount, resp.Response.DataSet, b1)
	}
	req = vm.NewDescribeImagesRequest()
	req.ImageType = "CUSTOM_IMAGE"
	req.PageSize, req.PageNum = 1, 2
	resp, err = c.DescribeImages(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Response.TotalCount != 2 || len(resp.Response.DataSet) != 1 {
		t.Errorf("page 2 of 1: totalCount %d, %d listed; want 2 and 1", resp.Response.TotalCount, len(resp.Response.DataSet))
	}

	one := vm.NewDescribeImageRequest()
	one.ImageId = a1
	got, err := c.DescribeImage(one)
	if err != nil {
		t.Fatal(err)
	}
	if got.Response == nil || got.Response.ImageId != a1 || got.Response.ImageName != "web-a1" || got.Response.ImageStatus != "AVAILABLE" ||
		got.Response.ImageSize == "" {
		t.Errorf("DescribeImage %s: %+v", a1, got.Response)
	}

	mod := vm.NewModifyImagesAttributesRequest()
	mod.ImageIds = []string{a1}
	mod.ImageName = "web-a1-v2"
	if _, err := c.ModifyImagesAttributes(mod); err != nil {
		t.Fatal(err)
	}
	got, err = c.DescribeImage(one)
	if err != nil || got.Response == nil || got.Response.ImageName != "web-a1-v2" {
		t.Errorf("after ModifyImagesAttributes: %+v, %v", got, err)
	}

	del := vm.NewDeleteImagesRequest()
	del.ImageIds = []string{a1}
	if _, err := c.DeleteImages(del); err != nil {
		t.Fatal(err)
	}
	// A deleted image is "gone": HTTP 200 with a null response, which the
	// SDK hands back as a nil Response.
	got, err = c.DescribeImage(one)
	if err != nil || got.Response != nil {
		t.Errorf("DescribeImage of a deleted image: %+v, %v; want a nil response and no error", got.Response, err)
	}
	del.ImageIds = []string{"img-doesnotexist"}
	_, err = c.DeleteImages(del)
	wantCode(t, err, "INVALID_IMAGE_NOT_FOUND", "img-doesnotexist")

	for i := 1; i <= 5; i++ {
		create(a, fmt.Sprintf("fill-%d", i))
	}
	over := vm.NewCreateImageRequest()
	over.InstanceId = tn.instances[a]
	over.ImageName = "one-too-many"
	_, err = c.CreateImages(over)
	wantCode(t, err, "LIMIT_EXCEEDED_IMAGE_QUOTA", a)
	if q, _ := quota2023(t, c, a, b); q[a] != [2]int{5, 5} || q[b] != [2]int{1, 5} {
		t.Errorf("quota %v; want %s [5 5] and %s [1 5]", q, a, b)
	}
}
