package quota

import (
	"strconv"
	"time"
)

// DefaultMaxCount is the server-wide limit when nothing more specific is set.
const DefaultMaxCount = 5

// Account is a tenant. Every image, instance, key and token belongs to one.
type Account struct {
	ID        string    `json:"accountId"`
	Name      string    `json:"name"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
}

// AccessKey is a signing credential of an account.
type AccessKey struct {
	ID        string    `json:"accessKeyId"`
	AccountID string    `json:"accountId"`
	Secret    string    `json:"-"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
}

// Credential is what authentication needs to know about a key or token.
type Credential struct {
	AccountID       string
	Secret          string // access keys only
	Disabled        bool   // the key itself
	AccountDisabled bool
	ExpiresAt       time.Time // tokens only
	// Role is an operator key's role (RoleAdmin, RoleReadonly); "" for a
	// tenant's key or token.
	Role string
}

// Actor says who made a change and under which request; it goes to the audit trail.
type Actor struct {
	Name      string // access key id, "token:<id>" or "admin"
	RequestID string
	// Replay identifies the request for replay protection; zero for a change
	// that no request signature carries (imagequota admin, say).
	Replay Replay
}

// Replay identifies a write request by what a retry or a captured copy of it
// would present again: a digest of its signature, or of its bearer token,
// timestamp and body. The store answers a request seen again before Expires
// with the first answer, without doing the work twice, and refuses it under
// another action.
type Replay struct {
	Key     string // hex digest; "" when the request carries nothing to recognise it by
	Action  string
	Expires time.Time
}

// AdminActor is the actor of changes made with `imagequota admin`.
var AdminActor = Actor{Name: "admin"}

// LimitOverride sets the limit for a scope. An empty AccountID or LocationID
// means "any": both empty is the server-wide default.
type LimitOverride struct {
	AccountID  string `json:"accountId,omitempty"`
	LocationID string `json:"locationId,omitempty"`
	MaxCount   int    `json:"maxCount"`
	// ExpiresAt, when set, is the instant the override stops applying
	// (ActiveAt); nil means it never does.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Reason says why the override was set, for whoever reads it later.
	Reason string `json:"reason,omitempty"`
}

// Limit sources, most specific first.
const (
	SourceAccountLocation = "account+location"
	SourceAccount         = "account"
	SourceLocation        = "location"
	SourceDefault         = "default"
	SourceServerDefault   = "server-default"
)

// ResolveLimit picks the most specific override that applies to (accountID,
// locationID): account+location, then account, then location, then the stored
// default; fallback (the server's configured default) when none applies.
func ResolveLimit(overrides []LimitOverride, accountID, locationID string, fallback int) (int, string) {
	best, rank, source := fallback, 0, SourceServerDefault
	for _, o := range overrides {
		r := 0
		switch {
		case o.AccountID == accountID && o.LocationID == locationID:
			r = 4
		case o.AccountID == accountID && o.LocationID == "":
			r = 3
		case o.AccountID == "" && o.LocationID == locationID:
			r = 2
		case o.AccountID == "" && o.LocationID == "":
			r = 1
		}
		if r > rank {
			best, rank = o.MaxCount, r
			source = [...]string{"", SourceDefault, SourceLocation, SourceAccount, SourceAccountLocation}[r]
		}
	}
	return best, source
}

// MaxLimit bounds any configured limit.
const MaxLimit = 1_000_000

// Usage is what an account's quota answer is computed from: its image count per
// location and every limit override that may apply to it.
type Usage struct {
	Counts    map[string]int
	Overrides []LimitOverride
}

// Instance is a virtual machine an image can be made from. Instances are an
// input to this service.
type Instance struct {
	ID         string    `json:"instanceId"`
	AccountID  string    `json:"accountId"`
	LocationID string    `json:"location"`
	DiskGB     int       `json:"diskGb"`
	OSCategory string    `json:"osCategory"`
	OSType     string    `json:"osType"`
	OSVersion  string    `json:"osVersion"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Image types and states.
const (
	ImageTypePublic   = "PUBLIC_IMAGE"
	ImageTypeCustom   = "CUSTOM_IMAGE"
	StatusCreating    = "CREATING"
	StatusAvailable   = "AVAILABLE"
	StatusUnavailable = "UNAVAILABLE"
)

// Image is a custom image (or, with Type PUBLIC_IMAGE, an entry of the public catalogue).
type Image struct {
	ID          string
	Type        string
	AccountID   string
	LocationID  string
	InstanceID  string
	Name        string
	Description *string
	SizeGB      int
	Category    string
	OSType      string
	Version     string
	Unavailable bool
	CreatedAt   time.Time
	ReadyAt     time.Time
}

// Status is the image's state at time now. A custom image is CREATING until
// ReadyAt and AVAILABLE after, so the state is right across restarts.
func (im Image) Status(now time.Time) string {
	switch {
	case im.Unavailable:
		return StatusUnavailable
	case now.Before(im.ReadyAt):
		return StatusCreating
	default:
		return StatusAvailable
	}
}

// SizeString is the image size as the wire carries it.
func (im Image) SizeString() string { return strconv.Itoa(im.SizeGB) }

// CreateImageInput is one admission request.
type CreateImageInput struct {
	AccountID   string
	InstanceID  string
	Name        string
	Description *string
	ClientToken string
	// DefaultMax is the server's configured default limit.
	DefaultMax int
	// BuildTime is how long the image stays CREATING.
	BuildTime time.Duration
	Now       time.Time
	Actor     Actor
	// CheckInstance, when set, may refuse the instance (its location disabled, say).
	CheckInstance func(Instance) error
}

// Fingerprint identifies the parameters of a create for clientToken replays.
func (in CreateImageInput) Fingerprint() string {
	d := "-" // no description (not NUL: PostgreSQL TEXT cannot hold it); a description is "=" + it
	if in.Description != nil {
		d = "=" + *in.Description
	}
	return in.InstanceID + "\x1f" + in.Name + "\x1f" + d
}

// ModifyImagesInput renames or re-describes some of an account's images.
type ModifyImagesInput struct {
	AccountID   string
	IDs         []string
	Name        *string
	Description *string
	Actor       Actor
}

// DeleteImagesInput deletes some of an account's images, all or none.
type DeleteImagesInput struct {
	AccountID string
	IDs       []string
	Now       time.Time
	Actor     Actor
}

// AuditRecord is one entry of the audit trail.
type AuditRecord struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	AccountID string    `json:"accountId"`
	Actor     string    `json:"actor"`
	RequestID string    `json:"requestId"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Before    any       `json:"before"`
	After     any       `json:"after"`
}

// AuditFilter selects audit records.
type AuditFilter struct {
	AccountID string
	Since     time.Time
	// Until, when set, selects the records before it.
	Until time.Time
	// Action, when set, selects the records of that action.
	Action string
	// AfterID, when set, selects the records after that one: the last of
	// the previous page.
	AfterID int64
	// Offset skips that many of the records selected; Limit bounds how
	// many are returned (0: no bound).
	Offset int
	Limit  int
}
