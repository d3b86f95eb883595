// Command hydra is Ory Hydra v2, built from its Go module with SQLite
// support so that tests can run it with DSN=memory.
package main

import "github.com/ory/hydra/v2/cmd"

func main() { cmd.Execute() }
