package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
)

// pending lists the outbox.
func pending(t *testing.T, db *store.DB) []store.PendingEvent {
	t.Helper()
	evs, err := db.PendingEvents(t.Context())
	if err != nil {
		t.Fatalf("PendingEvents: %v", err)
	}
	return evs
}

func eventTypes(evs []store.PendingEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// testEventsRecorded: with events on, each change that makes an event
// records it in its own transaction, with the documented data; a refused
// change records none, and a store with events off records nothing.
func testEventsRecorded(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	db, ctx := e.db, t.Context()
	mustAsk(t, db, askFor(e.acct.ID, frankfurt, 9))
	mustCreate(t, db, input(e.inst, "before", 2))
	if evs := pending(t, db); len(evs) != 0 {
		t.Fatalf("a store with events off recorded %v", eventTypes(evs))
	}

	db.RecordEvents(true)
	r := mustAsk(t, db, askFor(e.acct.ID, singapore, 10))
	if _, err := db.ApproveQuotaRequest(ctx, quota.ApproveQuotaRequestInput{ID: r.ID, Comment: "fine", Actor: operatorActor}); err != nil {
		t.Fatal(err)
	}
	_, _, err := db.CreateQuotaRequest(ctx, askFor(e.acct.ID, singapore, 3))
	wantCode(t, "a refused request", err, quota.CodeQuotaRequestDesiredCount)
	d := mustAsk(t, db, askFor(e.acct.ID, singapore, 11))
	if _, err := db.DenyQuotaRequest(ctx, quota.DenyQuotaRequestInput{ID: d.ID, Comment: "no", Actor: operatorActor}); err != nil {
		t.Fatal(err)
	}
	c := mustAsk(t, db, askFor(e.acct.ID, singapore, 12))
	if _, err := db.CancelQuotaRequest(ctx, quota.CancelQuotaRequestInput{AccountID: e.acct.ID, ID: c.ID, Actor: quota.Actor{Name: "AKTEST"}}); err != nil {
		t.Fatal(err)
	}
	// The image that fills the limit of 2 makes an event; the one before does not.
	second := mustCreate(t, db, input(e.inst, "second", 2))
	_, _, err = db.CreateImage(ctx, input(e.inst, "third", 2))
	wantCode(t, "a refused create", err, quota.CodeImageQuotaExceeded)

	evs := pending(t, db)
	want := []string{quota.EventQuotaRequestCreated, quota.EventQuotaRequestApproved, quota.EventQuotaRequestCreated, quota.EventQuotaRequestDenied,
		quota.EventQuotaRequestCreated, quota.EventQuotaRequestCancelled, quota.EventLimitReached}
	if !slices.Equal(eventTypes(evs), want) {
		t.Fatalf("outbox = %v; want %v", eventTypes(evs), want)
	}
	ids := map[string]bool{}
	for i, ev := range evs {
		if ids[ev.ID] || ev.Attempts != 0 || ev.Time.IsZero() || (i > 0 && ev.Seq <= evs[i-1].Seq) {
			t.Fatalf("event %d = %+v: ids are unique, seq grows, no attempt made yet", i, ev)
		}
		ids[ev.ID] = true
	}
	var approved quota.QuotaRequestEvent
	if err := json.Unmarshal(evs[1].Data, &approved); err != nil {
		t.Fatal(err)
	}
	if approved.QuotaRequestID != r.ID || approved.AccountID != e.acct.ID || approved.ZoneID != singapore || approved.State != "APPROVED" ||
		intOrNil(approved.GrantedMaxCount) != "10" || approved.Comment != "fine" || approved.DecidedBy != operatorActor.Name ||
		approved.DecidedAt == nil || approved.ExpiresAt != nil || approved.CurrentMaxCount != 5 || approved.DesiredMaxCount != 10 {
		t.Fatalf("approved event data = %s", evs[1].Data)
	}
	var reached quota.LimitReachedEvent
	if err := json.Unmarshal(evs[6].Data, &reached); err != nil {
		t.Fatal(err)
	}
	if reached != (quota.LimitReachedEvent{AccountID: e.acct.ID, ZoneID: tokyo, Count: 2, MaxCount: 2, ImageID: second.ID}) {
		t.Fatalf("limit_reached data = %s", evs[6].Data)
	}
	select {
	case <-db.EventsRecorded():
	default:
		t.Fatal("EventsRecorded was not signalled")
	}
}

// record makes n events: requests in n locations.
func record(t *testing.T, db *store.DB, accountID string, n int) {
	t.Helper()
	for i := range n {
		mustAsk(t, db, askFor(accountID, fmt.Sprintf("xx-loc-%02d", i), 6))
	}
}

func claimed(t *testing.T, c quota.EventClaim) []string {
	t.Helper()
	out := []string{}
	for _, e := range c.Events {
		out = append(out, e.ID)
	}
	return out
}

// testOutboxClaims: a claim takes due events oldest first for a lease, and
// no other claim takes them while it lasts; a delivered event is gone; a
// failed one counts an attempt and waits for its retry; a released one is
// due again without an attempt counted; a claim that lapsed passes on, and
// its old holder can no longer report on it.
func testOutboxClaims(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	db, ctx := e.db, t.Context()
	db.RecordEvents(true)
	if c, err := db.ClaimEvents(ctx, 10, time.Hour); err != nil || len(c.Events) != 0 {
		t.Fatalf("claim of an empty outbox = %+v, %v", c, err)
	}
	record(t, db, e.acct.ID, 4)
	all := pending(t, db)

	c1, err := db.ClaimEvents(ctx, 3, time.Hour)
	if err != nil || !slices.Equal(claimed(t, c1), []string{all[0].ID, all[1].ID, all[2].ID}) || c1.Token == "" || !c1.Until.After(time.Now()) {
		t.Fatalf("first claim = %+v, %v; want the 3 oldest", c1, err)
	}
	c2, err := db.ClaimEvents(ctx, 3, time.Hour)
	if err != nil || !slices.Equal(claimed(t, c2), []string{all[3].ID}) {
		t.Fatalf("second claim = %v, %v; want only the one not claimed", claimed(t, c2), err)
	}
	if c, _ := db.ClaimEvents(ctx, 3, time.Hour); len(c.Events) != 0 {
		t.Fatalf("a third claim took %v while the others hold", claimed(t, c))
	}

	if err := db.EventDelivered(ctx, all[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := db.EventFailed(ctx, c1.Token, all[1].ID, time.Hour, "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseEvents(ctx, c1.Token, []string{all[2].ID}, 0); err != nil {
		t.Fatal(err)
	}
	left := pending(t, db)
	if len(left) != 3 || left[0].ID != all[1].ID || left[0].Attempts != 1 || left[0].LastError != "HTTP 503" ||
		!left[0].NextAttemptAt.After(time.Now().Add(50*time.Minute)) || left[1].Attempts != 0 {
		t.Fatalf("outbox after delivered, failed and released = %+v", left)
	}
	c3, err := db.ClaimEvents(ctx, 10, time.Hour)
	if err != nil || !slices.Equal(claimed(t, c3), []string{all[2].ID}) || c3.Events[0].Attempts != 0 {
		t.Fatalf("claim after the release = %+v, %v; want the released event only (the failed one waits)", c3, err)
	}

	// A claim with no lease lapses at once: the next claim takes its event,
	// and the old holder's report of a failure changes nothing.
	if err := db.ReleaseEvents(ctx, c3.Token, []string{all[2].ID}, 0); err != nil {
		t.Fatal(err)
	}
	lapsed, err := db.ClaimEvents(ctx, 10, 0)
	if err != nil || len(lapsed.Events) != 1 {
		t.Fatalf("claim without a lease = %v, %v", claimed(t, lapsed), err)
	}
	taken, err := db.ClaimEvents(ctx, 10, time.Hour)
	if err != nil || !slices.Equal(claimed(t, taken), claimed(t, lapsed)) {
		t.Fatalf("claim after a lapsed one = %v, %v; want %v", claimed(t, taken), err, claimed(t, lapsed))
	}
	if err := db.EventFailed(ctx, lapsed.Token, all[2].ID, time.Hour, "late"); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseEvents(ctx, lapsed.Token, []string{all[2].ID}, 0); err != nil {
		t.Fatal(err)
	}
	for _, ev := range pending(t, db) {
		if ev.ID == all[2].ID && (ev.Attempts != 0 || ev.LastError != "") {
			t.Fatalf("a lapsed claim's report changed the event: %+v", ev)
		}
	}
	if c, _ := db.ClaimEvents(ctx, 10, time.Hour); len(c.Events) != 0 {
		t.Fatalf("a lapsed claim's release freed %v, which another claim holds", claimed(t, c))
	}
	// Delivered is delivered, whoever holds the event.
	if err := db.EventDelivered(ctx, all[2].ID); err != nil {
		t.Fatal(err)
	}
	if left := pending(t, db); len(left) != 2 {
		t.Fatalf("outbox = %+v; want the failed and the claimed events", left)
	}
}

// testConcurrentClaims: claims made at once — from several replicas, on
// PostgreSQL — never take one event twice while its lease lasts.
func testConcurrentClaims(t *testing.T, open func(t *testing.T) *store.DB) {
	e := setup(t, open)
	db, ctx := e.db, t.Context()
	db.RecordEvents(true)
	const events, claimers = 24, 8
	record(t, db, e.acct.ID, events)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range claimers {
		wg.Go(func() {
			for {
				c, err := db.ClaimEvents(ctx, 2, time.Hour)
				if err != nil {
					t.Errorf("ClaimEvents: %v", err)
					return
				}
				if len(c.Events) == 0 {
					return
				}
				mu.Lock()
				for _, ev := range c.Events {
					seen[ev.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != events {
		t.Fatalf("%d distinct events claimed, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s claimed %d times", id, n)
		}
	}
}
