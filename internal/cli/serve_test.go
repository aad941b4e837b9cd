package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects a concurrent writer's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The README's path end to end: serve on embedded defaults, create the
// owner with the setup token, create a key, review through the server,
// revoke the key; then a graceful shutdown.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{"DIFFGATE_DATA_DIR": dir, "DIFFGATE_ADDR": "127.0.0.1:0", "DIFFGATE_BCRYPT_COST": "12", "DIFFGATE_AUTH_RATE": "50"}
	done := make(chan int)
	go func() {
		code := Run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, pw)
		pw.Close()
		done <- code
	}()
	var base, token string
	sc := bufio.NewScanner(pr)
	tokenRe := regexp.MustCompile(`--token (\S+)`)
	for sc.Scan() {
		line := sc.Text()
		logs.Write([]byte(line + "\n"))
		if m := tokenRe.FindStringSubmatch(line); m != nil {
			token = m[1]
		}
		if rest, ok := strings.CutPrefix(line, "diffgate: listening on "); ok {
			base = rest
			break
		}
	}
	if base == "" || token == "" {
		t.Fatalf("serve did not announce its address and setup token:\n%s", logs.String())
	}
	go func() {
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
		}
	}()
	for _, name := range []string{"secrets/jwt-keys.json", "secrets/key-pepper", "secrets/seal-keys.json", "diffgate.db"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode().Perm())
		}
	}

	cli := func(stdin string, extra map[string]string, args ...string) runResult {
		t.Helper()
		e := map[string]string{"DIFFGATE_SERVER": base}
		for k, v := range extra {
			e[k] = v
		}
		return run(t, stdin, e, args...)
	}
	const pw1 = "owner passphrase long enough 1"
	if r := cli(pw1+"\n", nil, "setup", "--token", token, "--email", "owner@example.com"); r.code != ExitOK {
		t.Fatalf("setup: %d %s", r.code, r.stderr)
	}
	if r := cli(pw1+"\n", nil, "setup", "--token", token, "--email", "owner@example.com"); r.code != ExitUsage {
		t.Errorf("second setup with the same token: exit %d, want 2", r.code)
	}
	r := cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "keys", "create", "--email", "owner@example.com", "--name", "ci")
	key := strings.TrimSpace(r.stdout)
	if r.code != ExitOK || !strings.HasPrefix(key, "dg_live_") {
		t.Fatalf("keys create: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = cli(sample(t), map[string]string{"DIFFGATE_API_KEY": key}, "review", "-", "--server", base, "--format", "json", "--fail-on", "high")
	if r.code != ExitFindings || len(decode(t, r.stdout).Findings) < 9 {
		t.Fatalf("review --server: exit %d, %s; stderr %s", r.code, r.stdout, r.stderr)
	}
	r = cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "keys", "list", "--email", "owner@example.com")
	if r.code != ExitOK || !strings.Contains(r.stdout, "ci") || strings.Contains(r.stdout, key) {
		t.Errorf("keys list: %d\n%s", r.code, r.stdout)
	}
	id := strings.Split(strings.TrimPrefix(key, "dg_live_"), "_")[0]
	if r := cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "keys", "revoke", id, "--email", "owner@example.com"); r.code != ExitOK {
		t.Fatalf("keys revoke: %d %s", r.code, r.stderr)
	}
	r = cli(sample(t), map[string]string{"DIFFGATE_API_KEY": key}, "review", "-", "--server", base)
	if r.code != ExitReviewer || !strings.Contains(r.stderr, "401") {
		t.Errorf("review with a revoked key: exit %d, stderr %q", r.code, r.stderr)
	}

	r = cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "credits", "--email", "owner@example.com")
	if r.code != ExitOK || !strings.Contains(r.stdout, "balance: ") || !strings.Contains(r.stdout, "charge") {
		t.Errorf("credits: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The charge's reference is the review's id: refund it once.
	var reviewID string
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && slices.Contains(f, "charge") {
			reviewID = f[len(f)-1]
		}
	}
	r = cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "credits", "--email", "owner@example.com", "--refund", reviewID)
	if r.code != ExitOK || !strings.Contains(r.stdout, "refunded ") || !strings.Contains(r.stdout, reviewID) {
		t.Errorf("credits --refund %q: %d %s %s", reviewID, r.code, r.stdout, r.stderr)
	}
	r = cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "credits", "--email", "owner@example.com", "--refund", reviewID)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "already refunded") {
		t.Errorf("second credits --refund: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "credits", "--email", "owner@example.com", "--grant", "50", "--to", "owner@example.com", "--reason", "test")
	if r.code != ExitOK || !strings.Contains(r.stdout, "now has") {
		t.Errorf("credits --grant: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = cli("", map[string]string{"DIFFGATE_PASSWORD": pw1}, "credits", "--email", "owner@example.com", "--user", "owner@example.com")
	if r.code != ExitOK || !strings.Contains(r.stdout, "grant") {
		t.Errorf("credits --user: %d %s %s", r.code, r.stdout, r.stderr)
	}

	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("serve exited %d after shutdown:\n%s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), pw1) {
		t.Error("server logs hold a key or a password")
	}
	// D5: the seal key rotates offline, keeping the file 0600.
	if r := run(t, "", map[string]string{"DIFFGATE_DATA_DIR": dir}, "rotate-seal-key"); r.code != ExitOK || !strings.Contains(r.stderr, "is active") {
		t.Errorf("rotate-seal-key: %d %s", r.code, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "secrets", "seal-keys.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("seal keys after rotation: %v", err)
	}
}

// Bad input on the wire: huge headers get 431, and a client that sends its
// headers too slowly (slowloris) or then idles is disconnected.
func TestHTTPServerLimits(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hs := httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}), log, httpTimeouts{header: 200 * time.Millisecond, read: 300 * time.Millisecond, write: time.Second, idle: 300 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	addr := ln.Addr().String()

	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*maxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("huge header: %d, want 431", resp.StatusCode)
	}

	for name, send := range map[string]string{
		"slow headers": "GET / HTTP/1.1\r\nHost: x\r\n",
		"slow body":    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, send); err != nil {
			t.Fatal(err)
		}
		// The server must close the connection by itself; the deadline
		// here only keeps a broken server from hanging the test.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the server kept the connection open", name)
		}
		conn.Close()
	}
}
