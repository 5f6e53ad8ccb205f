package operator

import (
	"context"
	"encoding/json"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/zcapi"
	"github.com/imagequota/imagequota/operatorapi"
)

// DescribeAuditEvents lists audit records, oldest first, after recording
// the ends of the overrides whose expiry has passed.
func (s *Service) DescribeAuditEvents(ctx context.Context, c *zcapi.Call, in *operatorapi.DescribeAuditEventsRequest) (*operatorapi.DescribeAuditEventsResponse, error) {
	var f quota.AuditFilter
	var err error
	if f.AccountID, err = optionalID("accountId", in.AccountID); err != nil {
		return nil, err
	}
	if f.Action, err = action(in.Action); err != nil {
		return nil, err
	}
	if f.Since, err = parseTime("since", in.Since); err != nil {
		return nil, err
	}
	if f.Until, err = parseTime("until", in.Until); err != nil {
		return nil, err
	}
	offset, limit, err := page(in.Page)
	if err != nil {
		return nil, err
	}
	if err := s.Sweep(ctx); err != nil {
		return nil, err
	}
	total, err := s.Store.CountAudit(ctx, f)
	if err != nil {
		return nil, err
	}
	f.Offset, f.Limit = offset, limit
	recs, err := s.Store.ListAudit(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &operatorapi.DescribeAuditEventsResponse{TotalCount: total, DataSet: make([]operatorapi.AuditEvent, 0, len(recs))}
	for _, r := range recs {
		out.DataSet = append(out.DataSet, AuditEvent(r))
	}
	return out, nil
}

// AuditEvent is an audit record as the wire carries it.
func AuditEvent(r quota.AuditRecord) operatorapi.AuditEvent {
	return operatorapi.AuditEvent{ID: r.ID, Time: formatTime(r.At), AccountID: r.AccountID, Actor: r.Actor, RequestID: r.RequestID,
		Action: r.Action, Target: r.Target, Before: rawJSON(r.Before), After: rawJSON(r.After)}
}

// rawJSON is an audit state as JSON: null for none.
func rawJSON(v any) json.RawMessage {
	switch v := v.(type) {
	case nil:
		return json.RawMessage("null")
	case json.RawMessage:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
