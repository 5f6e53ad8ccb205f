package usagemetrics

// Closest is closest, for the tests.
var Closest = closest
