package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/testkit"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/vmapi"
)

// countingTransport records the status of every response and when, by
// the clock now, it came.
type countingTransport struct {
	now      func() time.Time
	mu       sync.Mutex
	statuses []int
	at       []time.Time
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		c.statuses = append(c.statuses, resp.StatusCode)
		c.at = append(c.at, c.now())
		c.mu.Unlock()
	}
	return resp, err
}

// TestRateLimitWithSDKBackoff: over --rate-limit a credential gets 429
// REQUEST_LIMIT_EXCEEDED; a client that backs off 1 s, 2 s, 4 s as the
// official SDK does then succeeds. Another credential is not affected. The
// server's clock is a test clock, and the client's backoff advances it, so
// the seconds of backoff pass at once.
func TestRateLimitWithSDKBackoff(t *testing.T) {
	parallel(t)
	clock := testkit.NewClock(time.Now().UTC())
	// One request every 4 s per credential, no burst beyond one.
	srv := testkit.Start(t, testkit.Options{RateLimit: 0.25, RateBurst: 1, Now: clock.Now})
	acct := srv.NewAccount(t)
	acct.Client.Now = clock.Now
	ctx := context.Background()

	plain := *acct.Client
	if _, err := plain.DescribeImageQuota(ctx, nil); err != nil {
		t.Fatalf("first request: %v", err)
	}
	_, err := plain.DescribeImageQuota(ctx, nil)
	mustCode(t, err, quota.CodeRequestLimitExceeded)
	var apiErr *client.Error
	if e, ok := err.(*client.Error); !ok || e.HTTPStatus != http.StatusTooManyRequests {
		t.Fatalf("throttled answer: %#v", apiErr)
	}

	// Another account's key has its own bucket.
	other := srv.NewAccount(t)
	other.Client.Now = clock.Now
	if _, err := other.Client.DescribeImageQuota(ctx, nil); err != nil {
		t.Fatalf("another credential was throttled: %v", err)
	}

	// The SDK's schedule: the same signed request again after 1, 2 and 4 s.
	tr := &countingTransport{now: clock.Now}
	sdk := *acct.Client
	sdk.HTTP = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	sdk.Backoff = client.SDKBackoff
	var waits []time.Duration
	sdk.Sleep = func(_ context.Context, d time.Duration) {
		waits = append(waits, d)
		clock.Advance(d)
	}
	start := clock.Now()
	if _, err := sdk.DescribeImageQuota(ctx, nil); err != nil {
		t.Fatalf("with the SDK's backoff: %v", err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.statuses); n < 2 || tr.statuses[n-1] != http.StatusOK {
		t.Fatalf("statuses %v: want some 429s, then 200", tr.statuses)
	}
	for i, s := range tr.statuses[:len(tr.statuses)-1] {
		if s != http.StatusTooManyRequests {
			t.Fatalf("attempt %d: status %d, want 429 (statuses %v)", i, s, tr.statuses)
		}
	}
	// The client waited the schedule's 1 s, 2 s, 4 s between attempts.
	if want := client.SDKBackoff[:len(tr.statuses)-1]; !slices.Equal(waits, want) {
		t.Fatalf("the client waited %v between attempts; the schedule says %v", waits, want)
	}
	for i := 1; i < len(tr.at); i++ {
		want := client.SDKBackoff[i-1]
		if gap := tr.at[i].Sub(tr.at[i-1]); gap < want {
			t.Fatalf("attempt %d came %v after the previous one; the schedule says %v", i, gap, want)
		}
	}
	t.Logf("succeeded after %d throttled attempts, %v later on the server's clock", len(tr.statuses)-1, clock.Now().Sub(start))
}

// TestSlowClientCannotHoldTheServer: a client that sends its body one byte a
// second is cut off by the read timeout, and while it trickles the same
// account's writes go through (no transaction is open for it).
func TestSlowClientCannotHoldTheServer(t *testing.T) {
	parallel(t)
	srv := testkit.Start(t, testkit.Options{Timeouts: zcapi.Timeouts{ReadHeader: time.Second, Read: 2 * time.Second}})
	acct := srv.NewAccount(t)
	inst := srv.NewInstance(t, acct.ID, tokyo)
	addr := strings.TrimPrefix(srv.URL, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"instanceId":"` + inst.ID + `","imageName":"slow"}`
	fmt.Fprintf(conn, "POST /api/v2/vm HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-ZC-Action: CreateImage\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	cut := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		for i := 0; i < len(body); i++ {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				break
			}
			time.Sleep(time.Second)
		}
		cut <- time.Since(start)
	}()
	// Meanwhile a normal create for the same account and location succeeds.
	if _, err := acct.Client.CreateImage(context.Background(), &vmapi.CreateImageRequest{InstanceID: &inst.ID, ImageName: client.String("fast")}); err != nil {
		t.Fatalf("a normal create while a slow client trickles: %v", err)
	}
	// The slow connection is closed long before its body could arrive.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	rest, _ := io.ReadAll(conn)
	if elapsed := time.Since(start); elapsed > 15*time.Second {
		t.Fatalf("the slow connection was held %v; the read timeout is 2 s", elapsed)
	}
	if strings.Contains(string(rest), " 200 ") {
		t.Fatalf("the slow request was served: %q", rest)
	}
	if n, _ := quotaCount(t, acct.Client, tokyo); n != 1 {
		t.Fatalf("count %d, want 1 (only the normal create)", n)
	}
}

// TestOversizedHeadersRefused: headers over the limit are refused before any work.
func TestOversizedHeadersRefused(t *testing.T) {
	parallel(t)
	srv := testkit.Start(t, testkit.Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+vmapi.Path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Padding", strings.Repeat("a", zcapi.MaxHeaderBytes+8192))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}
