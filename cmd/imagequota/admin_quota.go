package main

import (
	"context"
	"fmt"

	"imagequota/internal/quota"
)

const quotaScopeHelp = `A limit applies to a scope: with both --account and --location, to that
pair; with one of them, account-wide or location-wide; with neither, it is the
server-wide default. An account's limit in a location is the most specific of
these; when none is set, the built-in default of 5 applies. The server-wide
limit is the default in effect on every server: serve --default-max-count N
records it at start, as quota set --max N does.`

var quotaCommands = []adminCommand{
	{
		group: "quota", verb: "set", synopsis: "[--account ID] [--location LOC] --max N",
		summary: "set the limit of a scope",
		details: quotaScopeHelp + `

A limit below the current count is allowed: the command warns about every
account and location where it is the limit in effect and the count is over it
(on stderr, and in overLimit in the JSON), and creating images there is
refused until enough are deleted.`,
		setup: func(f *adminFlags) adminRun {
			account := f.String("account", "", "account `ID` (omit for every account)")
			location := f.Location("location `LOC` (omit for every location)", false)
			maxCount := f.Int("max", 0, fmt.Sprintf("the limit, `N` from 0 to %d (required)", quota.MaxLimit))
			f.Check(func() {
				if !f.IsSet("max") {
					f.Problem("--max is required (0-%d)", quota.MaxLimit)
				}
			})
			return func(ctx context.Context, a *adminCtx) error {
				prev, err := a.db.SetLimit(ctx, quota.LimitOverride{AccountID: *account, LocationID: *location, MaxCount: *maxCount}, quota.AdminActor)
				// The store checks the range of a limit; say it in terms of the flag.
				if e, ok := quota.AsError(err); ok && (e.Code == quota.CodeLessMinimum || e.Code == quota.CodeExceedMaximum) {
					return f.Fail("--max must be 0-%d; it is %d", quota.MaxLimit, *maxCount)
				}
				if err != nil {
					return err
				}
				warnings, err := a.overLimit(ctx, *account, *location, *maxCount)
				if err != nil {
					return err
				}
				return a.print(map[string]any{"accountId": *account, "location": *location, "maxCount": *maxCount, "previous": prev, "overLimit": warnings},
					[]string{"SCOPE", "MAX COUNT", "PREVIOUS"}, [][]string{{scopeName(*account, *location), fmt.Sprint(*maxCount), intOrDash(prev)}})
			}
		},
	},
	{
		group: "quota", verb: "unset", synopsis: "[--account ID] [--location LOC]",
		summary: "remove the limit of a scope (the selectors of quota set)",
		details: quotaScopeHelp,
		setup: func(f *adminFlags) adminRun {
			account := f.String("account", "", "account `ID` (omit for every account)")
			location := f.Location("location `LOC` (omit for every location)", false)
			return func(ctx context.Context, a *adminCtx) error {
				if err := a.checkAccount(ctx, *account); err != nil {
					return err
				}
				prev, err := a.db.UnsetLimit(ctx, *account, *location, quota.AdminActor)
				if err != nil {
					return err
				}
				scope := scopeName(*account, *location)
				if prev == nil {
					fmt.Fprintf(a.stderr, "note: no limit was set for %s; nothing changed\n", scope)
				}
				return a.print(map[string]any{"accountId": *account, "location": *location, "removed": prev != nil, "previous": prev},
					[]string{"SCOPE", "REMOVED", "PREVIOUS"}, [][]string{{scope, fmt.Sprint(prev != nil), intOrDash(prev)}})
			}
		},
	},
	{
		group: "quota", verb: "show", synopsis: "--account ID",
		summary: "resolved limit, its source and the count per location",
		details: `The source is account+location, account, location, default (the stored
server-wide limit, which serve --default-max-count records) or server-default
(the built-in 5, when no server-wide limit is stored).`,
		setup: func(f *adminFlags) adminRun {
			account := f.Required("account", "account `ID`")
			return func(ctx context.Context, a *adminCtx) error { return a.quotaShow(ctx, *account) }
		},
	},
	{
		group: "quota", verb: "list", summary: "every limit that is set",
		setup: func(f *adminFlags) adminRun {
			return func(ctx context.Context, a *adminCtx) error {
				ls, err := a.db.ListLimits(ctx)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, l := range ls {
					rows = append(rows, []string{orStar(l.AccountID), orStar(l.LocationID), fmt.Sprint(l.MaxCount)})
				}
				return a.print(ls, []string{"ACCOUNT", "LOCATION", "MAX COUNT"}, rows)
			}
		},
	},
}

// excess is a location of an account whose count is over the limit in effect.
type excess struct {
	Account  string `json:"accountId"`
	Location string `json:"location"`
	Count    int    `json:"count"`
	MaxCount int    `json:"maxCount"`
	Excess   int    `json:"excess"`
}

// usagePage is how many (account, location) pairs overLimit reads at a time.
const usagePage = 1000

// overLimit warns about, and returns, every (account, location) where the
// limit of the scope (account, location), just set to maxCount, is the one
// in effect and the count is over it. Only pairs with more than maxCount
// images can be, so only those are read, a page at a time.
func (a *adminCtx) overLimit(ctx context.Context, account, location string, maxCount int) ([]excess, error) {
	warnings := []excess{}
	f := quota.UsageFilter{AccountID: account, LocationID: location, MinCount: maxCount + 1, Limit: usagePage}
	for {
		page, err := a.db.ListUsage(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, u := range page {
			eff := quota.EffectiveLimit(u.Overrides, u.AccountID, u.LocationID, quota.DefaultMaxCount)
			if !eff.From(account, location) || u.Count <= eff.MaxCount {
				continue
			}
			n, m := u.Count, eff.MaxCount
			warnings = append(warnings, excess{u.AccountID, u.LocationID, n, m, n - m})
			fmt.Fprintf(a.stderr, "warning: account %s has %d images in %s, %d over the limit of %d; creating images there is refused until %d are deleted\n",
				u.AccountID, n, u.LocationID, n-m, m, n-m+1)
		}
		if len(page) < f.Limit {
			return warnings, nil
		}
		last := page[len(page)-1]
		f.AfterAccountID, f.AfterLocationID = last.AccountID, last.LocationID
	}
}

// quotaShow prints the limit in effect, its source and the count for every
// enabled location.
func (a *adminCtx) quotaShow(ctx context.Context, account string) error {
	if err := a.checkAccount(ctx, account); err != nil {
		return err
	}
	u, err := a.db.Usage(ctx, account)
	if err != nil {
		return err
	}
	type row struct {
		Location string `json:"location"`
		MaxCount int    `json:"maxCount"`
		Source   string `json:"source"`
		Count    int    `json:"count"`
	}
	out := []row{}
	rows := [][]string{}
	for _, l := range a.cat.Enabled() {
		m, src := quota.ResolveLimit(u.Overrides, account, l.ID, quota.DefaultMaxCount)
		out = append(out, row{l.ID, m, src, u.Counts[l.ID]})
		rows = append(rows, []string{l.ID, fmt.Sprint(u.Counts[l.ID]), fmt.Sprint(m), src})
	}
	return a.print(out, []string{"LOCATION", "COUNT", "MAX COUNT", "SOURCE"}, rows)
}

func scopeName(account, location string) string {
	switch {
	case account != "" && location != "":
		return "account " + account + " in " + location
	case account != "":
		return "account " + account
	case location != "":
		return "location " + location
	}
	return "default"
}

var locationCommands = []adminCommand{
	{
		group: "location", verb: "list", summary: "the location catalogue (--catalog replaces the built-in one)",
		setup: func(f *adminFlags) adminRun {
			return func(ctx context.Context, a *adminCtx) error {
				locs := a.cat.All()
				rows := [][]string{}
				for _, l := range locs {
					rows = append(rows, []string{l.ID, l.Name, enabled(!l.Disabled)})
				}
				return a.print(locs, []string{"LOCATION", "NAME", "STATE"}, rows)
			}
		},
	},
}
