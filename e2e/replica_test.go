package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit/pgtest"
	"github.com/imagequota/imagequota/vmapi"
)

// replicaEnv is two `imagequota serve` processes on one PostgreSQL database,
// with an account (limit 5 in Tokyo) and instances in Tokyo and Singapore,
// all made with the binary's own migrate and admin commands.
type replicaEnv struct {
	replicas         []*pgServer
	account          string
	keyID, secret    string
	tokyo, singapore string // instance ids
	tokyoLoc, sgLoc  string
	tokyoMax         int
}

func setupReplicas(t *testing.T) *replicaEnv {
	t.Helper()
	dbURL := pgtest.NewSchema(t)
	if r := pgRun(t, "migrate", "--db", dbURL); r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
	}
	e := &replicaEnv{tokyoLoc: "jp-tokyo-1a", sgLoc: "sg-singapore-1a", tokyoMax: 5}
	var acct struct {
		ID string `json:"accountId"`
	}
	pgAdmin(t, dbURL, &acct, "account", "create", "--name", "replicas")
	var key struct {
		ID     string `json:"accessKeyId"`
		Secret string `json:"accessKeyPassword"`
	}
	pgAdmin(t, dbURL, &key, "key", "create", "--account", acct.ID)
	var tokyo, sg struct {
		ID string `json:"instanceId"`
	}
	pgAdmin(t, dbURL, &tokyo, "instance", "create", "--account", acct.ID, "--location", e.tokyoLoc)
	pgAdmin(t, dbURL, &sg, "instance", "create", "--account", acct.ID, "--location", e.sgLoc)
	pgAdmin(t, dbURL, nil, "quota", "set", "--account", acct.ID, "--location", e.tokyoLoc, "--max", fmt.Sprint(e.tokyoMax))
	if acct.ID == "" || key.ID == "" || key.Secret == "" || tokyo.ID == "" || sg.ID == "" {
		t.Fatalf("admin commands printed account %q, key %q, instances %q and %q", acct.ID, key.ID, tokyo.ID, sg.ID)
	}
	e.account, e.keyID, e.secret, e.tokyo, e.singapore = acct.ID, key.ID, key.Secret, tokyo.ID, sg.ID
	// The request timeout is generous: this test is about what is admitted,
	// not how fast; 200 creates for one location queue on one lock.
	for i := 0; i < 2; i++ {
		e.replicas = append(e.replicas, pgServeOf(t, replicaBinary(t, i), dbURL, "--image-build-time", "0", "--db-max-conns", "8", "--request-timeout", "60s"))
	}
	if e.replicas[0].URL == e.replicas[1].URL {
		t.Fatalf("both replicas listen on %s", e.replicas[0].URL)
	}
	return e
}

// client returns a client of replica i with its own connections.
func (e *replicaEnv) client(i int) *client.Client {
	return pgConnClient(e.replicas[i%len(e.replicas)].URL, e.keyID, e.secret, 2*time.Minute)
}

// replicaAnswer is the outcome of one CreateImage.
type replicaAnswer struct {
	imageID string
	status  int
	code    string
	err     error
}

// createAll sends n CreateImage calls at once, alternating between the
// replicas, each on its own connection.
func (e *replicaEnv) createAll(t *testing.T, n int, req func(i int) *vmapi.CreateImageRequest) []replicaAnswer {
	t.Helper()
	out := make([]replicaAnswer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client(i)
			defer c.HTTP.CloseIdleConnections()
			<-start
			resp, err := c.CreateImage(context.Background(), req(i))
			a := &out[i]
			switch {
			case err == nil:
				a.imageID, a.status = resp.ImageID, http.StatusOK
			default:
				a.err = err
				if ce, ok := err.(*client.Error); ok {
					a.status, a.code, a.err = ce.HTTPStatus, ce.Code, nil
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// quotaOf asks replica i for the account's count and limit in loc.
func (e *replicaEnv) quotaOf(t *testing.T, i int, loc string) (count, max int) {
	t.Helper()
	c := e.client(i)
	defer c.HTTP.CloseIdleConnections()
	q, err := c.DescribeImageQuota(context.Background(), &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{loc}})
	if err != nil || len(q.Images) != 1 {
		t.Fatalf("DescribeImageQuota(%s) on replica %d = %+v, %v", loc, i, q, err)
	}
	return q.Images[0].Count, q.Images[0].MaxCount
}

// TestReplicasShareOneQuota: two server processes on one PostgreSQL admit
// exactly the limit between them under 200 concurrent creates, and 50
// concurrent retries of one clientToken across both make exactly one image.
func TestReplicasShareOneQuota(t *testing.T) {
	parallelFirst(t)
	e := setupReplicas(t)

	const creates = 200
	answers := e.createAll(t, creates, func(i int) *vmapi.CreateImageRequest {
		return &vmapi.CreateImageRequest{InstanceID: client.String(e.tokyo), ImageName: client.String(fmt.Sprintf("replica-%d", i))}
	})
	admitted := map[string]bool{}
	refused := 0
	perReplica := [2]int{}
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Fatalf("create %d got no answer: %v", i, a.err)
		case a.status == http.StatusOK:
			admitted[a.imageID] = true
			perReplica[i%2]++
		case a.status == http.StatusBadRequest && a.code == quota.CodeImageQuotaExceeded:
			refused++
		default:
			t.Fatalf("create %d answered %d %s; want 200 or 400 %s", i, a.status, a.code, quota.CodeImageQuotaExceeded)
		}
	}
	if len(admitted) != e.tokyoMax || refused != creates-e.tokyoMax {
		t.Fatalf("%d creates admitted (%d distinct images) and %d refused; want exactly %d and %d",
			perReplica[0]+perReplica[1], len(admitted), refused, e.tokyoMax, creates-e.tokyoMax)
	}
	t.Logf("admitted by replica: %v", perReplica)
	for i := range e.replicas {
		if count, max := e.quotaOf(t, i, e.tokyoLoc); count != e.tokyoMax || max != e.tokyoMax {
			t.Fatalf("replica %d reports count %d, maxCount %d in %s; want %d and %d", i, count, max, e.tokyoLoc, e.tokyoMax, e.tokyoMax)
		}
	}

	// One clientToken, 50 times at once across both replicas, in a location
	// with room: one image, and every answer names it.
	const retries = 50
	tokenAnswers := e.createAll(t, retries, func(int) *vmapi.CreateImageRequest {
		return &vmapi.CreateImageRequest{InstanceID: client.String(e.singapore), ImageName: client.String("tokened"),
			ClientToken: client.String("replica-token-1")}
	})
	for i, a := range tokenAnswers {
		if a.err != nil || a.status != http.StatusOK || a.imageID == "" || a.imageID != tokenAnswers[0].imageID {
			t.Fatalf("token create %d = %+v; want 200 with image %q like the first", i, a, tokenAnswers[0].imageID)
		}
	}
	for i := range e.replicas {
		if count, _ := e.quotaOf(t, i, e.sgLoc); count != 1 {
			t.Fatalf("replica %d counts %d images in %s after 50 creates with one clientToken, want 1", i, count, e.sgLoc)
		}
	}
	c := e.client(1)
	defer c.HTTP.CloseIdleConnections()
	list, err := c.DescribeImages(context.Background(), &vmapi.DescribeImagesRequest{ImageType: client.String(quota.ImageTypeCustom), PageSize: client.Int(100)})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	var ids []string
	for _, im := range list.DataSet {
		ids = append(ids, im.ImageID)
	}
	if len(ids) != e.tokyoMax+1 || !strings.Contains(strings.Join(ids, " "), tokenAnswers[0].imageID) {
		t.Fatalf("DescribeImages lists %v; want the %d admitted images and %s", ids, e.tokyoMax, tokenAnswers[0].imageID)
	}
}
