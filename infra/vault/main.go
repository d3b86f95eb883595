// Command vault is the Vault layer's Pulumi program entry for users with a
// normal Pulumi install (`pulumi up -s <stack>` in this folder, after the
// platform layer's `pulumi up`). Everything lives in infra/vaultlayer; the
// Automation API runner calls the same function.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bulwark-platform/bulwark/infra/vaultlayer"
)

func main() { pulumi.Run(vaultlayer.New(vaultlayer.Options{})) }
