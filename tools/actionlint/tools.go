//go:build tools

// Package tools pins the actionlint version used by scripts/check-workflows.sh.
// Build it with: go -C tools/actionlint build -o ../../bin/actionlint github.com/rhysd/actionlint/cmd/actionlint
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
