package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/testkit"
)

// TestAdminQuotaSetWarnsForEveryAccount: a default or location-wide limit set
// below the counts warns about every account and location where it is the
// limit in effect, and about no other.
func TestAdminQuotaSetWarnsForEveryAccount(t *testing.T) {
	t.Parallel()
	c := setup(t)
	const hk, tokyo = "hk-hongkong-1a", "jp-tokyo-1a"
	type pair struct{ account, location string }
	counts := map[pair]int{}
	var accounts []string
	for i := range 3 {
		acct, _, _ := c.newAccount(t, fmt.Sprintf("acct-%d", i))
		accounts = append(accounts, acct)
	}
	instances := map[pair]string{}
	for _, p := range []pair{{accounts[0], hk}, {accounts[1], hk}, {accounts[1], tokyo}, {accounts[2], tokyo}} {
		var inst struct{ InstanceID string }
		c.adminJSON(t, &inst, "instance", "create", "--account", p.account, "--location", p.location)
		instances[p] = inst.InstanceID
	}
	db := testkit.OpenStore(t, "sqlite:"+filepath.Join(c.dir, "imagequota.db"), store.Options{})
	for p, n := range map[pair]int{{accounts[0], hk}: 3, {accounts[1], hk}: 1, {accounts[1], tokyo}: 4, {accounts[2], tokyo}: 2} {
		for i := range n {
			_, _, err := db.CreateImage(context.Background(), quota.CreateImageInput{
				AccountID: p.account, InstanceID: instances[p], Name: fmt.Sprintf("img-%d", i),
				DefaultMax: quota.DefaultMaxCount, Now: time.Now(), Actor: quota.AdminActor,
			})
			if err != nil {
				t.Fatalf("create image %d in %v: %v", i, p, err)
			}
		}
		counts[p] = n
	}
	// Account 2 has a limit of its own, which the default does not change.
	c.adminOK(t, "quota", "set", "--account", accounts[2], "--max", "1")

	type warning struct {
		AccountID, Location     string
		Count, MaxCount, Excess int
	}
	over := func(max int, location string, except ...string) []warning {
		want := []warning{}
		for p, n := range counts {
			if n > max && (location == "" || p.location == location) && !slices.Contains(except, p.account) {
				want = append(want, warning{p.account, p.location, n, max, n - max})
			}
		}
		slices.SortFunc(want, func(x, y warning) int {
			return strings.Compare(x.AccountID+"/"+x.Location, y.AccountID+"/"+y.Location)
		})
		return want
	}
	tests := []struct {
		name string
		args []string
		want []warning
	}{
		{"default", []string{"--max", "1"}, over(1, "", accounts[2])},
		{"default above every count", []string{"--max", "4"}, over(4, "")},
		{"location-wide", []string{"--location", tokyo, "--max", "1"}, over(1, tokyo, accounts[2])},
		{"account-wide", []string{"--account", accounts[1], "--max", "0"}, over(0, "", accounts[0], accounts[2])},
	}
	for _, tc := range tests {
		r := c.admin(t, append([]string{"quota", "set", "--output", "json"}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, r.code, r.stderr)
		}
		var out struct{ OverLimit []warning }
		mustUnmarshal(t, []byte(r.stdout), &out)
		if !slices.Equal(out.OverLimit, tc.want) {
			t.Errorf("%s: overLimit\n%+v\nwant\n%+v", tc.name, out.OverLimit, tc.want)
		}
		if n := strings.Count(r.stderr, "warning: "); n != len(tc.want) {
			t.Errorf("%s: %d warnings on stderr, want %d:\n%s", tc.name, n, len(tc.want), r.stderr)
		}
	}
}
