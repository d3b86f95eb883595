// Command infra is the Pulumi program entry for users with a normal Pulumi
// install (`pulumi up -s <stack>`). Everything lives in infra/program; the
// Automation API runner behind `make up` calls the same function.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/infra/program"
)

func main() { pulumi.Run(program.New(program.Options{})) }
