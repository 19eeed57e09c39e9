package web

import "strings"

// describeAgent names the browser and the system of a User-Agent in
// words, as a person knows them ("Chrome on Linux"), for the list of
// sessions. It is a guess from well-known tokens, good enough to tell
// one's devices apart; it decides nothing. The order of the checks
// matters: Edge and Opera also say Chrome, Chrome also says Safari, and
// Android also says Linux.
func describeAgent(ua string) string {
	b := agentBrowser(ua)
	if b == "" {
		return "Unknown browser"
	}
	if os := agentSystem(ua); os != "" {
		return b + " on " + os
	}
	return b
}

// agentBrowsers are tokens of a User-Agent and the browser they name,
// the first that matches winning.
var agentBrowsers = []struct{ token, name string }{
	{"Edg", "Edge"},
	{"OPR/", "Opera"},
	{"Opera", "Opera"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"CriOS/", "Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
	{"curl/", "curl"},
	{"Go-http-client/", "A program"},
}

var agentSystems = []struct{ token, name string }{
	{"Windows", "Windows"},
	{"iPhone", "iPhone"},
	{"iPad", "iPad"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

func agentBrowser(ua string) string {
	for _, b := range agentBrowsers {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	return ""
}

func agentSystem(ua string) string {
	for _, s := range agentSystems {
		if strings.Contains(ua, s.token) {
			return s.name
		}
	}
	return ""
}
