package main

import (
	"context"
	"fmt"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
)

const quotaScopeHelp = `A limit applies to a scope: with both --account and --location, to that
pair; with one of them, account-wide or location-wide; with neither, it is the
server-wide default. An account's limit in a location is the most specific of
these; when none is set, the built-in default of 5 applies. The server-wide
limit is the default in effect on every server: serve --default-max-count N
records it at start, as quota set --max N does.`

var quotaCommands = []adminCommand{
	{
		group: "quota", verb: "set", synopsis: "[--account ID] [--location LOC] --max N [--expires-at TIME | --expires-in DURATION] [--reason TEXT]",
		summary: "set the limit of a scope, for good or until an expiry",
		details: quotaScopeHelp + `

With --expires-at (RFC 3339) or --expires-in, the limit stops applying at
that instant, on every replica at once; the limit below it applies again,
and the end is recorded in the audit trail (OverrideExpired). --reason
says why it was set.

A limit below the current count is allowed: the command warns about every
account and location where it is the limit in effect and the count is over it
(on stderr, and in overLimit in the JSON), and creating images there is
refused until enough are deleted.`,
		setup: func(f *adminFlags) adminRun {
			account := f.String("account", "", "account `ID` (omit for every account)")
			location := f.Location("location `LOC` (omit for every location)", false)
			maxCount := f.Int("max", 0, fmt.Sprintf("the limit, `N` from 0 to %d (required)", quota.MaxLimit))
			expiresAt := f.String("expires-at", "", "the `TIME` the limit stops applying (RFC 3339, like 2026-12-01T10:00:00Z)")
			expiresIn := f.Duration("expires-in", 0, "how long the limit applies, a `DURATION` like 72h (instead of --expires-at)")
			reason := f.String("reason", "", "why the limit is set (`TEXT`, at most 255 characters)")
			var ends *time.Time
			f.Check(func() {
				if !f.IsSet("max") {
					f.Problem("--max is required (0-%d)", quota.MaxLimit)
				}
				switch {
				case *expiresAt != "" && *expiresIn != 0:
					f.Problem("give --expires-at or --expires-in, not both")
				case *expiresAt != "":
					t, err := time.Parse(time.RFC3339, *expiresAt)
					if err != nil {
						f.Problem("--expires-at %q is not an RFC 3339 time like 2026-12-01T10:00:00Z", *expiresAt)
					}
					ends = &t
				case *expiresIn < 0:
					f.Problem("--expires-in must be positive")
				case *expiresIn > 0:
					t := time.Now().Add(*expiresIn)
					ends = &t
				}
			})
			return func(ctx context.Context, a *adminCtx) error {
				o := quota.LimitOverride{AccountID: *account, LocationID: *location, MaxCount: *maxCount, ExpiresAt: ends, Reason: *reason}
				prev, over, err := a.db.SetLimitWarn(ctx, o)
				// The store checks the range of a limit; say it in terms of the flag.
				if e, ok := quota.AsError(err); ok && (e.Code == quota.CodeLessMinimum || e.Code == quota.CodeExceedMaximum) {
					return f.Fail("--max must be 0-%d; it is %d", quota.MaxLimit, *maxCount)
				}
				if err != nil {
					return err
				}
				warnings := []excess{}
				for _, x := range over {
					warnings = append(warnings, excess{x.AccountID, x.LocationID, x.Count, x.MaxCount, x.Excess()})
					fmt.Fprintf(a.stderr, "warning: %s\n", x)
				}
				return a.print(map[string]any{"accountId": *account, "location": *location, "maxCount": *maxCount, "expiresAt": timeOrNil(ends),
					"reason": *reason, "previous": prev, "overLimit": warnings},
					[]string{"SCOPE", "MAX COUNT", "EXPIRES AT", "PREVIOUS"}, [][]string{{scopeName(*account, *location), fmt.Sprint(*maxCount), timeOrDash(ends), intOrDash(prev)}})
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
		group: "quota", verb: "list", summary: "every limit in effect, with its expiry and reason",
		details: `Listing first records the end of every limit past its expiry
(OverrideExpired in the audit trail); those are not listed.`,
		setup: func(f *adminFlags) adminRun {
			return func(ctx context.Context, a *adminCtx) error {
				ls, err := a.db.ListLimits(ctx)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, l := range ls {
					rows = append(rows, []string{orStar(l.AccountID), orStar(l.LocationID), fmt.Sprint(l.MaxCount), timeOrDash(l.ExpiresAt), orDash(l.Reason)})
				}
				return a.print(ls, []string{"ACCOUNT", "LOCATION", "MAX COUNT", "EXPIRES AT", "REASON"}, rows)
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

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
