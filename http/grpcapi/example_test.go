package grpcapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// A program reads the registry's status over TLS with a bearer token from
// /v2/token (scope registry:api:*).
func ExampleRegistryServiceClient() {
	pem, err := os.ReadFile("ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient("registry.example.com:5001",
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+os.Getenv("MCR_TOKEN"))
	st, err := mcrv1.NewRegistryServiceClient(conn).GetStatus(ctx, &mcrv1.GetStatusRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Version, st.Repositories, st.Storage.GetBlobBytes())
}
