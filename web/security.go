package web

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The server runs code, so a page of another site must not be able to drive
// it. Two attacks matter on a loopback server:
//
//   - DNS rebinding: evil.test first resolves to the attacker, then to
//     127.0.0.1, and its page reads our API as its own origin. The browser
//     still sends Host: evil.test, so every request must name a host this
//     server answers to, with the port it listens on.
//   - Cross-site websockets: browsers do not apply the same-origin policy to
//     websockets, so any page may open ws://127.0.0.1:7070/ws. The browser
//     always sends the Origin of the page, which must be ours.

// loopbackNames are the host names a server always answers to.
var loopbackNames = []string{"localhost", "127.0.0.1", "::1"}

// checkHost answers 403 to a request whose Host is not one of the server's
// names, and sets the security headers on every response.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := s.allowedHost(r, r.Host)
		setSecurityHeaders(w.Header(), r.Host, ok)
		if !ok {
			s.logf("web: refused %s %s: host %q is not one of this server's names", r.Method, clip(r.URL.Path), clip(r.Host))
			http.Error(w, "403 forbidden: this server does not answer to host "+strconv.Quote(clip(r.Host)), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowedHost reports whether hostport, a Host header or the host of an
// Origin, names this server: one of its names, with the port that the
// request arrived on.
func (s *Server) allowedHost(r *http.Request, hostport string) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	if !ok || hostport == "" {
		return false
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: the default port of http.
		host, port = hostport, "80"
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if port != strconv.Itoa(local.Port) || host == "" {
		return false
	}
	if local.IP != nil && host == strings.ToLower(local.IP.String()) {
		return true
	}
	for _, n := range loopbackNames {
		if host == n {
			return true
		}
	}
	for _, n := range s.opt.Hosts {
		if host == strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")) {
			return true
		}
	}
	return false
}

// allowedOrigin reports whether the Origin header of r is a page of this
// server. A missing Origin (not a browser) and "null" (a sandboxed frame or
// a file: page) are refused: only our own page may open a websocket.
func (s *Server) allowedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return false
	}
	return s.allowedHost(r, u.Host)
}

// setSecurityHeaders sets the headers that every response carries. The
// content security policy allows only the server's own files: no inline
// script or style, no framing by any site. When the host is known to be
// ours, the websocket at that host is named explicitly, for browsers whose
// 'self' does not cover ws: URLs.
func setSecurityHeaders(h http.Header, host string, hostOK bool) {
	connect := "'self'"
	if hostOK {
		connect += " ws://" + host
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data: blob:; connect-src "+connect+"; object-src 'none'; base-uri 'none'; "+
		"form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
