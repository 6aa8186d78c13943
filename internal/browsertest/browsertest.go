// Package browsertest opens pages in headless Chromium for tests: the
// status page and the HTML report are checked in a real browser, which
// reads the DOM they render. The browser is Debian's chromium (.ci/run
// installs it where it is missing), driven with chromedp. Test code only.
//
// When no browser is found, a test fails under CI (the CI environment
// variable set, as CI sets it) and is skipped otherwise, saying why: a
// developer without chromium can run the other tests, CI never skips
// these silently.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the browser's path: $DANMAKUD_CHROMIUM, else chromium
// or chromium-browser on PATH. Without one it fails the test under CI
// and skips it otherwise.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DANMAKUD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser tests: apt-get install -y chromium (.ci/run does)")
	}
	t.Skip("skipping the browser test: chromium is not installed (apt-get install -y chromium); CI runs it")
	return ""
}

// New starts a fresh headless browser (its own profile directory, no
// background traffic, no sandbox, no GPU) and returns a tab's context
// for chromedp.Run, bounded by timeout. The browser is stopped when the
// test ends.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	bin := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx
}

// Screenshot writes a PNG of the page's top width×height CSS pixels
// (the viewport set to that size) to path.
func Screenshot(t testing.TB, ctx context.Context, path string, width, height int) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Eval evaluates expr in the page and decodes its JSON value into T.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// Navigate loads url and waits for it to load; it returns how long that
// took.
func Navigate(t testing.TB, ctx context.Context, url string) time.Duration {
	t.Helper()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	return time.Since(start)
}

// Click clicks the element sel (CSS) and waits for the page it loads.
func Click(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
}
