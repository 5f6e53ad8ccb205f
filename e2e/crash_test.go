package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

// crashSeedEnv names the variable that replays a crash test run: the seed it
// logs chooses the kill points and every client's choices.
const crashSeedEnv = "IMAGEQUOTA_CRASH_SEED"

const (
	crashRounds      = 20                     // kills per store
	crashWorkers     = 4                      // concurrent clients
	crashMinDelay    = 20 * time.Millisecond  // earliest kill after the round's first answer
	crashMaxDelay    = 150 * time.Millisecond // latest kill
	crashCallTimeout = 20 * time.Second       // bound of one API call
	crashWait        = time.Minute            // bound of every other wait
	crashLimit       = 1000                   // the account's limit in every location
)

// TestCrashKillAndRestart: a server killed with SIGKILL in the middle of a
// stream of concurrent CreateImage and DeleteImages calls, then restarted on
// the same store, has kept every acknowledged create and delete, has applied
// each call that was in flight at the kill completely or not at all, holds no
// image nobody asked for, and counts in DescribeImageQuota exactly the images
// DescribeImages lists — at 20 random kill points, state accumulating. It runs
// on the embedded SQLite store and, when one is configured, on PostgreSQL.
func TestCrashKillAndRestart(t *testing.T) {
	parallelFirst(t)
	if testing.Short() {
		t.Skip("kills and restarts the server 20 times")
	}
	seed := crashSeed(t)
	cases := []struct {
		name string
		// store returns the flags naming the store (for serve and admin) and
		// what to wait for after a kill, before the outcome of the calls in
		// flight is final (nil: nothing).
		store func(t *testing.T) ([]string, func(t *testing.T) time.Duration)
	}{
		{"sqlite", func(t *testing.T) ([]string, func(t *testing.T) time.Duration) {
			// The process held the only connections: its death ends them.
			dir := t.TempDir()
			if r := pgRun(t, "migrate", "--data-dir", dir); r.code != 0 {
				t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
			}
			return []string{"--data-dir", dir}, nil
		}},
		{"postgres", func(t *testing.T) ([]string, func(t *testing.T) time.Duration) {
			// Every session of this test's servers and commands carries
			// the schema's name, for the wait after a kill to find them.
			dbURL := pgtest.NewSchema(t)
			u, err := url.Parse(dbURL)
			if err != nil {
				t.Fatal(err)
			}
			app := u.Query().Get("search_path")
			dbURL += "&application_name=" + app
			if r := pgRun(t, "migrate", "--db", dbURL); r.code != 0 {
				t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
			}
			return []string{"--db", dbURL}, crashPostgresSettle(t, dbURL, app)
		}},
	}
	// The engines run at once, within this test's turn among the parallel
	// tests: each mostly waits on its server process, and parallel subtests
	// would start only after every other test has.
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			t.Run(c.name, func(t *testing.T) {
				store, settle := c.store(t)
				e := setupCrash(t, store, seed+uint64(i))
				e.settle = settle
				e.run(t)
			})
		})
	}
	wg.Wait()
}

// crashPostgresSettle returns a wait for the end of every other session named
// app, the application name of the test's servers and commands. A
// PostgreSQL backend outlives the server process that opened it: a COMMIT
// the server sent just before it died still completes (after a WAL flush
// that can take a while on a busy machine), so the outcome of a call in
// flight at the kill is final only when the dead server's sessions have
// ended.
func crashPostgresSettle(t *testing.T, dbURL, app string) func(t *testing.T) time.Duration {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	db.SetMaxOpenConns(1) // one session, which the query leaves out
	t.Cleanup(func() { db.Close() })
	return func(t *testing.T) time.Duration {
		t.Helper()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), crashWait)
		defer cancel()
		for {
			var n int
			err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&n)
			if err != nil {
				t.Fatalf("waiting for the killed server's sessions to end: %v", err)
			}
			if n == 0 {
				return time.Since(start)
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the killed server's %d PostgreSQL sessions did not end within %v", n, crashWait)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// crashSeed returns the seed of this run, from crashSeedEnv when set, and logs
// how to replay it.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not an unsigned integer", crashSeedEnv, s)
		}
		seed = v
	}
	t.Logf("seed %d (replay the kill points with %s=%d)", seed, crashSeedEnv, seed)
	return seed
}

// crashInstance is an instance the images are made from.
type crashInstance struct {
	id, location                string
	diskGB                      int
	category, osType, osVersion string
}

// crashImage is an image a client asked for; id is empty until it is known.
type crashImage struct {
	id, name, description string
	inst                  crashInstance
}

// crashEnv is one store, the account on it, and what the clients were told.
type crashEnv struct {
	store         []string
	keyID, secret string
	account       string
	insts         []crashInstance
	rng           *rand.Rand
	settle        func(t *testing.T) time.Duration // see TestCrashKillAndRestart

	mu      sync.Mutex
	present map[string]crashImage // acknowledged created and not acknowledged deleted
	free    []string              // ids of present images no delete in flight targets
	gone    map[string]bool       // acknowledged deleted
	// What was in flight at the kill: its effect is checked after the restart.
	pendingCreates map[string]crashImage // by name, unique per create
	pendingDeletes [][]string            // the ids of each DeleteImages
	// answered is closed by the round's first acknowledged call (and then
	// set to nil): the kill delay counts from there, so that each round
	// interrupts a stream the server is serving, however busy the machine.
	answered chan struct{}

	// Totals, for the log and the final check that the stream did something.
	ackCreates, ackDeletes         int
	inFlightCreates, keptCreates   int
	inFlightDeletes, appliedDelete int
}

// setupCrash makes the account (limit crashLimit everywhere), its key and two
// instances with the admin command, before any server runs.
func setupCrash(t *testing.T, store []string, seed uint64) *crashEnv {
	t.Helper()
	e := &crashEnv{
		store: store, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		present: map[string]crashImage{}, gone: map[string]bool{}, pendingCreates: map[string]crashImage{},
	}
	var acct struct {
		ID string `json:"accountId"`
	}
	e.admin(t, &acct, "account", "create", "--name", "crash")
	var key struct {
		ID     string `json:"accessKeyId"`
		Secret string `json:"accessKeyPassword"`
	}
	e.admin(t, &key, "key", "create", "--account", acct.ID)
	if acct.ID == "" || key.ID == "" || key.Secret == "" {
		t.Fatalf("admin printed account %q and key %q", acct.ID, key.ID)
	}
	e.account, e.keyID, e.secret = acct.ID, key.ID, key.Secret
	e.admin(t, nil, "quota", "set", "--account", acct.ID, "--max", strconv.Itoa(crashLimit))
	e.addInstance(t, crashInstance{location: "jp-tokyo-1a", diskGB: 40, category: "Ubuntu", osType: "linux", osVersion: "22.04"})
	e.addInstance(t, crashInstance{location: "sg-singapore-1a", diskGB: 80, category: "Windows", osType: "windows", osVersion: "2022"})
	return e
}

// admin runs `imagequota admin` on the store with --output json and decodes
// what it prints into out (unless nil).
func (e *crashEnv) admin(t *testing.T, out any, args ...string) {
	t.Helper()
	argv := append(append(append([]string{"admin"}, e.store...), args...), "--output", "json")
	r := pgRun(t, argv...)
	if r.code != 0 {
		t.Fatalf("imagequota %v: exit %d\n%s", argv, r.code, r.stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
			t.Fatalf("imagequota %v printed %q: %v", argv, r.stdout, err)
		}
	}
}

func (e *crashEnv) addInstance(t *testing.T, in crashInstance) {
	t.Helper()
	var out struct {
		ID       string `json:"instanceId"`
		Location string `json:"location"`
	}
	e.admin(t, &out, "instance", "create", "--account", e.account, "--location", in.location,
		"--disk-gb", strconv.Itoa(in.diskGB), "--os-category", in.category, "--os-type", in.osType, "--os-version", in.osVersion)
	if out.ID == "" || out.Location != in.location {
		t.Fatalf("instance create printed %+v; want an instance in %s", out, in.location)
	}
	in.id = out.ID
	e.insts = append(e.insts, in)
}

// run kills and restarts the server crashRounds times, checking the store
// after each restart, and stops the last server gracefully.
func (e *crashEnv) run(t *testing.T) {
	for round := range crashRounds {
		srv := startCrashServer(t, e.store, crashBinary(t, round))
		if round > 0 {
			e.verify(t, srv, round)
		} else {
			// The admin command also works on a store a server is using.
			e.addInstance(t, crashInstance{location: "de-frankfurt-9a", diskGB: 20, category: "Debian", osType: "linux", osVersion: "12"})
		}
		if t.Failed() {
			return
		}
		e.stream(t, srv, round)
		if t.Failed() {
			return
		}
	}
	srv := startCrashServer(t, e.store, crashBinary(t, crashRounds))
	e.verify(t, srv, crashRounds)
	srv.stop(t)
	e.mu.Lock()
	defer e.mu.Unlock()
	t.Logf("acknowledged: %d creates, %d deletes; in flight at a kill: %d creates (%d kept), %d deletes (%d applied)",
		e.ackCreates, e.ackDeletes, e.inFlightCreates, e.keptCreates, e.inFlightDeletes, e.appliedDelete)
	if e.ackCreates == 0 || e.ackDeletes == 0 {
		t.Errorf("the stream acknowledged %d creates and %d deletes; the test needs both", e.ackCreates, e.ackDeletes)
	}
}

// stream runs crashWorkers clients against srv and kills it a random delay
// after the first answer, recording what was acknowledged and what was in flight.
func (e *crashEnv) stream(t *testing.T, srv *crashServer, round int) {
	t.Helper()
	delay := crashMinDelay + time.Duration(e.rng.Int64N(int64(crashMaxDelay-crashMinDelay)+1))
	seeds := make([]uint64, crashWorkers)
	for i := range seeds {
		seeds[i] = e.rng.Uint64()
	}
	answered := make(chan struct{})
	e.mu.Lock()
	e.answered = answered
	e.mu.Unlock()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range crashWorkers {
		c := pgConnClient(srv.URL, e.keyID, e.secret, crashCallTimeout)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.HTTP.CloseIdleConnections()
			e.worker(t, c, rand.New(rand.NewPCG(seeds[w], uint64(w))), round, w, stop)
		}()
	}
	select {
	case <-answered:
	case <-time.After(crashWait):
		t.Errorf("round %d: no call was answered within %v", round, crashWait)
	}
	time.Sleep(delay)
	srv.kill(t)
	close(stop)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(crashWait):
		t.Fatalf("round %d: the clients did not stop within %v of the kill", round, crashWait)
	}
	settled := ""
	if e.settle != nil {
		settled = fmt.Sprintf("; their effects were final %v after it", e.settle(t).Round(time.Millisecond))
	}
	e.mu.Lock()
	t.Logf("round %d: killed %v after the first answer with %d creates and %d deletes in flight%s", round, delay.Round(time.Millisecond), len(e.pendingCreates), len(e.pendingDeletes), settled)
	e.mu.Unlock()
}

// worker sends CreateImage and DeleteImages until stop is closed or a call
// gets no answer (the server is gone; that call was in flight).
func (e *crashEnv) worker(t *testing.T, c *client.Client, rng *rand.Rand, round, w int, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		var ids []string
		e.mu.Lock()
		if len(e.free) >= 20 && rng.IntN(2) == 0 {
			for range 1 + rng.IntN(3) {
				i := rng.IntN(len(e.free))
				ids = append(ids, e.free[i])
				e.free[i] = e.free[len(e.free)-1]
				e.free = e.free[:len(e.free)-1]
			}
		}
		e.mu.Unlock()
		var inFlight bool
		if ids != nil {
			inFlight = e.deleteImages(t, c, ids)
		} else {
			name := fmt.Sprintf("r%02d-w%d-%05d", round, w, n)
			inFlight = e.createImage(t, c, crashImage{
				name: name, description: "crash test " + name, inst: e.insts[rng.IntN(len(e.insts))],
			})
		}
		if inFlight {
			return
		}
	}
}

// createImage sends one CreateImage and records its outcome; it reports
// whether the call got no answer.
func (e *crashEnv) createImage(t *testing.T, c *client.Client, img crashImage) bool {
	ctx, cancel := context.WithTimeout(context.Background(), crashCallTimeout)
	defer cancel()
	out, err := c.CreateImage(ctx, &vmapi.CreateImageRequest{
		InstanceID: client.String(img.inst.id), ImageName: client.String(img.name), ImageDescription: client.String(img.description),
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr):
		// Every create is valid and under the limit: a refusal is a defect.
		t.Errorf("CreateImage %s: %v", img.name, err)
		return false
	case err != nil:
		e.pendingCreates[img.name] = img
		e.inFlightCreates++
		return true
	}
	if !strings.HasPrefix(out.ImageID, "img-") || out.ImageName != img.name {
		t.Errorf("CreateImage %s answered imageId %q, imageName %q", img.name, out.ImageID, out.ImageName)
		return false
	}
	if _, dup := e.present[out.ImageID]; dup || e.gone[out.ImageID] {
		t.Errorf("CreateImage %s answered imageId %s, which an earlier create already got", img.name, out.ImageID)
		return false
	}
	img.id = out.ImageID
	e.present[img.id] = img
	e.free = append(e.free, img.id)
	e.ackCreates++
	e.acknowledged()
	return false
}

// deleteImages sends one DeleteImages and records its outcome; it reports
// whether the call got no answer.
func (e *crashEnv) deleteImages(t *testing.T, c *client.Client, ids []string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), crashCallTimeout)
	defer cancel()
	err := c.DeleteImages(ctx, &vmapi.DeleteImagesRequest{ImageIDs: ids})
	e.mu.Lock()
	defer e.mu.Unlock()
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr):
		// Every id names an acknowledged, AVAILABLE image: a refusal is a defect.
		t.Errorf("DeleteImages %v: %v", ids, err)
		return false
	case err != nil:
		e.pendingDeletes = append(e.pendingDeletes, ids)
		e.inFlightDeletes++
		return true
	}
	for _, id := range ids {
		delete(e.present, id)
		e.gone[id] = true
	}
	e.ackDeletes++
	e.acknowledged()
	return false
}

// acknowledged notes an acknowledged call for the round's kill delay; e.mu is held.
func (e *crashEnv) acknowledged() {
	if e.answered != nil {
		close(e.answered)
		e.answered = nil
	}
}

// verify checks the store through a freshly started server and settles what
// was in flight at the last kill.
func (e *crashEnv) verify(t *testing.T, srv *crashServer, round int) {
	t.Helper()
	c := pgConnClient(srv.URL, e.keyID, e.secret, crashCallTimeout)
	defer c.HTTP.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), crashWait)
	defer cancel()
	e.mu.Lock()
	defer e.mu.Unlock()

	// Every custom image, once over all locations and once per location: the
	// per-location lists partition the whole, and each has the quota's count.
	all := crashList(ctx, t, c, "")
	q, err := c.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{})
	if err != nil {
		t.Fatalf("after restart %d: DescribeImageQuota: %v", round, err)
	}
	listed := 0
	for _, l := range q.Images {
		here := crashList(ctx, t, c, l.ZoneID)
		if l.Count != len(here) {
			t.Errorf("after restart %d: DescribeImageQuota counts %d images in %s; DescribeImages lists %d", round, l.Count, l.ZoneID, len(here))
		}
		for id, im := range here {
			if im.ZoneID != l.ZoneID {
				t.Errorf("after restart %d: DescribeImages for %s lists %s in %s", round, l.ZoneID, id, im.ZoneID)
			}
			if _, ok := all[id]; !ok {
				t.Errorf("after restart %d: %s is listed in %s but not among all images", round, id, l.ZoneID)
			}
		}
		listed += len(here)
	}
	if listed != len(all) {
		t.Errorf("after restart %d: the locations list %d images in all; DescribeImages without a location lists %d", round, listed, len(all))
	}

	// Each listed image was acknowledged, or is the complete result of a
	// create that was in flight; none was acknowledged deleted.
	for id, got := range all {
		switch want, ok := e.present[id]; {
		case e.gone[id]:
			t.Errorf("after restart %d: %s (%s) was acknowledged deleted but exists", round, id, got.ImageName)
		case ok:
			crashCheckImage(t, round, got, want)
		default:
			want, ok := e.pendingCreates[got.ImageName]
			if !ok {
				t.Errorf("after restart %d: %s (%q in %s) is an image nobody asked for", round, id, got.ImageName, got.ZoneID)
				continue
			}
			want.id = id
			crashCheckImage(t, round, got, want)
			delete(e.pendingCreates, got.ImageName)
			e.present[id] = want
			e.free = append(e.free, id)
			e.keptCreates++
		}
	}
	// A create in flight that left nothing is forgotten: it cannot appear later.
	clear(e.pendingCreates)

	// Each delete in flight took effect for all its ids or for none.
	for _, ids := range e.pendingDeletes {
		var left []string
		for _, id := range ids {
			if _, ok := all[id]; ok {
				left = append(left, id)
			}
		}
		switch len(left) {
		case len(ids):
			e.free = append(e.free, ids...)
		case 0:
			for _, id := range ids {
				delete(e.present, id)
				e.gone[id] = true
			}
			e.appliedDelete++
		default:
			t.Errorf("after restart %d: DeleteImages %v was in flight and only %v of them are left; a delete is all or none", round, ids, left)
			for _, id := range ids {
				if !slices.Contains(left, id) {
					delete(e.present, id) // reported once, here
				}
			}
		}
	}
	e.pendingDeletes = nil

	// Looked up by id: every acknowledged create is there, every acknowledged
	// delete is not.
	var presentIDs, goneIDs []string
	for id := range e.present {
		presentIDs = append(presentIDs, id)
		if _, ok := all[id]; !ok {
			t.Errorf("after restart %d: %s (%s) was acknowledged created but is not listed", round, id, e.present[id].name)
		}
	}
	for id := range e.gone {
		goneIDs = append(goneIDs, id)
	}
	found := crashByID(ctx, t, c, presentIDs)
	for _, id := range presentIDs {
		if got, ok := found[id]; !ok {
			t.Errorf("after restart %d: DescribeImages by id does not find %s (%s), which was acknowledged created", round, id, e.present[id].name)
		} else {
			crashCheckImage(t, round, got, e.present[id])
		}
	}
	for id := range crashByID(ctx, t, c, goneIDs) {
		t.Errorf("after restart %d: DescribeImages by id finds %s, which was acknowledged deleted", round, id)
	}
}

// crashCheckImage checks that got is the complete image want describes.
func crashCheckImage(t *testing.T, round int, got vmapi.ImageInfo, want crashImage) {
	t.Helper()
	wantInfo := vmapi.ImageInfo{
		ImageID: want.id, ImageName: want.name, ImageType: quota.ImageTypeCustom, ImageSize: strconv.Itoa(want.inst.diskGB),
		ImageDescription: &want.description, ImageVersion: want.inst.osVersion, ImageStatus: quota.StatusAvailable,
		Category: want.inst.category, OSType: want.inst.osType, ZoneID: want.inst.location, RegionID: want.inst.location,
	}
	if got.ImageDescription == nil || *got.ImageDescription != want.description {
		t.Errorf("after restart %d: %s has imageDescription %v; want %q", round, want.id, crashStr(got.ImageDescription), want.description)
	}
	got.ImageDescription, wantInfo.ImageDescription = nil, nil
	if got != wantInfo {
		t.Errorf("after restart %d: image is\n%+v\nwant\n%+v", round, got, wantInfo)
	}
}

func crashStr(p *string) string {
	if p == nil {
		return "null"
	}
	return strconv.Quote(*p)
}

// crashList lists every custom image of the account in location ("" for all
// locations), page by page.
func crashList(ctx context.Context, t *testing.T, c *client.Client, location string) map[string]vmapi.ImageInfo {
	t.Helper()
	out := map[string]vmapi.ImageInfo{}
	in := &vmapi.DescribeImagesRequest{ImageType: client.String(quota.ImageTypeCustom), PageSize: client.Int(1000)}
	if location != "" {
		in.ZoneID = client.String(location)
	}
	for page := 1; ; page++ {
		in.PageNum = client.Int(page)
		r, err := c.DescribeImages(ctx, in)
		if err != nil {
			t.Fatalf("DescribeImages in %q, page %d: %v", location, page, err)
		}
		for _, im := range r.DataSet {
			if _, dup := out[im.ImageID]; dup {
				t.Errorf("DescribeImages in %q lists %s twice", location, im.ImageID)
			}
			out[im.ImageID] = im
		}
		if len(r.DataSet) == 0 || len(out) >= r.TotalCount {
			if len(out) != r.TotalCount {
				t.Errorf("DescribeImages in %q: totalCount %d, listed %d", location, r.TotalCount, len(out))
			}
			return out
		}
	}
}

// crashByID looks images up by id, quota.MaxIDsPerRequest at a time.
func crashByID(ctx context.Context, t *testing.T, c *client.Client, ids []string) map[string]vmapi.ImageInfo {
	t.Helper()
	out := map[string]vmapi.ImageInfo{}
	for batch := range slices.Chunk(ids, quota.MaxIDsPerRequest) {
		r, err := c.DescribeImages(ctx, &vmapi.DescribeImagesRequest{
			ImageIDs: batch, ImageType: client.String(quota.ImageTypeCustom), PageSize: client.Int(quota.MaxIDsPerRequest),
		})
		if err != nil {
			t.Fatalf("DescribeImages by %d ids: %v", len(batch), err)
		}
		if r.TotalCount != len(r.DataSet) {
			t.Errorf("DescribeImages by %d ids: totalCount %d, listed %d", len(batch), r.TotalCount, len(r.DataSet))
		}
		for _, im := range r.DataSet {
			if !slices.Contains(batch, im.ImageID) {
				t.Errorf("DescribeImages by ids %v lists %s", batch, im.ImageID)
			}
			out[im.ImageID] = im
		}
	}
	return out
}

// crashBinary is the binary of round's server: the race detector's build
// (testkit.Binary) for the first round and for the last server, which is
// stopped gracefully, so that the detector watches a stream, a kill, a
// restart on what the kill left and a clean exit; the plain build
// (testkit.Tool) for the rounds between, which starts and serves several
// times faster and is what runs in production.
func crashBinary(t *testing.T, round int) string {
	t.Helper()
	if round == 0 || round == crashRounds {
		return testkit.Binary(t)
	}
	return testkit.Tool(t)
}

// crashServer is an `imagequota serve` process that the test kills.
type crashServer struct{ *binServer }

// startCrashServer starts `imagequota serve` on store and waits for the URL it
// prints; the process is killed when the test ends if it still runs.
func startCrashServer(t *testing.T, store []string, bin string) *crashServer {
	t.Helper()
	args := append(append([]string{"serve"}, store...), "--addr", "127.0.0.1:0", "--image-build-time", "0")
	s := &crashServer{startBinServerOf(t, bin, pgCleanEnv(), args, crashWait)}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(crashWait):
			t.Errorf("imagequota serve (pid %d) did not exit within %v of SIGKILL", s.cmd.Process.Pid, crashWait)
		}
		if t.Failed() {
			if notes := s.notes(); notes != "" {
				t.Logf("imagequota serve (pid %d) logged:\n%s", s.cmd.Process.Pid, notes)
			}
		}
	})
	return s
}

// kill sends SIGKILL, waits for the process to be gone and checks that the
// race detector reported nothing before it.
func (s *crashServer) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	s.wait(t, "SIGKILL")
	s.checkRaces(t)
}

// stop stops the server gracefully (SIGINT) and checks that it exits with 0,
// which the race detector turns into 66 when it found a race.
func (s *crashServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	s.wait(t, "SIGINT")
	s.checkRaces(t)
	if code := s.state.ExitCode(); code != 0 {
		t.Errorf("imagequota serve exited with %d after SIGINT:\n%s", code, s.notes())
	}
}

func (s *crashServer) wait(t *testing.T, signal string) {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(crashWait):
		t.Fatalf("imagequota serve (pid %d) did not exit within %v of %s", s.cmd.Process.Pid, crashWait, signal)
	}
}
