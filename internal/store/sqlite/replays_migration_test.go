package sqlite_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/sqlite"
)

// TestReplayRecordsCarriedIntoArrivalOrder: migration 0009 carries the
// records of the keyed table over, and the store answers a request recorded
// before the upgrade with its first answer.
func TestReplayRecordsCarriedIntoArrivalOrder(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	ctx := t.Context()
	r := raw(t, path)
	if _, err := r.ExecContext(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	e, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var last int
	for _, m := range e.Migrations() {
		if m.Version >= 9 {
			break
		}
		if _, err := r.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := r.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, m.Version); err != nil {
			t.Fatal(err)
		}
		last = m.Version
	}
	_ = e.Close()
	if last != 8 {
		t.Fatalf("applied up to %d, want 8", last)
	}
	// Records as the keyed table held them: expiry, then 8 digest bytes.
	expires := time.Now().Add(5 * time.Minute).Truncate(time.Second)
	sum := sha256.Sum256([]byte("a request before the upgrade"))
	key := binary.BigEndian.AppendUint64(nil, uint64(expires.Unix()))
	key = append(key, sum[:8]...)
	if _, err := r.ExecContext(ctx, `INSERT INTO request_replays (key, action, result) VALUES (?, 'CreateImage', '{"id":"img-before","name":"carried"}'),
		(x'0000000000000001aaaaaaaaaaaaaaaa', 'DeleteImages', '{}')`, key); err != nil {
		t.Fatal(err)
	}
	db, _ := open(t, path, sqlite.Options{}, store.Options{})
	var n int
	if err := r.QueryRowContext(ctx, `SELECT count(*) FROM request_replays WHERE id IS NOT NULL`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d records with ids after the upgrade (%v), want 2", n, err)
	}
	img, replayed, err := db.CreateImage(ctx, quota.CreateImageInput{AccountID: "acc-none", InstanceID: "ins-none", Name: "carried",
		Now: time.Now(), Actor: quota.Actor{Name: "test", Replay: quota.Replay{Key: hex.EncodeToString(sum[:]), Action: "CreateImage", Expires: expires}}})
	if err != nil || !replayed || img.ID != "img-before" {
		t.Fatalf("the request recorded before the upgrade, sent again: %s replayed=%v, %v; want img-before replayed", img.ID, replayed, err)
	}
}
