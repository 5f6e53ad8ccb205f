// Package sdkgo holds the compatibility tests of imagequota with the official
// Zenlayer Cloud Go SDK (github.com/zenlayer/zenlayercloud-sdk-go).
//
// It is a module of its own so that the server's module never depends on the
// SDK. The tests treat the server as a user does: they build
// ../../cmd/imagequota, run "imagequota serve" on a real listener with an
// SQLite store in a temporary directory, make accounts, keys, tokens and
// instances with "imagequota admin", and call the server only through the
// SDK. (Go forbids importing the server module's internal packages from
// another module, and going through the binary also tests the commands the
// client guides in docs/clients show.)
package sdkgo
