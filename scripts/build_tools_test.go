// Package scripts tests the repository's shell scripts by running them.
//
// build-tools.sh runs here in a temporary copy of the repository (the script, its tools/ modules'
// go.mod, go.sum and Go files) with a PATH of fakes: a `pulumi` that reports a given version, and a
// `go` that logs every call and "builds" a small script in a moment, so the script's decisions
// (build, link an installed tool, leave alone) and its output are real and nothing takes 20 minutes.
package scripts

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeGo logs its arguments. `go list -m -f {{.Dir}}` prints FAKE_GO_MODDIR, other `go list`s
// FAKE_GO_VERSION; `go build -o OUT` waits FAKE_GO_SLEEP seconds, fails when FAKE_GO_FAIL is set,
// and otherwise writes OUT: a script whose `version` reports FAKE_GO_VERSION, as a built CLI would.
const fakeGo = `#!/bin/sh
echo "$*" >>"$FAKE_GO_LOG"
case "$1 $4" in
"list {{.Dir}}") echo "$FAKE_GO_MODDIR" ;;
list*) echo "$FAKE_GO_VERSION" ;;
build*)
	sleep "${FAKE_GO_SLEEP:-0}"
	[ -z "$FAKE_GO_FAIL" ] || exit 1
	while [ $# -gt 0 ]; do
		[ "$1" != -o ] || out=$2
		shift
	done
	printf '#!/bin/sh\necho %s\n' "$FAKE_GO_VERSION" >"$out"
	chmod +x "$out"
	;;
esac
`

// The programs build-tools.sh runs besides go and pulumi; the sandbox's PATH has only these.
var utilities = []string{"bash", "awk", "sha256sum", "cut", "cat", "mv", "ln", "rm", "dirname",
	"readlink", "sed", "sleep", "mkdir", "chmod", "install"}

type sandbox struct {
	t                       *testing.T
	root, fake, utils, home string
	goLog, lastOut          string
}

// newSandbox copies the script and the tools/ modules' stamped files into a temporary repository.
func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	dir := t.TempDir()
	s := &sandbox{t: t, root: filepath.Join(dir, "repo"), fake: filepath.Join(dir, "fake"),
		utils: filepath.Join(dir, "utils"), home: filepath.Join(dir, "pulumi-home"), goLog: filepath.Join(dir, "go.log")}
	for _, name := range []string{"build-tools.sh", "installed-tools.sh"} {
		copyFile(t, name, filepath.Join(s.root, "scripts", name))
	}
	modules, err := filepath.Glob("../tools/*/go.mod")
	require.NoError(t, err)
	require.NotEmpty(t, modules)
	for _, mod := range modules {
		files, err := filepath.Glob(filepath.Join(filepath.Dir(mod), "*.go"))
		require.NoError(t, err)
		for _, f := range append(files, mod, strings.TrimSuffix(mod, ".mod")+".sum") {
			if _, err := os.Stat(f); err == nil {
				copyFile(t, f, filepath.Join(s.root, strings.TrimPrefix(f, "../")))
			}
		}
	}
	for _, u := range utilities {
		path, err := exec.LookPath(u)
		require.NoError(t, err, "build-tools.sh needs %s", u)
		link(t, path, filepath.Join(s.utils, u))
	}
	writeExec(t, filepath.Join(s.fake, "go"), fakeGo)
	// The provider's build copies its schema and mapping from the module's directory.
	for _, f := range []string{"schema.json", "terraform-mapping.json"} {
		writeExec(t, filepath.Join(dir, "mod", "cmd", "pulumi-resource-kubernetes", f), "{}")
	}
	return s
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	info, err := os.Stat(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, data, info.Mode()))
}

func link(t *testing.T, target, name string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
	require.NoError(t, os.Symlink(target, name))
}

func writeExec(t *testing.T, path, script string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
}

// pulumi puts a `pulumi` on the sandbox's PATH whose `version` prints version.
func (s *sandbox) pulumi(version string) string {
	path := filepath.Join(s.fake, "pulumi")
	writeExec(s.t, path, "#!/bin/sh\necho "+version+"\n")
	return path
}

// plugin installs a fake Kubernetes provider plugin as the CLI lays it out.
func (s *sandbox) plugin(version string) string {
	path := filepath.Join(s.home, "plugins", "resource-kubernetes-"+version, "pulumi-resource-kubernetes")
	writeExec(s.t, path, "#!/bin/sh\n")
	return path
}

// run runs build-tools.sh with args and the sandbox's PATH (an env entry PATH=... replaces it),
// and returns its combined output, written to a file so that the script's end is the run's end.
// Every process it left behind is killed at the end of the test.
func (s *sandbox) run(env []string, args ...string) (string, error) {
	s.t.Helper()
	out, err := os.CreateTemp(s.t.TempDir(), "out")
	require.NoError(s.t, err)
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.root, "scripts", "build-tools.sh"), args...)
	cmd.Env = append([]string{"PATH=" + s.fake + ":" + s.utils, "HOME=" + s.home, "PULUMI_HOME=" + s.home,
		"FAKE_GO_LOG=" + s.goLog, "FAKE_GO_VERSION=" + pinned(s.t), "FAKE_GO_MODDIR=" + filepath.Join(filepath.Dir(s.root), "mod"),
		"BUILD_TOOLS_TICK=0"}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(s.t, cmd.Start())
	s.t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err = cmd.Wait()
	s.lastOut = out.Name()
	data, readErr := os.ReadFile(out.Name())
	require.NoError(s.t, readErr)
	return string(data), err
}

// quietAfter fails unless the last run's output stays as it was (nothing left writing to it)
// for a while.
func (s *sandbox) quietAfter(d time.Duration) {
	s.t.Helper()
	before, err := os.ReadFile(s.lastOut)
	require.NoError(s.t, err)
	time.Sleep(d)
	after, err := os.ReadFile(s.lastOut)
	require.NoError(s.t, err)
	assert.Equal(s.t, string(before), string(after), "something went on writing the script's output after it exited")
}

func (s *sandbox) mustRun(env []string, args ...string) string {
	s.t.Helper()
	out, err := s.run(env, args...)
	require.NoError(s.t, err, out)
	return out
}

// goCalls are the fake go's invocations so far.
func (s *sandbox) goCalls() []string {
	data, err := os.ReadFile(s.goLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(s.t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// line is the output line about bin/tool.
func line(t *testing.T, out, tool string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "bin/"+tool+" (") {
			return sc.Text()
		}
	}
	t.Fatalf("no line about bin/%s in:\n%s", tool, out)
	return ""
}

// pinned is the CLI version tools/pulumi/go.mod pins.
func pinned(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../tools/pulumi/go.mod")
	require.NoError(t, err)
	for l := range strings.Lines(string(data)) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "github.com/pulumi/pulumi/pkg/v3" {
			return f[1]
		}
	}
	t.Fatal("tools/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3")
	return ""
}

const pinnedProvider = "v4.25.0" // the release tools/kubernetes-provider/go.mod's pseudo-version is

// The render's two tools from an installed CLI and plugin at or above the pinned versions: nothing
// is built, one line each says what is used and why, and bin/ links to them.
func TestBuildToolsUsesInstalledPulumiAndPlugin(t *testing.T) {
	t.Parallel()
	for _, version := range []string{pinned(t), "v3.999.0"} {
		t.Run(version, func(t *testing.T) {
			s := newSandbox(t)
			cli, plugin := s.pulumi(version), s.plugin("v4.32.0")
			for range 2 { // and again: a link is checked anew each time, never taken as fresh
				out := s.mustRun(nil, "pulumi", "pulumi-resource-kubernetes")
				assert.Contains(t, line(t, out, "pulumi"), "tool 1 of 2, bin/pulumi (the Pulumi CLI): not built, a link to "+
					cli+": pulumi on PATH is "+version+", at or above the pinned "+pinned(t))
				assert.Contains(t, line(t, out, "pulumi-resource-kubernetes"), "tool 2 of 2, bin/pulumi-resource-kubernetes "+
					"(the Pulumi Kubernetes provider): not built, a link to "+plugin+": the installed plugin is v4.32.0, at or above the pinned "+pinnedProvider)
				assert.Contains(t, out, "build-tools: nothing to build")
				assert.True(t, strings.HasSuffix(out, version+"\n"), "bin/pulumi version runs the installed CLI:\n%s", out)
				assert.Empty(t, s.goCalls(), "nothing may be built")
				for name, target := range map[string]string{"pulumi": cli, "pulumi-resource-kubernetes": plugin} {
					got, err := os.Readlink(filepath.Join(s.root, "bin", name))
					require.NoError(t, err)
					assert.Equal(t, target, got)
				}
			}
		})
	}
}

// An older CLI on PATH: the plan says the CLI will be built and why, and builds nothing; the run
// builds it once; the next run finds it up to date.
func TestBuildToolsBuildsOverAnOlderPulumi(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	cli := s.pulumi("v3.1.0")
	plan := s.mustRun(nil, "--plan", "pulumi")
	assert.Contains(t, line(t, plan, "pulumi"), "tool 1 of 1, bin/pulumi (the Pulumi CLI): to build, about 7 min cold: "+
		"not built yet; pulumi on PATH ("+cli+") is v3.1.0, older than the pinned "+pinned(t))
	assert.Empty(t, s.goCalls(), "--plan builds nothing")
	assert.NoDirExists(t, filepath.Join(s.root, "bin"))

	out := s.mustRun(nil, "pulumi")
	assert.Contains(t, out, "build-tools: tool 1 of 1: building bin/pulumi (the Pulumi CLI): about 7 min cold")
	assert.Contains(t, out, "build-tools: built bin/pulumi in ")
	require.Len(t, s.goCalls(), 2, "go list for the version, then go build")
	assert.Regexp(t, `^build -ldflags .*version.Version=`+pinned(t)+` -o \.\./\.\./bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi$`, s.goCalls()[1])
	info, err := os.Lstat(filepath.Join(s.root, "bin", "pulumi"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular(), "bin/pulumi is the build, not a link to the older CLI")

	again := s.mustRun(nil, "pulumi")
	assert.Contains(t, line(t, again, "pulumi"), "bin/pulumi (the Pulumi CLI): up to date")
	assert.Len(t, s.goCalls(), 2, "a fresh build is not rebuilt")
}

// bin/pulumi links an installed CLI that is later downgraded: the next run builds the pinned CLI
// in place of the link, and never writes the build through the link into the user's CLI.
func TestBuildToolsReplacesALinkThatNoLongerQualifies(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	cli := s.pulumi(pinned(t))
	s.mustRun(nil, "pulumi")
	s.pulumi("v3.1.0")
	out := s.mustRun(nil, "pulumi")
	assert.Contains(t, line(t, out, "pulumi"), "to build, about 7 min cold: bin/pulumi links an installed one that no longer qualifies; "+
		"pulumi on PATH ("+cli+") is v3.1.0, older than the pinned "+pinned(t))
	data, err := os.ReadFile(cli)
	require.NoError(t, err)
	assert.Equal(t, "#!/bin/sh\necho v3.1.0\n", string(data), "the user's CLI is untouched")
	info, err := os.Lstat(filepath.Join(s.root, "bin", "pulumi"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular())
}

// CLIs that must not stand in for the build, each with the reason the plan gives.
func TestBuildToolsRefusesUnusablePulumi(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, script, why string }{
		{"none", "", "no pulumi on PATH"},
		{"failing", "#!/bin/sh\nexit 1\n", "failed to report its version"},
		{"not a version", "#!/bin/sh\necho unknown\n", "reports 'unknown', not a version"},
		{"prerelease of the pinned", "#!/bin/sh\necho " + pinned(t) + "-alpha.1\n", "is " + pinned(t) + "-alpha.1, older than the pinned"},
		{"next major", "#!/bin/sh\necho v4.0.0\n", "is v4.0.0, not a v3 release like the pinned " + pinned(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			if tc.script != "" {
				writeExec(t, filepath.Join(s.fake, "pulumi"), tc.script)
			}
			l := line(t, s.mustRun(nil, "--plan", "pulumi"), "pulumi")
			assert.Contains(t, l, ": to build, ")
			assert.Contains(t, l, tc.why)
		})
	}
}

// bin/ itself on PATH, or a link to bin/pulumi there, is not an installed CLI: linking bin/pulumi
// to it would make a loop.
func TestBuildToolsDoesNotLinkBinToItself(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.mustRun(nil, "pulumi")
	bin := filepath.Join(s.root, "bin")
	link(t, filepath.Join(bin, "pulumi"), filepath.Join(s.home, "userbin", "pulumi"))
	// A change to the CLI's module makes bin/pulumi stale.
	mod := filepath.Join(s.root, "tools", "pulumi", "go.mod")
	f, err := os.OpenFile(mod, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("// bumped\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	path := "PATH=" + bin + ":" + filepath.Join(s.home, "userbin") + ":" + s.fake + ":" + s.utils
	out := s.mustRun([]string{path}, "pulumi")
	assert.Contains(t, line(t, out, "pulumi"), "to build, about 7 min cold: tools/pulumi or build_pulumi changed since the last build; no pulumi on PATH")
	info, err := os.Lstat(filepath.Join(bin, "pulumi"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular())
}

// Of the installed provider plugins only a complete one, at or above the pinned release and of
// its major version, is used; the newest of those.
func TestBuildToolsPicksAnInstalledProviderPlugin(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.plugin("v4.20.0")
	want := s.plugin("v4.32.0")
	s.plugin("v4.31.0")
	s.plugin("v5.1.0")
	partial := s.plugin("v4.40.0")
	writeExec(t, filepath.Dir(partial)+".partial", "")
	notExec := s.plugin("v4.41.0")
	require.NoError(t, os.Chmod(notExec, 0o644))

	l := line(t, s.mustRun(nil, "--plan", "pulumi-resource-kubernetes"), "pulumi-resource-kubernetes")
	assert.Contains(t, l, "not built, a link to "+want+": the installed plugin is v4.32.0, at or above the pinned "+pinnedProvider)

	require.NoError(t, os.RemoveAll(filepath.Dir(want)))
	require.NoError(t, os.RemoveAll(filepath.Join(s.home, "plugins", "resource-kubernetes-v4.31.0")))
	l = line(t, s.mustRun(nil, "--plan", "pulumi-resource-kubernetes"), "pulumi-resource-kubernetes")
	assert.Contains(t, l, "to build, about 14 min cold: not built yet; no Kubernetes provider plugin at or above the pinned "+
		pinnedProvider+" in "+filepath.Join(s.home, "plugins"))
}

// The tools named are the tools built: `make render` names two and gets exactly two builds, with a
// counter and the cold time left on each; no names means all eight.
func TestBuildToolsBuildsWhatItIsAsked(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	all := s.mustRun(nil, "--plan")
	for _, want := range []string{"tool 1 of 8, bin/pulumi (", "tool 2 of 8, bin/pulumi-resource-kubernetes (",
		"tool 3 of 8, bin/pulumi-language-yaml (", "tools 4-6 of 8, bin/kube-apiserver, bin/kube-controller-manager, bin/kube-scheduler (",
		"tool 7 of 8, bin/etcd (", "tool 8 of 8, bin/kwok (", "8 of 8 tools to build"} {
		assert.Contains(t, all, want)
	}
	assert.Contains(t, s.mustRun(nil, "--plan", "kube-scheduler"), "tools 1-3 of 3, bin/kube-apiserver, bin/kube-controller-manager, bin/kube-scheduler (")

	out := s.mustRun(nil, "pulumi-resource-kubernetes", "pulumi")
	var builds []string
	for _, call := range s.goCalls() {
		if strings.HasPrefix(call, "build ") {
			builds = append(builds, call)
		}
	}
	require.Len(t, builds, 2, "exactly the CLI and the provider:\n%s", out)
	assert.Contains(t, builds[0], "-o ../../bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi")
	assert.Contains(t, builds[1], "-o ../../bin/pulumi-resource-kubernetes .")
	assert.Contains(t, out, "build-tools: 2 of 2 tools to build, about 20 min on 2 cores with an empty Go build cache")
	assert.Contains(t, out, "build-tools: tool 1 of 2: building bin/pulumi (the Pulumi CLI): about 7 min cold, about 20 min left in all when cold")
	assert.Contains(t, out, "build-tools: tool 2 of 2: building bin/pulumi-resource-kubernetes (the Pulumi Kubernetes provider): about 14 min cold, about 14 min left in all when cold")
	entries, err := os.ReadDir(filepath.Join(s.root, "bin"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"pulumi", ".pulumi.stamp", "pulumi-resource-kubernetes", ".pulumi-resource-kubernetes.stamp"}, names)

	_, err = s.run(nil, "kubectl")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	out, _ = s.run(nil, "--plan", "pulumi", "kubectl")
	assert.Contains(t, out, "build-tools: unknown tool 'kubectl'")
	assert.NotContains(t, out, "to build", "nothing is planned when a name is wrong")
}

// A long build says it is still going; its heartbeat stops with the build (the next build has a
// heartbeat of its own), also when the build fails.
func TestBuildToolsHeartbeat(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	env := []string{"BUILD_TOOLS_TICK=1", "FAKE_GO_SLEEP=2"}
	out := s.mustRun(env, "pulumi", "pulumi-resource-kubernetes")
	cli, provider, ok := strings.Cut(out, "building bin/pulumi-resource-kubernetes")
	require.True(t, ok, out)
	assert.Regexp(t, `build-tools: still building bin/pulumi: [12] s so far \(about 7 min cold\)`, cli)
	assert.Regexp(t, `build-tools: still building bin/pulumi-resource-kubernetes: [12] s so far \(about 14 min cold\)`, provider)
	assert.NotContains(t, provider, "still building bin/pulumi:", "the CLI's heartbeat outlived its build")
	assert.Contains(t, out, "built bin/pulumi-resource-kubernetes in ")
	s.quietAfter(1500 * time.Millisecond)

	require.NoError(t, os.RemoveAll(filepath.Join(s.root, "bin")))
	out, err := s.run(append(env, "FAKE_GO_FAIL=1"), "pulumi")
	require.Error(t, err, out)
	assert.Contains(t, out, "still building bin/pulumi")
	assert.NotContains(t, out, "built bin/pulumi")
	assert.NoFileExists(t, filepath.Join(s.root, "bin", ".pulumi.stamp"), "a failed build is not stamped")
	s.quietAfter(1500 * time.Millisecond)
}
