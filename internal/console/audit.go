package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
)

// auditPageSize is how many records a page of the audit trail shows.
const auditPageSize = 50

// auditActions are offered as the action filter's suggestions.
var auditActions = []string{
	"ApproveQuotaRequest", "CancelImageQuotaRequest", "ConsoleSignIn", "ConsoleSignOut", "CreateAccessKey", "CreateAccount",
	"CreateImage", "CreateImageQuotaRequest", "CreateInstance", "CreateOperator", "CreateOperatorKey", "CreateToken",
	"DeleteImages", "DeleteInstance", "DenyQuotaRequest", "DisableAccessKey", "DisableAccount", "DisableOperator",
	"DisableOperatorKey", "EnableAccessKey", "EnableAccount", "EnableOperator", "EnableOperatorKey",
	"ModifyImagesAttributes", "OverrideExpired", "SetLimit", "UnsetLimit",
}

type auditView struct {
	AccountID, Action, Since, Until string
	Actions                         []string
	Records                         []quota.AuditRecord
	Pager                           pager
	Filtered                        bool
}

// audit shows the audit trail, newest first, filtered by account, action
// and time.
func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	q := r.URL.Query()
	v := auditView{Actions: auditActions, AccountID: strings.TrimSpace(q.Get("accountId")), Action: strings.TrimSpace(q.Get("action")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
	f, err := auditFilter(v)
	page, perr := pageParam(r, "page")
	if err == nil {
		err = perr
	}
	if err != nil {
		p, status, err := formProblem(r, "filter", []string{"accountId", "action", "since", "until", "page"}, err)
		if err != nil {
			return err
		}
		p.Values = q
		c.render(w, r, status, "audit", view{Title: "Audit trail", Nav: "audit", S: s, Problem: p, Body: v})
		return nil
	}
	v.Filtered = f != (quota.AuditFilter{})
	// Record the ends of expired overrides first, as the operator API does.
	if err := c.cfg.Operator.Sweep(ctx); err != nil {
		return err
	}
	total, err := c.cfg.Store.CountAudit(ctx, f)
	if err != nil {
		return err
	}
	// The store lists oldest first: page n of the newest first is the
	// stretch that ends n pages from the end.
	end := total - (page-1)*auditPageSize
	if end > 0 {
		f.Offset = max(end-auditPageSize, 0)
		f.Limit = end - f.Offset
		if v.Records, err = c.cfg.Store.ListAudit(ctx, f); err != nil {
			return err
		}
		slices.Reverse(v.Records)
	}
	base := url.URL{Path: "/console/audit", RawQuery: r.URL.Query().Encode()}
	v.Pager = newPager(base, "page", page, auditPageSize, total)
	c.render(w, r, http.StatusOK, "audit", view{Title: "Audit trail", Nav: "audit", S: s, Body: v})
	return nil
}

// auditFilter is the filter the audit page's form asks for.
func auditFilter(v auditView) (quota.AuditFilter, error) {
	var f quota.AuditFilter
	if v.AccountID != "" {
		if err := quota.CheckID("accountId", v.AccountID); err != nil {
			return f, err
		}
		f.AccountID = v.AccountID
	}
	if v.Action != "" {
		if err := quota.CheckText("action", v.Action, 64); err != nil {
			return f, err
		}
		f.Action = v.Action
	}
	var err error
	if f.Since, err = queryTime("since", v.Since); err != nil {
		return f, err
	}
	if f.Until, err = queryTime("until", v.Until); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, quota.Errorf(quota.CodeInvalidParameterValue, "since must be before until.")
	}
	return f, nil
}

// queryTime reads a time filter: a datetime-local value (UTC) or RFC 3339.
func queryTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, quota.Errorf(quota.CodeInvalidParameterValue, "%s %q is not a time like 2026-12-01T10:00 (UTC).", name, quota.Truncate(v, 64))
}
