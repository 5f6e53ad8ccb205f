package quota

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// ActiveAt reports whether the override applies at now: it has no expiry,
// or its expiry is after now. At ExpiresAt itself it no longer applies.
func (o LimitOverride) ActiveAt(now time.Time) bool {
	return o.ExpiresAt == nil || now.Before(*o.ExpiresAt)
}

// ActiveOverrides returns the overrides of ovs that apply at now, in their
// order; ovs itself when all do.
func ActiveOverrides(ovs []LimitOverride, now time.Time) []LimitOverride {
	for i, o := range ovs {
		if o.ActiveAt(now) {
			continue
		}
		out := append([]LimitOverride(nil), ovs[:i]...)
		for _, o := range ovs[i+1:] {
			if o.ActiveAt(now) {
				out = append(out, o)
			}
		}
		return out
	}
	return ovs
}

// MaxReasonLen bounds an override's reason.
const MaxReasonLen = 255

// CheckOverride validates an override about to be set at now: its limit,
// an expiry in the future, and a reason of valid text.
func CheckOverride(o LimitOverride, now time.Time) error {
	if err := CheckLimit(o.MaxCount); err != nil {
		return err
	}
	if o.ExpiresAt != nil && !now.Before(*o.ExpiresAt) {
		return Errorf(CodeInvalidParameterValue, "expiresAt %s is not in the future.", o.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return CheckText("reason", o.Reason, MaxReasonLen)
}

// CheckText validates free text given as param: valid UTF-8 without NUL, at
// most max characters.
func CheckText(param, s string, max int) error {
	if !utf8.ValidString(s) {
		return Errorf(CodeInvalidParameterValue, "%s is not valid UTF-8.", param)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return Errorf(CodeExceedLength, "%s must be at most %d characters; it has %d.", param, max, n)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return Errorf(CodeInvalidParameterValue, "%s must not contain NUL characters.", param)
	}
	return nil
}

// SystemActor is the actor of the changes the server makes by itself, such
// as recording that an override expired.
var SystemActor = Actor{Name: "system"}

// CodeOperatorNotFound: no operator has the id given.
const CodeOperatorNotFound = "INVALID_OPERATOR_NOT_FOUND"

// Operator roles.
const (
	// RoleAdmin may call every action of the operator API.
	RoleAdmin = "admin"
	// RoleReadonly may call only its Describe* actions.
	RoleReadonly = "readonly"
)

// CheckRole validates an operator role.
func CheckRole(role string) error {
	if role != RoleAdmin && role != RoleReadonly {
		return Errorf(CodeInvalidParameterValue, "role must be %s or %s; it is %q.", RoleAdmin, RoleReadonly, role)
	}
	return nil
}

// OperatorKeyPrefix begins every operator access key id; a tenant's access
// key id never does (they begin with "AK"), so the id alone says which API
// a key is for.
const OperatorKeyPrefix = "OPK"

// IsOperatorKeyID reports whether an access key id is an operator's.
func IsOperatorKeyID(id string) bool { return strings.HasPrefix(id, OperatorKeyPrefix) }

// Operator is a person or system that runs the service through the operator
// API, with the power of its role.
type Operator struct {
	ID        string    `json:"operatorId"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
}

// OperatorKey is a signing credential of an operator. Secret is set only
// when the key is created.
type OperatorKey struct {
	ID         string    `json:"accessKeyId"`
	OperatorID string    `json:"operatorId"`
	Secret     string    `json:"-"`
	Disabled   bool      `json:"disabled"`
	CreatedAt  time.Time `json:"createdAt"`
}

// OperatorActor is the audit trail's actor for a change an operator made.
func OperatorActor(operatorID string) string { return "operator:" + operatorID }

// Usage orders of a UsageReport.
const (
	OrderByUtilization = "utilization"
	OrderByAccountID   = "accountId"
)

// UsageReportFilter selects and orders the (account, location) pairs with
// images for a usage report, one page at a time.
type UsageReportFilter struct {
	// AccountIDs and LocationIDs, when set, select those accounts or locations.
	AccountIDs  []string
	LocationIDs []string
	// MinUtilization, when above 0, selects the pairs whose count is at
	// least this fraction of the limit in effect (1: at or over it).
	MinUtilization float64
	// OrderBy is OrderByUtilization (highest first) or OrderByAccountID.
	OrderBy string
	// DefaultMax is the server's configured default limit.
	DefaultMax int
	// Offset and Limit select the page; Limit 0 means no bound.
	Offset, Limit int
}

// UsageReportRow is one (account, location) pair of a usage report with
// the limit in effect there.
type UsageReportRow struct {
	AccountID  string
	LocationID string
	Count      int
	// Effective is the limit in effect and where it comes from; its
	// Scope's ExpiresAt says when an override in effect ends.
	Effective Effective
}

// Utilization is the count as a fraction of the limit: above 1 when over
// it, and +Inf for images where the limit is 0.
func (r UsageReportRow) Utilization() float64 {
	return Utilization(r.Count, r.Effective.MaxCount)
}

// Utilization is count as a fraction of max; +Inf for a positive count
// under a limit of 0.
func Utilization(count, max int) float64 {
	if max == 0 {
		if count == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return float64(count) / float64(max)
}

// AccountFilter selects accounts, one page at a time.
type AccountFilter struct {
	// IDs, when set, selects those accounts.
	IDs []string
	// NameContains, when set, selects the accounts whose name contains it,
	// case-insensitively.
	NameContains string
	// Offset and Limit select the page; Limit 0 means no bound.
	Offset, Limit int
}
