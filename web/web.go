// Package web embeds the browser page of setbridge (lobby, room, participant
// list) and serves it. The page talks to the HTTP contract in
// docs/browser-api.md; it loads nothing from the network but this server.
//
// Routes:
//
//	GET /            the page (index.html), Cache-Control: no-cache
//	GET /r/{room}    the same page, the room prefilled from the path
//	GET /static/...  app.js, app.css, icons; cached for a year when the
//	                 request carries the ?v= content hash that index.html
//	                 links with, revalidated (ETag) otherwise
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string // strong, quoted
	version     string // short content hash, the ?v= of index.html's links
}

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

// securityHeaders are sent with every response: the page needs nothing but
// its own origin (media arrives over WebRTC, which CSP does not govern).
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; " +
		"img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; " +
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Permissions-Policy":     "microphone=(self), camera=(), geolocation=()",
}

type handler struct {
	index  asset
	assets map[string]asset // by name under static/, e.g. "app.js"
}

// Handler serves the page. Mount it at the root of the server's mux (the API
// routes /api/..., /whip/..., /whep/... are more specific and win).
func Handler() http.Handler {
	h, err := newHandler(staticFS)
	if err != nil {
		panic("web: " + err.Error()) // the embedded files are fixed at build time
	}
	return h
}

func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{assets: map[string]asset{}}
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.assets[strings.TrimPrefix(p, "static/")] = newAsset(p, body)
		return nil
	})
	if err != nil {
		return nil, err
	}
	idx, ok := h.assets["index.html"]
	if !ok {
		return nil, fs.ErrNotExist
	}
	delete(h.assets, "index.html")
	// Link the assets with their content hash so browsers may cache them for
	// good and still never run an old app.js against a new index.html.
	body := idx.body
	for name, a := range h.assets {
		ref := []byte(`"/static/` + name + `"`)
		body = bytes.ReplaceAll(body, ref, []byte(`"/static/`+name+`?v=`+a.version+`"`))
	}
	h.index = newAsset("index.html", body)
	return h, nil
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	v := hex.EncodeToString(sum[:])[:16]
	ct, ok := contentTypes[strings.ToLower(path.Ext(name))]
	if !ok {
		ct = "application/octet-stream"
	}
	return asset{body: body, contentType: ct, etag: `"` + v + `"`, version: v}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/index.html":
		h.serve(w, r, h.index, "no-cache")
	case strings.HasPrefix(p, "/r/"):
		room := strings.TrimPrefix(p, "/r/")
		if room == "" || strings.Contains(room, "/") {
			http.NotFound(w, r)
			return
		}
		h.serve(w, r, h.index, "no-cache")
	case strings.HasPrefix(p, "/static/"):
		a, ok := h.assets[strings.TrimPrefix(p, "/static/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		cc := "no-cache"
		if r.URL.Query().Get("v") == a.version {
			cc = "public, max-age=31536000, immutable"
		}
		h.serve(w, r, a, cc)
	case p == "/favicon.ico":
		if a, ok := h.assets["favicon.svg"]; ok {
			h.serve(w, r, a, "public, max-age=86400")
			return
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a asset, cacheControl string) {
	hd := w.Header()
	for k, v := range securityHeaders {
		hd.Set(k, v)
	}
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", cacheControl)
	hd.Set("ETag", a.etag)
	// ServeContent answers If-None-Match (304), HEAD and Range.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
