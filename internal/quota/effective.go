package quota

// Effective is the limit in effect for an account in a location: its value,
// its source (as ResolveLimit names it) and the override it comes from.
type Effective struct {
	MaxCount int
	Source   string
	// Scope is the override in effect; nil when none applies and the
	// server's configured default does (SourceServerDefault).
	Scope *LimitOverride
}

// EffectiveLimit is ResolveLimit with the override it picked, so that a
// caller can tell whether changing one scope changes the limit in effect.
func EffectiveLimit(overrides []LimitOverride, accountID, locationID string, fallback int) Effective {
	max, source := ResolveLimit(overrides, accountID, locationID, fallback)
	e := Effective{MaxCount: max, Source: source}
	scope := LimitOverride{MaxCount: max}
	switch source {
	case SourceAccountLocation:
		scope.AccountID, scope.LocationID = accountID, locationID
	case SourceAccount:
		scope.AccountID = accountID
	case SourceLocation:
		scope.LocationID = locationID
	case SourceDefault:
	default:
		return e
	}
	// The override itself, with its expiry and reason.
	for _, o := range overrides {
		if o.AccountID == scope.AccountID && o.LocationID == scope.LocationID && o.MaxCount == max {
			scope = o
			break
		}
	}
	e.Scope = &scope
	return e
}

// From reports whether the limit in effect is the override of the scope
// (accountID, locationID), "" meaning any, as in LimitOverride.
func (e Effective) From(accountID, locationID string) bool {
	return e.Scope != nil && e.Scope.AccountID == accountID && e.Scope.LocationID == locationID
}

// LocationUsage is one account's image count in one location with every
// override that may apply there: the account+location, account-wide,
// location-wide and default ones that are set.
type LocationUsage struct {
	AccountID  string
	LocationID string
	Count      int
	Overrides  []LimitOverride
}

// UsageFilter selects the (account, location) pairs with images, in the
// order of account id then location id, one page at a time.
type UsageFilter struct {
	// AccountID and LocationID, when set, select that account or location.
	AccountID  string
	LocationID string
	// MinCount selects the pairs with at least this many images; a pair
	// without images is never selected.
	MinCount int
	// AfterAccountID and AfterLocationID, when set, select the pairs after
	// that one: the last of the previous page.
	AfterAccountID  string
	AfterLocationID string
	// Limit bounds the page; 0 means no bound.
	Limit int
}
