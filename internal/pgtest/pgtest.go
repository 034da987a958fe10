// Package pgtest starts a real PostgreSQL server for a test: Debian's postgresql package
// (initdb and pg_ctl from /usr/lib/postgresql/<version>/bin), a fresh cluster in a temporary
// directory, listening on 127.0.0.1 on a free port and on a socket in that directory. PostgreSQL
// refuses to run as root, so under root the server runs as the "nobody" user (runuser).
//
// Where the binaries are missing the test is skipped with the package to install, except in CI
// (CI=true), where it fails: CI installs them (scripts/install-test-deps.sh).
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Superuser is the cluster's superuser; it connects over the socket without a password.
const Superuser = "postgres"

// Server is a running cluster.
type Server struct {
	// Port is the TCP port on 127.0.0.1; SocketDir holds the Unix socket.
	Port      int
	SocketDir string
	// Version is the server's major version (e.g. 15).
	Version string
	bin     string
	data    string
	runAs   []string // the command prefix running the server's binaries (runuser under root)
}

// timeout bounds every command the package runs.
const timeout = 2 * time.Minute

// Start initializes and starts a cluster, stopped and removed when the test ends. Passwords are
// checked (SCRAM) on TCP; the socket trusts the local superuser.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, version := findBin(t)
	if _, err := exec.LookPath("psql"); err != nil {
		missing(t, "psql (Debian's postgresql-client)")
	}
	root, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	s := &Server{Port: freePort(t), SocketDir: filepath.Join(root, "socket"), Version: version, bin: bin, data: filepath.Join(root, "data")}
	for _, d := range []string{s.SocketDir, s.data} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		s.runAs = asNobody(t, root, s.SocketDir, s.data)
	}
	s.run(t, "initdb", "--pgdata="+s.data, "--username="+Superuser, "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-instructions")
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s", s.Port, s.SocketDir)
	s.run(t, "pg_ctl", "--pgdata="+s.data, "--options="+opts, "--log="+filepath.Join(s.SocketDir, "server.log"), "--wait", "start")
	t.Cleanup(func() { s.runQuiet("pg_ctl", "--pgdata="+s.data, "--mode=fast", "--wait", "stop") })
	return s
}

// SuperuserEnv is the environment that makes psql and pg_dump reach the server as the superuser
// over the socket.
func (s *Server) SuperuserEnv() []string {
	return append(os.Environ(), "PGHOST="+s.SocketDir, "PGPORT="+strconv.Itoa(s.Port), "PGUSER="+Superuser, "PGDATABASE=postgres")
}

// Super runs SQL as the superuser and returns psql's output (stdout and stderr).
func (s *Server) Super(t testing.TB, sql string) string {
	t.Helper()
	out, err := Command(s.SuperuserEnv(), "psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A", "-c", sql)
	if err != nil {
		t.Fatalf("psql as %s: %v\n%s", Superuser, err, out)
	}
	return strings.TrimSpace(out)
}

// Connect runs SQL through a connection URL (libpq parses it, as Open WebUI's psycopg2 does)
// and returns psql's output and its error, if any.
func Connect(url, sql string) (string, error) {
	out, err := Command(os.Environ(), "psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A", "-d", url, "-c", sql)
	return strings.TrimSpace(out), err
}

// Command runs name with args and env, bounded in time, and returns its combined output.
func Command(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *Server) run(t testing.TB, tool string, args ...string) {
	t.Helper()
	if out, err := s.command(tool, args...); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
}

func (s *Server) runQuiet(tool string, args ...string) { _, _ = s.command(tool, args...) }

func (s *Server) command(tool string, args ...string) (string, error) {
	argv := append(append(append([]string{}, s.runAs...), filepath.Join(s.bin, tool)), args...)
	return Command(os.Environ(), argv[0], argv[1:]...)
}

// findBin is the newest installed server's bin directory (Debian keeps them off PATH).
func findBin(t testing.TB) (dir, version string) {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, strconv.Itoa(majorOf(d))
		}
	}
	missing(t, "initdb and pg_ctl (Debian's postgresql)")
	return "", ""
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// missing skips the test, or fails it in CI, where the packages are installed.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := what + " not found: install them with scripts/install-test-deps.sh (apt-get install postgresql)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// asNobody hands the directories to the nobody user and returns the prefix that runs a command
// as that user: PostgreSQL will not run as root.
func asNobody(t testing.TB, root string, dirs ...string) []string {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root, PostgreSQL needs another user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Fatalf("running as root, PostgreSQL runs through runuser (util-linux): %v", err)
	}
	return []string{runuser, "-u", "nobody", "--"}
}

// freePort is a TCP port free on 127.0.0.1 a moment ago (the kernel picks it).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
