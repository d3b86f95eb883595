// Package contract holds the one table-driven test every component passes
// (contract_test.go): invalid args register nothing and name the bad
// field; the type token, parent, explicit provider and child names are
// right; outputs are registered. A component package not in its table
// fails the test, so a new component can't skip the contract.
package contract
