package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/signing"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

// TestReplayedWriteDoneOnce: one signed write sent again — an SDK's retry,
// or a captured copy — gets the first answer and does not do the work
// again: ten copies of a CreateImage make one image, two of a DeleteImages
// both succeed.
func TestReplayedWriteDoneOnce(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	inst := e.srv.NewInstance(t, e.acct.ID, "jp-tokyo-1a")
	create := e.call("CreateImage", `{"instanceId":"`+inst.ID+`","imageName":"once"}`)
	var first string
	for i := range 10 {
		resp := e.send(t, create).wantOK(t)
		id, _ := resp["imageId"].(string)
		if i == 0 {
			first = id
		}
		if id == "" || id != first || resp["imageName"] != "once" {
			t.Fatalf("copy %d answered %v, want imageId %s", i, resp, first)
		}
	}
	list := e.send(t, e.call("DescribeImages", `{"imageType":"CUSTOM_IMAGE"}`)).wantOK(t)
	if n := list["totalCount"]; n != float64(1) {
		t.Fatalf("%v custom images after ten copies of one CreateImage, want 1", n)
	}
	del := e.call("DeleteImages", `{"imageIds":["`+first+`"]}`)
	e.send(t, del).wantOK(t)
	e.send(t, del).wantOK(t)
	// A new request (new signature) for the same image finds it gone.
	e.now = e.now.Add(time.Second)
	e.send(t, e.call("DeleteImages", `{"imageIds":["`+first+`"]}`)).wantError(t, http.StatusNotFound, quota.CodeImageNotFound)
}

// TestSignatureReusedUnderAnotherAction: a signed write, once answered, cannot
// be presented again as another action (X-ZC-Action is not signed): the
// copy is refused and changes nothing.
func TestSignatureReusedUnderAnotherAction(t *testing.T) {
	parallel(t)
	e := setup(t, testkit.Options{})
	ids := e.createImages(t, e.acct, "jp-tokyo-1a", 1)
	rename := e.call("ModifyImagesAttributes", `{"imageIds":["`+ids[0]+`"],"imageName":"renamed"}`)
	e.send(t, rename).wantOK(t)
	e.send(t, rename.set("X-ZC-Action", "DeleteImages")).wantError(t, http.StatusUnauthorized, quota.CodeSignatureReused)
	list := e.send(t, e.call("DescribeImages", `{"imageIds":["`+ids[0]+`"]}`)).wantOK(t)
	if n := list["totalCount"]; n != float64(1) {
		t.Fatalf("the image is gone after its rename's signature was sent as DeleteImages (%v left)", n)
	}
}

// TestReplayAcrossReplicas: a CreateImage sent to one replica and then,
// byte for byte (the same Host, as behind a load balancer), to the other
// makes one image, and both answer with it.
func TestReplayAcrossReplicas(t *testing.T) {
	pgRequirePostgres(t)
	parallel(t)
	e := setupReplicas(t)
	u, err := url.Parse(e.replicas[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	body := []byte(`{"instanceId":"` + e.tokyo + `","imageName":"across"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	auth := signing.AuthorizationHeader(e.keyID, signing.Sign(e.secret, ts, "application/json", host, body))
	var ids []string
	for _, r := range e.replicas {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, r.URL+vmapi.Path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-ZC-Action", "CreateImage")
		req.Header.Set("X-ZC-Timestamp", ts)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env struct {
			Response struct {
				ImageID string `json:"imageId"`
			} `json:"response"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &env) != nil || env.Response.ImageID == "" {
			t.Fatalf("%s: HTTP %d %s", r.URL, resp.StatusCode, b)
		}
		ids = append(ids, env.Response.ImageID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("the replicas answered images %s and %s for one request", ids[0], ids[1])
	}
	for i := range e.replicas {
		if count, _ := e.quotaOf(t, i, e.tokyoLoc); count != 1 {
			t.Fatalf("replica %d counts %d images, want 1", i, count)
		}
	}
}
