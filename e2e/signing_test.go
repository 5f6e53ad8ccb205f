package e2e

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to plant a vector's secret

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/signing"
	"github.com/imagequota/imagequota/internal/testkit"
)

// signatureVectors are the four vectors of protocol.md §2, each with the
// action its body is sent as.
var signatureVectors = []struct {
	name        string
	secret      string
	host        string
	contentType string
	body        string
	timestamp   int64
	signature   string
	action      string
}{
	{"empty object", "SECRETEXAMPLE", "console.zenlayer.com", "application/json", `{}`, 1700000000,
		"6ffc6030824189b11854c0993d65b36666d199483c552d34854201f4abd57428", "DescribeImageQuota"},
	{"two zones", "SECRETEXAMPLE", "console.zenlayer.com", "application/json", `{"zoneIds":["FRA-A","HKG-A"]}`, 1700000000,
		"56e7bfe55c40188828847d95edb96bc8936b6f2e9024be309291d78e2cc658dd", "DescribeImageQuota"},
	{"host with port", "test-key-secret", "127.0.0.1:8080", "application/json", `{"zoneIds":["FRA-A"]}`, 1700000000,
		"3f5590af0fc63759196174adbdf46547225e74d8c636f59f4776bfa313ca2901", "DescribeImageQuota"},
	{"charset and paging", "Gu5t9xGARNpq86cd98joQYCN3", "console.zenlayer.com", "application/json; charset=utf-8", `{"pageSize":10,"pageNum":1,"zoneId":"HKG-A"}`, 1673361177,
		"efb356c32e55c781e10dc676da59462c22596d82e91c57803666243379555b2f", "DescribeImages"},
}

// vectorCatalog holds the zone ids the vectors' bodies name.
func vectorCatalog(t *testing.T) *quota.Catalog {
	t.Helper()
	c, err := quota.NewCatalog([]quota.Location{{ID: "FRA-A", Name: "Frankfurt"}, {ID: "HKG-A", Name: "Hong Kong"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSignatureVectors sends each vector, byte for byte, to a server whose
// clock reads the vector's timestamp and which holds the vector's secret.
func TestSignatureVectors(t *testing.T) {
	parallel(t)
	for _, v := range signatureVectors {
		t.Run(v.name, func(t *testing.T) {
			parallelSub(t)
			path := filepath.Join(t.TempDir(), "imagequota.db")
			at := time.Unix(v.timestamp, 0).UTC()
			e := setup(t, testkit.Options{DBURL: "sqlite:" + path, Catalog: vectorCatalog(t), Now: func() time.Time { return at }})
			plantSecret(t, path, e.acct.Key.ID, v.secret)
			if got := signing.Sign(v.secret, strconv.FormatInt(v.timestamp, 10), v.contentType, v.host, []byte(v.body)); got != v.signature {
				t.Fatalf("signing.Sign = %s; the vector says %s", got, v.signature)
			}
			vector := func(body []byte) request {
				h := http.Header{}
				h.Set("Content-Type", v.contentType)
				h.Set("X-ZC-Action", v.action)
				h.Set("X-ZC-Timestamp", strconv.FormatInt(v.timestamp, 10))
				h.Set("Authorization", signing.AuthorizationHeader(e.acct.Key.ID, v.signature))
				return request{method: http.MethodPost, host: v.host, header: h, body: body}
			}

			resp := e.send(t, vector([]byte(v.body))).wantOK(t)
			switch v.action {
			case "DescribeImageQuota":
				want := []string{"FRA-A", "HKG-A"}
				if v.name == "host with port" {
					want = want[:1]
				}
				if got := rowIDs(quotaRows(t, resp)); !slices.Equal(got, want) {
					t.Errorf("locations %v; want %v", got, want)
				}
			case "DescribeImages":
				if n, _ := resp["totalCount"].(float64); n != float64(len(quota.PublicImages("HKG-A"))) {
					t.Errorf("totalCount %v; want the %d public images of HKG-A", resp["totalCount"], len(quota.PublicImages("HKG-A")))
				}
			}

			// The same signature over a body with any one byte changed fails.
			for i := range len(v.body) {
				body := []byte(v.body)
				body[i] ^= 0x01
				e.send(t, vector(body)).wantError(t, 401, quota.CodeSignatureFailure, "signature")
			}
			// So does the vector sent to another host than the one signed.
			r := vector([]byte(v.body))
			r.host = "imagequota.example:443"
			e.send(t, r).wantError(t, 401, quota.CodeSignatureFailure, "signature")
		})
	}
}

// plantSecret gives access key id the secret secret, straight in the SQLite file.
func plantSecret(t *testing.T, path, id, secret string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(context.Background(), `UPDATE access_keys SET secret = ? WHERE id = ?`, testkit.SecretBox().Seal(secret, id), id)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("planting the secret changed %d rows (%v); want 1", n, err)
	}
}
