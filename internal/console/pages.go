package console

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
)

// flashes are what a change's redirect says it did, by the done parameter.
var flashes = map[string]string{
	"override-set":     "The override is set.",
	"override-removed": "The override is removed.",
	"key-disabled":     "The access key is disabled: it is refused from its next request on.",
	"key-enabled":      "The access key is enabled.",
	"account-disabled": "The account is disabled.",
	"account-enabled":  "The account is enabled.",
	"approved":         "The request is approved: the account's limit is raised.",
	"denied":           "The request is denied.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

// closestShown is how many pairs the overview lists as closest to their limits.
const closestShown = 10

// locationRow is one location of the overview.
type locationRow struct {
	ID, Name                          string
	Accounts, Images, AtLimit, NearLt int
}

type usageRow struct {
	AccountID, AccountName string
	LocationID, Location   string
	Meter                  meter
	Source                 string
	Expires                *time.Time
}

type overviewView struct {
	Locations     []locationRow
	ImagesChart   chart
	AccountsChart chart
	Closest       []usageRow
	Pending       int
	TotalImages   int
	AtLimit, Near int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	sums, err := c.cfg.Store.LocationSummaries(ctx, c.defaultMax(), NearPercent)
	if err != nil {
		return err
	}
	closest, err := c.cfg.Store.ClosestToLimit(ctx, c.defaultMax(), closestShown, "")
	if err != nil {
		return err
	}
	pending, err := c.cfg.Store.ListQuotaRequests(ctx, quota.QuotaRequestFilter{States: []quota.RequestState{quota.RequestPending}, Limit: 1})
	if err != nil {
		return err
	}
	v := overviewView{Pending: pending.TotalCount}
	have := map[string]int{}
	for i, sm := range sums {
		have[sm.LocationID] = i
	}
	add := func(id, name string) {
		row := locationRow{ID: id, Name: name}
		if i, ok := have[id]; ok {
			sm := sums[i]
			row.Accounts, row.Images, row.AtLimit, row.NearLt = sm.Accounts, sm.Images, sm.AtLimit, sm.NearLimit
			delete(have, id)
		}
		v.Locations = append(v.Locations, row)
	}
	for _, l := range c.cfg.Catalog.Enabled() {
		add(l.ID, l.Name)
	}
	// Images in a location no longer served still count.
	for _, sm := range sums {
		if _, ok := have[sm.LocationID]; ok {
			add(sm.LocationID, c.locationName(sm.LocationID))
		}
	}
	var images, accounts []barItem
	for _, l := range v.Locations {
		v.TotalImages += l.Images
		v.AtLimit += l.AtLimit
		v.Near += l.NearLt
	}
	// The charts put the locations with the most images first.
	byImages := slices.Clone(v.Locations)
	slices.SortStableFunc(byImages, func(a, b locationRow) int { return cmp.Compare(b.Images, a.Images) })
	for _, l := range byImages {
		images = append(images, barItem{Label: l.Name, Values: []int{l.Images}, Value: fmt.Sprint(l.Images),
			Title: fmt.Sprintf("%s (%s): %d custom images", l.Name, l.ID, l.Images)})
		accounts = append(accounts, barItem{Label: l.Name, Values: []int{l.AtLimit, l.NearLt, l.Accounts - l.AtLimit - l.NearLt},
			Value: accountsValue(l),
			Title: fmt.Sprintf("%s (%s): %d accounts with images, %d at their limit, %d near it", l.Name, l.ID, l.Accounts, l.AtLimit, l.NearLt)})
	}
	v.ImagesChart = newChart("Custom images by location", images, []string{"images"}, nil)
	v.AccountsChart = newChart("Accounts at and near their limits by location", accounts, []string{"at", "near", "ok"},
		[]legend{{"at", "at or over the limit"}, {"near", fmt.Sprintf("at %d%% or more", NearPercent)}, {"ok", "below"}})
	if v.Closest, err = c.usageRows(ctx, closest); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Nav: "overview", S: s, Body: v})
	return nil
}

// accountsValue says how many accounts of a location are at and near their limits.
func accountsValue(l locationRow) string {
	var parts []string
	if l.AtLimit > 0 {
		parts = append(parts, fmt.Sprintf("%d at", l.AtLimit))
	}
	if l.NearLt > 0 {
		parts = append(parts, fmt.Sprintf("%d near", l.NearLt))
	}
	if below := l.Accounts - l.AtLimit - l.NearLt; below > 0 && len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d below", below))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

// usageRows names the accounts and locations of usage report rows.
func (c *Console) usageRows(ctx context.Context, rows []quota.UsageReportRow) ([]usageRow, error) {
	var ids []string
	for _, r := range rows {
		if !slices.Contains(ids, r.AccountID) {
			ids = append(ids, r.AccountID)
		}
	}
	names, err := c.accountNames(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := []usageRow{}
	for _, r := range rows {
		u := usageRow{AccountID: r.AccountID, AccountName: names[r.AccountID], LocationID: r.LocationID, Location: c.locationName(r.LocationID),
			Meter: newMeter(r.Count, r.Effective.MaxCount), Source: r.Effective.Source}
		if r.Effective.Scope != nil {
			u.Expires = r.Effective.Scope.ExpiresAt
		}
		out = append(out, u)
	}
	return out, nil
}

// accountNames reads the names of some accounts in one statement.
func (c *Console) accountNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	accts, _, err := c.cfg.Store.ListAccountsPage(ctx, quota.AccountFilter{IDs: ids})
	if err != nil {
		return nil, err
	}
	for _, a := range accts {
		out[a.ID] = a.Name
	}
	return out, nil
}

func (c *Console) locationName(id string) string {
	for _, l := range c.cfg.Catalog.All() {
		if l.ID == id {
			return l.Name
		}
	}
	return id
}

// accountsPageSize is how many accounts a page of the list shows.
const accountsPageSize = 25

type accountsView struct {
	Query    string
	Accounts []quota.Account
	Pager    pager
}

func (c *Console) accounts(w http.ResponseWriter, r *http.Request, s *session) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page, err := pageParam(r, "page")
	if err != nil {
		return err
	}
	f := quota.AccountFilter{Offset: (page - 1) * accountsPageSize, Limit: accountsPageSize}
	switch {
	case q == "":
	case strings.HasPrefix(q, "acc-"):
		if err := quota.CheckID("q", q); err != nil {
			return err
		}
		f.IDs = []string{q}
	default:
		if err := quota.CheckText("q", q, 255); err != nil {
			return err
		}
		f.NameContains = q
	}
	accts, total, err := c.cfg.Store.ListAccountsPage(r.Context(), f)
	if err != nil {
		return err
	}
	v := accountsView{Query: q, Accounts: accts, Pager: newPager(*r.URL, "page", page, accountsPageSize, total)}
	c.render(w, r, http.StatusOK, "accounts", view{Title: "Accounts", Nav: "accounts", S: s, Body: v})
	return nil
}
