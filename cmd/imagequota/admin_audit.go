package main

import (
	"context"
	"fmt"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store"
)

var auditCommands = []adminCommand{
	{
		group: "audit", verb: "list", synopsis: "[--account ID] [--action ACTION] [--since RFC3339] [--until RFC3339] [--limit N]",
		summary: "every change, oldest first, with its actor and request id",
		details: `Listing first records the end of every override past its expiry
(OverrideExpired), as the server does every minute.`,
		setup: func(f *adminFlags) adminRun {
			account := f.String("account", "", "account `ID` (omit for every account)")
			action := f.String("action", "", "only records of this `ACTION` (CreateImage, SetLimit, OverrideExpired, …)")
			since := f.String("since", "", "only records at or after this `TIME` (RFC 3339)")
			until := f.String("until", "", "only records before this `TIME` (RFC 3339)")
			limit := f.Int("limit", 1000, "at most `N` records (0: all)")
			var sinceT, untilT time.Time
			f.Check(func() {
				for _, t := range []struct {
					name, value string
					out         *time.Time
				}{{"since", *since, &sinceT}, {"until", *until, &untilT}} {
					if t.value == "" {
						continue
					}
					var err error
					if *t.out, err = time.Parse(time.RFC3339, t.value); err != nil {
						f.Problem("--%s %q is not an RFC 3339 time like 2026-01-02T15:04:05Z", t.name, t.value)
					}
				}
			})
			return func(ctx context.Context, a *adminCtx) error {
				if err := a.checkAccount(ctx, *account); err != nil {
					return err
				}
				recs, err := a.db.ListAudit(ctx, quota.AuditFilter{AccountID: *account, Action: *action, Since: sinceT, Until: untilT, Limit: *limit})
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, r := range recs {
					rows = append(rows, []string{r.At.Format(time.RFC3339Nano), orStar(r.AccountID), r.Actor, r.RequestID, r.Action, r.Target, compact(r.Before), compact(r.After)})
				}
				return a.print(recs, []string{"TIME", "ACCOUNT", "ACTOR", "REQUEST ID", "ACTION", "TARGET", "BEFORE", "AFTER"}, rows)
			}
		},
	},
	{
		group: "audit", verb: "prune", synopsis: "--older-than AGE [--keep N] [--dry-run]", local: true,
		summary: "remove old audit records; one PruneAudit record says how many",
		details: `AGE is a number of days (400d) or a duration (36h). A record is removed
when it is older than AGE or, with --keep, older than the newest N changes
(PruneAudit records do not count among them); --keep alone bounds only the
count. Records written while the prune runs stay. The records go in
transactions of at most 1000, so a server on the same store goes on
meanwhile, and the PruneAudit record is kept up to date in each of them.`,
		setup: func(f *adminFlags) adminRun {
			age := f.Age("older-than", "remove records older than `AGE` (400d, 36h)")
			keep := f.Int("keep", 0, "remove records older than the newest `N` changes (0: no bound by count)")
			dryRun := f.Bool("dry-run", "count the records that would be removed; remove none")
			f.Check(func() {
				if *keep < 0 {
					f.Problem("--keep must be 0 or more")
				}
				if *age == 0 && *keep == 0 {
					f.Problem("--older-than AGE, --keep N or both are required")
				}
			})
			return func(ctx context.Context, a *adminCtx) error {
				p := store.AuditRetention{MaxAge: *age, MaxCount: *keep}.PruneAt(time.Now())
				var n int
				if *dryRun {
					var err error
					if n, err = a.local.CountAuditPrune(ctx, p); err != nil {
						return err
					}
				} else {
					res, err := a.local.PruneAudit(ctx, p, quota.AdminActor)
					if err != nil {
						return err
					}
					n = res.Removed
				}
				var olderThan *string
				cutoff, keepCol := "-", "-"
				if !p.Before.IsZero() {
					cutoff = p.Before.UTC().Format(time.RFC3339)
					olderThan = &cutoff
				}
				if *keep > 0 {
					keepCol = fmt.Sprint(*keep)
				}
				removed := "REMOVED"
				if *dryRun {
					removed = "WOULD REMOVE"
				}
				return a.print(map[string]any{"removed": n, "dryRun": *dryRun, "olderThan": olderThan, "keep": *keep},
					[]string{removed, "OLDER THAN", "KEEP"}, [][]string{{fmt.Sprint(n), cutoff, keepCol}})
			}
		},
	},
}

var masterKeyCommands = []adminCommand{
	{
		group: "master-key", verb: "rotate", synopsis: "--new-key-file F", key: true, local: true,
		summary: "re-seal every access key password (tenants' and operators') under the key in F",
		details: `F is generated (mode 0600) when it does not exist. Every password is
re-sealed in one transaction; then make F the --master-key-file of every
server and admin command, and restart the servers.`,
		setup: func(f *adminFlags) adminRun {
			newKeyFile := f.Required("new-key-file", "`FILE` of the new master key (generated with mode 0600 when absent)")
			return func(ctx context.Context, a *adminCtx) error {
				next, created, err := secrets.LoadOrGenerate(*newKeyFile)
				if err != nil {
					return err
				}
				if created {
					fmt.Fprintf(a.stderr, "Generated a new master key in %s (mode 0600).\n", *newKeyFile)
				}
				n, err := a.local.RotateSecrets(ctx, next, quota.AdminActor)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Every access key password is now sealed under %s. Make it the master key file (for example: mv %s %s) and restart the servers.\n", *newKeyFile, *newKeyFile, a.keyPath)
				return a.print(map[string]any{"masterKeyId": next.ID(), "accessKeys": n, "newKeyFile": *newKeyFile},
					[]string{"MASTER KEY ID", "ACCESS KEYS RE-SEALED", "NEW KEY FILE"}, [][]string{{next.ID(), fmt.Sprint(n), *newKeyFile}})
			}
		},
	},
}
