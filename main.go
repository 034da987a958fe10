// Command llm-platform is the Pulumi program: `pulumi up --stack <env>`.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/stacks"
)

func main() { pulumi.Run(stacks.Run) }
