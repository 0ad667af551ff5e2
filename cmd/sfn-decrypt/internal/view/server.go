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
	"sync"
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

	// Launch mode (LaunchURL): the secret path alone serves nothing; a
	// one-time launch token is exchanged for a session cookie.
	mu       sync.Mutex
	launch   string // the launch token; "" once used, or outside launch mode
	session  string // the session cookie's value, once launched
	locked   bool   // the launch token was presented twice
	launched bool   // launch mode is on
	alert    func(string)
}

// sessionCookie is the name of the launch mode's session cookie.
const sessionCookie = "sfnenc-view-session"

// LaunchURL switches s to launch mode and returns the URL to give a
// browser on its command line, where every local user can read it
// (/proc/PID/cmdline). The URL holds a one-time launch token: its first
// load is answered with an HttpOnly, SameSite=Strict session cookie and a
// redirect to the page, and from then on nothing is served without that
// cookie. Whoever reads the URL later gets nothing. If the token is
// presented a second time (another user was faster than the browser, or
// the URL was reused), s locks: it serves nothing more, to anyone, and
// alert is called with a message saying so.
func (s *Server) LaunchURL(addr net.Addr, alert func(string)) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.launched, s.launch, s.alert = true, randomToken(), alert
	return s.URL(addr) + "?launch=" + s.launch
}

func randomToken() string {
	key := make([]byte, 16)
	rand.Read(key)
	return base64.RawURLEncoding.EncodeToString(key)
}

// admit reports, in launch mode, whether r may be served; it answers the
// launch request itself (launched is then true).
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (ok, answered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.launched {
		return true, false
	}
	if s.locked {
		return false, false
	}
	if tok := r.URL.Query().Get("launch"); tok != "" {
		if s.launch != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.launch)) == 1 {
			s.launch, s.session = "", randomToken()
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.session, Path: "/" + s.secret + "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode})
			w.Header().Set("Location", "/"+s.secret+"/")
			w.WriteHeader(http.StatusSeeOther)
			return true, true
		}
		// A used (or wrong) launch token: someone else read the URL,
		// and may have loaded the page before the browser did.
		s.locked, s.session = true, ""
		if s.alert != nil {
			s.alert("the page's launch link was presented again after its first use: someone else may have opened the page; it now serves nothing (run view again)")
		}
		return false, false
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && s.session != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session)) == 1, false
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
	s := &Server{secret: randomToken(), hosts: map[string]bool{}}
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
	if ok, answered := s.admit(w, r); answered {
		return
	} else if !ok {
		deny(http.StatusForbidden)
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
