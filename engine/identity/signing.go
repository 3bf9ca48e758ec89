package identity

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// keyring holds the token signing keys: the newest signs, every one
// verifies (so tokens survive a rotation until they expire). It is
// immutable once built.
type keyring struct {
	signID  string
	signKey ed25519.PrivateKey
	verify  map[string]ed25519.PublicKey
}

// loadKeyring reads the signing keys, creating the first one when there is
// none (in the same transaction, so two starting processes agree).
func loadKeyring(ctx context.Context, store kv.Store, now time.Time) (*keyring, error) {
	var recs []kv.SigningKeyRecord
	err := store.Update(ctx, func(t kv.Txn) error {
		var err error
		recs, err = kv.ScanRecords(t, kv.SigningKeyPrefix(), kv.DecodeSigningKey)
		if err != nil || len(recs) > 0 {
			return err
		}
		r := newSigningKey(now)
		recs = append(recs, r)
		return t.Set(kv.SigningKeyKey(r.ID), r.Encode())
	})
	if err != nil {
		return nil, err
	}
	kr := &keyring{verify: make(map[string]ed25519.PublicKey, len(recs))}
	var newest int64 = -1 << 63
	for _, r := range recs {
		if r.Alg != "EdDSA" || len(r.Private) != ed25519.SeedSize {
			return nil, fmt.Errorf("identity: signing key %s: unsupported %q key of %d bytes", r.ID, r.Alg, len(r.Private))
		}
		priv := ed25519.NewKeyFromSeed(r.Private)
		kr.verify[r.ID] = priv.Public().(ed25519.PublicKey)
		if r.Created > newest || (r.Created == newest && r.ID > kr.signID) {
			newest, kr.signID, kr.signKey = r.Created, r.ID, priv
		}
	}
	return kr, nil
}

func newSigningKey(now time.Time) kv.SigningKeyRecord {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var id [8]byte
	_, _ = rand.Read(id[:])
	return kv.SigningKeyRecord{ID: hex.EncodeToString(id[:]), Alg: "EdDSA", Private: bytes.Clone(priv.Seed()), Created: now.UnixNano()}
}
