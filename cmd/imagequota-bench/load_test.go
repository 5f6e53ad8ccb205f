package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/signing"
)

// The generator's own connection handling: signed headers the server can
// verify, keep-alive reuse, a reconnect after "Connection: close", and
// chunked answers read whole.
func TestGeneratorConnection(t *testing.T) {
	var conns, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("X-ZC-Timestamp")
		want := signing.AuthorizationHeader("key-1", signing.Sign("secret-1", ts, r.Header.Get("Content-Type"), r.Host, body))
		if r.Header.Get("Authorization") != want || r.Header.Get("X-ZC-Action") != "Ping" || r.URL.Path != "/api/v2/vm" {
			http.Error(w, "bad request "+r.Header.Get("Authorization"), http.StatusBadRequest)
			return
		}
		if n%3 == 0 {
			w.Header().Set("Connection", "close")
		}
		// Flushing before the end makes the answer chunked.
		io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "second "+strconv.FormatInt(n, 10))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	g, err := newGenerator(srv.URL + "/api/v2/vm")
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{g: g, ops: map[string]*opRecord{}}
	c := &credential{keyID: "key-1", secret: "secret-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 1; i <= 6; i++ {
		status, err := g.send(ctx, w, "Ping", []byte(`{"n":1}`), c, authSigned)
		if err != nil || status != http.StatusOK {
			t.Fatalf("request %d: status %d, %v: %s", i, status, err, w.buf.String())
		}
		if want := "first second " + strconv.Itoa(i); w.buf.String() != want {
			t.Fatalf("request %d: answer %q, want %q", i, w.buf.String(), want)
		}
		if closed := i%3 == 0; (w.conn == nil) != closed {
			t.Fatalf("request %d: connection kept %v, want %v", i, w.conn != nil, !closed)
		}
	}
	// Requests 3 and 6 closed their connections: 1–3 on one, 4–6 on the next.
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections for 6 requests, want 2", n)
	}
}
