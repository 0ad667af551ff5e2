package view

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

//go:embed assets
var assets embed.FS

var indexTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))

// ErrNotLoopback is returned by CheckListen for an address that is not on
// the loopback interface.
var ErrNotLoopback = errors.New("view: listen address is not loopback")

// CheckListen checks that addr (host:port) is on the loopback interface:
// 127.0.0.0/8, ::1 or localhost.
func CheckListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("view: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q (use 127.0.0.1:PORT)", ErrNotLoopback, addr)
	}
	return nil
}

// Headers every response carries. The page's script and style are files of
// their own under the secret path ('self'); nothing inline, nothing from
// elsewhere, no frames, no forms.
var securityHeaders = map[string]string{
	"Cache-Control":                "no-store",
	"Content-Security-Policy":      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
}

// Server serves a Page under a secret path. Create it with NewServer.
type Server struct {
	secret string
	hosts  map[string]bool // the Host values accepted
	index  []byte
	data   []byte
}

// NewServer returns a server of p for a listener at addr (as bound, with
// its port): it accepts requests whose Host is that address, or
// localhost or 127.0.0.1 with its port, and whose path starts with a random
// secret of 128 bits.
func NewServer(p *Page, addr net.Addr) (*Server, error) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, errors.New("view: not a TCP address")
	}
	key := make([]byte, 16)
	rand.Read(key)
	s := &Server{secret: base64.RawURLEncoding.EncodeToString(key), hosts: map[string]bool{}}
	port := fmt.Sprint(tcp.Port)
	s.hosts[net.JoinHostPort(tcp.IP.String(), port)] = true
	s.hosts["localhost:"+port] = true
	if tcp.IP.To4() != nil {
		s.hosts["127.0.0.1:"+port] = true
	}
	var err error
	if s.data, err = json.Marshal(p); err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	s.index = buf.Bytes()
	return s, nil
}

// URL returns the page's URL on addr.
func (s *Server) URL(addr net.Addr) string {
	tcp := addr.(*net.TCPAddr)
	host := net.JoinHostPort(tcp.IP.String(), fmt.Sprint(tcp.Port))
	return "http://" + host + "/" + s.secret + "/"
}

// files are the assets served under the secret path, with their types.
var files = map[string]string{
	"app.js":  "text/javascript; charset=utf-8",
	"app.css": "text/css; charset=utf-8",
}

// ServeHTTP serves the page, its script, style and data to requests that
// carry the secret and come from the page itself, and nothing to others.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	deny := func(code int) {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
	}
	// DNS rebinding: a page of another site whose name resolves to
	// 127.0.0.1 sends its own Host. Cross-site requests send an Origin or
	// Sec-Fetch-Site.
	if !s.hosts[r.Host] {
		deny(http.StatusMisdirectedRequest)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		deny(http.StatusForbidden)
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		deny(http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		deny(http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/")
	secret, name, found := strings.Cut(rest, "/")
	if !ok || !found || subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1 {
		deny(http.StatusNotFound)
		return
	}
	switch name {
	case "":
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(s.index)
	case "data.json":
		h.Set("Content-Type", "application/json")
		w.Write(s.data)
	default:
		typ, ok := files[name]
		if !ok {
			deny(http.StatusNotFound)
			return
		}
		b, _ := assets.ReadFile("assets/" + name)
		h.Set("Content-Type", typ)
		w.Write(b)
	}
}
