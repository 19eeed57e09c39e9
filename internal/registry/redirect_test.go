package registry

import "testing"

func TestRedirectMatches(t *testing.T) {
	registered := []string{"https://app.example/cb", "http://127.0.0.1/cb", "http://[::1]:8080/native?x=1", "http://localhost:3000/cb"}
	for _, tc := range []struct {
		asked string
		want  bool
	}{
		{"https://app.example/cb", true},
		{"https://app.example/cb/", false},
		{"https://app.example/CB", false},
		{"https://app.example/cb?next=evil", false},
		{"https://app.example.evil/cb", false},
		{"https://app.example:443/cb", false},
		{"http://127.0.0.1:53117/cb", true},
		{"http://127.0.0.1/cb", true},
		{"http://127.0.0.1:53117/other", false},
		{"https://127.0.0.1:53117/cb", false},
		{"http://[::1]:61000/native?x=1", true},
		{"http://[::1]:61000/native", false},
		{"http://localhost:3000/cb", true},
		{"http://localhost:3001/cb", false},
		{"http://127.0.0.1:53117/cb#frag", false},
		{"http://user@127.0.0.1:53117/cb", false},
		{"", false},
	} {
		if got := RedirectMatches(registered, tc.asked); got != tc.want {
			t.Errorf("RedirectMatches(%q) = %v; want %v", tc.asked, got, tc.want)
		}
	}
}
