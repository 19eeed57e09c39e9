package rs_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/tokend/tokend/rs"
)

// A resource server that accepts tokend's tokens for audience
// https://api.example and requires the scope "read" everywhere and "admin"
// on one route. The resource server's own client (tokend client create
// --can-introspect) lets it follow the revocation feed and introspect
// opaque tokens.
func Example() {
	guard, err := rs.New(rs.Config{
		Issuer:         "https://localhost:9443",
		Audience:       "https://api.example",
		ClientID:       os.Getenv("RS_CLIENT_ID"),
		ClientSecret:   os.Getenv("RS_CLIENT_SECRET"),
		RequiredScopes: []string{"read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rs.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello %s\n", claims.Subject)
	})
	mux.Handle("GET /admin", rs.RequireScopes("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "welcome, admin")
	})))
	log.Fatal(http.ListenAndServe("localhost:8081", guard.Middleware(mux)))
}

// A request without a token is refused with the bare RFC 6750 challenge,
// before anything is asked of the authorization server.
func ExampleGuard_Middleware() {
	guard, err := rs.New(rs.Config{Issuer: "https://localhost:9443"})
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	h := guard.Middleware(http.NotFoundHandler())

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hello", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))

	w = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/hello", nil)
	req.Header.Set("Authorization", "Bearer not-a-jwt")
	h.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer
	// 401 Bearer error="invalid_token", error_description="the token is not a JWT, and this resource server cannot introspect"
}
