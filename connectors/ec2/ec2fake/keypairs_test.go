package ec2fake

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Keys made with ssh-keygen; their fingerprints computed as AWS's
// documentation says, with other tools than the fake's code:
//
//	ssh-keygen -e -m PKCS8 -f rsa.pub | openssl pkey -pubin -outform DER | openssl md5 -c
//	ssh-keygen -l -E sha256 -f ed25519.pub   (AWS adds the base64 padding)
const (
	rsaKey         = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC2Wi8hpMcSa2FHy59YN3MycDlTEauOJQY+xgtAWYNbg0fgeu6X59er0ykme+aMTRlm7g2fd2HtchMe3ys4fgZiagdyjEoST8GEKHLh+ckHmLGs6JqubhR/Ykt4hbXk1/ga9+ICC2jOzr8giOs3UihARmOtZ47IYfhR10xrABkUJ3nGZjArut5XjfJvmR+FU9twf9rPe2RojmVv5iBwDbCD8jfZHD/GLWkfoJvni88hwQhe6GUesjJ2Mwl7RpgQLGTCHS0v/b1883qPo+e7okT03yxsyAp+u6s27jx79sH7zSi+u1L0KdenkM08I30DHop6iXIDkGHHUAFXe21vEJGj rsa-test"
	rsaFingerprint = "3e:b7:00:ca:30:5c:a3:74:2c:4f:65:e1:70:f1:78:c6"
	edKey          = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINEaO8yYCqS73fa4Ob2Cw1JpFTsObvfjRatunzne5zGB ed-test"
	edFingerprint  = "/UBSUvTVCDoF4Afg1+f+RA7MgqqD5zobbd+UK+ZWl8g="
	ecdsaKey       = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAyoHQ904fYncAn7EmkIM44mc/36v9CHHDb6XH49IxIkW++soWuJpWRoaDj6BKqbERa+8E/aMYAE86TUJYCD6+4= c"
)

func TestImportKeyPair(t *testing.T) {
	e := newEnv(t, Options{})
	importKey := func(name, material string) (*ec2.ImportKeyPairOutput, error) {
		return e.api.ImportKeyPair(ctxFor(t), &ec2.ImportKeyPairInput{KeyName: aws.String(name), PublicKeyMaterial: []byte(material),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("qa")}}}}})
	}
	for _, tc := range []struct{ name, key, fingerprint string }{{"rsa", rsaKey, rsaFingerprint}, {"ed", edKey, edFingerprint}} {
		out, err := importKey(tc.name, tc.key)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if aws.ToString(out.KeyFingerprint) != tc.fingerprint || !validID("key", aws.ToString(out.KeyPairId)) || len(out.Tags) != 1 {
			t.Errorf("%s: fingerprint %q (want %q), id %q, tags %v", tc.name, aws.ToString(out.KeyFingerprint), tc.fingerprint, aws.ToString(out.KeyPairId), out.Tags)
		}
	}
	_, err := importKey("ed", edKey)
	wantCode(t, "a name in use", err, "InvalidKeyPair.Duplicate")
	_, err = importKey("ecdsa", ecdsaKey)
	wantCode(t, "an ECDSA key", err, "InvalidKey.Format")
	_, err = importKey("junk", "ssh-ed25519 not-base64")
	wantCode(t, "junk", err, "InvalidKey.Format")

	out, err := e.api.DescribeKeyPairs(ctxFor(t), &ec2.DescribeKeyPairsInput{KeyNames: []string{"ed"}, IncludePublicKey: aws.Bool(true)})
	if err != nil || len(out.KeyPairs) != 1 {
		t.Fatalf("DescribeKeyPairs: %v %+v", err, out)
	}
	k := out.KeyPairs[0]
	if k.KeyType != types.KeyTypeEd25519 || aws.ToString(k.KeyFingerprint) != edFingerprint || !strings.HasPrefix(aws.ToString(k.PublicKey), edKey[:40]) || k.CreateTime == nil {
		t.Errorf("the key pair: %+v", k)
	}
	all, err := e.api.DescribeKeyPairs(ctxFor(t), &ec2.DescribeKeyPairsInput{Filters: []types.Filter{{Name: aws.String("key-type"), Values: []string{"rsa"}}}})
	if err != nil || len(all.KeyPairs) != 1 || aws.ToString(all.KeyPairs[0].KeyName) != "rsa" {
		t.Errorf("by type: %v %+v", err, all)
	}
	_, err = e.api.DescribeKeyPairs(ctxFor(t), &ec2.DescribeKeyPairsInput{KeyNames: []string{"nobody"}})
	wantCode(t, "an unknown key pair", err, "InvalidKeyPair.NotFound")

	// The key reaches the machine.
	id := aws.ToString(e.run(t, 1, func(in *ec2.RunInstancesInput) { in.KeyName = aws.String("ed") }).Instances[0].InstanceId)
	if m, _ := e.cloud.Machine(id); len(m.SSHKeys) != 1 || !strings.HasPrefix(m.SSHKeys[0], edKey[:60]) {
		t.Errorf("the machine's keys: %q", m.SSHKeys)
	}

	del, err := e.api.DeleteKeyPair(ctxFor(t), &ec2.DeleteKeyPairInput{KeyName: aws.String("ed")})
	if err != nil || !aws.ToBool(del.Return) {
		t.Fatalf("DeleteKeyPair: %v", err)
	}
	if _, err := e.api.DeleteKeyPair(ctxFor(t), &ec2.DeleteKeyPairInput{KeyName: aws.String("ed")}); err != nil {
		t.Errorf("deleting a deleted key pair: %v", err)
	}
	if n := len(e.cloud.Keys()); n != 1 {
		t.Errorf("%d key pairs left, want 1", n)
	}
}
