package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

func testCreateImage(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	const max = 5
	now := time.Now()
	var made []string
	for i := 0; i < max; i++ {
		in := input(e.inst, fmt.Sprintf("img-%d", i), max)
		in.Now, in.BuildTime = now, 2*time.Second
		if i == 0 {
			in.Description = ptr("the first")
		}
		img := mustCreate(t, e.db, in)
		made = append(made, img.ID)
		want := quota.Image{
			ID: img.ID, Type: quota.ImageTypeCustom, AccountID: e.acct.ID, LocationID: tokyo, InstanceID: e.inst.ID,
			Name: in.Name, Description: in.Description, SizeGB: 40, Category: "Ubuntu", OSType: "linux", Version: "22.04",
			CreatedAt: now.Truncate(time.Microsecond).UTC(), ReadyAt: now.Add(2 * time.Second).Truncate(time.Microsecond).UTC(),
		}
		if !strings.HasPrefix(img.ID, "img-") || !reflect.DeepEqual(img, want) {
			t.Fatalf("CreateImage = %+v,\nwant %+v", img, want)
		}
		stored, err := e.db.ListImages(ctx, e.acct.ID, []string{img.ID}, "")
		if err != nil || len(stored) != 1 || !reflect.DeepEqual(stored[0], want) {
			t.Fatalf("ListImages(%s) = %+v, %v;\nwant %+v", img.ID, stored, err, want)
		}
		if got := stored[0].Status(now); got != quota.StatusCreating {
			t.Fatalf("status at creation = %s, want CREATING", got)
		}
		if got := stored[0].Status(now.Add(2 * time.Second)); got != quota.StatusAvailable {
			t.Fatalf("status after the build time = %s, want AVAILABLE", got)
		}
	}

	_, _, err := e.db.CreateImage(ctx, input(e.inst, "one-too-many", max))
	wantCode(t, "CreateImage at the limit", err, quota.CodeImageQuotaExceeded)
	qe, _ := quota.AsError(err)
	msg := qe.Message
	for _, want := range append([]string{tokyo, "count 5", "maxCount 5"}, made...) {
		if !strings.Contains(msg, want) {
			t.Errorf("quota error %q does not name %q", msg, want)
		}
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n != max {
		t.Fatalf("count after a refused create = %d, want %d", n, max)
	}
	if recs := auditOf(t, e.db, quota.AuditFilter{AccountID: e.acct.ID}, "CreateImage"); len(recs) != max {
		t.Fatalf("audit has %d records, want one per admitted image (%d)", len(recs), max)
	}

	// Other locations and other accounts have their own counts.
	sg := newInstance(t, e.db, e.acct.ID, singapore)
	mustCreate(t, e.db, input(sg, "in-singapore", max))
	other := newAccount(t, e.db, "other")
	mustCreate(t, e.db, input(newInstance(t, e.db, other.ID, tokyo), "theirs", max))

	// A raised limit admits more.
	if _, err := e.db.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: tokyo, MaxCount: max + 1}, quota.AdminActor); err != nil {
		t.Fatalf("SetLimit: %v", err)
	}
	mustCreate(t, e.db, input(e.inst, "after-raise", max))

	theirs := newInstance(t, e.db, other.ID, singapore)
	for _, tc := range []struct {
		name string
		in   quota.CreateImageInput
		code string
	}{
		{"unknown instance", input(quota.Instance{AccountID: e.acct.ID, ID: "ins-missing"}, "x", max), quota.CodeInstanceNotFound},
		{"another account's instance", func() quota.CreateImageInput {
			in := input(theirs, "x", max)
			in.AccountID = e.acct.ID
			return in
		}(), quota.CodeInstanceNotFound},
		{"instance refused by CheckInstance", func() quota.CreateImageInput {
			in := input(sg, "x", max)
			in.CheckInstance = func(quota.Instance) error { return quota.Errorf(quota.CodeZoneNotFound, "location disabled") }
			return in
		}(), quota.CodeZoneNotFound},
	} {
		_, _, err := e.db.CreateImage(ctx, tc.in)
		wantCode(t, tc.name, err, tc.code)
	}
	in := input(sg, "x", max)
	in.CheckInstance = func(quota.Instance) error { return errRefused }
	if _, _, err := e.db.CreateImage(ctx, in); !errors.Is(err, errRefused) {
		t.Fatalf("CreateImage with CheckInstance failing = %v, want its error", err)
	}
	if n := count(t, e.db, e.acct.ID, singapore); n != 1 {
		t.Fatalf("refused creates inserted images: count %d in %s, want 1", n, singapore)
	}
}

func testQuotaErrorTruncated(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	for i := 0; i < 12; i++ {
		mustCreate(t, e.db, input(e.inst, "img", 12))
	}
	// Lowering the limit below the count refuses creates and reports the real count.
	_, _, err := e.db.CreateImage(t.Context(), input(e.inst, "img", 11))
	wantCode(t, "CreateImage over a lowered limit", err, quota.CodeImageQuotaExceeded)
	qe, _ := quota.AsError(err)
	ids := imageIDs(t, e.db, e.acct.ID, nil, tokyo)
	for i, id := range ids {
		if named := strings.Contains(qe.Message, id); named != (i < 10) {
			t.Errorf("image %d (%s) named in the error: %v, want %v", i, id, named, i < 10)
		}
	}
	for _, want := range []string{"count 12", "maxCount 11", "and more"} {
		if !strings.Contains(qe.Message, want) {
			t.Errorf("quota error %q does not say %q", qe.Message, want)
		}
	}
}

func testClientToken(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	const max = 2
	first := input(e.inst, "tokened", max)
	first.ClientToken, first.Description = "tok-1", ptr("d")
	img := mustCreate(t, e.db, first)

	again := first
	again.Now = time.Now().Add(time.Minute)
	again.Actor.RequestID = "req-retry"
	got, replayed, err := e.db.CreateImage(ctx, again)
	if err != nil || !replayed || got.ID != img.ID || got.Name != img.Name {
		t.Fatalf("replay = %+v, replayed %v, %v; want image %s replayed", got, replayed, err, img.ID)
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n != 1 {
		t.Fatalf("count after a replay = %d, want 1 (a replay must not charge)", n)
	}

	sg := newInstance(t, e.db, e.acct.ID, singapore)
	for _, tc := range []struct {
		name   string
		change func(in *quota.CreateImageInput)
	}{
		{"another name", func(in *quota.CreateImageInput) { in.Name = "renamed" }},
		{"another description", func(in *quota.CreateImageInput) { in.Description = ptr("other") }},
		{"no description", func(in *quota.CreateImageInput) { in.Description = nil }},
		{"empty description", func(in *quota.CreateImageInput) { in.Description = ptr("") }},
		{"another instance", func(in *quota.CreateImageInput) { in.InstanceID = sg.ID }},
	} {
		in := first
		tc.change(&in)
		_, _, err := e.db.CreateImage(ctx, in)
		wantCode(t, "same token, "+tc.name, err, quota.CodeInvalidParameterValue)
	}

	// Fill the quota; the token still replays, a new token is refused and
	// not remembered.
	mustCreate(t, e.db, input(e.inst, "filler", max))
	if got, replayed, err := e.db.CreateImage(ctx, first); err != nil || !replayed || got.ID != img.ID {
		t.Fatalf("replay at the limit = %+v, %v, %v; want image %s", got, replayed, err, img.ID)
	}
	second := input(e.inst, "second", max)
	second.ClientToken = "tok-2"
	_, _, err = e.db.CreateImage(ctx, second)
	wantCode(t, "new token at the limit", err, quota.CodeImageQuotaExceeded)
	second.DefaultMax, second.Name = max+1, "second-try"
	if _, replayed, err := e.db.CreateImage(ctx, second); err != nil || replayed {
		t.Fatalf("a token whose create was refused, reused with other parameters: replayed %v, %v; want a new image", replayed, err)
	}

	// Tokens belong to one account.
	other := newAccount(t, e.db, "other")
	theirs := input(newInstance(t, e.db, other.ID, tokyo), "tokened", max)
	theirs.ClientToken = "tok-1"
	if got := mustCreate(t, e.db, theirs); got.ID == img.ID {
		t.Fatalf("another account's create with the same token replayed %s", img.ID)
	}

	var creates []string
	for _, r := range audit(t, e.db, quota.AuditFilter{AccountID: e.acct.ID}) {
		if r.Action == "CreateImage" {
			creates = append(creates, r.Target)
		}
	}
	if len(creates) != 3 || creates[0] != img.ID {
		t.Fatalf("CreateImage audit targets = %v, want 3 creates (replays are not audited)", creates)
	}
}

func testListImages(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	sg := newInstance(t, e.db, e.acct.ID, singapore)
	other := newAccount(t, e.db, "other")
	theirs := mustCreate(t, e.db, input(newInstance(t, e.db, other.ID, tokyo), "theirs", 10))
	t1 := mustCreate(t, e.db, input(e.inst, "t1", 10))
	s1 := mustCreate(t, e.db, input(sg, "s1", 10))
	t2 := mustCreate(t, e.db, input(e.inst, "t2", 10))

	for _, tc := range []struct {
		name     string
		ids      []string
		location string
		want     []string
	}{
		{"all", nil, "", []string{t1.ID, s1.ID, t2.ID}},
		{"location", nil, tokyo, []string{t1.ID, t2.ID}},
		{"other location", nil, singapore, []string{s1.ID}},
		{"location without images", nil, frankfurt, []string{}},
		{"ids", []string{t2.ID, s1.ID}, "", []string{s1.ID, t2.ID}},
		{"ids and location", []string{t2.ID, s1.ID}, tokyo, []string{t2.ID}},
		{"another account's id", []string{theirs.ID}, "", []string{}},
		{"unknown id", []string{"img-missing", t1.ID}, "", []string{t1.ID}},
	} {
		if got := imageIDs(t, e.db, e.acct.ID, tc.ids, tc.location); !sameSet(got, tc.want) {
			t.Errorf("ListImages(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	all, err := e.db.ListImages(t.Context(), e.acct.ID, nil, "")
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if b.CreatedAt.Before(a.CreatedAt) || b.CreatedAt.Equal(a.CreatedAt) && b.ID < a.ID {
			t.Fatalf("ListImages is not oldest first: %+v", all)
		}
	}
	for _, im := range all {
		if im.Type != quota.ImageTypeCustom || im.AccountID != e.acct.ID || im.Description != nil {
			t.Fatalf("listed image %+v", im)
		}
	}
}

func testModifyImages(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	i1 := mustCreate(t, e.db, input(e.inst, "one", 10))
	i2 := mustCreate(t, e.db, input(e.inst, "two", 10))
	other := newAccount(t, e.db, "other")
	theirs := mustCreate(t, e.db, input(newInstance(t, e.db, other.ID, tokyo), "theirs", 10))
	actor := quota.Actor{Name: "AKMOD", RequestID: "req-mod"}

	state := func() map[string]string {
		t.Helper()
		imgs, err := e.db.ListImages(ctx, e.acct.ID, nil, "")
		if err != nil {
			t.Fatalf("ListImages: %v", err)
		}
		out := map[string]string{}
		for _, im := range imgs {
			out[im.ID] = im.Name + " " + strOrNil(im.Description)
		}
		return out
	}
	steps := []struct {
		name string
		in   quota.ModifyImagesInput
		code string
		want map[string]string
	}{
		{"rename both", quota.ModifyImagesInput{IDs: []string{i1.ID, i2.ID}, Name: ptr("renamed")}, "",
			map[string]string{i1.ID: `renamed nil`, i2.ID: `renamed nil`}},
		{"describe one", quota.ModifyImagesInput{IDs: []string{i1.ID}, Description: ptr("described")}, "",
			map[string]string{i1.ID: `renamed "described"`, i2.ID: `renamed nil`}},
		{"empty description", quota.ModifyImagesInput{IDs: []string{i2.ID}, Description: ptr(""), Name: ptr("two")}, "",
			map[string]string{i1.ID: `renamed "described"`, i2.ID: `two ""`}},
		{"one unknown id changes nothing", quota.ModifyImagesInput{IDs: []string{i1.ID, "img-missing"}, Name: ptr("never")}, quota.CodeImageNotFound,
			map[string]string{i1.ID: `renamed "described"`, i2.ID: `two ""`}},
		{"another account's image changes nothing", quota.ModifyImagesInput{IDs: []string{i2.ID, theirs.ID}, Name: ptr("never")}, quota.CodeImageNotFound,
			map[string]string{i1.ID: `renamed "described"`, i2.ID: `two ""`}},
		{"no attributes is a change of nothing", quota.ModifyImagesInput{IDs: []string{i1.ID, i2.ID}}, "",
			map[string]string{i1.ID: `renamed "described"`, i2.ID: `two ""`}},
		{"no attributes still refuses an unknown id", quota.ModifyImagesInput{IDs: []string{i1.ID, "img-missing"}}, quota.CodeImageNotFound,
			map[string]string{i1.ID: `renamed "described"`, i2.ID: `two ""`}},
	}
	for _, s := range steps {
		s.in.AccountID, s.in.Actor = e.acct.ID, actor
		err := e.db.ModifyImages(ctx, s.in)
		wantCode(t, s.name, err, s.code)
		if got := state(); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s: images = %v, want %v", s.name, got, s.want)
		}
	}
	if err := e.db.ModifyImages(ctx, quota.ModifyImagesInput{AccountID: e.acct.ID, IDs: []string{"img-missing"}, Name: ptr("x")}); err == nil ||
		!strings.Contains(err.Error(), "img-missing") {
		t.Fatalf("the not-found error %v does not name the missing id", err)
	}
	if imgs, _ := e.db.ListImages(ctx, other.ID, nil, ""); len(imgs) != 1 || imgs[0].Name != "theirs" {
		t.Fatalf("another account's image changed: %+v", imgs)
	}

	var mods []quota.AuditRecord
	for _, r := range audit(t, e.db, quota.AuditFilter{AccountID: e.acct.ID}) {
		if r.Action == "ModifyImagesAttributes" {
			mods = append(mods, r)
		}
	}
	if len(mods) != 4 {
		t.Fatalf("%d ModifyImagesAttributes audit records, want 4 (one per image changed; none for a change of nothing): %+v", len(mods), mods)
	}
	r := mods[2]
	if r.Target != i1.ID || r.Actor != "AKMOD" || r.RequestID != "req-mod" ||
		field(t, r.Before, "imageDescription") != `null` || field(t, r.After, "imageDescription") != `"described"` ||
		field(t, r.Before, "imageName") != `"renamed"` || field(t, r.After, "imageName") != `"renamed"` {
		t.Fatalf("audit of describing %s = %+v (before %s, after %s)", i1.ID, r, jsonOf(t, r.Before), jsonOf(t, r.After))
	}
}

func testDeleteImages(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	const max = 3
	ready := mustCreate(t, e.db, input(e.inst, "ready", max))
	building := input(e.inst, "building", max)
	building.BuildTime = time.Hour
	creating := mustCreate(t, e.db, building)
	third := mustCreate(t, e.db, input(e.inst, "third", max))
	other := newAccount(t, e.db, "other")
	theirs := mustCreate(t, e.db, input(newInstance(t, e.db, other.ID, tokyo), "theirs", max))
	now := time.Now() // every image but the one building is AVAILABLE
	del := func(at time.Time, ids ...string) error {
		return e.db.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: e.acct.ID, IDs: ids, Now: at, Actor: quota.Actor{Name: "AKDEL", RequestID: "req-del"}})
	}

	steps := []struct {
		name string
		at   time.Time
		ids  []string
		code string
		want []string
	}{
		{"one unknown id deletes nothing", now, []string{ready.ID, "img-missing"}, quota.CodeImageNotFound, []string{ready.ID, creating.ID, third.ID}},
		{"another account's id deletes nothing", now, []string{ready.ID, theirs.ID}, quota.CodeImageNotFound, []string{ready.ID, creating.ID, third.ID}},
		{"a CREATING image deletes nothing", now, []string{ready.ID, creating.ID}, quota.CodeImageStatus, []string{ready.ID, creating.ID, third.ID}},
		{"delete", now, []string{ready.ID, third.ID}, "", []string{creating.ID}},
		{"delete again", now, []string{ready.ID}, quota.CodeImageNotFound, []string{creating.ID}},
		{"delete once built", now.Add(2 * time.Hour), []string{creating.ID}, "", []string{}},
	}
	for _, s := range steps {
		wantCode(t, s.name, del(s.at, s.ids...), s.code)
		if got := imageIDs(t, e.db, e.acct.ID, nil, ""); !sameSet(got, s.want) {
			t.Fatalf("%s: images = %v, want %v", s.name, got, s.want)
		}
		if n := count(t, e.db, e.acct.ID, tokyo); n != len(s.want) {
			t.Fatalf("%s: count = %d, want %d", s.name, n, len(s.want))
		}
	}
	if ids := imageIDs(t, e.db, other.ID, nil, ""); !reflect.DeepEqual(ids, []string{theirs.ID}) {
		t.Fatalf("another account's images = %v, want %s kept", ids, theirs.ID)
	}

	// Deleting frees quota: the account can create max images again.
	for i := 0; i < max; i++ {
		mustCreate(t, e.db, input(e.inst, "again", max))
	}

	var dels []quota.AuditRecord
	for _, r := range audit(t, e.db, quota.AuditFilter{AccountID: e.acct.ID}) {
		if r.Action == "DeleteImages" {
			dels = append(dels, r)
		}
	}
	if len(dels) != 3 {
		t.Fatalf("%d DeleteImages audit records, want 3 (one per image deleted): %+v", len(dels), dels)
	}
	if r := dels[0]; r.Target != ready.ID || r.Actor != "AKDEL" || r.RequestID != "req-del" ||
		field(t, r.Before, "imageId") != `"`+ready.ID+`"` || jsonOf(t, r.After) != "null" {
		t.Fatalf("delete audit record = %+v (before %s, after %s)", r, jsonOf(t, r.Before), jsonOf(t, r.After))
	}
}

// testConcurrentAdmission: 50 concurrent creates for one (account, location)
// with a limit of 5 admit exactly 5.
func testConcurrentAdmission(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	const workers, max = 50, 5
	if _, err := e.db.SetLimit(t.Context(), quota.LimitOverride{AccountID: e.acct.ID, LocationID: tokyo, MaxCount: max}, quota.AdminActor); err != nil {
		t.Fatalf("SetLimit: %v", err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		made   []string
		codes  = map[string]int{}
		sample = map[string]error{}
	)
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			img, _, err := e.db.CreateImage(t.Context(), input(e.inst, fmt.Sprintf("c%d", i), 100))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[quota.ErrorCode(err)]++
				sample[quota.ErrorCode(err)] = err
				return
			}
			made = append(made, img.ID)
		}()
	}
	close(start)
	wg.Wait()
	refused := 0
	for c, n := range codes {
		if c != quota.CodeImageQuotaExceeded {
			t.Errorf("%d creates failed with %s (%v); want only %s", n, c, sample[c], quota.CodeImageQuotaExceeded)
		}
		refused += n
	}
	if len(made) != max || refused != workers-max {
		t.Fatalf("%d creates admitted and %d refused, want %d and %d", len(made), refused, max, workers-max)
	}
	if ids := imageIDs(t, e.db, e.acct.ID, nil, tokyo); !sameSet(ids, made) {
		t.Fatalf("stored images %v, want the admitted %v", ids, made)
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n != max {
		t.Fatalf("count = %d, want %d", n, max)
	}
}

// testConcurrentClientToken: concurrent creates with one clientToken make one
// image and all answer it.
func testConcurrentClientToken(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	const workers = 20
	var wg sync.WaitGroup
	ids := make([]string, workers)
	errs := make([]error, workers)
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			in := input(e.inst, "same", 5)
			in.ClientToken = "one-token"
			img, _, err := e.db.CreateImage(t.Context(), in)
			ids[i], errs[i] = img.ID, err
		}()
	}
	close(start)
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("create %d = %q, %v; want image %q", i, ids[i], errs[i], ids[0])
		}
	}
	if got := imageIDs(t, e.db, e.acct.ID, nil, ""); !reflect.DeepEqual(got, []string{ids[0]}) {
		t.Fatalf("images = %v, want only %s", got, ids[0])
	}
}

// testNULNeverInternal: a NUL byte in an id, a location or a description is
// never an internal error. (SQLite can store NUL and PostgreSQL cannot, so the
// engines may differ in which allowed answer they give.)
func testNULNeverInternal(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	ctx := t.Context()
	const nul = "\x00"
	ipv := quota.CodeInvalidParameterValue
	for _, tc := range []struct {
		name    string
		call    func() error
		allowed []string // "" is success
	}{
		{"GetInstance", func() error { _, err := e.db.GetInstance(ctx, e.acct.ID, "ins-"+nul); return err }, []string{quota.CodeInstanceNotFound, ipv}},
		{"ListImages ids", func() error { _, err := e.db.ListImages(ctx, e.acct.ID, []string{"img-" + nul}, ""); return err }, []string{"", ipv}},
		{"ListImages location", func() error { _, err := e.db.ListImages(ctx, e.acct.ID, nil, nul); return err }, []string{"", ipv}},
		{"ModifyImages", func() error {
			return e.db.ModifyImages(ctx, quota.ModifyImagesInput{AccountID: e.acct.ID, IDs: []string{"img-" + nul}, Name: ptr("x")})
		}, []string{quota.CodeImageNotFound, ipv}},
		{"DeleteImages", func() error {
			return e.db.DeleteImages(ctx, quota.DeleteImagesInput{AccountID: e.acct.ID, IDs: []string{"img-" + nul}, Now: time.Now()})
		}, []string{quota.CodeImageNotFound, ipv}},
		{"CreateImage instance", func() error {
			_, _, err := e.db.CreateImage(ctx, input(quota.Instance{AccountID: e.acct.ID, ID: "ins-" + nul}, "x", 5))
			return err
		}, []string{quota.CodeInstanceNotFound, ipv}},
		{"CreateImage description", func() error {
			in := input(e.inst, "x", 5)
			in.Description = ptr("a" + nul + "b")
			_, _, err := e.db.CreateImage(ctx, in)
			return err
		}, []string{"", ipv}},
		{"AccessKeyCredential", func() error { _, err := e.db.AccessKeyCredential(ctx, "AK"+nul); return err }, []string{quota.CodeSignatureFailure, ipv}},
		{"TokenCredential", func() error { _, err := e.db.TokenCredential(ctx, "zqt_"+nul); return err }, []string{quota.CodeSignatureFailure}},
	} {
		err := tc.call()
		code := quota.ErrorCode(err)
		ok := false
		for _, a := range tc.allowed {
			ok = ok || code == a
		}
		if !ok {
			t.Errorf("%s with a NUL: %v (code %q), want one of %q", tc.name, err, code, tc.allowed)
		}
	}
	if n := count(t, e.db, e.acct.ID, tokyo); n > 1 {
		t.Fatalf("count %d after at most one admitted create", n)
	}
}
