package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

// isoMadeUp returns an id of the same shape as the store's (prefix + 16 hex
// digits) that names nothing.
func isoMadeUp(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// isoAnswer is an answer reduced to what must not depend on whose id was
// asked about: status, code, and the message or response with the id masked.
type isoAnswer struct {
	Status   int
	Code     string
	Message  string
	Response string
}

func isoReduce(t *testing.T, r reply, ids ...string) isoAnswer {
	t.Helper()
	mask := func(s string) string {
		for _, id := range ids {
			s = strings.ReplaceAll(s, id, "<id>")
		}
		return s
	}
	a := isoAnswer{Status: r.status, Code: r.code(), Message: mask(r.message())}
	if raw := r.fields["response"]; raw != nil {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		if m, ok := v.(map[string]any); ok {
			delete(m, "requestId")
		}
		b, _ := json.Marshal(v)
		a.Response = mask(string(b))
	}
	return a
}

// isoState is everything of an account another account must not change.
type isoState struct {
	Quota     *vmapi.DescribeImageQuotaResponse
	Images    []vmapi.ImageInfo
	Instances []quota.Instance
	Audit     []quota.AuditRecord
}

func isoSnapshot(t *testing.T, e *env, a testkit.Account) isoState {
	t.Helper()
	ctx := context.Background()
	q, err := a.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{})
	if err != nil {
		t.Fatalf("DescribeImageQuota: %v", err)
	}
	imgs, err := a.Client.DescribeImages(ctx, &vmapi.DescribeImagesRequest{
		ImageType: client.String(quota.ImageTypeCustom), PageSize: client.Int(1000),
	})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	insts, err := e.srv.DB.ListInstances(ctx, a.ID)
	if err != nil {
		t.Fatalf("ListInstances: %v", err)
	}
	audit, err := e.srv.DB.ListAudit(ctx, quota.AuditFilter{AccountID: a.ID})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	return isoState{Quota: q, Images: imgs.DataSet, Instances: insts, Audit: audit}
}

// TestIsolation has a second account try every action on the first account's
// image ids, instance id, clientToken and locations, with an access key and
// with a bearer token, and checks that each answer is exactly the answer for a
// made-up id of the same shape (status, code, message and response, with the
// id masked), and that the first account's state — quota, images with their
// names and descriptions, instances and audit trail — is unchanged afterwards.
func TestIsolation(t *testing.T) {
	parallel(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			parallelSub(t)
			clock := testkit.NewClock(fixedNow)
			o := testkit.Options{Now: clock.Now, BuildTime: time.Hour}
			if engine == "postgres" {
				o.DBURL = pgtest.NewSchema(t)
			}
			runIsolation(t, setup(t, o), clock)
		})
	}
}

func runIsolation(t *testing.T, e *env, clock *testkit.Clock) {
	ctx := context.Background()
	const (
		loc   = "jp-tokyo-1a"     // where the first account has images
		empty = "sg-singapore-1a" // where nobody has images
		mine  = "de-frankfurt-9a" // where the second account has one
	)
	owner := e.acct
	intruder := e.newAccount()

	// The first account: two AVAILABLE images and one CREATING image (made
	// with a clientToken) in Tokyo, a spare instance there, and a limit of its
	// own there.
	ownerImage := func(name, desc, token string) string {
		t.Helper()
		inst := e.srv.NewInstance(t, owner.ID, loc)
		in := &vmapi.CreateImageRequest{InstanceID: client.String(inst.ID), ImageName: client.String(name), ImageDescription: client.String(desc)}
		if token != "" {
			in.ClientToken = client.String(token)
		}
		out, err := owner.Client.CreateImage(ctx, in)
		if err != nil {
			t.Fatalf("CreateImage: %v", err)
		}
		return out.ImageID
	}
	a0 := ownerImage("owner-secret-0", "private description 0", "")
	a1 := ownerImage("owner-secret-1", "private description 1", "")
	clock.Advance(2 * time.Hour)
	e.now = clock.Now()
	const ownerToken = "owner-token-0001"
	a2 := ownerImage("owner-secret-2", "private description 2", ownerToken)
	spare := e.srv.NewInstance(t, owner.ID, loc)
	if _, err := e.srv.DB.SetLimit(ctx, quota.LimitOverride{AccountID: owner.ID, LocationID: loc, MaxCount: 9}, quota.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	ownImgs, err := owner.Client.DescribeImages(ctx, &vmapi.DescribeImagesRequest{ImageIDs: []string{a0, a1, a2}})
	if err != nil || ownImgs.TotalCount != 3 || ownImgs.DataSet[2].ImageStatus != quota.StatusCreating {
		t.Fatalf("the owner's images: %+v, %v; want three, the last CREATING", ownImgs, err)
	}

	// The second account: one image of its own elsewhere, and a bearer token.
	theirInst := e.srv.NewInstance(t, intruder.ID, mine)
	theirs, err := intruder.Client.CreateImage(ctx, &vmapi.CreateImageRequest{InstanceID: client.String(theirInst.ID), ImageName: client.String("their-image")})
	if err != nil {
		t.Fatal(err)
	}
	b0 := theirs.ImageID
	token, _, err := e.srv.DB.CreateToken(ctx, intruder.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	before := isoSnapshot(t, e, owner)
	theirsBefore := isoSnapshot(t, e, intruder)

	fakeImg := func() string { return isoMadeUp(t, "img-") }
	fakeIns := isoMadeUp(t, "ins-")
	f0, f1, f2 := fakeImg(), fakeImg(), fakeImg()
	ids := func(v ...string) string { return jids(v...) }

	// probe is one request asked about the first account's things (real)
	// and about made-up things of the same shape (fake); masked are the ids
	// in which the two differ.
	type probe struct {
		name, action string
		real, fake   string
		masked       []string
	}
	probes := []probe{
		{"CreateImage from the owner's instance", "CreateImage",
			`{"instanceId":"` + spare.ID + `","imageName":"stolen"}`, `{"instanceId":"` + fakeIns + `","imageName":"stolen"}`,
			[]string{spare.ID, fakeIns}},
		{"CreateImage from the owner's instance with the owner's clientToken", "CreateImage",
			`{"instanceId":"` + spare.ID + `","imageName":"stolen","clientToken":"` + ownerToken + `"}`,
			`{"instanceId":"` + fakeIns + `","imageName":"stolen","clientToken":"` + ownerToken + `"}`,
			[]string{spare.ID, fakeIns}},
		{"CreateImage from the instance of an owner's image", "CreateImage",
			`{"instanceId":"` + ownImgInstance(t, e, owner, a0) + `","imageName":"stolen"}`, `{"instanceId":"` + fakeIns + `","imageName":"stolen"}`,
			[]string{ownImgInstance(t, e, owner, a0), fakeIns}},
		{"DescribeImages by one id", "DescribeImages", `{"imageIds":` + ids(a0) + `}`, `{"imageIds":` + ids(f0) + `}`, []string{a0, f0}},
		{"DescribeImages by every id", "DescribeImages", `{"imageIds":` + ids(a0, a1, a2) + `}`, `{"imageIds":` + ids(f0, f1, f2) + `}`, []string{a0, a1, a2, f0, f1, f2}},
		{"DescribeImages by id in the location", "DescribeImages",
			`{"imageIds":` + ids(a0) + `,"zoneId":"` + loc + `","imageType":"CUSTOM_IMAGE"}`,
			`{"imageIds":` + ids(f0) + `,"zoneId":"` + loc + `","imageType":"CUSTOM_IMAGE"}`, []string{a0, f0}},
		{"DescribeImages by id and state", "DescribeImages",
			`{"imageIds":` + ids(a2) + `,"imageStatus":"CREATING"}`, `{"imageIds":` + ids(f2) + `,"imageStatus":"CREATING"}`, []string{a2, f2}},
		{"DescribeImages of the location", "DescribeImages",
			`{"zoneId":"` + loc + `","imageType":"CUSTOM_IMAGE"}`, `{"zoneId":"` + empty + `","imageType":"CUSTOM_IMAGE"}`, []string{loc, empty}},
		{"DescribeImages of the region", "DescribeImages",
			`{"regionId":"` + loc + `","imageType":"CUSTOM_IMAGE"}`, `{"regionId":"` + empty + `","imageType":"CUSTOM_IMAGE"}`, []string{loc, empty}},
		{"DescribeImages by the owner's image name", "DescribeImages",
			`{"imageName":"owner-secret","imageType":"CUSTOM_IMAGE"}`, `{"imageName":"nobody-named","imageType":"CUSTOM_IMAGE"}`, nil},
		{"DescribeImage of an AVAILABLE image", "DescribeImage", `{"imageId":"` + a0 + `"}`, `{"imageId":"` + f0 + `"}`, []string{a0, f0}},
		{"DescribeImage of a CREATING image", "DescribeImage", `{"imageId":"` + a2 + `"}`, `{"imageId":"` + f2 + `"}`, []string{a2, f2}},
		{"ModifyImagesAttributes name", "ModifyImagesAttributes",
			`{"imageIds":` + ids(a0) + `,"imageName":"defaced"}`, `{"imageIds":` + ids(f0) + `,"imageName":"defaced"}`, []string{a0, f0}},
		{"ModifyImagesAttributes description of a CREATING image", "ModifyImagesAttributes",
			`{"imageIds":` + ids(a2) + `,"imageDescription":"defaced"}`, `{"imageIds":` + ids(f2) + `,"imageDescription":"defaced"}`, []string{a2, f2}},
		{"ModifyImagesAttributes with an own image first", "ModifyImagesAttributes",
			`{"imageIds":` + ids(b0, a1) + `,"imageName":"defaced","imageDescription":"defaced"}`,
			`{"imageIds":` + ids(b0, f1) + `,"imageName":"defaced","imageDescription":"defaced"}`, []string{a1, f1}},
		{"DeleteImages of an AVAILABLE image", "DeleteImages", `{"imageIds":` + ids(a0) + `}`, `{"imageIds":` + ids(f0) + `}`, []string{a0, f0}},
		{"DeleteImages of a CREATING image", "DeleteImages", `{"imageIds":` + ids(a2) + `}`, `{"imageIds":` + ids(f2) + `}`, []string{a2, f2}},
		{"DeleteImages of every image", "DeleteImages", `{"imageIds":` + ids(a0, a1, a2) + `}`, `{"imageIds":` + ids(f0, f1, f2) + `}`, []string{a0, a1, a2, f0, f1, f2}},
		{"DeleteImages with an own image first", "DeleteImages", `{"imageIds":` + ids(b0, a1) + `}`, `{"imageIds":` + ids(b0, f1) + `}`, []string{a1, f1}},
		{"DescribeImageQuota of the location as a zone", "DescribeImageQuota",
			`{"zoneIds":["` + loc + `"]}`, `{"zoneIds":["` + empty + `"]}`, []string{loc, empty}},
		{"DescribeImageQuota of the location as a region", "DescribeImageQuota",
			`{"regionIds":["` + loc + `"]}`, `{"regionIds":["` + empty + `"]}`, []string{loc, empty}},
	}

	// The two ways the second account authenticates.
	bearer := func(r request) request {
		r = r.set("X-ZC-Timestamp", "")
		return r.set("Authorization", "Bearer "+token)
	}
	callers := []struct {
		name string
		auth func(r request) request
	}{
		{"access key", func(r request) request { return r }},
		{"bearer token", bearer},
	}
	send := func(t *testing.T, auth func(request) request, action, body string) reply {
		t.Helper()
		r := e.callAs(intruder, action, body)
		if action == "DescribeImage" {
			r = r.set("X-ZC-Version", vmapi.VersionLegacy)
		}
		return e.send(t, auth(r))
	}
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range probes {
				t.Run(p.name, func(t *testing.T) {
					got := send(t, c.auth, p.action, p.real)
					fake := send(t, c.auth, p.action, p.fake)
					if r, f := isoReduce(t, got, p.masked...), isoReduce(t, fake, p.masked...); r != f {
						t.Errorf("the owner's ids answer differently from made-up ones:\nowner's  %+v\nmade-up  %+v", r, f)
					}
					if got.status >= 500 {
						t.Errorf("HTTP %d", got.status)
					}
				})
			}
		})
	}

	// The whole quota list: the owner's location answers like any other.
	all, err := intruder.Client.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]vmapi.ImageQuotaInfo{}
	for _, q := range all.Images {
		rows[q.ZoneID] = q
	}
	if r, f := rows[loc], rows[empty]; r.Count != f.Count || r.MaxCount != f.MaxCount || r.Count != 0 || r.MaxCount != quota.DefaultMaxCount {
		t.Errorf("the second account's quota: %+v in the owner's location, %+v elsewhere; want both 0 of %d", r, f, quota.DefaultMaxCount)
	}

	// The owner's clientToken means nothing to the second account: on its own
	// instance it makes a new image, as a fresh token does.
	extra := e.srv.NewInstance(t, intruder.ID, mine)
	withOwners, err := intruder.Client.CreateImage(ctx, &vmapi.CreateImageRequest{
		InstanceID: client.String(extra.ID), ImageName: client.String("own"), ClientToken: client.String(ownerToken)})
	if err != nil {
		t.Fatalf("CreateImage with the owner's clientToken on an own instance: %v", err)
	}
	if withOwners.ImageID == a2 || withOwners.ImageName != "own" {
		t.Errorf("the owner's clientToken replayed the owner's image to another account: %+v", withOwners)
	}

	after := isoSnapshot(t, e, owner)
	if !reflect.DeepEqual(after, before) {
		bj, _ := json.Marshal(before)
		aj, _ := json.Marshal(after)
		t.Errorf("the owner's state changed:\nbefore %s\nafter  %s", bj, aj)
	}
	// The second account's own image was in the all-or-nothing requests; it
	// is unchanged too, and its only new image is the one made above.
	theirsAfter := isoSnapshot(t, e, intruder)
	kept := false
	for _, im := range theirsAfter.Images {
		kept = kept || reflect.DeepEqual(im, theirsBefore.Images[0])
	}
	if len(theirsAfter.Images) != 2 || !kept {
		t.Errorf("the second account's images: before %+v, after %+v", theirsBefore.Images, theirsAfter.Images)
	}
	// Its audit trail grew by the instance registered and the image made above.
	var added []string
	for _, r := range theirsAfter.Audit[min(len(theirsBefore.Audit), len(theirsAfter.Audit)):] {
		added = append(added, r.Action)
	}
	if want := []string{"CreateInstance", "CreateImage"}; !reflect.DeepEqual(added, want) {
		t.Errorf("the second account's audit trail grew by %v; want %v", added, want)
	}
}

// ownImgInstance returns the instance an account's image was made from.
func ownImgInstance(t *testing.T, e *env, a testkit.Account, imageID string) string {
	t.Helper()
	imgs, err := e.srv.DB.ListImages(context.Background(), a.ID, []string{imageID}, "")
	if err != nil || len(imgs) != 1 {
		t.Fatalf("ListImages(%s): %v, %v", imageID, imgs, err)
	}
	return imgs[0].InstanceID
}
