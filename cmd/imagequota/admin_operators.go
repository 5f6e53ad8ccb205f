package main

import (
	"context"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
)

const operatorHelp = `An operator runs the service through the operator API (POST
/api/v2/operator, or imagequota admin --server) with an operator access key
(OPK…): role admin may call every action, role readonly only the Describe*
ones. Operator keys work only on the operator API, tenant keys only on the
vm API. Their passwords are sealed with the master key like tenants'.`

var operatorCommands = []adminCommand{
	{
		group: "operator", verb: "create", synopsis: "--name NAME --role admin|readonly", local: true, key: true, keyGenerate: true,
		summary: "create an operator and its first access key (prints its password once)",
		details: operatorHelp,
		setup: func(f *adminFlags) adminRun {
			name := f.Required("name", "operator `NAME` (who or what uses it)")
			role := f.String("role", "", "`ROLE`: admin or readonly (required)")
			f.Check(func() {
				if *role != quota.RoleAdmin && *role != quota.RoleReadonly {
					f.Problem("--role must be admin or readonly")
				}
			})
			return func(ctx context.Context, a *adminCtx) error {
				op, k, err := a.local.CreateOperator(ctx, *name, *role, quota.AdminActor)
				if err != nil {
					return err
				}
				return a.print(map[string]any{"operatorId": op.ID, "name": op.Name, "role": op.Role, "accessKeyId": k.ID, "accessKeyPassword": k.Secret},
					[]string{"OPERATOR ID", "NAME", "ROLE", "ACCESS KEY ID", "ACCESS KEY PASSWORD"}, [][]string{{op.ID, op.Name, op.Role, k.ID, k.Secret}})
			}
		},
	},
	{
		group: "operator", verb: "list", local: true, summary: "list operators, oldest first, with their keys (never their passwords)",
		setup: func(f *adminFlags) adminRun {
			return func(ctx context.Context, a *adminCtx) error {
				ops, err := a.local.ListOperators(ctx)
				if err != nil {
					return err
				}
				keys, err := a.local.ListOperatorKeys(ctx, "")
				if err != nil {
					return err
				}
				type keyInfo struct {
					ID       string    `json:"accessKeyId"`
					Disabled bool      `json:"disabled"`
					Created  time.Time `json:"createdAt"`
				}
				type opInfo struct {
					quota.Operator
					Keys []keyInfo `json:"accessKeys"`
				}
				out := []opInfo{}
				rows := [][]string{}
				for _, op := range ops {
					o := opInfo{Operator: op, Keys: []keyInfo{}}
					var ids []string
					for _, k := range keys {
						if k.OperatorID != op.ID {
							continue
						}
						o.Keys = append(o.Keys, keyInfo{k.ID, k.Disabled, k.CreatedAt})
						id := k.ID
						if k.Disabled {
							id += " (disabled)"
						}
						ids = append(ids, id)
					}
					out = append(out, o)
					rows = append(rows, []string{op.ID, op.Name, op.Role, enabled(!op.Disabled), op.CreatedAt.Format(time.RFC3339), strings.Join(ids, ", ")})
				}
				return a.print(out, []string{"OPERATOR ID", "NAME", "ROLE", "STATE", "CREATED", "ACCESS KEYS"}, rows)
			}
		},
	},
	{
		group: "operator", verb: "disable", synopsis: "ID", local: true, summary: "disable an operator: every key of it is refused",
		setup: func(f *adminFlags) adminRun { return setOperatorDisabled(f.Arg(), true) },
	},
	{
		group: "operator", verb: "enable", synopsis: "ID", local: true, summary: "enable a disabled operator",
		setup: func(f *adminFlags) adminRun { return setOperatorDisabled(f.Arg(), false) },
	},
	{
		group: "operator", verb: "add-key", synopsis: "ID", local: true, key: true, keyGenerate: true, summary: "give an operator another access key (prints its password once)",
		details: "To rotate an operator's key: add a key, move to it, then disable-key the old one.",
		setup: func(f *adminFlags) adminRun {
			id := f.Arg()
			return func(ctx context.Context, a *adminCtx) error {
				k, err := a.local.CreateOperatorKey(ctx, *id, quota.AdminActor)
				if err != nil {
					return err
				}
				return a.print(map[string]any{"operatorId": k.OperatorID, "accessKeyId": k.ID, "accessKeyPassword": k.Secret},
					[]string{"OPERATOR ID", "ACCESS KEY ID", "ACCESS KEY PASSWORD"}, [][]string{{k.OperatorID, k.ID, k.Secret}})
			}
		},
	},
	{
		group: "operator", verb: "disable-key", synopsis: "KEYID", local: true, summary: "disable one operator access key",
		setup: func(f *adminFlags) adminRun { return setOperatorKeyDisabled(f.Arg(), true) },
	},
	{
		group: "operator", verb: "enable-key", synopsis: "KEYID", local: true, summary: "enable a disabled operator access key",
		setup: func(f *adminFlags) adminRun { return setOperatorKeyDisabled(f.Arg(), false) },
	},
}

func setOperatorDisabled(id *string, disabled bool) adminRun {
	return func(ctx context.Context, a *adminCtx) error {
		if err := a.local.SetOperatorDisabled(ctx, *id, disabled, quota.AdminActor); err != nil {
			return err
		}
		return a.print(map[string]any{"operatorId": *id, "disabled": disabled},
			[]string{"OPERATOR ID", "STATE"}, [][]string{{*id, enabled(!disabled)}})
	}
}

func setOperatorKeyDisabled(id *string, disabled bool) adminRun {
	return func(ctx context.Context, a *adminCtx) error {
		if err := a.local.SetOperatorKeyDisabled(ctx, *id, disabled, quota.AdminActor); err != nil {
			return err
		}
		return a.print(map[string]any{"accessKeyId": *id, "disabled": disabled},
			[]string{"ACCESS KEY ID", "STATE"}, [][]string{{*id, enabled(!disabled)}})
	}
}
