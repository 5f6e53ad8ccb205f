package vmapi

// Quota increase requests: this server's extension of the vm service, served
// in both API versions. An account asks for a higher limit in one zone; an
// operator (or the server's auto-approval policy) approves or denies it, or
// the account cancels it while it is PENDING.

// Quota request states.
const (
	QuotaRequestPending   = "PENDING"
	QuotaRequestApproved  = "APPROVED"
	QuotaRequestDenied    = "DENIED"
	QuotaRequestCancelled = "CANCELLED"
)

// CreateImageQuotaRequestRequest asks for desiredMaxCount custom images in a
// zone, above the limit in effect there.
type CreateImageQuotaRequestRequest struct {
	ZoneID          *string `json:"zoneId,omitempty"`
	DesiredMaxCount *int    `json:"desiredMaxCount,omitempty"`
	Reason          *string `json:"reason,omitempty"`
	ClientToken     *string `json:"clientToken,omitempty"`
}

// CreateImageQuotaRequestResponse names the request and its state: PENDING,
// or APPROVED when the server's policy approved it at once.
type CreateImageQuotaRequestResponse struct {
	QuotaRequestID string `json:"quotaRequestId"`
	State          string `json:"state"`
}

// DescribeImageQuotaRequestsRequest filters and pages the account's requests.
type DescribeImageQuotaRequestsRequest struct {
	QuotaRequestIDs []string `json:"quotaRequestIds,omitempty"`
	States          []string `json:"states,omitempty"`
	PageNum         *int     `json:"pageNum,omitempty"`
	PageSize        *int     `json:"pageSize,omitempty"`
}

// QuotaRequestInfo describes one request. Times are RFC 3339 in UTC, null
// when not (yet) set; grantedMaxCount is null unless APPROVED.
type QuotaRequestInfo struct {
	QuotaRequestID  string  `json:"quotaRequestId"`
	ZoneID          string  `json:"zoneId"`
	CurrentMaxCount int     `json:"currentMaxCount"`
	DesiredMaxCount int     `json:"desiredMaxCount"`
	GrantedMaxCount *int    `json:"grantedMaxCount"`
	State           string  `json:"state"`
	Reason          string  `json:"reason"`
	Comment         string  `json:"comment"`
	CreatedAt       string  `json:"createdAt"`
	DecidedAt       *string `json:"decidedAt"`
	ExpiresAt       *string `json:"expiresAt"`
}

// DescribeImageQuotaRequestsResponse is one page of requests, oldest first.
type DescribeImageQuotaRequestsResponse struct {
	TotalCount int                `json:"totalCount"`
	DataSet    []QuotaRequestInfo `json:"dataSet"`
}

// CancelImageQuotaRequestRequest withdraws a PENDING request.
type CancelImageQuotaRequestRequest struct {
	QuotaRequestID *string `json:"quotaRequestId,omitempty"`
}
