package awslogin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"rolegate/store"
)

const (
	cliDeviceCodePath  = "/cli/device/code"
	cliDeviceTokenPath = "/cli/device/token"
	deviceGrantType    = "urn:ietf:params:oauth:grant-type:device_code"
)

// Device gets a Response through the device-code flow (RFC 8628), for a machine where no browser
// can be opened: it shows an address and a short code, the person approves on any device where
// they can sign in, and it polls the IdP until the request is approved, denied or expired.
type Device struct {
	URL  string
	Role string // narrows the role picker on the approval page
	Host string // the name the approval page shows for this machine; "" for os.Hostname
	Out  io.Writer
	HTTP *http.Client
	// Sleep waits d or until ctx ends; nil sleeps for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// WantSession asks the IdP for a CLI session (named Host too); Session is the one issued.
	WantSession bool
	Session     *Session
}

// CLISession implements SessionSource.
func (d *Device) CLISession() *Session { return d.Session }

// deviceGrant is the IdP's answer to a device authorization request (RFC 8628 §3.2).
type deviceGrant struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	Complete        string `json:"verification_uri_complete"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SAMLResponse implements Source.
func (d *Device) SAMLResponse(ctx context.Context, account string) (*Response, error) {
	codeURL, err := idpURL(d.URL, cliDeviceCodePath)
	if err != nil {
		return nil, err
	}
	tokenURL, _ := idpURL(d.URL, cliDeviceTokenPath)
	host := d.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	form := url.Values{"client_id": {cliClientID}, "device_name": {host}}
	if account != "" {
		form.Set("account", account)
	}
	if d.Role != "" {
		form.Set("role", d.Role)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, codeURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, raw, err := send(d.HTTP, req)
	if err != nil {
		return nil, err
	}
	var g deviceGrant
	if res.StatusCode != http.StatusOK {
		var a tokenAnswer
		json.Unmarshal(raw, &a)
		return nil, tokenRefusal(res, a)
	}
	if json.Unmarshal(raw, &g) != nil || g.DeviceCode == "" || g.UserCode == "" || g.VerificationURI == "" || g.ExpiresIn <= 0 {
		return nil, store.Errorf(store.Internal, "the IdP at %s gave no usable device code: is --url a Rolegate server?", codeURL)
	}
	interval := time.Duration(max(g.Interval, 5)) * time.Second
	deadline := time.Now().Add(time.Duration(g.ExpiresIn) * time.Second)
	out := d.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "To sign in, open %s on any device, sign in and enter the code\n\n    %s\n\n", printable(g.VerificationURI), printable(g.UserCode))
	if g.Complete != "" {
		fmt.Fprintf(out, "(or open %s)\n", printable(g.Complete))
	}
	fmt.Fprintf(out, "Waiting for approval (the code expires in %s)...\n", time.Duration(g.ExpiresIn)*time.Second)
	wait := d.Sleep
	if wait == nil {
		wait = sleep
	}
	for {
		if err := wait(ctx, interval); err != nil {
			return nil, err
		}
		poll := url.Values{"grant_type": {deviceGrantType}, "client_id": {cliClientID}, "device_code": {g.DeviceCode}}
		askSession(poll, d.WantSession, host)
		resp, sess, err := postToken(ctx, d.HTTP, tokenURL.String(), poll)
		switch errorCode(err) {
		case "":
			d.Session = sess
			return resp, err
		case "authorization_pending":
		case "slow_down":
			interval += 5 * time.Second
		case "access_denied":
			return nil, store.Errorf(store.Forbidden, "the sign-in was not approved: %s", store.ErrorMessage(err))
		case "expired_token":
			return nil, store.Errorf(store.Unauthorized, "the code %s expired before anyone approved it: run rolegate login again", printable(g.UserCode))
		default:
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, store.Errorf(store.Unauthorized, "the code %s expired before anyone approved it: run rolegate login again", printable(g.UserCode))
		}
	}
}
