package console

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/operatorapi"
)

// Sizes of the account page's lists.
const (
	imagesPageSize = 20
	recentAudit    = 15
)

type imageRow struct {
	ID, Name, LocationID, Location, Status string
	SizeGB                                 int
	CreatedAt                              time.Time
}

type overrideRow struct {
	quota.LimitOverride
	Location string
	// Form names the override's own form (change, remove).
	Form string
}

type accountView struct {
	Account    quota.Account
	Active     []usageRow
	Others     []usageRow
	Images     []imageRow
	ImagePager pager
	Keys       []quota.AccessKey
	Overrides  []overrideRow
	Audit      []quota.AuditRecord
	AuditTotal int
	Pending    int
	Zones      []quota.Location
	MaxLimit   int
}

func (c *Console) account(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderAccount(w, r, s, r.PathValue("id"), http.StatusOK, nil)
}

// renderAccount shows the account page, with the problem of the form just
// sent if any.
func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, s *session, id string, status int, p *problem) error {
	ctx := r.Context()
	if err := quota.CheckID("accountId", id); err != nil {
		return err
	}
	acct, err := c.cfg.Store.GetAccount(ctx, id)
	if err != nil {
		return err
	}
	ipage, err := pageParam(r, "ipage")
	if err != nil {
		return err
	}
	// The overrides listed are those in effect: record the ends of the
	// expired ones first, as the operator API does.
	if err := c.cfg.Operator.Sweep(ctx); err != nil {
		return err
	}
	v := accountView{Account: acct, Zones: c.cfg.Catalog.Enabled(), MaxLimit: quota.MaxLimit}

	usage, err := c.cfg.Store.Usage(ctx, id)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	addUsage := func(loc quota.Location) {
		seen[loc.ID] = true
		eff := quota.EffectiveLimit(usage.Overrides, id, loc.ID, c.defaultMax())
		u := usageRow{AccountID: id, AccountName: acct.Name, LocationID: loc.ID, Location: loc.Name,
			Meter: newMeter(usage.Counts[loc.ID], eff.MaxCount), Source: eff.Source}
		if eff.Scope != nil {
			u.Expires = eff.Scope.ExpiresAt
		}
		if usage.Counts[loc.ID] > 0 || eff.Source == quota.SourceAccountLocation {
			v.Active = append(v.Active, u)
		} else {
			v.Others = append(v.Others, u)
		}
	}
	for _, loc := range c.cfg.Catalog.Enabled() {
		addUsage(loc)
	}
	for _, loc := range c.cfg.Catalog.All() {
		if !seen[loc.ID] && usage.Counts[loc.ID] > 0 {
			addUsage(loc)
		}
	}

	imgs, total, err := c.cfg.Store.ListImagesPage(ctx, id, (ipage-1)*imagesPageSize, imagesPageSize)
	if err != nil {
		return err
	}
	now := c.cfg.Now()
	for _, im := range imgs {
		v.Images = append(v.Images, imageRow{ID: im.ID, Name: im.Name, LocationID: im.LocationID, Location: c.locationName(im.LocationID),
			Status: im.Status(now), SizeGB: im.SizeGB, CreatedAt: im.CreatedAt})
	}
	base := url.URL{Path: "/console/accounts/" + id}
	v.ImagePager = newPager(base, "ipage", ipage, imagesPageSize, total)

	if v.Keys, err = c.cfg.Store.ListAccessKeys(ctx, id); err != nil {
		return err
	}
	limits, err := c.cfg.Store.ListLimits(ctx)
	if err != nil {
		return err
	}
	for _, o := range limits {
		if o.AccountID == id {
			row := overrideRow{LimitOverride: o, Location: "every location", Form: "override:" + o.LocationID}
			if o.LocationID != "" {
				row.Location = c.locationName(o.LocationID) + " (" + o.LocationID + ")"
			}
			v.Overrides = append(v.Overrides, row)
		}
	}
	slices.SortFunc(v.Overrides, func(a, b overrideRow) int { return cmp.Compare(a.LocationID, b.LocationID) })

	f := quota.AuditFilter{AccountID: id}
	if v.AuditTotal, err = c.cfg.Store.CountAudit(ctx, f); err != nil {
		return err
	}
	f.Offset, f.Limit = max(v.AuditTotal-recentAudit, 0), recentAudit
	if v.Audit, err = c.cfg.Store.ListAudit(ctx, f); err != nil {
		return err
	}
	slices.Reverse(v.Audit)
	pending, err := c.cfg.Store.ListQuotaRequests(ctx, quota.QuotaRequestFilter{AccountID: id, States: []quota.RequestState{quota.RequestPending}, Limit: 1})
	if err != nil {
		return err
	}
	v.Pending = pending.TotalCount
	c.render(w, r, status, "account", view{Title: acct.Name, Nav: "accounts", S: s, Flash: flash(r), Problem: p, Body: v})
	return nil
}

// formProblem turns an error of a form's values into the problem shown on
// its page: one the caller can fix (an error of the domain with a 4xx
// status other than not found), naming the field its message begins with.
// Any other error is returned for the error page.
func formProblem(r *http.Request, form string, fields []string, err error) (*problem, int, error) {
	var qe *quota.Error
	if !errors.As(err, &qe) {
		return nil, 0, err
	}
	status, _ := zcapi.Status(qe.Code)
	if status != http.StatusBadRequest && status != http.StatusConflict {
		return nil, 0, err
	}
	p := &problem{Form: form, Message: qe.Message, Values: r.PostForm}
	for _, f := range fields {
		if strings.HasPrefix(qe.Message, f+" ") || strings.HasPrefix(qe.Message, f+":") {
			p.Field = f
		}
	}
	return p, status, nil
}

// formName is the form a post came from, as its hidden "form" field says
// (one of the page's), else def.
func formName(r *http.Request, def string) string {
	if f := r.PostForm.Get("form"); f != "" && len(f) <= 200 {
		return f
	}
	return def
}

// intField reads a whole number; absent ("") is nil unless required.
func intField(r *http.Request, name string, required bool) (*int, error) {
	v := strings.TrimSpace(r.PostForm.Get(name))
	if v == "" {
		if required {
			return nil, quota.Errorf(quota.CodeMissingParameter, "%s is required: give a whole number.", name)
		}
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, quota.Errorf(quota.CodeInvalidParameterType, "%s must be a whole number; it is %q.", name, quota.Truncate(v, 32))
	}
	return &n, nil
}

// timeLayouts are the times a form may give: what a datetime-local input
// sends (read as UTC), or RFC 3339.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02"}

// timeField reads a time as RFC 3339 for the operator service; absent is nil.
func timeField(r *http.Request, name string) (*string, error) {
	v := strings.TrimSpace(r.PostForm.Get(name))
	if v == "" {
		return nil, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			s := t.UTC().Format(time.RFC3339)
			return &s, nil
		}
	}
	return nil, quota.Errorf(quota.CodeInvalidParameterValue, "%s %q is not a time like 2026-12-01T10:00 (UTC).", name, quota.Truncate(v, 64))
}

// textField reads free text; absent ("") is nil.
func textField(r *http.Request, name string) *string {
	v := r.PostForm.Get(name)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return &v
}

// done redirects to path after a change, saying what it did.
func done(w http.ResponseWriter, r *http.Request, path, what, anchor string) {
	http.Redirect(w, r, path+"?done="+url.QueryEscape(what)+anchor, http.StatusSeeOther)
}

var overrideFields = []string{"zoneId", "maxCount", "expiresAt", "reason"}

func (c *Console) setOverride(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error {
	id := r.PathValue("id")
	form := formName(r, "override")
	in := &operatorapi.SetImageQuotaRequest{AccountID: &id, ZoneID: textField(r, "zoneId"), Reason: textField(r, "reason")}
	var err error
	if in.MaxCount, err = intField(r, "maxCount", true); err == nil {
		if in.ExpiresAt, err = timeField(r, "expiresAt"); err == nil {
			_, err = c.cfg.Operator.SetImageQuota(r.Context(), call, in)
		}
	}
	if err != nil {
		p, status, err := formProblem(r, form, overrideFields, err)
		if err != nil {
			return err
		}
		return c.renderAccount(w, r, s, id, status, p)
	}
	done(w, r, "/console/accounts/"+url.PathEscape(id), "override-set", "#overrides")
	return nil
}

func (c *Console) removeOverride(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error {
	id := r.PathValue("id")
	in := &operatorapi.UnsetImageQuotaRequest{AccountID: &id, ZoneID: textField(r, "zoneId")}
	res, err := c.cfg.Operator.UnsetImageQuota(r.Context(), call, in)
	if err != nil {
		p, status, err := formProblem(r, formName(r, "override"), overrideFields, err)
		if err != nil {
			return err
		}
		return c.renderAccount(w, r, s, id, status, p)
	}
	if !res.Removed {
		return quota.Errorf(quota.CodeResourceNotFound, "The account has no such override (it may have expired or been removed already).")
	}
	done(w, r, "/console/accounts/"+url.PathEscape(id), "override-removed", "#overrides")
	return nil
}

func (c *Console) setKeyStatus(disable bool) func(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error {
	return func(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error {
		id, key := r.PathValue("id"), r.PathValue("key")
		// The key must be the account's: the page names it so.
		keys, err := c.cfg.Store.ListAccessKeys(r.Context(), id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(keys, func(k quota.AccessKey) bool { return k.ID == key }) {
			return quota.Errorf(quota.CodeAccessKeyNotFound, "Account %s has no access key %s.", quota.Truncate(id, 64), quota.Truncate(key, 64))
		}
		in := &operatorapi.AccessKeyRequest{AccessKeyID: &key}
		what := "key-enabled"
		if disable {
			what = "key-disabled"
			_, err = c.cfg.Operator.DisableAccessKey(r.Context(), call, in)
		} else {
			_, err = c.cfg.Operator.EnableAccessKey(r.Context(), call, in)
		}
		if err != nil {
			return err
		}
		done(w, r, "/console/accounts/"+url.PathEscape(id), what, "#keys")
		return nil
	}
}

func (c *Console) setAccountStatus(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error {
	id := r.PathValue("id")
	var disabled bool
	switch r.PostForm.Get("disabled") {
	case "true":
		disabled = true
	case "false":
	default:
		return quota.Errorf(quota.CodeInvalidParameterValue, "disabled must be true or false.")
	}
	if _, err := c.cfg.Operator.ModifyAccountStatus(r.Context(), call, &operatorapi.ModifyAccountStatusRequest{AccountID: &id, Disabled: &disabled}); err != nil {
		return err
	}
	what := "account-enabled"
	if disabled {
		what = "account-disabled"
	}
	done(w, r, "/console/accounts/"+url.PathEscape(id), what, "")
	return nil
}
