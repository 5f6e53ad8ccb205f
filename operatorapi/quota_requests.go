package operatorapi

// Quota increase requests, as accounts make them with the vm API's
// CreateImageQuotaRequest: operators list them and approve or deny the
// PENDING ones.

// DescribeQuotaRequestsRequest lists quota requests, oldest first: those
// named in quotaRequestIds, in one of states, of accountId.
type DescribeQuotaRequestsRequest struct {
	QuotaRequestIDs []string `json:"quotaRequestIds,omitempty"`
	States          []string `json:"states,omitempty"`
	AccountID       *string  `json:"accountId,omitempty"`
	Page
}

// QuotaRequestInfo is one request: as its account sees it, with the account
// and who decided it (an operator, "policy", or the account's key for a
// cancellation; "" while PENDING). grantedMaxCount is null unless APPROVED;
// decidedAt and expiresAt are null until set.
type QuotaRequestInfo struct {
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

// DescribeQuotaRequestsResponse is a page of requests.
type DescribeQuotaRequestsResponse struct {
	TotalCount int                `json:"totalCount"`
	DataSet    []QuotaRequestInfo `json:"dataSet"`
}

// ApproveQuotaRequestRequest approves a PENDING request: the account's limit
// in the request's zone becomes grantedMaxCount (the desired one when
// absent), until expiresAt when given.
type ApproveQuotaRequestRequest struct {
	QuotaRequestID  *string `json:"quotaRequestId"`
	GrantedMaxCount *int    `json:"grantedMaxCount,omitempty"`
	ExpiresAt       *string `json:"expiresAt,omitempty"`
	Comment         *string `json:"comment,omitempty"`
}

// DenyQuotaRequestRequest denies a PENDING request, saying why.
type DenyQuotaRequestRequest struct {
	QuotaRequestID *string `json:"quotaRequestId"`
	Comment        *string `json:"comment"`
}
