package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/imagequota/imagequota/internal/quota"
)

var instanceCommands = []adminCommand{
	{
		group: "instance", verb: "create",
		synopsis: "--account ID --location LOC [--id ins-…] [--disk-gb 40] [--os-category Ubuntu] [--os-type linux] [--os-version 22.04]",
		summary:  "register an instance images can be made from",
		details: `An image is made in its instance's location, and its size is the
instance's disk size.`,
		setup: func(f *adminFlags) adminRun {
			account := f.Required("account", "account `ID`")
			location := f.Location("location `LOC`", true)
			id := f.String("id", "", "instance `ID` (default: a new ins-… id)")
			diskGB := f.Int("disk-gb", 40, "system disk size in `GB`: the size of images made from it")
			osCategory := f.String("os-category", "Ubuntu", "operating system `CATEGORY`")
			osType := f.String("os-type", "linux", "operating system `TYPE`: linux or windows")
			osVersion := f.String("os-version", "22.04", "operating system `VERSION`")
			// The store keeps what it is given: these rules are the command's.
			f.Check(func() {
				if *diskGB < 1 || *diskGB > 65536 {
					f.Problem("--disk-gb must be 1-65536")
				}
				if *osType != "linux" && *osType != "windows" {
					f.Problem("--os-type must be linux or windows")
				}
				if *id != "" && (!strings.HasPrefix(*id, "ins-") || len(*id) > 64) {
					f.Problem("--id must start with ins- and be at most 64 characters")
				}
			})
			return func(ctx context.Context, a *adminCtx) error {
				inst, err := a.db.CreateInstanceAs(ctx, quota.Instance{ID: *id, AccountID: *account, LocationID: *location, DiskGB: *diskGB,
					OSCategory: *osCategory, OSType: *osType, OSVersion: *osVersion}, quota.AdminActor)
				if err != nil {
					return err
				}
				return a.print(map[string]any{"instanceId": inst.ID, "accountId": inst.AccountID, "location": inst.LocationID},
					[]string{"INSTANCE ID", "ACCOUNT ID", "LOCATION"}, [][]string{{inst.ID, inst.AccountID, inst.LocationID}})
			}
		},
	},
	{
		group: "instance", verb: "list", synopsis: "[--account ID]", summary: "list instances, oldest first",
		setup: func(f *adminFlags) adminRun {
			account := f.String("account", "", "account `ID` (omit for every account)")
			return func(ctx context.Context, a *adminCtx) error {
				if err := a.checkAccount(ctx, *account); err != nil {
					return err
				}
				insts, err := a.db.ListInstances(ctx, *account)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, i := range insts {
					rows = append(rows, []string{i.ID, i.AccountID, i.LocationID, fmt.Sprint(i.DiskGB), i.OSCategory + " " + i.OSVersion + " (" + i.OSType + ")"})
				}
				return a.print(insts, []string{"INSTANCE ID", "ACCOUNT ID", "LOCATION", "DISK GB", "OS"}, rows)
			}
		},
	},
	{
		group: "instance", verb: "delete", synopsis: "ID", summary: "remove an instance (its images stay, and still count)",
		setup: func(f *adminFlags) adminRun {
			id := f.Arg()
			return func(ctx context.Context, a *adminCtx) error {
				if err := a.db.DeleteInstanceAs(ctx, *id, quota.AdminActor); err != nil {
					return err
				}
				return a.print(map[string]any{"instanceId": *id, "deleted": true}, []string{"INSTANCE ID", "DELETED"}, [][]string{{*id, "true"}})
			}
		},
	},
}
