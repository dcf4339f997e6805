package csapi

import (
	"context"
	"fmt"
)

// ListKeypairs lists the account's SSH keys (Keypairs, "Listing": GET
// /keypairs/), every page.
func (c *Client) ListKeypairs(ctx context.Context) ([]Keypair, error) {
	return listAll[Keypair](ctx, c, "keypairs/", nil)
}

// CreateKeypair stores a public key under name (Keypairs, "Creating a
// keypair", public key only: POST /keypairs/ with {"objects": [...]}).
func (c *Client) CreateKeypair(ctx context.Context, name, publicKey string) (*Keypair, error) {
	var out objects[Keypair]
	body := objects[Keypair]{Objects: []Keypair{{Name: name, PublicKey: publicKey}}}
	if err := c.do(ctx, "POST", "keypairs/", nil, body, &out); err != nil {
		return nil, err
	}
	if len(out.Objects) != 1 || out.Objects[0].UUID == "" {
		return nil, &RequestError{Method: "POST", Path: "/keypairs/", Err: fmt.Errorf("the answer lists %d key pairs, not the one created", len(out.Objects))}
	}
	return &out.Objects[0], nil
}

// GetKeypair reads one key pair (GET /keypairs/{uuid}/).
func (c *Client) GetKeypair(ctx context.Context, uuid string) (*Keypair, error) {
	path, err := objectPath("keypairs", uuid)
	if err != nil {
		return nil, err
	}
	var k Keypair
	if err := c.do(ctx, "GET", path, nil, nil, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// DeleteKeypair deletes a key pair (DELETE /keypairs/{uuid}/).
func (c *Client) DeleteKeypair(ctx context.Context, uuid string) error {
	path, err := objectPath("keypairs", uuid)
	if err != nil {
		return err
	}
	return c.do(ctx, "DELETE", path, nil, nil, nil)
}
