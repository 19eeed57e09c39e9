package main

import (
	"os/exec"
	"strings"
	"testing"
)

// deviceApproval is what the person does in a browser while the README's
// polling loop runs, done with curl: open verification_uri_complete, sign
// in as alice, Continue, Allow. It runs in the background of the script.
const deviceApproval = `(
C=$(jq -r .user_code device.json); J=browser-cookies.txt
curl -sk -c $J -b $J -o /dev/null "$(jq -r .verification_uri_complete device.json)"
CSRF=$(curl -sk -c $J -b $J "https://localhost:9443/device/sign-in?user_code=$C" | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//; s/"$//')
curl -sk -c $J -b $J -o /dev/null -d "csrf_token=$CSRF&username=alice&password=correct+horse+battery&action=sign_in" "https://localhost:9443/device/sign-in?user_code=$C"
curl -sk -c $J -b $J -o /dev/null -d "csrf_token=$CSRF&user_code=$C&action=continue" https://localhost:9443/device
curl -sk -c $J -b $J -d "csrf_token=$CSRF&user_code=$C&action=allow" https://localhost:9443/device | grep -o '<h1>[^<]*</h1>'
) &
`

// TestDeviceREADMEAsPrinted runs the README's device authorization grant
// as printed, after the Quick start's server and user: the client, the
// device authorization, the first poll (authorization_pending), and the
// polling loop, which ends with tokens once the person, played by curl in
// the background, has allowed the device.
func TestDeviceREADMEAsPrinted(t *testing.T) {
	t.Parallel() // in a network namespace of its own, or alone on the machine's ports (chooseReadmeNet)
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the README's commands need it (.ci/run installs curl and jq)", tool)
		}
	}
	qs := sectionBlocks(t, "## Quick start")
	dev := sectionBlocks(t, "## Device authorization grant")
	if len(qs) < 2 || len(dev) != 3 {
		t.Fatalf("the Quick start has %d sh blocks, the device section %d; this test needs the first two and 3", len(qs), len(dev))
	}
	out, _ := runReadme(t, readmeScript(t, []string{qs[0], qs[1], dev[0], dev[1], deviceApproval + dev[2]}, ""), chooseReadmeNet(t), "")
	if len(out) != 5 {
		t.Fatalf("%d of 5 blocks ran", len(out))
	}
	for _, want := range []string{`"user_code":"`, `"verification_uri":"https://localhost:9443/device"`, `"expires_in":600,"interval":5}`} {
		if !strings.Contains(out[2], want) {
			t.Errorf("the device authorization says no %s:\n%s", want, out[2])
		}
	}
	if !strings.Contains(out[3], `"error":"authorization_pending"`) {
		t.Errorf("the first poll:\n%s; want authorization_pending", out[3])
	}
	for _, want := range []string{"<h1>You can go back to your device</h1>", `"access_token":"tka_`, `"refresh_token":"tkr_`, `"id_token":"`} {
		if !strings.Contains(out[4], want) {
			t.Errorf("the polling loop's output has no %s:\n%s", want, out[4])
		}
	}
}
