package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// throttling answers 429 to the first n requests and 200 after.
func throttling(t *testing.T, n int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			w.WriteHeader(http.StatusTooManyRequests)
		}
		_, _ = w.Write([]byte(`{"requestId":"T1","response":{"requestId":"T1"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestBackoffRetriesOnATimer(t *testing.T) {
	t.Parallel()
	srv, seen := throttling(t, 2)
	c := New(srv.URL, "AK", "secret")
	c.Backoff = []time.Duration{time.Millisecond, time.Millisecond}
	r, err := c.Do(context.Background(), "DescribeRegions", []byte("{}"))
	if err != nil || r.HTTPStatus != http.StatusOK || seen.Load() != 3 {
		t.Fatalf("HTTP %v, %v after %d requests; want 200 after 3", r, err, seen.Load())
	}
}

func TestBackoffStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	srv, seen := throttling(t, 5)
	c := New(srv.URL, "AK", "secret")
	c.Backoff = []time.Duration{time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	c.Sleep = func(ctx context.Context, d time.Duration) {
		cancel()
		sleepOnTimer(ctx, d)
	}
	r, err := c.Do(ctx, "DescribeRegions", []byte("{}"))
	if err != nil || r.HTTPStatus != http.StatusTooManyRequests || seen.Load() != 1 {
		t.Fatalf("HTTP %v, %v after %d requests; want the first 429", r, err, seen.Load())
	}
}
