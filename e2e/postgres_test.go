package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

// pgMigrations is what `imagequota migrate status --output json` prints.
type pgMigrations []struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

func pgStatus(t *testing.T, dbURL string) pgMigrations {
	t.Helper()
	r := pgRun(t, "migrate", "--db", dbURL, "status", "--output", "json")
	if r.code != 0 {
		t.Fatalf("migrate status: exit %d\n%s", r.code, r.stderr)
	}
	var ms pgMigrations
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) == 0 {
		t.Fatalf("migrate status printed %q: %v", r.stdout, err)
	}
	return ms
}

// TestPostgresMigrateCommand: `imagequota migrate` shows and applies the
// migrations of a PostgreSQL database, and a second run has nothing to do.
func TestPostgresMigrateCommand(t *testing.T) {
	parallel(t)
	dbURL := pgtest.NewSchema(t)
	before := pgStatus(t, dbURL)
	for _, m := range before {
		if m.Applied {
			t.Fatalf("a new database has %s applied", m.Name)
		}
	}
	table := pgRun(t, "migrate", "--db", dbURL, "status")
	if table.code != 0 || !strings.Contains(table.stdout, before[0].Name) || !strings.Contains(table.stdout, "pending") {
		t.Fatalf("migrate status (table) = exit %d %q", table.code, table.stdout)
	}

	steps := []struct {
		name string
		args []string
		want []string
	}{
		{"up by default", []string{"migrate", "--db", dbURL}, []string{"applied " + before[0].Name}},
		{"up again", []string{"migrate", "--db", dbURL, "up"}, []string{"up to date"}},
		{"status", []string{"migrate", "--db", dbURL, "status"}, []string{before[0].Name, "applied"}},
	}
	for _, s := range steps {
		r := pgRun(t, s.args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", s.name, r.code, r.stderr)
		}
		for _, w := range s.want {
			if !strings.Contains(r.stdout, w) {
				t.Fatalf("%s printed %q, want %q in it", s.name, r.stdout, w)
			}
		}
	}
	for _, m := range pgStatus(t, dbURL) {
		if !m.Applied {
			t.Fatalf("after migrate, %s is still pending", m.Name)
		}
	}
}

// TestPostgresConcurrentMigrateCommands: several `imagequota migrate` at once
// (replicas deploying together) all succeed, and exactly one applies each
// migration.
func TestPostgresConcurrentMigrateCommands(t *testing.T) {
	parallel(t)
	dbURL := pgtest.NewSchema(t)
	const n = 6
	results := make([]pgResult, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = pgRun(t, "migrate", "--db", dbURL)
		}()
	}
	wg.Wait()
	appliers := 0
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("migrate %d: exit %d\n%s", i, r.code, r.stderr)
		}
		if strings.Contains(r.stdout, "applied ") {
			appliers++
		} else if !strings.Contains(r.stdout, "up to date") {
			t.Fatalf("migrate %d printed %q", i, r.stdout)
		}
	}
	if appliers != 1 {
		t.Fatalf("%d of %d concurrent migrates applied migrations, want exactly 1", appliers, n)
	}
}

// TestPostgresServeRefusesSchemaBehind: `imagequota serve` (and admin) on a
// schema that is behind exits with a message saying to run migrate.
func TestPostgresServeRefusesSchemaBehind(t *testing.T) {
	parallel(t)
	pgRequirePostgres(t)
	tests := []struct {
		name   string
		behind func(t *testing.T, dbURL string)
	}{
		{"never migrated", func(*testing.T, string) {}},
		{"newest migration missing", func(t *testing.T, dbURL string) {
			ms := pgStatus(t, dbURL)
			if r := pgRun(t, "migrate", "--db", dbURL); r.code != 0 {
				t.Fatalf("migrate: %s", r.stderr)
			}
			db, err := sql.Open("pgx", dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(t.Context(), fmt.Sprintf(`DELETE FROM schema_migrations WHERE version = %d`, ms[len(ms)-1].Version)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parallelSub(t)
			dbURL := pgtest.NewSchema(t)
			tc.behind(t, dbURL)
			for _, args := range [][]string{
				{"serve", "--db", dbURL, "--addr", "127.0.0.1:0"},
				{"admin", "--db", dbURL, "account", "list"},
			} {
				r := pgRun(t, args...)
				if r.code == 0 || !strings.Contains(r.stderr, "imagequota migrate") || !strings.Contains(r.stderr, "behind") {
					t.Fatalf("imagequota %s on a schema that is behind: exit %d, stderr %q; want a failure saying to run imagequota migrate",
						args[0], r.code, r.stderr)
				}
				if strings.Contains(r.stdout, "listening") {
					t.Fatalf("imagequota serve listened on a schema that is behind: %q", r.stdout)
				}
			}
		})
	}
}

// pgAnswer is one API answer seen during the outage test.
type pgAnswer struct {
	action  string
	status  int
	code    string
	imageID string // of a CreateImage that succeeded
	err     error  // no answer within the client's timeout
}

// TestPostgresOutage: while PostgreSQL is unreachable, every API request is
// answered within 5 s with 503 SERVICE_TEMPORARY_UNAVAILABLE (never a hang,
// never a 500), /readyz fails, and the server recovers by itself when the
// database returns.
func TestPostgresOutage(t *testing.T) {
	parallel(t)
	const answerBound = 5 * time.Second
	proxy, proxied := testkit.ProxyPostgres(t, pgtest.NewSchema(t))
	// serve's default request deadline, which answers within answerBound.
	srv := testkit.Start(t, testkit.Options{DB: testkit.OpenStore(t, proxied, store.Options{MaxConns: 8}), RequestTimeout: 4 * time.Second})
	acct := srv.NewAccount(t)
	inst := srv.NewInstance(t, acct.ID, "jp-tokyo-1a")
	if _, err := srv.DB.SetLimit(t.Context(), quota.LimitOverride{AccountID: acct.ID, MaxCount: quota.MaxLimit}, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: answerBound}
	ready := func() int {
		resp, err := hc.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatalf("/readyz gave no answer within %v: %v", answerBound, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := ready(); s != http.StatusOK {
		t.Fatalf("/readyz before the outage = %d", s)
	}

	// Workers call the API without pause, before, during and after the outage.
	requests := []struct {
		action string
		body   any
	}{
		{"CreateImage", &vmapi.CreateImageRequest{InstanceID: client.String(inst.ID), ImageName: client.String("outage")}},
		{"DescribeImageQuota", &vmapi.DescribeImageQuotaRequest{}},
		{"DescribeImages", &vmapi.DescribeImagesRequest{}},
		{"DescribeRegions", &vmapi.DescribeRegionsRequest{}},
	}
	var (
		mu      sync.Mutex
		answers []pgAnswer
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := pgConnClient(srv.URL, acct.Key.ID, acct.Key.Secret, answerBound)
			defer c.HTTP.CloseIdleConnections()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := requests[i%len(requests)]
				a := pgAnswer{action: req.action}
				body, _ := json.Marshal(req.body)
				resp, err := c.Do(context.Background(), req.action, body)
				if err != nil {
					a.err = err
				} else {
					var created vmapi.CreateImageResponse
					a.status = resp.HTTPStatus
					a.code = client.ErrorCode(resp.Decode(&created))
					a.imageID = created.ImageID
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			}
		}()
	}
	// count returns how many answers so far satisfy ok.
	count := func(ok func(pgAnswer) bool) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range answers {
			if ok(a) {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, n int, ok func(pgAnswer) bool) {
		t.Helper()
		base := count(ok)
		for deadline := time.Now().Add(30 * time.Second); count(ok) < base+n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("waited 30 s for %d %s", n, what)
			}
		}
	}
	succeeded := func(a pgAnswer) bool { return a.err == nil && a.status == http.StatusOK }
	unavailable := func(a pgAnswer) bool {
		return a.err == nil && a.status == http.StatusServiceUnavailable && a.code == quota.CodeUnavailable
	}

	waitFor("successes before the outage", 20, succeeded)
	proxy.Cut()
	waitFor("503 answers during the outage", 40, unavailable)
	if s := ready(); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage = %d, want 503", s)
	}
	proxy.Restore(t)
	waitFor("successes after the outage", 20, succeeded)
	close(stop)
	wg.Wait()
	if s := ready(); s != http.StatusOK {
		t.Errorf("/readyz after the outage = %d, want 200", s)
	}

	byOutcome := map[string]int{}
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("%s got no answer within %v: %v", a.action, answerBound, a.err)
		case !succeeded(a) && !unavailable(a):
			t.Errorf("%s answered %d %s; want 200, or 503 %s", a.action, a.status, a.code, quota.CodeUnavailable)
		}
		byOutcome[fmt.Sprintf("%s %d %s", a.action, a.status, a.code)]++
	}
	t.Logf("answers: %v", byOutcome)

	// Nothing was lost: every acknowledged image is stored. (Identical
	// creates sent in the same second are one request, answered with one
	// image: the server recognises the signature.)
	acked := map[string]bool{}
	for _, a := range answers {
		if a.action == "CreateImage" && succeeded(a) {
			if a.imageID == "" {
				t.Fatalf("a CreateImage succeeded without an imageId")
			}
			acked[a.imageID] = true
		}
	}
	imgs, err := srv.DB.ListImages(t.Context(), acct.ID, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, im := range imgs {
		stored[im.ID] = true
	}
	for id := range acked {
		if !stored[id] {
			t.Fatalf("image %s was acknowledged but is not stored (%d stored, %d acknowledged)", id, len(imgs), len(acked))
		}
	}
}
