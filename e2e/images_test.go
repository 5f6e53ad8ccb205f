package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

const tokyo = "jp-tokyo-1a"

// imageEnv is a server with one account that has one instance in Tokyo.
type imageEnv struct {
	srv   *testkit.Server
	acct  testkit.Account
	inst  quota.Instance
	clock *testkit.Clock
	url   string
}

func setupImages(t *testing.T, o testkit.Options) *imageEnv {
	t.Helper()
	if o.DBURL == "" && o.DB == nil {
		o.DBURL = testkit.SQLiteURL(t)
	}
	e := &imageEnv{clock: testkit.NewClock(time.Now().UTC()), url: o.DBURL}
	if o.Now == nil {
		o.Now = e.clock.Now
	}
	e.srv = testkit.Start(t, o)
	e.acct = e.srv.NewAccount(t)
	e.inst = e.srv.NewInstance(t, e.acct.ID, tokyo)
	return e
}

func (e *imageEnv) create(t *testing.T, c *client.Client, name string) (string, error) {
	t.Helper()
	out, err := c.CreateImage(context.Background(), &vmapi.CreateImageRequest{
		InstanceID: client.String(e.inst.ID), ImageName: client.String(name),
	})
	if err != nil {
		return "", err
	}
	return out.ImageID, nil
}

func mustCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := client.ErrorCode(err); got != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

// quotaCount asks DescribeImageQuota for one location.
func quotaCount(t *testing.T, c *client.Client, loc string) (count, max int) {
	t.Helper()
	q, err := c.DescribeImageQuota(context.Background(), &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{loc}})
	if err != nil {
		t.Fatalf("DescribeImageQuota: %v", err)
	}
	if len(q.Images) != 1 || len(q.ImageRegionQuota) != 1 {
		t.Fatalf("DescribeImageQuota: %d/%d entries, want 1", len(q.Images), len(q.ImageRegionQuota))
	}
	if q.ImageRegionQuota[0].Count != fmt.Sprint(q.Images[0].Count) {
		t.Fatalf("the two lists disagree: %+v vs %+v", q.Images[0], q.ImageRegionQuota[0])
	}
	return q.Images[0].Count, q.Images[0].MaxCount
}

// customImages lists the account's custom images as id → state.
func customImages(t *testing.T, c *client.Client) map[string]string {
	t.Helper()
	out, err := c.DescribeImages(context.Background(), &vmapi.DescribeImagesRequest{
		ImageType: client.String(quota.ImageTypeCustom), PageSize: client.Int(1000),
	})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	if out.TotalCount != len(out.DataSet) {
		t.Fatalf("totalCount %d but %d listed", out.TotalCount, len(out.DataSet))
	}
	m := map[string]string{}
	for _, im := range out.DataSet {
		m[im.ImageID] = im.ImageStatus
	}
	return m
}

// adminQuotaShow runs the real `imagequota admin quota show` on the store and
// returns the count it reports for loc.
func adminQuotaShow(t *testing.T, dbURL, account, loc string) (count, max int) {
	t.Helper()
	out, err := exec.Command(testkit.Tool(t), "admin", "--db", dbURL, "quota", "show", "--account", account, "--output", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("admin quota show: %v\n%s", err, out)
	}
	var rows []struct {
		Location string `json:"location"`
		MaxCount int    `json:"maxCount"`
		Source   string `json:"source"`
		Count    int    `json:"count"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("admin quota show: %v\n%s", err, out)
	}
	for _, r := range rows {
		if r.Location == loc {
			return r.Count, r.MaxCount
		}
	}
	t.Fatalf("admin quota show lists no %s", loc)
	return 0, 0
}

// TestImageLifecycle walks create → build finishes → modify → delete and checks
// after each step that DescribeImageQuota, DescribeImages and admin quota show
// agree on the exact count and states.
func TestImageLifecycle(t *testing.T) {
	parallel(t)
	e := setupImages(t, testkit.Options{BuildTime: time.Minute})
	c := e.acct.Client
	ctx := context.Background()
	agree := func(step string, want map[string]string) {
		t.Helper()
		if n, _ := quotaCount(t, c, tokyo); n != len(want) {
			t.Fatalf("%s: DescribeImageQuota count %d, want %d", step, n, len(want))
		}
		if n, _ := adminQuotaShow(t, e.url, e.acct.ID, tokyo); n != len(want) {
			t.Fatalf("%s: admin quota show count %d, want %d", step, n, len(want))
		}
		got := customImages(t, c)
		if len(got) != len(want) {
			t.Fatalf("%s: DescribeImages %v, want %v", step, got, want)
		}
		for id, st := range want {
			if got[id] != st {
				t.Fatalf("%s: image %s is %q, want %q", step, id, got[id], st)
			}
		}
	}
	agree("start", map[string]string{})

	id, err := e.create(t, c, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	agree("created", map[string]string{id: quota.StatusCreating})
	// A CREATING image cannot be deleted yet.
	mustCode(t, c.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: []string{id}}), quota.CodeImageStatus)
	agree("delete refused", map[string]string{id: quota.StatusCreating})

	e.clock.Advance(time.Minute)
	agree("built", map[string]string{id: quota.StatusAvailable})

	if err := c.ModifyImagesAttributes(ctx, &vmapi.ModifyImagesAttributesRequest{
		ImageIDs: []string{id}, ImageName: client.String("web-2"), ImageDescription: client.String("second"),
	}); err != nil {
		t.Fatal(err)
	}
	agree("modified", map[string]string{id: quota.StatusAvailable})
	list, err := c.DescribeImages(ctx, &vmapi.DescribeImagesRequest{ImageIDs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := list.DataSet[0]; got.ImageName != "web-2" || got.ImageDescription == nil || *got.ImageDescription != "second" ||
		got.ImageSize != "40" || got.ZoneID != tokyo || got.RegionID != tokyo || got.ImageType != quota.ImageTypeCustom {
		t.Fatalf("after modify: %+v", got)
	}

	if err := c.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: []string{id}}); err != nil {
		t.Fatal(err)
	}
	agree("deleted", map[string]string{})
	// Deleting again finds nothing and releases nothing. The second request
	// is signed a second later: the same signature again would be the first
	// request, answered as such (TestReplayedWriteDoneOnce).
	later := newConnClient(c)
	later.Now = func() time.Time { return time.Now().Add(time.Second) }
	mustCode(t, later.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: []string{id}}), quota.CodeImageNotFound)
	agree("deleted twice", map[string]string{})
}

// TestImageStateSurvivesRestart: the CREATING → AVAILABLE transition is right
// whether or not the server restarted in between.
func TestImageStateSurvivesRestart(t *testing.T) {
	parallel(t)
	dbURL := testkit.SQLiteURL(t)
	clock := testkit.NewClock(time.Now().UTC())
	first := testkit.Start(t, testkit.Options{DBURL: dbURL, BuildTime: 30 * time.Second, Now: clock.Now})
	acct := first.NewAccount(t)
	inst := first.NewInstance(t, acct.ID, tokyo)
	out, err := acct.Client.CreateImage(context.Background(), &vmapi.CreateImageRequest{InstanceID: &inst.ID, ImageName: client.String("img")})
	if err != nil {
		t.Fatal(err)
	}
	first.DB.Close()

	clock.Advance(31 * time.Second)
	second := testkit.Start(t, testkit.Options{DBURL: dbURL, BuildTime: 30 * time.Second, Now: clock.Now})
	acct.Client.Endpoint = second.URL
	if got := customImages(t, acct.Client)[out.ImageID]; got != quota.StatusAvailable {
		t.Fatalf("after restart and build time: %q, want AVAILABLE", got)
	}
}

// newConnClient returns a copy of c with its own connection pool, so that
// concurrent callers use separate connections.
func newConnClient(c *client.Client) *client.Client {
	cc := *c
	cc.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	return &cc
}

// TestConcurrentCreatesNeverOverAdmit: 200 concurrent creates for one
// (account, location) with maxCount 5 over separate connections give exactly 5
// successes and 195 LIMIT_EXCEEDED_IMAGE_QUOTA.
func TestConcurrentCreatesNeverOverAdmit(t *testing.T) {
	parallel(t)
	e := setupImages(t, testkit.Options{})
	const n = 200
	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newConnClient(e.acct.Client)
			<-start
			_, err := e.create(t, c, fmt.Sprintf("img-%d", i))
			switch {
			case err == nil:
				ok.Add(1)
			case client.ErrorCode(err) == quota.CodeImageQuotaExceeded:
				refused.Add(1)
			default:
				other.Add(1)
				t.Errorf("create %d: %v", i, err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != n-5 || other.Load() != 0 {
		t.Fatalf("successes %d, refused %d, other %d; want 5, %d, 0", ok.Load(), refused.Load(), other.Load(), n-5)
	}
	if count, max := quotaCount(t, e.acct.Client, tokyo); count != 5 || max != 5 {
		t.Fatalf("count %d max %d, want 5 5", count, max)
	}
}

// TestInterleavedCreatesAndDeletes: concurrent creates and deletes never show
// a count above the limit or below zero, and the final count equals the images listed.
func TestInterleavedCreatesAndDeletes(t *testing.T) {
	parallel(t)
	e := setupImages(t, testkit.Options{})
	ctx := context.Background()
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var observerErr atomic.Value
	var samples atomic.Int64
	// An observer samples the count while the writers run.
	go func() {
		c := newConnClient(e.acct.Client)
		for {
			select {
			case <-stop:
				return
			default:
			}
			q, err := c.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{tokyo}})
			if err != nil {
				observerErr.Store(err.Error())
				return
			}
			if n := q.Images[0].Count; n < 0 || n > 5 {
				observerErr.Store(fmt.Sprintf("count %d outside [0, 5]", n))
				return
			}
			samples.Add(1)
			// A sample every millisecond or so is hundreds over the run;
			// without the pause the observer takes as much CPU as the
			// writers it watches.
			time.Sleep(time.Millisecond)
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := newConnClient(e.acct.Client)
			later := newConnClient(e.acct.Client)
			later.Now = func() time.Time { return time.Now().Add(time.Second) }
			for r := 0; r < rounds; r++ {
				id, err := e.create(t, c, fmt.Sprintf("w%d-r%d", w, r))
				if err != nil {
					if client.ErrorCode(err) != quota.CodeImageQuotaExceeded {
						t.Errorf("create: %v", err)
					}
					continue
				}
				if err := c.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: []string{id}}); err != nil {
					t.Errorf("delete %s: %v", id, err)
				}
				// A second delete of the same id never releases anything. It is
				// signed a second later: sent with the same signature, it would be
				// the first request again, answered as such (TestReplayedWriteDoneOnce).
				if err := later.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: []string{id}}); client.ErrorCode(err) != quota.CodeImageNotFound {
					t.Errorf("second delete of %s: %v", id, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	if v := observerErr.Load(); v != nil {
		t.Fatal(v)
	}
	if samples.Load() == 0 {
		t.Fatal("the observer took no sample while the writers ran")
	}
	t.Logf("the observer took %d samples", samples.Load())
	count, _ := quotaCount(t, e.acct.Client, tokyo)
	if listed := len(customImages(t, e.acct.Client)); count != listed || count != 0 {
		t.Fatalf("count %d, listed %d; want both 0", count, listed)
	}
}

// TestConcurrentClientTokenCreatesOneImage: identical clientToken calls
// arriving at the same moment create exactly one image and all get its id.
func TestConcurrentClientTokenCreatesOneImage(t *testing.T) {
	parallel(t)
	e := setupImages(t, testkit.Options{})
	const n = 50
	ids := make(chan string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newConnClient(e.acct.Client)
			<-start
			out, err := c.CreateImage(context.Background(), &vmapi.CreateImageRequest{
				InstanceID: &e.inst.ID, ImageName: client.String("same"), ClientToken: client.String("tok-1"),
			})
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			ids <- out.ImageID
		}()
	}
	close(start)
	wg.Wait()
	close(ids)
	seen := map[string]int{}
	for id := range ids {
		seen[id]++
	}
	if len(seen) != 1 {
		t.Fatalf("image ids returned: %v, want one", seen)
	}
	if count, _ := quotaCount(t, e.acct.Client, tokyo); count != 1 {
		t.Fatalf("count %d, want 1", count)
	}
	// The same token with different parameters is refused and charges nothing.
	_, err := e.acct.Client.CreateImage(context.Background(), &vmapi.CreateImageRequest{
		InstanceID: &e.inst.ID, ImageName: client.String("other"), ClientToken: client.String("tok-1"),
	})
	mustCode(t, err, quota.CodeInvalidParameterValue)
	if !strings.Contains(err.Error(), "clientToken") {
		t.Fatalf("message does not name clientToken: %v", err)
	}
	if count, _ := quotaCount(t, e.acct.Client, tokyo); count != 1 {
		t.Fatalf("count %d after a mismatched replay, want 1", count)
	}
}

// TestForcedRaceIsSerialized pauses one writer between its admission check and
// its insert while a second writer runs: the second must wait and then be
// refused, never admitted over the limit.
func TestForcedRaceIsSerialized(t *testing.T) {
	parallel(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			parallelSub(t)
			dbURL := testkit.SQLiteURL(t)
			if engine == "postgres" {
				dbURL = pgtest.NewSchema(t)
			}
			var (
				mu      sync.Mutex
				paused  = make(chan struct{})
				release = make(chan struct{})
				first   = true
			)
			hook := func(accountID, locationID string, count, max int) {
				mu.Lock()
				isFirst := first
				first = false
				mu.Unlock()
				if isFirst {
					close(paused)
					<-release
				}
			}
			e := setupImages(t, testkit.Options{DBURL: dbURL, AfterAdmissionCheck: hook})
			if _, err := e.srv.DB.SetLimit(context.Background(), quota.LimitOverride{AccountID: e.acct.ID, LocationID: tokyo, MaxCount: 1}, quota.AdminActor); err != nil {
				t.Fatal(err)
			}
			firstErr := make(chan error, 1)
			go func() {
				_, err := e.create(t, newConnClient(e.acct.Client), "first")
				firstErr <- err
			}()
			<-paused // the first writer has checked count 0 < 1 and not yet inserted
			secondErr := make(chan error, 1)
			go func() {
				_, err := e.create(t, newConnClient(e.acct.Client), "second")
				secondErr <- err
			}()
			select {
			case err := <-secondErr:
				t.Fatalf("the second writer answered while the first held its check: %v", err)
			case <-time.After(300 * time.Millisecond):
				// Still waiting: serialized behind the first writer.
			}
			close(release)
			if err := <-firstErr; err != nil {
				t.Fatalf("first writer: %v", err)
			}
			mustCode(t, <-secondErr, quota.CodeImageQuotaExceeded)
			if count, max := quotaCount(t, e.acct.Client, tokyo); count != 1 || max != 1 {
				t.Fatalf("count %d max %d, want 1 1", count, max)
			}
		})
	}
}
