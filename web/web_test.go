package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestIndex(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/r/demo", "/r/1234", "/r/my%20room", "/index.html"} {
		rec := get(t, h, p, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", p, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
		body := rec.Body.String()
		if !strings.Contains(body, `id="join-form"`) || !strings.Contains(body, `id="remote-audio"`) {
			t.Errorf("%s: not the page", p)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no CSP", p)
		}
	}
}

func TestAssetsLinkedWithVersion(t *testing.T) {
	h := Handler()
	body := get(t, h, "/", nil).Body.String()
	for _, name := range []string{"app.js", "app.css"} {
		m := regexp.MustCompile(`"/static/` + regexp.QuoteMeta(name) + `\?v=([0-9a-f]{16})"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("index.html does not link /static/%s?v=<hash>", name)
		}
		rec := get(t, h, "/static/"+name+"?v="+m[1], nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", name, rec.Code)
		}
		if !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("%s with its version: Cache-Control %q", name, rec.Header().Get("Cache-Control"))
		}
		// Without (or with a stale) version: revalidate.
		rec = get(t, h, "/static/"+name+"?v=0000", nil)
		if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s stale version: Cache-Control %q", name, cc)
		}
	}
}

func TestStaticTypes(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/static/app.js":      "text/javascript; charset=utf-8",
		"/static/app.css":     "text/css; charset=utf-8",
		"/static/favicon.svg": "image/svg+xml",
	} {
		rec := get(t, h, path, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != want {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, want)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if rec.Body.Len() == 0 {
			t.Errorf("%s: empty", path)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/static/nope.js", "/static/", "/static/../web.go", "/nope", "/r/", "/r/a/b", "/static/index.html"} {
		if rec := get(t, h, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, rec.Code)
		}
	}
}

func TestConditionalAndMethods(t *testing.T) {
	h := Handler()
	rec := get(t, h, "/static/app.js", nil)
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := get(t, h, "/static/app.js", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", rec.Code)
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d", w.Code)
	}
	req = httptest.NewRequest(http.MethodHead, "/r/demo", nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD /r/demo: status %d, %d body bytes", w.Code, w.Body.Len())
	}
}
