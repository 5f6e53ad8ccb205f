package quota

import (
	"strconv"
	"strings"
	"time"
)

// RequestState is where a quota increase request stands. A request is
// PENDING until it is approved or denied (by an operator, or approved by the
// server's auto-approval policy) or cancelled by its account; the three
// other states are final.
type RequestState string

// Quota request states.
const (
	RequestPending   RequestState = "PENDING"
	RequestApproved  RequestState = "APPROVED"
	RequestDenied    RequestState = "DENIED"
	RequestCancelled RequestState = "CANCELLED"
)

// RequestStates lists every state, in the order a request moves through them.
var RequestStates = []RequestState{RequestPending, RequestApproved, RequestDenied, RequestCancelled}

// ParseRequestStates validates a filter of states given as param, naming the
// first one that is not a state. The same state may appear more than once.
func ParseRequestStates(param string, states []string) ([]RequestState, error) {
	if len(states) > MaxIDsPerRequest {
		return nil, Errorf(CodeExceedLength, "%s may hold at most %d states; it holds %d.", param, MaxIDsPerRequest, len(states))
	}
	out := make([]RequestState, 0, len(states))
	for i, s := range states {
		st := RequestState(s)
		if !st.valid() {
			names := make([]string, len(RequestStates))
			for j, r := range RequestStates {
				names[j] = string(r)
			}
			return nil, Errorf(CodeInvalidParameterValue, "%s.%d %q is not one of %s.", param, i, Truncate(s, 64), strings.Join(names, ", "))
		}
		out = append(out, st)
	}
	return out, nil
}

func (s RequestState) valid() bool {
	for _, r := range RequestStates {
		if s == r {
			return true
		}
	}
	return false
}

// QuotaRequest is an account's request to raise its custom image limit in
// one location.
type QuotaRequest struct {
	ID         string
	AccountID  string
	LocationID string
	// CurrentMaxCount is the limit in effect when the request was made;
	// DesiredMaxCount is above it.
	CurrentMaxCount int
	DesiredMaxCount int
	// GrantedMaxCount is the limit set by the approval; nil unless APPROVED.
	GrantedMaxCount *int
	State           RequestState
	Reason          string // the account's
	Comment         string // the decider's
	CreatedAt       time.Time
	// DecidedAt is when it left PENDING, and DecidedBy who moved it (an
	// operator, "policy", or the account's own key when cancelled).
	DecidedAt *time.Time
	DecidedBy string
	// ExpiresAt is when the granted limit ends; nil when it does not.
	ExpiresAt *time.Time
}

// MaxRequestTextLen bounds a request's reason and a decision's comment.
const MaxRequestTextLen = 255

// CheckRequestText validates a reason or a comment.
func CheckRequestText(param, s string) error { return CheckText(param, s, MaxRequestTextLen) }

// PolicyActor is the actor of the decisions the server's auto-approval
// policy takes.
var PolicyActor = Actor{Name: "policy"}

// AutoApproval is the server's policy for new quota requests: a request
// whose desired limit is at most UpTo is approved when it is made. The zero
// value approves nothing (a desired limit is always above 0).
type AutoApproval struct {
	UpTo int
}

// Approves reports whether the policy approves a request for desired.
func (p AutoApproval) Approves(desired int) bool { return desired <= p.UpTo }

// CreateQuotaRequestInput asks for a higher limit in one location.
type CreateQuotaRequestInput struct {
	AccountID       string
	LocationID      string
	DesiredMaxCount int
	Reason          string
	// ClientToken, when set, makes the request idempotent: the same token
	// with the same parameters answers the request it made.
	ClientToken string
	// DefaultMax is the server's configured default limit.
	DefaultMax int
	Policy     AutoApproval
	Actor      Actor
}

// Fingerprint identifies the parameters of a request for clientToken replays.
func (in CreateQuotaRequestInput) Fingerprint() string {
	return in.LocationID + "\x1f" + strconv.Itoa(in.DesiredMaxCount) + "\x1f" + in.Reason
}

// QuotaRequestFilter selects quota requests, oldest first, one page at a time.
type QuotaRequestFilter struct {
	// AccountID, when set, selects that account's requests.
	AccountID string
	// IDs and States, when not empty, select those requests and states.
	IDs    []string
	States []RequestState
	// Offset skips that many; Limit bounds the page (0: no bound).
	Offset, Limit int
}

// NewQuotaRequestFilter is the filter of the requests named in quotaRequestIds
// (at most MaxIDsPerRequest; any when empty) in one of states (any when
// empty), as the API's parameters give them.
func NewQuotaRequestFilter(ids, states []string) (QuotaRequestFilter, error) {
	f := QuotaRequestFilter{IDs: ids}
	if err := CheckIDs("quotaRequestIds", ids); err != nil {
		return f, err
	}
	var err error
	f.States, err = ParseRequestStates("states", states)
	return f, err
}

// QuotaRequestPage is one page of requests and how many the filter selects in all.
type QuotaRequestPage struct {
	TotalCount int
	Requests   []QuotaRequest
}

// CancelQuotaRequestInput withdraws an account's pending request.
type CancelQuotaRequestInput struct {
	AccountID string
	ID        string
	Actor     Actor
}

// ApproveQuotaRequestInput approves a pending request: the account's limit
// in the request's location becomes GrantedMaxCount (the desired one when
// nil), until ExpiresAt when set.
type ApproveQuotaRequestInput struct {
	ID              string
	GrantedMaxCount *int
	ExpiresAt       *time.Time
	Comment         string
	Actor           Actor
}

// DenyQuotaRequestInput denies a pending request.
type DenyQuotaRequestInput struct {
	ID      string
	Comment string
	Actor   Actor
}

// WireTime is how the API and the events write a time: RFC 3339 in UTC, to
// the second.
func WireTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// WireTimePtr is WireTime of t, or nil for no time.
func WireTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := WireTime(*t)
	return &s
}
