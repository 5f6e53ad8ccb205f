package operator

import (
	"context"
	"fmt"
	"math"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/operatorapi"
)

// SetImageQuota sets the limit of a scope, with an optional expiry and
// reason, and warns of every account×zone now over it.
func (s *Service) SetImageQuota(ctx context.Context, c *zcapi.Call, in *operatorapi.SetImageQuotaRequest) (*operatorapi.SetImageQuotaResponse, error) {
	o, err := s.validateSetImageQuota(in)
	if err != nil {
		return nil, err
	}
	prev, err := s.Store.SetLimit(ctx, o, actor(c))
	if err != nil {
		return nil, err
	}
	over, err := OverLimit(ctx, s.Store, o.AccountID, o.LocationID, o.MaxCount, s.DefaultMax)
	if err != nil {
		return nil, err
	}
	out := &operatorapi.SetImageQuotaResponse{AccountID: o.AccountID, ZoneID: o.LocationID, MaxCount: o.MaxCount,
		ExpiresAt: formatTimePtr(o.ExpiresAt), Reason: o.Reason, Previous: prev, Warnings: make([]operatorapi.QuotaWarning, 0, len(over))}
	for _, w := range over {
		out.Warnings = append(out.Warnings, operatorapi.QuotaWarning{AccountID: w.AccountID, ZoneID: w.LocationID, Count: w.Count,
			MaxCount: w.MaxCount, Excess: w.Excess(), Message: w.String()})
	}
	return out, nil
}

func (s *Service) validateSetImageQuota(in *operatorapi.SetImageQuotaRequest) (quota.LimitOverride, error) {
	var o quota.LimitOverride
	var err error
	if o.AccountID, err = optionalID("accountId", in.AccountID); err != nil {
		return o, err
	}
	if o.LocationID, err = optionalID("zoneId", in.ZoneID); err != nil {
		return o, err
	}
	if err := s.zone("zoneId", o.LocationID); err != nil {
		return o, err
	}
	if in.MaxCount == nil {
		return o, quota.Errorf(quota.CodeMissingParameter, "maxCount is required.")
	}
	o.MaxCount = *in.MaxCount
	if in.ExpiresAt != nil {
		t, err := parseTime("expiresAt", in.ExpiresAt)
		if err != nil {
			return o, err
		}
		if !t.IsZero() {
			o.ExpiresAt = &t
		}
	}
	if o.Reason, err = optionalText("reason", in.Reason, quota.MaxReasonLen); err != nil {
		return o, err
	}
	// The store checks the limit and that the expiry is in the future.
	return o, nil
}

// UnsetImageQuota removes the override of a scope.
func (s *Service) UnsetImageQuota(ctx context.Context, c *zcapi.Call, in *operatorapi.UnsetImageQuotaRequest) (*operatorapi.UnsetImageQuotaResponse, error) {
	account, err := optionalID("accountId", in.AccountID)
	if err != nil {
		return nil, err
	}
	zone, err := optionalID("zoneId", in.ZoneID)
	if err != nil {
		return nil, err
	}
	if err := s.zone("zoneId", zone); err != nil {
		return nil, err
	}
	if account != "" {
		if _, err := s.Store.GetAccount(ctx, account); err != nil {
			return nil, err
		}
	}
	prev, err := s.Store.UnsetLimit(ctx, account, zone, actor(c))
	if err != nil {
		return nil, err
	}
	return &operatorapi.UnsetImageQuotaResponse{AccountID: account, ZoneID: zone, Removed: prev != nil, Previous: prev}, nil
}

// DescribeImageQuotaOverrides lists the overrides in effect, after
// recording the ends of those whose expiry has passed.
func (s *Service) DescribeImageQuotaOverrides(ctx context.Context, c *zcapi.Call, in *operatorapi.DescribeImageQuotaOverridesRequest) (*operatorapi.DescribeImageQuotaOverridesResponse, error) {
	account, err := optionalID("accountId", in.AccountID)
	if err != nil {
		return nil, err
	}
	zone, err := optionalID("zoneId", in.ZoneID)
	if err != nil {
		return nil, err
	}
	offset, limit, err := page(in.Page)
	if err != nil {
		return nil, err
	}
	if err := s.Sweep(ctx); err != nil {
		return nil, err
	}
	all, err := s.Store.ListLimits(ctx)
	if err != nil {
		return nil, err
	}
	sel := []quota.LimitOverride{}
	for _, o := range all {
		if (account == "" || o.AccountID == account) && (zone == "" || o.LocationID == zone) {
			sel = append(sel, o)
		}
	}
	out := &operatorapi.DescribeImageQuotaOverridesResponse{TotalCount: len(sel), DataSet: []operatorapi.OverrideInfo{}}
	for _, o := range pageOf(sel, offset, limit) {
		out.DataSet = append(out.DataSet, operatorapi.OverrideInfo{AccountID: o.AccountID, ZoneID: o.LocationID, MaxCount: o.MaxCount,
			ExpiresAt: formatTimePtr(o.ExpiresAt), Reason: o.Reason})
	}
	return out, nil
}

// maxMinUtilization bounds minUtilization: no limit is that far exceeded.
const maxMinUtilization = 1e6

// DescribeImageQuotaUsage lists the account×zone pairs with images and the
// limit in effect there, in one paged query.
func (s *Service) DescribeImageQuotaUsage(ctx context.Context, c *zcapi.Call, in *operatorapi.DescribeImageQuotaUsageRequest) (*operatorapi.DescribeImageQuotaUsageResponse, error) {
	f := quota.UsageReportFilter{DefaultMax: s.DefaultMax}
	var err error
	if f.Offset, f.Limit, err = page(in.Page); err != nil {
		return nil, err
	}
	if err := quota.CheckIDs("accountIds", in.AccountIDs); err != nil {
		return nil, err
	}
	f.AccountIDs = in.AccountIDs
	if len(in.ZoneIDs) > 0 {
		locs, err := s.Catalog.Resolve(quota.CodeZoneNotFound, quota.LocationFilter{Param: "zoneIds", IDs: in.ZoneIDs})
		if err != nil {
			return nil, err
		}
		for _, l := range locs {
			f.LocationIDs = append(f.LocationIDs, l.ID)
		}
	}
	if in.MinUtilization != nil {
		m := *in.MinUtilization
		if m < 0 {
			return nil, quota.Errorf(quota.CodeLessMinimum, "minUtilization must be at least 0; it is %v.", m)
		}
		if m > maxMinUtilization {
			return nil, quota.Errorf(quota.CodeExceedMaximum, "minUtilization must be at most %v; it is %v.", float64(maxMinUtilization), m)
		}
		f.MinUtilization = m
	}
	if f.OrderBy, err = choice("orderBy", in.OrderBy, operatorapi.OrderByUtilization, operatorapi.OrderByUtilization, operatorapi.OrderByAccountID); err != nil {
		return nil, err
	}
	rows, total, err := s.Store.UsageReport(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &operatorapi.DescribeImageQuotaUsageResponse{TotalCount: total, DataSet: make([]operatorapi.UsageInfo, 0, len(rows))}
	for _, r := range rows {
		u := operatorapi.UsageInfo{AccountID: r.AccountID, ZoneID: r.LocationID, Count: r.Count, MaxCount: r.Effective.MaxCount, Source: r.Effective.Source}
		if r.Effective.Scope != nil {
			u.ExpiresAt = formatTimePtr(r.Effective.Scope.ExpiresAt)
		}
		if x := r.Utilization(); !math.IsInf(x, 0) {
			u.Utilization = &x
		}
		out.DataSet = append(out.DataSet, u)
	}
	return out, nil
}

// UsageLister is what OverLimit reads: pages of usage.
type UsageLister interface {
	ListUsage(ctx context.Context, f quota.UsageFilter) ([]quota.LocationUsage, error)
}

// Excess is an account×zone whose image count is over the limit in effect.
type Excess struct {
	AccountID  string
	LocationID string
	Count      int
	MaxCount   int
}

// Excess is how many images are over the limit.
func (e Excess) Excess() int { return e.Count - e.MaxCount }

// String says what the excess means for the account.
func (e Excess) String() string {
	return fmt.Sprintf("account %s has %d images in %s, %d over the limit of %d; creating images there is refused until %d are deleted",
		e.AccountID, e.Count, e.LocationID, e.Excess(), e.MaxCount, e.Excess()+1)
}

// usagePage is how many (account, location) pairs OverLimit reads at a time.
const usagePage = 1000

// OverLimit returns every (account, location) where the override of the
// scope (account, location), just set to maxCount, is the limit in effect
// and the count is over it. Only pairs with more than maxCount images can
// be, so only those are read, a page at a time, with ListUsage.
func OverLimit(ctx context.Context, s UsageLister, account, location string, maxCount, defaultMax int) ([]Excess, error) {
	out := []Excess{}
	f := quota.UsageFilter{AccountID: account, LocationID: location, MinCount: maxCount + 1, Limit: usagePage}
	for {
		pg, err := s.ListUsage(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, u := range pg {
			eff := quota.EffectiveLimit(u.Overrides, u.AccountID, u.LocationID, defaultMax)
			if eff.From(account, location) && u.Count > eff.MaxCount {
				out = append(out, Excess{u.AccountID, u.LocationID, u.Count, eff.MaxCount})
			}
		}
		if len(pg) < f.Limit {
			return out, nil
		}
		last := pg[len(pg)-1]
		f.AfterAccountID, f.AfterLocationID = last.AccountID, last.LocationID
	}
}
