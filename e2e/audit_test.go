package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/vmapi"
)

// TestAuditTrail: every change — here the account, key and instance setup
// made, a limit, and an image's create, modify and delete — is recorded with time, account, actor, request id, action, before and after,
// and `imagequota admin audit list` shows it.
func TestAuditTrail(t *testing.T) {
	parallel(t)
	e := setupImages(t, testkit.Options{})
	ctx := context.Background()
	// The records are stamped by the server's clock, a test clock that
	// stands at the time setup began, however long setup took.
	started := e.clock.Now().Add(-time.Second)
	if _, err := e.srv.DB.SetLimit(ctx, quota.LimitOverride{AccountID: e.acct.ID, LocationID: tokyo, MaxCount: 3}, quota.AdminActor); err != nil {
		t.Fatal(err)
	}
	// Raw calls, to learn each request id.
	call := func(action string, in any) (string, json.RawMessage) {
		t.Helper()
		body, _ := json.Marshal(in)
		r, err := e.acct.Client.Do(ctx, action, body)
		if err != nil {
			t.Fatal(err)
		}
		var out json.RawMessage
		if err := r.Decode(&out); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		return r.RequestID, out
	}
	createID, out := call("CreateImage", vmapi.CreateImageRequest{InstanceID: &e.inst.ID, ImageName: client.String("a1")})
	var created vmapi.CreateImageResponse
	_ = json.Unmarshal(out, &created)
	modifyID, _ := call("ModifyImagesAttributes", vmapi.ModifyImagesAttributesRequest{ImageIDs: []string{created.ImageID}, ImageName: client.String("a2")})
	deleteID, _ := call("DeleteImages", vmapi.DeleteImagesRequest{ImageIDs: []string{created.ImageID}})
	// A refused call changes nothing and records nothing.
	_, err := e.acct.Client.Do(ctx, "DeleteImages", []byte(`{"imageIds":["`+created.ImageID+`"]}`))
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(testkit.Tool(t), "admin", "--db", e.url, "audit", "list", "--account", e.acct.ID,
		"--since", started.Format(time.RFC3339), "--output", "json")
	cmd.Env = pgCleanEnv()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("audit list: %v\n%s", err, b)
	}
	var recs []struct {
		At        time.Time       `json:"at"`
		AccountID string          `json:"accountId"`
		Actor     string          `json:"actor"`
		RequestID string          `json:"requestId"`
		Action    string          `json:"action"`
		Target    string          `json:"target"`
		Before    json.RawMessage `json:"before"`
		After     json.RawMessage `json:"after"`
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatalf("audit list: %v\n%s", err, b)
	}
	want := []struct{ action, actor, requestID, before, after string }{
		// What setup made, with the store's methods for the operator.
		{"CreateAccount", "admin", "", "null", e.acct.ID},
		{"CreateAccessKey", "admin", "", "null", e.acct.Key.ID},
		{"CreateInstance", "admin", "", "null", e.inst.ID},
		{"SetLimit", "admin", "", "null", `{"maxCount":3}`},
		{"CreateImage", e.acct.Key.ID, createID, "null", "a1"},
		{"ModifyImagesAttributes", e.acct.Key.ID, modifyID, "a1", "a2"},
		{"DeleteImages", e.acct.Key.ID, deleteID, "a2", "null"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(recs), len(want), b)
	}
	for i, w := range want {
		r := recs[i]
		if r.Action != w.action || r.Actor != w.actor || r.RequestID != w.requestID || r.AccountID != e.acct.ID {
			t.Errorf("record %d: %+v, want action %s actor %s request %s", i, r, w.action, w.actor, w.requestID)
		}
		if r.At.Before(started) || r.At.After(time.Now().Add(time.Minute)) {
			t.Errorf("record %d: time %v", i, r.At)
		}
		compact := func(raw json.RawMessage) string {
			var buf bytes.Buffer
			if json.Compact(&buf, raw) != nil {
				return string(raw)
			}
			return buf.String()
		}
		for _, side := range []struct {
			name, got, want string
		}{{"before", compact(r.Before), w.before}, {"after", compact(r.After), w.after}} {
			if side.want == "null" {
				if side.got != "null" && side.got != "" {
					t.Errorf("record %d %s: %s, want null", i, side.name, side.got)
				}
			} else if !json.Valid([]byte(side.got)) || !strings.Contains(side.got, side.want) {
				t.Errorf("record %d %s: %s, want it to hold %s", i, side.name, side.got, side.want)
			}
		}
	}
}
