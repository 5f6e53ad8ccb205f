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

// locationRow is one location of the overview: its quota.LocationFigures,
// the same /metrics serves. Near counts the accounts at NearPercent of
// their limit or more, those at it included.
type locationRow struct {
	ID, Name                                  string
	Accounts, Images, LimitSum, AtLimit, Near int64
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
	TotalImages   int64
	AtLimit, Near int64
	NearPercent   int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	enabled := c.cfg.Catalog.Enabled()
	ids := make([]string, len(enabled))
	for i, l := range enabled {
		ids[i] = l.ID
	}
	// The figures of /metrics: the enabled locations first, then any
	// other with images (a location no longer served still counts).
	figures, err := c.cfg.Store.QuotaFigures(ctx, ids, c.defaultMax())
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
	v := overviewView{Pending: pending.TotalCount, NearPercent: NearPercent}
	for _, f := range figures {
		v.Locations = append(v.Locations, locationRow{ID: f.LocationID, Name: c.locationName(f.LocationID),
			Accounts: f.Accounts, Images: f.Images, LimitSum: f.LimitSum, AtLimit: f.AtLimit, Near: f.NearLimit})
	}
	if extra := v.Locations[min(len(enabled), len(v.Locations)):]; len(extra) > 1 {
		slices.SortFunc(extra, func(a, b locationRow) int { return strings.Compare(a.ID, b.ID) })
	}
	var images, accounts []barItem
	for _, l := range v.Locations {
		v.TotalImages += l.Images
		v.AtLimit += l.AtLimit
		v.Near += l.Near
	}
	// The charts put the locations with the most images first.
	byImages := slices.Clone(v.Locations)
	slices.SortStableFunc(byImages, func(a, b locationRow) int { return cmp.Compare(b.Images, a.Images) })
	for _, l := range byImages {
		images = append(images, barItem{Label: l.Name, Values: []int{int(l.Images)}, Value: fmt.Sprint(l.Images),
			Title: fmt.Sprintf("%s (%s): %d custom images", l.Name, l.ID, l.Images)})
		// The bar's parts do not overlap: at the limit, at NearPercent or
		// more but below the limit, below NearPercent.
		accounts = append(accounts, barItem{Label: l.Name, Values: []int{int(l.AtLimit), int(l.Near - l.AtLimit), int(l.Accounts - l.Near)},
			Value: accountsValue(l),
			Title: fmt.Sprintf("%s (%s): %d accounts with images, %d at their limit, %d at %d%% of it or more (those at it included)",
				l.Name, l.ID, l.Accounts, l.AtLimit, l.Near, NearPercent)})
	}
	v.ImagesChart = newChart("Custom images by location", images, []string{"images"}, nil)
	v.AccountsChart = newChart("Accounts at and near their limits by location", accounts, []string{"at", "near", "ok"},
		[]legend{{"at", "at or over the limit"}, {"near", fmt.Sprintf("at %d%% or more, below the limit", NearPercent)}, {"ok", fmt.Sprintf("below %d%%", NearPercent)}})
	if v.Closest, err = c.usageRows(ctx, closest); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Nav: "overview", S: s, Body: v})
	return nil
}

// accountsValue says how many accounts of a location are at their limit,
// and at NearPercent of it or more (those at it included).
func accountsValue(l locationRow) string {
	var parts []string
	if l.AtLimit > 0 {
		parts = append(parts, fmt.Sprintf("%d at", l.AtLimit))
	}
	if l.Near > 0 {
		parts = append(parts, fmt.Sprintf("%d ≥ %d%%", l.Near, NearPercent))
	}
	if len(parts) == 0 && l.Accounts > 0 {
		parts = append(parts, fmt.Sprintf("%d below", l.Accounts))
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
