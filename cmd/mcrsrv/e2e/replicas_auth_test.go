package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// takeEffect is how soon a change of credentials or rules made through
// one replica must hold on every replica (issue #17: within one second).
const takeEffect = time.Second

// TestReplicasAuth runs the cluster with builtin auth: an access key
// revoked through one replica is refused by every replica within a
// second, after each had it cached as a good login; a deny rule created
// through one replica refuses on every replica within a second, and its
// removal likewise; and after concurrent pushes and logins through
// HAProxy, spread over the replicas, the audit log is one chain that
// verifies on every replica.
func TestReplicasAuth(t *testing.T) {
	c := startCluster(t, "MCR_AUTH_MODE=builtin")
	pw := adminPassword(t, &registry{data: c.replicas[0].data})
	admin := authProbe(c.lb, "admin", pw)
	t.Run("revoked-key", func(t *testing.T) { revokedKey(t, c, admin) })
	t.Run("deny-rule", func(t *testing.T) { denyRule(t, c, admin) })
	t.Run("audit", func(t *testing.T) { auditAcrossReplicas(t, c, pw) })
}

// adminJSON sends body (JSON) as the admin and decodes a 2xx answer into
// out (nil: ignore it).
func adminJSON(t *testing.T, admin *probe, method, path string, body, out any) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	res, err := admin.do(method, path, map[string]string{"Content-Type": "application/json"}, b)
	if err != nil || res.status/100 != 2 {
		t.Fatalf("%s %s: %d %v %s", method, path, res.status, err, res.body)
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, res.body)
		}
	}
}

// everyReplica waits until check holds on every replica, at most
// takeEffect after start, and reports how long each took.
func (c *cluster) everyReplica(t *testing.T, what string, start time.Time, check func(base string) (bool, string)) {
	t.Helper()
	for i, p := range c.replicas {
		for {
			ok, got := check(p.base)
			if ok {
				t.Logf("%s on replica %d after %s", what, i+1, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Since(start) > takeEffect {
				t.Fatalf("%s: replica %d still answers %s %s after the change was acknowledged", what, i+1, got, takeEffect)
			}
			time.Sleep(5 * time.Millisecond) // polling the replica's observable answer, bounded above
		}
	}
}

// revokedKey logs in with a system account's access key on every replica
// (each then holds it as a cached good login), revokes it through one,
// and requires every replica to refuse it within a second.
func revokedKey(t *testing.T, c *cluster, admin *probe) {
	var acct apiv1.CreatedAccount
	adminJSON(t, admin, "POST", "/api/v1/accounts", apiv1.NewAccount{Name: "robot", Type: "system"}, &acct)
	var key apiv1.CreatedAccessKey
	adminJSON(t, admin, "POST", "/api/v1/accounts/"+acct.Account.ID+"/keys", apiv1.NewAccessKey{Description: "ci"}, &key)
	client := &http.Client{Timeout: 30 * time.Second}
	login := func(base string) (bool, string) {
		code, body, err := tokenStatus(client, base, "robot", key.Secret)
		return code == http.StatusUnauthorized, fmt.Sprintf("%d %v %.200s", code, err, body)
	}
	for i, p := range c.replicas {
		if code, body, err := tokenStatus(client, p.base, "robot", key.Secret); code != http.StatusOK {
			t.Fatalf("login with the key on replica %d: %d %v %s", i+1, code, err, body)
		}
	}
	adminJSON(t, authProbe(&registry{base: c.replicas[1].base}, "admin", adminPasswordOf(admin)),
		"DELETE", "/api/v1/accounts/"+acct.Account.ID+"/keys/"+key.Key.ID, nil, nil)
	c.everyReplica(t, "revoked key refused", time.Now(), login)
}

// denyRule creates a deny rule through one replica and requires every
// replica to apply it within a second; then deletes it through another
// and requires every replica to stop applying it as fast.
func denyRule(t *testing.T, c *cluster, admin *probe) {
	var acct apiv1.CreatedAccount
	adminJSON(t, admin, "POST", "/api/v1/accounts", apiv1.NewAccount{Name: "dev", Type: "human", Password: "dev-password-1234"}, &acct)
	repo := "locked/" + runID
	status := func(want int) func(string) (bool, string) {
		return func(base string) (bool, string) {
			res, err := authProbe(&registry{base: base}, "dev", "dev-password-1234").do("GET", "/v2/"+repo+"/tags/list", nil, nil)
			return err == nil && res.status == want, fmt.Sprintf("%d %v %.200s", res.status, err, res.body)
		}
	}
	// Allowed (builtin:human pulls anything), so the unknown repository
	// is NAME_UNKNOWN, not DENIED. The first request on each replica
	// spends an argon2id hash; later ones find the cached login.
	for i, p := range c.replicas {
		if ok, got := status(http.StatusNotFound)(p.base); !ok {
			t.Fatalf("before the rule, replica %d answers %s", i+1, got)
		}
	}
	rule := apiv1.NewRule()
	rule.ID, rule.Priority, rule.Effect = "lock", 1, "deny"
	rule.Subject = apiv1.Subject{AccountID: acct.Account.ID}
	rule.Actions, rule.Repositories = []string{"pull"}, []string{"locked/*"}
	pw := adminPasswordOf(admin)
	adminJSON(t, authProbe(&registry{base: c.replicas[0].base}, "admin", pw), "POST", "/api/v1/policy/rules", rule, nil)
	c.everyReplica(t, "new deny rule applied", time.Now(), status(http.StatusForbidden))
	adminJSON(t, authProbe(&registry{base: c.replicas[2].base}, "admin", pw), "DELETE", "/api/v1/policy/rules/lock", nil, nil)
	c.everyReplica(t, "deleted deny rule lifted", time.Now(), status(http.StatusNotFound))
}

// adminPasswordOf is the password an admin probe sends.
func adminPasswordOf(admin *probe) string { return admin.client.Transport.(basicAuth).pass }

// auditAcrossReplicas pushes and logs in from several goroutines through
// HAProxy, so that every replica appends audit events at the same time,
// then verifies the chain through every replica.
func auditAcrossReplicas(t *testing.T, c *cluster, pw string) {
	base := (&url.URL{Scheme: "http", Host: c.lb.host, User: url.UserPassword("admin", pw)}).String()
	client := &http.Client{Timeout: 30 * time.Second}
	const workers, rounds = 6, 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				if _, code, err := pushImage(base, fmt.Sprintf("audit/%s/w%d", runID, w), fmt.Sprintf("r%d", r)); err != nil || code != http.StatusCreated {
					t.Errorf("push: %d %v", code, err)
				}
				if code, _, err := tokenStatus(client, c.lb.base, "admin", pw); code != http.StatusOK {
					t.Errorf("login: %d %v", code, err)
				}
			}
		})
	}
	wg.Wait()
	var first apiv1.Verification
	for i, p := range c.replicas {
		var v apiv1.Verification
		getJSON(t, client, p.base+"/api/v1/audit/verify", pw, &v)
		if !v.OK || v.Broken != nil || v.Events < workers*rounds*2 {
			t.Fatalf("audit verify on replica %d: %+v", i+1, v)
		}
		if i == 0 {
			first = v
		}
		t.Logf("replica %d: chain of %d events verifies (seq %d..%d)", i+1, v.Events, v.First, v.Last)
	}
	if first.Events == 0 {
		t.Fatal("no audit events")
	}
}
