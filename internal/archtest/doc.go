// Package archtest holds the tests that keep the house's rules true: the
// login core imports no HTTP, and the flow core names no dialect's wire.
// It has no code of its own.
package archtest
