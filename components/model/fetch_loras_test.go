package model_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// fakeStreamer stands in for the image's runai_model_streamer: its pull_files copies the
// objects under a URI's prefix from FAKE_STORE/<scheme>/<bucket>/<prefix>, as the real one does
// from the bucket (recursively, keeping the relative paths).
const fakeStreamer = `
import os, shutil

def pull_files(model_path, dst, allow_pattern=None, ignore_pattern=None):
    scheme, rest = model_path.split("://", 1)
    src = os.path.join(os.environ["FAKE_STORE"], scheme, rest)
    if not os.path.isdir(src):
        raise FileNotFoundError(model_path)
    shutil.copytree(src, dst, dirs_exist_ok=True)
`

// fetchCommand is the init container's command as the StatefulSet declares it, with the
// paths on the claim moved under root.
func fetchCommand(t *testing.T, models, name, root string) []string {
	t.Helper()
	m, _ := deploy(t, specs(t, models), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, name)
	require.Len(t, sts.Spec.Template.Spec.InitContainers, 1)
	cmd := append([]string(nil), sts.Spec.Template.Spec.InitContainers[0].Command...)
	for i := 4; i < len(cmd); i += 2 {
		cmd[i] = filepath.Join(root, cmd[i])
	}
	return cmd
}

func runFetch(t *testing.T, cmd []string, store string) (string, error) {
	t.Helper()
	python, err := exec.LookPath(cmd[0])
	if err != nil {
		t.Skipf("%s is not installed; the init container's script runs in the vLLM image", cmd[0])
	}
	lib := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(lib, "runai_model_streamer"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lib, "runai_model_streamer", "__init__.py"), []byte(fakeStreamer), 0o644))
	c := exec.Command(python, cmd[1:]...)
	c.Env = append(os.Environ(), "PYTHONPATH="+lib, "FAKE_STORE="+store)
	out, err := c.CombinedOutput()
	return string(out), err
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

func TestFetchLoRAsCopiesAdaptersOntoTheClaim(t *testing.T) {
	store, root := t.TempDir(), t.TempDir()
	writeFiles(t, filepath.Join(store, "s3", "acme", "support"), map[string]string{
		"adapter_config.json": `{"r":16}`, "adapter_model.safetensors": "weights", "extra/tokenizer.json": "{}",
	})
	writeFiles(t, filepath.Join(store, "gs", "acme", "legal"), map[string]string{
		"adapter_config.json": `{"r":8}`, "adapter_model.safetensors": "legal weights",
	})
	cmd := fetchCommand(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"q","weights":{"serviceAccount":"adapter-reader"},"loras":[
		{"name":"support","source":"s3://acme/support"},{"name":"legal","source":"gs://acme/legal/"}]}]`, "q", root)
	support, legal := cmd[4], cmd[6]
	// A copy from an earlier start, with a file the bucket no longer has.
	writeFiles(t, support, map[string]string{"adapter_config.json": "old", "stale.bin": "gone"})

	out, err := runFetch(t, cmd, store)
	require.NoError(t, err, out)
	for dir, want := range map[string]map[string]string{
		support: {"adapter_config.json": `{"r":16}`, "adapter_model.safetensors": "weights", "extra/tokenizer.json": "{}"},
		legal:   {"adapter_config.json": `{"r":8}`, "adapter_model.safetensors": "legal weights"},
	} {
		for name, body := range want {
			got, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			assert.Equal(t, body, string(got))
		}
	}
	assert.NoFileExists(t, filepath.Join(support, "stale.bin"), "the copy replaces the old one")
	assert.NoDirExists(t, support+".partial")
}

func TestFetchLoRAsKeepsTheOldCopyWhenTheSourceIsNoAdapter(t *testing.T) {
	store, root := t.TempDir(), t.TempDir()
	writeFiles(t, filepath.Join(store, "s3", "acme", "notes"), map[string]string{"README.md": "not an adapter"})
	cmd := fetchCommand(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"q","weights":{"serviceAccount":"adapter-reader"},"loras":[{"name":"n","source":"s3://acme/notes"}]}]`, "q", root)
	writeFiles(t, cmd[4], map[string]string{"adapter_config.json": "previous"})

	out, err := runFetch(t, cmd, store)
	require.Error(t, err, "the pod does not start on a broken adapter")
	assert.Contains(t, out, "s3://acme/notes has no adapter_config.json")
	got, err := os.ReadFile(filepath.Join(cmd[4], "adapter_config.json"))
	require.NoError(t, err)
	assert.Equal(t, "previous", string(got))

	// A source that does not exist fails the same way (the real streamer raises too).
	cmd = fetchCommand(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"q","weights":{"serviceAccount":"adapter-reader"},"loras":[{"name":"n","source":"gs://acme/missing"}]}]`, "q", root)
	out, err = runFetch(t, cmd, store)
	require.Error(t, err)
	assert.True(t, strings.Contains(out, "gs://acme/missing"), out)
}
