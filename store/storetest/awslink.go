package storetest

import (
	"testing"
	"time"

	"rolegate/store"
)

func testAccountAWSLink(t *testing.T, s store.Store) {
	fp := "AB:" + "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EF"
	checked := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	link := store.AWSLink{AdminProfile: "org-admin", AdminRoleARN: "arn:aws:iam::123456789012:role/RolegateAdmin",
		Encrypt: store.EncryptRequired, IdPID: "A1B2C3D4-0000-1111-2222-333344445555",
		ProviderARN: "arn:aws:iam::123456789012:saml-provider/Rolegate", TrustedCerts: []string{fp}, CheckedAt: checked}
	a := &store.Account{ID: "123456789012", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS, AWS: link}
	must(t, s.CreateAccount(ctx, a))
	got, err := s.GetAccount(ctx, "prod")
	if err != nil || got.AWS.AdminRoleARN != link.AdminRoleARN || got.AWS.Encrypt != store.EncryptRequired ||
		got.AWS.IdPID != link.IdPID || len(got.AWS.TrustedCerts) != 1 || got.AWS.TrustedCerts[0] != fp ||
		!got.AWS.CheckedAt.Equal(checked) || got.AWS.ProviderARN != link.ProviderARN || got.AWS.AdminProfile != "org-admin" {
		t.Fatalf("read back %+v %v", got, err)
	}
	bad := []func(*store.AWSLink){
		func(l *store.AWSLink) { l.Encrypt = "sometimes" },
		func(l *store.AWSLink) { l.IdPID = "../../evil" },
		func(l *store.AWSLink) { l.AdminRoleARN = "arn:aws-cn:iam::123456789012:role/X" }, // another partition
		func(l *store.AWSLink) { l.AdminRoleARN = "arn:aws:iam::123456789012:user/X" },
		func(l *store.AWSLink) { l.AdminProfile = "a profile" },
		func(l *store.AWSLink) { l.TrustedCerts = []string{"ab:cd"} },
		func(l *store.AWSLink) { l.ProviderARN = "arn:aws-us-gov:iam::123456789012:saml-provider/Rolegate" },
	}
	for i, f := range bad {
		_, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { f(&a.AWS); return nil })
		wantCode(t, err, store.Invalid)
		l := link
		f(&l)
		err = s.CreateAccount(ctx, &store.Account{ID: "210987654321", Alias: "other", ProviderName: "Rolegate",
			Partition: store.PartitionAWS, AWS: l})
		if !store.IsCode(err, store.Invalid) {
			t.Fatalf("case %d: create with a bad link: %v", i, err)
		}
	}
	if got, _ := s.GetAccount(ctx, "prod"); got == nil || got.AWS.Encrypt != store.EncryptRequired || len(got.AWS.TrustedCerts) != 1 {
		t.Fatalf("a refused update changed it: %+v", got)
	}
	if _, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.AWS = store.AWSLink{}; return nil }); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListAccounts(ctx); err != nil || len(list) != 1 || list[0].AWS.Encrypt != store.EncryptOff ||
		len(list[0].AWS.TrustedCerts) != 0 || !list[0].AWS.CheckedAt.IsZero() {
		t.Fatalf("listed %+v %v", list, err)
	}
}
