package sdkgo

import (
	"fmt"
	"slices"
	"testing"

	vm "github.com/zenlayer/zenlayercloud-sdk-go/zenlayercloud/vm20260401"
)

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func client2026(t *testing.T, s *server, tn tenant) *vm.Client {
	t.Helper()
	c, err := vm.NewClient(s.config(), tn.keyID, tn.secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// quota2026 is DescribeImageQuota's answer as zone → [count, maxCount], and
// the zones in the order the server gave them.
func quota2026(t *testing.T, c *vm.Client, zones ...string) (map[string][2]int, []string) {
	t.Helper()
	req := vm.NewDescribeImageQuotaRequest()
	req.ZoneIds = zones
	resp, err := c.DescribeImageQuota(req)
	if err != nil {
		t.Fatalf("DescribeImageQuota %v: %v", zones, err)
	}
	got := map[string][2]int{}
	var order []string
	for _, q := range resp.Response.Images {
		z := deref(q.ZoneId)
		got[z] = [2]int{deref(q.Count), deref(q.MaxCount)}
		order = append(order, z)
	}
	if deref(resp.Response.RequestId) == "" || deref(resp.RequestId) != deref(resp.Response.RequestId) {
		t.Errorf("request ids %q and %q; want the same T… twice", deref(resp.RequestId), deref(resp.Response.RequestId))
	}
	return got, order
}

func TestV20260401DescribeImageQuota(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	zones := s.zones(t)
	tn := s.newTenant(t, "quota-2026")
	c := client2026(t, s, tn)

	t.Run("all", func(t *testing.T) {
		got, order := quota2026(t, c)
		if !slices.Equal(order, slices.Sorted(slices.Values(zones))) {
			t.Errorf("zones %v; want every enabled zone, ascending: %v", order, slices.Sorted(slices.Values(zones)))
		}
		for z, cm := range got {
			if cm != [2]int{0, 5} {
				t.Errorf("%s: count, maxCount %v; want [0 5]", z, cm)
			}
		}
	})
	t.Run("filtered, in the request's order", func(t *testing.T) {
		want := []string{zones[2], zones[0]}
		_, order := quota2026(t, c, want...)
		if !slices.Equal(order, want) {
			t.Errorf("zones %v; want %v", order, want)
		}
	})
	t.Run("unknown zone", func(t *testing.T) {
		req := vm.NewDescribeImageQuotaRequest()
		req.ZoneIds = []string{zones[0], "xx-nowhere-9z"}
		_, err := c.DescribeImageQuota(req)
		wantCode(t, err, "INVALID_REGION_NOT_FOUND", "xx-nowhere-9z")
	})
}

func TestV20260401DescribeZones(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	zones := s.zones(t)
	c := client2026(t, s, s.newTenant(t, "zones-2026"))

	resp, err := c.DescribeZones(vm.NewDescribeZonesRequest())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, z := range resp.Response.ZoneSet {
		got = append(got, deref(z.ZoneId))
		if deref(z.ZoneName) == "" {
			t.Errorf("zone %s has no name", deref(z.ZoneId))
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(zones))) {
		t.Errorf("DescribeZones lists %v; want the catalogue's %v", got, zones)
	}

	req := vm.NewDescribeZonesRequest()
	req.ZoneIds = []string{zones[1]}
	resp, err = c.DescribeZones(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Response.ZoneSet) != 1 || deref(resp.Response.ZoneSet[0].ZoneId) != zones[1] {
		t.Errorf("DescribeZones %s answered %d zones", zones[1], len(resp.Response.ZoneSet))
	}

	req.ZoneIds = []string{"xx-nowhere-9z"}
	_, err = c.DescribeZones(req)
	wantCode(t, err, "INVALID_ZONE_NOT_FOUND", "xx-nowhere-9z")
}

// TestV20260401Images walks the image calls that move the count: create,
// list with filters and pages, rename, delete, and the limit of 5.
func TestV20260401Images(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	zones := s.zones(t)
	a, b := zones[0], zones[1]
	tn := s.newTenant(t, "images-2026", a, b)
	c := client2026(t, s, tn)

	create := func(zone, name string) string {
		t.Helper()
		req := vm.NewCreateImageRequest()
		req.InstanceId = ptr(tn.instances[zone])
		req.ImageName = ptr(name)
		req.ImageDescription = ptr("made by the Go SDK")
		resp, err := c.CreateImage(req)
		if err != nil {
			t.Fatalf("CreateImage %s in %s: %v", name, zone, err)
		}
		id := deref(resp.Response.ImageId)
		if len(id) < 5 || id[:4] != "img-" {
			t.Fatalf("CreateImage answered image id %q", id)
		}
		return id
	}
	list := func(set func(r *vm.DescribeImagesRequest)) (int, []*vm.ImageInfo) {
		t.Helper()
		req := vm.NewDescribeImagesRequest()
		req.ImageType = ptr("CUSTOM_IMAGE")
		set(req)
		resp, err := c.DescribeImages(req)
		if err != nil {
			t.Fatalf("DescribeImages: %v", err)
		}
		return deref(resp.Response.TotalCount), resp.Response.DataSet
	}

	a1, a2, b1 := create(a, "web-a1"), create(a, "web-a2"), create(b, "db-b1")

	if n, set := list(func(*vm.DescribeImagesRequest) {}); n != 3 || len(set) != 3 {
		t.Errorf("custom images: totalCount %d, %d listed; want 3", n, len(set))
	}
	if n, set := list(func(r *vm.DescribeImagesRequest) { r.ZoneId = ptr(a) }); n != 2 || len(set) != 2 {
		t.Errorf("custom images in %s: totalCount %d, %d listed; want 2", a, n, len(set))
	}
	n, set := list(func(r *vm.DescribeImagesRequest) { r.ImageName = ptr("db-b1") })
	if n != 1 || len(set) != 1 || deref(set[0].ImageId) != b1 {
		t.Fatalf("images named db-b1: totalCount %d, %d listed; want %s", n, len(set), b1)
	}
	img := set[0]
	if deref(img.ImageStatus) != "AVAILABLE" || deref(img.ImageType) != "CUSTOM_IMAGE" || deref(img.ImageSize) == "" ||
		deref(img.ImageDescription) != "made by the Go SDK" || deref(img.OsType) == "" {
		t.Errorf("image %s: status %q type %q size %q description %q osType %q", b1, deref(img.ImageStatus), deref(img.ImageType),
			deref(img.ImageSize), deref(img.ImageDescription), deref(img.OsType))
	}

	// Two pages of two: three images in all, none twice.
	seen := map[string]bool{}
	for page := 1; page <= 2; page++ {
		n, set := list(func(r *vm.DescribeImagesRequest) { r.PageSize, r.PageNum = ptr(2), ptr(page) })
		if want := 3 - 2*(page-1); n != 3 || len(set) != min(2, want) {
			t.Errorf("page %d of 2: totalCount %d, %d listed", page, n, len(set))
		}
		for _, i := range set {
			if seen[deref(i.ImageId)] {
				t.Errorf("image %s is on two pages", deref(i.ImageId))
			}
			seen[deref(i.ImageId)] = true
		}
	}
	if len(seen) != 3 || !seen[a1] || !seen[a2] || !seen[b1] {
		t.Errorf("the pages list %v; want %s, %s and %s", seen, a1, a2, b1)
	}

	req := vm.NewDescribeImagesRequest()
	req.PageSize = ptr(1001)
	_, err := c.DescribeImages(req)
	wantCode(t, err, "INVALID_PARAMETER_EXCEED_MAXIMUM", "pageSize")

	mod := vm.NewModifyImagesAttributesRequest()
	mod.ImageIds = []string{a2}
	mod.ImageName = ptr("web-a2-renamed")
	mod.ImageDescription = ptr("renamed")
	if _, err := c.ModifyImagesAttributes(mod); err != nil {
		t.Fatalf("ModifyImagesAttributes: %v", err)
	}
	n, set = list(func(r *vm.DescribeImagesRequest) { r.ImageIds = []string{a2} })
	if n != 1 || deref(set[0].ImageName) != "web-a2-renamed" || deref(set[0].ImageDescription) != "renamed" {
		t.Errorf("after ModifyImagesAttributes: %d images, name %q", n, deref(set[0].ImageName))
	}
	mod.ImageIds = []string{"img-doesnotexist"}
	_, err = c.ModifyImagesAttributes(mod)
	wantCode(t, err, "INVALID_IMAGE_NOT_FOUND", "img-doesnotexist")

	if q, _ := quota2026(t, c, a, b); q[a] != [2]int{2, 5} || q[b] != [2]int{1, 5} {
		t.Errorf("quota %v; want %s [2 5] and %s [1 5]", q, a, b)
	}

	// Deleting a missing image alongside a real one deletes nothing.
	del := vm.NewDeleteImagesRequest()
	del.ImageIds = []string{a1, "img-doesnotexist"}
	_, err = c.DeleteImages(del)
	wantCode(t, err, "INVALID_IMAGE_NOT_FOUND", "img-doesnotexist")
	del.ImageIds = []string{a1}
	if _, err := c.DeleteImages(del); err != nil {
		t.Fatalf("DeleteImages %s: %v", a1, err)
	}
	if q, _ := quota2026(t, c, a); q[a] != [2]int{1, 5} {
		t.Errorf("quota after deleting one image in %s: %v; want [1 5]", a, q[a])
	}

	// Fill zone a to its limit of 5; the sixth is refused and changes nothing.
	for i := 2; i <= 5; i++ {
		create(a, fmt.Sprintf("fill-%d", i))
	}
	req2 := vm.NewCreateImageRequest()
	req2.InstanceId = ptr(tn.instances[a])
	req2.ImageName = ptr("one-too-many")
	_, err = c.CreateImage(req2)
	wantCode(t, err, "LIMIT_EXCEEDED_IMAGE_QUOTA", a)
	if q, _ := quota2026(t, c, a, b); q[a] != [2]int{5, 5} || q[b] != [2]int{1, 5} {
		t.Errorf("quota after the refusal %v; want %s [5 5] and %s [1 5]", q, a, b)
	}

	req2.InstanceId = ptr("ins-doesnotexist")
	_, err = c.CreateImage(req2)
	wantCode(t, err, "INVALID_INSTANCE_NOT_FOUND", "ins-doesnotexist")
}
