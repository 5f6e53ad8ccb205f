package console

import (
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

// requestsPageSize is how many quota requests a page shows.
const requestsPageSize = 25

// stateAll is the filter of every state.
const stateAll = "ALL"

type stateTab struct {
	State, Label, Href string
	Count              int
	Current            bool
}

type requestRow struct {
	quota.QuotaRequest
	AccountName, Location string
	// Form names the request's approve and deny forms.
	ApproveForm, DenyForm string
}

type requestsView struct {
	State    string
	Tabs     []stateTab
	Requests []requestRow
	Pager    pager
	MaxLimit int
	Now      time.Time
}

func (c *Console) requests(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderRequests(w, r, s, http.StatusOK, nil)
}

func (c *Console) renderRequests(w http.ResponseWriter, r *http.Request, s *session, status int, p *problem) error {
	ctx := r.Context()
	state := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("state")))
	if state == "" {
		state = string(quota.RequestPending)
	}
	var f quota.QuotaRequestFilter
	if state != stateAll {
		states, err := quota.ParseRequestStates("state", []string{state})
		if err != nil {
			return err
		}
		f.States = states
	}
	page, err := pageParam(r, "page")
	if err != nil {
		return err
	}
	v := requestsView{State: state, MaxLimit: quota.MaxLimit, Now: c.cfg.Now()}
	total := 0
	for _, st := range quota.RequestStates {
		pg, err := c.cfg.Store.ListQuotaRequests(ctx, quota.QuotaRequestFilter{States: []quota.RequestState{st}, Limit: 1})
		if err != nil {
			return err
		}
		total += pg.TotalCount
		v.Tabs = append(v.Tabs, stateTab{State: string(st), Label: strings.ToLower(string(st)), Count: pg.TotalCount,
			Href: "/console/requests?state=" + string(st), Current: state == string(st)})
	}
	v.Tabs = append(v.Tabs, stateTab{State: stateAll, Label: "all", Count: total, Href: "/console/requests?state=" + stateAll, Current: state == stateAll})

	f.Offset, f.Limit = (page-1)*requestsPageSize, requestsPageSize
	pg, err := c.cfg.Store.ListQuotaRequests(ctx, f)
	if err != nil {
		return err
	}
	var ids []string
	for _, q := range pg.Requests {
		if !slices.Contains(ids, q.AccountID) {
			ids = append(ids, q.AccountID)
		}
	}
	names, err := c.accountNames(ctx, ids)
	if err != nil {
		return err
	}
	for _, q := range pg.Requests {
		v.Requests = append(v.Requests, requestRow{QuotaRequest: q, AccountName: names[q.AccountID], Location: c.locationName(q.LocationID),
			ApproveForm: "approve:" + q.ID, DenyForm: "deny:" + q.ID})
	}
	v.Pager = newPager(url.URL{Path: "/console/requests", RawQuery: "state=" + url.QueryEscape(state)}, "page", page, requestsPageSize, pg.TotalCount)
	c.render(w, r, status, "requests", view{Title: "Quota requests", Nav: "requests", S: s, Flash: flash(r), Problem: p, Body: v})
	return nil
}

// queueOf is the query of the queue page a decision's form was on, from
// its hidden fields (state and page), kept only when valid.
func queueOf(r *http.Request) url.Values {
	q := url.Values{}
	st := r.PostForm.Get("state")
	if _, err := quota.ParseRequestStates("state", []string{st}); err == nil || st == stateAll {
		q.Set("state", st)
	}
	if n, err := strconv.Atoi(r.PostForm.Get("page")); err == nil && n > 1 && n <= 1_000_000 {
		q.Set("page", strconv.Itoa(n))
	}
	return q
}

func (c *Console) decided(w http.ResponseWriter, r *http.Request, what string) {
	q := queueOf(r)
	q.Set("done", what)
	http.Redirect(w, r, "/console/requests?"+q.Encode(), http.StatusSeeOther)
}

// afterRequestProblem shows the queue again, as the form's page showed it,
// with the problem of a decision's form.
func (c *Console) afterRequestProblem(w http.ResponseWriter, r *http.Request, s *session, form string, fields []string, err error) error {
	p, status, err := formProblem(r, form, fields, err)
	if err != nil {
		return err
	}
	r.URL.RawQuery = queueOf(r).Encode()
	return c.renderRequests(w, r, s, status, p)
}

func (c *Console) approve(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error {
	id := r.PathValue("id")
	fields := []string{"grantedMaxCount", "expiresAt", "comment"}
	in := &operatorapi.ApproveQuotaRequestRequest{QuotaRequestID: &id, Comment: textField(r, "comment")}
	var err error
	if in.GrantedMaxCount, err = intField(r, "grantedMaxCount", false); err == nil {
		if in.ExpiresAt, err = timeField(r, "expiresAt"); err == nil {
			_, err = c.cfg.Operator.ApproveQuotaRequest(r.Context(), call, in)
		}
	}
	if err != nil {
		return c.afterRequestProblem(w, r, s, "approve:"+id, fields, err)
	}
	c.decided(w, r, "approved")
	return nil
}

func (c *Console) deny(w http.ResponseWriter, r *http.Request, s *session, call *zcapi.Call) error {
	id := r.PathValue("id")
	comment := r.PostForm.Get("comment")
	_, err := c.cfg.Operator.DenyQuotaRequest(r.Context(), call, &operatorapi.DenyQuotaRequestRequest{QuotaRequestID: &id, Comment: &comment})
	if err != nil {
		return c.afterRequestProblem(w, r, s, "deny:"+id, []string{"comment"}, err)
	}
	c.decided(w, r, "denied")
	return nil
}
