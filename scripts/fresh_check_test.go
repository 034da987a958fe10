package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeMake stands in for the README's commands in the clone: `make render` "builds" the tools in
// FAKE_TOOLS into bin/ with build-tools.sh's lines, and says which GOCACHE it was given.
const fakeMake = `#!/bin/sh
echo "fake make $1 with GOCACHE=$GOCACHE"
mkdir -p bin
for t in $FAKE_TOOLS; do
	: >"bin/$t"
	: >"bin/.$t.stamp"
	echo "build-tools: built bin/$t in 7s"
done
`

// runFreshCheck runs fresh-check.sh on a clone of this repository with make faked; it returns the
// output and the FRESH_DIR it used.
func runFreshCheck(t *testing.T, tools string, env ...string) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake")
	writeExec(t, filepath.Join(fake, "make"), fakeMake)
	fresh := filepath.Join(dir, "fresh")
	cmd := exec.Command("./fresh-check.sh", "render")
	cmd.Env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"), "FRESH_DIR="+fresh, "FAKE_TOOLS="+tools)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), fresh, err
}

// A first `make render` on a fresh clone must leave exactly the CLI and the provider in bin/.
func TestFreshCheckRenderBuildsExactlyTwoTools(t *testing.T) {
	t.Parallel()
	out, fresh, err := runFreshCheck(t, "pulumi pulumi-resource-kubernetes")
	require.NoError(t, err, out)
	assert.Contains(t, out, "fresh-check: make render passed in ")
	assert.Contains(t, out, "built: bin/pulumi (7s); bin/pulumi-resource-kubernetes (7s)")
	assert.Contains(t, out, "GOMODCACHE="+filepath.Join(fresh, "mod")+" (empty)")
	assert.NotContains(t, out, "GOCACHE="+filepath.Join(fresh, "gocache"), "the Go build cache stays warm without COLD=1")
	assert.NoDirExists(t, fresh, "removed afterwards")

	out, _, err = runFreshCheck(t, "pulumi pulumi-resource-kubernetes kube-apiserver")
	require.Error(t, err, out)
	assert.Contains(t, out, "fresh-check: FAILED: make render on a fresh clone left 'kube-apiserver pulumi pulumi-resource-kubernetes' in bin/")
}

// COLD=1 gives the commands an empty Go build cache of their own.
func TestFreshCheckCold(t *testing.T) {
	t.Parallel()
	out, fresh, err := runFreshCheck(t, "pulumi pulumi-resource-kubernetes", "COLD=1")
	require.NoError(t, err, out)
	assert.Contains(t, out, "fake make render with GOCACHE="+filepath.Join(fresh, "gocache"))
	assert.Contains(t, out, "GOCACHE="+filepath.Join(fresh, "gocache")+" (empty)")
}

// TestMakeRenderBuildsOnlyItsTwoTools reads the Makefile through make itself (-n: print, run
// nothing; -B: as if nothing were built): `make render` builds exactly the CLI and the provider
// and depends on no target that builds the others (`make tools` builds all eight).
func TestMakeRenderBuildsOnlyItsTwoTools(t *testing.T) {
	cmd := exec.Command("make", "-n", "-B", "render")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var builds []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "build-tools.sh") {
			builds = append(builds, strings.TrimSpace(line))
		}
	}
	assert.Equal(t, []string{"scripts/build-tools.sh pulumi pulumi-resource-kubernetes"}, builds)
}
