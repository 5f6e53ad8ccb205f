package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/imagequota/imagequota/client"
	"github.com/imagequota/imagequota/operatorapi"
	"github.com/imagequota/imagequota/vmapi"
)

// An operator registers a tenant and its instance over the operator API; the
// tenant then asks for its quota, makes an image, and asks Support for more.
func Example() {
	srv := startExampleServer()
	defer srv.close()
	ctx := context.Background()

	op := client.NewOperator(srv.URL, srv.OperatorKeyID, srv.OperatorSecret)
	acct, err := op.CreateAccount(ctx, &operatorapi.CreateAccountRequest{Name: client.String("team-a")})
	if err != nil {
		log.Fatal(err)
	}
	key, err := op.CreateAccessKey(ctx, &operatorapi.CreateAccessKeyRequest{AccountID: client.String(acct.AccountID)})
	if err != nil {
		log.Fatal(err)
	}
	inst, err := op.CreateInstance(ctx, &operatorapi.CreateInstanceRequest{
		AccountID: client.String(acct.AccountID), ZoneID: client.String("jp-tokyo-1a")})
	if err != nil {
		log.Fatal(err)
	}

	tenant := client.New(srv.URL, key.AccessKeyID, key.AccessKeyPassword)
	img, err := tenant.CreateImage(ctx, &vmapi.CreateImageRequest{
		InstanceID: client.String(inst.InstanceID), ImageName: client.String("web-1")})
	if err != nil {
		log.Fatal(err)
	}
	q, err := tenant.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s made; %s: count %d, maxCount %d\n", img.ImageName, q.Images[0].ZoneID, q.Images[0].Count, q.Images[0].MaxCount)

	req, err := tenant.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{
		ZoneID: client.String("jp-tokyo-1a"), DesiredMaxCount: client.Int(20), Reason: client.String("CI images")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("quota request:", req.State)
	// Output:
	// web-1 made; jp-tokyo-1a: count 1, maxCount 5
	// quota request: PENDING
}

// Support approves a request; the tenant's limit rises at once.
func ExampleOperator_ApproveQuotaRequest() {
	srv := startExampleServer()
	defer srv.close()
	ctx := context.Background()

	op := client.NewOperator(srv.URL, srv.OperatorKeyID, srv.OperatorSecret)
	acct, err := op.CreateAccount(ctx, &operatorapi.CreateAccountRequest{Name: client.String("team-b")})
	if err != nil {
		log.Fatal(err)
	}
	key, err := op.CreateAccessKey(ctx, &operatorapi.CreateAccessKeyRequest{AccountID: client.String(acct.AccountID)})
	if err != nil {
		log.Fatal(err)
	}
	tenant := client.New(srv.URL, key.AccessKeyID, key.AccessKeyPassword)
	req, err := tenant.CreateImageQuotaRequest(ctx, &vmapi.CreateImageQuotaRequestRequest{
		ZoneID: client.String("jp-tokyo-1a"), DesiredMaxCount: client.Int(12)})
	if err != nil {
		log.Fatal(err)
	}

	if _, err := op.ApproveQuotaRequest(ctx, &operatorapi.ApproveQuotaRequestRequest{
		QuotaRequestID: client.String(req.QuotaRequestID), GrantedMaxCount: client.Int(10),
		ExpiresAt: client.String("2099-01-01T00:00:00Z"), Comment: client.String("until the migration ends")}); err != nil {
		log.Fatal(err)
	}
	q, err := tenant.DescribeImageQuota(ctx, &vmapi.DescribeImageQuotaRequest{ZoneIDs: []string{"jp-tokyo-1a"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("maxCount", q.Images[0].MaxCount)
	// Output: maxCount 10
}
