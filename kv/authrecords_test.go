package kv

import (
	"reflect"
	"testing"
)

func TestAuthRecordRoundTrip(t *testing.T) {
	a := AccountRecord{ID: "id", Name: "ci", Type: "system", Roles: []string{"admin", "x"}, Disabled: true,
		Created: 5, PasswordHash: "$argon2id$...", Updated: 6}
	if got, err := DecodeAccount(a.Encode()); err != nil || !reflect.DeepEqual(got, a) {
		t.Errorf("account: %+v, %v", got, err)
	}
	k := AccessKeyRecord{ID: "k", Account: "id", Hash: []byte{1, 2}, Description: "d", Created: 1, Revoked: 2}
	if got, err := DecodeAccessKey(k.Encode()); err != nil || !reflect.DeepEqual(got, k) {
		t.Errorf("access key: %+v, %v", got, err)
	}
	s := SigningKeyRecord{ID: "s", Alg: "EdDSA", Private: []byte{9}, Created: 3}
	if got, err := DecodeSigningKey(s.Encode()); err != nil || !reflect.DeepEqual(got, s) {
		t.Errorf("signing key: %+v, %v", got, err)
	}
	p := PolicyRecord{ID: "r", Priority: -3, Description: "d", Effect: "deny", SubjectAccount: "a", SubjectType: "human",
		SubjectRole: "dev", Actions: []string{"pull"}, Repositories: []string{"prod/*", "x"}, Enabled: true, Created: 1, Updated: 2}
	if got, err := DecodePolicy(p.Encode()); err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("policy: %+v, %v", got, err)
	}
	sr := SessionRecord{AccountID: "a1", Name: "ann", Type: "human", Roles: []string{"admin"}, CSRF: "c", Created: 1, Expires: 2}
	if got, err := DecodeSession(sr.Encode()); err != nil || !reflect.DeepEqual(got, sr) {
		t.Fatalf("session round trip: %+v, %v", got, err)
	}
	empty := PolicyRecord{ID: "e"}
	if got, err := DecodePolicy(empty.Encode()); err != nil || !reflect.DeepEqual(got, empty) {
		t.Errorf("empty lists: %+v, %v", got, err)
	}
}

func TestAuthRecordCorrupt(t *testing.T) {
	// A list length larger than the record is corrupt, not an allocation.
	// A rule's fields up to its actions: id, priority, description,
	// effect and the three subject fields, then the actions' count.
	c := &codec{b: []byte{recordVersion}}
	id, priority, empty, count := "r", int64(0), "", int64(1<<40)
	c.string(&id)
	c.int(&priority)
	for range 5 {
		c.string(&empty)
	}
	c.int(&count)
	if _, err := DecodePolicy(c.b); err == nil {
		t.Error("huge list length decoded")
	}
}

func FuzzDecodePolicy(f *testing.F) {
	f.Add(PolicyRecord{ID: "r", Actions: []string{"pull", "push"}, Repositories: []string{"a/*"}}.Encode())
	f.Add(AccountRecord{ID: "a", Roles: []string{"admin"}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodePolicy(b); err == nil {
			if got, err := DecodePolicy(r.Encode()); err != nil || !reflect.DeepEqual(normalize(got), normalize(r)) {
				t.Fatalf("re-encode: %+v vs %+v (%v)", got, r, err)
			}
		}
		_, _ = DecodeAccount(b)
	})
}

func normalize(r PolicyRecord) PolicyRecord {
	if len(r.Actions) == 0 {
		r.Actions = nil
	}
	if len(r.Repositories) == 0 {
		r.Repositories = nil
	}
	return r
}
