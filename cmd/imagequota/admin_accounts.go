package main

import (
	"context"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
)

var accountCommands = []adminCommand{
	{
		group: "account", verb: "create", synopsis: "--name NAME", summary: "create an account",
		setup: func(f *adminFlags) adminRun {
			name := f.Required("name", "account `NAME`")
			return func(ctx context.Context, a *adminCtx) error {
				acct, err := a.db.CreateAccountAs(ctx, *name, quota.AdminActor)
				if err != nil {
					return err
				}
				return a.print(map[string]any{"accountId": acct.ID, "name": acct.Name},
					[]string{"ACCOUNT ID", "NAME"}, [][]string{{acct.ID, acct.Name}})
			}
		},
	},
	{
		group: "account", verb: "list", summary: "list accounts, oldest first",
		setup: func(f *adminFlags) adminRun {
			return func(ctx context.Context, a *adminCtx) error {
				accts, err := a.db.ListAccounts(ctx)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, x := range accts {
					rows = append(rows, []string{x.ID, x.Name, enabled(!x.Disabled), x.CreatedAt.Format(time.RFC3339)})
				}
				return a.print(accts, []string{"ACCOUNT ID", "NAME", "STATE", "CREATED"}, rows)
			}
		},
	},
	{
		group: "account", verb: "disable", synopsis: "ID", summary: "disable an account: its keys and tokens are refused",
		setup: func(f *adminFlags) adminRun { return setAccountDisabled(f.Arg(), true) },
	},
	{
		group: "account", verb: "enable", synopsis: "ID", summary: "enable a disabled account",
		setup: func(f *adminFlags) adminRun { return setAccountDisabled(f.Arg(), false) },
	},
}

func setAccountDisabled(id *string, disabled bool) adminRun {
	return func(ctx context.Context, a *adminCtx) error {
		if err := a.db.SetAccountDisabledAs(ctx, *id, disabled, quota.AdminActor); err != nil {
			return err
		}
		return a.print(map[string]any{"accountId": *id, "disabled": disabled},
			[]string{"ACCOUNT ID", "STATE"}, [][]string{{*id, enabled(!disabled)}})
	}
}

var keyCommands = []adminCommand{
	{
		group: "key", verb: "create", synopsis: "--account ID", summary: "create an access key (prints its password once)",
		details: `The password is sealed under the master key: on a store that has
none yet, the key file is generated (mode 0600) and recorded as the store's.`,
		key: true, keyGenerate: true,
		setup: func(f *adminFlags) adminRun {
			account := f.Required("account", "account `ID`")
			return func(ctx context.Context, a *adminCtx) error {
				k, err := a.db.CreateAccessKeyAs(ctx, *account, quota.AdminActor)
				if err != nil {
					return err
				}
				return a.print(map[string]any{"accessKeyId": k.ID, "accessKeyPassword": k.Secret, "accountId": k.AccountID},
					[]string{"ACCESS KEY ID", "ACCESS KEY PASSWORD", "ACCOUNT ID"}, [][]string{{k.ID, k.Secret, k.AccountID}})
			}
		},
	},
	{
		group: "key", verb: "list", synopsis: "--account ID", summary: "list an account's access keys (never their passwords)",
		setup: func(f *adminFlags) adminRun {
			account := f.Required("account", "account `ID`")
			return func(ctx context.Context, a *adminCtx) error {
				if err := a.checkAccount(ctx, *account); err != nil {
					return err
				}
				keys, err := a.db.ListAccessKeys(ctx, *account)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, k := range keys {
					rows = append(rows, []string{k.ID, k.AccountID, enabled(!k.Disabled), k.CreatedAt.Format(time.RFC3339)})
				}
				return a.print(keys, []string{"ACCESS KEY ID", "ACCOUNT ID", "STATE", "CREATED"}, rows)
			}
		},
	},
	{
		group: "key", verb: "disable", synopsis: "KEYID", summary: "disable an access key",
		setup: func(f *adminFlags) adminRun { return setKeyDisabled(f.Arg(), true) },
	},
	{
		group: "key", verb: "enable", synopsis: "KEYID", summary: "enable a disabled access key",
		setup: func(f *adminFlags) adminRun { return setKeyDisabled(f.Arg(), false) },
	},
}

func setKeyDisabled(id *string, disabled bool) adminRun {
	return func(ctx context.Context, a *adminCtx) error {
		if err := a.db.SetAccessKeyDisabledAs(ctx, *id, disabled, quota.AdminActor); err != nil {
			return err
		}
		return a.print(map[string]any{"accessKeyId": *id, "disabled": disabled},
			[]string{"ACCESS KEY ID", "STATE"}, [][]string{{*id, enabled(!disabled)}})
	}
}

var tokenCommands = []adminCommand{
	{
		group: "token", verb: "create", synopsis: "--account ID [--ttl 24h]", summary: "create a bearer token (printed once)",
		details: "The store keeps only a hash of the token.",
		setup: func(f *adminFlags) adminRun {
			account := f.Required("account", "account `ID`")
			ttl := f.Duration("ttl", 24*time.Hour, "how long the token is valid (a `DURATION` like 1h)")
			f.Check(func() {
				if *ttl <= 0 {
					f.Problem("--ttl must be positive")
				}
			})
			return func(ctx context.Context, a *adminCtx) error {
				tok, exp, err := a.db.CreateTokenAs(ctx, *account, *ttl, quota.AdminActor)
				if err != nil {
					return err
				}
				return a.print(map[string]any{"token": tok, "expiresAt": exp.Format(time.RFC3339), "accountId": *account},
					[]string{"TOKEN", "EXPIRES AT"}, [][]string{{tok, exp.Format(time.RFC3339)}})
			}
		},
	},
}
