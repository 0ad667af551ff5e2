package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asOtherUser runs a command as uid and gid 65534 (nobody), as another local
// user would. It needs root; outside CI the test is skipped without it.
func asOtherUser(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd.Output()
}

// fakeBrowser writes a script for $BROWSER that records its pid and URL and
// stays alive, so that its command line is there to be read, and returns
// getenv for view and a function that waits for the recorded pid.
func fakeBrowser(t *testing.T) (getenv func(string) string, pid func() int) {
	t.Helper()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := filepath.Join(dir, "browser")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nwhile :; do sleep 1; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	getenv = func(k string) string {
		if k == "BROWSER" {
			return script
		}
		return os.Getenv(k)
	}
	pid = func() int {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
				p, err := strconv.Atoi(strings.TrimSpace(string(b)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { syscall.Kill(p, syscall.SIGKILL) })
				return p
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("the browser did not start")
		return 0
	}
	return getenv, pid
}

// leakedURL reads, as another local user, the URL on the browser's command
// line: what --open exposes to everyone on the machine.
func leakedURL(t *testing.T, pid int) string {
	t.Helper()
	out, err := asOtherUser(t, "cat", fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("another user cannot read the browser's command line (%v: %s): the test's premise fails", err, stderr)
	}
	for _, arg := range strings.Split(string(out), "\x00") {
		if strings.HasPrefix(arg, "http://") {
			return arg
		}
	}
	t.Fatalf("no URL on the browser's command line %q", out)
	return ""
}

// get fetches url with client and returns the status and body.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func newClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// TestViewOpenLaunchLink plays another local user against view --open: the
// browser's command line is readable by every user (/proc/PID/cmdline), so
// the URL there is a one-time launch link that the browser's first load
// exchanges for an HttpOnly, SameSite=Strict session cookie. Whoever reads
// the command line afterwards obtains nothing; whoever uses the link before
// the browser does makes the browser's load fail, and view says so and
// serves nothing more, to anyone.
func TestViewOpenLaunchLink(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test plays a second local user and needs root, which CI has")
		}
		t.Skip("this test plays a second local user (uid 65534) and needs root")
	}
	args := []string{"--open", "--config", fixture("config.json"), fixture("orders.encrypted.json")}

	t.Run("the browser loads first", func(t *testing.T) {
		getenv, pid := fakeBrowser(t)
		url, stderr := startViewStderr(t, "", getenv, args...)
		leaked := leakedURL(t, pid())
		if leaked != url {
			t.Fatalf("the browser got %q, view printed %q", leaked, url)
		}
		page := url[:strings.IndexByte(url, '?')]

		// The user's browser: the launch link, then the page's data.
		browser := newClient(t)
		if code, body := get(t, browser, url); code != http.StatusOK || !strings.Contains(body, "app.js") {
			t.Fatalf("the browser's first load: %d %q", code, body)
		}
		if code, body := get(t, browser, page+"data.json"); code != http.StatusOK || !strings.Contains(body, `"events"`) {
			t.Fatalf("the browser's data: %d", code)
		}
		if code, _ := get(t, browser, page); code != http.StatusOK {
			t.Errorf("a reload with the session cookie: %d", code)
		}

		// The other user, with everything the command line gave away.
		other := newClient(t)
		for _, u := range []string{page + "data.json", page, page + "app.js"} {
			if code, body := get(t, other, u); code == http.StatusOK || strings.Contains(body, "events") {
				t.Errorf("another user got %s: %d", u, code)
			}
		}
		if code, _ := get(t, other, leaked); code == http.StatusOK {
			t.Errorf("another user reused the launch link: %d", code)
		}
		// The reuse is reported, and the page is locked for everyone.
		if !strings.Contains(stderr.String(), "launch link was presented again") {
			t.Errorf("stderr does not report the reuse:\n%s", stderr.String())
		}
		if code, _ := get(t, browser, page+"data.json"); code == http.StatusOK {
			t.Errorf("the locked page still serves its data")
		}
	})

	t.Run("the other user is faster", func(t *testing.T) {
		getenv, pid := fakeBrowser(t)
		url, stderr := startViewStderr(t, "", getenv, args...)
		leaked := leakedURL(t, pid())
		page := leaked[:strings.IndexByte(leaked, '?')]
		other := newClient(t)
		get(t, other, leaked) // wins the race
		browser := newClient(t)
		if code, _ := get(t, browser, url); code == http.StatusOK {
			t.Fatalf("the browser loaded a launch link already used")
		}
		if !strings.Contains(stderr.String(), "someone else may have opened the page") {
			t.Errorf("stderr does not warn the user:\n%s", stderr.String())
		}
		if code, _ := get(t, other, page+"data.json"); code == http.StatusOK {
			t.Errorf("the other user's session still works after the warning")
		}
	})
}

// TestViewOpenInBrowser: the launch link works in a real Chromium as --open
// gives it (a top-level load from outside any page): the session cookie is
// set, the page renders its data, a reload works, and the link is then dead
// for another client.
func TestViewOpenInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	getenv, pid := fakeBrowser(t)
	url := startView(t, getenv, "--open", "--config", fixture("config.json"), fixture("orders.encrypted.json"))
	pid()
	load(t, ctx, url)
	page := url[:strings.IndexByte(url, '?')]
	load(t, ctx, page) // a reload of the page itself, with the cookie
	var cookieVisible bool
	eval(t, ctx, `document.cookie.includes("sfnenc-view-session")`, &cookieVisible)
	if cookieVisible {
		t.Error("the session cookie is visible to the page's script (not HttpOnly)")
	}
	if code, _ := get(t, newClient(t), page+"data.json"); code == http.StatusOK {
		t.Error("another client got the data without the session cookie")
	}
}
