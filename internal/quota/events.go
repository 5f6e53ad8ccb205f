package quota

import "time"

// Event types: what a webhook receiver is told. Each event is recorded in the
// transaction of the change it reports.
const (
	EventQuotaRequestCreated   = "quota_request.created"
	EventQuotaRequestApproved  = "quota_request.approved"
	EventQuotaRequestDenied    = "quota_request.denied"
	EventQuotaRequestCancelled = "quota_request.cancelled"
	// EventLimitReached: a CreateImage brought an account's count in a
	// location to its limit.
	EventLimitReached = "quota.limit_reached"
	// EventOverrideExpired: a limit override reached its expiry and no longer applies.
	EventOverrideExpired = "quota.override_expired"
)

// EventTypes lists every event type.
var EventTypes = []string{EventQuotaRequestCreated, EventQuotaRequestApproved, EventQuotaRequestDenied,
	EventQuotaRequestCancelled, EventLimitReached, EventOverrideExpired}

// Event is one recorded event waiting in the outbox to be delivered.
type Event struct {
	// Seq orders the events as they were recorded.
	Seq  int64
	ID   string
	Type string
	Time time.Time
	// Data is the event's JSON object.
	Data []byte
	// Attempts counts the deliveries tried and failed so far.
	Attempts int
}

// QuotaRequestEvent is the data of the quota_request.* events: the request
// as the API describes it, with its account and who decided it.
type QuotaRequestEvent struct {
	QuotaRequestID  string  `json:"quotaRequestId"`
	AccountID       string  `json:"accountId"`
	ZoneID          string  `json:"zoneId"`
	CurrentMaxCount int     `json:"currentMaxCount"`
	DesiredMaxCount int     `json:"desiredMaxCount"`
	GrantedMaxCount *int    `json:"grantedMaxCount"`
	State           string  `json:"state"`
	Reason          string  `json:"reason"`
	Comment         string  `json:"comment"`
	CreatedAt       string  `json:"createdAt"`
	DecidedAt       *string `json:"decidedAt"`
	DecidedBy       string  `json:"decidedBy"`
	ExpiresAt       *string `json:"expiresAt"`
}

// EventData is r as the data of a quota_request.* event.
func (r QuotaRequest) EventData() QuotaRequestEvent {
	return QuotaRequestEvent{
		QuotaRequestID: r.ID, AccountID: r.AccountID, ZoneID: r.LocationID,
		CurrentMaxCount: r.CurrentMaxCount, DesiredMaxCount: r.DesiredMaxCount, GrantedMaxCount: r.GrantedMaxCount,
		State: string(r.State), Reason: r.Reason, Comment: r.Comment, CreatedAt: WireTime(r.CreatedAt),
		DecidedAt: WireTimePtr(r.DecidedAt), DecidedBy: r.DecidedBy, ExpiresAt: WireTimePtr(r.ExpiresAt),
	}
}

// LimitReachedEvent is the data of a quota.limit_reached event.
type LimitReachedEvent struct {
	AccountID string `json:"accountId"`
	ZoneID    string `json:"zoneId"`
	Count     int    `json:"count"`
	MaxCount  int    `json:"maxCount"`
	// ImageID is the image whose creation reached the limit.
	ImageID string `json:"imageId"`
}

// EventClaim is a batch of events claimed for delivery until Until.
type EventClaim struct {
	// Token names the claim: only its holder may report on its events.
	Token  string
	Until  time.Time
	Events []Event
}

// OverrideExpiredEvent is the data of a quota.override_expired event: the
// override that stopped applying. accountId or zoneId is null for an
// override of every account or every location.
type OverrideExpiredEvent struct {
	AccountID *string `json:"accountId"`
	ZoneID    *string `json:"zoneId"`
	MaxCount  int     `json:"maxCount"`
	ExpiresAt string  `json:"expiresAt"`
	Reason    string  `json:"reason"`
}

// ExpiredEventData is o, which has an expiry, as the data of its
// quota.override_expired event.
func (o LimitOverride) ExpiredEventData() OverrideExpiredEvent {
	any := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	e := OverrideExpiredEvent{AccountID: any(o.AccountID), ZoneID: any(o.LocationID), MaxCount: o.MaxCount, Reason: o.Reason}
	if o.ExpiresAt != nil {
		e.ExpiresAt = WireTime(*o.ExpiresAt)
	}
	return e
}
